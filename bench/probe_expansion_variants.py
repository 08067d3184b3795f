"""Probe: the expansion job's out-of-time backtest with one variant of the model or its features, per seed.

    python bench/probe_expansion_variants.py --variant num_leaves=3 --seeds 3 1 2 4 5 --db-dir /tmp/h19

Reads the demos `bench/bench_expansion.py` seeded (2,000 accounts, 36 months, as-of 2026-10-31; run it
first with `--db-dir`), runs `services.expansion.job.fit_and_backtest` with the variant patched in and
prints, per seed, the figures of the bench's table: AUC and the planted oracle's on the same rows, ECE, the
top-decile lift pooled and by product (model / oracle) and each planted driver's rank among the explanation
groups. Nothing is written. Variants (comma-separated, combinable):
  PARAM=VALUE          an `ExpansionClassifier` setting (num_leaves, min_child_samples, learning_rate, ...)
  peer_cross_sell      + won cross-sells of the product per non-owning customer of the industry, 12 months
  jobs_owned           + the mean job completion over the products the account owns (the plant's input)
  monotone             monotone constraints: capacity use, jobs, breadth, products owned, peers up; severe down
  cal_gap              fit dates end 180 days before the first calibration date (no overlapping labels)
  per_motion           one model for expansions, one for cross-sells (no explanations: drivers not ranked)
  planted_affinity     + the planted industry x product affinity itself (a diagnostic, not a feature to keep)
  mask:FEATURE         FEATURE missing on the rows of owned products (a cross-sell signal only)
  bagging              each tree on a 70% sample of the rows
  history=N            N months of month-ends back from the as-of (the job's HISTORY_MONTHS, 30)
The added features explain in the group they belong to (similar accounts, adoption breadth).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score

from models import expansion as mx
from models import explain
from services import db
from services.churn import features as cf
from services.expansion import features as xf
from services.expansion import job as xj
from services.expansion.scorecard import lifts, oracle_probability, recovered

MONOTONE_UP = ("product_use_now", "product_use_3m", "product_jobs_3m", "jobs_3m", "max_product_use",
               "products_owned", "peer_owner_share", "peer_win_rate_12m", "product_use_trend_3m",
               "product_breadth_3m", "breadth_3m")
MONOTONE_DOWN = ("severe_6m",)


def peer_cross_sell(inputs: xf.Inputs, rows: pd.DataFrame, prior: float = 20.0) -> np.ndarray:
    ind = inputs.accounts.set_index("account_id")["industry"]
    first_start = inputs.churn.subs.groupby("account_id")["start_date"].min()
    won = inputs.opps[inputs.opps.is_won.astype(bool) & (inputs.opps.type == "new")]
    won = won.assign(industry=won.account_id.map(ind), first_start=won.account_id.map(first_start))
    won = won[won.first_start < won.created_date]  # a customer buying another product
    out = np.zeros(len(rows))
    for d in rows["as_of"].unique():
        sel = (rows["as_of"] == d).to_numpy()
        r = rows.loc[sel, ["product_id", "industry", "owned"]].astype({"product_id": object, "industry": object})
        non = r[r.owned == 0]
        w = won[(won.close_date <= d) & (won.close_date > d - pd.Timedelta(days=365))]
        key = pd.MultiIndex.from_frame(r[["product_id", "industry"]])
        c = w.groupby(["product_id", "industry"]).size().reindex(key).fillna(0).to_numpy(float)
        n = non.groupby(["product_id", "industry"]).size().reindex(key).fillna(0).to_numpy(float)
        base = (w.groupby("product_id").size() / non.groupby("product_id").size()).reindex(r["product_id"])
        out[sel] = (c + prior * base.fillna(0).to_numpy(float)) / (n + prior)
    return out


ADDED_GROUPS = {"peer_cross_sell_rate_12m": "Similar accounts", "jobs_owned_3m": "Adoption breadth",
                "planted_affinity": "Similar accounts"}


def install(variant: set[str]) -> None:
    build = xf.build
    xj.GROUP_OVERRIDES = {**xj.GROUP_OVERRIDES, **ADDED_GROUPS}

    def patched_build(inputs, dates, labels=False, accounts=None):
        out = build(inputs, dates, labels, accounts)
        if "peer_cross_sell" in variant:
            out["peer_cross_sell_rate_12m"] = peer_cross_sell(inputs, out)
        if "jobs_owned" in variant:
            j = pd.Series(np.where(out["owned"] > 0, out["product_jobs_3m"], np.nan))
            out["jobs_owned_3m"] = j.groupby([out["account_id"], out["as_of"]]).transform("mean").to_numpy()
        if "planted_affinity" in variant:
            from services.simulator import expansion as planted
            from services.simulator.accounts import INDUSTRIES
            from services.simulator.catalog import PRODUCTS
            a = planted.affinity(len(INDUSTRIES), len(PRODUCTS))
            i = pd.Index(list(INDUSTRIES)).get_indexer(out["industry"].astype(object))
            k = pd.Index([p["product_id"] for p in PRODUCTS]).get_indexer(out["product_id"].astype(object))
            out["planted_affinity"] = a[i, k]
        for c in [v.removeprefix("mask:") for v in variant if v.startswith("mask:")]:
            out[c] = np.where(out["owned"] > 0, np.nan, out[c])
        return out
    xf.build = patched_build
    for v in variant:
        if v.startswith("history="):
            xj.HISTORY_MONTHS = int(v.removeprefix("history="))
    if "bagging" in variant:
        bag_lgb = mx.ExpansionClassifier._lgb
        mx.ExpansionClassifier._lgb = lambda self, n: bag_lgb(self, n).set_params(subsample=0.7, subsample_freq=1)
    params = {k: v for k, _, v in (x.partition("=") for x in variant if "=" in x and not x.startswith("history="))}
    if params:
        defaults = mx.ExpansionClassifier().get_params()
        params = {k: type(defaults[k])(v) for k, v in params.items()}
        init = mx.ExpansionClassifier.__init__
        mx.ExpansionClassifier.__init__ = lambda self, **kw: init(self, **{**params, **kw})
    if "monotone" in variant:
        fit, lgb_ = mx.ExpansionClassifier.fit, mx.ExpansionClassifier._lgb

        def mono_fit(self, X, y, X_cal, y_cal):
            self.monotone_ = [1 if c in MONOTONE_UP else -1 if c in MONOTONE_DOWN else 0 for c in X.columns]
            return fit(self, X, y, X_cal, y_cal)
        mx.ExpansionClassifier.fit = mono_fit
        mx.ExpansionClassifier._lgb = lambda self, n: lgb_(self, n).set_params(
            monotone_constraints=self.monotone_, monotone_constraints_method="advanced")
    if "cal_gap" in variant:
        split = xj.split_dates

        def gap_split(as_of, first):
            parts = split(as_of, first)
            parts["fit"] = [d for d in parts["fit"] if d <= parts["cal"][0] - pd.Timedelta(days=xf.HORIZON_DAYS)]
            return parts
        xj.split_dates = gap_split
    if "per_motion" in variant:
        explain.sample_summary = lambda *a, **k: {"top_groups": [], "top_features": []}
        base = mx.ExpansionClassifier

        class PerMotion(base):
            def fit(self, X, y, X_cal, y_cal):
                self.feature_names_, y, y_cal = list(X.columns), np.asarray(y), np.asarray(y_cal)
                self.parts_ = {o: base(**self.get_params()).fit(X[(X.owned > 0) == o], y[(X.owned > 0).to_numpy() == o],
                                                                X_cal[(X_cal.owned > 0) == o],
                                                                y_cal[(X_cal.owned > 0).to_numpy() == o])
                               for o in (False, True)}
                self.n_trees_ = sum(p.n_trees_ for p in self.parts_.values())
                self.calibration_, self.classes_ = (1.0, 0.0), np.array([0, 1])
                return self

            def predict_proba(self, X):
                p = np.zeros(len(X))
                for o, part in self.parts_.items():
                    m = ((X.owned > 0) == o).to_numpy()
                    if m.any():
                        p[m] = part.predict_proba(X[m])[:, 1]
                return np.column_stack([1 - p, p])
        xj.ExpansionClassifier = PerMotion


def run(url: str, as_of: str) -> dict:
    engine = db.get_engine(url)
    inputs = xf.load_inputs(engine, cf.load_inputs(engine))
    keep: dict = {}
    _, m, bt, _ = xj.fit_and_backtest(inputs, pd.Timestamp(as_of), keep)
    truth = db.truth_params(engine)
    with engine.connect() as conn:
        te = pd.read_sql(sa.text("SELECT account_id, product_id, month, p_180d FROM truth_expansion"), conn)
    po = oracle_probability(bt, te)
    drivers = sorted(set(truth.get("expansion_drivers", {})) | set(truth.get("cross_sell_drivers", {})))
    # where the two top deciles differ: each product x motion's lift (model / oracle) and share of the pooled decile
    pk = (bt.product_id.astype(str) + " " + bt.kind).to_numpy()
    k = int(np.ceil(0.1 * len(bt)))
    top_m, top_o = (np.argsort(-np.asarray(p, float), kind="stable")[:k] for p in (bt.probability, po))
    cells = {c: (mx.lift_top_decile_within(bt.label[pk == c], bt.probability[pk == c], pk[pk == c])[0],
                 mx.lift_top_decile_within(bt.label[pk == c], po[pk == c], pk[pk == c])[0],
                 int((pk[top_m] == c).sum()), int((pk[top_o] == c).sum())) for c in sorted(set(pk))}
    won_top = {str(g): int(d.label.to_numpy()[np.argsort(-d.probability.to_numpy(), kind="stable")[
        :int(np.ceil(0.1 * len(d)))]].sum()) for g, d in bt.groupby("product_id")}
    return {**m, "auc_oracle": float(roc_auc_score(bt.label, po)), **lifts(bt, po), **recovered(m, drivers),
            "cells": cells, "overlap": len(set(top_m) & set(top_o)) / k, "won_top_by_product": won_top,
            "won_fit": int(keep["fit"].label.sum())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="", help="comma-separated; empty: the job as it is")
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 1, 2, 4, 5])
    ap.add_argument("--db-dir", default="/tmp")
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--as-of", default="2026-10-31")
    args = ap.parse_args()
    variant = {v for v in args.variant.split(",") if v}
    install(variant)
    print(f"variant: {sorted(variant) or 'none'}")
    out = []
    for s in args.seeds:
        url = (f"sqlite:///{Path(args.db_dir).resolve()}/bench_expansion_{args.accounts}_{args.months}_"
               f"{args.as_of}_{s}.db")
        c = run(url, args.as_of)
        out.append(c)
        print(f"seed {s}: auc {c['auc']:.4f} oracle {c['auc_oracle']:.4f} gap {c['auc_oracle'] - c['auc']:+.4f} "
              f"ece {c['ece']:.4f} lift by product {c['lift_top_decile_by_product']:.2f} / "
              f"{c['lift_top_decile_by_product_oracle']:.2f} pooled {c['lift_top_decile']:.2f} / "
              f"{c['lift_top_decile_oracle']:.2f} drivers {c['planted_drivers_recovered']:.2f} "
              f"{c.get('planted_driver_ranks', {})} trees {c['n_trees']}", flush=True)
        print(f"  {c['n_train']} fit rows, {c['won_fit']} won; {c['n_test']} test rows; top deciles share {c['overlap']:.1%} of their rows; won in each product's top decile "
              f"{c['won_top_by_product']}; product x motion: lift model / oracle, rows in the pooled top decile "
              "model / oracle: " + "; ".join(f"{g} {a:.2f} / {b:.2f}, {n} / {o}" for g, (a, b, n, o) in c["cells"].items()))
    mean = {k: float(np.mean([c[k] for c in out])) for k in ("auc", "auc_oracle", "ece", "lift_top_decile_by_product",
                                                              "lift_top_decile")}
    print(f"mean: auc {mean['auc']:.4f} gap {mean['auc_oracle'] - mean['auc']:+.4f} ece {mean['ece']:.4f} "
          f"lift by product {mean['lift_top_decile_by_product']:.2f} pooled {mean['lift_top_decile']:.2f}; "
          f"worst gap {max(c['auc_oracle'] - c['auc'] for c in out):+.4f}, worst ece {max(c['ece'] for c in out):.4f}, "
          f"all drivers in the top ten {sum(c['planted_drivers_recovered'] == 1.0 for c in out)}/{len(out)}")


if __name__ == "__main__":
    main()
