"""The churn training job: point-in-time rows, out-of-time backtest, calibrated scores, reasons.

Churn happens at renewals, so the classifier is trained on the rows whose next renewal falls within
the 180-day horizon and learns P(churn at that renewal); rows without a renewal in the horizon get the
empirical off-renewal churn rate (0 on co-termed annual data). `probability_at_renewal` is stored for
every account (the risk at its next renewal, whenever that is).

Rows: active customer accounts at month-end as-of dates back `HISTORY_MONTHS` months, labelled where
as_of + 180 days <= the data's as-of. The latest `TEST_DATES` labelled dates are the out-of-time test;
training dates end 180 days before the first test date (no overlapping labels); the last
`CAL_DATES` training dates calibrate (Platt). The model then scores every active account at the data's
as-of and the 12 previous month-ends, with TreeSHAP contributions and reasons at the latest date.

Risk tiers from the calibrated 180-day churn probability: high >= 0.25, medium >= 0.10, else low.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from models import explain
from models.churn import ChurnClassifier, as_baseline_input, logistic_baseline
from models.churn_metrics import classification_report
from services import feature_catalog, registry
from services.churn import drift as churn_drift
from services.churn import features as cf
from services.churn import tables as T
from services.gates import Gate

log = logging.getLogger(__name__)
MODEL = T.MODEL
HISTORY_MONTHS = 30
TEST_DATES = 4
CAL_DATES = 3
SCORE_MONTHS = 12
MAX_TRAIN_ROWS = 400_000
TOP_K = 8
MIN_REASON_LOG_ODDS = 0.05
CATEGORICAL_REASONS = ("adoption_cluster",)
# shallow trees: the renewal decision is close to additive in log-odds (tuned out of time on the demo)
MODEL_PARAMS = {"num_leaves": 4, "n_estimators": 600, "min_child_samples": 100, "colsample_bytree": 0.5}


def tier(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p)
    return np.select([p >= T.TIERS[0][1], p >= T.TIERS[1][1]], [T.TIERS[0][0], T.TIERS[1][0]], T.TIERS[2][0])


def split_dates(as_of: pd.Timestamp, first_usage: pd.Timestamp) -> dict[str, list[pd.Timestamp]]:
    """Out-of-time split of the labelled month-ends: fit < calibrate < (180-day gap) < test."""
    start = max(as_of - pd.DateOffset(months=HISTORY_MONTHS), first_usage + pd.DateOffset(months=6))
    labelled = cf.month_ends(start, as_of - pd.Timedelta(days=cf.HORIZON_DAYS))
    if len(labelled) < TEST_DATES + CAL_DATES + 8:
        raise ValueError(f"churn needs at least {TEST_DATES + CAL_DATES + 8} labelled month-ends "
                         f"(about {TEST_DATES + CAL_DATES + 14} months of history); found {len(labelled)}")
    test = labelled[-TEST_DATES:]
    train = [d for d in labelled if d <= test[0] - pd.Timedelta(days=cf.HORIZON_DAYS)]
    return {"fit": train[:-CAL_DATES], "cal": train[-CAL_DATES:], "test": test}


MIN_CLUSTER_COVERAGE = 0.9  # use the adoption cluster as a feature only if known on most training rows


def in_window(rows: pd.DataFrame) -> pd.Series:
    """Rows whose next renewal falls within the label horizon."""
    return rows["days_to_renewal"] <= cf.HORIZON_DAYS


def horizon_probability(p_at_renewal: np.ndarray, rows: pd.DataFrame, off_rate: float) -> np.ndarray:
    """180-day churn probability: the renewal model inside the horizon, the off-renewal rate outside."""
    return np.where(in_window(rows).to_numpy(), p_at_renewal, off_rate)


def _sample_accounts(n: int, n_dates: int, seed: int = 0) -> np.ndarray | None:
    if n * n_dates <= MAX_TRAIN_ROWS:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=MAX_TRAIN_ROWS // n_dates, replace=False))


def fit_and_backtest(inputs: cf.Inputs, as_of: pd.Timestamp) -> tuple[ChurnClassifier, dict[str, Any], pd.DataFrame]:
    """Fit on the out-of-time split; metrics vs the logistic baseline; the scored test rows."""
    first = inputs.month0.to_timestamp()
    parts = split_dates(as_of, first)
    all_dates = parts["fit"] + parts["cal"] + parts["test"]
    sample = _sample_accounts(len(inputs.index), len(all_dates))
    rows = cf.build(inputs, all_dates, labels=True, accounts=sample)
    cols = cf.feature_columns(rows)
    fit, cal, test = (rows[rows.as_of.isin(parts[k])] for k in ("fit", "cal", "test"))
    if "adoption_cluster" in cols:
        # the cluster is known only as far back as the adoption job's membership history; a feature that
        # is missing on older training rows and present on recent ones shifts under the model
        known = float(fit["adoption_cluster"].notna().mean()) if len(fit) else 0.0
        metrics_note = {"adoption_cluster_coverage": round(known, 3)}
        if known < MIN_CLUSTER_COVERAGE:
            log.info("churn: adoption cluster known on %.0f%% of training rows (membership history shorter "
                     "than the training window): not used as a feature", 100 * known)
            cols = [c for c in cols if c != "adoption_cluster"]
    else:
        metrics_note = {}
    log.info("churn rows: fit %d, calibrate %d, test %d, %d features", len(fit), len(cal), len(test), len(cols))
    # churn happens at renewals: the classifier learns P(churn | renewal within the horizon); rows with
    # no renewal in the horizon get the empirical off-renewal churn rate of the training rows
    fit_w, cal_w = fit[in_window(fit)], cal[in_window(cal)]
    train_off = pd.concat([fit[~in_window(fit)], cal[~in_window(cal)]])
    off_rate = float(train_off.label_churn.mean()) if len(train_off) else 0.0
    model = ChurnClassifier(**MODEL_PARAMS).fit(fit_w[cols], fit_w.label_churn, cal_w[cols], cal_w.label_churn,
                                                groups=fit_w.account_id.to_numpy())
    model.off_window_rate_ = off_rate
    p = horizon_probability(model.predict_proba(test[cols])[:, 1], test, off_rate)
    metrics: dict[str, Any] = classification_report(test.label_churn, p)
    # baselines: plain logistic regression on the same rows and features, and logistic regression
    # inside the same renewal decomposition (a strong baseline when the truth is additive in log-odds)
    plain = logistic_baseline(fit[cols]).fit(as_baseline_input(fit[cols]), fit.label_churn)
    p_base = plain.predict_proba(as_baseline_input(test[cols]))[:, 1]
    metrics["auc_baseline_logreg"] = classification_report(test.label_churn, p_base)["auc"]
    ren = logistic_baseline(fit_w[cols]).fit(as_baseline_input(fit_w[cols]), fit_w.label_churn)
    p_ren = horizon_probability(ren.predict_proba(as_baseline_input(test[cols]))[:, 1], test, off_rate)
    metrics["auc_baseline_logreg_renewal"] = classification_report(test.label_churn, p_ren)["auc"]
    metrics["off_window_churn_rate"] = off_rate
    metrics.update(metrics_note, adoption_cluster_used="adoption_cluster" in cols)
    metrics.update(n_train=len(fit), n_calibration=len(cal), n_test=len(test),
                   churn_rate_test=float(test.label_churn.mean()), n_features=len(cols),
                   train_window=[str(parts["fit"][0].date()), str(parts["cal"][-1].date())],
                   test_window=[str(parts["test"][0].date()), str(parts["test"][-1].date())],
                   calibration=list(model.calibration_), tiers={k: v for k, v in T.TIERS})
    # global drivers by mean |SHAP| on (a sample of) the test rows the classifier decides
    test_w = test[in_window(test)]
    sub = test_w.sample(min(len(test_w), 20_000), random_state=0) if len(test_w) else test_w
    contrib = explain.model_contributions(model, sub[cols])
    metrics["additivity_max_abs_err"] = explain.additivity_error(contrib, model.decision_function(sub[cols]))
    imp = explain.global_importance(cols, contrib, feature_catalog.groups(cols))
    metrics["top_features"] = [[r.feature, r.group, round(float(r.mean_abs_contribution), 5)]
                               for r in imp.head(15).itertuples()]
    backtest = test[["account_id", "as_of", "label_churn"]].rename(columns={"as_of": "score_date"})
    backtest = backtest.assign(probability=p, probability_baseline=p_base)
    return model, metrics, backtest


def score(model: ChurnClassifier, inputs: cf.Inputs, as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores at as_of and the previous month-ends; the latest rows' feature frame for explanations."""
    prev = [d for d in cf.month_ends(as_of - pd.DateOffset(months=SCORE_MONTHS + 1), as_of) if d < as_of]
    dates = prev[-SCORE_MONTHS:] + [as_of]
    rows = cf.build(inputs, dates)
    raw = model.decision_function(rows[model.feature_names_])
    p_renewal = 1 / (1 + np.exp(-model.calibrated_logit(raw)))
    off_rate = getattr(model, "off_window_rate_", None)  # None: a model from before the renewal window
    p = p_renewal if off_rate is None else horizon_probability(p_renewal, rows, off_rate)
    scores = pd.DataFrame({
        "account_id": rows.account_id, "score_date": rows.as_of, "probability": p, "tier": tier(p),
        "probability_at_renewal": p_renewal,
        "arr_usd": rows.arr_usd, "expected_arr_at_risk_usd": p * rows.arr_usd,
        "days_to_renewal": rows.days_to_renewal, "renewal_date": rows.renewal_date, "log_odds_raw": raw})
    if "adoption_cluster" in rows:
        scores["adoption_cluster"] = rows["adoption_cluster"].astype(object)
    latest = rows[rows.as_of == as_of].reset_index(drop=True)
    return scores, latest


