"""Expansion's confidence step: novelty per scored account x product row and an interval per probability.

Called by the expansion job after scoring (`build`): `services.confidence.assess` on the model's training
rows (fit and calibration; the features include segment and industry, so a market the model never met is
flagged), `N_BOOT` refits of the model (`ExpansionClassifier`, early stopping and calibration included) on
account bootstrap resamples, and the local calibration on the `NEIGHBORS` nearest labelled rows (their
won rate against the model's probability, and that rate's own sampling error; as for churn).
Expansion has no tiers, so only novel rows abstain (`tier_confident` is not stored).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from models import intervals
from models.expansion import ExpansionClassifier
from services import confidence

log = logging.getLogger(__name__)
N_BOOT = 3
LEVEL = 0.9
NEIGHBORS = 50  # as churn's (services/churn/confidence.py)


def build(model: ExpansionClassifier, fit: pd.DataFrame, cal: pd.DataFrame, score_rows: pd.DataFrame,
          seed: int = 0, n_boot: int = N_BOOT) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(rows of `expansion_confidence` for every scored row, metrics)."""
    cols = list(model.feature_names_)
    rows = score_rows.reset_index(drop=True)
    point = model.calibrated_logit(model.decision_function(rows[cols]))
    draws = []
    fit_idx = intervals.group_bootstrap(fit.account_id.to_numpy(), n_boot, seed)
    cal_idx = intervals.group_bootstrap(cal.account_id.to_numpy(), n_boot, seed + 1)
    for f, c in zip(fit_idx, cal_idx):
        fb, cb = fit.iloc[f], cal.iloc[c]
        m = ExpansionClassifier(**model.get_params()).fit(fb[cols], fb.label, cb[cols], cb.label)
        draws.append(m.calibrated_logit(m.decision_function(rows[cols])))
    train = pd.concat([fit, cal], ignore_index=True)
    out, scorer, misfit = confidence.assess(
        train[cols], train.account_id.to_numpy(), train.label.to_numpy(float), model.predict_proba(train[cols])[:, 1],
        rows[cols], point, np.vstack(draws), (("all", 0.0),), LEVEL, NEIGHBORS, seed)
    out = out.drop(columns=["tier_confident"])
    out.insert(0, "score_date", rows.as_of.to_numpy())
    out.insert(0, "product_id", rows.product_id.astype(object).to_numpy())
    out.insert(0, "account_id", rows.account_id.to_numpy())
    latest = (out.score_date == out.score_date.max()).to_numpy()
    metrics = confidence.summary(out.assign(tier_confident=""), latest, scorer, misfit, LEVEL, n_boot)
    metrics.pop("share_uncertain_latest")
    log.info("expansion confidence: %.1f%% novel at the latest date (%d refits)",
             100 * metrics["share_novel_latest"], n_boot)
    return out, metrics
