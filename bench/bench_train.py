"""The whole training run at scale: seed a demo (or reuse --database-url), run `train` (every job, in one
process, as `python -m services.cli train` does) and print per job its wall seconds, CPU seconds and peak
resident memory, then the total and the machine's load average.

    python bench/bench_train.py --accounts 20000 --seed 0 --as-of 2026-11-30
    python bench/bench_train.py --no-seed --database-url sqlite:////tmp/h17/a20k.db --seed 0 --as-of 2026-11-30
    python bench/bench_train.py --no-seed --database-url sqlite:////tmp/h17/a20k.db --profile /tmp/h17/prof

Per job: wall and CPU seconds (user + system of this process, all threads) and the peak resident set
while the job ran (sampled every 50 ms from /proc/self/statm; the process's own peak, `ru_maxrss`, is
printed for the whole run). `--profile DIR` runs each job under cProfile, writes DIR/<job>.prof and
prints its 25 heaviest functions by cumulative time (profiling slows the run: its times are not the
benchmark's). Each job's status is shown: `--force` is passed, so a gate rejection still writes results.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro import add_demo_args, describe_database, parse

from services import db, jobs
from services.cli import main as cli

PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRss:
    """The highest resident set seen since `reset()`, sampled by a daemon thread."""

    def __init__(self, every: float = 0.05) -> None:
        self.peak = rss_bytes()
        self._every = every
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self._every)

    def reset(self) -> None:
        self.peak = rss_bytes()


def instrument(rows: list[dict], sampler: PeakRss, profile_dir: Path | None) -> None:
    """Wrap every job's `run` to record wall, CPU and peak RSS (and a cProfile when asked)."""
    for job in jobs.JOBS:
        module = job.module
        original = module.run

        def timed(engine, version, inputs, _run=original, _name=module.MODEL):
            sampler.reset()
            t0, c0 = time.perf_counter(), cpu_seconds()
            prof = cProfile.Profile() if profile_dir else None
            try:
                if prof:
                    prof.enable()
                return _run(engine, version, inputs)
            finally:
                if prof:
                    prof.disable()
                rows.append({"job": _name, "wall": time.perf_counter() - t0, "cpu": cpu_seconds() - c0,
                             "peak": max(sampler.peak, rss_bytes())})
                if prof:
                    profile_dir.mkdir(parents=True, exist_ok=True)
                    prof.dump_stats(profile_dir / f"{_name}.prof")
                    out = io.StringIO()
                    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
                    print(f"--- profile of {_name} ---\n{out.getvalue()}", flush=True)

        module.run = timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=20000)
    ap.add_argument("--months", type=int, default=36)
    add_demo_args(ap)
    ap.add_argument("--database-url", default=None, help="default: sqlite:////tmp/bench_train/<accounts>.db")
    ap.add_argument("--no-seed", action="store_true", help="reuse the database at --database-url as it is")
    ap.add_argument("--profile", default=None, help="folder for one cProfile per job (slows the run)")
    args = parse(ap)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    url = args.database_url or f"sqlite:////tmp/bench_train/{args.accounts}.db"
    if not args.no_seed:
        if url.startswith("sqlite:////"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
        t0, c0 = time.perf_counter(), cpu_seconds()
        cli(["--database-url", url, "seed", "--accounts", str(args.accounts), "--months", str(args.months),
             "--seed", str(args.seed), "--as-of", args.as_of.isoformat()])
        print(f"seed: {time.perf_counter() - t0:.1f} s wall, {cpu_seconds() - c0:.1f} s CPU", flush=True)
    engine = db.get_engine(url)
    print(describe_database(engine), flush=True)
    rows: list[dict] = []
    sampler = PeakRss()
    instrument(rows, sampler, Path(args.profile) if args.profile else None)
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = jobs.train_all(engine, force=True)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    load1 = os.getloadavg()
    status = {m: r.get("status", "?") for m, r in result.items()}
    print("\n| job | status | wall s | CPU s | peak RSS GB |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['job']} | {status.get(r['job'], '?')} | {r['wall']:.1f} | {r['cpu']:.1f} "
              f"| {r['peak'] / 1e9:.2f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"| **train total** | | {wall:.1f} | {cpu:.1f} | {peak / 1e9:.2f} (process peak) |")
    print(f"\nload average (1, 5, 15 min) at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
