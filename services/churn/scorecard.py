"""Scorecard section `churn`: the active version's stored metrics, plus planted-truth checks on demo data.

`auc_oracle` is the AUC of the planted effective churn probability (p_churn x (1 - action effect) when
acted) of the renewal in (t, t + 180 days], 0 if none, on the model's own out-of-time test rows.
`planted_drivers_recovered` is the share of the planted drivers with a feature among the model's top
ten global features (mean |SHAP|), features mapped to drivers through their feature-catalog group.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score
from sqlalchemy.engine import Engine

from services import registry
from services.churn import tables as T
from services.churn.features import HORIZON_DAYS

KEYS = ("auc", "pr_auc", "brier", "ece", "lift_top_decile", "auc_baseline_logreg", "auc_baseline_logreg_renewal",
        "n_train", "n_test",
        "train_seconds", "additivity_max_abs_err")
GROUP_TO_DRIVER = {"Seat activation": "seat_activation", "Usage trend": "usage_trend",
                   "Support load": "support_load", "Tenure": "tenure", "Price change": "price_change"}


def _truth_params(engine: Engine) -> dict[str, Any]:
    if not sa.inspect(engine).has_table("truth_params"):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, value FROM truth_params")).all()
    return {k: json.loads(v) for k, v in rows}


def oracle_probability(backtest: pd.DataFrame, renewals: pd.DataFrame, action_effect: float) -> np.ndarray:
    """Planted effective probability of the renewal in (t, t+180] for each backtest row (0 if none)."""
    r = renewals.assign(p_eff=renewals.p_churn * np.where(renewals.acted.astype(bool), 1 - action_effect, 1.0))
    m = backtest[["account_id", "score_date"]].reset_index().merge(r, on="account_id")
    m = m[(m.renewal_date > m.score_date) & (m.renewal_date <= m.score_date + pd.Timedelta(days=HORIZON_DAYS))]
    return m.groupby("index")["p_eff"].max().reindex(backtest.index).fillna(0.0).to_numpy()


def drivers_recovered(top_features: list, drivers: list[str], top_n: int = 10) -> tuple[float, list[str]]:
    found = {GROUP_TO_DRIVER.get(group) for _, group, _ in top_features[:top_n]}
    hit = [d for d in drivers if d in found]
    return len(hit) / len(drivers), hit


def section(engine: Engine) -> dict[str, Any]:
    metrics = registry.active_metrics(engine, T.MODEL)
    if not metrics:
        return {}
    out: dict[str, Any] = {k: metrics[k] for k in KEYS if k in metrics}
    out["top_features"] = [f for f, _, _ in metrics.get("top_features", [])[:10]]
    truth = _truth_params(engine)
    if truth and sa.inspect(engine).has_table("truth_renewals"):
        bt = registry.read_results(engine, T.BACKTEST)
        with engine.connect() as conn:
            ren = pd.read_sql(sa.text("SELECT account_id, renewal_date, p_churn, acted FROM truth_renewals"), conn)
        ren["renewal_date"] = pd.to_datetime(ren["renewal_date"])
        p = oracle_probability(bt, ren, float(truth.get("action_effect", 0.0)))
        out["auc_oracle"] = float(roc_auc_score(bt.label_churn, p))
        drivers = list(truth.get("churn_drivers", {}))
        out["planted_drivers_recovered"], out["planted_drivers_found"] = drivers_recovered(
            metrics.get("top_features", []), drivers)
        out["bars"] = {"auc_within_0.02_of_oracle": out["auc"] >= out["auc_oracle"] - 0.02,
                       "auc_above_baseline": out["auc"] > out["auc_baseline_logreg"],
                       "auc_above_renewal_baseline": out["auc"] > out.get("auc_baseline_logreg_renewal", 0),
                       "ece_at_most_0.03": out["ece"] <= 0.03,
                       "all_drivers_in_top10": out["planted_drivers_recovered"] == 1.0}
    return out
