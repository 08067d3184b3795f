"""Inbox and Tasks through AppTest, per role: an alert delivered to a manager's inbox becomes a task that is
closed with an outcome; a rep's inbox shows only their own alerts; the unread count follows."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from fixtures.app_session import as_person
from streamlit.testing.v1 import AppTest

from services import auth, db
from services.alerts import events, outbox, read, send, tasks
from services.hierarchy import Scope, account_ids_in_scope
from ui.auth import DEMO_PERSON

APP = str(Path(__file__).resolve().parents[2] / "app.py")




@pytest.fixture()
def alerted(demo_db_url: str) -> dict:
    """The demo with one high-risk alert on an account of the first manager's team, delivered to the inbox."""
    engine = db.get_engine(demo_db_url)
    people = db.read_table("people", engine)
    personas = auth.personas(people)
    manager = personas.loc[personas.role == auth.MANAGER, "person_id"].iloc[0]
    rep = personas.loc[personas.role == auth.REP, "person_id"].iloc[0]
    accounts = db.read_table("accounts", engine)
    team = account_ids_in_scope(accounts, people, Scope(within=manager))
    rep_book = account_ids_in_scope(accounts, people, Scope(within=rep))
    target = min(team - rep_book)
    name = accounts.set_index("account_id").name[target]  # alert titles name the account (services.alerts.events)
    found = pd.DataFrame([{"event_type": "high_risk", "subject_id": target, "account_id": target,
                           "person_id": accounts.set_index("account_id").owner_id[target],
                           "title": f"{name} is at high churn risk", "value": 0.4, "detail": "{}"}])
    events.evaluate(engine, "R-apptest", found=found)
    outbox.enqueue(engine, now=dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=2))
    send.send_pending(engine)  # the inbox ones land; e-mail has no server here and waits
    return {"engine": engine, "manager": manager, "rep": rep, "account": target, "name": name}


def test_an_alert_in_the_inbox_becomes_a_task_and_is_closed(alerted: dict) -> None:
    engine, manager = alerted["engine"], alerted["manager"]
    assert read.unread_count(engine, manager) == 1
    at = as_person(manager, "pages/inbox.py")
    assert any(f"{alerted['name']} is at high churn risk" in m.value for m in at.markdown)
    at.toggle(key="inbox_task_0").set_value(True).run()
    at.text_input(key="inbox_task_reason_0").set_value("Call the sponsor before the renewal")
    at.button[[b.label for b in at.button].index("Create task")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    made = tasks.all_tasks(engine)
    assert made.account_id.tolist() == [alerted["account"]] and made.event_id.notna().all()
    assert made.reason.tolist() == ["Call the sponsor before the renewal"]
    assert read.unread_count(engine, manager) == 0  # the alert was read when it became a task

    at = as_person(manager, "pages/tasks.py")
    assert alerted["account"] in at.dataframe[0].value.account_id.tolist()
    at.selectbox(key="tasks_close_outcome").set_value("customer_saved")
    at.button[[b.label for b in at.button].index("Close task")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert tasks.all_tasks(engine).outcome.tolist() == ["customer_saved"]


def test_a_reps_inbox_and_tasks_hold_only_their_own(alerted: dict) -> None:
    at = as_person(alerted["rep"], "pages/inbox.py")
    assert not any(alerted["name"] in m.value for m in at.markdown)
    assert any("No alerts yet" in i.value for i in at.info)
    at = as_person(alerted["rep"], "pages/tasks.py")
    at.text_input(key="tasks_new_account").set_value(alerted["account"])
    at.text_input(key="tasks_new_reason").set_value("not mine")
    at.button[[b.label for b in at.button].index("Create task")].click().run()
    assert any("not in your scope" in e.value for e in at.error)
    assert tasks.all_tasks(alerted["engine"]).empty


@pytest.mark.parametrize("role", [auth.CSM, auth.DATA_SCIENTIST, auth.CRO])
def test_the_inbox_opens_for_every_role(demo_db_url: str, role: str) -> None:
    personas = auth.personas(db.read_table("people", db.get_engine(demo_db_url)))
    person = personas.loc[personas.role == role, "person_id"]
    if person.empty:
        pytest.skip(f"the small demo has no {role}")
    at = as_person(person.iloc[0], "pages/inbox.py")
    assert at.title[0].value == "Inbox"


def test_closed_tasks_show_in_the_outcome_report(churn_db_url: str, run_app) -> None:

    from services.alerts import tables as T
    from services.outcomes import read as outcomes_read

    engine = db.get_engine(churn_db_url)
    frame = outcomes_read.report_frame(engine)
    due = frame[frame.outcome != "pending"].iloc[0]
    owner = db.read_table("accounts", engine).set_index("account_id").owner_id[due.account_id]
    tid = tasks.create(engine, due.account_id, "call", "flagged", owner, owner, dt.date(2030, 1, 1),
                       playbook="Support recovery")
    tasks.close(engine, tid, "customer_saved", owner)
    with engine.begin() as conn:  # as if it had been opened a month before that renewal
        conn.execute(T.TASKS.update().values(created_at=due.renewal_date - pd.Timedelta(days=30)))
    with_tasks = outcomes_read.task_frame(engine)
    assert with_tasks.has_task.sum() == 1
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state[DEMO_PERSON] = auth.personas(db.read_table("people", engine)).query("role == 'admin'").person_id.iloc[0]
    at.run()
    at.switch_page("pages/model_health.py")
    at.session_state["mh_tab"] = "Outcomes"  # lazy tabs: the open one is computed
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Tasks and outcomes" in [s.value for s in at.subheader]
    summary = next(d.value for d in at.dataframe if "task" in d.value.columns)
    assert summary.set_index("task").loc["with a task", "renewals_due"] == 1
    playbooks = next(d.value for d in at.dataframe if "playbook" in d.value.columns and "renewals_due" in d.value)
    assert "Support recovery" in set(playbooks.playbook)


def test_after_another_company_is_imported_the_old_results_are_not_shown(churn_db_url: str, run_app) -> None:
    """Issue 16: the churn list no longer shows the old model's scores under the new company's names."""
    from fixtures import other_company

    from services.importer import import_frames

    engine = db.get_engine(churn_db_url)
    frames = {k: v for k, v in other_company.generate(accounts=120, months=10).items() if k != "truth"}
    for f in frames.values():  # the same account ids as the demo's: the old scores would match the new names
        if "account_id" in f:
            f["account_id"] = f["account_id"].str.replace("X", "A0", regex=False)
    import_frames(frames, "another company", engine)
    at = run_app("pages/churn_risk.py")
    assert not [d for d in at.dataframe if "account_link" in d.value], "old scores shown under new names"
    assert any("must be retrained" in w.value for w in at.warning)


def test_an_import_from_the_command_line_is_followed_at_the_next_rerun(churn_db_url: str, run_app) -> None:
    """The pages' cached reads are forgotten when the data changes under a running session."""
    from fixtures import other_company

    from services.importer import import_frames

    at = run_app("pages/churn_risk.py")
    assert [d for d in at.dataframe if "account_link" in d.value]  # the demo's scores, now cached
    frames = {k: v for k, v in other_company.generate(accounts=120, months=10).items() if k != "truth"}
    for f in frames.values():
        if "account_id" in f:
            f["account_id"] = f["account_id"].str.replace("X", "A0", regex=False)
    import_frames(frames, "another company, from the command line", db.get_engine(churn_db_url))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [d for d in at.dataframe if "account_link" in d.value]
    assert any("must be retrained" in w.value for w in at.warning)
