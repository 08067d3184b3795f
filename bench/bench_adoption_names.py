"""Benchmark: adoption clusters and their names on five demo seeds and on other generated companies.

For each company: ARI of the latest month's clusters against the planted archetypes, strict name precision
(per cluster: the share of its accounts whose planted archetype carries the name it claims) and recall (per
archetype: the share of its accounts under clusters claiming its name), against the bars (ARI >= 0.8,
every precision >= 0.8, every recall >= 0.7). The other companies are the test fixtures
(tests/fixtures/companies.py and other_company.py), which share nothing with the demo but the contract.

    .venv/bin/python bench/bench_adoption_names.py [--accounts 3000] [--months 24] [--seeds 0,1,2,3,4]
        [--as-of 2026-11-30] [--only demo|others] [--scaling robust|standard]

`--scaling standard` runs the clustering with plain standard scaling (the model before robust scaling), for
comparison on the same data.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import pandas as pd
from fixtures import companies, other_company

from services.adoption.job import fit_and_assign, score_history
from services.adoption.scorecard import truth_agreement
from services.adoption.signals import compute_signals, month_starts

BARS = {"ari_vs_planted": 0.8, "name_precision_min": 0.8, "name_recall_min": 0.7}


def measure(frames: dict[str, pd.DataFrame], truth: pd.DataFrame, as_of: pd.Timestamp,
            months: int = 13, **params) -> dict:
    mlist = month_starts(frames["usage_monthly"]["month"], as_of, months)
    signals, _ = compute_signals(frames["usage_monthly"], frames["metric_catalog"], frames["products"],
                                 frames["subscriptions"], mlist)
    model, assigned = fit_and_assign(score_history(signals), **params)
    if "month" not in truth:
        truth = truth.merge(pd.DataFrame({"month": sorted(assigned["month"].unique())}), how="cross")
    out = truth_agreement(assigned[["account_id", "month", "cluster_id", "cluster_name"]], truth)
    return {"k": model.k_, "merged": model.merges_, **out, "descriptions": dict(zip(model.names_, model.descriptions_))}


def report(label: str, r: dict) -> bool:
    ok = all(r[k] >= bar for k, bar in BARS.items())
    merged = f" (merged: {', '.join(r['merged'])})" if r["merged"] else ""
    print(f"{label}: k={r['k']}{merged} ARI {r['ari_vs_planted']:.3f}  precision min {r['name_precision_min']:.3f}  "
          f"recall min {r['name_recall_min']:.3f}  {'meets' if ok else 'MISSES'} the bars")
    print("   precision:", r["name_precision"])
    print("   recall:   ", r["name_recall"])
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=3000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--as-of", default="2026-11-30")
    ap.add_argument("--only", choices=["demo", "others"])
    ap.add_argument("--scaling", choices=["robust", "standard"], default="robust")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"Reproduce: python bench/bench_adoption_names.py --accounts {a.accounts} --months {a.months} "
          f"--seeds {a.seeds} --as-of {a.as_of}" + (f" --only {a.only}" if a.only else "")
          + (f" --scaling {a.scaling}" if a.scaling != "robust" else ""))
    p = {"scaling": a.scaling}
    met = []
    if a.only != "others":
        from services.simulator import generate
        for seed in map(int, a.seeds.split(",")):
            f = generate(accounts=a.accounts, months=a.months, seed=seed, as_of=a.as_of)
            met.append(report(f"demo seed {seed}", measure(f, f["truth_adoption"], pd.Timestamp(a.as_of), **p)))
    if a.only != "demo":
        for spec in companies.COMPANIES:
            f = companies.generate(spec)
            met.append(report(spec.name, measure(f, f["truth"], pd.Timestamp(spec.as_of), **p)))
        f = other_company.generate()
        met.append(report("other_company (tests/fixtures)", measure(f, f["truth"], pd.Timestamp("2025-10-31"), 4, **p)))
    print(f"{sum(met)} of {len(met)} companies meet every bar")


if __name__ == "__main__":
    main()
