"""Churn benchmark: seed a demo company, train + score the churn job, print figures against the bars.

    python bench/bench_churn.py                  # default demo: 5,000 accounts, 36 months
    python bench/bench_churn.py --accounts 100000
    python bench/bench_churn.py --seed 0 --as-of 2026-11-30   # pinned: the same figures on any day

Prints wall and CPU seconds of the churn job (features, fit, backtest, scoring 13 dates, TreeSHAP and
reasons, writes), the scorecard section (auc vs oracle and baselines, ece, planted drivers) and the
bars. Uses its own SQLite file under /tmp unless --database-url is given.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro import add_demo_args, describe_database, parse

from services import db, jobs
from services.churn.scorecard import section
from services.cli import main as cli


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--months", type=int, default=36)
    add_demo_args(ap)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--no-seed", action="store_true", help="reuse the database as it is")
    args = parse(ap)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    url = args.database_url or f"sqlite:////tmp/bench_churn_{args.accounts}.db"
    if not args.no_seed:
        if url.startswith("sqlite:////"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        cli(["--database-url", url, "seed", "--accounts", str(args.accounts), "--months", str(args.months),
             "--seed", str(args.seed), "--as-of", args.as_of.isoformat()])
    engine = db.get_engine(url)
    print(describe_database(engine))
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = jobs.train_all(engine, only=["churn"], force=True)["churn"]
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    card = section(engine)
    bar_s = 60 if args.accounts <= 5000 else 600
    print(json.dumps({k: v for k, v in card.items() if k != "top_features"}, indent=1, default=str))
    print(f"accounts={args.accounts} cores={os.cpu_count()} status={result['status']}")
    print(f"train+score wall {wall:.1f}s, cpu {cpu:.1f}s; bar {bar_s}s -> wall/bar {wall / bar_s:.2f}")
    if "auc_oracle" in card:
        print(f"auc {card['auc']:.4f} vs oracle {card['auc_oracle']:.4f} (gap {card['auc_oracle'] - card['auc']:.4f},"
              f" bar 0.02); logistic {card['auc_baseline_logreg']:.4f}, logistic in renewal window "
              f"{card.get('auc_baseline_logreg_renewal', float('nan')):.4f}; ece {card['ece']:.4f} (bar 0.03); "
              f"planted drivers in top ten {card['planted_drivers_recovered']:.0%}")


if __name__ == "__main__":
    main()
