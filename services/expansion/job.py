"""The expansion training job: account x product rows, out-of-time backtest, calibrated scores, reasons.

Rows: every active customer account x every product at month-end as-of dates back `HISTORY_MONTHS`,
labelled where as_of + 180 days <= the data's as-of. The latest `TEST_DATES` labelled dates are the
out-of-time test; training dates end 180 days before the first test date (no overlapping labels); the
last `CAL_DATES` training dates calibrate (Platt) and stop the boosting early. Baselines on the same
test rows: the training base rate of each product and kind, and a plain logistic regression.

Expected ARR = probability x expected deal: for an expansion the median ratio of won expansion ARR to
the product's ARR at t (per segment and product) times the account's product ARR; for a cross-sell the
median won cross-sell ARR per segment and product. Scores at the data's as-of and `SCORE_MONTHS`
previous month-ends; reasons and contributions at the latest date.

Short history: with fewer labelled month-ends than the full layout needs, the
short layout (below 22 months) tests one month-end and calibrates on one (from 18 months of usage); `history_mode` in the
metrics says which layout ran.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from models import explain
from models.churn import as_baseline_input, logistic_baseline
from models.churn_metrics import classification_report
from models.expansion import ExpansionClassifier, lift_top_decile_within
from services import feature_catalog, registry
from services.churn import features as cf
from services.expansion import confidence as expansion_confidence
from services.expansion import features as xf
from services.expansion import prospects
from services.expansion import tables as T
from services.gates import Gate

log = logging.getLogger(__name__)
MODEL = T.MODEL
HISTORY_MONTHS = 30
TEST_DATES = 3
CAL_DATES = 3
SCORE_MONTHS = 3
MAX_TRAIN_ROWS = 600_000
TOP_K = 6
MIN_REASON_LOG_ODDS = 0.05
CATEGORICAL_REASONS = ("adoption_cluster", "segment", "industry")


# how the expansion explanations group features (reasons, contributions, grouped importance): the catalog's
# groups, except that owning the product is the row's motion (with the product, its subject) and the number
# of products owned is a cross-sell signal of its own, not a size of the commercial relationship as in churn
GROUP_OVERRIDES = {"owned": "Product", "products_owned": "Products owned"}


def groups(cols: list[str]) -> dict[str, str]:
    return {**feature_catalog.groups(cols), **{c: g for c, g in GROUP_OVERRIDES.items() if c in cols}}


def kind(owned: pd.Series | np.ndarray) -> np.ndarray:
    return np.where(np.asarray(owned) > 0, T.KINDS[0], T.KINDS[1])


SHORT_TEST_DATES, SHORT_CAL_DATES, MIN_FIT_DATES = 1, 1, 2


def split_dates(as_of: pd.Timestamp, first_usage: pd.Timestamp) -> dict[str, Any]:
    """Fit, calibration and test month-ends (the full layout, else the short one; ValueError below it)."""
    start = max(as_of - pd.DateOffset(months=HISTORY_MONTHS), first_usage + pd.DateOffset(months=3))
    labelled = cf.month_ends(start, as_of - pd.Timedelta(days=xf.HORIZON_DAYS))
    gap = 6  # training dates end HORIZON_DAYS (six month-ends) before the first test date
    mode, n_test, n_cal = "full", TEST_DATES, CAL_DATES
    if len(labelled) < n_test + gap + n_cal + MIN_FIT_DATES - 1:
        mode, n_test, n_cal = "short", SHORT_TEST_DATES, SHORT_CAL_DATES
    need = n_test + gap + n_cal + MIN_FIT_DATES - 1
    if len(labelled) < need:
        raise ValueError(f"expansion needs at least {need} labelled month-ends (about {need + 9} months of usage: "
                         f"3 before the first, 6 for the last one's outcome); found {len(labelled)}")
    test = labelled[-n_test:]
    train = [d for d in labelled if d <= test[0] - pd.Timedelta(days=xf.HORIZON_DAYS)]
    return {"fit": train[:-n_cal], "cal": train[-n_cal:], "test": test, "mode": mode}


def _sample(n: int, n_rows_per_account: int) -> np.ndarray | None:
    if n * n_rows_per_account <= MAX_TRAIN_ROWS:
        return None
    return np.sort(np.random.default_rng(0).choice(n, size=MAX_TRAIN_ROWS // n_rows_per_account, replace=False))


def deal_sizes(rows: pd.DataFrame) -> pd.DataFrame:
    """Expected deal per segment x product x kind from labelled rows: the median ratio of won ARR to the
    product's ARR (expansion) or the median won ARR (cross-sell)."""
    won = rows[rows.label == 1].assign(kind=lambda d: kind(d.owned))
    won = won.assign(ratio=won.won_amount_usd / won.product_arr_usd.where(won.product_arr_usd > 0))
    keys = ["segment", "product_id", "kind"]
    g = won.groupby(keys, observed=True).agg(ratio=("ratio", "median"), amount=("won_amount_usd", "median"),
                                             n=("label", "size")).reset_index()
    by_product = won.groupby(["product_id", "kind"], observed=True).agg(
        ratio_p=("ratio", "median"), amount_p=("won_amount_usd", "median")).reset_index()
    g = g.merge(by_product, on=["product_id", "kind"], how="left")
    thin = g.n < 5  # few wins in a cell: the product's median across segments
    g.loc[thin, "ratio"], g.loc[thin, "amount"] = g.loc[thin, "ratio_p"], g.loc[thin, "amount_p"]
    for c in ("segment", "product_id"):
        g[c] = g[c].astype(object)
    return g[keys + ["ratio", "amount"]]


