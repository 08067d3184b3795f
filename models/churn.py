"""Churn classifier: LightGBM boosted from a logistic model's logit, Platt-calibrated on a later slice.

With `linear_init` (default) the raw log-odds are `linear(x) + trees(x)`: a logistic regression
(the same pipeline as the baseline) is fitted first, and LightGBM starts from its logit (`init_score`)
so the trees learn only the non-linearity left over; the number of trees is chosen by early stopping
on the calibration slice (log loss) and the trees are refitted with that count. On tables whose signal
is additive in log-odds this stays at least as good as logistic regression; on others the trees add.
Contributions stay exact: `linear_contributions` splits the logit per feature, `w . (z - mean z)`, with
base `intercept + w . mean z`, to add to the trees' TreeSHAP values (see `models.explain.model_contributions`).

scikit-learn estimator contract: hyper-parameters in `__init__`, `fit` returns self, fitted state
ends in `_`. Platt scaling is an affine map of the raw log-odds, so the calibrated log-odds are
`a * raw + b` and per-feature contributions of the raw model stay additive after calibration.

`monotone` ({feature: +1 | -1}) constrains the direction where the business knows it (more seat
activation never raises risk): the trees through LightGBM's monotone constraints, the logistic part by
leaving out a constrained feature whose fitted coefficient has the wrong sign (refitted until none has),
so the raw log-odds are monotone in each constrained feature. `fit_on_cal=False` keeps the calibration
slice out of the logistic fit (Platt is then fitted on rows the model never saw).

`hinges` (default 0) makes the logistic part piecewise linear: each numeric feature enters as itself plus
`hinges` hinge terms max(0, x - knot) at interior quantiles of the training rows (`HingeBasis`), so risk
can climb steeply below some level of seat activation and flatten above it, as a GAM would; every design
column still belongs to one feature, so the exact per-feature split of the logit is unchanged. A
constrained feature whose fitted piecewise-linear effect is not monotone in its direction enters linearly
instead (and is left out if even its linear coefficient has the wrong sign).

`calibration` chooses the map fitted on the calibration rows: "platt" (slope and intercept of the raw
log-odds) or "intercept" (slope 1: only the base rate moves, the model's own spread is kept).
`fit(..., cal_raw=...)` calibrates on given raw log-odds of `X_cal` (e.g. cross-fitted, out-of-fold ones)
instead of the fitted model's own.
"""
from __future__ import annotations

import logging

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

log = logging.getLogger(__name__)


def _row_log_loss(y: np.ndarray, logit: np.ndarray) -> np.ndarray:
    """Per-row log loss of log-odds `logit` (numerically stable)."""
    z = np.asarray(logit, dtype=float)
    return np.logaddexp(0, z) - np.asarray(y) * z


def _held_out_groups(groups: np.ndarray, seed: int, share: float = 0.2) -> np.ndarray:
    """Row mask of a random `share` of the groups."""
    uniq = pd.unique(groups)
    pick = np.random.default_rng(seed).random(len(uniq)) < share
    return pd.Series(groups).isin(uniq[pick]).to_numpy()


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


class HingeBasis(TransformerMixin, BaseEstimator):
    """Each column x -> [x, max(0, x - k_1), ..., max(0, x - k_h)], knots at interior quantiles (no NaN in)."""

    def __init__(self, hinges: int = 2) -> None:
        self.hinges = hinges

    def fit(self, X, y=None) -> HingeBasis:
        X = np.asarray(X, dtype=float)
        q = np.linspace(0, 1, self.hinges + 2)[1:-1]
        self.knots_ = np.quantile(X, q, axis=0).T if len(X) else np.zeros((X.shape[1], self.hinges))
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        parts = [X[:, :, None], np.maximum(0.0, X[:, :, None] - self.knots_[None, :, :])]
        return np.concatenate(parts, axis=2).reshape(len(X), -1)  # grouped per input column

    def get_feature_names_out(self, input_features=None):
        names = input_features if input_features is not None else [f"x{i}" for i in range(self.n_features_in_)]
        return np.array([f"{c}_h{j}" for c in names for j in range(self.hinges + 1)], dtype=object)


