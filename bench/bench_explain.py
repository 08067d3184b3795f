"""Benchmark of the explanation layer: contributions for N accounts (fast exact path vs plain pred_contrib),
and the workbench's per-account work (open an account, one what-if edit).

Uses the active churn model and its feature rows in the database given by --db (trained first; its seed command is
printed); without --db it seeds a demo company (--accounts, --seed, --as-of) into a new SQLite file and trains churn
and explain there.
When the database has fewer accounts than --rows, its rows are resampled to --rows (same model) with a 5%
jitter on continuous features, so rows stay distinct. Plain pred_contrib is timed on --plain-rows and scaled linearly.

    .venv/bin/python bench/bench_explain.py --rows 100000
Bars: 100,000 accounts under 30 s; open and what-if each under 1 s.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro import add_demo_args, describe_database, parse

from models import explain
from models.treeshap_fast import tree_shap_fast
from services import db, jobs, registry
from services.cli import main as cli
from services.explain import read as svc
from services.explain import tables as explain_tables
from ui.charts import explain as charts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="a trained database URL (default: seed and train a new one)")
    ap.add_argument("--demo-accounts", type=int, default=2000, help="size of the demo seeded without --db")
    add_demo_args(ap)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--plain-rows", type=int, default=5_000)
    ap.add_argument("--accounts", type=int, default=20, help="accounts timed for open and what-if")
    a = parse(ap)
    url = a.db or f"sqlite:///{tempfile.mkdtemp()}/bench_explain.db"
    if a.db is None:
        cli(["--database-url", url, "seed", "--accounts", str(a.demo_accounts), "--months", "36",
             "--seed", str(a.seed), "--as-of", a.as_of.isoformat()])
        jobs.train_all(db.get_engine(url), only=["churn", "explain"], force=True)
    engine = db.get_engine(url)
    print(describe_database(engine))
    art = registry.load_artifact(engine, "churn")
    model, tiers = art["model"], dict(art["tiers"])
    rows = registry.read_results(engine, explain_tables.CHURN_ROWS)
    if rows.empty:
        raise SystemExit("no explain rows: run `python -m services.cli train` first")
    print(f"churn model: logistic part + {model.n_trees_ if model.booster_ is not None else 0} trees, "
          f"{len(model.feature_names_)} features; {len(rows)} accounts in the database")
    big = rows.sample(a.rows, replace=len(rows) < a.rows, random_state=0) if a.rows != len(rows) else rows
    if len(rows) < a.rows:  # resampled: jitter continuous features so rows stay distinct (no free dedup)
        rng = np.random.default_rng(0)
        big = big.copy()
        for c in model.feature_names_:
            if pd.api.types.is_float_dtype(big[c]) and big[c].nunique() > 20:
                big[c] = big[c] + rng.normal(0, 0.05 * big[c].std(), len(big))
        print(f"resampled {len(rows)} accounts to {a.rows:,} rows with 5% jitter on continuous features")
    t0 = time.perf_counter()
    whole = explain.model_contributions(model, big[model.feature_names_])
    t_whole = time.perf_counter() - t0
    err = explain.additivity_error(whole, model.decision_function(big[model.feature_names_]))
    print(f"contributions of the whole model (trees + logistic logit) for {len(big):,} accounts: {t_whole:.1f} s "
          f"({len(big) / t_whole:,.0f} rows/s); additivity max abs err {err:.2e}; "
          f"bar 30 s: {'met' if t_whole < 30 else 'NOT met'}")
    if model.booster_ is None:
        print("no trees were kept (they did not beat the logistic part on held-out accounts): no TreeSHAP to time")
    else:
        booster = model.booster_.booster_
        X = model.transform_frame(big[model.feature_names_])
        t0 = time.perf_counter()
        fast = tree_shap_fast(booster, X)
        t_fast = time.perf_counter() - t0
        n_plain = min(a.plain_rows, len(X))
        t0 = time.perf_counter()
        plain = np.asarray(booster.predict(X.iloc[:n_plain], pred_contrib=True))
        t_plain = (time.perf_counter() - t0) * len(X) / n_plain
        raw = booster.predict(X, raw_score=True)
        print(f"contributions for {len(X):,} accounts: fast exact path {t_fast:.1f} s "
              f"({len(X) / t_fast:,.0f} rows/s); plain pred_contrib {t_plain:.1f} s (scaled from {n_plain:,} rows); "
              f"speed-up x{t_plain / t_fast:.1f}; bar 30 s: {'met' if t_fast < 30 else 'NOT met'}")
        print(f"max |fast - pred_contrib| {np.abs(fast[:n_plain] - plain).max():.2e}; "
              f"additivity max abs err (log-odds) {np.abs(fast.sum(axis=1) - raw).max():.2e}")
    ids = rows.account_id.sample(min(a.accounts, len(rows)), random_state=1).tolist()
    t_open, t_edit = [], []
    for acc in ids:
        t0 = time.perf_counter()
        expl = svc.stored(engine, "churn", acc)
        values = svc.churn_row(engine, acc).values
        charts.waterfall(expl, title="open")
        t_open.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        f = svc.actionable(model.feature_names_)[0]
        row = svc.apply_edits(values, {f: 0.9})
        p = svc.churn_predict(model, [row])[0][0]
        charts.waterfall(svc.churn_explain(model, row, acc), title="what-if")
        svc.tier_of(float(p), tiers)
        t_edit.append(time.perf_counter() - t0)
    for name, ts in (("open an account", t_open), ("what-if edit", t_edit)):
        print(f"{name}: median {statistics.median(ts) * 1000:.0f} ms, max {max(ts) * 1000:.0f} ms over "
              f"{len(ts)} accounts; bar 1 s: {'met' if max(ts) < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
