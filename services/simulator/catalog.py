"""Products and metric catalog of the demo company.

Three products on three business models. Every product has one capacity metric, one consumption
metric in the same unit, and four feature metrics grouped into two customer jobs. Nothing outside the
simulator knows these names: models read the catalog.
"""
from __future__ import annotations

import pandas as pd

# product_id, name, pricing_model, capacity (id, name, unit), consumption (id, name, unit),
# value metrics, jobs -> features
PRODUCTS = [
    {
        "product_id": "PRD-CRM", "name": "Pipeline CRM", "pricing_model": "per_seat",
        "capacity": ("crm_seats", "Licensed seats", "seats"),
        "consumption": ("crm_mau", "Monthly active users", "seats"),
        "value": [],
        "jobs": {
            "Manage pipeline": [("crm_deals", "Deal boards"), ("crm_activities", "Activity logging")],
            "Forecast revenue": [("crm_forecasts", "Forecast roll-ups"), ("crm_dashboards", "Dashboards")],
        },
        "unit_price_usd": {"SMB": 540.0, "Mid-Market": 660.0, "Enterprise": 780.0},  # per seat-year
        "size": {"SMB": 12.0, "Mid-Market": 60.0, "Enterprise": 320.0},  # median seats
    },
    {
        "product_id": "PRD-MKT", "name": "Campaign Studio", "pricing_model": "allowance",
        "capacity": ("mkt_allowance", "Monthly message allowance", "messages"),
        "consumption": ("mkt_messages", "Messages sent", "messages"),
        "value": [],
        "jobs": {
            "Run campaigns": [("mkt_email", "Email campaigns"), ("mkt_segments", "Audience segments")],
            "Automate journeys": [("mkt_journeys", "Journey builder"), ("mkt_abtests", "A/B tests")],
        },
        "unit_price_usd": {"SMB": 0.012, "Mid-Market": 0.010, "Enterprise": 0.008},  # per message-month x12
        "size": {"SMB": 25_000.0, "Mid-Market": 120_000.0, "Enterprise": 800_000.0},
    },
    {
        "product_id": "PRD-COM", "name": "Storefront Commerce", "pricing_model": "usage_value",
        "capacity": ("com_contracted_gmv", "Contracted monthly GMV", "usd"),
        "consumption": ("com_gmv", "GMV transacted", "usd"),
        "value": [("com_orders", "Orders", "orders")],
        "jobs": {
            "Sell online": [("com_checkout", "Hosted checkout"), ("com_catalog", "Catalog sync")],
            "Grow basket": [("com_promotions", "Promotions"), ("com_recommendations", "Recommendations")],
        },
        "unit_price_usd": {"SMB": 0.004, "Mid-Market": 0.0035, "Enterprise": 0.003},  # share of GMV x12
        "size": {"SMB": 60_000.0, "Mid-Market": 350_000.0, "Enterprise": 2_500_000.0},
    },
]


def products_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [{k: p[k] for k in ("product_id", "name", "pricing_model")} for p in PRODUCTS]
    )


def metric_catalog_frame() -> pd.DataFrame:
    rows = []
    for p in PRODUCTS:
        pid = p["product_id"]
        mid, name, unit = p["capacity"]
        rows.append((mid, pid, name, f"{name} under contract this month", unit, "capacity", None, True))
        mid, name, unit = p["consumption"]
        rows.append((mid, pid, name, f"{name} this month", unit, "consumption", None, True))
        for mid, name, unit in p["value"]:
            rows.append((mid, pid, name, f"{name} this month", unit, "value", None, True))
        for job, feats in p["jobs"].items():
            for mid, name in feats:
                rows.append((mid, pid, name, f"Monthly uses of {name.lower()}", "uses", "feature", job, True))
    return pd.DataFrame(
        rows,
        columns=["metric_id", "product_id", "name", "description", "unit", "role", "job", "higher_is_better"],
    )


def feature_ids(product: dict) -> list[str]:
    return [mid for feats in product["jobs"].values() for mid, _ in feats]
