"""Nothing outside the simulator knows the demo's picklists: its stage names, segments and regions come
from the company's data (the `stages` table, accounts.segment, people.region), so a quoted demo name in
features, models, services, pages or the UI is a dependency on the demo and fails here.

The five forecast categories and the three opportunity types are Foresight's own vocabulary (the contract's
`FORECAST_CATEGORIES` and `OPPORTUNITY_TYPES`, onto which a mapping file maps a company's values), not the
demo's, so they are not searched for."""

from __future__ import annotations

import re
from pathlib import Path

from services.simulator.accounts import SEGMENTS
from services.simulator.org import REGIONS
from services.simulator.sales import STAGES

ROOT = Path(__file__).resolve().parents[2]
SEARCHED = ["app.py", "services", "pages", "ui", "models"]


def demo_names() -> set[str]:
    return {str(s) for s in STAGES} | {str(s) for s in SEGMENTS} | {str(r) for r in REGIONS}


def quoted(names: set[str]) -> re.Pattern[str]:
    """A quoted literal of any of the names ("Closed", 'SMB'), not the same words in prose."""
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"""(["'])(?:{alternatives})\1""")


def files() -> list[Path]:
    out = []
    for entry in SEARCHED:
        path = ROOT / entry
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [p for p in out if "simulator" not in p.relative_to(ROOT).parts]


def test_the_searched_names_come_from_the_simulator() -> None:
    names = demo_names()
    assert {"Closed Won", "SMB"} <= names and len(names) >= 10
    assert len(files()) > 50


def test_no_demo_name_outside_the_simulator() -> None:
    pattern = quoted(demo_names())
    hits = []
    for path in files():
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not hits, "demo names outside services/simulator:\n" + "\n".join(hits)


def test_the_search_finds_a_planted_name() -> None:
    pattern = quoted(demo_names())
    assert pattern.search('x = df.stage == "Closed Lost"') and pattern.search("s.isin(['SMB'])")
    assert not pattern.search('label = "Closed won"') and not pattern.search("# SMB accounts")
