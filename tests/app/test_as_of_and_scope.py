"""Every page follows the sidebar's as-of date and scope: moving either changes the figures a page shows,
and they match what the read side computes for that date and scope (AppTest, shared trained demo)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from services.adoption import read as adoption
from services.churn import read as churn
from services.db import get_engine, read_table
from services.explain import read as explain
from services.forecast import read as fc
from services.hierarchy import Scope, regions
from services.overview import as_of_choices
from services.overview import overview as overview_of
from ui.widgets import usd


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _count(at, label: str) -> int:
    return int(_metric(at, label).replace(",", ""))


def _set_as_of(at, day: dt.date) -> None:
    at.sidebar.selectbox(key="as_of").set_value(day).run()
    assert not at.exception, [e.value for e in at.exception]


def _set_region(at, region: str) -> None:
    at.sidebar.selectbox(key="scope_region").set_value(region).run()
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture()
def demo(trained_db_url: str):
    engine = get_engine(trained_db_url)
    choices = as_of_choices(engine)  # newest first
    return engine, choices, regions(read_table("people", engine))[0]


def test_overview_figures_follow_the_as_of_date(demo, run_app) -> None:
    engine, choices, _ = demo
    at = run_app()
    earlier = choices[6]
    assert _metric(at, "ARR") == usd(overview_of(engine, choices[0]).arr_usd)
    _set_as_of(at, earlier)
    assert _metric(at, "ARR") == usd(overview_of(engine, earlier).arr_usd)
    assert _count(at, "Customer accounts") == overview_of(engine, earlier).customers


def test_churn_risk_follows_as_of_and_scope(demo, run_app) -> None:
    engine, choices, region = demo
    at = run_app("pages/churn_risk.py")
    latest = churn.at_risk(engine, as_of=choices[0])
    assert _count(at, "Accounts") == len(latest) == len(at.dataframe[0].value)
    assert "reason_1" in at.dataframe[0].value and not at.info
    earlier = choices[6]
    past = churn.at_risk(engine, as_of=earlier)
    _set_as_of(at, earlier)
    assert _count(at, "Accounts") == len(past) == len(at.dataframe[0].value)
    assert _metric(at, "Expected ARR at risk") == usd(past.expected_arr_at_risk_usd.sum())
    assert _metric(at, "Expected ARR at risk") != usd(latest.expected_arr_at_risk_usd.sum())
    assert f"{past.attrs['score_date']:%d %B %Y}" in at.caption[0].value
    # reasons exist for the latest score date only: one line says so, no blank reason columns
    note = f"Reasons are stored for the latest score date only ({latest.attrs['score_date']:%d %b %Y})."
    assert [i.value for i in at.info] == [note]
    assert "reason_1" not in at.dataframe[0].value
    _set_region(at, region)
    in_region = churn.at_risk(engine, Scope(region=region), earlier)
    assert _count(at, "Accounts") == len(in_region) < len(past)
    _set_as_of(at, choices[-1])  # before the first score date
    assert len(at.info) == 1 and "No churn scores stored as of" in at.info[0].value
    assert not at.metric and not at.dataframe


def test_account_follows_as_of_and_scope(demo, run_app) -> None:
    engine, choices, _ = demo
    risk = churn.at_risk(engine)
    account = risk.account_id.iloc[0]
    at = run_app(None)
    at.query_params["account_id"] = account
    at.switch_page("pages/account.py").run()
    history = churn.account_360(engine, account).risk_history
    assert _metric(at, "Risk at next renewal") == f"{history.probability.iloc[-1]:.0%}"
    earlier = choices[6]
    _set_as_of(at, earlier)
    past = history[history.score_date <= pd.Timestamp(earlier)]
    assert _metric(at, "Risk at next renewal") == f"{past.probability.iloc[-1]:.0%}"
    assert _metric(at, "ARR") == usd(past.arr_usd.iloc[-1])
    assert any("latest score date only" in i.value for i in at.info)
    people = read_table("people", engine).set_index("person_id")
    owner = read_table("accounts", engine).set_index("account_id").loc[account, "owner_id"]
    _set_region(at, next(r for r in regions(people.reset_index()) if r != people.loc[owner, "region"]))
    assert len(at.info) == 1 and "outside the chosen scope" in at.info[0].value and not at.metric


def test_adoption_follows_as_of_and_scope(demo, run_app) -> None:
    engine, choices, region = demo
    at = run_app("pages/adoption.py")
    assert _count(at, "Accounts clustered") == len(adoption.signals_at(engine, choices[0]))
    earlier = choices[6]
    _set_as_of(at, earlier)
    past = adoption.signals_at(engine, earlier)
    assert _count(at, "Accounts clustered") == len(past)
    assert f"{past.attrs['month']:%B %Y}" in at.caption[0].value
    assert any("Per-product signals are stored for the latest month only" in i.value for i in at.info)
    cluster = at.selectbox(key="adoption_cluster").value
    assert len(at.dataframe[1].value) == (past.cluster_id == cluster).sum()
    _set_region(at, region)
    assert _count(at, "Accounts clustered") == len(adoption.signals_at(engine, earlier, Scope(region=region))) \
        < len(past)
    _set_as_of(at, choices[-1])  # before the first stored month
    assert len(at.info) == 1 and "No adoption signals" in at.info[0].value and not at.metric


def test_forecast_follows_the_as_of_date_with_one_as_of_on_screen(demo, run_app) -> None:
    engine, choices, _ = demo
    people = read_table("people", engine)
    cro = fc.node_for(people, Scope())

    def p50(day: dt.date) -> str:
        nodes = fc.nodes_at(engine, day)
        quarter = min(nodes.quarter.unique())
        return usd(fc.figures(engine, nodes, [cro], quarter).p50_usd.iloc[0])

    at = run_app("pages/forecast.py")
    assert _metric(at, "Forecast P50") == p50(choices[0])
    assert at.caption[0].value.startswith(f"As of {choices[0]:%d %B %Y} ·")
    covered = [d for d in choices[1:] if not fc.nodes_at(engine, d).empty]
    missing = [d for d in choices if fc.nodes_at(engine, d).empty]
    assert covered and missing  # backtest origins cover some past dates, the first months have none
    # a past date whose P50 differs from today's as shown ($1.8M against $1.8M proves nothing), middle first
    ordered = sorted(covered, key=lambda d: abs(covered.index(d) - len(covered) // 2))
    past = next(d for d in ordered if p50(d) != p50(choices[0]))
    _set_as_of(at, past)
    assert _metric(at, "Forecast P50") == p50(past) != p50(choices[0])
    shown = [c.value for c in at.caption if "As of" in c.value or "as of" in c.value]
    assert shown == [at.caption[0].value] and shown[0].startswith(f"As of {past:%d %B %Y} ·")
    assert any("Deals are stored for the latest date only" in i.value for i in at.info)
    _set_as_of(at, missing[0])
    assert len(at.info) == 1 and "No forecast for" in at.info[0].value and not at.metric


def test_workbench_follows_scope_and_as_of(demo, run_app) -> None:
    engine, choices, region = demo
    at = run_app("pages/workbench.py")
    everyone = at.selectbox(key="wb_subject").options
    assert len(everyone) == len(explain.subjects(engine, "churn"))
    _set_region(at, region)
    in_region = at.selectbox(key="wb_subject").options
    assert len(in_region) == len(explain.subjects(engine, "churn", Scope(region=region))) < len(everyone)
    at.segmented_control(key="wb_view").set_value("What-if").run()
    assert at.metric  # the what-if still shows
    _set_as_of(at, choices[3])
    assert len(at.info) == 1 and "Explanations are stored for the latest date only" in at.info[0].value
    assert not at.metric
