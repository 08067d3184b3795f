"""The churn training job: risk at the next renewal for every active account, backtested out of time.

Rows: active customer accounts at month-ends, each labelled with the outcome of its NEXT renewal
(`features.labelled`), whatever its distance, so an account ten months from renewal is scored from its
behaviour now (the model learns how risk at a renewal relates to behaviour N months before it, with
`months_to_renewal` as an input that is never a reason). CSM actions are not an input: the score is the
untreated risk, and logging an action never changes it.

Out-of-time backtest (`plan`): the test rows are `TEST_DATES` month-ends ending `EVAL_MONTHS + 1`
months before the data's as-of, so the outcome of every renewal up to `EVAL_MONTHS` ahead is known. The
backtest model sees only outcomes known at the first test date: it is fitted on all of them, and
Platt-calibrated on cross-fitted log-odds (`cross_fitted_logit`: each row scored by a model fitted on the
other `CALIBRATION_FOLDS - 1` folds of accounts, so no row is calibrated by a model that saw it) of the
rows in the renewal window (next renewal within 6 months), the population the headline is measured on,
pooled over the whole training window rather than its last few months (a few months' churn rate moves with
the renewal cohort). The logistic part can be piecewise linear (`HINGES` hinge terms per numeric feature; off by default).
The production model is then refitted the same way on every labelled row up to the as-of, and scores
every active account at the as-of and the 12 previous month-ends, with contributions and reasons.

Short history: with fewer than `FULL_MONTHS` months of usage the job uses a shorter layout (3 months of
history before the first row, 6-month features left out, the outcome of renewals up to 6 months ahead
tested); below `MIN_MONTHS` it stops and says how many months it needs and why.

Risk tiers from the calibrated probability at the next renewal: high >= 0.25, medium >= 0.10, else low.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from models import explain
from models.churn import ChurnClassifier, as_baseline_input, logistic_baseline, structure
from models.churn_metrics import windowed_report
from services import feature_catalog, registry
from services.churn import confidence as churn_confidence
from services.churn import drift as churn_drift
from services.churn import features as cf
from services.churn import tables as T
from services.gates import Gate

log = logging.getLogger(__name__)
MODEL = T.MODEL
FULL_MONTHS, MIN_MONTHS = 34, 18
LAYOUTS = {  # history months before the first row, months of renewal outcomes tested, test dates, calibration
    "full": {"feature_months": 6, "eval_months": 12, "test_dates": 3, "cal_months": 3},
    "short": {"feature_months": 3, "eval_months": 6, "test_dates": 2, "cal_months": 2},
}
MIN_FIT_MONTHS = 4
SCORE_MONTHS = 12
MAX_TRAIN_ROWS = 400_000
TOP_K = 8
MIN_REASON_LOG_ODDS = 0.05
CATEGORICAL_REASONS = ("adoption_cluster",)
MIN_FEATURE_COVERAGE = 0.5  # a feature measured on fewer training rows than this is left out
# shallow trees: the renewal decision is close to additive in log-odds (tuned out of time on the demo)
MODEL_PARAMS = {"num_leaves": 4, "n_estimators": 600, "min_child_samples": 100, "colsample_bytree": 0.5}
MIN_CALIBRATION_EVENTS = 40  # churned renewals x rows; fewer: only the base rate is recalibrated
CALIBRATION_FOLDS = 5  # folds of accounts for the cross-fitted log-odds the calibration is fitted on
HINGES = 0  # hinge terms per numeric feature in the logistic part (piecewise linear, knots at terciles); off: +0.002 mean AUC
# for 1.4-3.5x the job's time on five demos (README, churn section), same bars met
CALIBRATION_WINDOW_DAYS = 182  # the calibration population: rows with the next renewal within 6 months
MIN_ROWS_ECE_GATE = 1000  # renewal-window test rows for the ECE ceiling to apply
MIN_CLUSTER_COVERAGE = 0.9  # use the adoption cluster as a feature only if known on most training rows


def tier(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p)
    return np.select([p >= T.TIERS[0][1], p >= T.TIERS[1][1]], [T.TIERS[0][0], T.TIERS[1][0]], T.TIERS[2][0])


@dataclass
class Plan:
    mode: str
    history_months: int
    first: pd.Timestamp  # first month-end with enough history for the features
    test: list[pd.Timestamp]  # backtest month-ends; the backtest model knows outcomes up to test[0]
    eval_months: int
    cal_months: int


def plan(as_of: pd.Timestamp, month0: pd.Period) -> Plan:
    """The layout of the backtest for the months of usage the data holds (ValueError when too few)."""
    last_month = (pd.Timestamp(as_of) + pd.Timedelta(days=1)).to_period("M") - 1  # the last complete month
    months = int(last_month.ordinal - month0.ordinal + 1)
    if months < MIN_MONTHS:
        s = LAYOUTS["short"]
        raise ValueError(
            f"churn needs at least {MIN_MONTHS} months of usage history; found {months}. It uses "
            f"{s['feature_months']} months of usage before the first training month-end (3-month trends), "
            f"{MIN_FIT_MONTHS + s['cal_months']} months of renewal outcomes to fit and calibrate on, "
            f"{s['test_dates']} test month-ends, and the {s['eval_months'] + 1} months after them in which the "
            f"outcome of their renewals up to {s['eval_months']} months ahead becomes known")
    mode = "full" if months >= FULL_MONTHS else "short"
    lay = LAYOUTS[mode]
    first = (month0 + lay["feature_months"]).to_timestamp(how="end").normalize()
    last = (pd.Timestamp(as_of) - pd.DateOffset(months=lay["eval_months"] + 1)) + pd.offsets.MonthEnd(0)
    test = [(last - pd.DateOffset(months=k)) + pd.offsets.MonthEnd(0) for k in reversed(range(lay["test_dates"]))]
    return Plan(mode, months, first, test, lay["eval_months"], lay["cal_months"])


def _sample_accounts(n: int, n_dates: int, seed: int = 0) -> np.ndarray | None:
    if n * n_dates <= MAX_TRAIN_ROWS:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=MAX_TRAIN_ROWS // n_dates, replace=False))


def select_features(rows: pd.DataFrame, mode: str) -> tuple[list[str], dict[str, Any]]:
    """Model inputs: measured on most training rows; the 6-month ones left out on short history."""
    cols = cf.feature_columns(rows)
    dropped = [c for c in cols if mode == "short" and c.endswith("_6m")]
    dropped += [c for c in cols if c not in dropped and c not in CATEGORICAL_REASONS
                and rows[c].notna().mean() < MIN_FEATURE_COVERAGE and not c.startswith("use_")]
    note: dict[str, Any] = {}
    if "adoption_cluster" in cols:
        # the cluster is known only as far back as the adoption job's membership history
        known = float(rows["adoption_cluster"].notna().mean()) if len(rows) else 0.0
        note["adoption_cluster_coverage"] = round(known, 3)
        if known < MIN_CLUSTER_COVERAGE:
            dropped.append("adoption_cluster")
    note["features_left_out"] = dropped
    return [c for c in cols if c not in dropped], note


def _classifier(cols: list[str], calibrate: bool = True) -> ChurnClassifier:
    mono = {c: feature_catalog.direction(c) for c in cols if feature_catalog.direction(c)}
    return ChurnClassifier(**MODEL_PARAMS, monotone=mono, fit_on_cal=False, hinges=HINGES, calibrate=calibrate,
                           min_calibration_events=MIN_CALIBRATION_EVENTS)


def cross_fitted_logit(known: pd.DataFrame, cols: list[str], folds: int = CALIBRATION_FOLDS,
                       seed: int = 0) -> np.ndarray:
    """Raw log-odds of every row from a model fitted without its account (folds of accounts)."""
    accounts = known.account_id.to_numpy()
    uniq = pd.unique(accounts)
    fold = pd.Series(np.random.default_rng(seed).integers(0, folds, len(uniq)), index=uniq).reindex(accounts)
    fold = fold.to_numpy()
    out = np.full(len(known), np.nan)
    for k in range(folds):
        tr, te = fold != k, fold == k
        if not te.any() or known.label_churn[tr].nunique() < 2:
            continue
        m = _classifier(cols, calibrate=False).fit(known.loc[tr, cols], known.label_churn[tr], groups=accounts[tr])
        out[te] = m.decision_function(known.loc[te, cols])
    return out


def fit_model(known: pd.DataFrame, cols: list[str], oof: np.ndarray | None = None) -> ChurnClassifier:
    """Fitted on every row whose renewal outcome is known; calibrated on the cross-fitted log-odds of the rows
    in the renewal window (`n_calibration_` of them). `oof`: those log-odds when already computed (one per row of
    `known`, in its order)."""
    known = known.reset_index(drop=True)
    oof = cross_fitted_logit(known, cols) if oof is None else np.asarray(oof, float)
    cal = ((known.days_to_renewal <= CALIBRATION_WINDOW_DAYS) & ~np.isnan(oof)).to_numpy()
    model = _classifier(cols)
    model.fit(known[cols], known.label_churn, known.loc[cal, cols], known.label_churn[cal],
              groups=known.account_id.to_numpy(), cal_raw=oof[cal])
    model.n_calibration_ = int(cal.sum())
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(known[c])]
    renewed = known[known.label_churn == 0]
    model.typical_renewing_ = {c: float(renewed[c].median()) for c in numeric if renewed[c].notna().any()}
    return model


OOF = churn_confidence.OOF  # column of the kept production rows: each row's cross-fitted log-odds


def refit_resampled(sample: pd.DataFrame, cols: list[str]) -> ChurnClassifier:
    """One bootstrap refit for the confidence step: the model refitted on resampled production rows, calibrated on
    those rows' cross-fitted log-odds from the production fit (not cross-fitted again: 1 fit per refit, not 6)."""
    return fit_model(sample, cols, oof=sample[OOF].to_numpy())


