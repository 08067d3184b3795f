"""End-to-end fixtures: a small seeded database, a live app server (`python -m ui.serve`), Chromium.

Reuse them in new e2e tests:

    def test_my_page(open_app, browser_page, screenshot_dir):
        open_app("my_page", "My page title")     # asserts the heading and no exception
        browser_page.screenshot(path=screenshot_dir / "my_page.png")
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SERVER_START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def e2e_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small demo company seeded into a fresh SQLite file."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'foresight.db'}"
    env = {**os.environ, "FORESIGHT_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "services.cli", "seed", "--accounts", "100", "--months", "18", "--seed", "3"]
    subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=300)
    return url


def _wait_healthy(base_url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not become healthy within {SERVER_START_TIMEOUT_S}s")


@contextmanager
def serve_app(db_url: str, log_path: Path) -> Iterator[str]:
    """Run the app (`streamlit run app.py` via ui.serve) on a free port against `db_url`; yield its base URL."""
    port = free_port()
    log = log_path.open("w+")
    env = {**os.environ, "FORESIGHT_DATABASE_URL": db_url}
    cmd = [
        sys.executable, "-m", "ui.serve",  # streamlit run app.py, see ui/serve.py
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, proc)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def app_server(e2e_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the app on a free port against the seeded database (see serve_app)."""
    with serve_app(e2e_db_url, tmp_path_factory.mktemp("e2e-server") / "streamlit.log") as base_url:
        yield base_url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's system Chromium driven by Playwright (skips when it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def browser_page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where e2e screenshots go (FORESIGHT_SCREENSHOT_DIR to keep them somewhere known)."""
    wanted = os.environ.get("FORESIGHT_SCREENSHOT_DIR")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_app_page(page: object, base_url: str, url_path: str, heading: str, timeout_ms: int = 60_000) -> None:
    """Go to a page, wait until its script has finished, and check it shows `heading` and no exception."""
    page.goto(f"{base_url}/{url_path}", wait_until="domcontentloaded")
    page.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_timeout(500)  # let the last deltas paint
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()


@pytest.fixture()
def open_app(app_server: str, browser_page: object) -> Callable[[str, str], None]:
    """`open_app(url_path, heading)`: open a page of the live app and check it (see open_app_page)."""
    return lambda url_path, heading: open_app_page(browser_page, app_server, url_path, heading)