class ChurnClassifier(BaseEstimator, ClassifierMixin):
    """LightGBM churn model; `fit(X, y, X_cal, y_cal)` calibrates on a later slice (Platt)."""

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.03, num_leaves: int = 15,
                 min_child_samples: int = 50, subsample: float = 0.8, colsample_bytree: float = 0.8,
                 reg_lambda: float = 1.0, n_jobs: int = 2, random_state: int = 0, linear_init: bool = True,
                 early_stopping_rounds: int = 50, calibrate: bool = True, monotone: dict[str, int] | None = None,
                 fit_on_cal: bool = True, min_calibration_events: int = 0, hinges: int = 0,
                 calibration: str = "platt") -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.linear_init = linear_init
        self.early_stopping_rounds = early_stopping_rounds
        self.calibrate = calibrate
        self.monotone = monotone
        self.fit_on_cal = fit_on_cal
        self.min_calibration_events = min_calibration_events
        self.hinges = hinges
        self.calibration = calibration

    def _booster(self, n_estimators: int) -> lgb.LGBMClassifier:
        return lgb.LGBMClassifier(
            n_estimators=n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=self.subsample, subsample_freq=1,
            colsample_bytree=self.colsample_bytree, reg_lambda=self.reg_lambda, n_jobs=self.n_jobs,
            random_state=self.random_state, verbose=-1,
            **({"monotone_constraints": [int((self.monotone or {}).get(c, 0)) for c in self.feature_names_],
                "monotone_constraints_method": "advanced"} if self.monotone else {}))

    def _trees_by_early_stopping(self, Xp: pd.DataFrame, y: np.ndarray, init: np.ndarray, X_cal: pd.DataFrame,
                                 y_cal: np.ndarray) -> int:
        """Tree count with the lowest held-out log loss; 0 unless the trees lower the logistic part's held-out
        log loss by more than one standard error of the per-row difference (the one-standard-error rule)."""
        Xc, init_c = self.transform_frame(X_cal), self.linear_logit(X_cal)
        probe = self._booster(self.n_estimators).fit(
            Xp, y, init_score=init, eval_X=(Xc,), eval_y=(y_cal,), eval_init_score=[init_c],
            eval_metric="binary_logloss", callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
        best = int(probe.best_iteration_ or self.n_estimators)
        boosted = init_c + probe.booster_.predict(Xc, raw_score=True, num_iteration=best)
        gain = _row_log_loss(y_cal, init_c) - _row_log_loss(y_cal, boosted)
        if gain.mean() <= gain.std(ddof=1) / np.sqrt(max(len(gain), 1)):
            return 0
        return best

    def _fit_linear(self, X: pd.DataFrame, y: np.ndarray) -> None:
        """The logistic part and what `linear_contributions` needs: design column -> feature, mean design row.
        A constrained feature whose effect is not monotone in its direction enters linearly (hinged ones) or
        is left out (linear ones), and the rest is refitted until none is."""
        self.linear_features_ = list(self.feature_names_)
        numeric = [c for c in self.feature_names_ if c not in self.categories_]
        self.hinged_ = list(numeric) if self.hinges else []
        want = {c: int(d) for c, d in (self.monotone or {}).items() if d and c in self.linear_features_}
        while True:
            self.linear_ = logistic_baseline(X[self.linear_features_], hinged=self.hinged_,
                                             hinges=self.hinges).fit(self._linear_input(X), y)
            self._owners(X)
            wrong = [c for c, d in want.items() if c in self.linear_features_ and not self._monotone_ok(X, c, d)]
            if not wrong:
                break
            for c in wrong:
                if c in self.hinged_:
                    self.hinged_.remove(c)
                else:
                    self.linear_features_.remove(c)
        self.linear_mean_ = np.asarray(self._design(X).mean(axis=0)).ravel()

    def _owners(self, X: pd.DataFrame) -> None:
        pre = self.linear_[0]
        owner: list[int] = []
        for name, _, cols in pre.transformers_:
            if name == "num":
                owner += [self.feature_names_.index(c) for c in cols]
            elif name == "hinge":
                owner += [self.feature_names_.index(c) for c in cols for _ in range(self.hinges + 1)]
            elif name == "cat" and len(cols):
                enc = pre.named_transformers_["cat"][-1]
                for c, cats in zip(cols, enc.categories_):
                    owner += [self.feature_names_.index(c)] * len(cats)
        self.linear_owner_ = np.asarray(owner, dtype=int)

    def _monotone_ok(self, X: pd.DataFrame, c: str, direction: int) -> bool:
        """Whether the logistic part's effect of feature `c` never moves against `direction` over its range."""
        values = pd.to_numeric(X[c], errors="coerce").dropna().to_numpy(float)
        if not len(values):
            return True
        grid = np.unique(np.quantile(values, np.linspace(0, 1, 41)))
        frame = X.iloc[[0] * len(grid)].reset_index(drop=True).copy()
        frame[c] = grid
        cols = self.linear_owner_ == self.feature_names_.index(c)
        effect = self._design(frame)[:, cols] @ self.linear_[-1].coef_[0][cols]
        return bool(np.all(np.diff(effect) * direction >= -1e-9))

    def _linear_input(self, X: pd.DataFrame) -> pd.DataFrame:
        """X in the kinds the logistic part was fitted on (rows rebuilt from dicts may hold None/object)."""
        X = X[getattr(self, "linear_features_", self.feature_names_)].copy()
        for c in X.columns:
            if c in self.categories_:
                X[c] = X[c].astype("string").astype(object).where(X[c].notna(), "missing")
            else:
                X[c] = pd.to_numeric(X[c], errors="coerce").astype(float)
        return X

    def _design(self, X: pd.DataFrame) -> np.ndarray:
        Z = self.linear_[0].transform(self._linear_input(X))
        return Z.toarray() if hasattr(Z, "toarray") else np.asarray(Z, dtype=float)

    def linear_logit(self, X: pd.DataFrame) -> np.ndarray:
        """The logistic part of the raw log-odds (0 without `linear_init`)."""
        if getattr(self, "linear_", None) is None:
            return np.zeros(len(X))
        return self.linear_[-1].decision_function(self.linear_[0].transform(self._linear_input(X)))

    def linear_contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Exact per-feature split of `linear_logit`, shape (n, n_features + 1), last column the base value."""
        f = len(self.feature_names_)
        out = np.zeros((len(X), f + 1))
        if getattr(self, "linear_", None) is None:
            return out
        lr = self.linear_[-1]
        w = lr.coef_[0]
        terms = (self._design(X) - self.linear_mean_) * w
        np.add.at(out.T, self.linear_owner_, terms.T)
        out[:, f] = float(lr.intercept_[0] + w @ self.linear_mean_)
        return out

    def fit(self, X: pd.DataFrame, y, X_cal: pd.DataFrame | None = None, y_cal=None,
            groups=None, cal_raw: np.ndarray | None = None) -> ChurnClassifier:
        """`X_cal` calibrates (Platt). The tree count is early-stopped on `X_cal`, or, with `groups` (e.g. the
        account of each row), on 20% of the groups of `X` held out: rows of one account at nearby dates
        share a renewal and its label, so a slice that shares accounts with the fit rows never stops."""
        y = np.asarray(y).astype(int)
        if len(np.unique(y)) != 2:
            raise ValueError("the churn label needs both classes (0 and 1) in the training rows")
        Xp, self.categories_ = prepare(X)
        self.feature_names_ = list(X.columns)
        self.linear_ = None
        has_cal = X_cal is not None and len(X_cal) > 0
        if not self.linear_init:
            self.booster_ = self._booster(self.n_estimators).fit(Xp, y)
            self.n_trees_ = self.n_estimators
        else:
            # the logistic part sees every training row; the trees fit X and stop early on the later slice
            X_all, y_all = (pd.concat([X, X_cal]), np.concatenate([y, np.asarray(y_cal).astype(int)])) \
                if has_cal and self.fit_on_cal else (X, y)
            self._fit_linear(X_all, y_all)
            init = self.linear_logit(X)
            n_trees = self.n_estimators
            if groups is not None and self.early_stopping_rounds:
                held = _held_out_groups(np.asarray(groups), self.random_state)
                probe = self._trees_by_early_stopping(Xp[~held], y[~held], init[~held], X[held], y[held])
                n_trees = probe
            elif has_cal and self.early_stopping_rounds:
                n_trees = self._trees_by_early_stopping(Xp, y, init, X_cal, np.asarray(y_cal).astype(int))
            # refit with the chosen count: the booster holds exactly the trees it predicts with
            self.booster_ = self._booster(n_trees).fit(Xp, y, init_score=init) if n_trees else None
            self.n_trees_ = n_trees
            log.debug("churn classifier: %s", structure(n_trees))  # one per fit: the job logs its own model's
        self.calibration_ = (1.0, 0.0)
        if has_cal and self.calibrate:
            raw = self.decision_function(X_cal) if cal_raw is None else np.asarray(cal_raw, float)
            self.calibration_ = _platt(raw, np.asarray(y_cal).astype(int),
                                       self.min_calibration_events if self.calibration == "platt" else 10**12)
        self.classes_ = np.array([0, 1])
        return self

    def transform_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise ValueError(f"missing feature columns: {', '.join(missing)}")
        return prepare(X[self.feature_names_], self.categories_)[0]

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Raw (uncalibrated) log-odds: the logistic logit (with `linear_init`) plus the trees' raw score."""
        if self.booster_ is None:  # no tree beat the logistic part on the held-out slice
            return self.linear_logit(X)
        trees = self.booster_.booster_.predict(self.transform_frame(X), raw_score=True)
        return trees + self.linear_logit(X) if getattr(self, "linear_", None) is not None else trees

    def calibrated_logit(self, raw: np.ndarray) -> np.ndarray:
        a, b = self.calibration_
        return a * np.asarray(raw) + b

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.calibrated_logit(self.decision_function(X))))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def structure(n_trees: int) -> str:
    """The fitted classifier in words (for the training log)."""
    if not n_trees:
        return "a logistic model alone (boosted trees did not improve it on held-out renewals, so none are used)"
    return f"a logistic model plus {n_trees} boosted trees that correct it"


