"""The explainability layer: one result shape for every model.

An explanation is a long frame with columns `subject_id, feature, group, value, contribution,
base_value` (contributions and base value on the model's raw log-odds scale): base_value + the sum
of a subject's contributions equals the model's raw output. For LightGBM models the values are exact
TreeSHAP through LightGBM's native `pred_contrib=True` (tested against `shap.TreeExplainer` as the
independent reference); `to_shap` hands any explanation over as a `shap.Explanation`. No model depends
on this module.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.treeshap_fast import tree_shap_fast

COLUMNS = ["subject_id", "feature", "group", "value", "contribution", "base_value"]
OTHER = "other"


FAST_FROM_ROWS = 2_000


def tree_shap(booster: lgb.Booster, X: pd.DataFrame) -> np.ndarray:
    """Exact TreeSHAP values, shape (n, n_features + 1); the last column is the base value.

    From `FAST_FROM_ROWS` rows on, the same values come from `models.treeshap_fast` (pred_contrib once
    per occupied split-grid cell), several times faster on many rows."""
    if len(X) >= FAST_FROM_ROWS:
        return tree_shap_fast(booster, X)
    return np.asarray(booster.predict(X, pred_contrib=True))


def model_contributions(model, X: pd.DataFrame) -> np.ndarray:
    """Exact contributions of a churn classifier on its raw log-odds, shape (n, n_features + 1).

    TreeSHAP of its trees plus, when it is boosted from a logistic logit, the exact per-feature split of
    that logit (`model.linear_contributions`); the last column (base value) holds both parts' bases, so
    base + sum(contributions) == `model.decision_function(X)` for every row. `X` is the raw feature frame."""
    if model.booster_ is None:  # the logistic part alone
        contrib = np.zeros((len(X), len(model.feature_names_) + 1))
    else:
        contrib = tree_shap(model.booster_.booster_, model.transform_frame(X))
    linear = getattr(model, "linear_contributions", None)
    return contrib + linear(X) if linear is not None else contrib


def additivity_error(contrib: np.ndarray, raw: np.ndarray) -> float:
    """max |base + sum(contributions) - raw output| (0 up to float rounding for exact SHAP)."""
    return float(np.max(np.abs(contrib.sum(axis=1) - np.asarray(raw)))) if len(raw) else 0.0


def numeric_values(X: pd.DataFrame) -> np.ndarray:
    """Feature values as floats (categoricals as NaN; their text lives in the reasons)."""
    return np.column_stack([pd.to_numeric(X[c], errors="coerce").to_numpy(float)
                            if pd.api.types.is_numeric_dtype(X[c]) else np.full(len(X), np.nan)
                            for c in X.columns]) if len(X.columns) else np.zeros((len(X), 0))


def explanation_frame(subject_ids: Sequence, features: Sequence[str], values: np.ndarray, contrib: np.ndarray,
                      groups: Mapping[str, str], top_k: int | None = None) -> pd.DataFrame:
    """The long explanation frame; with `top_k`, each subject keeps its k largest |contributions| plus one
    `other` row holding the rest, so base + sum stays exact."""
    n, f = values.shape
    phi = contrib[:, :f]
    base = contrib[:, f]
    ids = np.asarray(subject_ids, dtype=object)
    feats = np.asarray(features, dtype=object)
    if top_k is None or top_k >= f:
        cols = np.tile(np.arange(f), n)
        rows = np.repeat(np.arange(n), f)
        out = pd.DataFrame({"subject_id": ids[rows], "feature": feats[cols], "value": values[rows, cols],
                            "contribution": phi[rows, cols], "base_value": base[rows]})
    else:
        order = np.argsort(-np.abs(phi), axis=1, kind="stable")[:, :top_k]
        rows = np.repeat(np.arange(n), top_k)
        cols = order.ravel()
        kept = phi[rows, cols].reshape(n, top_k)
        rest = phi.sum(axis=1) - kept.sum(axis=1)
        top = pd.DataFrame({"subject_id": ids[rows], "feature": feats[cols], "value": values[rows, cols],
                            "contribution": phi[rows, cols], "base_value": base[rows]})
        other = pd.DataFrame({"subject_id": ids, "feature": OTHER, "value": np.nan, "contribution": rest,
                              "base_value": base})
        out = pd.concat([top, other], ignore_index=True)
    out["group"] = out["feature"].map(lambda c: groups.get(c, "Other"))
    out["value"] = out["value"].astype("float32")
    out["contribution"] = out["contribution"].astype("float32")
    return out[COLUMNS]


def group_contributions(expl: pd.DataFrame) -> pd.DataFrame:
    """Contributions summed per subject and business group (groups first, raw features on demand)."""
    g = expl.groupby(["subject_id", "group"], as_index=False, sort=False).agg(
        contribution=("contribution", "sum"), base_value=("base_value", "first"))
    return g.sort_values(["subject_id", "contribution"], ascending=[True, False], ignore_index=True)


def global_importance(features: Sequence[str], contrib: np.ndarray, groups: Mapping[str, str]) -> pd.DataFrame:
    """Mean |SHAP| per feature (with its group), largest first."""
    f = len(features)
    imp = np.abs(contrib[:, :f]).mean(axis=0)
    out = pd.DataFrame({"feature": list(features), "group": [groups.get(c, "Other") for c in features],
                        "mean_abs_contribution": imp})
    return out.sort_values("mean_abs_contribution", ascending=False, ignore_index=True)


def group_importance(features: Sequence[str], contrib: np.ndarray, groups: Mapping[str, str]) -> pd.DataFrame:
    """Mean |sum of the group's contributions| per row, per group, largest first. By additivity a group's sum
    is its exact share of the prediction, whatever way the credit is split among correlated features inside
    it (shap's advice for one-hot and related features); groups as the reasons show them."""
    f = len(features)
    key = [groups.get(c, "Other") for c in features]
    summed = pd.DataFrame(contrib[:, :f], columns=list(features)).T.groupby(key, sort=False).sum().T
    imp = summed.abs().mean(axis=0)
    return (pd.DataFrame({"group": imp.index, "mean_abs_contribution": imp.to_numpy()})
            .sort_values("mean_abs_contribution", ascending=False, ignore_index=True))


def sample_summary(model, X: pd.DataFrame, groups: Mapping[str, str], rows: int = 20_000,
                   top: int = 15, with_groups: bool = False) -> dict:
    """Contributions on a sample of `X`: their additivity error against the model's raw output and the
    `top` features by mean |contribution| ([feature, group, value] lists, for a model's stored metrics);
    with `with_groups`, every group by `group_importance` too (`top_groups`: [group, value] lists)."""
    sub = X.sample(min(len(X), rows), random_state=0)
    contrib = model_contributions(model, sub)
    imp = global_importance(list(X.columns), contrib, groups)
    out = {"additivity_max_abs_err": additivity_error(contrib, model.decision_function(sub)),
           "top_features": [[r.feature, r.group, round(float(r.mean_abs_contribution), 5)]
                            for r in imp.head(top).itertuples()]}
    if with_groups:
        out["top_groups"] = [[r.group, round(float(r.mean_abs_contribution), 5)]
                             for r in group_importance(list(X.columns), contrib, groups).itertuples()]
    return out


def prediction(expl: pd.DataFrame) -> pd.Series:
    """Raw log-odds per subject reconstructed from an explanation: base + sum of contributions."""
    g = expl.groupby("subject_id", sort=False)
    return g["contribution"].sum().astype(float) + g["base_value"].first().astype(float)


def to_shap(expl: pd.DataFrame):
    """The explanation frame as a `shap.Explanation` (for a data scientist's own shap plots and tools).

    One subject gives a one-row Explanation (`shap.plots.waterfall` takes it as it is); several give one
    row per subject over the union of their features (a feature a subject's stored top-k left out counts 0,
    its share is in `other`), so base_values + values.sum(axis=-1) is each subject's raw output."""
    import shap  # lazy: heavy, and only this hand-over needs it

    missing = set(COLUMNS) - set(expl.columns)
    if missing:
        raise ValueError(f"not an explanation frame: missing {', '.join(sorted(missing))}")
    if expl.empty:
        raise ValueError("an empty explanation: nothing to hand over")
    subjects = pd.unique(expl["subject_id"])
    features = list(pd.unique(expl["feature"]))
    wide = expl.pivot_table(index="subject_id", columns="feature", values="contribution", aggfunc="sum",
                            sort=False).reindex(index=subjects, columns=features)
    data = expl.pivot_table(index="subject_id", columns="feature", values="value", aggfunc="first",
                            dropna=False, sort=False).reindex(index=subjects, columns=features)
    base = expl.groupby("subject_id", sort=False)["base_value"].first().reindex(subjects)
    out = shap.Explanation(values=wide.fillna(0.0).to_numpy(float), base_values=base.to_numpy(float),
                           data=data.to_numpy(float), feature_names=features)
    return out[0] if len(subjects) == 1 else out


# ---------------------------------------------------------------- k-means (adoption) explanations
def margin_frame(subject_ids: Sequence, signals: Sequence[str], values: np.ndarray, margin_terms: np.ndarray,
                 groups: Mapping[str, str]) -> pd.DataFrame:
    """The k-means margin decomposition in the one explanation shape: base 0, one row per signal whose
    contribution is its share of ||x - runner-up||^2 - ||x - assigned||^2 (scaled space); sums exactly to
    the margin."""
    n = margin_terms.shape[0]
    return explanation_frame(subject_ids, signals, values, np.column_stack([margin_terms, np.zeros(n)]), groups)


def fit_surrogate(X: pd.DataFrame, labels: np.ndarray, n_estimators: int = 150, num_leaves: int = 15,
                  random_state: int = 0) -> lgb.LGBMClassifier:
    """A LightGBM classifier that learns to predict the cluster from the same signals (to explain it)."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise ValueError("the surrogate needs at least two clusters among the accounts")
    return lgb.LGBMClassifier(n_estimators=n_estimators, num_leaves=num_leaves, learning_rate=0.1,
                              min_child_samples=5, random_state=random_state, n_jobs=2, verbose=-1).fit(X, labels)


def fidelity(surrogate: lgb.LGBMClassifier, X: pd.DataFrame, labels: np.ndarray) -> float:
    """Share of rows where the surrogate predicts the same cluster as k-means."""
    return float(np.mean(surrogate.predict(X) == np.asarray(labels))) if len(X) else float("nan")


def class_contributions(booster: lgb.Booster, X: pd.DataFrame, class_index: np.ndarray) -> np.ndarray:
    """Multiclass TreeSHAP, each row's block for its own class: (n, n_features + 1) on that class's raw score."""
    f = X.shape[1]
    full = tree_shap(booster, X)
    k = full.shape[1] // (f + 1)
    blocks = full.reshape(len(X), k, f + 1)
    return blocks[np.arange(len(X)), np.asarray(class_index, dtype=int)]
