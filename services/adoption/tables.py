"""Adoption's result tables (model `adoption`), declared once."""
from __future__ import annotations

from services.results import Column as C
from services.results import ResultTable

MODEL = "adoption"
_SIGNALS = (
    C("seat_use", "float", "capacity use of per-seat products (active users / seats), ARR-weighted"),
    C("volume_use", "float", "capacity use of consumption-priced products (usage / allowance or contracted volume)"),
    C("breadth", "float", "share of the product's features used (3-month mean)"),
    C("job_completion", "float", "share of the product's customer jobs completed (3-month mean)"),
    C("use_trend", "float", "3-month relative change of capacity use"),
)

SIGNALS = ResultTable(
    "adoption_signals", MODEL, "Adoption signals and net adoption score per account and month.",
    (C("account_id", "text"), C("month", "date", "first day of the month"), *_SIGNALS,
     C("breadth_trend", "float", "3-month change of breadth"), C("capacity_use", "float", "capacity use, all families"),
     C("arr_usd", "float"), C("score", "float", "net adoption score, 0-100"),
     C("score_trend", "float", "3-month change of the score")),
    keys=("month", "account_id"), indexes=(("account_id",),))
MEMBERSHIP = ResultTable(
    "adoption_membership", MODEL,
    "Cluster of each account in each of the last 13 complete usage months (read by the churn features).",
    (C("account_id", "text"), C("month", "date", "first day of the month"),
     C("cluster_id", "int", "stable across retrains by centroid matching"), C("cluster_name", "text")),
    keys=("month", "account_id"), indexes=(("account_id",),))
CLUSTERS = ResultTable(
    "adoption_clusters", MODEL, "One row per cluster: name, description, centroid (signal units), size, ARR, score.",
    (C("cluster_id", "int"), C("name", "text"), C("description", "text"), *_SIGNALS,
     C("n_accounts", "int"), C("arr_usd", "float"), C("score", "float", "mean net adoption score")),
    keys=("cluster_id",))
PRODUCT_SIGNALS = ResultTable(
    "adoption_product_signals", MODEL, "Latest month per account x product (per-product distributions).",
    (C("account_id", "text"), C("product_id", "text"), C("capacity_use", "float"), C("breadth", "float"),
     C("job_completion", "float"), C("arr_usd", "float")),
    keys=("account_id",))
FIT = ResultTable(
    "adoption_fit", MODEL,
    "How well each account fits its cluster at the latest month (`services/adoption/fit.py`): distance to the "
    "centroid over the cluster's spread (99th percentile of its members' distances).",
    (C("account_id", "text"), C("month", "date"), C("cluster_id", "int"),
     C("distance_ratio", "float", "distance to its own centroid / that cluster's spread"),
     C("nearest_ratio", "float", "the smallest such ratio over all centroids"),
     C("unlike_any_group", "bool", "farther than the spread from every centroid: not like any cluster")),
    keys=("account_id",))
