"""The outcome report: accounts flagged at risk before a renewal, acted on or not, and what happened.

Unit of analysis: one (account, renewal) pair. The churn model's month-end scores in the
`WINDOW_MONTHS` months before the renewal give the flag (the worst tier in the window, flagged when it
is one of `FLAG_TIERS`) and the risk at the window's start (`p_start`, the score about 6 months
before the renewal, before most actions). It is acted on when a CSM action was logged in the window.
The outcome comes from the subscriptions: ARR the day before the renewal vs ARR on the day -
churned (lost more than half), downsold (lost some), renewed; pending while the renewal is ahead.

This is OBSERVATIONAL: CSMs choose whom to act on, usually the riskiest accounts. Three estimates
of the relative cut in churn rate among the acted-on accounts, from crude to adjusted:
- `action_effect_raw`: acted vs not acted, as they are;
- `action_effect_stratified`: within quintiles of `p_start`, weighted by the acted accounts;
- `action_effect_estimate` (`regression_adjusted_effect`): g-computation - a logistic outcome model
  of churn on the point-in-time churn features at the window's start (before the actions) plus
  `acted`; the acted accounts' churn vs their predicted churn had they not been acted on.
Each is only as good as the measured behaviour's ability to capture what made CSMs act.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

WINDOW_MONTHS = 6
FLAG_TIERS = ("high", "medium")
TIER_ORDER = {"low": 0, "medium": 1, "high": 2}
CHURN_ARR_LOSS = 0.5  # the churn model's label: losing more than half the ARR at a renewal
STRATA = 5
INTERVAL = 0.90  # the bootstrap interval of the adjusted effect (stored as action_effect_interval_90)
NO_ACTION = "no action"
CAVEAT = ("Observational: CSMs chose whom to act on, so acted and not-acted accounts differ in more than "
          "the action. The adjusted effect compares acted accounts with what a model of churn on their "
          "behaviour six months before the renewal predicts without the action; read it as a guide, "
          "not as a controlled experiment.")


def flag_windows(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (account, renewal_date): scores in the window before it -> p_start, p_max, tier, flagged."""
    need = {"account_id", "score_date", "probability", "tier", "renewal_date"}
    if missing := need - set(scores.columns):
        raise ValueError(f"churn scores lack columns {sorted(missing)}")
    s = scores[scores.renewal_date.notna()].copy()
    s["renewal_date"] = pd.to_datetime(s.renewal_date).dt.normalize()
    s["score_date"] = pd.to_datetime(s.score_date).dt.normalize()
    start = s.renewal_date - pd.DateOffset(months=WINDOW_MONTHS) - pd.Timedelta(days=3)
    s = s[(s.score_date >= start) & (s.score_date < s.renewal_date)]
    if s.empty:
        return pd.DataFrame(columns=["account_id", "renewal_date", "p_start", "p_max", "tier", "arr_usd",
                                     "first_score", "flagged"])
    s = s.sort_values(["account_id", "renewal_date", "score_date"])
    s["tier_rank"] = s.tier.map(TIER_ORDER).fillna(0)
    g = s.groupby(["account_id", "renewal_date"], sort=False)
    out = g.agg(p_start=("probability", "first"), p_max=("probability", "max"), tier_rank=("tier_rank", "max"),
                first_score=("score_date", "first"),
                **({"arr_usd": ("arr_usd", "first")} if "arr_usd" in s else {})).reset_index()
    out["tier"] = out.pop("tier_rank").map({v: k for k, v in TIER_ORDER.items()})
    out["flagged"] = out.tier.isin(FLAG_TIERS)
    return out


