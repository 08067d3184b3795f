"""Probe: is the churn model's renewal-window ECE (0.020-0.023 on seeds 2-4) miscalibration or sampling noise?

    python bench/probe_churn_ece.py --database-url sqlite:////tmp/h12/s2.db
    (database seeded with `python -m services.cli seed --accounts 5000 --months 36 --seed S --as-of 2026-11-30`
    and trained with `python bench/bench_churn.py --no-seed --database-url ... --seeds S --as-of 2026-11-30`)

Reads the stored backtest rows (`churn_backtest`, the rows the scorecard scores) and the planted renewals. On the
renewal-window rows it prints: the churn rate vs the mean probability, overall and per test date (a drift of the
churn rate between the training window and the test dates shows as a gap here); the ECE of the model, of the
model shifted by the one intercept that would match the test churn rate (what any recalibration of the level
could at best give, fitted on the test rows themselves: a diagnostic, not a method), and of the planted oracle;
and the ECE noise floor: the ECE of a perfectly calibrated score on these rows, i.e. labels drawn from the score
itself (one draw per renewal, shared by the rows that point to it), 300 draws, median and 90% interval.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy.optimize import brentq
from scipy.special import expit, logit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.churn_metrics import RENEWAL_WINDOW_DAYS, ece
from services import db
from services.churn.scorecard import oracle_probability
from services.simulator.lifecycle import ACTION_EFFECT


def noise_floor(p: np.ndarray, key: np.ndarray, draws: int = 300, seed: int = 0) -> tuple[float, float, float]:
    """ECE of `p` against labels drawn from `p` itself, one draw per renewal `key`."""
    _, first = np.unique(key, return_index=True)
    inv = np.unique(key, return_inverse=True)[1]
    pk = p[first]
    rng = np.random.default_rng(seed)
    out = [ece((rng.random(len(pk)) < pk)[inv], p) for _ in range(draws)]
    return tuple(np.percentile(out, [50, 5, 95]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    args = ap.parse_args()
    engine = db.get_engine(args.database_url)
    with engine.connect() as conn:
        bt = pd.read_sql(sa.text("SELECT * FROM churn_backtest"), conn)
        ren = pd.read_sql(sa.text("SELECT account_id, renewal_date, p_churn, churned, acted FROM truth_renewals"),
                          conn)
    for c in ("score_date", "renewal_date"):
        bt[c] = pd.to_datetime(bt[c])
    ren["renewal_date"] = pd.to_datetime(ren["renewal_date"])
    bt = bt[(bt.days_to_renewal >= 0) & (bt.days_to_renewal <= RENEWAL_WINDOW_DAYS)].reset_index(drop=True)
    o = oracle_probability(bt, ren, ACTION_EFFECT)
    y, p = bt.label_churn.to_numpy(float), bt.probability.to_numpy(float)
    key = (bt.account_id.astype(str) + "|" + bt.renewal_date.astype(str)).to_numpy()
    print(f"{args.database_url}: window rows {len(bt)}, renewals {len(np.unique(key))}")
    print("| rows | n | churn rate | mean probability | mean oracle | ECE model |")
    print("|---|---|---|---|---|---|")
    for name, m in [("all window rows", np.ones(len(bt), bool))] + [
            (f"score date {d.date()}", (bt.score_date == d).to_numpy()) for d in sorted(bt.score_date.unique())]:
        print(f"| {name} | {m.sum()} | {y[m].mean():.4f} | {p[m].mean():.4f} | {o[m].mean():.4f} "
              f"| {ece(y[m], p[m]):.4f} |")
    z = logit(np.clip(p, 1e-6, 1 - 1e-6))
    shift = brentq(lambda b: expit(z + b).mean() - y.mean(), -3, 3)
    ps = expit(z + shift)
    print(f"ECE model {ece(y, p):.4f}; with the test-fitted intercept shift {shift:+.3f}: {ece(y, ps):.4f}; "
          f"oracle {ece(y, o):.4f}")
    for name, q in (("model", p), ("oracle", o)):
        med, lo, hi = noise_floor(q, key)
        print(f"ECE noise floor of a perfectly calibrated {name}-shaped score on these rows: median {med:.4f} "
              f"(90%: {lo:.4f} .. {hi:.4f})")


if __name__ == "__main__":
    main()
