"""shap as the independent reference: our exact TreeSHAP paths (LightGBM pred_contrib and the fast grid path)
and the churn model's contributions equal shap's own explainers; stored explanations hand over as a
`shap.Explanation` in the form shap's plots take."""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap

from models import explain
from models.churn import ChurnClassifier
from models.treeshap_fast import tree_shap_fast

TOL = 1e-6
pytestmark = pytest.mark.filterwarnings("ignore:LightGBM binary classifier with TreeExplainer")


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(7)
    n = 3000
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"x{i}" for i in range(5)])
    X.loc[rng.random(n) < 0.1, "x1"] = np.nan
    X["x3"] = rng.integers(0, 4, n).astype(float)
    logit = X.x0 * X.x3 - 1.5 * (X.x2 > 0.5) + np.nan_to_num(X.x1) * 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    booster = lgb.LGBMClassifier(n_estimators=60, num_leaves=15, learning_rate=0.1, verbose=-1,
                                 n_jobs=1).fit(X, y).booster_
    return X, y, booster


def _shap_tree(booster, X):
    """shap's own TreeSHAP (tree_path_dependent) over shap's parse of the model. For LightGBM, shap would
    otherwise call LightGBM's pred_contrib itself, which is what we test, not a reference."""
    e = shap.TreeExplainer(booster)
    e.model.model_type = "internal"  # skip shap's shortcut to the model's own C++ TreeSHAP
    phi = np.asarray(e.shap_values(X))
    assert phi.shape == X.shape
    return phi, float(np.ravel(e.expected_value)[-1])


def test_pred_contrib_path_equals_shap_tree_explainer(binary):
    X, _, booster = binary
    small = X.iloc[: explain.FAST_FROM_ROWS - 1]
    ours = explain.tree_shap(booster, small)  # below FAST_FROM_ROWS: LightGBM's pred_contrib
    ref, base = _shap_tree(booster, small)
    assert np.abs(ours[:, :-1] - ref).max() < TOL
    assert np.abs(ours[:, -1] - base).max() < TOL


def test_fast_path_equals_shap_tree_explainer(binary):
    X, _, booster = binary
    ours = tree_shap_fast(booster, X)
    ref, base = _shap_tree(booster, X)
    assert np.abs(ours[:, :-1] - ref).max() < TOL
    assert np.abs(ours[:, -1] - base).max() < TOL
    assert np.abs(explain.tree_shap(booster, X) - ours).max() == 0  # from FAST_FROM_ROWS on, the fast path


def test_churn_model_contributions_equal_shap_tree_plus_linear_explainers():
    rng = np.random.default_rng(3)
    n = 4000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    X.loc[rng.random(n) < 0.1, "c"] = np.nan
    logit = 2.5 * (np.abs(X.a) > 1) - 1.5 * (X.b * X.a > 0.5) + 0.5 * np.nan_to_num(X.c) - 1
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = ChurnClassifier(n_estimators=120, calibrate=False).fit(X, y, groups=np.arange(n))
    assert model.booster_ is not None and model.linear_ is not None  # both parts to check
    ours = explain.model_contributions(model, X)
    trees, tree_base = _shap_tree(model.booster_.booster_, model.transform_frame(X))
    lr = model.linear_[-1]
    linear = shap.LinearExplainer((lr.coef_[0], lr.intercept_[0]), model.linear_mean_[None, :])
    terms = linear.shap_values(model._design(X))
    per_feature = np.zeros((n, len(model.feature_names_)))
    np.add.at(per_feature.T, model.linear_owner_, terms.T)
    ref = trees + per_feature
    assert np.abs(ours[:, :-1] - ref).max() < TOL
    assert np.abs(ours[:, -1] - (tree_base + float(np.ravel(linear.expected_value)[0]))).max() < TOL
    assert explain.additivity_error(ours, model.decision_function(X)) < TOL


def _stored_like(subjects=("A1", "A2")) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    feats = ["use_per_seat_now", "cases_3m", "tenure_years"]
    contrib = rng.normal(size=(len(subjects), len(feats) + 1))
    values = np.column_stack([rng.random(len(subjects)), rng.integers(0, 5, len(subjects)), rng.random(len(subjects))])
    frame = explain.explanation_frame(list(subjects), feats, values, contrib, {f: "g" for f in feats}, top_k=2)
    return frame


def test_stored_explanation_hands_over_as_a_shap_explanation():
    frame = _stored_like()
    many = explain.to_shap(frame)
    assert many.values.shape[0] == 2
    np.testing.assert_allclose(many.base_values + many.values.sum(axis=1), explain.prediction(frame).to_numpy(),
                               atol=1e-6)
    one = explain.to_shap(frame[frame.subject_id == "A1"])
    assert one.values.ndim == 1 and "other" in one.feature_names
    assert one.base_values + one.values.sum() == pytest.approx(explain.prediction(frame)["A1"], abs=1e-6)
    # what shap.plots.waterfall reads (plotting itself needs matplotlib, which Foresight does not install)
    assert np.ndim(one.base_values) == 0 and one.data.shape == one.values.shape == (len(one.feature_names),)
    with pytest.raises(ValueError, match="missing base_value"):
        explain.to_shap(frame.drop(columns="base_value"))
