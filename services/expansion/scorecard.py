"""Scorecard section `expansion`: the active version's stored metrics, plus planted-truth checks on demo data.

`auc_oracle` is the AUC of the planted 180-day probability (`truth_expansion.p_180d` of the score date's
month) on the model's own out-of-time test rows; `planted_drivers_recovered` the share of the planted
drivers (expansion and cross-sell) among the model's top ten explanation groups, ranked by grouped importance
(mean |sum of the group's SHAP values| per row, `models.explain.group_importance`: the groups the reasons
show, so three capacity-use features count as one driver and credit split among correlated features of one
group does not lower it), with each driver's rank (`planted_driver_ranks`, of `n_groups`);
`planted_drivers_recovered_by_feature` the older count over the top ten single features (mean |SHAP|).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score
from sqlalchemy.engine import Engine

from models.churn_metrics import lift_top_decile
from models.expansion import lift_top_decile_within
from services import db, registry
from services.expansion import tables as T

KEYS = ("auc", "pr_auc", "brier", "ece", "lift_top_decile", "lift_top_decile_by_product",
        "lift_top_decile_per_product", "auc_baseline_base_rate", "auc_baseline_logreg",
        "ece_baseline_logreg", "rate_test", "n_train", "n_test", "train_seconds", "additivity_max_abs_err")
GROUP_TO_DRIVER = {"Capacity use": "capacity_use", "Seat activation": "capacity_use", "Consumption": "capacity_use",
                   "Adoption breadth": "job_completion", "Usage trend": "usage_trend", "Support load": "support_load",
                   "Segment": "segment", "Similar accounts": "industry", "Products owned": "products_owned"}
FEATURE_TO_DRIVER = {"products_owned": "products_owned"}
# the lift bar is on the product-stratified lift (`lift_top_decile_by_product`): within each product the top
# decile's won rate over that product's base rate, weighted by rows ("against products' base rates")
BARS = {"auc_gap_to_oracle": 0.02, "ece": 0.02, "lift_top_decile": 3.0}



def oracle_probability(backtest: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Planted p_180d of each backtest row's account, product and score month (0 where none is planted)."""
    month = pd.to_datetime(backtest["score_date"]).dt.to_period("M").dt.to_timestamp()
    keys = pd.DataFrame({"account_id": backtest["account_id"].to_numpy(),
                         "product_id": backtest["product_id"].to_numpy(), "month": month.to_numpy()})
    t = truth.assign(month=pd.to_datetime(truth["month"]))[["account_id", "product_id", "month", "p_180d"]]
    return keys.merge(t, on=["account_id", "product_id", "month"], how="left")["p_180d"].fillna(0.0).to_numpy()


def drivers_recovered(top_features: list, drivers: list[str], top_n: int = 10) -> tuple[float, list[str]]:
    found = {FEATURE_TO_DRIVER.get(f, GROUP_TO_DRIVER.get(g)) for f, g, _ in top_features[:top_n]}
    hit = [d for d in drivers if d in found]
    return (len(hit) / len(drivers) if drivers else float("nan")), hit


PROSPECT_KEYS = ("status", "auc", "ece", "lift_top_decile", "auc_baseline_logreg", "ece_baseline_logreg",
                 "auc_baseline_recency", "rate_test", "n_train", "n_test", "n_scored")


