"""End to end: log an action on a flagged account in the browser and see it in the outcome report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures import demo_db
from fixtures.app_server import open_app_page, serve_demo, settle

NOTE = "E2E: sponsor call booked"


@pytest.fixture(scope="module")
def trained_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of an app server on a private copy of the churn and outcomes demo."""
    with serve_demo(tmp_path_factory, demo_db.CHURN_OUTCOMES) as served:
        yield served


def test_log_action_and_see_it_in_the_report(trained_server, browser_page, screenshot_dir: Path) -> None:
    from services import db
    from services.outcomes import read as outcomes_read

    base, db_url = trained_server
    page = browser_page
    open_app_page(page, base, "model_health", "Model health", before_ms=300)
    page.screenshot(path=str(screenshot_dir / "model_health_models.png"), full_page=True)
    page.get_by_role("tab", name="Outcomes").click()
    settle(page, before_ms=300)
    page.get_by_text("Act on a flagged account", exact=False).first.click()
    settle(page, before_ms=300)
    before = outcomes_read.report_frame(db.get_engine(db_url))
    account_id = min(before[before.outcome == "pending"].account_id.unique())  # the selectbox default
    page.screenshot(path=str(screenshot_dir / "model_health_act.png"), full_page=True)
    page.get_by_label("Note").fill(NOTE)
    page.get_by_role("button", name="Log action").click()
    settle(page, before_ms=300)
    assert page.get_by_text(f"on {account_id}", exact=False).count() >= 1
    page.screenshot(path=str(screenshot_dir / "model_health_outcomes.png"), full_page=True)

    report = outcomes_read.report_frame(db.get_engine(db_url))
    row = report[(report.account_id == account_id) & (report.outcome == "pending")]
    assert row.acted.all() and not row.empty
    logged = db.read_table("csm_actions", db.get_engine(db_url), where="note = :n", params={"n": NOTE})
    assert logged.account_id.tolist() == [account_id]
