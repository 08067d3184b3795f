"""Benchmark: forecast training + rolling-origin backtest + live forecast on a seeded demo company.

Usage: python bench/bench_forecast.py [ACCOUNTS] [DB_URL] [--seed S] [--as-of YYYY-MM-DD] (a DB_URL that already
holds accounts is used as it is: then the printed seed command is the database's own). Prints wall and CPU seconds (CPU time is the
figure to compare with the bars on a shared machine: wall time includes other users' load) and the
headline backtest metrics (the five-seed accuracy table: bench/bench_forecast_seeds.py)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from repro import add_demo_args, describe_database, parse

from services import contract, db, jobs
from services.importer import import_frames
from services.simulator import generate

BAR_S = {5000: 90, 100_000: 600}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("accounts", type=int, nargs="?", default=5000)
    ap.add_argument("url", nargs="?", default=None, help="database URL (default: a new SQLite file)")
    add_demo_args(ap)
    args = parse(ap)
    accounts = args.accounts
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench_forecast.db"
    engine = db.get_engine(url)
    t_seed = time.perf_counter()
    if not db.read_table("accounts", engine, columns=["account_id"]).shape[0]:
        frames = generate(accounts=accounts, months=36, seed=args.seed, as_of=args.as_of)
        subs = frames["subscriptions"]
        dangling = subs.renewal_of.notna() & ~subs.renewal_of.isin(subs.subscription_id)
        if dangling.any():  # simulator defect at 100k accounts: reported, not the forecast's concern
            print(f"note: {int(dangling.sum())} subscriptions renew a subscription the simulator did not emit; "
                  "renewal_of set to null so the contract accepts the data")
            subs.loc[dangling, "renewal_of"] = None
        import_frames({k: v for k, v in frames.items() if k in contract.SPECS}, "bench", engine,
                      extra_tables={k: v for k, v in frames.items() if k not in contract.SPECS})
    print(f"seeded in {time.perf_counter() - t_seed:.0f}s wall; {describe_database(engine)}")
    w0, c0 = time.perf_counter(), time.process_time()
    r = jobs.train_all(engine, only=["forecast"], force=True)["forecast"]
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    bar = BAR_S.get(accounts)
    print(f"accounts={accounts} train+backtest+forecast wall={wall:.1f}s cpu={cpu:.1f}s"
          + (f" bar={bar}s cpu/bar={cpu / bar:.2f}" if bar else ""))
    keys = ["wape_company", "wape_region", "wape_rep", "coverage_p10_p90_by_level", "coherence_max_abs_gap_usd",
            "win_prob_auc", "win_prob_ece", "ending_arr_source", "ending_arr_churn_model_share",
            "arr_wape_company", "arr_wape_company_flat", "arr_wape_company_trend", "arr_backtest_quarters"]
    print(json.dumps({k: r.get(k) for k in keys}, indent=1))
    w0 = r.get("accuracy", {}).get("current_quarter", {}).get("week_00", {}).get("company", {})
    best = w0.get("best_baseline")
    if best:
        print(f"week 0, company: model / {best['method']} = {best['ratio']:.2f} (bar <= 0.85)")


if __name__ == "__main__":
    main()
