"""Novelty of the open deals the win-probability model scores: how unlike the deals it learned from.

Reference: the deal states at the backtest origins (`backtest.run`'s scored deals, the current quarter's),
which are drawn from the same past deal states the model trains on. `flags` fits
`models.novelty.NoveltyScorer` on their win-probability features (held-out opportunities set the
threshold) and scores the current quarter's open deals at the as-of: an amount beyond any past deal, a
stage or product never seen, or a combination unlike any past deal.
"""
from __future__ import annotations

import pandas as pd

from models.novelty import NoveltyScorer
from services import confidence
from services.forecast import data as fd


def flags(backtest_deals: pd.DataFrame, live_deals: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Rows of `forecast_deal_novelty`: the as-of's current-quarter deals (h = 0) with novelty and reason."""
    live = live_deals[live_deals.h == 0].reset_index(drop=True)
    cols = [c for c in fd.FEATURES if c in backtest_deals and c in live]
    out = pd.DataFrame({"opportunity_id": live.opportunity_id.to_numpy(),
                        "target_quarter": live.target_quarter.astype(str).to_numpy()})
    if len(backtest_deals) < 50 or live.empty:
        return out.assign(novelty=0.0, novel=False, novelty_reason=None)
    scorer = NoveltyScorer(random_state=seed).fit(backtest_deals[cols].reset_index(drop=True),
                                                  groups=backtest_deals.opportunity_id.to_numpy())
    nov = confidence.novelty_columns(scorer, live[cols])
    return pd.concat([out, nov], axis=1)