def fit_and_backtest(inputs: cf.Inputs, as_of: pd.Timestamp, keep: dict | None = None
                     ) -> tuple[ChurnClassifier, ChurnClassifier, dict[str, Any], pd.DataFrame]:
    """(backtest model, production model, metrics, scored test rows); `keep` receives the production rows."""
    p = plan(as_of, inputs.month0)
    dates = cf.month_ends(p.first, as_of)
    rows = cf.build(inputs, dates, labels=True, accounts=_sample_accounts(len(inputs.index), len(dates)))
    fit = cf.labelled(rows[rows.as_of < p.test[0]], p.test[0])
    cols, note = select_features(fit, p.mode)
    test = cf.labelled(rows[rows.as_of.isin(p.test)], as_of)
    test = test[test.days_to_renewal <= p.eval_months * 31]
    log.info("churn (%s history, %d months): fit %d, test %d rows, %d features", p.mode,
             p.history_months, len(fit), len(test), len(cols))
    model = fit_model(fit, cols)
    prob = model.predict_proba(test[cols])[:, 1]
    # the strongest simple baseline: logistic regression on the same rows and features
    plain = logistic_baseline(fit[cols]).fit(as_baseline_input(fit[cols]), fit.label_churn)
    p_base = plain.predict_proba(as_baseline_input(test[cols]))[:, 1]
    report = windowed_report(test.label_churn, prob, test.days_to_renewal, {"baseline_logreg": p_base})
    metrics: dict[str, Any] = {k: v for k, v in report["renewal_window"].items()}
    metrics["auc_baseline_logreg"] = metrics.pop("auc_baseline_logreg", float("nan"))
    metrics["by_distance"] = {k: v for k, v in report.items() if k != "renewal_window"}
    # ECE on a few hundred rows is mostly noise (10 bins of ~20 rows): gated only on a test large enough
    if metrics.get("n", 0) >= MIN_ROWS_ECE_GATE and "ece" in metrics:
        metrics["ece_gated"] = metrics["ece"]
    # production: refitted on every row whose renewal outcome is known at the as-of
    fit_all = cf.labelled(rows, as_of + pd.Timedelta(days=1)).reset_index(drop=True)
    oof_all = cross_fitted_logit(fit_all, cols)
    production = fit_model(fit_all, cols, oof=oof_all)
    if keep is not None:  # for the confidence step (services/churn/confidence.py): the rows and their log-odds
        keep.update(known=fit_all.assign(**{OOF: oof_all}))
    metrics.update(note, adoption_cluster_used="adoption_cluster" in cols, history_mode=p.mode,
                   history_months=p.history_months, eval_months=p.eval_months,
                   n_train=len(fit), n_calibration=model.n_calibration_, n_test=len(test), n_features=len(cols),
                   n_train_production=len(fit_all), n_calibration_production=production.n_calibration_,
                   calibration_method=f"Platt on {CALIBRATION_FOLDS}-fold cross-fitted log-odds, renewal window",
                   n_trees=int(model.n_trees_), n_trees_production=int(production.n_trees_),
                   logistic_features_left_out=sorted(set(cols) - set(model.linear_features_)),
                   churn_rate_test=float(test.label_churn.mean()),
                   train_window=[str(fit.as_of.min().date()), str(fit.as_of.max().date())],
                   production_window=[str(fit_all.as_of.min().date()), str(fit_all.as_of.max().date())],
                   test_window=[str(p.test[0].date()), str(p.test[-1].date())],
                   calibration=list(model.calibration_), calibration_production=list(production.calibration_),
                   monotone=sorted(model.monotone or {}), tiers={k: v for k, v in T.TIERS})
    metrics.update(explain.sample_summary(model, test[cols], feature_catalog.groups(cols)))
    backtest = test[["account_id", "as_of", "label_churn", "renewal_date", "days_to_renewal"]].rename(
        columns={"as_of": "score_date"}).assign(probability=prob, probability_baseline=p_base)
    return model, production, metrics, backtest