def reasons(model: ChurnClassifier, latest: pd.DataFrame, n_reasons: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(contributions top-k + other in the explanation shape, top reasons per account in plain words)."""
    cols = model.feature_names_
    contrib = explain.model_contributions(model, latest[cols])
    groups = feature_catalog.groups(cols)
    expl = explain.explanation_frame(latest.account_id, cols, explain.numeric_values(latest[cols]), contrib,
                                     groups, top_k=TOP_K)
    # risk-raising reasons only, with a measured value and a material contribution
    top = expl[(expl.feature != explain.OTHER) & (expl.contribution > MIN_REASON_LOG_ODDS)
               & (expl.value.notna() | expl.feature.isin(CATEGORICAL_REASONS))]
    top = top.sort_values(["subject_id", "contribution"], ascending=[True, False])
    top = top.drop_duplicates(["subject_id", "group"]).groupby("subject_id").head(n_reasons)
    records = latest[latest.account_id.isin(top.subject_id.unique())].set_index("account_id")[cols]
    by_account = records.to_dict("index")
    text = [feature_catalog.reason(f, by_account[a]) for a, f in zip(top.subject_id, top.feature)]
    out = pd.DataFrame({"account_id": top.subject_id.to_numpy(), "feature": top.feature.to_numpy(),
                        "group": top.group.to_numpy(), "contribution": top.contribution.to_numpy(),
                        "reason": text})
    out["rank"] = out.groupby("account_id").cumcount() + 1
    return expl, out



def run(engine: Engine, version: registry.Version, run_inputs: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    as_of = pd.Timestamp(version.as_of).normalize()
    inputs = cf.shared_inputs(engine, run_inputs)
    model, metrics, backtest = fit_and_backtest(inputs, as_of)
    scores, latest = score(model, inputs, as_of)
    expl, why = reasons(model, latest)
    expl = expl.assign(score_date=as_of)
    for table, frame in ((T.BACKTEST, backtest), (T.SCORES, scores), (T.CONTRIBUTIONS, expl), (T.REASONS, why)):
        registry.write_results(engine, table, frame, version)
    churn_drift.store(engine, version, inputs, metrics["train_window"], latest[model.feature_names_])
    metrics.update(n_scored=int((scores.score_date == as_of).sum()), score_dates=int(scores.score_date.nunique()))
    log.info("churn: auc %.3f (logistic %.3f), ece %.3f, %d accounts scored", metrics["auc"],
             metrics["auc_baseline_logreg"], metrics["ece"], metrics["n_scored"])
    return metrics, {"model": model, "features": model.feature_names_, "tiers": T.TIERS}


# the quality gate: AUC may drop at most 0.03 against the active version; calibration error at most 0.06
GATES = (Gate("auc", higher_is_better=True, max_worse=0.03), Gate("ece", higher_is_better=False, limit=0.06))
