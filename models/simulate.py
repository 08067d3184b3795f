"""Monte-Carlo over deal outcomes and not-yet-created bookings, summed bottom-up so every level agrees.

Leaves are (rep, product). Each simulated path draws every open deal as won (its full amount) or not
with its probability, and (when no conformal factors are available, see models/conformal.py) each
leaf's not-yet-created bookings as a compound Poisson sum of deal sizes drawn from the product's
recent won deals, with the run-rate model's mean. Node paths are sums
of leaf paths, so the point forecast (the mean of the paths) of a parent equals the sum of its
children's exactly; P10/P90 are quantiles of each node's own paths.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

DEAL_CHUNK = 4000


def leaf_paths(n_leaves: int, deal_leaf: np.ndarray, deal_amount: np.ndarray, deal_p: np.ndarray,
               rr_mean: np.ndarray, rr_sizes: list[np.ndarray], n_paths: int = 1000,
               seed: int = 0) -> np.ndarray:
    """Simulated totals, shape (n_leaves, n_paths): open deals plus the run-rate part of each leaf.

    rr_mean[l] is the expected run-rate amount of leaf l and rr_sizes[l] the deal sizes to draw from."""
    if not (len(deal_leaf) == len(deal_amount) == len(deal_p)):
        raise ValueError("deal arrays must have one entry per deal")
    if np.any((deal_p < 0) | (deal_p > 1)):
        raise ValueError("deal probabilities must lie in [0, 1]")
    rng = np.random.default_rng(seed)
    out = np.zeros((n_leaves, n_paths))
    for start in range(0, len(deal_leaf), DEAL_CHUNK):
        sl = slice(start, start + DEAL_CHUNK)
        leaf, amt, p = deal_leaf[sl], deal_amount[sl], deal_p[sl]
        won = rng.random((len(leaf), n_paths)) < p[:, None]
        ind = sparse.csr_matrix((np.ones(len(leaf)), (leaf, np.arange(len(leaf)))), shape=(n_leaves, len(leaf)))
        out += ind @ (won * amt[:, None])
    for i in np.flatnonzero(rr_mean > 0):
        sizes = rr_sizes[i]
        if len(sizes) == 0:
            out[i] += rr_mean[i]
            continue
        lam = rr_mean[i] / sizes.mean()
        counts = rng.poisson(lam, n_paths)
        draws = rng.choice(sizes, counts.sum())
        out[i] += np.bincount(np.repeat(np.arange(n_paths), counts), weights=draws, minlength=n_paths)
    return out


def node_summary(paths: np.ndarray, membership: sparse.csr_matrix, quantiles=(0.1, 0.9)) -> pd.DataFrame:
    """Mean and quantiles per node; membership is (n_nodes, n_leaves) with 1 where a leaf is under a node."""
    return summarize(membership @ paths, quantiles)


def summarize(node_paths: np.ndarray, quantiles=(0.1, 0.9)) -> pd.DataFrame:
    """Mean and quantiles of each row of a (n_nodes, n_paths) matrix of simulated totals."""
    q = np.quantile(node_paths, quantiles, axis=1)
    return pd.DataFrame({"mean": node_paths.mean(1), "p10": q[0], "p90": q[1]})