def score(model: ChurnClassifier, inputs: cf.Inputs, as_of: pd.Timestamp,
          keep: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores at as_of and the previous month-ends; the latest rows' feature frame for explanations."""
    prev = [d for d in cf.month_ends(as_of - pd.DateOffset(months=SCORE_MONTHS + 1), as_of) if d < as_of]
    rows = cf.build(inputs, prev[-SCORE_MONTHS:] + [as_of])
    if keep is not None:
        keep["score_rows"] = rows
    raw = model.decision_function(rows[model.feature_names_])
    p = 1 / (1 + np.exp(-model.calibrated_logit(raw)))
    scores = pd.DataFrame({
        "account_id": rows.account_id, "score_date": rows.as_of, "probability": p, "tier": tier(p),
        "arr_usd": rows.arr_usd, "arr_renewing_usd": rows.arr_renewing_usd,
        "expected_arr_at_risk_usd": p * rows.arr_renewing_usd, "days_to_renewal": rows.days_to_renewal,
        "renewal_date": rows.renewal_date, "log_odds_raw": raw})
    if "adoption_cluster" in rows:
        scores["adoption_cluster"] = rows["adoption_cluster"].astype(object)
    latest = rows[rows.as_of == as_of].reset_index(drop=True)
    return scores, latest


def _sensible(features: pd.Series, values: pd.Series, typical: dict[str, float]) -> np.ndarray:
    """A risk reason must point the business's way: a lower-is-riskier signal below the typical renewing
    customer's value, a higher-is-riskier one above it; months to renewal is never a reason."""
    d = features.map(feature_catalog.direction).to_numpy()
    t = features.map(typical).to_numpy(dtype=float)
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        ok = np.where(d < 0, v < t, np.where(d > 0, v > t, True)) | np.isnan(t)
    return ok & ~features.isin(feature_catalog.NEVER_REASONS).to_numpy()


def reasons(model: ChurnClassifier, latest: pd.DataFrame, n_reasons: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(contributions top-k + other in the explanation shape, top reasons per account in plain words)."""
    cols = model.feature_names_
    typical = getattr(model, "typical_renewing_", {})
    contrib = explain.model_contributions(model, latest[cols])
    groups = feature_catalog.groups(cols)
    expl = explain.explanation_frame(latest.account_id, cols, explain.numeric_values(latest[cols]), contrib,
                                     groups, top_k=TOP_K)
    # risk-raising behaviour only, with a measured value, a material contribution and the business's direction
    top = expl[(expl.feature != explain.OTHER) & (expl.contribution > MIN_REASON_LOG_ODDS)
               & (expl.value.notna() | expl.feature.isin(CATEGORICAL_REASONS))]
    top = top[_sensible(top.feature, top.value, typical)]
    top = top.sort_values(["subject_id", "contribution"], ascending=[True, False])
    top = top.drop_duplicates(["subject_id", "group"]).groupby("subject_id").head(n_reasons)
    need = [*cols, *(["months_to_renewal"] if "months_to_renewal" not in cols else [])]
    records = latest[latest.account_id.isin(top.subject_id.unique())].set_index("account_id")
    by_account = records[[c for c in need if c in records]].to_dict("index")
    text = [feature_catalog.reason(f, by_account[a], typical.get(f)) for a, f in zip(top.subject_id, top.feature)]
    out = pd.DataFrame({"account_id": top.subject_id.to_numpy(), "feature": top.feature.to_numpy(),
                        "group": top.group.to_numpy(), "contribution": top.contribution.to_numpy(),
                        "reason": text})
    out["rank"] = out.groupby("account_id").cumcount() + 1
    return expl, out


def run(engine: Engine, version: registry.Version, run_inputs: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    as_of = pd.Timestamp(version.as_of).normalize()
    inputs = cf.shared_inputs(engine, run_inputs)
    keep: dict = {}
    _, model, metrics, backtest = fit_and_backtest(inputs, as_of, keep)
    scores, latest = score(model, inputs, as_of, keep)
    expl, why = reasons(model, latest)
    expl = expl.assign(score_date=as_of)
    for table, frame in ((T.BACKTEST, backtest), (T.SCORES, scores), (T.CONTRIBUTIONS, expl), (T.REASONS, why)):
        registry.write_results(engine, table, frame, version)
    conf, conf_metrics = churn_confidence.build(engine, model, keep["known"], keep["score_rows"], refit_resampled)
    registry.write_results(engine, T.CONFIDENCE, conf, version)
    metrics.update(conf_metrics)
    churn_drift.store(engine, version, inputs, metrics["production_window"], latest[model.feature_names_])
    metrics.update(n_scored=int((scores.score_date == as_of).sum()), score_dates=int(scores.score_date.nunique()))
    log.info("churn: renewal-window auc %.3f (logistic %.3f), ece %.3f, %d accounts scored; the production "
             "model is %s", metrics["auc"], metrics["auc_baseline_logreg"], metrics["ece"], metrics["n_scored"],
             structure(metrics["n_trees_production"]))
    return metrics, {"model": model, "features": model.feature_names_, "tiers": T.TIERS}


# the quality gate (renewal-window metrics): AUC may drop at most 0.03 against the active version; ECE <= 0.06
# where the renewal-window test has at least MIN_ROWS_ECE_GATE rows (`ece_gated`; not reported below that)
GATES = (Gate("auc", higher_is_better=True, max_worse=0.03), Gate("ece_gated", higher_is_better=False, limit=0.06))