def attach_actions(pairs: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """Add `acted`, `action_type` (the first action in the window) and `n_actions`."""
    out = pairs.copy()
    a = actions[["account_id", "action_type", "created_at"]].copy()
    a["created_at"] = pd.to_datetime(a.created_at)
    m = out[["account_id", "renewal_date"]].reset_index().merge(a, on="account_id")
    lo = m.renewal_date - pd.DateOffset(months=WINDOW_MONTHS) - pd.Timedelta(days=31)
    m = m[(m.created_at >= lo) & (m.created_at < m.renewal_date)].sort_values("created_at")
    first = m.drop_duplicates("index").set_index("index")
    out["n_actions"] = m.groupby("index").size().reindex(out.index).fillna(0).astype(int)
    out["acted"] = out.n_actions > 0
    out["action_type"] = first.action_type.reindex(out.index).fillna(NO_ACTION)
    return out


def renewal_outcomes(pairs: pd.DataFrame, subscriptions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Add ARR before/after each renewal and the outcome (renewed, downsold, churned, pending)."""
    out = pairs.copy()
    subs = subscriptions[["account_id", "start_date", "end_date", "arr_usd"]]
    m = out[["account_id", "renewal_date"]].reset_index().merge(subs, on="account_id")
    day_before = m.renewal_date - pd.Timedelta(days=1)
    before = m[(m.start_date <= day_before) & (m.end_date > day_before)].groupby("index").arr_usd.sum()
    after = m[(m.start_date <= m.renewal_date) & (m.end_date > m.renewal_date)].groupby("index").arr_usd.sum()
    out["arr_before_usd"] = before.reindex(out.index).fillna(0.0)
    out["arr_after_usd"] = after.reindex(out.index).fillna(0.0)
    due = out.renewal_date <= pd.Timestamp(as_of)
    lost = out.arr_before_usd - out.arr_after_usd
    out["outcome"] = np.select(
        [~due, lost > CHURN_ARR_LOSS * out.arr_before_usd, lost > 0.005 * out.arr_before_usd],
        ["pending", "churned", "downsold"], "renewed")
    out.loc[~due, "arr_after_usd"] = np.nan
    return out


def outcome_frame(scores: pd.DataFrame, actions: pd.DataFrame, subscriptions: pd.DataFrame,
                  as_of: pd.Timestamp) -> pd.DataFrame:
    """Every flagged (account, renewal) pair with its action and outcome."""
    pairs = flag_windows(scores)
    pairs = pairs[pairs.flagged].reset_index(drop=True)
    return renewal_outcomes(attach_actions(pairs, actions), subscriptions, as_of)


def _summary(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    due = frame[frame.outcome != "pending"]
    g = due.groupby(by, observed=True)
    out = g.size().rename("renewals_due").to_frame()
    for o in ("renewed", "downsold", "churned"):
        out[o] = g.outcome.apply(lambda s, o=o: int((s == o).sum()))
    out["save_rate"] = 1 - out.churned / out.renewals_due
    out["arr_before_usd"] = g.arr_before_usd.sum()
    out["arr_after_usd"] = g.arr_after_usd.sum()
    out["arr_retained"] = out.arr_after_usd / out.arr_before_usd.where(out.arr_before_usd > 0)
    pending = frame[frame.outcome == "pending"].groupby(by, observed=True).size()
    out["pending"] = pending.reindex(out.index).fillna(0).astype(int)
    return out.reset_index()


def by_action(frame: pd.DataFrame) -> pd.DataFrame:
    """Save rate and ARR retained per action type (first action in the window) and for no action."""
    return _summary(frame, ["action_type"]).sort_values("renewals_due", ascending=False, ignore_index=True)


def by_tier(frame: pd.DataFrame) -> pd.DataFrame:
    """Save rate and ARR retained per worst tier in the window, acted vs not."""
    f = frame.assign(acted=np.where(frame.acted, "acted", NO_ACTION))
    return _summary(f, ["tier", "acted"])


def regression_adjusted_effect(features: pd.DataFrame, acted: np.ndarray, churned: np.ndarray,
                               bootstrap: int = 0, seed: int = 0) -> dict[str, Any]:
    """G-computation: 1 - observed churn of the acted / their predicted churn with `acted` set to 0.

    `features` are pre-action covariates (one row per renewal). With `bootstrap` > 0 adds a 90%
    percentile interval from that many resamples."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    acted, churned = np.asarray(acted, bool), np.asarray(churned, bool)
    X = features.apply(pd.to_numeric, errors="coerce").astype(float)
    X = X.loc[:, X.notna().any()].assign(acted=acted.astype(float))

    def once(idx: np.ndarray) -> float:
        model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(X.iloc[idx], churned[idx])
        treated = idx[acted[idx]]
        counterfactual = model.predict_proba(X.iloc[treated].assign(acted=0.0))[:, 1].sum()
        return float(1 - churned[treated].sum() / counterfactual)

    if acted.sum() < 10 or (~acted).sum() < 10 or churned.sum() < 10:
        return {"action_effect_estimate": None}
    out: dict[str, Any] = {"action_effect_estimate": once(np.arange(len(X)))}
    if bootstrap:
        rng = np.random.default_rng(seed)
        draws = [once(rng.integers(0, len(X), len(X))) for _ in range(bootstrap)]
        tail = (1 - INTERVAL) / 2
        out["action_effect_interval_90"] = [float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))]
    return out


def effect_estimate(frame: pd.DataFrame, strata: int = STRATA) -> dict[str, Any]:
    """Relative reduction in churn rate, acted vs not, among flagged accounts whose renewal came due.

    `action_effect_raw` compares the two groups as they are; `action_effect_stratified` compares them
    within quantile bins of `p_start` weighted by the acted accounts in each bin."""
    due = frame[frame.outcome != "pending"]
    churn = (due.outcome == "churned").astype(float)
    n1, n0 = int(due.acted.sum()), int((~due.acted).sum())
    out: dict[str, Any] = {"n_flagged_due": len(due), "n_acted": n1, "n_not_acted": n0,
                           "action_effect_raw": None, "action_effect_stratified": None,
                           "churn_rate_acted": None, "churn_rate_not_acted": None}
    if n1 == 0 or n0 == 0:
        return out
    r1, r0 = churn[due.acted].mean(), churn[~due.acted].mean()
    out.update(churn_rate_acted=float(r1), churn_rate_not_acted=float(r0),
               action_effect_raw=float(1 - r1 / r0) if r0 > 0 else None)
    bins = pd.qcut(due.p_start.rank(method="first"), q=min(strata, len(due)), labels=False)
    t = pd.DataFrame({"bin": bins, "acted": due.acted, "churn": churn})
    rates = t.groupby(["bin", "acted"]).churn.agg(["mean", "size"]).unstack("acted")
    both = rates.dropna()
    if both.empty:
        return out
    w = both[("size", True)]
    expected_untreated = float((w * both[("mean", False)]).sum())
    if expected_untreated > 0:
        out["action_effect_stratified"] = float(1 - (w * both[("mean", True)]).sum() / expected_untreated)
    out["strata_used"] = len(both)
    return out
