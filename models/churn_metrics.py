"""Classification metrics for churn: AUC, PR AUC, Brier, expected calibration error, top-decile lift."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def ece(y, p, bins: int = 10) -> float:
    """Expected calibration error over equal-frequency bins (weighted mean |observed - predicted|)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    total = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            total += len(chunk) * abs(y[chunk].mean() - p[chunk].mean())
    return float(total / max(len(y), 1))


def lift_top_decile(y, p) -> float:
    """Churn rate among the 10% highest scores divided by the overall churn rate."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    k = max(1, int(np.ceil(0.1 * len(y))))
    top = np.argsort(-p, kind="stable")[:k]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def classification_report(y, p) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    return {
        "auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)), "ece": ece(y, p), "lift_top_decile": lift_top_decile(y, p),
    }


def calibration_curve(y, p, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(mean predicted, observed rate) per equal-frequency bin."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    parts = [c for c in np.array_split(order, bins) if len(c)]
    return np.array([p[c].mean() for c in parts]), np.array([y[c].mean() for c in parts])


# distance to the renewal, in days: the renewal window (<= 180 days) and its parts, and far from renewal
DISTANCE_BUCKETS = (("0-3m", 0, 91), ("3-6m", 91, 182), ("6-12m", 182, 400))
RENEWAL_WINDOW_DAYS = 182


def windowed_report(y, p, days_to_renewal, extra: dict[str, np.ndarray] | None = None) -> dict[str, dict]:
    """`classification_report` on the rows with a renewal in the window (`renewal_window`, <= 6 months) and
    by distance to the renewal; `extra` scores (e.g. a baseline, the planted oracle) get their AUC beside."""
    y, p, d = np.asarray(y).astype(int), np.asarray(p, float), np.asarray(days_to_renewal, float)
    masks = {"renewal_window": (d >= 0) & (d <= RENEWAL_WINDOW_DAYS)}
    masks.update({name: (d > lo if lo else d >= 0) & (d <= hi) for name, lo, hi in DISTANCE_BUCKETS})
    out: dict[str, dict] = {}
    for name, m in masks.items():
        if m.sum() < 20 or len(np.unique(y[m])) < 2:
            out[name] = {"n": int(m.sum())}
            continue
        r: dict = {**classification_report(y[m], p[m]), "n": int(m.sum()), "churn_rate": float(y[m].mean()),
                   "mean_probability": float(p[m].mean())}
        for k, q in (extra or {}).items():
            r[f"auc_{k}"] = float(roc_auc_score(y[m], np.asarray(q, float)[m]))
        out[name] = r
    return out
