"""Deal mix of each forecast node against the backtested quarters: is one deal most of the pipeline?

A node's band comes from past errors of nodes like it (`services/forecast/bands.py`); those past quarters
had some concentration of expected pipeline (p_win x amount) in their largest deal. `flags` measures the
largest deal's share of each node's expected pipeline for the current quarter at the as-of, and compares it
with the largest share any node of the same level (role, by product or not) had at the backtest origins:
above it, the node's deal mix is unlike any backtested quarter and its band may be too narrow (one deal
won or lost moves the outcome more than the band has seen). Only the current quarter (h = 0) is compared:
the backtest keeps the deals of that horizon.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from services.forecast import engine as fe


def node_top_share(tree: fe.Tree, deals: pd.DataFrame) -> pd.DataFrame:
    """Per node of `tree.nodes` (same order): expected pipeline, deals, the largest deal, its id and share."""
    n_leaves = len(tree.leaves)
    leaf = tree.leaf_index(deals.owner_id.reset_index(drop=True), deals.product_id.reset_index(drop=True))
    ok = leaf >= 0
    contrib = deals.contribution_usd.to_numpy(float)[ok]
    ids = deals.opportunity_id.to_numpy()[ok]
    leaf = leaf[ok]
    expected = tree.membership @ np.bincount(leaf, weights=contrib, minlength=n_leaves)
    count = tree.membership @ np.bincount(leaf, minlength=n_leaves).astype(float)
    leaf_max = np.zeros(n_leaves)
    leaf_top = np.full(n_leaves, None, dtype=object)
    if len(leaf):
        order = np.lexsort((-contrib, leaf))
        first = np.r_[True, leaf[order][1:] != leaf[order][:-1]]
        leaf_max[leaf[order][first]] = contrib[order][first]
        leaf_top[leaf[order][first]] = ids[order][first]
    weighted = tree.membership.multiply(leaf_max[None, :]).tocsr()
    top = np.asarray(weighted.max(axis=1).todense()).ravel()
    top_leaf = np.asarray(weighted.argmax(axis=1)).ravel()
    share = np.divide(top, expected, out=np.zeros_like(top), where=expected > 0)
    return pd.DataFrame({"expected_usd": expected, "n_deals": count.astype(int), "top_deal_usd": top,
                         "top_deal_id": np.where(top > 0, leaf_top[top_leaf], None), "top_deal_share": share})


def flags(tree: fe.Tree, backtest_deals: pd.DataFrame, live_deals: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """Rows of `forecast_mix`: every node's current-quarter mix at the as-of against the backtest's."""
    levels = pd.Series(tree.levels)
    ref = []
    for _, d in backtest_deals.groupby(["target_quarter", "week"]):
        s = node_top_share(tree, d)
        ref.append(pd.DataFrame({"level": levels, "share": s.top_deal_share.where(s.expected_usd > 0)}))
    ref_max = (pd.concat(ref).groupby("level").share.max() if ref else pd.Series(dtype=float))
    live = node_top_share(tree, live_deals[live_deals.target_quarter == quarter])
    worst = levels.map(ref_max).to_numpy(float)
    unusual = (live.top_deal_share.to_numpy() > np.nan_to_num(worst, nan=1.0)) & (live.expected_usd.to_numpy() > 0)
    reason = [f"One deal ({d}) is {s:.0%} of the expected pipeline; the most in any backtested quarter at this "
              f"level was {w:.0%}: the band has not seen a mix like this" if u else None
              for d, s, w, u in zip(live.top_deal_id, live.top_deal_share, worst, unusual)]
    return pd.DataFrame({"person_id": tree.nodes.person_id.to_numpy(), "product_id": tree.nodes.product_id.to_numpy(),
                         "quarter": quarter, **{c: live[c].to_numpy() for c in live.columns},
                         "backtest_max_share": worst, "unusual": unusual, "reason": reason})