def prospect_oracle(backtest: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Planted p_180d of each prospect backtest row (its account and score month; 0 where none)."""
    month = pd.to_datetime(backtest["score_date"]).dt.to_period("M").dt.to_timestamp()
    keys = pd.DataFrame({"account_id": backtest["account_id"].to_numpy(), "month": month.to_numpy()})
    t = truth.assign(month=pd.to_datetime(truth["month"]))[["account_id", "month", "p_180d"]]
    return keys.merge(t, on=["account_id", "month"], how="left")["p_180d"].fillna(0.0).to_numpy()


def prospect_section(engine: Engine, metrics: dict[str, Any]) -> dict[str, Any]:
    """The lead score's out-of-time figures; on demo data the planted oracle's AUC on the same rows."""
    out = {k: metrics[k] for k in PROSPECT_KEYS if k in metrics}
    bt = registry.read_results(engine, T.PROSPECT_BACKTEST)
    if bt.empty or not sa.inspect(engine).has_table("truth_prospects"):
        return out
    with engine.connect() as conn:
        truth = pd.read_sql(sa.text("SELECT account_id, month, p_180d FROM truth_prospects"), conn)
    out["auc_oracle"] = float(roc_auc_score(bt.label, prospect_oracle(bt, truth)))
    out["bars"] = {"auc_within_0.02_of_oracle": out["auc"] >= out["auc_oracle"] - BARS["auc_gap_to_oracle"],
                   "ece_at_most_0.02": out["ece"] <= BARS["ece"],
                   "auc_above_logistic": out["auc"] > out.get("auc_baseline_logreg", 1.0),
                   "auc_above_recency": out["auc"] > out.get("auc_baseline_recency", 1.0)}
    return out


def driver_ranks(top_groups: list, drivers: list[str], top_n: int = 10) -> tuple[float, list[str], dict[str, int]]:
    """(share of drivers among the top `top_n` groups, those found, each driver's best rank; 0 = absent)."""
    ranks: dict[str, int] = {}
    for i, (g, _) in enumerate(top_groups, 1):
        d = GROUP_TO_DRIVER.get(g)
        if d is not None and d not in ranks:
            ranks[d] = i
    hit = [d for d in drivers if 0 < ranks.get(d, 0) <= top_n]
    return (len(hit) / len(drivers) if drivers else float("nan")), hit, {d: ranks.get(d, 0) for d in drivers}


def recovered(metrics: dict[str, Any], drivers: list[str]) -> dict[str, Any]:
    """The planted-driver figures of a model's metrics (grouped ranking; the per-feature count beside it)."""
    out: dict[str, Any] = {}
    out["planted_drivers_recovered_by_feature"], out["planted_drivers_found_by_feature"] = drivers_recovered(
        metrics.get("top_features", []), drivers)
    if metrics.get("top_groups"):
        share, hit, ranks = driver_ranks(metrics["top_groups"], drivers)
        out.update(planted_drivers_recovered=share, planted_drivers_found=hit, planted_driver_ranks=ranks,
                   n_groups=len(metrics["top_groups"]))
    else:  # a version trained before grouped importance was stored
        out.update(planted_drivers_recovered=out["planted_drivers_recovered_by_feature"],
                   planted_drivers_found=out["planted_drivers_found_by_feature"])
    return out


def lifts(backtest: pd.DataFrame, oracle: np.ndarray) -> dict[str, Any]:
    """Top-decile lifts of the model (its backtest probabilities) and of the planted oracle on the same rows:
    pooled (against the overall won rate) and by product (within each product against its own rate,
    weighted by rows), with each product's."""
    out: dict[str, Any] = {}
    strata = backtest["product_id"].astype(str).to_numpy()
    for name, p in (("", backtest["probability"].to_numpy(float)), ("_oracle", oracle)):
        by, per = lift_top_decile_within(backtest["label"], p, strata)
        out[f"lift_top_decile{name}"] = lift_top_decile(backtest["label"], p)
        out[f"lift_top_decile_by_product{name}"] = by
        out[f"lift_top_decile_per_product{name}"] = {str(k): v for k, v in sorted(per.items())}
    return out


def section(engine: Engine) -> dict[str, Any]:
    metrics = registry.active_metrics(engine, T.MODEL)
    if not metrics:
        return {}
    out: dict[str, Any] = {k: metrics[k] for k in KEYS if k in metrics}
    out["top_features"] = [f for f, _, _ in metrics.get("top_features", [])[:10]]
    if metrics.get("prospects"):
        out["prospects"] = prospect_section(engine, metrics["prospects"])
    truth = db.truth_params(engine)
    if truth and sa.inspect(engine).has_table("truth_expansion"):
        bt = registry.read_results(engine, T.BACKTEST)
        months = sorted(pd.to_datetime(bt["score_date"]).dt.to_period("M").dt.to_timestamp().unique())
        with engine.connect() as conn:
            te = pd.read_sql(sa.text("SELECT account_id, product_id, month, p_180d FROM truth_expansion "
                                     "WHERE month >= :m"), conn, params={"m": str(pd.Timestamp(months[0]).date())})
        p = oracle_probability(bt, te)
        out["auc_oracle"] = float(roc_auc_score(bt.label, p))
        out.update(lifts(bt, p))
        drivers = sorted(set(truth.get("expansion_drivers", {})) | set(truth.get("cross_sell_drivers", {})))
        out.update(recovered(metrics, drivers))
        out["planted_drivers"] = drivers
        out["bars"] = {"auc_within_0.02_of_oracle": out["auc"] >= out["auc_oracle"] - BARS["auc_gap_to_oracle"],
                       "ece_at_most_0.02": out["ece"] <= BARS["ece"],
                       "lift_top_decile_by_product_at_least_3":
                           bool(out["lift_top_decile_by_product"] >= BARS["lift_top_decile"]),
                       "auc_above_base_rate": out["auc"] > out.get("auc_baseline_base_rate", 1.0),
                       "all_drivers_in_top10": out["planted_drivers_recovered"] == 1.0}
    return out
