"""End to end: open the adoption page, select a cluster, open an account from it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures import demo_db
from fixtures.app_server import open_app_page, serve_demo, settle


@pytest.fixture(scope="module")
def adoption_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_demo(tmp_path_factory, demo_db.TRAINED) as (base_url, _db_url):
        yield base_url


def test_select_cluster_and_open_account(adoption_server: str, browser_page: object, screenshot_dir: Path) -> None:
    page = browser_page
    open_app_page(page, adoption_server, "adoption", "Adoption")
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=screenshot_dir / "adoption.png", full_page=True)
    box = page.get_by_test_id("stSelectbox").filter(has_text="Cluster")
    box.click()
    options = page.get_by_role("option")
    second = options.nth(1)
    chosen = second.inner_text()
    second.click()
    settle(page)
    assert chosen in page.get_by_test_id("stCaptionContainer").filter(has_text="accounts,").first.inner_text()
    page.screenshot(path=screenshot_dir / "adoption_cluster.png", full_page=True)
    link = page.get_by_role("link", name="Open account view")
    link.wait_for(timeout=30_000)
    href = link.get_attribute("href")
    account_id = re.search(r"account_id=(\w+)", href).group(1)
    page.goto(f"{adoption_server}/{href.lstrip('/')}" if not href.startswith("http") else href,
              wait_until="domcontentloaded")
    settle(page)
    assert f"account_id={account_id}" in page.url
    assert page.locator('[data-testid="stException"]').count() == 0
