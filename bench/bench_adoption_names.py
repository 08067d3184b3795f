"""Benchmark: adoption clusters and their names on five demo seeds and on other generated companies.

For each company: ARI of the latest month's clusters against the planted archetypes, strict name precision
(per cluster: the share of its accounts whose planted archetype carries the name it claims) and recall (per
archetype: the share of its accounts under clusters claiming its name), against the bars (ARI >= 0.8,
every precision >= 0.8, every recall >= 0.7). The other companies are the test fixtures
(tests/fixtures/companies.py and other_company.py), which share nothing with the demo but the contract.

    .venv/bin/python bench/bench_adoption_names.py [--accounts 3000] [--months 24] [--seeds 0,1,2,3,4]
        [--as-of 2026-11-30] [--only demo|others] [--scaling robust|standard]

`--scaling standard` runs the clustering with plain standard scaling (the model before robust scaling), for
comparison on the same data. `--ceiling` also prints what the signals allow at best: per archetype, the
precision and recall of a supervised classifier (gradient boosting, 5-fold cross-validated predictions)
trained on the latest month's clustered signals with the planted archetypes as labels. No clustering can
be expected to name an archetype better than a classifier that is shown the answers.
`--ceiling-history` asks the same of a richer input: each clustered signal in every one of the 13 months
(the latest and the 12 before it, 65 columns), so any trend, peak or time since the peak that the data
carries is within the classifier's reach; it also prints the declining archetype's recall by the number of
months the account has been declining (from the planted history of those 13 months).
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

from models.adoption import SIGNALS
from services.adoption.job import fit_and_assign, score_history
from services.adoption.scorecard import truth_agreement
from services.adoption.signals import compute_signals, month_starts

BARS = {"ari_vs_planted": 0.8, "name_precision_min": 0.8, "name_recall_min": 0.7}


def measure(frames: dict[str, pd.DataFrame], truth: pd.DataFrame, as_of: pd.Timestamp,
            months: int = 13, ceiling: bool = False, ceiling_history: bool = False, **params) -> dict:
    mlist = month_starts(frames["usage_monthly"]["month"], as_of, months)
    signals, _ = compute_signals(frames["usage_monthly"], frames["metric_catalog"], frames["products"],
                                 frames["subscriptions"], mlist)
    model, assigned = fit_and_assign(score_history(signals), **params)
    if "month" not in truth:
        truth = truth.merge(pd.DataFrame({"month": sorted(assigned["month"].unique())}), how="cross")
    out = truth_agreement(assigned[["account_id", "month", "cluster_id", "cluster_name"]], truth)
    if ceiling:
        out["ceiling"] = supervised_ceiling(assigned, truth)
    if ceiling_history:
        out["ceiling_history"], out["declining_recall_by_months"] = history_ceiling(assigned, truth)
    return {"k": model.k_, "merged": model.merges_, **out, "descriptions": dict(zip(model.names_, model.descriptions_))}


def supervised_ceiling(assigned: pd.DataFrame, truth: pd.DataFrame) -> dict[str, str]:
    """Per archetype 'precision / recall' of a cross-validated classifier on the latest month's signals."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.model_selection import cross_val_predict

    latest = assigned[assigned["month"] == assigned["month"].max()].merge(truth, on=["account_id", "month"])
    clf = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, random_state=0)
    pred = cross_val_predict(clf, latest[SIGNALS], latest["archetype"], cv=5)
    labels = sorted(latest["archetype"].unique())
    p, r, *_ = precision_recall_fscore_support(latest["archetype"], pred, labels=labels, zero_division=0)
    return {a: f"{pi:.2f} / {ri:.2f}" for a, pi, ri in zip(labels, p, r)}


def history_ceiling(assigned: pd.DataFrame, truth: pd.DataFrame) -> tuple[dict[str, str], dict[int, str]]:
    """As `supervised_ceiling`, on every clustered signal in each of the months available (the latest and
    up to 12 before it) as separate columns; and the declining archetype's recall ('found / accounts') by
    months declining at the latest month (the run of consecutive planted 'declining' months ending there)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.model_selection import cross_val_predict

    months = sorted(assigned["month"].unique())[-13:]
    latest_month = months[-1]
    wide = assigned[assigned["month"].isin(months)].pivot(index="account_id", columns="month", values=SIGNALS)
    wide.columns = [f"{s}_{months.index(m) - len(months) + 1}" for s, m in wide.columns]
    latest = truth[truth["month"] == latest_month].merge(wide.reset_index(), on="account_id")
    cols = list(wide.columns)
    clf = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, random_state=0)
    pred = cross_val_predict(clf, latest[cols], latest["archetype"], cv=5)
    labels = sorted(latest["archetype"].unique())
    p, r, *_ = precision_recall_fscore_support(latest["archetype"], pred, labels=labels, zero_division=0)
    by_months: dict[int, str] = {}
    if "declining" in labels:
        hist = truth[truth["month"].isin(months)].pivot(index="account_id", columns="month", values="archetype")
        run = (hist[sorted(hist.columns, reverse=True)] == "declining").cumprod(axis=1).sum(axis=1)
        dec = latest.assign(found=pred == "declining", run=latest["account_id"].map(run))
        dec = dec[dec["archetype"] == "declining"]
        by_months = {int(k): f"{int(g['found'].sum())} / {len(g)}" for k, g in dec.groupby("run")}
    return {a: f"{pi:.2f} / {ri:.2f}" for a, pi, ri in zip(labels, p, r)}, by_months


def report(label: str, r: dict) -> bool:
    ok = all(r[k] >= bar for k, bar in BARS.items())
    merged = f" (merged: {', '.join(r['merged'])})" if r["merged"] else ""
    print(f"{label}: k={r['k']}{merged} ARI {r['ari_vs_planted']:.3f}  precision min {r['name_precision_min']:.3f}  "
          f"recall min {r['name_recall_min']:.3f}  {'meets' if ok else 'MISSES'} the bars")
    print("   precision:", r["name_precision"])
    print("   recall:   ", r["name_recall"])
    if "ceiling" in r:
        print("   supervised ceiling (precision / recall):", r["ceiling"])
    if "ceiling_history" in r:
        print("   supervised ceiling, 13 months of every signal (precision / recall):", r["ceiling_history"])
        print("   declining found by it, by months declining (found / accounts):", r["declining_recall_by_months"])
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=3000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--as-of", default="2026-11-30")
    ap.add_argument("--only", choices=["demo", "others"])
    ap.add_argument("--scaling", choices=["robust", "standard"], default="robust")
    ap.add_argument("--ceiling", action="store_true", help="also the supervised ceiling per archetype")
    ap.add_argument("--ceiling-history", action="store_true",
                    help="also the supervised ceiling on 13 months of every signal, and declining recall by months")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"Reproduce: python bench/bench_adoption_names.py --accounts {a.accounts} --months {a.months} "
          f"--seeds {a.seeds} --as-of {a.as_of}" + (f" --only {a.only}" if a.only else "")
          + (f" --scaling {a.scaling}" if a.scaling != "robust" else "") + (" --ceiling" if a.ceiling else "")
          + (" --ceiling-history" if a.ceiling_history else ""))
    p = {"scaling": a.scaling, "ceiling": a.ceiling, "ceiling_history": a.ceiling_history}
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
