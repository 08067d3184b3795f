"""Training job for adoption clusters: signals -> k-means -> scores, membership history, cluster table.

Writes (through `registry.write_results`) the tables declared in `services/adoption/tables.py`.
The model is fitted on the latest month; every month of the history is assigned with it.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from models.adoption import SIGNALS, AdoptionClusters, score
from services import registry
from services.adoption import fit as adoption_fit
from services.adoption import tables as T
from services.adoption.signals import TREND_MONTHS, load_signals
from services.gates import Gate

log = logging.getLogger(__name__)
MODEL = T.MODEL
MIN_STABILITY = 0.6  # the gate: clusters less reproducible than this are not published


def previous_centroids(engine: Engine) -> pd.DataFrame | None:
    """The active version's centroids (index cluster_id), or None."""
    prev = registry.read_results(engine, T.CLUSTERS)
    if prev.empty or not set(SIGNALS) <= set(prev.columns):
        return None
    return prev.set_index("cluster_id")[SIGNALS]


def score_history(signals: pd.DataFrame) -> pd.DataFrame:
    """Adds `score` and `score_trend` (change over TREND_MONTHS; NaN when the older month is absent)."""
    out = signals.copy()
    out["score"] = score(out)
    prev = out[["account_id", "month", "score"]].copy()
    prev["month"] = prev["month"] + pd.DateOffset(months=TREND_MONTHS)
    out = out.merge(prev, on=["account_id", "month"], how="left", suffixes=("", "_prev"))
    out["score_trend"] = (out["score"] - out.pop("score_prev")).round(1)
    return out


def cluster_table(model: AdoptionClusters, latest: pd.DataFrame) -> pd.DataFrame:
    cen = model.centroids_.round(4)
    stats = latest.groupby("cluster_id").agg(n_accounts=("account_id", "size"), arr_usd=("arr_usd", "sum"),
                                             score=("score", "mean"))
    out = cen.join(stats).reset_index()
    out["name"] = out["cluster_id"].map(model.name_of_)
    out["description"] = out["cluster_id"].map(dict(zip(model.cluster_ids_.tolist(), model.descriptions_)))
    out[["n_accounts", "arr_usd"]] = out[["n_accounts", "arr_usd"]].fillna(0)
    out["score"] = out["score"].round(1)
    return out[["cluster_id", "name", "description", *SIGNALS, "n_accounts", "arr_usd", "score"]]


def fit_and_assign(signals: pd.DataFrame, previous: pd.DataFrame | None = None,
                   **params: Any) -> tuple[AdoptionClusters, pd.DataFrame]:
    """Fit on the latest month, assign every month; returns the model and signals with cluster ids/names."""
    latest_month = signals["month"].max()
    model = AdoptionClusters(**params).fit(signals[signals["month"] == latest_month], previous=previous)
    out = signals.copy()
    out["cluster_id"] = model.predict(out)
    out["cluster_name"] = out["cluster_id"].map(model.name_of_)
    return model, out


def run(engine: Engine, version: registry.Version, run_inputs: Any = None) -> tuple[dict[str, Any], AdoptionClusters]:
    signals, per_product = load_signals(engine, version.as_of)
    signals = score_history(signals)
    model, assigned = fit_and_assign(signals, previous_centroids(engine), **version.params)
    latest_month = assigned["month"].max()
    latest = assigned[assigned["month"] == latest_month]
    clusters = cluster_table(model, latest)
    registry.write_results(engine, T.SIGNALS, assigned.drop(columns=["cluster_id", "cluster_name"]),
                           version)
    registry.write_results(engine, T.MEMBERSHIP,
                           assigned[["account_id", "month", "cluster_id", "cluster_name"]], version)
    registry.write_results(engine, T.CLUSTERS, clusters, version)
    fit = adoption_fit.table(model, latest)  # services/adoption/fit.py: "unlike any group"
    registry.write_results(engine, T.FIT, fit, version)
    registry.write_results(engine, T.PRODUCT_SIGNALS,
                           per_product[per_product["month"] == latest_month].drop(columns="month"), version)
    metrics = {
        "k": model.k_, "silhouette": round(model.silhouette_, 4), "stability": round(model.stability_, 4),
        "k_selection": model.k_selection_.to_dict("records"), "merged_names": list(model.merges_),
        "accounts": len(latest),
        "months": int(assigned["month"].nunique()), "latest_month": str(latest_month.date()),
        "clusters": {str(k): int(v) for k, v in clusters.groupby("name")["n_accounts"].sum().items()},
        "mean_score": round(float(latest["score"].mean()), 1),
        "share_unlike_any_group": round(float(fit.unlike_any_group.mean()), 4),
    }
    log.info("adoption: k=%d, stability %.3f, silhouette %.3f over %d accounts", model.k_, model.stability_,
             model.silhouette_, len(latest))
    return metrics, model


# the quality gate: clusters less reproducible than MIN_STABILITY are not published
GATES = (Gate("stability", higher_is_better=True, limit=MIN_STABILITY),)
