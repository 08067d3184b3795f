"""Split-conformal spread for the run-rate part of the forecast (bookings from pipeline not yet created).

The rolling-origin backtest gives, per hierarchy level, the ratio of actual fresh bookings to the
run-rate model's prediction at each origin. Those ratios are the conformity scores: a node's run-rate
paths are its prediction times draws from its level's empirical ratio distribution, rescaled to mean
exactly 1, so the point forecast (the mean of the paths) is unchanged and stays coherent across
levels, while P10/P90 get the spread the model actually showed out of sample.
"""
from __future__ import annotations

import numpy as np

MIN_SCORES = 8  # fewer calibration ratios than this: the level falls back to the caller's default


def ratio_scores(actual, predicted, min_predicted: float = 1000.0) -> np.ndarray:
    """actual / predicted for the nodes whose prediction is at least `min_predicted` (USD)."""
    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    if a.shape != p.shape:
        raise ValueError(f"actual and predicted differ in shape: {a.shape} vs {p.shape}")
    keep = p >= min_predicted
    return a[keep] / p[keep]


def factor_draws(scores: np.ndarray, n_paths: int, seed: int = 0) -> np.ndarray | None:
    """`n_paths` multiplicative factors with the scores' distribution (stratified quantiles, shuffled),
    rescaled to mean exactly 1. None when there are too few scores or they are all zero."""
    s = np.asarray(scores, float)
    s = s[np.isfinite(s)]
    if len(s) < MIN_SCORES or s.mean() <= 0:
        return None
    f = np.quantile(s, (np.arange(n_paths) + 0.5) / n_paths)
    f = f / f.mean()
    np.random.default_rng(seed).shuffle(f)
    return f
