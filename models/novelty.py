"""Per-row novelty: how unlike the training rows a row is, and which features make it so.

Three parts, each on robust-scaled features (median and IQR of the training rows; heavy-tailed
non-negative columns on a log scale), each divided by its own high quantile on held-out training-like rows:

- **out of range**: how far each numeric value lies beyond the training rows' minimum or maximum, in
  spreads (IQR / 1.349), less a small tolerance; summed over features;
- **unseen value**: a categorical value no training row had;
- **unusual combination**: the mean distance to the `n_neighbors` nearest training rows, with values
  clipped to the training range (so this part sees combinations, the first sees extremes).

The score is the largest of the parts; `threshold_` is its `1 - contamination` quantile on held-out rows,
whose groups (e.g. accounts) the reference never saw, so about `contamination` of training-like rows are
flagged. A categorical column known on fewer than `min_coverage` of the training rows is left out. `novelty` = score / threshold (>= 1: flagged). `attributions` splits each row's leading part per
feature (excess beyond the range, unseen value, or share of the squared neighbour distance).

scikit-learn estimator contract: hyper-parameters in `__init__`, `fit` returns self, state ends in `_`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted

PARTS = ("out_of_range", "unseen_value", "unusual_combination")


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


class NoveltyScorer(BaseEstimator):
    """`fit(X, groups=None)`; `score_frame(X)` -> novelty, flag, leading part and top features per row."""

    def __init__(self, n_neighbors: int = 10, contamination: float = 0.01, held_out_share: float = 0.2,
                 max_reference: int = 5000, range_tolerance: float = 0.25, min_range_scale: float = 0.5,
                 part_quantile: float = 0.995, min_coverage: float = 0.5, random_state: int = 0) -> None:
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.held_out_share = held_out_share
        self.max_reference = max_reference
        self.range_tolerance = range_tolerance
        self.min_range_scale = min_range_scale
        self.part_quantile = part_quantile
        self.min_coverage = min_coverage
        self.random_state = random_state

    # --- fitting -------------------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, groups=None) -> NoveltyScorer:
        if len(X) < 20:
            raise ValueError("novelty needs at least 20 training rows")
        X = X.reset_index(drop=True)
        rng = np.random.default_rng(self.random_state)
        g = np.asarray(groups) if groups is not None else np.arange(len(X))
        uniq = pd.unique(g)
        held_groups = uniq[rng.random(len(uniq)) < self.held_out_share]
        held = pd.Series(g).isin(held_groups).to_numpy()
        if held.sum() < 10 or (~held).sum() < 10:
            held = rng.random(len(X)) < self.held_out_share
        self.feature_names_ = list(X.columns)
        ref = X[~held]
        # a categorical column known on few training rows (say, one recorded only recently) cannot tell a new
        # value from a value the history simply lacks: left out
        cats = [c for c in X.columns if _is_categorical(X[c])]
        self.categorical_ = [c for c in cats if ref[c].notna().mean() >= self.min_coverage]
        self.ignored_ = [c for c in cats if c not in self.categorical_]
        self.numeric_ = [c for c in X.columns if c not in cats]
        num = ref[self.numeric_].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        q = np.nanquantile(num, [0.01, 0.25, 0.5, 0.75, 0.99], axis=0) if len(self.numeric_) else np.zeros((5, 0))
        mn = np.nanmin(num, axis=0) if len(self.numeric_) else np.zeros(0)
        self.log_ = (mn >= 0) & (q[3] > 0) & (q[4] > 20 * np.maximum(q[2], 1e-9))
        t = self._log(num)
        qt = np.nanquantile(t, [0.25, 0.5, 0.75], axis=0) if len(self.numeric_) else np.zeros((3, 0))
        scale = (qt[2] - qt[0]) / 1.349
        sd = np.nanstd(t, axis=0) if len(self.numeric_) else np.zeros(0)
        scale = np.where(scale > 1e-9, scale, np.where(sd > 1e-9, sd, 1.0))
        self.center_, self.scale_ = np.nan_to_num(qt[1]), scale
        z = self._z(num)
        self.low_, self.high_ = np.nanmin(z, axis=0, initial=np.inf), np.nanmax(z, axis=0, initial=-np.inf)
        self.low_, self.high_ = np.where(np.isfinite(self.low_), self.low_, 0), np.where(
            np.isfinite(self.high_), self.high_, 0)
        self.seen_ = {c: set(ref[c].dropna().astype(str)) for c in self.categorical_}
        pick = rng.permutation(len(ref))[: self.max_reference]
        self.reference_ = self._clipped(z[pick])
        self.reference_rows_ = np.flatnonzero(~held)[pick]  # positions in the X given to fit
        k = min(self.n_neighbors, len(self.reference_))
        self.nn_ = NearestNeighbors(n_neighbors=k).fit(self.reference_)
        parts, _ = self._parts(X[held])
        floor = np.array([self.min_range_scale, 0.5, 1e-9])
        self.part_scale_ = np.maximum(np.quantile(parts, self.part_quantile, axis=0), floor)
        score = (parts / self.part_scale_).max(axis=1)
        self.threshold_ = float(max(np.quantile(score, 1 - self.contamination), 1e-9))
        self.n_reference_, self.n_held_out_ = int((~held).sum()), int(held.sum())
        return self

    def _log(self, num: np.ndarray) -> np.ndarray:
        out = num.copy()
        out[:, self.log_] = np.log1p(np.clip(out[:, self.log_], 0, None))
        return out

    def _z(self, num: np.ndarray) -> np.ndarray:
        return (self._log(num) - self.center_) / self.scale_

    def _clipped(self, z: np.ndarray) -> np.ndarray:
        return np.nan_to_num(np.clip(z, self.low_, self.high_), nan=0.0)

    def _parts(self, X: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(n, 3) raw parts and per-feature pieces of each."""
        num = X[self.numeric_].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        z = self._z(num)
        excess = np.nan_to_num(np.maximum(z - self.high_, self.low_ - z) - self.range_tolerance, nan=0.0)
        excess = np.clip(excess, 0, None)
        unseen = np.column_stack([~X[c].astype("string").fillna("").isin(self.seen_[c] | {""}).to_numpy()
                                  for c in self.categorical_]).astype(float) if self.categorical_ \
            else np.zeros((len(X), 0))
        zc = self._clipped(z)
        sq = np.zeros_like(zc)
        if len(X):
            _, ind = self.nn_.kneighbors(zc)
            sq = ((zc[:, None, :] - self.reference_[ind]) ** 2).mean(axis=1)
        knn = np.sqrt(sq.sum(axis=1))
        parts = np.column_stack([excess.sum(axis=1), unseen.sum(axis=1), knn])
        return parts, {"out_of_range": excess, "unseen_value": unseen, "unusual_combination": sq}

    # --- scoring -------------------------------------------------------------------------------------------
    def neighbors(self, X: pd.DataFrame, k: int) -> np.ndarray:
        """(n, k) positions (in the X given to `fit`) of each row's k nearest reference rows."""
        check_is_fitted(self, "threshold_")
        num = X[self.numeric_].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        k = min(k, len(self.reference_))
        _, ind = self.nn_.kneighbors(self._clipped(self._z(num)), n_neighbors=k)
        return self.reference_rows_[ind]

    def score_samples(self, X: pd.DataFrame) -> np.ndarray:
        """Novelty of each row: its largest normalised part over the threshold (>= 1: flagged)."""
        check_is_fitted(self, "threshold_")
        parts, _ = self._parts(X[self.feature_names_])
        return (parts / self.part_scale_).max(axis=1) / self.threshold_

    def score_frame(self, X: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """novelty, novel (flag), part (the leading one) and its `top` features with their share, per row."""
        check_is_fitted(self, "threshold_")
        X = X[self.feature_names_].reset_index(drop=True)
        parts, pieces = self._parts(X)
        norm = parts / self.part_scale_
        lead = norm.argmax(axis=1)
        novelty = norm.max(axis=1) / self.threshold_
        names = {"out_of_range": self.numeric_, "unseen_value": self.categorical_,
                 "unusual_combination": self.numeric_}
        z = self._z(X[self.numeric_].apply(pd.to_numeric, errors="coerce").to_numpy(float))
        feats, shares, direction = [], [], []
        for i, p in enumerate(lead):
            part = PARTS[p]
            w = pieces[part][i]
            order = [j for j in np.argsort(-w)[:top] if w[j] > 0]
            cols = names[part]
            feats.append([cols[j] for j in order])
            shares.append([float(w[j] / w.sum()) for j in order])
            direction.append(["unseen" if part == "unseen_value" else ("above" if z[i, j] > 0 else "below")
                              for j in order])
        return pd.DataFrame({"novelty": novelty, "novel": novelty > 1.0, "part": [PARTS[p] for p in lead],
                             "features": feats, "shares": shares, "direction": direction})

    def attributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature pieces of each row's leading part (rows x features, zeros elsewhere)."""
        check_is_fitted(self, "threshold_")
        X = X[self.feature_names_].reset_index(drop=True)
        parts, pieces = self._parts(X)
        lead = (parts / self.part_scale_).argmax(axis=1)
        out = pd.DataFrame(0.0, index=X.index, columns=self.feature_names_)
        for p, part in enumerate(PARTS):
            rows = lead == p
            cols = self.categorical_ if part == "unseen_value" else self.numeric_
            if rows.any() and cols:
                out.loc[rows, cols] = pieces[part][rows]
        return out
