"""Scorecard section `adoption`: metrics stored with the active version, plus agreement with the
planted archetypes when the demo's `truth_adoption` table is present (the only reader of it here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.metrics import adjusted_rand_score
from sqlalchemy.engine import Engine

from services import db, registry
from services.adoption import tables as T

CLAIMS = {"Newly declining": "Declining"}  # a second name that still claims an archetype's name


def base_name(name: str) -> str:
    """The archetype name a cluster's name claims (without a counter such as " (2)")."""
    base = str(name).split(" (")[0]
    return CLAIMS.get(base, base)


def truth_agreement(membership: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """Agreement with the planted archetypes in the latest month (and the ARI over all months).

    Strict naming scores: for each cluster, the share of its accounts whose planted archetype carries the
    name the cluster claims (`name_precision`, per cluster); for each archetype, the share of its accounts
    that land in clusters claiming its name (`name_recall`, per archetype). An archetype no cluster is named
    after has recall 0. A cluster whose name claims no archetype ("Recovering": a trend, not a planted group)
    has no precision; it is listed under `name_unclaimed` with its size and its largest archetype."""
    m = membership.merge(truth, on=["account_id", "month"])
    if m.empty:
        return {}
    latest = m[m["month"] == m["month"].max()].assign(claimed=lambda d: d["cluster_name"].map(base_name))
    hit = latest["claimed"] == latest["expected_name"]
    claims = latest["claimed"].isin(set(truth["expected_name"]))
    precision = {f"{grp['cluster_name'].iloc[0]} [{cid}]": round(float(hit[grp.index].mean()), 4)
                 for cid, grp in latest[claims].groupby("cluster_id")}
    unclaimed = {f"{grp['cluster_name'].iloc[0]} [{cid}]": {
        "accounts": len(grp), "largest_archetype": str(grp["archetype"].mode().iloc[0]),
        "largest_share": round(float(grp["archetype"].value_counts(normalize=True).iloc[0]), 4)}
        for cid, grp in latest[~claims].groupby("cluster_id")}
    recall = {str(a): round(float(hit[grp.index].mean()), 4) for a, grp in latest.groupby("archetype")}
    return {
        "ari_vs_planted": round(float(adjusted_rand_score(latest["archetype"], latest["cluster_id"])), 4),
        "ari_vs_planted_all_months": round(float(adjusted_rand_score(m["archetype"], m["cluster_id"])), 4),
        "name_precision": precision, "name_recall": recall, "name_unclaimed": unclaimed,
        "name_precision_min": min(precision.values()), "name_recall_min": min(recall.values()),
    }


def section(engine: Engine) -> dict[str, Any]:
    metrics = registry.active_metrics(engine, T.MODEL)
    if not metrics:
        return {}
    out = {k: metrics.get(k) for k in ("k", "silhouette", "stability", "accounts", "latest_month", "mean_score")}
    if db.table_exists("truth_adoption", engine):
        membership = registry.read_results(engine, T.MEMBERSHIP)
        truth = db.read_table("truth_adoption", engine)
        truth["month"] = pd.to_datetime(truth["month"])
        out.update(truth_agreement(membership, truth))
    return out
