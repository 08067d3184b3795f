"""P10-P90 bands from the forecast's own past errors, per node level and horizon, strictly out of time.

The score of a past forecast is the ratio of what was still to come to what the forecast expected was
still to come: (actual - closed) / (p50 - closed). A new forecast's band is closed + (p50 - closed) x
a 10th-90th percentile interval of the scores of its level and horizon (`calibrate`: target quarters as
the exchangeable units; current quarter: weeks within
`WEEK_WINDOW` of its own), using only past forecasts whose target quarter ended before the new
forecast's origin. Scores of one quarter at one level move together, so the bands carry the quarter's
common shock that independent deal draws miss. A level with fewer than `MIN_POINTS` scores borrows
those of the next level down its `fallback` chain (company -> region -> ...: wider, never narrower
in expectation), then a horizon the one before it; where none has enough, the band is left as given
(the Monte-Carlo's).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

MIN_POINTS = 8
SCORE_FLOOR = 0.05  # a quarter that booked nothing more than closed: log of a small ratio, not -inf
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
    """(q10, q90) of the scores usable at `origin` for (level, h, week); None when too few.

    The scores of one target quarter move together (its weeks and its nodes share the quarter's
    shock), so the exchangeable units are the target quarters (n_eff of them), not the points: an
    order statistic of a handful of quarters cannot hold 80% (the min-max of n holds (n - 1)/(n + 1)).
    The band is the finite-sample prediction interval of the log score: the mean of the quarters'
    mean log scores +/- t(0.9, n_eff - 1) x sqrt(1 + 1/n_eff) x the spread of all points' log scores,
    widened where needed to the points' split-conformal order statistics (k and n + 1 - k,
    k = floor(0.1 (n + 1))); with a single quarter, those order statistics alone."""
    s = scored[(scored.target_end < origin) & (scored.level == level) & (scored.h == h)]
    if h == 0:
        s = s[(s.week - week).abs() <= WEEK_WINDOW]
    n_eff = s.target_end.nunique()
    if len(s) < MIN_POINTS:
        return None
    srt = np.sort(s.score.to_numpy())
    k = max(1, int(np.floor(QUANTILES[0] * (len(srt) + 1))))  # split-conformal order statistics on the points
    if n_eff < 2:  # one quarter: its points' order statistics (no spread between quarters to measure)
        return float(srt[k - 1]), float(srt[len(srt) - k])
    x = np.log(s.score.clip(lower=SCORE_FLOOR))
    centre = x.groupby(s.target_end).mean().mean()
    spread = float(np.sqrt(((x - centre) ** 2).sum() / (len(x) - 1)))
    t = stats.t.ppf(QUANTILES[1], n_eff - 1) * np.sqrt(1 + 1 / n_eff)
    # the wider of the two: the t interval where few quarters stand behind many points, the order
    # statistics where the log scores are far from normal (reps: many quarters that booked nothing more)
    return min(float(np.exp(centre - t * spread)), float(srt[k - 1])), max(float(np.exp(centre + t * spread)),
                                                                           float(srt[len(srt) - k]))


def apply(nodes: pd.DataFrame, scored: pd.DataFrame, origin: pd.Timestamp, week: int,
          fallback: dict[str, str] | None = None) -> pd.DataFrame:
    """`nodes` (with `level, h, closed_won_usd, p10_usd, p50_usd, p90_usd`) with calibrated bands where
    there are enough past scores (`fallback`: level -> the level whose scores to try next); `band`
    says `calibrated` (own level), `borrowed` (a level below) or `simulated`."""
    out = nodes.copy()
    out["band"] = "simulated"
    fallback = fallback or {}
    for (level, h), idx in out.groupby(["level", "h"]).groups.items():
        q, lv = None, None
        for hh in range(int(h), -1, -1):  # a horizon without enough scores borrows the one before it
            lv, seen = level, set()
            while lv is not None and lv not in seen and q is None:
                seen.add(lv)
                q = calibrate(scored, origin, lv, hh, week)
                lv = fallback.get(lv) if q is None else lv
            if q is not None:
                break
        if q is None:
            continue
        rest = (out.loc[idx, "p50_usd"] - out.loc[idx, "closed_won_usd"]).clip(lower=0.0)
        out.loc[idx, "p10_usd"] = out.loc[idx, "closed_won_usd"] + rest * q[0]
        out.loc[idx, "p90_usd"] = out.loc[idx, "closed_won_usd"] + rest * q[1]
        out.loc[idx, "band"] = "calibrated" if lv == level and hh == h else "borrowed"
    return out
