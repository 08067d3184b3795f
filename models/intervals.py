"""Intervals for calibrated probabilities, and tiers that abstain.

Two parts, combined in quadrature on the log-odds scale (`interval`): the estimate's variance and the local
calibration. `group_bootstrap(groups, n_boot, seed)` resamples whole groups (accounts: their rows share one
renewal) with replacement; a caller refits its model on each resample (calibration included) and stacks
the calibrated log-odds of the rows to score (the draws' standard deviation: normal approximation,
steadier than percentiles with a dozen draws). Refits see only the estimate's variance, not how far the
true probability of an account may lie from a model that cannot tell it apart from similar ones; that is
judged on labelled neighbours (`calibration_sd`): the gap between their event rate and the model's mean
held-out prediction for them (the local misfit, `local_misfit_sd`) and the sampling error of that rate
itself, so a probability is taken to be known no better than the outcomes of the k most similar labelled
rows pin it down (the caller's k defines the range). Intervals are never outside (0, 1).
`abstaining_tier` gives the tier of the point estimate, or `uncertain` where the row is novel or the
interval straddles a tier boundary widely (the boundary lies in the middle `1 - 2 * edge` of the interval
on the log-odds scale; `edge_for(chance, level)` gives the edge at which the chance that the probability
lies beyond the boundary exceeds `chance`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

UNCERTAIN = "uncertain"


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


_logit = logit


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


def group_bootstrap(groups, n_boot: int, seed: int = 0) -> list[np.ndarray]:
    """`n_boot` row-index arrays, each the rows of a with-replacement sample of the groups."""
    g = np.asarray(groups)
    uniq, inv = np.unique(g, return_inverse=True)
    rows_of = np.split(np.argsort(inv, kind="stable"), np.cumsum(np.bincount(inv))[:-1])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        out.append(np.concatenate([rows_of[i] for i in pick]))
    return out


def _same_group_share(groups: np.ndarray) -> np.ndarray:
    """Per row of `groups` (n, k): sum over groups of (its share of the k neighbours) squared (1/k if all differ)."""
    g = np.sort(np.asarray(groups), axis=1)
    k = g.shape[1]
    out = np.empty(len(g))
    for i, row in enumerate(g):
        _, counts = np.unique(row, return_counts=True)
        out[i] = float((counts.astype(float) ** 2).sum()) / k**2
    return out


def _gap_and_noise(y_neighbors: np.ndarray, p_neighbors: np.ndarray,
                   groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per row: squared gap between the neighbours' event rate and mean prediction, and its binomial noise."""
    y, p = np.asarray(y_neighbors, dtype=float), np.asarray(p_neighbors, dtype=float)
    k = y.shape[1]
    gap = (y - p).mean(axis=1)
    share = _same_group_share(groups) if groups is not None else np.full(len(y), 1.0 / k)
    return gap ** 2, (p * (1 - p)).mean(axis=1) * share


def _to_log_odds(sd_prob: np.ndarray, p_rows: np.ndarray) -> np.ndarray:
    pr = np.clip(np.asarray(p_rows, dtype=float), 0.01, 0.99)
    return np.asarray(sd_prob, dtype=float) / (pr * (1 - pr))


def calibration_sd(y_neighbors: np.ndarray, p_neighbors: np.ndarray, p_rows: np.ndarray,
                   groups: np.ndarray | None = None) -> np.ndarray:
    """Log-odds sd of a score judged on held-out labelled neighbours (n, k): the local misfit (`local_misfit_sd`)
    and the sampling error of the neighbours' event rate itself, in quadrature (so never below the error a
    calibration on k outcomes carries)."""
    gap2, noise = _gap_and_noise(y_neighbors, p_neighbors, groups)
    return _to_log_odds(np.sqrt(np.clip(gap2 - noise, 0, None) + noise), p_rows)


def local_misfit_sd(y_neighbors: np.ndarray, p_neighbors: np.ndarray, p_rows: np.ndarray,
                    groups: np.ndarray | None = None) -> np.ndarray:
    """Log-odds sd of the model's local misfit: over each row's k labelled neighbours (shape (n, k)), the
    squared gap between the event rate and the mean predicted probability, less its binomial noise, floored
    at 0; converted to log-odds at the row's probability. The noise is mean p(1-p) / k, or, with `groups`
    (n, k: neighbours of one group share one outcome, e.g. an account's rows at several dates), mean p(1-p)
    x the sum of the groups' squared shares. It covers what refits cannot: a model whose form misses the
    truth misses it the same way on every resample."""
    gap2, noise = _gap_and_noise(y_neighbors, p_neighbors, groups)
    return _to_log_odds(np.sqrt(np.clip(gap2 - noise, 0, None)), p_rows)


