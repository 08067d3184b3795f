"""End to end: log an action on a flagged account in the browser and see it in the outcome report."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from health_db import trained_copy

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTE = "E2E: sponsor call booked"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def trained_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of an app server on a private copy of the trained demo database."""
    db_url = trained_copy(tmp_path_factory, tmp_path_factory.mktemp("mh-e2e") / "demo.db")
    port = _free_port()
    log = (tmp_path_factory.mktemp("mh-e2e-server") / "streamlit.log").open("w+")
    cmd = [sys.executable, "-m", "ui.serve", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env={**os.environ, "FORESIGHT_DATABASE_URL": db_url}, stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.3)
        yield base, db_url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _settled(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
    page.wait_for_timeout(300)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_log_action_and_see_it_in_the_report(trained_server, browser_page, screenshot_dir: Path) -> None:
    from services import db, outcomes_job

    base, db_url = trained_server
    page = browser_page
    page.goto(f"{base}/model_health", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Model health", exact=True).first.wait_for(timeout=60_000)
    _settled(page)
    page.screenshot(path=str(screenshot_dir / "model_health_models.png"), full_page=True)
    page.get_by_role("tab", name="Outcomes").click()
    _settled(page)
    page.get_by_text("Act on a flagged account", exact=False).first.click()
    _settled(page)
    before = outcomes_job.report_frame(db.get_engine(db_url))
    account_id = min(before[before.outcome == "pending"].account_id.unique())  # the selectbox default
    page.screenshot(path=str(screenshot_dir / "model_health_act.png"), full_page=True)
    page.get_by_label("Note").fill(NOTE)
    page.get_by_role("button", name="Log action").click()
    _settled(page)
    assert page.get_by_text(f"on {account_id}", exact=False).count() >= 1
    page.screenshot(path=str(screenshot_dir / "model_health_outcomes.png"), full_page=True)

    report = outcomes_job.report_frame(db.get_engine(db_url))
    row = report[(report.account_id == account_id) & (report.outcome == "pending")]
    assert row.acted.all() and not row.empty
    logged = db.read_table("csm_actions", db.get_engine(db_url), where="note = :n", params={"n": NOTE})
    assert logged.account_id.tolist() == [account_id]
