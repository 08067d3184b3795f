"""Cached reads for the forecast page (charts: ui/charts/forecast.py)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from services.forecast import read as fc
from services.hierarchy import Scope
from ui import data
from ui.format import parse_money, usd_full

TTL = "10m"


@st.cache_data(ttl=TTL, max_entries=16, show_spinner="Reading the forecast...")
def nodes_at(url: str, as_of: dt.date | None, scope: Scope) -> pd.DataFrame:
    return fc.nodes_at(data.engine_for(url), as_of, scope)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def ending_arr(url: str, as_of: dt.date | None, scope: Scope) -> pd.DataFrame:
    return fc.ending_arr(data.engine_for(url), as_of, scope)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def actuals(url: str, owners: tuple[str, ...], as_of: dt.date | None) -> pd.DataFrame:
    return fc.quarterly_actuals(data.engine_for(url), list(owners), as_of=as_of)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def deals(url: str, owners: tuple[str, ...], quarter: str, as_of: dt.date | None) -> pd.DataFrame:
    return fc.deals(data.engine_for(url), list(owners), quarter, as_of=as_of)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def track_record(url: str, person_id: str, as_of: dt.date | None, scope: Scope) -> pd.DataFrame:
    return fc.track_record(data.engine_for(url), person_id, as_of, scope)


@st.cache_data(ttl=TTL, max_entries=64, show_spinner=False)
def figures(url: str, as_of: dt.date | None, scope: Scope, person_ids: tuple[str, ...], quarter: str,
            cutoff: dt.date | None) -> pd.DataFrame:
    """The header figures (services.forecast.read.figures) of `person_ids` from the nodes shown at `as_of`."""
    return fc.figures(data.engine_for(url), nodes_at(url, as_of, scope), list(person_ids), quarter, cutoff)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def commits(url: str, cutoff: dt.date | None, scope: Scope) -> pd.DataFrame:
    return fc.commits(data.engine_for(url), cutoff, scope)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner=False)
def commit_history(url: str, person_id: str, quarter: str, scope: Scope) -> pd.DataFrame:
    return fc.commit_history(data.engine_for(url), person_id, quarter, scope)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def missing_inputs(url: str) -> dict[str, str]:
    return fc.missing_inputs(data.engine_for(url))


def commits_changed() -> None:
    """Forget every cached read that shows a commit (after a save)."""
    for cached in (figures, commits, commit_history, missing_inputs, commit_bias):
        cached.clear()


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def commit_bias(url: str, quarter: str, scope: Scope) -> pd.DataFrame:
    return fc.commit_bias(data.engine_for(url), quarter, scope)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner=False)
def accuracy_here(url: str, person_id: str, h: int, week: int, scope: Scope) -> dict:
    return fc.accuracy_here(data.engine_for(url), person_id, h, week, scope=scope)


def accuracy_sentence(a: dict, h: int) -> str:
    """The backtest's word on the number shown: the headline for this quarter, bias and band for later ones."""
    if not a:
        return "No backtest at this point yet: treat the number as unproven."
    band = f"P10-P90 held the actual in {a['inside_band']} of {a['n']}"
    if h == 0:
        return (f"At week {a['week']} of the quarter this forecast has been within ±{a['within_pct']:.0f}% in "
                f"{a['hits']} of the last {a['n']} quarters (bias {a['bias_pct']:+.0f}%; {band}; backtest).")
    ahead = "next quarter" if h == 1 else "the quarter after"
    return (f"Forecasting {ahead} from week {a['week']}: bias {a['bias_pct']:+.0f}%, within ±{a['within_pct']:.0f}% "
            f"in {a['hits']} of the last {a['n']} quarters; {band} (backtest).")


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def waterfall(url: str, owners: tuple[str, ...], as_of: pd.Timestamp, quarter: str) -> pd.DataFrame:
    return fc.waterfall(data.engine_for(url), list(owners), as_of, quarter)


def save_commit_from_form(person: str, quarter: str, amount_key: str, note_key: str, who_name: str,
                          submitted_by: str, quarter_label: str | None = None) -> None:
    """The commit box's callback: read the typed amount (thousands separators welcome), save it, and leave
    the page's one-line message in the session (runs before the rerun, so the tiles read the new commit)."""
    state = st.session_state
    try:
        amount = parse_money(state.get(amount_key, ""))
    except ValueError as exc:
        state["fc_commit_error"] = f"Not saved: {exc}"
        return
    fc.save_commit(data.engine(), person, quarter, amount, state.get(note_key) or "", submitted_by=submitted_by)
    commits_changed()
    state[amount_key] = f"{amount:,.0f}"  # shown as saved, separators included
    state["fc_commit_saved"] = f"Saved commit {usd_full(amount)} for {who_name}, {quarter_label or quarter}."
    state["fc_commit_rerun"] = True  # the page's quarter fragment reruns the whole page once
