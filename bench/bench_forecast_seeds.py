"""Forecast backtest on several demo seeds, one table: model vs best baseline vs oracle, and coverage.

    .venv/bin/python bench/bench_forecast_seeds.py [--accounts 2000 [N ...]] [--months 36] [--seeds 0 1 2 3 4]
                                                   [--as-of YYYY-MM-DD] [--workdir /tmp/fc_seeds]
                                                   [--reuse | --retrain]

`--accounts` takes one size for every seed or one per seed (demos of several sizes).

Each seed: `services.cli seed`, `train --model forecast`, `scorecard --json` in a subprocess (nice 10);
`--retrain` keeps the workdir's seeded databases and only trains (forced past the gate) and scores,
`--reuse` only scores. Rows: per seed, the current quarter at week 0 and the next quarter (from week
0), company and region: the model's WAPE and bias, the best baseline on the same rows (its name and
WAPE), the ratio model / best baseline (bar <= 0.85), the oracle's WAPE, oracle / best baseline on the
oracle's rows (the bar can only be met where the oracle itself is well under it) and model / oracle
(bar <= 1.2, week 0); then the mean over seeds, every baseline's WAPE per cell (model vs each), the
blend chosen for the live forecast and the win-probability AUC, and P10-P90 coverage per level and
seed, pooled over seeds (bar 0.75-0.88).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BASELINES = ("pipeline_method", "last_quarter", "same_quarter_last_year")
CELLS = [("current_quarter", "company"), ("current_quarter", "region"), ("next_quarter", "company"),
         ("next_quarter", "region")]


def run_seed(seed: int, accounts: int, months: int, workdir: Path, as_of: str | None = None,
             reuse: bool = False, retrain: bool = False) -> dict:
    url = f"sqlite:///{workdir / f'seed{seed}.db'}"
    cli = ["nice", "-n", "10", sys.executable, "-m", "services.cli", "--database-url", url]
    if reuse:  # seeded and trained already (e.g. one seed per job): only the scorecard
        card = json.loads(subprocess.run([*cli, "scorecard", "--json"], check=True, capture_output=True).stdout)
        return {"forecast": card["forecast"], "train_wall_s": float("nan")}
    if not retrain:
        (workdir / f"seed{seed}.db").unlink(missing_ok=True)
        pin = ["--as-of", as_of] if as_of else []
        subprocess.run([*cli, "seed", "--accounts", str(accounts), "--months", str(months), "--seed", str(seed),
                        *pin], check=True, capture_output=True)
    t0 = time.perf_counter()
    force = ["--force"] if retrain else []  # a retrained version is scored even where the gate rejects it
    subprocess.run([*cli, "train", "--model", "forecast", *force], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    card = json.loads(subprocess.run([*cli, "scorecard", "--json"], check=True, capture_output=True).stdout)
    return {"forecast": card["forecast"], "train_wall_s": wall}


def cell(f: dict, horizon: str, level: str) -> dict:
    c = f["accuracy"][horizon]["week_00"][level]
    best = c.get("best_baseline") or {}
    return {"model": c["model"]["wape"], "bias": c["model"]["bias"], "best": best.get("method"),
            **{f"wape_{b}": c.get(b, {}).get("wape") for b in BASELINES},
            "best_wape": c[best["method"]]["wape"] if best else None, "ratio": best.get("ratio"),
            "oracle": c.get("oracle", {}).get("wape"), "vs_oracle": c.get("oracle", {}).get("ratio"),
            "oracle_vs_best": oracle_vs_best(c)}


def oracle_vs_best(c: dict) -> float | None:
    """The oracle's WAPE over the best baseline's, on the rows both have (`accuracy.cell`)."""
    return (c.get("oracle") or {}).get("vs_best_baseline")


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
    ap.add_argument("--accounts", type=int, nargs="+", default=[2000])
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--as-of", default=None, help="pin the demo's as-of date (default: the seed command's)")
    ap.add_argument("--reuse", action="store_true", help="score the workdir's seed<N>.db as they are")
    ap.add_argument("--retrain", action="store_true", help="train and score the workdir's seeded seed<N>.db")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/fc_seeds"))
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    sizes = a.accounts * len(a.seeds) if len(a.accounts) == 1 else a.accounts
    if len(sizes) != len(a.seeds):
        ap.error("--accounts takes one size or one per seed")
    results = [run_seed(s, n, a.months, a.workdir, a.as_of, a.reuse, a.retrain) for s, n in zip(a.seeds, sizes)]
    print(f"forecast backtest, seeds {a.seeds} x accounts {sizes} x {a.months} months, as of "
          f"{a.as_of or 'the seed default'}, week-0 origins")
    print("| seed | horizon | level | model WAPE | model bias | best baseline | its WAPE | model/best | "
          "oracle WAPE | oracle/best | model/oracle |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    sums: dict = {}
    for s, r in zip(a.seeds, results):
        for horizon, level in CELLS:
            c = cell(r["forecast"], horizon, level)
            sums.setdefault((horizon, level), []).append(c)
            print(f"| {s} | {horizon} | {level} | {fmt(c['model'])} | {fmt(c['bias'], '+.3f')} | {c['best']} | "
                  f"{fmt(c['best_wape'])} | {fmt(c['ratio'], '.2f')} | {fmt(c['oracle'])} | "
                  f"{fmt(c['oracle_vs_best'], '.2f')} | {fmt(c['vs_oracle'], '.2f')} |")
    for (horizon, level), cs in sums.items():
        mean = {k: sum(c[k] for c in cs) / len(cs) for k in ("model", "bias", "ratio", "oracle", "oracle_vs_best",
                                                             "vs_oracle") if all(c[k] is not None for c in cs)}
        worst = max(c["ratio"] for c in cs if c["ratio"] is not None)
        print(f"| mean | {horizon} | {level} | {fmt(mean.get('model'))} | {fmt(mean.get('bias'), '+.3f')} | "
              f"(worst ratio {worst:.2f}) | | {fmt(mean.get('ratio'), '.2f')} | {fmt(mean.get('oracle'))} | "
              f"{fmt(mean.get('oracle_vs_best'), '.2f')} | {fmt(mean.get('vs_oracle'), '.2f')} |")
    print("\nbar 0.85 x the best baseline reachable (the oracle itself at <= 0.85 x, mean over seeds):",
          {f"{h}/{lv}": None if len([c for c in cs if c["oracle_vs_best"] is not None]) < len(cs)
           else sum(c["oracle_vs_best"] for c in cs) / len(cs) <= 0.85 for (h, lv), cs in sums.items()})
    print("\nevery baseline at week 0 (WAPE): | seed | horizon | level | model | " + " | ".join(BASELINES) + " |")
    for s, r in zip(a.seeds, results):
        for horizon, level in CELLS:
            c = cell(r["forecast"], horizon, level)
            print(f"| {s} | {horizon} | {level} | {fmt(c['model'])} | "
                  + " | ".join(fmt(c[f"wape_{b}"]) for b in BASELINES) + " |")
    for s, r in zip(a.seeds, results):
        f = r["forecast"]
        live = {h: (c.get("stage_weight"), c.get("fresh_factor")) for h, c in (f.get("blend_live") or {}).items()}
        print(f"seed {s}: win-probability AUC {fmt(f.get('win_prob_auc'))} (model alone "
              f"{fmt(f.get('win_prob_auc_model'))}), ECE {fmt(f.get('win_prob_ece'))}; live blend (w, fresh) {live}")
    for s, r in zip(a.seeds, results):
        print(f"P10-P90 coverage seed {s}:", {k: round(v, 3) for k, v in pooled_coverage([r]).items()})
    cov = pooled_coverage(results)
    print("P10-P90 coverage pooled over seeds and horizons:", {k: round(v, 3) for k, v in cov.items()})
    print("train wall per seed (s):", [round(r["train_wall_s"], 1) for r in results])


if __name__ == "__main__":
    main()
