"""End to end: open an account in the workbench, edit a signal in the what-if, see the probability change."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

_spec = importlib.util.spec_from_file_location("e2e_helpers", Path(__file__).with_name("conftest.py"))
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


@pytest.fixture(scope="module")
def workbench_server(explain_db_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free port against a copy of the trained demo (adoption, churn, explanations)."""
    folder = tmp_path_factory.mktemp("wb-e2e")
    db_copy = folder / "demo.db"
    shutil.copy(explain_db_file, db_copy)
    port = helpers.free_port()
    env = {**os.environ, "FORESIGHT_DATABASE_URL": f"sqlite:///{db_copy}"}
    cmd = [sys.executable, "-m", "ui.serve", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = (folder / "streamlit.log").open("w+")
    proc = subprocess.Popen(cmd, cwd=helpers.REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        helpers._wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _probability(page) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Churn probability (what-if)")
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def test_open_account_edit_signal_probability_changes(workbench_server, browser_page, screenshot_dir):
    page = browser_page
    helpers.open_app_page(page, workbench_server, "workbench", "Workbench")
    page.screenshot(path=str(screenshot_dir / "workbench_local.png"), full_page=True)
    page.get_by_role("tab", name="What-if").click()
    before = _probability(page)
    slider = page.get_by_role("slider").first
    changed = """(before) => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.includes('Churn probability (what-if)') && !m.innerText.includes(before))"""
    for key in ("End", "Home"):  # the riskiest account's seat activation: to 100%, else to 0%
        slider.focus()
        slider.press(key)
        try:
            page.wait_for_function(changed, arg=before, timeout=15_000)
            break
        except PlaywrightTimeout:
            continue
    after = _probability(page)
    assert after != before and after.endswith("%")
    page.screenshot(path=str(screenshot_dir / "workbench_whatif.png"), full_page=True)
