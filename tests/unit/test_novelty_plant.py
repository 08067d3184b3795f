"""The simulator's planted novel accounts (`generate(novel=N)`, `truth_novel`)."""
from __future__ import annotations

import pandas as pd

from services.simulator import generate
from services.simulator import novel as plant


def test_planted_accounts_are_recent_customers_made_unlike_the_rest() -> None:
    f = generate(accounts=400, months=24, seed=2, as_of="2026-10-31", novel=12)
    truth = f["truth_novel"]
    assert len(truth) == 12 and set(truth.kind) == set(plant.KINDS)
    acc = f["accounts"].set_index("account_id")
    age = (pd.Timestamp("2026-10-31") - pd.to_datetime(acc.loc[truth.account_id, "created_date"])).dt.days
    assert age.between(*plant.RECENT_DAYS).all()
    market = truth.account_id[truth.kind == "new_market"]
    assert (acc.loc[market, "industry"] == plant.NEW_INDUSTRY).all()
    assert (acc.drop(truth.account_id).industry != plant.NEW_INDUSTRY).all()
    subs = f["subscriptions"]
    live = subs[(subs.start_date <= "2026-10-31") & (subs.end_date > "2026-10-31")]
    arr = live.groupby("account_id").arr_usd.sum()
    big = truth.account_id[truth.kind == "arr_out_of_range"]
    assert arr.reindex(big).min() >= 9.9 * arr.drop(big).max()
    usage = f["usage_monthly"].merge(f["metric_catalog"][["metric_id", "role"]], on="metric_id")
    odd = usage[usage.account_id.isin(truth.account_id[truth.kind == "new_usage"])]
    assert not (odd.role == "feature").any()
    wide = odd.pivot_table(index=["account_id", "product_id", "month"], columns="role", values="value", observed=True)
    assert (wide.consumption >= 4.9 * wide.capacity).all()


def test_no_plant_by_default() -> None:
    assert "truth_novel" not in generate(accounts=60, months=18, seed=1, as_of="2026-10-31")
