"""Benchmark: `python -m services.cli seed --accounts N` into a fresh SQLite file.

Bar (issue 2): 100,000 accounts in at most 2 minutes and 4 GB on a 2-core machine. Prints wall and
CPU seconds, peak memory, and their ratios to the bar.
Usage: python bench/bench_seed.py [N] [MONTHS] [--seed S] [--as-of YYYY-MM-DD]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from repro import add_demo_args, parse

BAR_S, BAR_GB = 120.0, 4.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("accounts", type=int, nargs="?", default=100_000)
    ap.add_argument("months", type=int, nargs="?", default=36)
    add_demo_args(ap)
    args = parse(ap)
    n, months = args.accounts, args.months
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FORESIGHT_DATABASE_URL": f"sqlite:///{tmp}/bench.db"}
        cmd = [sys.executable, "-m", "services.cli", "seed", "--accounts", str(n), "--months", str(months),
               "--seed", str(args.seed), "--as-of", args.as_of.isoformat()]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        use = resource.getrusage(resource.RUSAGE_CHILDREN)
        size_mb = Path(tmp, "bench.db").stat().st_size / 2**20
    cpu = use.ru_utime + use.ru_stime
    peak_gb = use.ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux
    print(f"seed --accounts {n:,} --months {months} --seed {args.seed} --as-of {args.as_of}")
    print(f"  wall        {wall:8.1f} s   ratio to {BAR_S:.0f} s bar: {wall / BAR_S:.2f}")
    print(f"  cpu         {cpu:8.1f} s   (user+system, all threads)")
    print(f"  peak memory {peak_gb:8.2f} GB  ratio to {BAR_GB:.0f} GB bar: {peak_gb / BAR_GB:.2f}")
    print(f"  database    {size_mb:8.0f} MB  (SQLite file)")


if __name__ == "__main__":
    main()