def expected_deal(rows: pd.DataFrame, sizes: pd.DataFrame) -> np.ndarray:
    k = pd.DataFrame({"segment": rows.segment.astype(object).to_numpy(),
                      "product_id": rows.product_id.astype(object).to_numpy(), "kind": kind(rows.owned)})
    m = k.merge(sizes, on=["segment", "product_id", "kind"], how="left")
    deal = np.where(m["kind"] == T.KINDS[0], m["ratio"].to_numpy(float) * rows.product_arr_usd.to_numpy(),
                    m["amount"].to_numpy(float))
    return np.nan_to_num(deal)


def fit_and_backtest(inputs: xf.Inputs, as_of: pd.Timestamp, keep: dict | None = None
                     ) -> tuple[ExpansionClassifier, dict[str, Any], pd.DataFrame, pd.DataFrame]:
    parts = split_dates(as_of, inputs.churn.month0.to_timestamp())
    dates = parts["fit"] + parts["cal"] + parts["test"]
    sample = _sample(len(inputs.churn.index), len(dates) * len(inputs.products))
    rows = xf.build(inputs, dates, labels=True, accounts=sample)
    cols = xf.feature_columns(rows)
    fit, cal, test = (rows[rows.as_of.isin(parts[k])] for k in ("fit", "cal", "test"))
    log.info("expansion rows: fit %d, calibrate %d, test %d, %d features", len(fit), len(cal), len(test), len(cols))
    model = ExpansionClassifier().fit(fit[cols], fit.label, cal[cols], cal.label)
    if keep is not None:  # for the confidence step (services/expansion/confidence.py)
        keep.update(fit=fit, cal=cal)
    p = model.predict_proba(test[cols])[:, 1]
    metrics: dict[str, Any] = classification_report(test.label, p)
    # the bar's lift: within each product, against that product's own won rate (README, Expansion)
    metrics["lift_top_decile_by_product"], per_product = lift_top_decile_within(
        test.label, p, test.product_id.astype(str))
    metrics["lift_top_decile_per_product"] = {str(k): v for k, v in sorted(per_product.items())}
    train = pd.concat([fit, cal])
    base_rate = train.assign(kind=kind(train.owned)).groupby(["product_id", "kind"], observed=True).label.mean()
    p_rate = base_rate.reindex(pd.MultiIndex.from_arrays([test.product_id.astype(object), kind(test.owned)])
                               ).fillna(float(train.label.mean())).to_numpy()
    metrics["auc_baseline_base_rate"] = classification_report(test.label, p_rate)["auc"]
    plain = logistic_baseline(fit[cols]).fit(as_baseline_input(fit[cols]), fit.label)
    p_log = plain.predict_proba(as_baseline_input(test[cols]))[:, 1]
    metrics["auc_baseline_logreg"] = classification_report(test.label, p_log)["auc"]
    metrics["ece_baseline_logreg"] = classification_report(test.label, p_log)["ece"]
    metrics.update(history_mode=parts["mode"], n_train=len(fit), n_calibration=len(cal), n_test=len(test),
                   n_trees=model.n_trees_,
                   rate_test=float(test.label.mean()), n_features=len(cols),
                   train_window=[str(parts["fit"][0].date()), str(parts["cal"][-1].date())],
                   test_window=[str(parts["test"][0].date()), str(parts["test"][-1].date())],
                   calibration=list(model.calibration_))
    metrics.update(explain.sample_summary(model, test[cols], groups(cols), with_groups=True))
    backtest = pd.DataFrame({
        "account_id": test.account_id.to_numpy(), "product_id": test.product_id.astype(object).to_numpy(),
        "score_date": test.as_of.to_numpy(), "kind": kind(test.owned), "label": test.label.to_numpy(),
        "probability": p, "probability_baseline": p_log, "probability_base_rate": p_rate})
    return model, metrics, backtest, deal_sizes(rows[rows.as_of < parts["test"][0]])


