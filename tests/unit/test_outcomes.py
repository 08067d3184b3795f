"""The outcome report on synthetic histories where the action effect is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.outcomes import report as outcomes

AS_OF = pd.Timestamp("2026-06-30")


def synthetic(n: int, effect: float, seed: int = 0, confounded: bool = False):
    """n accounts, one renewal each in the past year; churn p from the score, cut by `effect` if acted."""
    rng = np.random.default_rng(seed)
    ids = [f"A{i:05d}" for i in range(n)]
    renewal = AS_OF - pd.to_timedelta(rng.integers(0, 180, n), unit="D")
    p = rng.uniform(0.05, 0.6, n)
    p_act = np.where(p > 0.3, 0.5, 0.1) if confounded else np.full(n, 0.3)
    acted = rng.random(n) < p_act
    churned = rng.random(n) < np.where(acted, p * (1 - effect), p)
    score_rows = []
    for k in range(1, 7):  # month-end scores 1..6 months before the renewal
        d = (renewal - pd.DateOffset(months=k)) + pd.offsets.MonthEnd(0)
        score_rows.append(pd.DataFrame({"account_id": ids, "score_date": d, "probability": p,
                                        "tier": np.where(p >= 0.25, "high", "medium"), "arr_usd": 1000.0,
                                        "renewal_date": renewal}))
    scores = pd.concat(score_rows, ignore_index=True)
    act_ids = np.array(ids)[acted]
    actions = pd.DataFrame({"account_id": act_ids, "action_type": rng.choice(["call", "training"], acted.sum()),
                            "created_at": renewal[acted] - pd.Timedelta(days=60)})
    start = renewal - pd.DateOffset(years=1)
    subs = pd.DataFrame({"account_id": ids, "start_date": start, "end_date": renewal, "arr_usd": 1000.0})
    kept = ~churned
    renewed = pd.DataFrame({"account_id": np.array(ids)[kept], "start_date": renewal[kept],
                            "end_date": renewal[kept] + pd.DateOffset(years=1),
                            "arr_usd": np.where(rng.random(kept.sum()) < 0.2, 800.0, 1000.0)})
    return scores, actions, pd.concat([subs, renewed], ignore_index=True), churned


def test_outcomes_are_read_from_subscriptions() -> None:
    scores, actions, subs, churned = synthetic(400, effect=0.4)
    frame = outcomes.outcome_frame(scores, actions, subs, AS_OF)
    assert len(frame) == 400 and set(frame.outcome) <= {"renewed", "downsold", "churned"}
    got = frame.set_index("account_id").outcome.eq("churned")
    assert got.sum() == churned.sum()
    assert (frame.loc[frame.outcome == "downsold", "arr_after_usd"] == 800.0).all()
    t = outcomes.by_action(frame)
    assert set(t.action_type) == {"call", "training", outcomes.NO_ACTION}
    assert t.renewals_due.sum() == 400
    assert ((t.save_rate >= 0) & (t.save_rate <= 1)).all()
    assert set(outcomes.by_tier(frame).acted) == {"acted", outcomes.NO_ACTION}


def test_effect_estimate_recovers_a_planted_effect_under_confounding() -> None:
    scores, actions, subs, _ = synthetic(20_000, effect=0.4, seed=1, confounded=True)
    eff = outcomes.effect_estimate(outcomes.outcome_frame(scores, actions, subs, AS_OF))
    # the riskiest accounts are acted on more often: the raw comparison understates the effect
    assert eff["action_effect_raw"] < eff["action_effect_stratified"]
    assert eff["action_effect_stratified"] == pytest.approx(0.4, abs=0.06)


def test_no_effect_estimates_near_zero_and_pending_renewals_are_kept() -> None:
    scores, actions, subs, _ = synthetic(20_000, effect=0.0, seed=2)
    eff = outcomes.effect_estimate(outcomes.outcome_frame(scores, actions, subs, AS_OF))
    assert abs(eff["action_effect_stratified"]) < 0.06
    future = scores.assign(renewal_date=AS_OF + pd.Timedelta(days=40),
                           score_date=AS_OF - pd.Timedelta(days=20)).head(3)
    frame = outcomes.outcome_frame(future, actions.head(0), subs.head(0), AS_OF)
    assert set(frame.outcome) == {"pending"} and not frame.acted.any()
    with pytest.raises(ValueError, match="lack columns"):
        outcomes.flag_windows(scores.drop(columns="tier"))


def test_regression_adjustment_removes_confounding_by_a_measured_driver() -> None:
    rng = np.random.default_rng(3)
    n = 8000
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-1.0 + 1.2 * x)))
    acted = rng.random(n) < 1 / (1 + np.exp(-(2.0 * x - 1.0)))  # riskier accounts acted on more
    churned = rng.random(n) < np.where(acted, 0.6 * p, p)
    feats = pd.DataFrame({"x": x, "noise": rng.normal(size=n)})
    raw = 1 - churned[acted].mean() / churned[~acted].mean()
    est = outcomes.regression_adjusted_effect(feats, acted, churned, bootstrap=20)
    assert raw < 0.2  # the crude comparison hides most of the effect
    assert est["action_effect_estimate"] == pytest.approx(0.4, abs=0.07)
    lo, hi = est["action_effect_interval_90"]
    assert lo < est["action_effect_estimate"] < hi
