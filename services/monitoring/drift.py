"""Feature drift: population stability index (PSI) per model feature, training window vs latest scoring.

Bins are fixed on the reference (training) sample: deciles of each numeric feature (fewer when the
feature has few distinct values, one bin per value for small integer counts), plus a bin for missing
values. PSI = sum over bins of (current share - reference share) * ln(current share / reference share),
over the non-missing values (shares renormalised, floored at `EPS`). A feature is flagged when its PSI
is over `THRESHOLD` (0.2, the usual rule of thumb) or when its share of missing values rose by more than
`MISSING_RISE` (a feature going missing is drift; one that was missing early in the training history,
before the data began, and is complete now is not). The compact binned distributions are stored in the result table `feature_drift` under the
model's version, one row per feature and bin, so pages can draw them side by side.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from services import registry
from services.monitoring import tables as T

log = logging.getLogger(__name__)

THRESHOLD = 0.2
BINS = 10
EPS = 1e-4
MISSING = "missing"
MISSING_RISE = 0.10


def _edges(ref: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges from the reference sample: one bin per value for few distinct values, else quantiles."""
    values = np.unique(ref)
    if len(values) <= bins:
        return (values[:-1] + values[1:]) / 2
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))


def _labels(edges: np.ndarray) -> list[str]:
    if len(edges) == 0:
        return ["all"]
    bounds = [-np.inf, *edges, np.inf]
    return [f"({lo:.3g}, {hi:.3g}]" for lo, hi in itertools.pairwise(bounds)]


def binned(reference: pd.Series, current: pd.Series, bins: int = BINS) -> pd.DataFrame:
    """Shares of the reference and current samples in bins fixed on the reference."""
    ref = pd.to_numeric(reference, errors="coerce").astype(float)
    cur = pd.to_numeric(current, errors="coerce").astype(float)
    edges = _edges(ref.dropna().to_numpy(), bins) if ref.notna().any() else np.array([])
    labels = _labels(edges)

    def shares(x: pd.Series) -> np.ndarray:
        idx = np.searchsorted(edges, x.dropna().to_numpy(), side="left")
        counts = np.bincount(idx, minlength=len(labels)).astype(float)
        counts = np.append(counts, x.isna().sum())
        return counts / max(len(x), 1)

    out = pd.DataFrame({"bin": np.arange(len(labels) + 1), "bin_label": [*labels, MISSING],
                        "reference_share": shares(ref), "current_share": shares(cur)})
    keep = (out.bin_label != MISSING) | (out.reference_share + out.current_share > 0)
    return out[keep].reset_index(drop=True)


def psi(reference_share: np.ndarray, current_share: np.ndarray) -> float:
    r = np.maximum(np.asarray(reference_share, float), EPS)
    c = np.maximum(np.asarray(current_share, float), EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def drift_table(reference: pd.DataFrame, current: pd.DataFrame, bins: int = BINS) -> pd.DataFrame:
    """Per feature (numeric columns both frames share) and bin: shares, the feature's PSI and its flag."""
    if reference.empty or current.empty:
        raise ValueError("drift needs a non-empty reference (training) and current (scoring) sample")
    features = [c for c in reference.columns if c in current.columns
                and pd.api.types.is_numeric_dtype(reference[c]) and not pd.api.types.is_bool_dtype(reference[c])]
    if not features:
        raise ValueError("the reference and current samples share no numeric feature columns")
    parts = []
    for f in features:
        b = binned(reference[f], current[f], bins)
        b.insert(0, "feature", f)
        present = b[b.bin_label != MISSING]
        r, c = present.reference_share, present.current_share
        b["psi"] = psi(r / max(r.sum(), EPS), c / max(c.sum(), EPS))
        b["missing_rise"] = (1 - c.sum()) - (1 - r.sum())
        parts.append(b)
    out = pd.concat(parts, ignore_index=True)
    out["flagged"] = (out.psi > THRESHOLD) | (out.missing_rise > MISSING_RISE)
    out["n_reference"], out["n_current"] = len(reference), len(current)
    return out


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per feature: PSI and flag, worst first."""
    if table.empty:
        return pd.DataFrame(columns=["feature", "psi", "flagged"])
    cols = [c for c in ("model", "feature", "psi", "missing_rise", "flagged", "n_reference", "n_current")
            if c in table.columns]
    return (table[cols].drop_duplicates(["model", "feature"] if "model" in cols else ["feature"])
            .sort_values("psi", ascending=False).reset_index(drop=True))


def store_drift(engine: Engine, version: registry.Version, reference: pd.DataFrame,
                current: pd.DataFrame) -> pd.DataFrame:
    """Compute drift of `current` (latest scoring features) against `reference` (training features) and
    store the binned distributions under `version`. Returns the per-feature summary."""
    table = drift_table(reference, current)
    table.insert(0, "model", version.model)
    registry.write_results(engine, T.FEATURE_DRIFT, table, version)
    out = summary(table)
    flagged = out.feature[out.flagged].tolist()
    log.info("%s drift: %d of %d features over PSI %.1f%s", version.model, len(flagged), len(out), THRESHOLD,
             f" ({', '.join(flagged)})" if flagged else "")
    return out


def read_drift(engine: Engine, model: str) -> pd.DataFrame:
    """The binned distributions stored by the active version of `model` (empty if none)."""
    out = registry.read_results(engine, T.FEATURE_DRIFT, model)
    if "flagged" in out:
        out["flagged"] = out.flagged.astype(bool)  # SQLite stores booleans as 0/1
    return out
