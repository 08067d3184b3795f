"""End to end, as the page's users see it: commit entry at a manager shows that manager's number and the
tile follows a save; a figure that fell has a red down arrow; a logged action is listed at once; and a
screenshot of every page at 1400x900 and 1024x768 (in the e2e output, `FORESIGHT_SCREENSHOT_DIR`)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fixtures import demo_db
from fixtures.app_server import open_app_page, serve_demo, settle
from playwright.sync_api import expect

from services import db
from services.forecast import read as fc
from ui.format import person_labels, usd

WAIT_MS = 30_000
PAGES = [("", "Overview"), ("churn_risk", "Churn risk"), ("account?account_id={account}", "Account"),
         ("adoption", "Adoption"), ("forecast", "Forecast"), ("where_to_grow", "Where to grow"),
         ("workbench", "Workbench"), ("model_health", "Model health"), ("data", "Data"), ("audit", "Audit log")]
SIZES = [(1400, 900), (1024, 768)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serve_demo(tmp_path_factory, demo_db.TRAINED) as (base_url, db_url):
        yield base_url, db_url


def _sidebar_pick(page, label: str, option: str) -> None:
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).first.click()
    settle(page, before_ms=300)


def _go_to(page, people: pd.DataFrame, person_id: str) -> None:
    """Scope the sidebar to a regional VP, a manager or a rep."""
    labels = person_labels(people)
    who = people.set_index("person_id").loc[person_id]
    _sidebar_pick(page, "Region", who.region)
    if who.role == "manager":
        _sidebar_pick(page, "Manager", labels[person_id])
    elif who.role == "rep":
        _sidebar_pick(page, "Manager", labels[who.manager_id])
        _sidebar_pick(page, "Rep", labels[person_id])


def _figures(db_url: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    engine = db.get_engine(db_url)
    nodes = fc.nodes_at(engine)
    quarter = min(nodes.quarter.unique())
    people = db.read_table("people", engine)
    return fc.figures(engine, nodes, people.person_id.tolist(), quarter), people, quarter


def test_commit_entry_at_a_manager_shows_their_number_and_the_tile_follows(served, browser_page,
                                                                           screenshot_dir: Path) -> None:
    base, db_url = served
    figs, people, _ = _figures(db_url)
    manager = figs[figs.role == "manager"].iloc[0]
    expected = manager.commit_usd if pd.notna(manager.commit_usd) else float(round(manager.p50_usd, -3))
    company = figs[figs.role == "cro"].iloc[0] if (figs.role == "cro").any() else None
    page = browser_page
    open_app_page(page, base, "forecast", "Forecast")
    _go_to(page, people, manager.person_id)
    box = page.get_by_role("textbox", name="Commit for")
    expect(box).to_have_value(f"{expected:,.0f}", timeout=WAIT_MS)  # thousands separators in the input
    if company is not None and pd.notna(company.commit_usd):
        assert box.input_value() != f"{company.commit_usd:,.0f}"
    new = expected + 123_000
    box.fill(f"{new:,.0f}")
    page.get_by_role("button", name="Save commit").click()
    settle(page, before_ms=500)
    tile = page.get_by_test_id("stMetric").filter(has_text="Commit").first
    expect(tile).to_contain_text(usd(new), timeout=WAIT_MS)  # no reload
    page.screenshot(path=screenshot_dir / "forecast_manager_commit_saved.png", full_page=True)


def test_a_forecast_that_fell_shows_a_red_down_arrow(served, browser_page, screenshot_dir: Path) -> None:
    base, db_url = served
    figs, people, _ = _figures(db_url)
    fell = figs[(figs.p50_usd < figs.p50_usd_last_week - 500) & figs.role.isin(["regional_vp", "manager", "rep"])]
    assert not fell.empty, "no node's P50 fell since last week in this demo: pick another metric"
    who = fell.sort_values("role").iloc[0]
    page = browser_page
    open_app_page(page, base, "forecast", "Forecast")
    _go_to(page, people, who.person_id)
    tile = page.get_by_test_id("stMetric").filter(has_text="Forecast P50").first
    expect(tile.get_by_test_id("stMetricDelta")).to_contain_text("-$", timeout=WAIT_MS)
    expect(tile.get_by_test_id("stMetricDeltaIcon-Down")).to_have_count(1)
    colour = tile.get_by_test_id("stMetricDelta").evaluate("e => getComputedStyle(e).color")
    r, g, b = (int(float(v)) for v in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])
    assert r > g + 60 and r > b + 60, colour  # red
    page.screenshot(path=screenshot_dir / "forecast_fell.png", full_page=False)


def test_a_logged_action_is_listed_at_once(served, browser_page, screenshot_dir: Path) -> None:
    base, db_url = served
    engine = db.get_engine(db_url)
    from services.churn import read as churn
    from services.outcomes import actions

    risk = churn.at_risk(engine)
    account = next(a for a in risk.account_id if actions.account_actions(engine, a).empty)
    page = browser_page
    open_app_page(page, base, f"account?account_id={account}", "Account")
    empty = page.get_by_text("No customer-success actions logged on this account.")
    expect(empty).to_have_count(1, timeout=WAIT_MS)
    page.get_by_label("Note").fill("e2e: called the sponsor")
    page.get_by_role("button", name="Log action").click()
    settle(page, before_ms=500)
    expect(page.get_by_text("Logged:").first).to_be_visible(timeout=WAIT_MS)
    expect(empty).to_have_count(0, timeout=WAIT_MS)  # the list above the form shows it without a reload
    assert len(actions.account_actions(engine, account)) == 1
    page.screenshot(path=screenshot_dir / "account_action_logged.png", full_page=True)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_screenshot_of_every_page(served, browser, screenshot_dir: Path, size: tuple[int, int]) -> None:
    base, db_url = served
    account = db.read_table("accounts", db.get_engine(db_url)).account_id.iloc[0]
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    folder = screenshot_dir / "pages"
    folder.mkdir(exist_ok=True)
    try:
        for path, heading in PAGES:
            open_app_page(page, base, path.format(account=account), heading, before_ms=300)
            name = (path.split("?")[0] or "overview")
            page.screenshot(path=folder / f"{name}_{size[0]}x{size[1]}.png")
    finally:
        context.close()
