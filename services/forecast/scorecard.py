"""Scorecard section `forecast`: the active version's backtest report, re-scored with the demo's oracle.

The oracle (demo data only: it reads `truth_bookings`) knows the simulator's planted expected bookings
per rep and quarter, not the deals: at an origin it says closed so far + the planted expected bookings
of the quarter x the share of the quarter's days still to come (the simulator plants no per-deal win
probability, so the open deals' and the not-yet-created deals' expectation are that remaining share).
It is scored on the same backtest rows as the model and the baselines (`ALL` products, every level)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from services import db, fiscal, registry
from services.forecast import accuracy, read
from services.forecast import commit_bias as cb
from services.forecast import tables as T

ORACLE_KNOWS = ("the planted expected bookings per rep and quarter (truth_bookings) and what closed so far; "
                "expected bookings still to come = planted expected x share of the quarter's days left")
BARS = {"vs_best_baseline_max_ratio": 0.85, "vs_oracle_max_ratio": 1.2, "coverage_p10_p90": [0.75, 0.88]}


def with_oracle(rows: pd.DataFrame, truth: pd.DataFrame, cal: fiscal.FiscalCalendar = fiscal.CALENDAR) -> pd.DataFrame:
    """`rows` (backtest, `ALL` products) with `oracle_usd` from the planted expected bookings."""
    parent = dict(zip(rows.person_id, rows.parent_id))
    reps = rows.loc[rows.role == "rep", "person_id"].unique()
    pairs = []
    for rep in reps:
        p, seen = rep, set()
        while isinstance(p, str) and p not in seen:
            seen.add(p)
            pairs.append((rep, p))
            p = parent.get(p)
    anc = pd.DataFrame(pairs, columns=["owner_id", "person_id"])
    exp = truth.merge(anc, on="owner_id").groupby(["person_id", "quarter"])["expected_bookings_usd"].sum()
    q = cal.periods(rows.quarter)
    qs, qe = q.start_time.normalize(), q.end_time.normalize()
    origin = pd.DatetimeIndex(pd.to_datetime(rows.origin_date)).normalize()
    start = pd.DatetimeIndex(np.maximum(origin.values, (qs - pd.Timedelta(days=1)).values))
    left = np.clip((qe - start).days / ((qe - qs).days + 1), 0, 1)
    e = pd.MultiIndex.from_arrays([rows.person_id, rows.quarter]).map(exp.to_dict().get)
    return rows.assign(oracle_usd=rows.closed_won_usd.to_numpy() + pd.Series(e, index=rows.index).astype(float)
                       * left)


def section(engine: Engine) -> dict[str, Any]:
    m = registry.active_metrics(engine, "forecast")
    if not m:
        return {}
    out = dict(m)
    if db.table_exists("truth_bookings", engine):
        rows = registry.read_results(engine, T.NODES, T.MODEL, "kind = 'backtest' AND product_id = 'ALL'")
        if not rows.empty and "h" in rows:
            out.update(accuracy.report(with_oracle(rows, db.read_table("truth_bookings", engine), fiscal.read(engine))))
            out["oracle_knows"] = ORACLE_KNOWS
            out["commits"] = commit_track(rows, read.commits(engine))
    out["bars"] = bars(out)
    return out


def commit_track(rows: pd.DataFrame, commits: pd.DataFrame) -> dict:
    """WAPE per level over the backtest quarters: the commit, the commit corrected by the person's past
    bias, the bias-corrected roll-up of the direct reports' commits, and the model at week 2 (the
    first backtested week at which a commit exists)."""
    base = rows[(rows.h == 0) & (rows.week == 0)]
    actuals = base[["person_id", "quarter", "actual_usd"]]
    t = cb.backtest(commits, actuals, dict(zip(base.person_id, base.parent_id)))
    model = rows[(rows.h == 0) & (rows.week == 2)].set_index(["person_id", "quarter"])["p50_usd"]
    t = t.join(model.rename("model_usd"), on=["person_id", "quarter"])
    role = dict(zip(base.person_id, base.role))
    out = {}
    for r, g in t.groupby(t.person_id.map(role)):
        if r in accuracy.LEVELS:
            scored = g[g.n.notna()]  # quarters with a bias measured before them
            out[accuracy.LEVELS[r]] = {c: cb.wape(scored, col) for c, col in (
                ("commit", "commit_usd"), ("corrected_commit", "corrected_usd"),
                ("team_corrected_rollup", "team_corrected_usd"), ("model_week_2", "model_usd"))} | {
                "n": len(scored)}
    return out


def bars(rep: dict) -> dict:
    """Week 0 of the current quarter and the next quarter (week 0), company and region."""
    out = {}
    acc = rep.get("accuracy", {})
    for horizon in ("current_quarter", "next_quarter"):
        for level in ("company", "region"):
            c = acc.get(horizon, {}).get("week_00", {}).get(level, {})
            b = c.get("best_baseline", {}).get("ratio")
            out[f"{horizon}_w0_{level}_le_0.85x_best_baseline"] = None if b is None else b <= 0.85
            o = c.get("oracle", {}).get("ratio")
            if horizon == "current_quarter":
                out[f"{horizon}_w0_{level}_within_1.2x_oracle"] = None if o is None else o <= 1.2
    for level in ("company", "region"):
        cov = rep.get("coverage_p10_p90_by_level", {}).get(level, {}).get("all")
        out[f"coverage_{level}_in_0.75_0.88"] = None if cov is None else 0.75 <= cov <= 0.88
    gap = rep.get("coherence_max_abs_gap_usd")
    out["coherence_under_1_usd"] = None if gap is None else gap < 1.0
    if rep.get("arr_wape_company") is not None:
        out["arr_wape_company_lt_flat"] = rep["arr_wape_company"] < rep["arr_wape_company_flat"]
        if rep.get("arr_wape_company_trend") is not None:
            out["arr_wape_company_lt_trend"] = rep["arr_wape_company"] < rep["arr_wape_company_trend"]
    return out
