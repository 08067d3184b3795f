"""How an open deal's win probability blends the stage conversion with the model, chosen out of time.

An open deal's probability is `(1 - w) x p_model + w x p_stage` (`services/forecast/engine.py`):
`p_model` is the calibrated LightGBM probability, `p_stage` its stage's dollar conversion on the
analogous origins (`baselines.stage_rates`; zero for deals closing outside the target, as in the
pipeline method: at w = 1 the open deals are the pipeline method's). `p_stage` is one number per stage,
so the grid stops at w = 0.75: any w < 1 keeps the model's order inside a stage, w = 1 would tie every
deal of a stage (the deals table's ranking and the win-probability AUC drop; `win_prob_auc_stage` in
the job's metrics is that AUC). Bookings from deals not yet created are multiplied by `fresh_factor`.

Per horizon (this quarter, the next, the one after) and week bucket of the origin (`bucket`), `choose`
scores every `(w, fresh_factor)` of the grid on the backtest forecasts of the company and the regions
whose target quarter had ended before the origin: their expectation is linear in both,
closed + (1 - w) x model_expected + w x stage_expected + fresh_factor x fresh, so no forecast has to be
rerun. It keeps `DEFAULT` unless at least `MIN_QUARTERS` such quarters exist and the best cell's WAPE
is `MIN_GAIN` lower than the default's. A backtest origin uses the choice made on the quarters ended
before it; the live forecast the one made on every backtest quarter.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

STAGE_WEIGHTS = (0.0, 0.25, 0.5, 0.75)
FRESH_FACTORS = (0.8, 1.0, 1.25)
DEFAULT = (0.5, 1.0)  # (stage weight, fresh factor)
MIN_QUARTERS = 6
MIN_GAIN = 0.2  # the best cell's WAPE must be this share lower than the default's
LEVELS = ("cro", "regional_vp")  # company and region rows decide
WEEK_BUCKETS = ((0, 3), (4, 7), (8, 99))  # weeks into the origin's quarter
HORIZON_NAMES = {0: "current_quarter", 1: "next_quarter", 2: "quarter_after"}
COLUMNS = ["h", "week", "role", "product_id", "quarter", "target_end", "actual_usd", "closed_won_usd",
           "model_expected_usd", "stage_expected_usd", "runrate_usd", "fresh_factor"]


def bucket(week: int) -> str:
    lo, hi = next(b for b in WEEK_BUCKETS if b[0] <= int(week) <= b[1])
    return f"weeks_{lo:02d}_{hi:02d}" if hi < 99 else f"weeks_{lo:02d}_on"


def decision_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows `choose` reads (company and region, `ALL` products), with their bucket."""
    r = rows[rows.role.isin(LEVELS) & (rows.product_id == "ALL")]
    return r[COLUMNS].assign(bucket=[bucket(w) for w in r.week])


def expected(rows: pd.DataFrame, w: float, f: float) -> np.ndarray:
    fresh = rows.runrate_usd.to_numpy(float) / rows.fresh_factor.to_numpy(float)  # the unscaled fresh part
    return (rows.closed_won_usd.to_numpy(float) + (1 - w) * rows.model_expected_usd.to_numpy(float)
            + w * rows.stage_expected_usd.to_numpy(float) + f * fresh)


def _wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    d = np.abs(actual).sum()
    return float(np.abs(forecast - actual).sum() / d) if d > 0 else float("nan")


def choose(rows: pd.DataFrame, origin: pd.Timestamp, h: int, week: int, min_quarters: int = MIN_QUARTERS,
           min_gain: float = MIN_GAIN) -> dict:
    """The blend for forecasts made at `origin` (week `week` of its quarter) of horizon `h`, from the
    `decision_rows` whose target quarter ended before `origin`."""
    b = bucket(week)
    past = rows[(rows.h == h) & (rows.bucket == b) & (rows.target_end < pd.Timestamp(origin))] if len(rows) else rows
    out = {"stage_weight": DEFAULT[0], "fresh_factor": DEFAULT[1], "bucket": b,
           "quarters": int(past.quarter.nunique()) if len(past) else 0, "wape": None, "wape_default": None,
           "best": None, "wape_best": None}
    if out["quarters"] < min_quarters:
        out["source"] = "default: too few past quarters"
        return out
    a = past.actual_usd.to_numpy(float)
    scores = {(w, f): _wape(a, expected(past, w, f)) for w, f in itertools.product(STAGE_WEIGHTS, FRESH_FACTORS)}
    if not np.isfinite(scores[DEFAULT]):  # nothing was booked in those quarters
        out["source"] = "default: no bookings to score"
        return out
    best = min(scores, key=lambda k: (scores[k], abs(k[0] - DEFAULT[0]) + abs(k[1] - DEFAULT[1])))
    out.update(wape_default=scores[DEFAULT], best=list(best), wape_best=scores[best])
    if scores[best] <= (1 - min_gain) * scores[DEFAULT]:
        out.update(stage_weight=best[0], fresh_factor=best[1], wape=scores[best], source="chosen")
    else:
        out.update(wape=scores[DEFAULT], source=f"default: best {best} not {min_gain:.0%} better")
    return out


def for_origin(rows: pd.DataFrame, origin: pd.Timestamp, week: int, horizons: int, **kw) -> dict[int, dict]:
    """`choose` for every horizon at one origin: `{h: choice}` (what `engine.forecast_at` takes)."""
    return {h: choose(rows, origin, h, week, **kw) for h in range(horizons)}


def summary(rows: pd.DataFrame, origin: pd.Timestamp, horizons: int, **kw) -> dict:
    """Every horizon and week bucket's choice at `origin`: `{horizon: {bucket: choice}}` (for the metrics)."""
    return {HORIZON_NAMES[h]: {bucket(lo): choose(rows, origin, h, lo, **kw) for lo, _ in WEEK_BUCKETS}
            for h in range(horizons)}
