"""What every capability's confidence step shares: novelty columns and their reason in words.

A job fits `models.novelty.NoveltyScorer` on its training rows and calls `novelty_columns` on the rows it
scores: `novelty` (>= 1: flagged), `novel`, and `novelty_reason`, the sentence shown on hover beside a
flagged score ("unlike the training data: ARR above any training row; Industry never seen"). Intervals and
abstaining tiers come from `models.intervals`. No database, no Streamlit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.novelty import NoveltyScorer
from services import feature_catalog

PART_WORDS = {"out_of_range": "outside the range of the training data",
              "unseen_value": "a value the training data never had",
              "unusual_combination": "an unusual combination of values"}
DIRECTION_WORDS = {"above": "above any training row", "below": "below any training row", "unseen": "never seen"}


def _label(feature: str, labels: dict[str, str] | None) -> str:
    return (labels or {}).get(feature) or feature_catalog.describe(feature).label


def reason(part: str, features: list[str], directions: list[str], values: dict | None = None,
           labels: dict[str, str] | None = None) -> str:
    """One sentence: why the row is unlike the training data, naming its leading features."""
    if part == "unusual_combination":
        named = ", ".join(_label(f, labels) for f in features) or "several features"
        return f"Unlike the training data: {PART_WORDS[part]} ({named})"
    bits = []
    for f, d in zip(features, directions):
        v = (values or {}).get(f)
        shown = f" ({v})" if d == "unseen" and v is not None else ""
        bits.append(f"{_label(f, labels)} {DIRECTION_WORDS.get(d, d)}{shown}")
    return "Unlike the training data: " + ("; ".join(bits) or PART_WORDS.get(part, part))


def novelty_columns(scorer: NoveltyScorer, X: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """novelty, novel and novelty_reason (None where not flagged) for the rows of X, in X's order."""
    sf = scorer.score_frame(X)
    Xr = X.reset_index(drop=True)
    text = np.full(len(sf), None, dtype=object)
    for i in np.flatnonzero(sf.novel.to_numpy()):
        feats = sf.features.iat[i]
        vals = {f: Xr[f].iat[i] for f in feats if f in Xr}
        text[i] = reason(sf.part.iat[i], feats, sf.direction.iat[i], vals, labels)
    return pd.DataFrame({"novelty": sf.novelty.to_numpy(float), "novel": sf.novel.to_numpy(bool),
                         "novelty_reason": text})
