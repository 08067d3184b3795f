"""Forecast backtest on several demo seeds, one table: model vs best baseline vs oracle, and coverage.

    .venv/bin/python bench/bench_forecast_seeds.py [--accounts 2000] [--months 36] [--seeds 0 1 2 3 4]
                                                   [--workdir /tmp/fc_seeds]

Each seed: `services.cli seed`, `train --model forecast`, `scorecard --json` in a subprocess (nice 10).
Rows: per seed, the current quarter at week 0 and the next quarter (from week 0), company and region:
the model's WAPE and bias, the best baseline on the same rows (its name and WAPE), the ratio
model / best baseline (bar <= 0.85), the oracle's WAPE and model / oracle (bar <= 1.2, week 0);
then the mean over seeds, and P10-P90 coverage per level pooled over seeds (bar 0.75-0.88).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CELLS = [("current_quarter", "company"), ("current_quarter", "region"), ("next_quarter", "company"),
         ("next_quarter", "region")]


def run_seed(seed: int, accounts: int, months: int, workdir: Path) -> dict:
    url = f"sqlite:///{workdir / f'seed{seed}.db'}"
    (workdir / f"seed{seed}.db").unlink(missing_ok=True)
    cli = ["nice", "-n", "10", sys.executable, "-m", "services.cli", "--database-url", url]
    subprocess.run([*cli, "seed", "--accounts", str(accounts), "--months", str(months), "--seed", str(seed)],
                   check=True, capture_output=True)
    t0 = time.perf_counter()
    subprocess.run([*cli, "train", "--model", "forecast"], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    card = json.loads(subprocess.run([*cli, "scorecard", "--json"], check=True, capture_output=True).stdout)
    return {"forecast": card["forecast"], "train_wall_s": wall}


def cell(f: dict, horizon: str, level: str) -> dict:
    c = f["accuracy"][horizon]["week_00"][level]
    best = c.get("best_baseline") or {}
    return {"model": c["model"]["wape"], "bias": c["model"]["bias"], "best": best.get("method"),
            "best_wape": c[best["method"]]["wape"] if best else None, "ratio": best.get("ratio"),
            "oracle": c.get("oracle", {}).get("wape"), "vs_oracle": c.get("oracle", {}).get("ratio")}


def pooled_coverage(results: list[dict]) -> dict:
    tot: dict = {}
    for r in results:
        for horizon in r["forecast"]["coverage_p10_p90"].values():
            for level, v in horizon.items():
                n_in, n = tot.get(level, (0.0, 0))
                tot[level] = (n_in + v["all"] * v["n"], n + v["n"])
    return {level: n_in / n for level, (n_in, n) in tot.items() if n}


def fmt(x, spec=".3f") -> str:
    return "-" if x is None else format(x, spec)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/fc_seeds"))
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    results = [run_seed(s, a.accounts, a.months, a.workdir) for s in a.seeds]
    print(f"forecast backtest, {a.accounts} accounts x {a.months} months, seeds {a.seeds}, week-0 origins")
    print("| seed | horizon | level | model WAPE | model bias | best baseline | its WAPE | model/best | "
          "oracle WAPE | model/oracle |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    sums: dict = {}
    for s, r in zip(a.seeds, results):
        for horizon, level in CELLS:
            c = cell(r["forecast"], horizon, level)
            sums.setdefault((horizon, level), []).append(c)
            print(f"| {s} | {horizon} | {level} | {fmt(c['model'])} | {fmt(c['bias'], '+.3f')} | {c['best']} | "
                  f"{fmt(c['best_wape'])} | {fmt(c['ratio'], '.2f')} | {fmt(c['oracle'])} | "
                  f"{fmt(c['vs_oracle'], '.2f')} |")
    for (horizon, level), cs in sums.items():
        mean = {k: sum(c[k] for c in cs) / len(cs) for k in ("model", "bias", "ratio", "oracle", "vs_oracle")
                if all(c[k] is not None for c in cs)}
        worst = max(c["ratio"] for c in cs if c["ratio"] is not None)
        print(f"| mean | {horizon} | {level} | {fmt(mean.get('model'))} | {fmt(mean.get('bias'), '+.3f')} | "
              f"(worst ratio {worst:.2f}) | | {fmt(mean.get('ratio'), '.2f')} | {fmt(mean.get('oracle'))} | "
              f"{fmt(mean.get('vs_oracle'), '.2f')} |")
    cov = pooled_coverage(results)
    print("P10-P90 coverage pooled over seeds and horizons:", {k: round(v, 3) for k, v in cov.items()})
    print("train wall per seed (s):", [round(r["train_wall_s"], 1) for r in results])


if __name__ == "__main__":
    main()
