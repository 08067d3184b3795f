"""The fast TreeSHAP path returns LightGBM's own pred_contrib values (binary and multiclass, NaN, zeros, categoricals)."""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.treeshap_fast import tree_shap_fast


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 4000
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    X.loc[rng.random(n) < 0.15, "x1"] = np.nan
    X.loc[rng.random(n) < 0.3, "x2"] = 0.0
    X["x3"] = rng.integers(0, 5, n).astype(float)  # a few discrete values: many rows share a cell
    X["segment"] = pd.Categorical(rng.choice(["SMB", "Mid-Market", "Enterprise"], n))
    return X


def test_binary_matches_pred_contrib(frame):
    rng = np.random.default_rng(2)
    y = (frame.x0 + frame.x3 * 0.3 + (frame.segment == "SMB") + rng.normal(size=len(frame)) > 1).astype(int)
    booster = lgb.LGBMClassifier(n_estimators=80, num_leaves=15, learning_rate=0.1, verbose=-1,
                                 n_jobs=1).fit(frame, y).booster_
    fast = tree_shap_fast(booster, frame)
    ref = np.asarray(booster.predict(frame, pred_contrib=True))
    assert fast.shape == ref.shape
    assert np.abs(fast - ref).max() < 1e-9
    assert np.abs(fast.sum(axis=1) - booster.predict(frame, raw_score=True)).max() < 1e-9


def test_multiclass_matches_pred_contrib(frame):
    y = np.digitize(frame.x0.to_numpy(), [-0.5, 0.5]) + 0
    booster = lgb.LGBMClassifier(n_estimators=30, num_leaves=7, verbose=-1, n_jobs=1).fit(frame, y).booster_
    fast = tree_shap_fast(booster, frame.iloc[:500])
    ref = np.asarray(booster.predict(frame.iloc[:500], pred_contrib=True))
    assert np.abs(fast - ref).max() < 1e-9


def test_empty_frame(frame):
    booster = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(frame, (frame.x0 > 0).astype(int)).booster_
    assert tree_shap_fast(booster, frame.iloc[:0]).shape == (0, frame.shape[1] + 1)