def _platt(raw: np.ndarray, y: np.ndarray, min_events: int = 0) -> tuple[float, float]:
    """Platt scaling (slope, intercept) of raw log-odds. With fewer than `min_events` of the rarer class, or
    a slope that is not positive (a slice too small to rank on), only the intercept is refitted (slope 1:
    the base rate is moved to the slice's, the ranking is kept)."""
    events = int(min(y.sum(), len(y) - y.sum()))
    if events >= max(min_events, 1):
        lr = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
        if lr.coef_[0, 0] > 0:
            return float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if events == 0:
        return 1.0, 0.0
    lo, hi = -20.0, 20.0  # intercept b with mean(sigmoid(raw + b)) == mean(y), by bisection
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.mean(1 / (1 + np.exp(-(raw + mid)))) < y.mean() else (lo, mid)
    return 1.0, float((lo + hi) / 2)


def logistic_baseline(X: pd.DataFrame, hinged: list[str] | None = None, hinges: int = 0) -> object:
    """Plain logistic regression: median imputation, scaling, one-hot categoricals (unfitted pipeline);
    the numeric columns in `hinged` piecewise linear (`HingeBasis` with `hinges` knots)."""
    cats = _categoricals(X)
    hinged = [c for c in (hinged or []) if c in X.columns and c not in cats] if hinges else []
    nums = [c for c in X.columns if c not in cats and c not in hinged]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()), nums),
        ("hinge", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), HingeBasis(hinges),
                                StandardScaler()), hinged),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), cats),
    ])
    return make_pipeline(pre, LogisticRegression(max_iter=2000))


def as_baseline_input(X: pd.DataFrame) -> pd.DataFrame:
    X = X.copy()
    for c in _categoricals(X):
        X[c] = X[c].astype("string").astype(object).where(X[c].notna(), "missing")
    return X
