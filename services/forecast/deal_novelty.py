"""Novelty and a win-probability range for the open deals the forecast scores.

Reference: the deal states at the backtest origins (`backtest.run`'s scored deals, the current quarter's),
which are drawn from the same past deal states the model trains on, each with its outcome. `flags` fits
`models.novelty.NoveltyScorer` on their win-probability features (held-out opportunities set the
threshold) and scores the current quarter's open deals at the as-of: an amount beyond any past deal, a
stage or product never seen, or a combination unlike any past deal.

Range (`p_win_low`, `p_win_high`): how far the deal's win probability may be off, judged out of time on the
`NEIGHBORS` backtest deals whose win probability (the blended one the forecast uses) was nearest: the
local misfit between their win rate and their mean probability, plus that rate's own sampling error
(`models.intervals.calibration_sd`, opportunities counted once per quarter), a `LEVEL` interval on the
log-odds scale. No refits: the backtest already holds out-of-time scores with outcomes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models import intervals
from models.novelty import NoveltyScorer
from services import confidence
from services.forecast import data as fd

LEVEL = 0.9
NEIGHBORS = 100


def win_range(backtest_deals: pd.DataFrame, p_win: np.ndarray, k: int = NEIGHBORS,
              level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of each win probability `p_win` from the backtest deals' outcomes near that probability."""
    bt = backtest_deals[backtest_deals.won_in_quarter.notna()]
    p_bt = bt.p_win.to_numpy(float)
    logit = intervals.logit
    nb = intervals.nearest(logit(p_bt)[:, None], logit(p_win)[:, None], k)
    groups = (bt.opportunity_id.astype(str) + "|" + bt.target_quarter.astype(str)).to_numpy()
    sd = intervals.calibration_sd(bt.won_in_quarter.to_numpy(float)[nb], p_bt[nb], p_win, groups[nb])
    low, high = intervals.interval_sd(logit(p_win), sd, level)
    return np.minimum(low, p_win), np.maximum(high, p_win)  # a probability of exactly 0 or 1 stays inside


def flags(backtest_deals: pd.DataFrame, live_deals: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Rows of `forecast_deal_novelty`: the as-of's current-quarter deals (h = 0) with novelty and reason, and
    the range of their win probability."""
    live = live_deals[live_deals.h == 0].reset_index(drop=True)
    cols = [c for c in fd.FEATURES if c in backtest_deals and c in live]
    out = pd.DataFrame({"opportunity_id": live.opportunity_id.to_numpy(),
                        "target_quarter": live.target_quarter.astype(str).to_numpy()})
    if len(backtest_deals) < 50 or live.empty:
        return out.assign(novelty=0.0, novel=False, novelty_reason=None, p_win_low=np.nan, p_win_high=np.nan)
    scorer = NoveltyScorer(random_state=seed).fit(backtest_deals[cols].reset_index(drop=True),
                                                  groups=backtest_deals.opportunity_id.to_numpy())
    nov = confidence.novelty_columns(scorer, live[cols])
    low, high = win_range(backtest_deals, live.p_win.to_numpy(float))
    return pd.concat([out, nov], axis=1).assign(p_win_low=low, p_win_high=high)
