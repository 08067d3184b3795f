"""The explanation layer: exact TreeSHAP additivity, compact top-k storage, grouping."""
from __future__ import annotations

import numpy as np
import pandas as pd

from models import explain
from models.churn import ChurnClassifier


def _model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000), "c": rng.normal(size=2000),
                      "kind": rng.choice(["x", "y", "z"], 2000)})
    logit = 1.5 * X.a - X.b + 0.8 * (X.kind == "z")
    y = (rng.random(2000) < 1 / (1 + np.exp(-logit))).astype(int)
    return ChurnClassifier(n_estimators=80).fit(X, y), X


def test_tree_shap_adds_up_to_the_raw_output() -> None:
    model, X = _model()
    contrib = explain.tree_shap(model.booster_.booster_, model.transform_frame(X))
    assert contrib.shape == (len(X), X.shape[1] + 1)
    trees_only = model.decision_function(X) - model.linear_logit(X)
    assert explain.additivity_error(contrib, trees_only) < 1e-6


def test_contributions_of_trees_boosted_from_a_logistic_logit_add_up() -> None:
    model, X = _model()
    contrib = explain.model_contributions(model, X)
    assert contrib.shape == (len(X), X.shape[1] + 1)
    assert model.linear_ is not None and np.ptp(contrib[:, -1]) < 1e-9  # one base value for all rows
    assert explain.additivity_error(contrib, model.decision_function(X)) < 1e-6
    linear = model.linear_contributions(X)
    assert np.abs(linear[:, :-1].mean(axis=0)).max() < 1e-9  # centred on the training rows
    assert np.abs(linear[:, 2]).max() < np.abs(linear[:, 0]).max() / 5  # c has no effect, a has


def test_logistic_part_alone_when_no_tree_helps() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=3000), "kind": rng.choice(["x", "y"], 3000)})
    y = (rng.random(3000) < 1 / (1 + np.exp(-(X.a - 0.5 * (X.kind == "y"))))).astype(int)
    model = ChurnClassifier(n_estimators=100).fit(X.iloc[:2400], y[:2400], X.iloc[2400:], y[2400:])
    contrib = explain.model_contributions(model, X)
    assert model.n_trees_ == 0 and model.booster_ is None
    assert explain.additivity_error(contrib, model.decision_function(X)) < 1e-9


def test_top_k_keeps_the_sum_and_one_shape() -> None:
    model, X = _model()
    contrib = explain.model_contributions(model, X)
    ids = [f"A{i}" for i in range(len(X))]
    groups = {"a": "Alpha", "b": "Beta", "c": "Beta", "kind": "Kind"}
    full = explain.explanation_frame(ids, list(X.columns), explain.numeric_values(X), contrib, groups)
    top = explain.explanation_frame(ids, list(X.columns), explain.numeric_values(X), contrib, groups, top_k=2)
    assert list(top.columns) == explain.COLUMNS and top.contribution.dtype == np.float32
    assert len(top) == 3 * len(X) and (top.feature == explain.OTHER).sum() == len(X)
    raw = model.decision_function(X)
    for frame in (full, top):
        recon = explain.prediction(frame).reindex(ids).to_numpy()
        assert np.max(np.abs(recon - raw)) < 1e-4  # float32 storage
    grouped = explain.group_contributions(full)
    assert set(grouped.group) == {"Alpha", "Beta", "Kind"}
    imp = explain.global_importance(list(X.columns), contrib, groups)
    assert imp.feature.iloc[0] == "a" and imp.feature.iloc[-1] == "c"


def test_a_row_rebuilt_from_a_dict_with_none_scores_like_nan() -> None:
    model, X = _model()
    record = {**X.iloc[0].to_dict(), "a": None}  # what the workbench's what-if builds from stored rows
    one = pd.DataFrame([record])
    assert one["a"].dtype == object
    expected = model.decision_function(X.head(1).assign(a=np.nan))
    assert np.allclose(model.decision_function(one), expected)
    assert explain.additivity_error(explain.model_contributions(model, one), expected) < 1e-6
