"""P10-P90 bands from the forecast's own past errors, per node level and horizon, strictly out of time.

The score of a past forecast is the ratio of what was still to come to what the forecast expected was
still to come: (actual - closed) / (p50 - closed). A new forecast's band is closed + (p50 - closed) x
the 10th and 90th percentiles of the scores of its level and horizon (current quarter: weeks within
`WEEK_WINDOW` of its own), using only past forecasts whose target quarter ended before the new
forecast's origin. Scores of one quarter at one level move together, so the bands carry the quarter's
common shock that independent deal draws miss. Fewer than `MIN_POINTS` scores: the band is left as
given (the Monte-Carlo's).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MIN_POINTS = 8
WEEK_WINDOW = 2
QUANTILES = (0.1, 0.9)


def scores(past: pd.DataFrame) -> pd.DataFrame:
    """`level, h, week, target_end, score` from past rows with `closed_won_usd, p50_usd, actual_usd`."""
    rest = past["p50_usd"] - past["closed_won_usd"]
    keep = rest > 0
    p = past[keep]
    return p[["level", "h", "week", "target_end"]].assign(
        score=((p["actual_usd"] - p["closed_won_usd"]) / rest[keep]).to_numpy())


def calibrate(scored: pd.DataFrame, origin: pd.Timestamp, level: str, h: int, week: int) -> tuple | None:
    """(q10, q90) of the scores usable at `origin` for (level, h, week); None when too few."""
    s = scored[(scored.target_end < origin) & (scored.level == level) & (scored.h == h)]
    if h == 0:
        s = s[(s.week - week).abs() <= WEEK_WINDOW]
    if len(s) < MIN_POINTS:
        return None
    q = np.quantile(s.score.to_numpy(), QUANTILES)
    return float(q[0]), float(q[1])


def apply(nodes: pd.DataFrame, scored: pd.DataFrame, origin: pd.Timestamp, week: int) -> pd.DataFrame:
    """`nodes` (with `level, h, closed_won_usd, p10_usd, p50_usd, p90_usd`) with calibrated bands where
    there are enough past scores; `band` says `calibrated` or `simulated`."""
    out = nodes.copy()
    out["band"] = "simulated"
    for (level, h), idx in out.groupby(["level", "h"]).groups.items():
        q = calibrate(scored, origin, level, int(h), week)
        if q is None:
            continue
        rest = (out.loc[idx, "p50_usd"] - out.loc[idx, "closed_won_usd"]).clip(lower=0.0)
        out.loc[idx, "p10_usd"] = out.loc[idx, "closed_won_usd"] + rest * q[0]
        out.loc[idx, "p90_usd"] = out.loc[idx, "closed_won_usd"] + rest * q[1]
        out.loc[idx, "band"] = "calibrated"
    return out
