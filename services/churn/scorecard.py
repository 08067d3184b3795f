"""Scorecard section `churn`: the active version's renewal-window metrics, by distance to the renewal,
against the planted truth on demo data.

Every backtest row is labelled with the outcome of its next renewal. `auc_oracle` is the AUC of the
planted effective probability of that renewal (p_churn x (1 - action effect) when acted) on the same
rows: on the renewal window (next renewal within 6 months) and per distance (0-3, 3-6, 6-12 months).
Far from the renewal the oracle knows behaviour that has not happened yet (the planted hazard reads
months -8..-6), so the gap there measures what the future holds, not the model.
`planted_drivers_recovered` is the share of the planted drivers with a feature among the model's top
ten global features (mean |SHAP|), features mapped to drivers through their feature-catalog group.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.churn_metrics import windowed_report
from services import db, registry
from services.churn import tables as T

KEYS = ("auc", "pr_auc", "brier", "ece", "lift_top_decile", "auc_baseline_logreg", "n", "churn_rate",
        "mean_probability", "n_train", "n_calibration", "n_test", "n_train_production", "history_mode",
        "history_months", "eval_months", "features_left_out", "train_seconds", "additivity_max_abs_err")
GROUP_TO_DRIVER = {"Seat activation": "seat_activation", "Usage trend": "usage_trend",
                   "Support load": "support_load", "Tenure": "tenure", "Price change": "price_change"}
BARS = {"oracle_gap": 0.015, "ece": 0.02, "auc_6_12m": 0.80}



def oracle_probability(backtest: pd.DataFrame, renewals: pd.DataFrame, action_effect: float) -> np.ndarray:
    """Planted effective probability of each backtest row's next renewal (the first after its date)."""
    r = renewals.assign(p_eff=renewals.p_churn * np.where(renewals.acted.astype(bool), 1 - action_effect, 1.0))
    m = backtest[["account_id", "score_date"]].reset_index().merge(r, on="account_id")
    m = m[m.renewal_date > m.score_date].sort_values("renewal_date")
    return m.groupby("index")["p_eff"].first().reindex(backtest.index).fillna(0.0).to_numpy()


def drivers_recovered(top_features: list, drivers: list[str], top_n: int = 10) -> tuple[float, list[str]]:
    found = {GROUP_TO_DRIVER.get(group) for _, group, _ in top_features[:top_n]}
    hit = [d for d in drivers if d in found]
    return len(hit) / len(drivers), hit


def _rounded(d: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}


def section(engine: Engine) -> dict[str, Any]:
    metrics = registry.active_metrics(engine, T.MODEL)
    if not metrics:
        return {}
    out: dict[str, Any] = {k: metrics[k] for k in KEYS if k in metrics}
    out["by_distance"] = metrics.get("by_distance", {})
    out["top_features"] = [f for f, _, _ in metrics.get("top_features", [])[:10]]
    truth = db.truth_params(engine)
    if truth and sa.inspect(engine).has_table("truth_renewals"):
        bt = registry.read_results(engine, T.BACKTEST)
        with engine.connect() as conn:
            ren = pd.read_sql(sa.text("SELECT account_id, renewal_date, p_churn, acted FROM truth_renewals"), conn)
        ren["renewal_date"] = pd.to_datetime(ren["renewal_date"])
        oracle = oracle_probability(bt, ren, float(truth.get("action_effect", 0.0)))
        rep = windowed_report(bt.label_churn, bt.probability, bt.days_to_renewal,
                              {"oracle": oracle, "baseline_logreg": bt.probability_baseline})
        for r in rep.values():
            if "auc" in r:
                r["oracle_gap"] = r["auc_oracle"] - r["auc"]
        window = rep.pop("renewal_window")
        out.update(auc_oracle=window.get("auc_oracle"), oracle_gap=window.get("oracle_gap"))
        out["by_distance"] = {k: _rounded(v) for k, v in rep.items()}
        drivers = list(truth.get("churn_drivers", {}))
        out["planted_drivers_recovered"], out["planted_drivers_found"] = drivers_recovered(
            metrics.get("top_features", []), drivers)
        far = rep.get("6-12m", {})
        out["bars"] = {"renewal_window_auc_within_0.015_of_oracle": bool(window.get("oracle_gap", 1) <= BARS["oracle_gap"]),
                       "renewal_window_ece_at_most_0.02": bool(out.get("ece", 1) <= BARS["ece"]),
                       "auc_6_12m_at_least_0.80": bool(far.get("auc", 0) >= BARS["auc_6_12m"]) if far.get("auc")
                       else None,
                       "auc_above_baseline": bool(out.get("auc", 0) > out.get("auc_baseline_logreg", 1)),
                       "all_drivers_in_top10": out["planted_drivers_recovered"] == 1.0}
    return out
