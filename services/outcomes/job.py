"""The outcomes job (after churn): the flagged (account, renewal) history the outcome report reads.

The churn job stores scores for the latest 13 month-ends, which covers only about six months of
renewals with a full 6-month window before them. To see a year and a half of renewals, this job
scores the 13 month-ends before those with the active churn model (same features, same
calibration) and stores one row per flagged (account, renewal) in `churn_flag_history`. Actions and
outcomes are joined when the report is read, so an action logged today shows at once.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from services import registry
from services.churn import tables as churn_tables
from services.outcomes import report as outcomes
from services.outcomes import tables as T
from services.outcomes.read import report_frame

log = logging.getLogger(__name__)
MODEL = T.MODEL
BOOTSTRAP = 30


def _earlier_scores(engine: Engine, first_date: pd.Timestamp, run_inputs: Any = None) -> pd.DataFrame:
    """Scores of the active churn model at the month-ends before `first_date` (empty if not possible)."""
    from services.churn import features as cf  # lazy: heavy, and absent until churn lands
    from services.churn import job as churn_job

    artifact = registry.load_artifact(engine, "churn")
    inputs = cf.shared_inputs(engine, run_inputs)
    end = (first_date - pd.DateOffset(months=1)) + pd.offsets.MonthEnd(0)
    first_ok = inputs.month0.to_timestamp() + pd.DateOffset(months=12)
    if end < first_ok:
        return pd.DataFrame()
    scores, _ = churn_job.score(artifact["model"], inputs, end)
    return scores[scores.score_date >= first_ok]


def history_scores(engine: Engine, extra: bool = True, run_inputs: Any = None) -> pd.DataFrame:
    """The active churn version's stored scores, plus earlier month-ends scored now when `extra`."""
    stored = registry.read_results(engine, churn_tables.SCORES)
    if stored.empty or not extra:
        return stored
    try:
        earlier = _earlier_scores(engine, stored.score_date.min(), run_inputs)
    except (LookupError, ValueError, ModuleNotFoundError, FileNotFoundError, KeyError) as exc:
        log.warning("outcomes: could not score earlier month-ends (%s); using the stored 13", exc)
        earlier = pd.DataFrame()
    cols = ["account_id", "score_date", "probability", "tier", "arr_usd", "renewal_date"]
    parts = [stored[cols]] + ([earlier[cols]] if not earlier.empty else [])
    return pd.concat(parts, ignore_index=True)


def run(engine: Engine, version: registry.Version, run_inputs: Any = None) -> tuple[dict[str, Any], None]:
    if registry.active_version(engine, "churn") is None:
        raise LookupError("the outcome report needs an active churn model: train churn first")
    scores = history_scores(engine, run_inputs=run_inputs)
    pairs = outcomes.flag_windows(scores)
    flagged = pairs[pairs.flagged].drop(columns="flagged").reset_index(drop=True)
    registry.write_results(engine, T.FLAG_HISTORY, flagged, version)
    frame = report_frame(engine, flagged, version.as_of)
    metrics = outcomes.effect_estimate(frame)
    metrics.update(adjusted_effect(engine, frame, run_inputs=run_inputs))
    metrics.update(score_months=int(scores.score_date.nunique()), n_flagged_pairs=len(flagged),
                   first_score_date=str(scores.score_date.min().date()), flag_tiers=list(outcomes.FLAG_TIERS))
    log.info("outcomes: %s", effect_words(metrics))
    return metrics, None


def effect_words(metrics: dict[str, Any]) -> str:
    """The outcome figures for the training log, in words (the raw difference is not the effect of acting)."""
    est, raw = metrics.get("action_effect_estimate"), metrics.get("action_effect_raw")
    text = f"{int(metrics.get('n_flagged_due') or 0):,} flagged renewals came due; "
    text += ("too few acted and not-acted renewals to estimate the effect of acting" if est is None else
             f"acting {'cut' if est >= 0 else 'raised'} churn by an estimated {abs(est):.0%} (adjusted for "
             "which accounts CSMs chose)")
    if raw is not None:
        text += (f"; unadjusted, acted accounts churned {abs(raw):.0%} {'more' if raw < 0 else 'less'} "
                 "(CSMs act on the riskiest accounts)")
    return text


def adjusted_effect(engine: Engine, frame: pd.DataFrame, bootstrap: int = BOOTSTRAP,
                    run_inputs: Any = None) -> dict[str, Any]:
    """The regression-adjusted effect on renewals that came due, from the churn features at each
    pair's first score date (about six months before the renewal, before the actions)."""
    from services.churn import features as cf

    due = frame[frame.outcome != "pending"].reset_index(drop=True)
    if due.empty:
        return {"action_effect_estimate": None}
    inputs = cf.shared_inputs(engine, run_inputs)
    rows = cf.build(inputs, sorted(pd.Timestamp(d) for d in due.first_score.unique()))
    cols = cf.feature_columns(rows)  # behaviour only: actions are never a churn feature
    X = due[["account_id", "first_score"]].merge(
        rows.rename(columns={"as_of": "first_score"})[["account_id", "first_score", *cols]],
        on=["account_id", "first_score"], how="left")
    out = outcomes.regression_adjusted_effect(X[cols], due.acted.to_numpy(), (due.outcome == "churned").to_numpy(),
                                              bootstrap=bootstrap)
    out["adjustment_features"] = len(cols)
    return out

