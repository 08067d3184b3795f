"""End to end: an alert appears in the signed-in person's inbox, becomes a task, and the task is closed."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fixtures import demo_db
from fixtures.app_server import open_app_page, serve_demo, settle

from services import auth, db
from services.alerts import events, outbox, send, subscriptions, tasks


@pytest.fixture(scope="module")
def alert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str, str]]:
    with serve_demo(tmp_path_factory, demo_db.UNTRAINED) as (base_url, db_url):
        engine = db.get_engine(db_url)
        people = db.read_table("people", engine)
        admin = auth.personas(people).query("role == 'admin'").person_id.iloc[0]  # demo mode's first person
        first = db.read_table("accounts", engine).iloc[0]
        account, name = first.account_id, first["name"]  # alert titles name the account (services.alerts.events)
        subscriptions.save(engine, admin, pd.DataFrame([(admin, "high_risk", "inbox", "all", "immediate", True)],
                                                       columns=subscriptions.COLUMNS))
        events.evaluate(engine, "R-e2e", found=pd.DataFrame([{
            "event_type": "high_risk", "subject_id": account, "account_id": account, "person_id": None,
            "title": f"{name} is at high churn risk", "value": 0.4, "detail": "{}"}]))
        outbox.enqueue(engine, now=dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=2))
        send.send_pending(engine)
        yield base_url, db_url, account, name


def test_alert_becomes_a_task_and_is_closed(alert_server, browser_page, screenshot_dir: Path) -> None:
    base_url, db_url, account, name = alert_server
    page = browser_page
    open_app_page(page, base_url, "inbox", "Inbox")
    assert page.get_by_text(f"{name} is at high churn risk").first.is_visible()
    assert page.get_by_text("Inbox (1)").first.is_visible()  # the unread count in the menu
    page.screenshot(path=screenshot_dir / "inbox.png", full_page=True)
    page.get_by_text("Create a task").first.click()
    settle(page, before_ms=300)
    page.get_by_role("button", name="Create task").click()
    settle(page, before_ms=500)
    engine = db.get_engine(db_url)
    made = tasks.all_tasks(engine)
    assert made.account_id.tolist() == [account] and made.status.tolist() == ["open"]

    open_app_page(page, base_url, "tasks", "Tasks")
    assert page.get_by_role("button", name="Close task").is_visible()  # the list is a canvas grid: checked in the DB
    page.screenshot(path=screenshot_dir / "tasks.png", full_page=True)
    page.get_by_role("button", name="Close task").click()
    settle(page, before_ms=500)
    assert tasks.all_tasks(engine).status.tolist() == ["closed"]
