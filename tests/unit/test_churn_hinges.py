"""The piecewise-linear logistic part of the churn model and its cross-fitted calibration."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.churn import ChurnClassifier, HingeBasis
from services import artifacts
from services.churn import job


def _kinked(n: int = 6000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Risk climbs steeply below activation 0.5 and is flat above it (plus a linear nuisance feature)."""
    rng = np.random.default_rng(seed)
    act = rng.uniform(0, 1, n)
    other = rng.normal(size=n)
    logit = -2.0 + 6.0 * np.clip(0.5 - act, 0, None) + 0.5 * other
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"use_per_seat_now": act, "other": other}), y


def test_hinge_basis_is_piecewise_linear_and_grouped_per_column() -> None:
    X = np.column_stack([np.linspace(0, 1, 101), np.linspace(-1, 1, 101)])
    basis = HingeBasis(2).fit(X)
    Z = basis.transform(X)
    assert Z.shape == (101, 6)
    np.testing.assert_allclose(Z[:, 0], X[:, 0])
    np.testing.assert_allclose(Z[:, 1], np.maximum(0, X[:, 0] - basis.knots_[0, 0]))
    np.testing.assert_allclose(Z[:, 3], X[:, 1])


def test_hinges_fit_a_kink_the_linear_logit_cannot() -> None:
    X, y = _kinked()
    Xt, yt = _kinked(seed=1)
    flat = ChurnClassifier(early_stopping_rounds=0, n_estimators=0, calibrate=False)
    kinked = ChurnClassifier(early_stopping_rounds=0, n_estimators=0, calibrate=False, hinges=2)
    flat.booster_ = kinked.booster_ = None
    flat._fit_linear(*_prepared(flat, X, y))
    kinked._fit_linear(*_prepared(kinked, X, y))
    loss = {name: _log_loss(yt, m.linear_logit(Xt)) for name, m in (("flat", flat), ("kinked", kinked))}
    assert loss["kinked"] < loss["flat"] - 0.005
    assert roc_auc_score(yt, kinked.linear_logit(Xt)) >= roc_auc_score(yt, flat.linear_logit(Xt))


def test_hinged_contributions_add_up_and_survive_an_artifact_round_trip() -> None:
    X, y = _kinked()
    model = ChurnClassifier(hinges=2, n_estimators=50).fit(X[:4000], y[:4000], X[4000:], y[4000:],
                                                          groups=np.arange(4000))
    contrib = model.linear_contributions(X)
    np.testing.assert_allclose(contrib.sum(1), model.linear_logit(X), atol=1e-9)
    back = artifacts.loads(artifacts.dumps(model))
    np.testing.assert_allclose(back.predict_proba(X), model.predict_proba(X))


def test_a_constrained_hinged_feature_never_moves_against_its_direction() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    act = rng.uniform(0, 1, n)
    # the data say risk rises again above 0.7 activation; the business says more activation never raises it
    logit = -2.0 + 5.0 * np.clip(0.5 - act, 0, None) + 4.0 * np.clip(act - 0.7, 0, None)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"use_per_seat_now": act, "other": rng.normal(size=n)})
    model = ChurnClassifier(hinges=2, monotone={"use_per_seat_now": -1}, n_estimators=50).fit(
        X, y, groups=np.arange(n))
    grid = X.iloc[[0] * 101].reset_index(drop=True).assign(use_per_seat_now=np.linspace(0, 1, 101))
    risk = model.predict_proba(grid)[:, 1]
    assert np.all(np.diff(risk) <= 1e-12)


def test_calibration_uses_cross_fitted_log_odds_of_the_renewal_window() -> None:
    X, y = _kinked(4000)
    known = X.assign(label_churn=y, account_id=np.arange(len(X)) // 4,
                     days_to_renewal=np.tile([30.0, 120.0, 250.0, 330.0], len(X) // 4))
    cols = ["use_per_seat_now", "other"]
    oof = job.cross_fitted_logit(known, cols)
    assert not np.isnan(oof).any()
    # a row's cross-fitted log-odds come from a model that never saw its account
    inside = job._classifier(cols, calibrate=False).fit(known[cols], known.label_churn,
                                                        groups=known.account_id.to_numpy())
    assert np.abs(oof - inside.decision_function(known[cols])).max() > 1e-6
    model = job.fit_model(known, cols)
    assert model.n_calibration_ == int((known.days_to_renewal <= job.CALIBRATION_WINDOW_DAYS).sum())
    slope, _ = model.calibration_
    assert 0.5 < slope < 1.5


def _prepared(model: ChurnClassifier, X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    from models.churn import prepare

    _, model.categories_ = prepare(X)
    model.feature_names_ = list(X.columns)
    return X, y


def _log_loss(y: np.ndarray, logit: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0, logit) - y * logit))