def score(model: ExpansionClassifier, inputs: xf.Inputs, as_of: pd.Timestamp, sizes: pd.DataFrame,
          keep: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    prev = [d for d in cf.month_ends(as_of - pd.DateOffset(months=SCORE_MONTHS + 1), as_of) if d < as_of]
    rows = xf.build(inputs, prev[-SCORE_MONTHS:] + [as_of])
    if keep is not None:
        keep["score_rows"] = rows
    p = model.predict_proba(rows[model.feature_names_])[:, 1]
    deal = expected_deal(rows, sizes)
    scores = pd.DataFrame({
        "account_id": rows.account_id, "product_id": rows.product_id.astype(object), "score_date": rows.as_of,
        "kind": kind(rows.owned), "probability": p, "expected_deal_usd": deal, "expected_arr_usd": p * deal,
        "product_arr_usd": rows.product_arr_usd, "open_opportunity_id": xf.open_opportunities(inputs.opps, rows)})
    latest = rows[rows.as_of == as_of].reset_index(drop=True)
    return scores, latest


def reasons(model: ExpansionClassifier, latest: pd.DataFrame, n_reasons: int = 3
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(contributions top-k + other in the explanation shape, top reasons per account x product in words)."""
    cols = model.feature_names_
    subject = (latest.account_id + ":" + latest.product_id.astype(str)).to_numpy()
    contrib = explain.model_contributions(model, latest[cols])
    expl = explain.explanation_frame(subject, cols, explain.numeric_values(latest[cols]), contrib, groups(cols),
                                     top_k=TOP_K)
    # reasons that raise the propensity, with a measured value; the product itself is not a reason
    top = expl[(expl.feature != explain.OTHER) & (expl.feature != "product_id")
               & (expl.contribution > MIN_REASON_LOG_ODDS)
               & (expl.value.notna() | expl.feature.isin(CATEGORICAL_REASONS))]
    top = top.sort_values(["subject_id", "contribution"], ascending=[True, False])
    top = top.drop_duplicates(["subject_id", "group"]).groupby("subject_id").head(n_reasons)
    records = latest.assign(subject_id=subject).set_index("subject_id")
    records = records[records.index.isin(top.subject_id.unique())][cols]
    records = records.assign(**{c: records[c].astype(object) for c in CATEGORICAL_REASONS if c in records})
    by_subject = records.to_dict("index")
    text = [feature_catalog.reason(f, by_subject[s]) for s, f in zip(top.subject_id, top.feature)]
    acct, prod = zip(*(s.split(":", 1) for s in top.subject_id)) if len(top) else ((), ())
    out = pd.DataFrame({"account_id": list(acct), "product_id": list(prod), "feature": top.feature.to_numpy(),
                        "group": top.group.to_numpy(), "contribution": top.contribution.to_numpy(), "reason": text})
    out["rank"] = out.groupby(["account_id", "product_id"]).cumcount() + 1
    return expl, out


def run(engine: Engine, version: registry.Version, run_inputs: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    as_of = pd.Timestamp(version.as_of).normalize()
    inputs = xf.shared_inputs(engine, run_inputs)
    keep: dict = {}
    model, metrics, backtest, sizes = fit_and_backtest(inputs, as_of, keep)
    scores, latest = score(model, inputs, as_of, sizes, keep)
    expl, why = reasons(model, latest)
    expl = expl.assign(score_date=as_of)
    for table, frame in ((T.BACKTEST, backtest), (T.SCORES, scores), (T.CONTRIBUTIONS, expl), (T.REASONS, why)):
        registry.write_results(engine, table, frame, version)
    conf, conf_metrics = expansion_confidence.build(model, keep["fit"], keep["cal"], keep["score_rows"])
    registry.write_results(engine, T.CONFIDENCE, conf, version)
    metrics.update(conf_metrics)
    metrics.update(n_scored=int((scores.score_date == as_of).sum()),
                   deal_sizes=sizes.round(4).to_dict("records"))
    # the lead score of lost prospects, with the same machinery and month-end layout
    metrics["prospects"] = prospects.run(engine, version, split_dates(as_of, inputs.churn.month0.to_timestamp()),
                                         as_of)
    log.info("expansion: auc %.3f (logistic %.3f, base rate %.3f), ece %.3f, %d rows scored", metrics["auc"],
             metrics["auc_baseline_logreg"], metrics["auc_baseline_base_rate"], metrics["ece"], metrics["n_scored"])
    return metrics, {"model": model, "features": model.feature_names_, "deal_sizes": sizes}


# the quality gate: AUC may drop at most 0.03 against the active version; calibration error at most 0.04
GATES = (Gate("auc", higher_is_better=True, max_worse=0.03), Gate("ece", higher_is_better=False, limit=0.04))
