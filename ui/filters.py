"""Shared sidebar filters (as-of date and scope), kept in `st.session_state` for every page.

`app.py` calls `sidebar_filters()` once per run; pages read `current_as_of()` and `current_scope()`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from services.db import DatabaseUnavailable
from services.hierarchy import Scope, managers_in, regions, reps_in, visible_people
from ui import auth, data

AS_OF = "as_of"
REGION = "scope_region"
MANAGER = "scope_manager"
REP = "scope_rep"


def _keep_valid(key: str, options: list[Any]) -> None:
    """Reset a widget's stored value when it is no longer among its options."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0] if options else None


def _names(frame: pd.DataFrame) -> dict[str, str]:
    labels = data.person_labels(data.current_url())
    return {p: labels.get(p, n) for p, n in zip(frame["person_id"], frame["name"])}


def _person_select(label: str, key: str, frame: pd.DataFrame, all_label: str) -> str | None:
    names = _names(frame)
    options: list[str | None] = [None, *names]
    _keep_valid(key, options)
    return st.selectbox(label, options, key=key, format_func=lambda p: all_label if p is None else names[p])


def sidebar_filters() -> None:
    """Draw the as-of and scope filters in the sidebar (nothing when the database is empty)."""
    url = data.current_url()
    try:
        empty = not data.has_accounts(url)
    except DatabaseUnavailable as exc:
        st.error(f"{exc}. Check FORESIGHT_DATABASE_URL.", icon=":material/error:")
        st.stop()
    if empty:
        for key in (AS_OF, REGION, MANAGER, REP):
            st.session_state[key] = None
        return
    with st.sidebar:
        st.subheader("Filters")
        choices = data.as_of_choices(url) or [dt.date.today()]
        _keep_valid(AS_OF, choices)
        st.selectbox("As of", choices, key=AS_OF, format_func=lambda d: d.strftime("%d %b %Y"))
        people = visible_people(data.people(url), _bound())  # only what the signed-in role may see
        region_options: list[str | None] = [None, *regions(people)]
        _keep_valid(REGION, region_options)
        region = st.selectbox("Region", region_options, key=REGION, format_func=lambda r: r or "All regions")
        manager = _person_select("Manager", MANAGER, managers_in(people, region), "All managers")
        _person_select("Rep", REP, reps_in(people, region, manager), "All reps")


def current_as_of() -> dt.date | None:
    """The as-of date chosen in the sidebar (None when there is no data)."""
    return st.session_state.get(AS_OF)


def inputs_cutoff() -> dt.date | None:
    """The as-of date as a cut-off for people's inputs (commits): None at the newest as-of date, where
    everything entered so far counts (an input entered today lies after the data's last date)."""
    as_of = current_as_of()
    choices = data.as_of_choices(data.current_url())
    return None if as_of is None or (choices and as_of >= choices[0]) else as_of


def _bound() -> str | None:
    principal = auth.current_principal()
    return principal.scope.within if principal else None


def current_scope() -> Scope:
    """The scope chosen in the sidebar, bounded by the signed-in person's allowed scope."""
    state = st.session_state
    return Scope(region=state.get(REGION), manager_id=state.get(MANAGER), rep_id=state.get(REP), within=_bound())


def scope_label(scope: Scope | None = None) -> str:
    """Human-readable scope, e.g. "EMEA / Dana Smith (manager)"."""
    scope = scope or current_scope()
    if scope.is_all:
        return "Whole company"
    names = _names(data.people(data.current_url()))
    parts = [scope.region] if scope.region else []
    if scope.within and not (scope.manager_id or scope.rep_id):
        parts.append(f"{names.get(scope.within, scope.within)}'s book")
    if scope.manager_id:
        parts.append(f"{names.get(scope.manager_id, scope.manager_id)} (manager)")
    if scope.rep_id:
        parts.append(f"{names.get(scope.rep_id, scope.rep_id)} (rep)")
    return " / ".join(p for p in parts if p)
