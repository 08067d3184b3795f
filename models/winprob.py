"""Calibrated LightGBM probability that an open deal is won inside a target quarter.

One model covers both questions a forecast asks of a deal: will it be won, and will it close inside
the quarter (or slip). Each training row is a deal's state at an origin date plus a target quarter
h = 0, 1, 2 quarters ahead; the label is "won with close date in that quarter". The raw LightGBM
scores are calibrated by isotonic regression fitted on the latest fifth of the origins.
"""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score


class WinProbModel(ClassifierMixin, BaseEstimator):
    """`fit(X, y, groups=origin dates)`, `predict_proba(X)`; X holds numeric and category columns."""

    def __init__(self, n_estimators: int = 250, learning_rate: float = 0.05, num_leaves: int = 31,
                 min_child_samples: int = 40, calibration_share: float = 0.2, random_state: int = 0,
                 n_jobs: int = 1):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration_share = calibration_share
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _booster(self) -> lgb.LGBMClassifier:
        return lgb.LGBMClassifier(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                                  num_leaves=self.num_leaves, min_child_samples=self.min_child_samples,
                                  subsample=0.8, subsample_freq=1, colsample_bytree=0.9,
                                  random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1)

    def fit(self, X: pd.DataFrame, y, groups=None, sample_weight=None) -> WinProbModel:
        y = np.asarray(y, dtype=int)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if len(X) != len(y) or len(X) == 0:
            raise ValueError(f"need matching, non-empty X and y (got {len(X)} rows and {len(y)} labels)")
        if len(np.unique(y)) < 2:
            raise ValueError("the training labels hold a single class: not enough closed deals to learn from")
        X = self._prepare(X, fit=True)
        groups = np.zeros(len(X)) if groups is None else np.asarray(groups)
        order = np.sort(np.unique(groups))
        n_cal = round(len(order) * self.calibration_share)
        cal_mask = np.isin(groups, order[len(order) - n_cal:]) if n_cal else np.zeros(len(X), bool)
        if n_cal and len(np.unique(y[cal_mask])) == 2 and (~cal_mask).sum() > 0:
            first = self._booster().fit(X[~cal_mask], y[~cal_mask], sample_weight=w[~cal_mask])
            raw = first.predict_proba(X[cal_mask])[:, 1]
            self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(
                raw, y[cal_mask], sample_weight=w[cal_mask])
        else:
            self.calibrator_ = None
        self.booster_ = self._booster().fit(X, y, sample_weight=w)  # refit on everything; the calibrator maps its scores
        self.classes_ = np.array([0, 1])
        return self

    def _prepare(self, X: pd.DataFrame, fit: bool = False) -> pd.DataFrame:
        X = X.copy()
        if fit:
            self.categories_ = {c: sorted(X[c].astype(str).unique()) for c in X.columns
                                if X[c].dtype == object or isinstance(X[c].dtype, pd.CategoricalDtype)}
            self.feature_names_in_ = np.array(X.columns)
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"missing feature columns: {missing}")
        X = X[list(self.feature_names_in_)]
        for c, cats in self.categories_.items():
            X[c] = pd.Categorical(X[c].astype(str), categories=cats)
        return X

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.booster_.predict_proba(self._prepare(X))[:, 1]
        p = self.calibrator_.predict(raw) if self.calibrator_ is not None else raw
        p = np.clip(p, 0.0, 1.0)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def expected_calibration_error(y, p, bins: int = 10) -> float:
    """Weighted mean |observed rate - mean probability| over equal-width probability bins."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    if len(y) == 0:
        raise ValueError("no predictions to calibrate-check")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(idx):
        m = idx == b
        total += m.sum() * abs(y[m].mean() - p[m].mean())
    return float(total / len(y))


def auc(y, p) -> float:
    y = np.asarray(y)
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
