"""Churn benchmark: seed demo companies, train + score the churn job, print one table over seeds.

    python bench/bench_churn.py                               # 5,000 accounts, 36 months, seed 0, as of the last month-end
    python bench/bench_churn.py --accounts 5000 --seeds 0 1 2 3 4
    python bench/bench_churn.py --accounts 100000 --no-seed --database-url sqlite:////tmp/fc100k/foresight.db
    python bench/bench_churn.py --seeds 0 1 2 3 4 --as-of 2026-11-30   # pinned: the same figures on any day

Per seed: wall and CPU seconds of the churn job (features, backtest fit, production refit, scoring 13
dates, contributions and reasons, writes) and the scorecard section: on the renewal window (next renewal
within 6 months) AUC, PR AUC, ECE, the planted oracle's AUC and the gap; AUC and ECE 0-3, 3-6 and 6-12
months from the renewal (oracle beside); the logistic baseline; and the bars. Each seed uses its own
SQLite file under /tmp unless --database-url is given (one seed only).
"""
from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro import command, describe_database

from services import db, jobs
from services.churn.scorecard import BARS, section
from services.cli import iso_date
from services.cli import main as cli
from services.simulator import default_as_of


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def one(url: str, args: argparse.Namespace, seed: int) -> dict:
    if not args.no_seed:
        if url.startswith("sqlite:////"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        cli(["--database-url", url, "seed", "--accounts", str(args.accounts), "--months", str(args.months),
             "--seed", str(seed), "--as-of", args.as_of.isoformat()])
    engine = db.get_engine(url)
    print(describe_database(engine))
    t0, c0 = time.perf_counter(), cpu_seconds()
    status = jobs.train_all(engine, only=["churn"], force=True)["churn"]["status"]
    card = section(engine)
    return {"seed": seed, "status": status, "wall": time.perf_counter() - t0, "cpu": cpu_seconds() - c0, **card}


def fmt(x, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def table(results: list[dict]) -> str:
    head = ("| seed | AUC window | oracle | gap | PR AUC | ECE | logistic | AUC 0-3m | AUC 3-6m | AUC 6-12m "
            "(oracle) | ECE 6-12m | wall s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        d = r.get("by_distance", {})
        far = d.get("6-12m", {})
        lines.append(f"| {r['seed']} | {fmt(r.get('auc'))} | {fmt(r.get('auc_oracle'))} | {fmt(r.get('oracle_gap'))} "
                     f"| {fmt(r.get('pr_auc'))} | {fmt(r.get('ece'))} | {fmt(r.get('auc_baseline_logreg'))} "
                     f"| {fmt(d.get('0-3m', {}).get('auc'))} | {fmt(d.get('3-6m', {}).get('auc'))} "
                     f"| {fmt(far.get('auc'))} ({fmt(far.get('auc_oracle'))}) | {fmt(far.get('ece'))} "
                     f"| {r['wall']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--as-of", type=iso_date, default=None,
                    help="YYYY-MM-DD the demo runs to; default: the last month-end before today")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--no-seed", action="store_true", help="reuse the database as it is")
    args = ap.parse_args()
    args.as_of = args.as_of or default_as_of()
    print(f"Reproduce: {command(ap, args)}", flush=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    results = []
    for seed in args.seeds:
        url = args.database_url or f"sqlite:////tmp/bench_churn_{args.accounts}_{args.months}m_s{seed}.db"
        results.append(one(url, args, seed))
        print(f"seed {seed}: {results[-1]['status']}, bars {results[-1].get('bars')}", flush=True)
    print(f"\naccounts={args.accounts} months={args.months} cores={os.cpu_count()}; bars: gap <= {BARS['oracle_gap']}, "
          f"ECE <= {BARS['ece']}, AUC 6-12m >= {BARS['auc_6_12m']}")
    print(table(results))


if __name__ == "__main__":
    main()
