"""Planted novel accounts: a group of recent customers made unlike anything in the training history.

`plant(frames, n, seed)` rewrites the contract tables of `n` customers created `RECENT_DAYS` before the
as-of (none has renewed yet, so none of their rows has a known renewal outcome and none is a training row;
their first renewal falls in the simulated future, where its outcome is known), a third of each kind, and returns `truth_novel` (account_id, kind), read only by benchmarks:

- `new_market`: an industry no account had (the contract fixes the segment list, so the new market is
  carried by the industry column);
- `arr_out_of_range`: ARR ten times the largest other customer's (every subscription scaled);
- `new_usage`: consumption five times capacity on every product, and no feature used at all.

The planted accounts' churn outcomes stay those the lifecycle drew for their original behaviour: the
model meets inputs it has never seen while the truth did not move, as when data or a market changes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = ("new_market", "arr_out_of_range", "new_usage")
NEW_INDUSTRY = "Public sector"
RECENT_DAYS = (190, 330)  # created this many days before the as-of: first renewal 1-6 months after it
ARR_FACTOR = 10.0
USAGE_FACTOR = 5.0


def plant(frames: dict[str, pd.DataFrame], n: int, seed: int, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rewrite `frames` in place for `n` planted accounts; returns `truth_novel`."""
    rng = np.random.default_rng(seed + 7919)
    acc, subs, usage = frames["accounts"], frames["subscriptions"], frames["usage_monthly"]
    as_of = pd.Timestamp(as_of)
    live = subs[(subs.start_date <= as_of) & (subs.end_date > as_of)].account_id.unique()
    age = (as_of - pd.to_datetime(acc.created_date)).dt.days
    recent = acc[age.between(*RECENT_DAYS) & acc.account_id.isin(live)]
    pick = rng.permutation(recent.account_id.to_numpy())[:n]
    kinds = np.array(KINDS)[np.arange(len(pick)) % len(KINDS)]
    truth = pd.DataFrame({"account_id": pick, "kind": kinds})
    by = {k: set(truth.account_id[truth.kind == k]) for k in KINDS}
    acc.loc[acc.account_id.isin(by["new_market"]), "industry"] = NEW_INDUSTRY
    active = subs[(subs.start_date <= as_of) & (subs.end_date > as_of)].groupby("account_id").arr_usd.sum()
    top = float(active.drop(list(by["arr_out_of_range"]), errors="ignore").max()) if len(active) else 1.0
    for a in by["arr_out_of_range"]:
        rows = subs.account_id == a
        own = float(active.get(a, subs.loc[rows, "arr_usd"].sum())) or 1.0
        subs.loc[rows, "arr_usd"] = (subs.loc[rows, "arr_usd"] * ARR_FACTOR * top / own).round(2)
    roles = frames["metric_catalog"].set_index("metric_id").role
    role = usage.metric_id.map(roles)
    odd = usage.account_id.isin(by["new_usage"])
    cap = usage[odd & (role == "capacity")].set_index(["account_id", "product_id", "month"]).value
    cons = odd & (role == "consumption")
    key = pd.MultiIndex.from_frame(usage.loc[cons, ["account_id", "product_id", "month"]])
    usage.loc[cons, "value"] = (cap.reindex(key).to_numpy() * USAGE_FACTOR).round(0)
    frames["usage_monthly"] = usage[~(odd & role.isin(["feature"]))].reset_index(drop=True)
    return truth
