"""End to end: open the churn risk list, follow the first account's link, see its account view."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port
from health_db import trained_copy

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def churn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db_url = trained_copy(tmp_path_factory, tmp_path_factory.mktemp("churn-e2e") / "demo.db")
    port = free_port()
    log = (tmp_path_factory.mktemp("churn-e2e-server") / "streamlit.log").open("w+")
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
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _settled(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
    page.wait_for_timeout(500)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_open_an_at_risk_account_from_the_list(churn_server: str, browser_page, screenshot_dir: Path) -> None:
    page = browser_page
    page.goto(f"{churn_server}/churn_risk", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Churn risk", exact=True).first.wait_for(timeout=60_000)
    _settled(page)
    page.screenshot(path=screenshot_dir / "churn_risk.png", full_page=True)
    # the first account of the list (sorted by expected ARR at risk) is preselected; follow its link
    link = page.get_by_role("link", name="Open account view")
    href = link.get_attribute("href")
    assert "account_id=A" in href
    link.click()
    account = page
    account.wait_for_load_state("domcontentloaded")
    account.get_by_role("heading", name="Account", exact=True).first.wait_for(timeout=60_000)
    _settled(account)
    assert "account_id=A" in account.url
    account_id = account.url.split("account_id=")[1][:7]
    assert account.get_by_text(f"({account_id})").first.is_visible()
    assert account.get_by_text("Why this risk").first.is_visible()
    account.screenshot(path=screenshot_dir / "account.png", full_page=True)
