"""Bias of the forecast's not-yet-created part on the seeds of bench/bench_forecast_seeds.py.

    .venv/bin/python bench/bench_forecast_fresh_bias.py [WORKDIR (default /tmp/fc_seeds)] [SEEDS (default 0-4)]

Company backtest rows: `runrate_usd` against the bookings won in the target quarter from deals created
after the origin; the bias is sum(predicted) / sum(actual) - 1 per horizon (pooled over seeds and weeks)
and per seed at week 0."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pandas as pd

from services import db, registry
from services.forecast import tables as T

WORKDIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/fc_seeds"
SEEDS = [int(x) for x in sys.argv[2:]] or [0, 1, 2, 3, 4]
out = []
for s in SEEDS:
    e = db.get_engine(f"sqlite:///{WORKDIR}/seed{s}.db")
    r = registry.read_results(e, T.NODES, T.MODEL, "kind='backtest' AND product_id='ALL' AND role='cro'")
    o = db.read_table("opportunities", e)
    w = o[o.is_won & o.type.isin(["new", "expansion"])]
    for x in r.itertuples():
        q = pd.Period(x.quarter, "Q")
        a = w[(w.close_date >= q.start_time) & (w.close_date <= q.end_time) & (w.created_date > x.origin_date)].amount_usd.sum()
        out.append((s, x.h, x.week, x.runrate_usd, a))
d = pd.DataFrame(out, columns=["seed", "h", "week", "pred", "actual"])
sums = d.groupby("h")[["pred", "actual"]].sum()
print("fresh bookings bias, pooled over seeds and weeks:", (sums.pred / sums.actual - 1).round(3).to_dict())
w0 = d[d.week == 0].groupby(["h", "seed"])[["pred", "actual"]].sum()
print("per seed, week 0:\n", (w0.pred / w0.actual - 1).unstack().round(3))
