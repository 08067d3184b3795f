"""What the model-health page reads about models: versions, metrics over versions, backtest calibration."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from services import registry
from services.churn import tables as churn_tables

BASELINE_MARK = "baseline"


def overview(engine: Engine) -> pd.DataFrame:
    """One row per model: active version, when it was trained, as-of, how many versions by status."""
    v = registry.versions(engine)
    if v.empty:
        return pd.DataFrame(columns=["model", "active_version", "trained_at", "as_of", "versions", "rejected",
                                     "failed", "key_metrics"])
    rows = []
    for model, g in v.groupby("model"):
        act = g[g.status == "active"]
        rows.append({"model": model, "active_version": act.version.iloc[0] if len(act) else None,
                     "trained_at": act.created_at.iloc[0] if len(act) else None,
                     "as_of": act.as_of.iloc[0] if len(act) else None, "versions": len(g),
                     "rejected": int((g.status == "rejected").sum()), "failed": int((g.status == "failed").sum()),
                     "key_metrics": registry.metrics_summary(act.metrics.iloc[0]) if len(act) else ""})
    return pd.DataFrame(rows)


def metric_history(engine: Engine, model: str) -> pd.DataFrame:
    """Long frame of every numeric metric of every version: version, created_at, status, metric, value."""
    v = registry.versions(engine, model)
    rows = []
    for r in v.itertuples():
        for k, val in json.loads(r.metrics or "{}").items():
            if isinstance(val, int | float) and not isinstance(val, bool) and np.isfinite(val):
                rows.append({"version": r.version, "created_at": r.created_at, "status": r.status,
                             "metric": k, "value": float(val)})
    return pd.DataFrame(rows, columns=["version", "created_at", "status", "metric", "value"])


def version_metrics(engine: Engine, model: str, version: str | None = None) -> dict:
    """All metrics (nested ones too) of a version, default the active one."""
    v = registry.versions(engine, model)
    row = v[v.version == version] if version else v[v.status == "active"]
    return {} if row.empty else json.loads(row.metrics.iloc[0] or "{}")


def churn_calibration(engine: Engine, bins: int = 10) -> pd.DataFrame:
    """Reliability of the active churn model on its out-of-time test rows (`churn_backtest`)."""
    bt = registry.read_results(engine, churn_tables.BACKTEST)
    if bt.empty or not {"probability", "label_churn"} <= set(bt.columns):
        return pd.DataFrame(columns=["bin", "mean_predicted", "observed_rate", "n"])
    q = pd.qcut(bt.probability.rank(method="first"), q=min(bins, len(bt)), labels=False)
    g = bt.assign(bin=q).groupby("bin")
    return pd.DataFrame({"mean_predicted": g.probability.mean(), "observed_rate": g.label_churn.mean(),
                         "n": g.size()}).reset_index()
