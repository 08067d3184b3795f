"""CSM worklists and the CS-manager team view, from an `at_risk()` frame. No Streamlit.

A worklist is each CSM's top N accounts by expected ARR at risk at the next renewal (untreated risk:
logging an action never moves an account off it), with what changed since the previous month-end and
the suggested playbook (`services.outcomes.actions.suggest_playbook`, from the top reason's group and the
adoption cluster). The team view is the load per CSM: accounts, high-risk accounts, ARR, expected ARR at
risk and the high-risk renewals due within 90 days.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from services import registry
from services.churn import tables as T
from services.outcomes.actions import suggest_playbook

DEFAULT_N = 10
TIER_RANK = {name: i for i, (name, _) in enumerate(reversed(T.TIERS))}  # low 0, medium 1, high 2


def change_text(tier: str, previous_tier: object, change_pp: float) -> str:
    """What changed since the previous month-end, in words."""
    if previous_tier is None or (isinstance(previous_tier, float) and np.isnan(previous_tier)):
        return "newly scored"
    if TIER_RANK.get(tier, 0) > TIER_RANK.get(str(previous_tier), 0):
        return f"up from {previous_tier} to {tier} ({change_pp:+.1f} pts)"
    if TIER_RANK.get(tier, 0) < TIER_RANK.get(str(previous_tier), 0):
        return f"down from {previous_tier} to {tier} ({change_pp:+.1f} pts)"
    return f"{change_pp:+.1f} pts" if abs(change_pp) >= 1 else "no material change"


def top_reason_groups(engine: Engine) -> pd.Series:
    """account_id -> business group of its top reason (latest score date)."""
    r = registry.read_results(engine, T.REASONS)
    if r.empty:
        return pd.Series(dtype=object)
    return r[r["rank"] == 1].set_index("account_id")["group"]


def worklist(risk: pd.DataFrame, reason_groups: pd.Series, n: int = DEFAULT_N) -> pd.DataFrame:
    """Each CSM's top `n` accounts by expected ARR at risk: csm, rank, account, tier, probability, expected
    ARR at risk, renewal, what changed, top reason, suggested playbook and its first step."""
    if risk.empty:
        return risk.assign(rank=[], change=[], playbook=[], first_step=[])
    r = risk[risk.csm_id.notna()].sort_values("expected_arr_at_risk_usd", ascending=False)
    top = r.groupby("csm_id", sort=False).head(int(n)).copy()
    top["rank"] = top.groupby("csm_id").cumcount() + 1
    top["change"] = [change_text(t, p, c if pd.notna(c) else 0.0)
                     for t, p, c in zip(top.tier, top.previous_tier, top.change_pp)]
    cluster = top["adoption_cluster"] if "adoption_cluster" in top else pd.Series(None, index=top.index)
    books = [suggest_playbook(c if isinstance(c, str) else None, reason_groups.get(a))
             for a, c in zip(top.account_id, cluster)]
    top["playbook"] = [b.name for b in books]
    top["first_step"] = [b.steps[0] for b in books]
    return top.sort_values(["csm", "rank"], ignore_index=True)


def team_load(risk: pd.DataFrame, due_days: int = 90) -> pd.DataFrame:
    """Load per CSM, largest expected ARR at risk first."""
    r = risk[risk.csm_id.notna()].assign(
        high=lambda d: d.tier == T.TIERS[0][0],
        due_high=lambda d: (d.tier == T.TIERS[0][0]) & (d.days_to_renewal <= due_days))
    g = r.groupby(["csm_id", "csm"], dropna=False).agg(
        accounts=("account_id", "size"), high_risk_accounts=("high", "sum"), arr_usd=("arr_usd", "sum"),
        expected_arr_at_risk_usd=("expected_arr_at_risk_usd", "sum"),
        high_risk_renewals_due=("due_high", "sum")).reset_index()
    total = g.expected_arr_at_risk_usd.sum()
    g["share_of_risk"] = g.expected_arr_at_risk_usd / total if total > 0 else 0.0
    return g.sort_values("expected_arr_at_risk_usd", ascending=False, ignore_index=True)


def renewing_within(risk: pd.DataFrame, days: int | None) -> pd.DataFrame:
    """The accounts whose next renewal is within `days` (all of them when None)."""
    return risk if days is None else risk[risk.days_to_renewal <= days]
