"""Scorecard section `forecast`: the active version's backtest metrics, plus the demo's oracle error.

`wape_company_oracle` is the planted expected bookings' error against the actual bookings, company
level, over the same backtest quarters (demo data only: it reads `truth_bookings`)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from models.forecast import wape
from services import db, registry

BARS = {"wape_vs_seasonal_naive_max_ratio": 0.7, "coverage_p10_p90": [0.72, 0.88], "coherence_max_abs_gap_usd": 1.0}


def section(engine: Engine) -> dict[str, Any]:
    m = registry.active_metrics(engine, "forecast")
    if not m:
        return {}
    out = dict(m)
    quarters = m.get("backtest_quarters") or []
    if db.table_exists("truth_bookings", engine) and quarters:
        t = db.read_table("truth_bookings", engine)
        t = t[t["quarter"].isin(quarters)].groupby("quarter")[["expected_bookings_usd", "actual_bookings_usd"]].sum()
        out["wape_company_oracle"] = wape(t["actual_bookings_usd"], t["expected_bookings_usd"]) if len(t) else None
    sn, w, c = m.get("wape_company_seasonal_naive"), m.get("wape_company"), m.get("wape_company_commit")
    cov, gap = m.get("coverage_p10_p90"), m.get("coherence_max_abs_gap_usd")
    out["bars"] = {
        "wape_company_le_0.7x_seasonal_naive": None if w is None or not sn else w <= 0.7 * sn,
        "wape_company_lt_commit": None if w is None or c is None else w < c,
        "coverage_p10_p90_in_0.72_0.88": None if cov is None else 0.72 <= cov <= 0.88,
        "coherence_under_1_usd": None if gap is None else gap < 1.0,
        "arr_wape_company_lt_flat": None if m.get("arr_wape_company") is None
        else m["arr_wape_company"] < m["arr_wape_company_flat"],
    }
    return out
