"""Markers for scores the model should not be trusted on: unfamiliar rows (novelty) and uncertain tiers.

`annotate` adds the marker and range columns a table shows; `filter_toggle` is the hide/show switch;
`explain` is the one sentence (figures from the constants that define them) a caption or hover shows.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from models.intervals import UNCERTAIN
from models.novelty import NoveltyScorer
from services.churn.confidence import LEVEL, OTHER_TIER_CHANCE
from ui import churn as uc
from ui.charts import confidence as charts

UNFAMILIAR = "⚠ Unfamiliar"
UNSURE = "◌ Uncertain"
MARKER_COLUMN = "Trust"


def explain() -> str:
    """What the markers mean, for captions and column help."""
    share = NoveltyScorer().contamination
    return (f"{UNFAMILIAR}: unlike the rows the model was trained on (a threshold that flags about {share:.0%} "
            f"of training-like rows); the reason names the features. {UNSURE}: the tier is withheld because the "
            f"{LEVEL:.0%} range of the probability leaves more than a {OTHER_TIER_CHANCE:.0%} chance of another "
            f"tier. Range: refits of the model on resampled accounts, plus how closely the outcomes of the "
            f"past rows the model scored most alike pin the probability down.")


def marker(novel: object, tier_confident: object) -> str:
    """The marker of one score: unfamiliar (novel), uncertain (tier withheld) or none."""
    if novel is not None and not pd.isna(novel) and bool(novel):
        return UNFAMILIAR
    return UNSURE if tier_confident == UNCERTAIN else ""


def range_text(low: object, high: object) -> str:
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return ""
    return f"{float(low):.0%}–{float(high):.0%}"


def annotate(frame: pd.DataFrame) -> pd.DataFrame:
    """`trust` (marker), `probability_range` and `trust_reason` columns from the confidence columns."""
    if frame.empty or "novel" not in frame:
        return frame.assign(trust="", probability_range="", trust_reason="")
    tiers = frame["tier_confident"] if "tier_confident" in frame else [None] * len(frame)  # expansion has no tiers
    trust = [marker(n, t) for n, t in zip(frame["novel"], tiers)]
    why = [r if isinstance(r, str) and r else ("Tier withheld: the range spans a tier boundary" if m == UNSURE else "")
           for r, m in zip(frame["novelty_reason"], trust)]
    return frame.assign(trust=trust, probability_range=[range_text(a, b) for a, b in
                                                        zip(frame["probability_low"], frame["probability_high"])],
                        trust_reason=why)


def filter_toggle(key: str, label: str = "Show unfamiliar accounts") -> bool:
    """The hide/show switch for flagged rows; True: show them."""
    return st.toggle(label, value=True, key=key,
                     help="Off: hide scores the model has not seen the like of. " + explain())


def apply(frame: pd.DataFrame, show_unfamiliar: bool) -> pd.DataFrame:
    if show_unfamiliar or "novel" not in frame:
        return frame
    return frame[~frame["novel"].astype(bool)]


def column_config() -> dict:
    return {"trust": st.column_config.TextColumn(MARKER_COLUMN, help=explain(), width="small"),
            "probability_range": st.column_config.TextColumn("Range", help=explain()),
            "trust_reason": st.column_config.TextColumn("Why flagged", help=explain())}


def score_line(frame: pd.DataFrame) -> None:
    """One line under a score (the account page, the workbench): its range and marker, the reason on hover."""
    if frame.empty or "novel" not in frame:
        return
    row = annotate(frame.tail(1)).iloc[0]
    parts = [f"Range {row['probability_range']}"] if row["probability_range"] else []
    if row["trust"]:
        parts.append(f"**{row['trust']}**: {row['trust_reason']}")
    if parts:
        st.markdown(" · ".join(parts), help=explain())


def churn_confidence(url: str, account_id: str, score_date: object) -> pd.DataFrame:
    """The confidence row of one churn score (cached through ui.churn)."""
    return uc.with_confidence(url, pd.DataFrame({"account_id": [account_id],
                                                 "score_date": [pd.Timestamp(score_date)]}))


def health_section(url: str) -> None:
    """Model health: the share of churn scores flagged unfamiliar per score date, a drift signal per row."""
    over = uc.novelty_over_time(url)
    if over.empty:
        return
    st.subheader("Churn: scores unlike the training data")
    st.caption("Each score date's share of accounts flagged unfamiliar, against the share expected of rows like the "
               "training rows (dotted); a rising share means the accounts are moving away from what the model "
               "learned from. " + explain())
    st.plotly_chart(charts.share_flagged(over, NoveltyScorer().contamination), width="stretch")


@st.cache_data(ttl="10m", max_entries=64, show_spinner=False)
def _deal_mix(url: str, person_id: str, quarter: str, scope: Any = None) -> dict | None:
    from services.forecast import read as fc
    from ui.data import engine_for
    return fc.deal_mix(engine_for(url), person_id, quarter, scope=scope)


def mix_line(url: str, person_id: str, quarter: str, scope: Any = None) -> None:
    """Beside the forecast band: a marker when the node's deal mix is unlike any backtested quarter."""
    mix = _deal_mix(url, person_id, quarter, scope)
    if mix and mix["unusual"]:
        st.markdown(f"**{UNFAMILIAR} deal mix**: {mix['reason']}",
                    help="The band comes from the errors of past quarters; none had one deal this large a share "
                         "of the expected pipeline at this level, so the outcome may fall outside it.")


@st.cache_data(ttl="10m", max_entries=32, show_spinner=False)
def with_deal_novelty(url: str, deals: pd.DataFrame) -> pd.DataFrame:
    """Forecast deals with `trust` (marker), `trust_reason` (the win-probability model's novelty) and
    `probability_range` (the win probability's range)."""
    from services.forecast import read as fc
    from ui.data import engine_for
    out = fc.with_deal_novelty(engine_for(url), deals)
    return out.assign(trust=[UNFAMILIAR if n else "" for n in out["novel"]],
                      trust_reason=out["novelty_reason"].fillna(""),
                      probability_range=[range_text(a, b) for a, b in zip(out["p_win_low"], out["p_win_high"])])


@st.cache_data(ttl="10m", max_entries=64, show_spinner=False)
def _cluster_fit(url: str, account_id: str, scope: Any = None) -> dict | None:
    from services.adoption import read as adoption
    from ui.data import engine_for
    return adoption.cluster_fit(engine_for(url), account_id, scope)


def cluster_line(url: str, account_id: str, scope: Any = None) -> None:
    """On the account page: a marker when the account is unlike any adoption cluster."""
    fit = _cluster_fit(url, account_id, scope)
    if fit and fit["unlike_any_group"]:
        st.markdown(f"**{UNFAMILIAR} adoption**: unlike any adoption group (its signals are "
                    f"{fit['nearest_ratio']:.1f}× the spread of even the nearest cluster); the cluster shown is "
                    "only the nearest one.",
                    help="A cluster's spread: the distance from its centroid within which nearly all of its "
                         "members lie (scaled adoption signals).")
