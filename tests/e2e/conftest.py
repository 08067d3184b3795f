"""End-to-end fixtures: a live app server on the small untrained demo, Chromium, a screenshot folder.

The server and page helpers live in tests/fixtures/app_server.py, the demo databases in tests/fixtures/demo_db.py.

Reuse them in new e2e tests:

    def test_my_page(open_app, browser_page, screenshot_dir):
        open_app("my_page", "My page title")     # asserts the heading and no exception
        browser_page.screenshot(path=screenshot_dir / "my_page.png")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fixtures import demo_db
from fixtures.app_server import open_app_page, serve_demo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the app on a free port against a copy of the untrained demo (see fixtures/app_server.py)."""
    with serve_demo(tmp_path_factory, demo_db.UNTRAINED) as (base_url, _db_url):
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


@pytest.fixture()
def open_app(app_server: str, browser_page: object) -> Callable[[str, str], None]:
    """`open_app(url_path, heading)`: open a page of the live app and check it (see open_app_page)."""
    return lambda url_path, heading: open_app_page(browser_page, app_server, url_path, heading)
