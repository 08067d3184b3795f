"""Customer accounts of the demo company: when they arrive, who owns them, their size and price."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .catalog import PRODUCTS
from .org import REGION_WEIGHTS, REGIONS

SEGMENTS = np.array(["SMB", "Mid-Market", "Enterprise"])
SEGMENT_P = np.array([0.55, 0.30, 0.15])
INDUSTRIES = np.array(["Software", "Retail", "Financial services", "Healthcare", "Manufacturing",
                       "Media", "Education", "Logistics", "Hospitality", "Professional services"])
CASE_RATE = np.array([0.10, 0.22, 0.50])
WORDS_A = np.array(["Blue", "North", "Bright", "Silver", "Quantum", "Green", "Iron", "Lumen", "Nova",
                    "Cedar", "Summit", "Harbor", "Vertex", "Atlas", "Echo", "Pioneer"])
WORDS_B = np.array(["Labs", "Systems", "Foods", "Health", "Logistics", "Retail", "Media", "Works",
                    "Capital", "Partners", "Dynamics", "Networks", "Goods", "Studios"])
PRE_WINDOW_SHARE = 0.45
GROWTH_PER_YEAR = 0.15
MONTH_OF_QUARTER = np.array([0.80, 0.90, 1.30])
Q4_BOOST = 1.25


def fiscal_month(month: np.ndarray, fiscal_start: int = 1) -> np.ndarray:
    """Month of the fiscal year (0 = its first month) of months counted from 1970-01 (`datetime64[M]` as int)."""
    return (np.asarray(month).astype(int) - (fiscal_start - 1)) % 12


def seasonal_weights(base_month: np.datetime64, months_total: int, fiscal_start: int = 1) -> np.ndarray:
    """Relative bookings intensity per month: growth, fiscal quarter-end peaks and a fiscal Q4 peak."""
    m = np.arange(months_total)
    fm = fiscal_month(base_month + m, fiscal_start)  # 0 = the fiscal year's first month (January by default)
    w = (1 + GROWTH_PER_YEAR) ** (m / 12) * MONTH_OF_QUARTER[fm % 3] * np.where(fm >= 9, Q4_BOOST, 1.0)
    return w / w.sum()


def make_accounts(rng, n: int, people: pd.DataFrame, base_month: np.datetime64, months_total: int,
                  fiscal_start: int = 1) -> dict:
    """Per-account arrays used by the lifecycle; `n` customers in all (some arrive after as_of)."""
    acc: dict = {"n": n}
    pre = rng.random(n) < PRE_WINDOW_SHARE
    w = seasonal_weights(base_month, months_total, fiscal_start)
    created = np.where(pre, -rng.integers(1, 73, n), rng.choice(months_total, size=n, p=w))
    fm = fiscal_month(base_month + created, fiscal_start)
    late = rng.integers(1, 29, n)
    skew = 1 + np.floor(27.99 * rng.beta(2.5, 1, n)).astype(int)
    acc["created_month"] = created
    acc["day"] = np.where(fm % 3 == 2, skew, late)  # deals in a quarter's last month close late in it
    acc["segment"] = rng.choice(3, size=n, p=SEGMENT_P)
    acc["region"] = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS)
    reps = people[people.role == "rep"].reset_index(drop=True)
    prod = rng.lognormal(0, 0.35, len(reps))
    acc["rep_productivity"] = prod
    owner = np.empty(n, dtype=np.int64)
    for r, region in enumerate(REGIONS):
        who = np.flatnonzero(reps.region.to_numpy() == region)
        sel = acc["region"] == r
        owner[sel] = rng.choice(who, size=sel.sum(), p=prod[who] / prod[who].sum())
    acc["owner_idx"] = owner
    acc["owner_ids"] = reps.person_id.to_numpy()
    acc["n_owners"] = len(reps)
    csms = people[people.role == "csm"].reset_index(drop=True)
    csm = np.empty(n, dtype=object)
    for region in REGIONS:
        who = csms.person_id.to_numpy()[csms.region.to_numpy() == region]
        sel = np.asarray(REGIONS)[acc["region"]] == region
        csm[sel] = rng.choice(who, size=sel.sum())
    acc["csm_id"] = csm
    K = len(PRODUCTS)
    seg = acc["segment"]
    size = np.empty((n, K))
    unit_price = np.empty((n, K))
    for k, p in enumerate(PRODUCTS):
        med = np.array([p["size"][s] for s in SEGMENTS])[seg]
        sigma = np.where(seg == 2, 0.8, 0.5)
        x = med * rng.lognormal(0, sigma) * np.where(rng.random(n) < 0.02, 4.0, 1.0)
        size[:, k] = np.maximum(3, np.round(x)) if p["pricing_model"] == "per_seat" else np.round(x, -3) + 1000
        yearly = 1.0 if p["pricing_model"] == "per_seat" else 12.0
        unit_price[:, k] = np.array([p["unit_price_usd"][s] for s in SEGMENTS])[seg] * yearly
    acc["planned_qty"] = size
    acc["unit_price"] = unit_price
    init = np.zeros((n, K), dtype=bool)
    init[:, 0] = True
    init[:, 1:] = rng.random((n, K - 1)) < np.array([0.25, 0.15])[: K - 1]
    acc["initial_products"] = init
    acc["case_rate"] = CASE_RATE[seg] * rng.lognormal(0, 0.5, n)
    acc["aov"] = 60 * rng.lognormal(0, 0.3, n)
    acc["industry"] = rng.choice(INDUSTRIES, size=n)
    acc["name"] = np.char.add(np.char.add(rng.choice(WORDS_A, n), " "), rng.choice(WORDS_B, n))

    def month_day(m, d):
        return ((base_month + np.asarray(m)).astype("datetime64[D]") + (np.asarray(d) - 1)).astype(np.int64)

    acc["month_day"] = month_day
    return acc
