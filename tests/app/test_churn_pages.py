"""AppTest: the churn risk page and the account 360 view on the shared trained demo."""
from __future__ import annotations

from pathlib import Path

import pytest
from telco_like import telco_like

from services.churn import read as churn
from services.churn.custom import run_custom
from services.db import get_engine, read_table


def test_churn_page_untrained(demo_db_url: str, run_app) -> None:
    at = run_app("pages/churn_risk.py")
    assert at.title[0].value == "Churn risk"
    assert any("No churn model is trained yet" in i.value for i in at.info)


def test_churn_page_lists_accounts_by_expected_arr_at_risk(churn_db_url: str, run_app) -> None:
    at = run_app("pages/churn_risk.py")
    table = at.dataframe[0].value
    risk = churn.at_risk(get_engine(churn_db_url))
    assert len(table) == len(risk) > 0
    assert list(table["name"].head(5)) == list(risk["name"].head(5))
    assert table["account_link"].iloc[0] == f"account?account_id={risk.account_id.iloc[0]}"
    at.multiselect(key="churn_tiers").set_value(["high"]).run()
    assert len(at.dataframe[0].value) == (risk.tier == "high").sum()
    at.multiselect(key="churn_tiers").set_value(["high", "medium", "low"]).run()
    at.text_input(key="churn_search").set_value(risk.account_id.iloc[1]).run()
    assert list(at.dataframe[0].value["name"]) == [risk.name.iloc[1]]


def test_account_view_from_query_param(churn_db_url: str, run_app) -> None:
    risk = churn.at_risk(get_engine(churn_db_url))
    account = risk.account_id.iloc[0]
    at = run_app(None)
    at.query_params["account_id"] = account
    at.switch_page("pages/account.py").run()
    assert not at.exception
    assert any(account in h.value for h in at.header)
    assert any("Risk at next renewal" in m.label for m in at.metric)
    assert len(at.dataframe) >= 1


def test_account_found_by_name(churn_db_url: str, run_app) -> None:
    accounts = read_table("accounts", get_engine(churn_db_url))
    name = accounts.name.value_counts().index[0]  # a name several accounts share
    at = run_app("pages/account.py")
    at.text_input(key="account_id_input").set_value(name.lower()).run()
    assert not at.exception
    pick = at.selectbox(key="account_match")
    containing = accounts.name.str.lower().str.contains(name.lower(), regex=False).sum()
    assert len(pick.options) == min(20, containing) and all(name in o for o in pick.options)
    assert any(name in h.value and pick.value in h.value for h in at.header)


def test_account_view_unknown_id(churn_db_url: str, run_app) -> None:
    at = run_app("pages/account.py")
    at.text_input(key="account_id_input").set_value("A999999").run()
    assert any("No account with the id or name" in e.value for e in at.error)


def test_churn_page_shows_the_bring_your_own_model(churn_db_url: str, tmp_path: Path, run_app) -> None:
    path = tmp_path / "telco.csv"
    telco_like(600, seed=2).to_csv(path, index=False)
    engine = get_engine(churn_db_url)
    run_custom(engine, str(path), "customerID", "Churn")
    scores = churn.custom_scores(engine)
    at = run_app("pages/churn_risk.py")
    at.segmented_control(key="churn_model").set_value("churn_custom").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == len(scores) == 600
    assert list(table["account_id"].head(5)) == list(scores.account_id.head(5))
    assert table["probability"].is_monotonic_decreasing
    # business words: what a reason adds to the churn probability, not log-odds
    top = table["reason_1"].dropna()
    assert top.str.endswith(" pts)").all() and not top.str.contains("log-odds").any()
    assert top.str.extract(r"by (\d+\.\d) pts")[0].astype(float).gt(0).any()
    assert any("Out-of-fold ROC AUC" in m.label for m in at.metric)
    assert at.selectbox(key="custom_pick").value == scores.account_id.iloc[0]
    assert len(at.get("plotly_chart")) == 1
    at.multiselect(key="custom_tiers").set_value(["high"]).run()
    assert len(at.dataframe[0].value) == (scores.tier == "high").sum()
    at.segmented_control(key="churn_model").set_value("churn").run()
    assert len(at.dataframe[0].value) == len(churn.at_risk(engine))


def test_churn_page_worklist_team_view_and_renewal_filter(churn_db_url: str, run_app) -> None:
    from services.churn import worklist as wl

    engine = get_engine(churn_db_url)
    risk = churn.at_risk(engine)
    at = run_app("pages/churn_risk.py")
    assert not at.exception
    # the whole book is listed; "renewing within" is a filter, not the definition of risk
    far = risk[risk.days_to_renewal > 180]
    assert len(far) > 0 and far.probability.gt(0).all()
    at.selectbox(key="churn_within").set_value(90).run()
    assert len(at.dataframe[0].value) == (risk.days_to_renewal <= 90).sum()
    at.selectbox(key="churn_within").set_value(None).run()
    assert len(at.dataframe) == 1  # lazy tabs: only the open one is computed
    at.session_state["churn_tab"] = "CSM worklist"
    at.run()
    work = at.dataframe[0].value
    per_csm = work.groupby("csm").size()
    assert per_csm.max() <= wl.DEFAULT_N and len(per_csm) == risk.csm.nunique()
    first = risk[risk.csm == work.csm.iloc[0]].iloc[0]
    assert work["name"].iloc[0] == first["name"] and work["playbook"].notna().all()
    assert work["change"].str.len().gt(0).all()
    at.number_input(key="churn_worklist_n").set_value(3).run()
    assert at.dataframe[0].value.groupby("csm").size().max() <= 3
    at.session_state["churn_tab"] = "Team view"
    at.run()
    team = at.dataframe[0].value
    assert team["accounts"].sum() == risk.csm_id.notna().sum()
    assert team["expected_arr_at_risk_usd"].sum() == pytest.approx(
        risk.loc[risk.csm_id.notna(), "expected_arr_at_risk_usd"].sum())


def test_churn_trains_and_shows_on_18_months_of_history(demo_copy, run_app) -> None:
    from fixtures import demo_db

    from services import registry

    engine = get_engine(demo_copy(demo_db.SHORT_HISTORY))
    m = registry.active_metrics(engine, "churn")
    assert m["history_mode"] == "short" and m["history_months"] == 18 and m["eval_months"] == 6
    assert any(f.endswith("_6m") for f in m["features_left_out"]) and m["n_test"] > 0
    risk = churn.at_risk(engine)
    assert len(risk) > 100 and risk.probability.gt(0).all()
    at = run_app("pages/churn_risk.py")
    assert not at.exception
    assert len(at.dataframe[0].value) == len(risk)
