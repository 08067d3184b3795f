"""Benchmark: adoption signals and clustering of a large demo company (default 100,000 accounts).

Prints the time to compute signals (13 months, from contract frames in memory), the time to cluster
(k selection by bootstrap stability + final fit + assigning all 13 months), against the 60 s bar, and
the agreement with the planted archetypes (read from the simulator's truth, bench code only).

    .venv/bin/python bench/bench_adoption.py [accounts] [months] [--seed S] [--as-of YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
from repro import add_demo_args, parse

from services.adoption.job import fit_and_assign, score_history
from services.adoption.scorecard import truth_agreement
from services.adoption.signals import compute_signals, month_starts
from services.simulator import generate

BAR_S = 60.0
log = logging.getLogger("bench_adoption")


def main(accounts: int, months: int, seed: int, as_of) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    frames = generate(accounts=accounts, months=months, seed=seed, as_of=as_of)
    t_gen = time.perf_counter() - t0
    as_of = pd.Timestamp(frames["usage_monthly"]["month"].max()) + pd.offsets.MonthEnd(0)
    t0 = time.perf_counter()
    mlist = month_starts(frames["usage_monthly"]["month"], as_of)
    signals, _ = compute_signals(frames["usage_monthly"], frames["metric_catalog"], frames["products"],
                                 frames["subscriptions"], mlist)
    signals = score_history(signals)
    t_sig = time.perf_counter() - t0
    t0 = time.perf_counter()
    model, assigned = fit_and_assign(signals)
    t_clu = time.perf_counter() - t0
    n_latest = int((signals["month"] == signals["month"].max()).sum())
    truth = frames["truth_adoption"]
    agree = truth_agreement(assigned[["account_id", "month", "cluster_id", "cluster_name"]], truth)
    print(f"accounts clustered (latest month): {n_latest:,}; rows assigned: {len(assigned):,}")
    print(f"generate demo:           {t_gen:7.1f} s")
    print(f"signals (13 months):     {t_sig:7.1f} s")
    print(f"clustering (select k, fit, assign 13 months): {t_clu:7.1f} s  bar {BAR_S:.0f} s  "
          f"ratio {t_clu / BAR_S:.2f} of the bar")
    print(f"k={model.k_} stability={model.stability_:.3f} silhouette={model.silhouette_:.3f} {agree}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("accounts", type=int, nargs="?", default=100_000)
    ap.add_argument("months", type=int, nargs="?", default=24)
    add_demo_args(ap)
    a = parse(ap)
    main(a.accounts, a.months, a.seed, a.as_of)
