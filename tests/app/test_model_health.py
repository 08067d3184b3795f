"""Model-health page through AppTest: versions, drift, data health and the outcome report."""

from __future__ import annotations

from services import db, registry
from services.churn import tables as churn_tables
from services.outcomes import actions

PAGE = "pages/model_health.py"


def _tab(at, label: str):
    at.session_state["mh_tab"] = label  # lazy tabs: the open one is computed
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_on_an_untrained_demo(demo_db_url: str, run_app) -> None:
    at = run_app(PAGE)
    assert at.title[0].value == "Model health"
    assert "No model has been trained yet" in " ".join(i.value for i in at.info)
    assert "No outcome report yet" in " ".join(i.value for i in _tab(at, "Outcomes").info)
    assert len(_tab(at, "Data health").dataframe) >= 2  # freshness and import history


def test_page_shows_versions_drift_and_outcomes(churn_db_url: str, run_app) -> None:
    at = run_app(PAGE)
    engine = db.get_engine(churn_db_url)
    models = at.dataframe[0].value
    assert set(models.model) == {"churn", "outcomes"}
    assert models.set_index("model").loc["churn", "active_version"] == registry.active_version(engine, "churn")
    assert any("features drifted" in h.value for h in _tab(at, "Drift").subheader)
    metrics = [m.label for m in _tab(at, "Outcomes").metric]
    assert "Flagged renewals due" in metrics and "Churn cut by acting (adjusted)" in metrics
    assert any("Observational" in c.value for c in at.caption)


def test_logging_an_action_shows_in_the_report(churn_db_url: str, run_app) -> None:
    at = _tab(run_app(PAGE), "Outcomes")
    account = at.selectbox(key="mh_action_account").value
    before = actions.account_actions(db.get_engine(churn_db_url), account)
    at.selectbox(key=f"action_type_{account}").set_value("executive_meeting")
    at.text_area(key=f"action_note_{account}").set_value("Sponsor meeting booked")
    at.button[[b.label for b in at.button].index("Log action")].click().run()
    assert not at.exception
    assert any("Logged" in s.value for s in at.success)
    after = actions.account_actions(db.get_engine(churn_db_url), account)
    assert len(after) == len(before) + 1 and after.note.iloc[0] == "Sponsor meeting booked"
    flagged = next(df.value for df in at.dataframe if "outcome" in df.value.columns and "account_id" in df.value)
    row = flagged[(flagged.account_id == account) & (flagged.outcome == "pending")]
    assert row.acted.all() and (row.n_actions >= 1).all()
    if before.empty:  # the first action in the window names the row's action type
        assert (row.action_type == "executive_meeting").all()


def test_account_page_logs_an_action_and_keeps_playbook_feedback(churn_db_url: str, run_app) -> None:
    engine = db.get_engine(churn_db_url)
    account = registry.read_results(engine, churn_tables.SCORES).account_id.iloc[0]
    at = run_app("pages/account.py")
    at.text_input(key="account_id_input").set_value(account).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.value.startswith("**Suggested playbook:") for m in at.markdown)
    at.text_area(key=f"action_note_{account}").set_value("QBR scheduled")
    at.button[[b.label for b in at.button].index("Log action")].click().run()
    assert actions.account_actions(engine, account).note.iloc[0] == "QBR scheduled"
    at.checkbox(key=f"pb_wrong_{account}").check().run()
    at.button(key=f"pb_dismiss_{account}").click().run()
    fb = actions.feedback(engine)
    assert fb.account_id.tolist() == [account] and fb.decision.tolist() == ["dismissed"] and fb.reason_wrong.all()


def test_submitted_work_shows_at_once_and_is_not_doubled(churn_db_url: str, run_app) -> None:
    engine = db.get_engine(churn_db_url)
    account = registry.read_results(engine, churn_tables.SCORES).account_id.iloc[1]
    at = run_app("pages/account.py")
    at.text_input(key="account_id_input").set_value(account).run()
    log = [b.label for b in at.button].index("Log action")
    at.button[log].click().run()  # a blank note
    assert not at.exception
    shown = next(df.value for df in at.dataframe if "note" in df.value.columns and "person" in df.value.columns)
    assert len(shown) == len(actions.account_actions(engine, account)) >= 1  # in the list on the same click
    at.button[[b.label for b in at.button].index("Log action")].click().run()  # the same blank action again
    assert len(actions.account_actions(engine, account)) == len(shown)
    assert any("not logged twice" in w.value for w in at.warning)
    at.button(key=f"pb_accept_{account}").click().run()
    assert any("accepted by" in c.value for c in at.caption)  # the accepted playbook leaves a trace
