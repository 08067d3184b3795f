"""Churn's confidence step: novelty per scored row, an interval per probability, abstaining tiers.

Called by the churn job after the production model is fitted and every score date scored (`build`):

- novelty: `models.novelty.NoveltyScorer` on the production training rows (model features plus the
  account's industry, so a market the model never met is flagged), held-out accounts setting the
  threshold so about 1% of training-like rows are flagged;
- interval: `N_BOOT` refits of the production model (the job's `refit_resampled`: its own `fit_model`, Platt
  calibration included, on the rows' cross-fitted log-odds from the production fit) on account bootstrap
  resamples of its training rows, combined with the local calibration on the `NEIGHBORS` labelled
  training rows nearest in contributions to the log-odds (rows the model treats alike: about 30 distinct
  renewals): the gap between their churn rate and their cross-fitted (held-out) probabilities, and that
  rate's own sampling error (rows of one renewal counted once); `LEVEL` interval on the log-odds scale;
- tier: the job's tier, or `uncertain` when the row is novel or, by its interval, the chance that the
  probability lies in a neighbouring tier is above `OTHER_TIER_CHANCE`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from models import explain, intervals
from services import confidence
from services.churn import tables as T
from services.db import read_table

log = logging.getLogger(__name__)
N_BOOT = 8
LEVEL = 0.9
NEIGHBORS = 50
OTHER_TIER_CHANCE = 1 / 3
OOF = "_cross_fitted_logit"  # column of the job's kept production rows: each row's cross-fitted log-odds
CONTEXT = ("industry",)  # account descriptors the model does not use but a new market shows in


def _with_context(engine: Engine, rows: pd.DataFrame) -> pd.DataFrame:
    acc = read_table("accounts", engine, columns=["account_id", *CONTEXT]).set_index("account_id")
    return rows.assign(**{c: rows.account_id.map(acc[c]).astype(object) for c in CONTEXT})


def build(engine: Engine, production: Any, known: pd.DataFrame, score_rows: pd.DataFrame,
          fit_fn: Callable[[pd.DataFrame, list[str]], Any], seed: int = 0,
          n_boot: int = N_BOOT) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(rows of `T.CONFIDENCE` for every scored row, metrics). `known`: the production model's training rows;
    `fit_fn(sample, cols)` refits the model on a resample of them (accounts drawn with replacement)."""
    cols = list(production.feature_names_)
    use = [*cols, *CONTEXT]
    train = _with_context(engine, known.reset_index(drop=True))
    rows = _with_context(engine, score_rows.reset_index(drop=True))
    point = production.calibrated_logit(production.decision_function(rows[cols]))
    draws = []
    for f in intervals.group_bootstrap(known.account_id.to_numpy(), n_boot, seed):
        m = fit_fn(known.iloc[f].reset_index(drop=True), cols)
        draws.append(m.calibrated_logit(m.decision_function(rows[cols])))
    # neighbours for the misfit: rows the model treats alike (their contributions to the log-odds)
    coords = (explain.model_contributions(production, train[cols])[:, :-1],
              explain.model_contributions(production, rows[cols])[:, :-1])
    # held-out probabilities of the labelled rows: their cross-fitted log-odds, calibrated (in-sample where absent)
    held_out = production.calibrated_logit(train[OOF].to_numpy(float)) if OOF in train else np.full(len(train), np.nan)
    in_sample = production.predict_proba(train[cols])[:, 1]
    p_train = np.where(np.isnan(held_out), in_sample, 1 / (1 + np.exp(-np.nan_to_num(held_out))))
    renewal = (train.account_id.astype(str) + "|" + train.renewal_date.astype(str)).to_numpy()
    out, scorer, misfit = confidence.assess(
        train[use], train.account_id.to_numpy(), train.label_churn.to_numpy(float), p_train, rows[use], point,
        np.vstack(draws), T.TIERS, LEVEL, NEIGHBORS, seed, coords,
        edge=intervals.edge_for(OTHER_TIER_CHANCE, LEVEL), outcome_groups=renewal)
    out.insert(0, "score_date", rows.as_of.to_numpy())
    out.insert(0, "account_id", rows.account_id.to_numpy())
    metrics = confidence.summary(out, (out.score_date == out.score_date.max()).to_numpy(), scorer, misfit, LEVEL,
                                 n_boot)
    log.info("churn confidence: %.1f%% novel, %.1f%% uncertain at the latest date (%d refits)",
             100 * metrics["share_novel_latest"], 100 * metrics["share_uncertain_latest"], n_boot)
    return out, metrics
