"""How well a row fits its k-means cluster: distance to each centroid relative to the cluster's spread.

`ClusterFit.fit(Z, labels, centers)` (scaled space, the rows k-means was fitted on) stores each cluster's
spread, the `quantile` of its members' distances to their centroid. `ratios(Z)` is every row's distance to
every centroid over that centroid's spread; a row whose smallest ratio is above 1 lies farther from every
centroid than nearly all of that cluster's members: "unlike any group", rather than forced into one. With
`quantile` 0.99 about 1% of the fitted rows are (at most) flagged. scikit-learn estimator contract.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted


class ClusterFit(BaseEstimator):
    def __init__(self, quantile: float = 0.99) -> None:
        self.quantile = quantile

    def fit(self, Z: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> ClusterFit:
        Z, labels, centers = np.asarray(Z, float), np.asarray(labels), np.asarray(centers, float)
        d = np.linalg.norm(Z - centers[labels], axis=1)
        overall = float(np.quantile(d, self.quantile)) if len(d) else 1.0
        self.spread_ = np.array([np.quantile(d[labels == j], self.quantile) if (labels == j).sum() >= 5 else overall
                                 for j in range(len(centers))])
        self.spread_ = np.where(self.spread_ > 1e-9, self.spread_, max(overall, 1e-9))
        self.centers_ = centers
        return self

    def ratios(self, Z: np.ndarray) -> np.ndarray:
        """(n, k): distance to each centroid over its cluster's spread."""
        check_is_fitted(self, "spread_")
        d = np.linalg.norm(np.asarray(Z, float)[:, None, :] - self.centers_[None, :, :], axis=2)
        return d / self.spread_[None, :]

    def unlike_any(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the smallest ratio per row, True where it is above 1)."""
        r = self.ratios(Z).min(axis=1)
        return r, r > 1.0
