"""The app loads in headless Chromium: every page renders its heading and no exception."""

from __future__ import annotations

from pathlib import Path

import pytest

# (url path, heading). Add a row per page. A deep link comes first on purpose: the first request
# to a fresh server must still run app.py (navigation and sidebar filters), see ui/serve.py.
PAGES = [
    ("data", "Data"),
    ("", "Overview"),
]


@pytest.mark.parametrize(("url_path", "heading"), PAGES, ids=[h for _, h in PAGES])
def test_page_loads(open_app, browser_page, screenshot_dir: Path, url_path: str, heading: str) -> None:
    open_app(url_path, heading)
    sidebar = browser_page.locator('[data-testid="stSidebar"]')
    for label in ("As of", "Region", "Manager", "Rep"):
        assert sidebar.get_by_text(label, exact=True).count() == 1, f"sidebar filter {label!r} missing"
    browser_page.screenshot(path=str(screenshot_dir / f"{heading.lower().replace(' ', '_')}.png"), full_page=True)
