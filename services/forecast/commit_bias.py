"""The humans' bias: each person's past commit error, and commits corrected by it, backtested.

A commit's error is log(commit / actual) for a quarter that has ended (symmetric, and a small actual
cannot blow it up the way commit / actual - 1 does). A person's bias is exp(mean error) - 1 and their
spread the standard deviation of the errors, over the quarters before the one being committed (at
least `MIN_QUARTERS`); the corrected commit is commit / (1 + bias). A team's bias-corrected roll-up
is the sum of its members' corrected commits. Frames in, frames out: the caller reads the commits and
the actual bookings (the backtest rows' `actual_usd`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MIN_QUARTERS = 3


def errors(commits: pd.DataFrame, actuals: pd.DataFrame) -> pd.DataFrame:
    """`person_id, quarter, commit_usd, actual_usd, error` for every committed quarter with an actual."""
    c = commits[["person_id", "quarter", "amount_usd"]].rename(columns={"amount_usd": "commit_usd"})
    e = c.merge(actuals[["person_id", "quarter", "actual_usd"]], on=["person_id", "quarter"], how="inner")
    e = e[(e.actual_usd > 0) & (e.commit_usd > 0)]
    return e.assign(error=np.log(e.commit_usd / e.actual_usd)).sort_values(["person_id", "quarter"])


def bias_before(errs: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """Per person: `bias, spread, n` over their quarters before `quarter` (none with fewer than MIN_QUARTERS)."""
    past = errs[errs.quarter < quarter]
    g = past.groupby("person_id")["error"].agg(bias="mean", spread="std", n="count")
    g["bias"] = np.expm1(g["bias"])
    return g[g.n >= MIN_QUARTERS]


def corrected(commits: pd.DataFrame, errs: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """`person_id, commit_usd, bias, spread, n, corrected_usd` for the commits of `quarter`; a person
    without enough history keeps their commit."""
    c = commits[commits.quarter == quarter][["person_id", "amount_usd"]].rename(columns={"amount_usd": "commit_usd"})
    out = c.join(bias_before(errs, quarter), on="person_id")
    out["corrected_usd"] = out.commit_usd / (1 + out.bias.fillna(0.0))
    return out.reset_index(drop=True)


def backtest(commits: pd.DataFrame, actuals: pd.DataFrame, parent: dict[str, str | None]) -> pd.DataFrame:
    """Per person and past quarter: commit, corrected commit (bias from earlier quarters only), the
    bias-corrected roll-up of the direct reports' commits, and the actual."""
    errs = errors(commits, actuals)
    rows = []
    for q in sorted(errs.quarter.unique()):
        c = corrected(commits, errs, q)
        c["parent_id"] = c.person_id.map(parent)
        roll = c.groupby("parent_id")["corrected_usd"].sum().rename("team_corrected_usd")
        rows.append(c.join(roll, on="person_id").assign(quarter=q))
    if not rows:
        return pd.DataFrame(columns=["person_id", "quarter", "commit_usd", "corrected_usd", "team_corrected_usd",
                                     "actual_usd"])
    out = pd.concat(rows, ignore_index=True)
    return out.merge(actuals[["person_id", "quarter", "actual_usd"]], on=["person_id", "quarter"], how="inner")


def wape(frame: pd.DataFrame, col: str) -> float:
    f = frame[frame[col].notna()]
    return float(np.abs(f[col] - f.actual_usd).sum() / f.actual_usd.sum()) if len(f) else None