def interval_sd(point_logit: np.ndarray, sd: np.ndarray | float, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) probabilities: point +- z(level) * sd on the log-odds scale."""
    z = norm.ppf(0.5 + level / 2)
    point, sd = np.asarray(point_logit, dtype=float), np.asarray(sd, dtype=float)
    return _sigmoid(point - z * sd), _sigmoid(point + z * sd)


def edge_for(chance: float, level: float) -> float:
    """The `edge` of `abstaining_tier` for a `level` interval (normal on the log-odds) at which a boundary inside
    the interval's middle part means more than `chance` that the probability lies on its other side."""
    if not 0 < chance < 0.5:
        raise ValueError("chance must lie between 0 and 0.5")
    return float(0.5 - norm.ppf(1 - chance) / (2 * norm.ppf(0.5 + level / 2)))


def interval(point_logit: np.ndarray, draws_logit: np.ndarray, level: float = 0.9,
             min_sd: float = 0.0, extra_sd: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) probabilities: point +- z(level) * sd on the log-odds scale, where sd combines the draws'
    spread (shape (n_draws, n)) and `extra_sd` (e.g. `local_misfit_sd`) in quadrature."""
    draws = np.asarray(draws_logit, dtype=float)
    if draws.ndim != 2 or draws.shape[0] < 2:
        raise ValueError("interval needs at least two bootstrap draws (shape (n_draws, n_rows))")
    sd = np.sqrt(np.maximum(draws.std(axis=0, ddof=1), min_sd) ** 2 + np.asarray(extra_sd, dtype=float) ** 2)
    z = norm.ppf(0.5 + level / 2)
    point = np.asarray(point_logit, dtype=float)
    return _sigmoid(point - z * sd), _sigmoid(point + z * sd)


def abstaining_tier(p: np.ndarray, low: np.ndarray, high: np.ndarray, tiers: Sequence[tuple[str, float]],
                    novel: np.ndarray | None = None, edge: float = 0.25) -> np.ndarray:
    """The tier of `p` (tiers: (name, lower bound) from the highest down), or `uncertain` for a novel row or
    one whose interval holds a tier boundary in its middle part (beyond `edge` of its width from each end)."""
    p = np.asarray(p, dtype=float)
    names = [t for t, _ in tiers]
    bounds = [b for _, b in tiers]
    tier = (np.select([p >= b for b in bounds[:-1]], names[:-1], names[-1]) if len(bounds) > 1
            else np.full(len(p), names[0])).astype(object)
    lo, hi = _logit(low), _logit(high)
    width = np.maximum(hi - lo, 1e-12)
    wide = np.zeros(len(p), dtype=bool)
    for b in bounds[:-1]:
        if b <= 0:
            continue
        lb = _logit(np.array(b))
        wide |= (lo + edge * width < lb) & (lb < hi - edge * width)
    if novel is not None:
        wide |= np.asarray(novel, dtype=bool)
    tier[wide] = UNCERTAIN
    return tier


def coverage(low: np.ndarray, high: np.ndarray, truth: np.ndarray) -> float:
    """Share of rows whose true probability lies inside [low, high]."""
    truth = np.asarray(truth, dtype=float)
    return float(np.mean((np.asarray(low) <= truth) & (truth <= np.asarray(high)))) if len(truth) else float("nan")


def nearest(reference: np.ndarray, rows: np.ndarray, k: int, max_reference: int = 5000, seed: int = 0) -> np.ndarray:
    """(n, k) positions in `reference` of each row's k nearest reference rows (Euclidean), searched among at
    most `max_reference` of them. With the rows' contributions to the model's log-odds as coordinates, the
    neighbours are rows the model treats alike: where its local misfit shows."""
    from sklearn.neighbors import NearestNeighbors

    ref = np.nan_to_num(np.asarray(reference, dtype=float))
    pick = np.random.default_rng(seed).permutation(len(ref))[:max_reference]
    k = min(k, len(pick))
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(ref[pick])
    _, ind = nn.kneighbors(np.nan_to_num(np.asarray(rows, dtype=float)))
    return pick[ind]
