"""End to end: open the churn risk list, follow the first account's link, see its account view."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures import demo_db
from fixtures.app_server import open_app_page, serve_demo, settle, wait_heading


@pytest.fixture(scope="module")
def churn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_demo(tmp_path_factory, demo_db.CHURN_OUTCOMES) as (base_url, _db_url):
        yield base_url


def test_open_an_at_risk_account_from_the_list(churn_server: str, browser_page, screenshot_dir: Path) -> None:
    page = browser_page
    open_app_page(page, churn_server, "churn_risk", "Churn risk", before_ms=300)
    page.screenshot(path=screenshot_dir / "churn_risk.png", full_page=True)
    # the first account of the list (sorted by expected ARR at risk) is preselected; follow its link
    link = page.get_by_role("link", name="Open account view")
    href = link.get_attribute("href")
    assert "account_id=A" in href
    link.click()
    account = page
    account.wait_for_load_state("domcontentloaded")
    wait_heading(account, "Account")
    settle(account, before_ms=300)
    assert "account_id=A" in account.url
    account_id = account.url.split("account_id=")[1][:7]
    assert account.get_by_text(f"({account_id})").first.is_visible()
    assert account.get_by_text("Why this risk").first.is_visible()
    account.screenshot(path=screenshot_dir / "account.png", full_page=True)
