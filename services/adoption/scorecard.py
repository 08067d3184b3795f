"""Scorecard section `adoption`: metrics stored with the active version, plus agreement with the
planted archetypes when the demo's `truth_adoption` table is present (the only reader of it here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.metrics import adjusted_rand_score
from sqlalchemy.engine import Engine

from services import db, registry
from services.adoption import tables as T


def truth_agreement(membership: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """ARI against the planted archetypes (latest month, and all months) and the share of archetypes
    whose best-matching cluster (highest Jaccard overlap) carries the expected name."""
    m = membership.merge(truth, on=["account_id", "month"])
    if m.empty:
        return {}
    latest = m[m["month"] == m["month"].max()]
    names_ok = []
    for archetype, grp in latest.groupby("archetype"):
        a = set(grp["account_id"])
        best, best_j = None, -1.0
        for cid, cgrp in latest.groupby("cluster_id"):
            c = set(cgrp["account_id"])
            j = len(a & c) / len(a | c)
            if j > best_j:
                best, best_j = cgrp["cluster_name"].iloc[0], j
        names_ok.append(best == grp["expected_name"].iloc[0])
    return {
        "ari_vs_planted": round(float(adjusted_rand_score(latest["archetype"], latest["cluster_id"])), 4),
        "ari_vs_planted_all_months": round(float(adjusted_rand_score(m["archetype"], m["cluster_id"])), 4),
        "names_match_planted": round(sum(names_ok) / len(names_ok), 4),
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
