"""Expansion propensity: LightGBM on account x product rows, Platt-calibrated on a later slice.

The raw output is LightGBM's log-odds (explained exactly by TreeSHAP through `models.explain.
model_contributions`: `booster_` is the fitted `LGBMClassifier`, `transform_frame` the frame it saw);
the calibrated log-odds are `a * raw + b`, an affine map, so contributions stay additive. The number of
trees is chosen by early stopping on the calibration slice. scikit-learn estimator contract. One thread by
default: on a shared machine LightGBM's OpenMP threads slow down by an order of magnitude under contention.
"""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from models.churn import prepare


class ExpansionClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, num_leaves: int = 4, n_estimators: int = 1500, learning_rate: float = 0.03,
                 min_child_samples: int = 200, colsample_bytree: float = 0.7, reg_lambda: float = 1.0,
                 random_state: int = 0, n_jobs: int = 1):
        self.num_leaves = num_leaves
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _lgb(self, n_estimators: int) -> lgb.LGBMClassifier:
        return lgb.LGBMClassifier(num_leaves=self.num_leaves, n_estimators=n_estimators,
                                  learning_rate=self.learning_rate, min_child_samples=self.min_child_samples,
                                  colsample_bytree=self.colsample_bytree, reg_lambda=self.reg_lambda,
                                  random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1)

    def fit(self, X: pd.DataFrame, y, X_cal: pd.DataFrame, y_cal) -> ExpansionClassifier:
        self.feature_names_ = list(X.columns)
        Xf, self.categories_ = prepare(X)
        Xc = self.transform_frame(X_cal)
        probe = self._lgb(self.n_estimators).fit(
            Xf, np.asarray(y), eval_X=(Xc,), eval_y=(np.asarray(y_cal),), eval_metric="binary_logloss",
            callbacks=[lgb.early_stopping(50, verbose=False)])
        self.n_trees_ = int(probe.best_iteration_ or self.n_estimators)
        self.booster_ = self._lgb(self.n_trees_).fit(Xf, np.asarray(y))
        raw = self.decision_function(X_cal)
        platt = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), np.asarray(y_cal))
        self.calibration_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        self.classes_ = np.array([0, 1])
        return self

    def transform_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        return prepare(X[self.feature_names_], self.categories_)[0]

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Raw log-odds (what the contributions add up to)."""
        check_is_fitted(self, "booster_")
        return self.booster_.predict(self.transform_frame(X), raw_score=True)

    def calibrated_logit(self, raw: np.ndarray) -> np.ndarray:
        a, b = self.calibration_
        return a * np.asarray(raw) + b

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.calibrated_logit(self.decision_function(X))))
        return np.column_stack([1 - p, p])


def lift_top_decile_within(y, p, strata) -> tuple[float, dict]:
    """Top-decile lift within each stratum (a product): the won rate of the stratum's 10% highest scores
    over the stratum's own rate (its base rate), then the mean over strata weighted by their rows. A
    stratum without a won row has no lift and no weight. Returns (weighted lift, {stratum: lift})."""
    y, p, strata = np.asarray(y, float), np.asarray(p, float), np.asarray(strata, dtype=object)
    per: dict = {}
    total = weight = 0.0
    for s in pd.unique(strata):
        m = strata == s
        k = max(1, int(np.ceil(0.1 * m.sum())))
        top = np.argsort(-p[m], kind="stable")[:k]
        base = y[m].mean()
        per[s] = float(y[m][top].mean() / base) if base > 0 else float("nan")
        if base > 0:
            total, weight = total + per[s] * int(m.sum()), weight + int(m.sum())
    return (float(total / weight) if weight else float("nan")), per
