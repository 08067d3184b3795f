"""Where a page's script run spends its time: each page run in an AppTest (no browser), warm, under cProfile.

The browser benchmark (`bench/bench_pages.py`) says which pages are over budget; this one says why. For each
page it runs the app (signed in as the demo admin) and the page `--warm` times to fill the caches, then once
more with the profiler on around the sidebar filters, the data-health banner and the page itself, and prints
the run's wall time and the functions of this repository that took the most time (cumulative).

    python bench/profile_pages.py --db sqlite:///data/foresight.db [--pages forecast,adoption] [--top 25]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

PAGES = ["overview", "churn_risk", "account", "adoption", "forecast", "where_to_grow", "workbench",
         "model_health", "data", "audit"]


def profiled(profile: cProfile.Profile):
    """Patch the three things app.py runs per rerun so each runs under `profile` (in the script thread)."""
    from streamlit.navigation.page import StreamlitPage

    from ui import filters, health

    def wrap(fn):
        def inner(*args, **kwargs):
            profile.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                profile.disable()
        return inner

    originals = (StreamlitPage.run, filters.sidebar_filters, health.health_banner)
    StreamlitPage.run, filters.sidebar_filters, health.health_banner = (wrap(f) for f in originals)
    return originals


def restore(originals) -> None:
    from streamlit.navigation.page import StreamlitPage

    from ui import filters, health
    StreamlitPage.run, filters.sidebar_filters, health.health_banner = originals


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=os.environ.get("FORESIGHT_DATABASE_URL"), required=False)
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--state", action="append", default=[], metavar="KEY=JSON",
                    help="a widget's value before the runs, e.g. --state 'fc_quarter=\"2027Q1\"' (repeatable)")
    args = ap.parse_args()
    if args.db:
        os.environ["FORESIGHT_DATABASE_URL"] = args.db
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from ui.serve import navigation_only
    original_init = PagesManager.__init__

    def init(self, *a, **k):  # as tests/app/conftest.py: app.py on every rerun
        original_init(self, *a, **k)
        navigation_only()
    PagesManager.__init__ = init
    states = "".join(f" --state '{s}'" for s in args.state)
    print(f"Reproduce: python bench/profile_pages.py --db {args.db} --pages {args.pages}{states}")
    for page in args.pages.split(","):
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300).run()
        at.switch_page(f"pages/{page}.py").run()
        for item in args.state:
            key, _, value = item.partition("=")
            at.session_state[key] = json.loads(value)
        for _ in range(args.warm):
            at.run()
        profile = cProfile.Profile()
        originals = profiled(profile)
        t0 = time.perf_counter()
        try:
            at.run()
        finally:
            restore(originals)
        wall = time.perf_counter() - t0
        if at.exception:
            print(f"{page}: exception {at.exception[0].value[:300]}")
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
        stats.print_stats(*([] if os.environ.get("PROFILE_ALL") else [str(REPO).replace("\\", "/") + r"/(?!\.venv)"]), args.top)
        print(f"\n===== {page}: warm script run {wall:.2f}s (AppTest, no browser)")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()
                        and not line.startswith(("   Ordered", "   List reduced"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
