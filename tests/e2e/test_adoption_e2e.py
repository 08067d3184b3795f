"""End to end: open the adoption page, select a cluster, open an account from it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.adoption_db import seed_and_train

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def adoption_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = seed_and_train(tmp_path_factory.mktemp("adoption-e2e") / "adoption.db", accounts=200, months=20, seed=4)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "FORESIGHT_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
           "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _settle(page: object) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
    page.wait_for_timeout(500)


def test_select_cluster_and_open_account(adoption_server: str, browser_page: object, screenshot_dir: Path) -> None:
    page = browser_page
    page.goto(f"{adoption_server}/adoption", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Adoption", exact=True).first.wait_for(timeout=60_000)
    _settle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=screenshot_dir / "adoption.png", full_page=True)
    box = page.get_by_test_id("stSelectbox").filter(has_text="Cluster")
    box.click()
    options = page.get_by_role("option")
    second = options.nth(1)
    chosen = second.inner_text()
    second.click()
    _settle(page)
    assert chosen in page.get_by_test_id("stCaptionContainer").filter(has_text="accounts,").first.inner_text()
    page.screenshot(path=screenshot_dir / "adoption_cluster.png", full_page=True)
    link = page.get_by_role("link", name="Open account view")
    link.wait_for(timeout=30_000)
    href = link.get_attribute("href")
    account_id = re.search(r"account_id=(\w+)", href).group(1)
    page.goto(f"{adoption_server}/{href.lstrip('/')}" if not href.startswith("http") else href,
              wait_until="domcontentloaded")
    _settle(page)
    assert f"account_id={account_id}" in page.url
    assert page.locator('[data-testid="stException"]').count() == 0
