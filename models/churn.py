"""Churn classifier: LightGBM with Platt calibration on a later slice, and a logistic baseline.

scikit-learn estimator contract: hyper-parameters in `__init__`, `fit` returns self, fitted state
ends in `_`. Platt scaling is an affine map of the raw log-odds, so the calibrated log-odds are
`a * raw + b` and per-feature contributions of the raw model stay additive after calibration.
"""
from __future__ import annotations

import logging

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

log = logging.getLogger(__name__)


def _categoricals(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]


def prepare(X: pd.DataFrame, categories: dict[str, list] | None = None) -> tuple[pd.DataFrame, dict[str, list]]:
    """Numeric columns as float, the others as pandas categoricals with fixed categories."""
    X = X.copy()
    cats = dict(categories or {})
    for c in _categoricals(X) if categories is None else list(cats):
        if categories is None:
            cats[c] = sorted(X[c].dropna().astype(str).unique())
        X[c] = pd.Categorical(X[c].astype("string").astype(object).where(X[c].notna()), categories=cats[c])
    for c in X.columns:
        if c not in cats:
            X[c] = pd.to_numeric(X[c], errors="coerce").astype(float)
    return X, cats


class ChurnClassifier(BaseEstimator, ClassifierMixin):
    """LightGBM churn model; `fit(X, y, X_cal, y_cal)` calibrates on a later slice (Platt)."""

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.03, num_leaves: int = 15,
                 min_child_samples: int = 50, subsample: float = 0.8, colsample_bytree: float = 0.8,
                 reg_lambda: float = 1.0, n_jobs: int = 2, random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y, X_cal: pd.DataFrame | None = None, y_cal=None) -> ChurnClassifier:
        y = np.asarray(y).astype(int)
        if len(np.unique(y)) != 2:
            raise ValueError("the churn label needs both classes (0 and 1) in the training rows")
        Xp, self.categories_ = prepare(X)
        self.feature_names_ = list(X.columns)
        self.booster_ = lgb.LGBMClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=self.subsample, subsample_freq=1,
            colsample_bytree=self.colsample_bytree, reg_lambda=self.reg_lambda, n_jobs=self.n_jobs,
            random_state=self.random_state, verbose=-1).fit(Xp, y)
        self.calibration_ = (1.0, 0.0)
        if X_cal is not None and len(X_cal):
            raw = self.decision_function(X_cal).reshape(-1, 1)
            lr = LogisticRegression(C=1e6).fit(raw, np.asarray(y_cal).astype(int))
            self.calibration_ = (float(lr.coef_[0, 0]), float(lr.intercept_[0]))
        self.classes_ = np.array([0, 1])
        return self

    def transform_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise ValueError(f"missing feature columns: {', '.join(missing)}")
        return prepare(X[self.feature_names_], self.categories_)[0]

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Raw (uncalibrated) LightGBM log-odds."""
        return self.booster_.booster_.predict(self.transform_frame(X), raw_score=True)

    def calibrated_logit(self, raw: np.ndarray) -> np.ndarray:
        a, b = self.calibration_
        return a * np.asarray(raw) + b

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.calibrated_logit(self.decision_function(X))))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def logistic_baseline(X: pd.DataFrame) -> object:
    """Plain logistic regression: median imputation, scaling, one-hot categoricals (unfitted pipeline)."""
    cats = _categoricals(X)
    nums = [c for c in X.columns if c not in cats]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()), nums),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), cats),
    ])
    return make_pipeline(pre, LogisticRegression(max_iter=2000))


def as_baseline_input(X: pd.DataFrame) -> pd.DataFrame:
    X = X.copy()
    for c in _categoricals(X):
        X[c] = X[c].astype("string").astype(object).where(X[c].notna(), "missing")
    return X
