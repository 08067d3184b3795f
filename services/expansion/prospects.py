"""Prospects: a lead score for re-engaging lost prospects, with the project's machinery (the churn model's
logistic logit + LightGBM trees boosted from it, Platt calibration on later dates, exact SHAP reasons),
fitted and written by the expansion job.

A prospect at month-end t: an account with no subscription started by t, at least one lost deal closed by
t and no deal open at t (a company's imported prospect accounts are the same: accounts without
subscriptions). Label: an opportunity of a growth type (new business or expansion) created on it in
(t, t + 180 days]. Point-in-time features of its latest lost deal: amount, furthest open stage reached
(from the deal's stage history up to t, the company's own stage order), days since the loss, days the deal
was open, the number of lost deals, its product, the account's industry and segment. Out of time as the
expansion model (the same month-end layout); baselines on the same test rows: a plain logistic
regression and the most recent loss first (days since the loss). Scores at the data's as-of: probability,
expected ARR = probability x the lost deal's amount, three reasons in words.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sqlalchemy.engine import Engine

from models import explain
from models.churn import ChurnClassifier, as_baseline_input, logistic_baseline
from models.churn_metrics import classification_report
from services import feature_catalog, picklists, registry
from services.db import read_table
from services.expansion import features as xf
from services.expansion import tables as T

log = logging.getLogger(__name__)
FEATURES = ("lost_amount_log", "lost_stage", "days_since_loss", "lost_cycle_days", "lost_deals", "product_id",
            "industry", "segment")
CATEGORICAL = ("product_id", "industry", "segment")
MIN_POSITIVES = 20  # labelled re-engagements needed in the training dates to fit
MIN_REASON_LOG_ODDS = 0.05
MIN_LEAF_ROWS = 50  # prospects are far fewer rows than accounts x products (the expansion model's 200)
LEAVES = 4


def load(engine: Engine) -> dict[str, pd.DataFrame]:
    opps = read_table("opportunities", engine, columns=["opportunity_id", "account_id", "owner_id", "product_id",
                                                        "type", "amount_usd", "created_date", "close_date",
                                                        "is_closed", "is_won"])
    hist = read_table("opportunity_history", engine, columns=["opportunity_id", "snapshot_date", "stage"])
    subs = read_table("subscriptions", engine, columns=["account_id", "start_date"])
    accounts = read_table("accounts", engine, columns=["account_id", "name", "industry", "segment", "owner_id",
                                                       "csm_id"])
    rank = picklists.open_stage_rank(picklists.read_stages(engine))
    hist = hist.assign(rank=hist["stage"].astype(object).map(rank))
    return {"opps": opps, "hist": hist[hist["rank"].notna()], "subs": subs, "accounts": accounts}


def build(data: dict[str, pd.DataFrame], dates: list[pd.Timestamp], labels: bool = False) -> pd.DataFrame:
    """One row per prospect and month-end date (see the module docstring)."""
    opps, hist, accounts = data["opps"], data["hist"], data["accounts"]
    first_sub = data["subs"].groupby("account_id")["start_date"].min()
    growth = opps[opps["type"].isin(xf.GROWTH_TYPES)]
    out = []
    for t in dates:
        known = opps[opps["created_date"] <= t]
        open_now = known[~(known["is_closed"].astype(bool) & (known["close_date"] <= t))]
        lost = known[known["is_closed"].astype(bool) & ~known["is_won"].astype(bool) & (known["close_date"] <= t)]
        customers = set(first_sub.index[first_sub <= t])
        lost = lost[~lost["account_id"].isin(customers) & ~lost["account_id"].isin(set(open_now["account_id"]))]
        if lost.empty:
            continue
        latest = lost.sort_values(["account_id", "close_date", "opportunity_id"]).groupby("account_id").tail(1)
        h = hist[(hist["snapshot_date"] <= t) & hist["opportunity_id"].astype(object).isin(set(latest.opportunity_id))]
        reached = h.groupby(h["opportunity_id"].astype(object))["rank"].max()
        rows = pd.DataFrame({
            "account_id": latest["account_id"].to_numpy(), "as_of": t,
            "lost_opportunity_id": latest["opportunity_id"].to_numpy(),
            "lost_amount_usd": latest["amount_usd"].to_numpy(float),
            "lost_amount_log": np.log1p(latest["amount_usd"].to_numpy(float)),
            "lost_stage": reached.reindex(latest["opportunity_id"]).to_numpy(float) + 1,  # 1 = the first stage
            "days_since_loss": (t - latest["close_date"]).dt.days.to_numpy(float),
            "lost_cycle_days": (latest["close_date"] - latest["created_date"]).dt.days.to_numpy(float),
            "lost_deals": lost.groupby("account_id").size().reindex(latest["account_id"]).to_numpy(float),
            "product_id": latest["product_id"].to_numpy()})
        if labels:
            nxt = growth[(growth["created_date"] > t) & (growth["created_date"] <= t + pd.Timedelta(days=xf.HORIZON_DAYS))]
            rows["label"] = rows["account_id"].isin(set(nxt["account_id"])).astype(int)
        out.append(rows)
    if not out:
        return pd.DataFrame(columns=["account_id", "as_of", *FEATURES])
    frame = pd.concat(out, ignore_index=True)
    acc = accounts.set_index("account_id")
    for c in ("industry", "segment"):
        frame[c] = acc[c].reindex(frame["account_id"]).to_numpy()
    for c in CATEGORICAL:
        frame[c] = pd.Categorical(frame[c].astype(object))
    return frame


def classifier() -> ChurnClassifier:
    """The churn model's machinery: a logistic logit with LightGBM trees boosted from it (kept only when they
    beat it on the later slice), Platt-calibrated; contributions exact (TreeSHAP + the logistic split). A
    plain LightGBM (the expansion model's) scored 0.75-0.78 out of time where the logistic regression scored
    0.77-0.79 and was less well calibrated: the trees hold days since the loss flat beyond the training
    dates' range, which only reach back as far as the deal history does."""
    return ChurnClassifier(num_leaves=LEAVES, min_child_samples=MIN_LEAF_ROWS, n_jobs=1)


def fit_and_backtest(data: dict[str, pd.DataFrame], parts: dict[str, Any]) -> tuple[ChurnClassifier | None,
                                                                                   dict[str, Any], pd.DataFrame]:
    rows = build(data, parts["fit"] + parts["cal"] + parts["test"], labels=True)
    if rows.empty:
        return None, {"status": "skipped: no lost prospects (accounts without a subscription and a lost deal)"}, rows
    fit, cal, test = (rows[rows.as_of.isin(parts[k])] for k in ("fit", "cal", "test"))
    if fit.label.sum() < MIN_POSITIVES or cal.label.nunique() < 2 or test.label.nunique() < 2:
        return None, {"status": f"skipped: {int(fit.label.sum())} re-engagements in the training dates "
                                f"(at least {MIN_POSITIVES} needed)"}, rows
    cols = list(FEATURES)
    model = classifier().fit(fit[cols], fit.label, cal[cols], cal.label)
    p = model.predict_proba(test[cols])[:, 1]
    metrics: dict[str, Any] = {"status": "fitted", **classification_report(test.label, p)}
    plain = logistic_baseline(fit[cols]).fit(as_baseline_input(fit[cols]), fit.label)
    p_log = plain.predict_proba(as_baseline_input(test[cols]))[:, 1]
    base = classification_report(test.label, p_log)
    metrics.update(auc_baseline_logreg=base["auc"], ece_baseline_logreg=base["ece"],
                   auc_baseline_recency=float(roc_auc_score(test.label, -test.days_since_loss)),
                   n_train=len(fit), n_calibration=len(cal), n_test=len(test), rate_test=float(test.label.mean()),
                   n_trees=model.n_trees_, calibration=list(model.calibration_))
    metrics.update(explain.sample_summary(model, test[cols], feature_catalog.groups(cols), top=len(cols)))
    backtest = pd.DataFrame({"account_id": test.account_id.to_numpy(), "score_date": test.as_of.to_numpy(),
                             "label": test.label.to_numpy(), "probability": p, "probability_baseline": p_log})
    return model, metrics, backtest


def score(model: ChurnClassifier, data: dict[str, pd.DataFrame], as_of: pd.Timestamp
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, reasons) of the prospects at the data's as-of."""
    rows = build(data, [as_of]).reset_index(drop=True)
    cols = model.feature_names_
    if rows.empty:
        return pd.DataFrame(columns=T.PROSPECT_SCORES.column_names), pd.DataFrame(
            columns=T.PROSPECT_REASONS.column_names)
    p = model.predict_proba(rows[cols])[:, 1]
    scores = pd.DataFrame({
        "account_id": rows.account_id, "score_date": as_of, "probability": p,
        "expected_arr_usd": p * rows.lost_amount_usd, "lost_opportunity_id": rows.lost_opportunity_id,
        "lost_amount_usd": rows.lost_amount_usd, "lost_product_id": rows.product_id.astype(object),
        "days_since_loss": rows.days_since_loss})
    contrib = explain.model_contributions(model, rows[cols])
    expl = explain.explanation_frame(rows.account_id.to_numpy(), cols, explain.numeric_values(rows[cols]), contrib,
                                     feature_catalog.groups(cols), top_k=len(cols))
    top = expl[(expl.feature != explain.OTHER) & (expl.feature != "product_id")  # the product is not a reason
               & (expl.contribution > MIN_REASON_LOG_ODDS)]
    top = top.sort_values(["subject_id", "contribution"], ascending=[True, False]).groupby("subject_id").head(3)
    records = rows.set_index("account_id")[cols]
    records = records.assign(**{c: records[c].astype(object) for c in CATEGORICAL})
    by_subject = records.to_dict("index")
    reasons = pd.DataFrame({"account_id": top.subject_id.to_numpy(), "feature": top.feature.to_numpy(),
                            "contribution": top.contribution.to_numpy(),
                            "reason": [feature_catalog.reason(f, by_subject[s]) for s, f in
                                       zip(top.subject_id, top.feature)]})
    reasons["rank"] = reasons.groupby("account_id").cumcount() + 1
    return scores, reasons


def run(engine: Engine, version: registry.Version, parts: dict[str, Any], as_of: pd.Timestamp) -> dict[str, Any]:
    """Fit, backtest, score and write the prospect tables under the expansion version; the metrics."""
    data = load(engine)
    model, metrics, backtest = fit_and_backtest(data, parts)
    if model is None:
        log.info("prospects: %s", metrics["status"])
        return metrics
    scores, reasons = score(model, data, as_of)
    for table, frame in ((T.PROSPECT_BACKTEST, backtest), (T.PROSPECT_SCORES, scores), (T.PROSPECT_REASONS, reasons)):
        registry.write_results(engine, table, frame, version)
    metrics["n_scored"] = len(scores)
    log.info("prospects: auc %.3f (logistic %.3f, recency %.3f), ece %.3f, %d scored", metrics["auc"],
             metrics["auc_baseline_logreg"], metrics["auc_baseline_recency"], metrics["ece"], len(scores))
    return metrics
