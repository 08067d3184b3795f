"""What every capability's confidence step shares: novelty columns and their reason in words.

A job fits `models.novelty.NoveltyScorer` on its training rows and calls `novelty_columns` on the rows it
scores: `novelty` (>= 1: flagged), `novel`, and `novelty_reason`, the sentence shown on hover beside a
flagged score ("unlike the training data: ARR above any training row; Industry never seen"). Intervals and
abstaining tiers come from `models.intervals`. No database, no Streamlit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models import intervals
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


def assess(train: pd.DataFrame, groups: np.ndarray, y_train: np.ndarray, p_train: np.ndarray, rows: pd.DataFrame,
           point_logit: np.ndarray, draws_logit: np.ndarray, tiers, level: float, neighbors: int,
           seed: int = 0, coords: tuple[np.ndarray, np.ndarray] | None = None, edge: float = 0.25,
           outcome_groups: np.ndarray | None = None) -> tuple[pd.DataFrame, NoveltyScorer, np.ndarray]:
    """The confidence columns of `rows` (same columns as `train`): interval (refit draws combined with the local
    calibration on the `neighbors` nearest labelled training rows, `intervals.calibration_sd`: their outcomes
    against `p_train`, best held-out predictions; nearest in `coords` (train, rows), e.g. the rows'
    contributions to the log-odds, else in the novelty scorer's feature space), novelty and its reason, and the
    abstaining tier (`edge`: see `intervals.abstaining_tier`). `groups`: the training rows' accounts (novelty
    holds whole accounts out); `outcome_groups`: rows sharing one outcome (default `groups`). Returns
    (columns, the fitted scorer, the local sd per row)."""
    scorer = NoveltyScorer(random_state=seed).fit(train, groups=groups)
    nov = novelty_columns(scorer, rows)
    p = 1 / (1 + np.exp(-np.asarray(point_logit, dtype=float)))
    nb = (intervals.nearest(coords[0], coords[1], neighbors, seed=seed) if coords is not None
          else scorer.neighbors(rows, neighbors))
    og = np.asarray(groups if outcome_groups is None else outcome_groups)
    local = intervals.calibration_sd(np.asarray(y_train, float)[nb], np.asarray(p_train, float)[nb], p, og[nb])
    low, high = intervals.interval(point_logit, draws_logit, level, extra_sd=local)
    out = pd.DataFrame({"probability_low": low, "probability_high": high,
                        "tier_confident": intervals.abstaining_tier(p, low, high, tiers, nov.novel.to_numpy(), edge),
                        **{c: nov[c].to_numpy() for c in nov.columns}})
    return out, scorer, local


def summary(out: pd.DataFrame, latest: np.ndarray, scorer: NoveltyScorer, misfit: np.ndarray, level: float,
            n_boot: int) -> dict:
    """The metrics a job stores about its confidence step (shares at the latest score date)."""
    return {"novelty_threshold": scorer.threshold_, "novelty_reference_rows": scorer.n_reference_,
            "novelty_held_out_rows": scorer.n_held_out_, "share_novel_latest": float(out.novel[latest].mean()),
            "share_uncertain_latest": float((out.tier_confident[latest] == intervals.UNCERTAIN).mean()),
            "interval_level": level, "interval_refits": n_boot,
            "interval_width_median": float(np.median(out.probability_high - out.probability_low)),
            "interval_local_sd_median": float(np.median(misfit))}
