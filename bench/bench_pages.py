"""Render times of every page and of the main interactions, in Chromium, against the budgets.

Serves the app (`python -m ui.serve`) against a database, signs in (demo mode) as the admin, and for each
page measures the time from the navigation click to the end of the page's script run (the moment Streamlit
marks the app "not running", after the last element was sent): once cold (first visit since the server
started) and then warm (the median of three later visits). Interactions are timed the same way, from the
input to the end of the rerun it starts. The clock starts at the input event as the page receives it (a
capturing pointerdown/keydown listener), not when the driver starts looking for the element. Budgets: 1 s
per page warm, 0.5 s per interaction. `BENCH_SPLIT=1` also prints, per timed step, the time from the input
to the start of the script run and the run itself.

    python bench/bench_pages.py --db sqlite:///data/foresight.db [--shots DIR] [--repeat 3] [--only forecast,churn]

It prints, first, the command that reproduces the database (the seed command stored with the demo).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from fixtures.app_server import serve_app

PAGE_BUDGET_S, INTERACTION_BUDGET_S = 1.0, 0.5
CHROMIUM = "/usr/bin/chromium"
PAGES = [  # (url path, sidebar label, heading)
    ("", "Overview", "Overview"), ("churn_risk", "Churn risk", "Churn risk"), ("account", "Account", "Account"),
    ("adoption", "Adoption", "Adoption"), ("forecast", "Forecast", "Forecast"),
    ("where_to_grow", "Where to grow", "Where to grow"), ("workbench", "Workbench", "Workbench"),
    ("model_health", "Model health", "Model health"), ("data", "Data", "Data"), ("audit", "Audit log", "Audit log"),
]
WATCH = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__saw = false; window.__done = null; window.__t0 = performance.now(); window.__input = null;
  // the clock starts at the user's input as the page receives it (not when the driver starts looking for
  // the element: Playwright's locator and actionability checks took 0.05-0.3 s of the figures before)
  if (!window.__marked) {
    for (const kind of ['pointerdown', 'keydown']) {
      document.addEventListener(kind, (e) => { if (window.__input === null) window.__input = e.timeStamp; },
                                {capture: true, passive: true});
    }
    window.__marked = true;
  }
  if (window.__obs) window.__obs.disconnect();
  window.__obs = new MutationObserver(() => {
    const s = app.getAttribute('data-test-script-state');
    if (s === 'running') { if (!window.__saw) window.__run = performance.now(); window.__saw = true; }
    else if (window.__saw && window.__done === null) window.__done = performance.now();
  });
  window.__obs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def timed(page, action: Callable[[], None], timeout_ms: int = 120_000) -> float:
    """Seconds from `action` to the end of the rerun it starts."""
    page.evaluate(WATCH)
    action()
    page.wait_for_function("window.__done !== null", timeout=timeout_ms, polling=20)
    seconds = page.evaluate("(window.__done - (window.__input ?? window.__t0)) / 1000")
    if os.environ.get("BENCH_SPLIT"):
        print(f"  start {page.evaluate('(window.__run - (window.__input ?? window.__t0)) / 1000'):.3f}s run {page.evaluate('(window.__done - window.__run) / 1000'):.3f}s")
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        raise RuntimeError(exceptions.first.inner_text()[:500])
    return float(seconds)


def settle(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000)
    page.wait_for_timeout(300)


def nav(page, label: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).first.click()


def _pick(page, where, label: str, option: str | int) -> None:
    """Choose `option` (its text, or its position) in the selectbox labelled `label` under `where`."""
    box = where.get_by_test_id("stSelectbox").filter(has_text=label).first.get_by_role("combobox")
    if isinstance(option, str):
        box.click()  # opens the list; typing filters it (fill() set the text without opening the list)
        page.keyboard.type(option)
    else:
        box.click()  # opens the list
    options = page.get_by_role("option")
    for key in ("ArrowDown", "ArrowDown"):  # a click that lands while the page reruns leaves the list shut
        try:
            options.first.wait_for(state="visible", timeout=3_000)
            break
        except Exception:  # noqa: BLE001 - open it from the keyboard and look again
            box.focus()
            page.keyboard.press(key)
    (options.nth(option) if isinstance(option, int) else options.filter(has_text=option).first).click()


def interactions(page) -> list[tuple[str, str, Callable[[], None], Callable[[], None]]]:
    """(name, page label to be on first, action, the action that undoes it): each is timed both ways, so a
    repeat always changes something (selecting what is already selected starts no rerun)."""
    def segment(i: int) -> Callable[[], None]:
        return lambda: page.get_by_test_id("stButtonGroup").first.locator("button").nth(i).click()

    def tab(i: int) -> Callable[[], None]:
        return lambda: page.get_by_role("tab").nth(i).click()

    def remove_low() -> None:
        page.get_by_test_id("stMultiSelect").first.get_by_role("button", name="Remove low").first.click()

    def add_low() -> None:
        page.get_by_test_id("stMultiSelect").first.get_by_role("combobox").click()
        page.get_by_role("option", name="low", exact=True).first.click()
        page.keyboard.press("Escape")
        page.get_by_test_id("stMultiSelect").first.get_by_role("combobox").blur()  # the next removal counts

    def slider(key: str) -> Callable[[], None]:
        def move() -> None:
            page.get_by_test_id("stSlider").first.get_by_role("slider").focus()
            page.keyboard.press(key)
        return move

    sidebar, main = page.get_by_test_id("stSidebar"), page.get_by_test_id("stMain")
    region = os.environ.get("BENCH_REGION", "EMEA")
    return [
        ("forecast: change quarter", "Forecast", segment(1), segment(0)),
        ("churn risk: remove a tier chip", "Churn risk", remove_low, add_low),
        ("churn risk: open another tab", "Churn risk", tab(1), tab(0)),
        ("workbench: change view", "Workbench", segment(1), segment(0)),
        ("workbench: move a what-if slider", "Workbench:What-if", slider("ArrowRight"), slider("ArrowLeft")),
        ("overview: pick a region", "Overview", lambda: _pick(page, sidebar, "Region", region),
         lambda: _pick(page, sidebar, "Region", "All regions")),
        ("adoption: pick a cluster", "Adoption", lambda: _pick(page, main, "Cluster", 1),
         lambda: _pick(page, main, "Cluster", 0)),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=os.environ.get("FORESIGHT_DATABASE_URL"), help="SQLAlchemy URL (default: configured)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shots", help="save a screenshot of each page (1400x900) here")
    ap.add_argument("--only", help="time only the pages and interactions whose name contains one of these "
                                   "comma-separated words (e.g. --only forecast,workbench)")
    args = ap.parse_args()
    from services import config, db
    url = args.db or config.database_url()
    try:
        seed = db.read_table("imports", db.get_engine(url)).source.iloc[-1]
    except Exception:  # noqa: BLE001 - informational only
        seed = "(unknown)"
    print(f"Reproduce: python bench/bench_pages.py --db {url}   # database from {seed}")
    from playwright.sync_api import sync_playwright
    shots = Path(args.shots) if args.shots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp, serve_app(url, Path(tmp) / "streamlit.log") as base, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        t0 = time.perf_counter()
        page.goto(base, wait_until="domcontentloaded")
        settle(page)
        print(f"first load (server cold, session start): {time.perf_counter() - t0:.2f}s")
        wanted = [w.strip().lower() for w in (args.only or "").split(",") if w.strip()]
        chosen = (lambda name: not wanted or any(w in name.lower() for w in wanted))
        for _path, label, _heading in PAGES:
            if not chosen(label):
                continue
            cold = timed(page, lambda label=label: nav(page, label))
            if shots:
                page.wait_for_timeout(300)
                page.screenshot(path=shots / f"{_path or 'overview'}.png")
            warm = []
            for _ in range(args.repeat):
                other = "Overview" if label != "Overview" else "Data"
                timed(page, lambda other=other: nav(page, other))
                warm.append(timed(page, lambda label=label: nav(page, label)))
            rows.append(("page", label, cold, statistics.median(warm)))
        for name, where, do, undo in interactions(page):
            if not chosen(name):
                continue
            label, _, view = where.partition(":")
            nav(page, label)
            settle(page)
            try:
                if view:
                    timed(page, lambda view=view: page.get_by_test_id("stButtonGroup").first.get_by_text(
                        view, exact=True).click())
                times, step = [], "do"
                for _ in range(args.repeat):
                    step = "do"
                    times.append(timed(page, do))
                    step = "undo"
                    times.append(timed(page, undo))
            except Exception as exc:  # noqa: BLE001 - report, do not stop the other figures
                print(f"{name}: could not drive it at its {step!r} step after {len(times)} timed "
                      f"({str(exc).splitlines()[0][:120]})")
                continue
            rows.append(("interaction", name, times[0], statistics.median(times[1:] or times)))
        browser.close()
    print(f"\n{'kind':<12} {'what':<36} {'first':>7} {'warm':>7} {'budget':>7}  verdict")
    failed = 0
    for kind, what, first, warm in rows:
        budget = PAGE_BUDGET_S if kind == "page" else INTERACTION_BUDGET_S
        ok = warm <= budget
        failed += not ok
        print(f"{kind:<12} {what:<36} {first:6.2f}s {warm:6.2f}s {budget:6.1f}s  {'ok' if ok else 'OVER'}")
    print(f"\n{len(rows) - failed} of {len(rows)} within budget (warm = median of {args.repeat}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
