"""The planted expansion and cross-sell propensity of the demo company.

Each month every live account has, for every product, a planted monthly probability of a won deal in
the next month: an expansion (more seats / allowance / volume) of a product it owns, or a cross-sell of
one it does not own. The probability is a known function of behaviour observable in that month's data
(capacity use of the product near its cap, jobs completed, the 3-month use trend, severe support cases,
segment, tenure, the account's industry). `p_180d = 1 - (1 - p_month) ** 6` is the planted probability
of a won deal within 180 days if behaviour stays as it is; it is stored in `truth_expansion`.
"""
from __future__ import annotations

import numpy as np

EXPANSION_DRIVERS = {
    "capacity_use": "capacity use of the product (consumption / capacity) near or above its cap",
    "job_completion": "share of the product's customer jobs completed, 3-month mean",
    "usage_trend": "3-month change of the product's capacity use",
    "support_load": "severity 1-2 support cases opened in the last 6 months",
    "segment": "larger segments expand more often",
}
CROSS_SELL_DRIVERS = {
    "job_completion": "jobs completed in the products the account owns",
    "capacity_use": "highest capacity use among the products it owns",
    "products_owned": "number of products owned",
    "industry": "industry affinity of the product",
    "support_load": "severity 1-2 support cases opened in the last 6 months",
}
SEGMENT_EFFECT = np.array([-0.3, 0.0, 0.35])  # SMB, Mid-Market, Enterprise
HORIZON_MONTHS = 6
TRUTH_MONTHS = 18  # months of planted probabilities kept in truth_expansion (the last before as_of)
EXPANSION_SHARE = 0.3  # an expansion adds 30% to the product's quantity
# industry x product affinity of cross-sells (log-odds); fixed, not drawn per seed
AFFINITY_SEED = 19


def affinity(n_industries: int, n_products: int) -> np.ndarray:
    return np.random.default_rng(AFFINITY_SEED).normal(0.0, 0.6, (n_industries, n_products))


def near_cap(use: np.ndarray) -> np.ndarray:
    """0 below 75% of the cap, rising to 1 at 115% and above."""
    return np.clip((np.nan_to_num(use) - 0.75) / 0.4, 0.0, 1.0)


def expansion_logit(use, trend, jobs, severe_6m, segment) -> np.ndarray:
    """Monthly log-odds of a won expansion of an owned product. Not additive: completing the product's
    jobs matters most where use is already near the cap."""
    c = near_cap(use)
    return (-6.1 + 2.0 * c + 1.3 * c * np.nan_to_num(jobs) + 2.5 * np.clip(np.nan_to_num(trend), -0.3, 0.3)
            + SEGMENT_EFFECT[segment] - 0.35 * np.minimum(severe_6m, 4))


def cross_sell_logit(jobs_owned, use_max, n_owned, affinity_k, severe_6m, segment) -> np.ndarray:
    """Monthly log-odds of a won cross-sell of a product not owned."""
    return (-6.0 + 1.6 * np.nan_to_num(jobs_owned) + 1.0 * near_cap(use_max) + 0.25 * (n_owned - 1)
            + affinity_k + SEGMENT_EFFECT[segment] - 0.35 * np.minimum(severe_6m, 4))


def horizon_probability(p_month: np.ndarray) -> np.ndarray:
    return 1.0 - (1.0 - p_month) ** HORIZON_MONTHS
