"""Cached adoption reads for the adoption page (charts: ui/charts/adoption.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from services.adoption import read as svc
from services.hierarchy import Scope
from ui.data import engine_for

TTL = "10m"


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Reading adoption clusters...")
def clusters(url: str, as_of: dt.date | None, scope: Scope) -> pd.DataFrame:
    return svc.clusters(engine_for(url), as_of, scope)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def profile(url: str, as_of: dt.date | None) -> pd.DataFrame:
    return svc.profile(engine_for(url), as_of)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner=False)
def movements(url: str, as_of: dt.date | None, scope: Scope) -> pd.DataFrame:
    return svc.movements(engine_for(url), as_of, scope)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Reading accounts...")
def members(url: str, cluster_id: int | None, scope: Scope, segment: str | None,
            as_of: dt.date | None) -> pd.DataFrame:
    return svc.members(engine_for(url), cluster_id, scope, segment, as_of)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner=False)
def product_signals(url: str, as_of: dt.date | None, scope: Scope) -> pd.DataFrame:
    return svc.product_signals(engine_for(url), as_of, scope)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def segments(url: str) -> list[str]:
    return svc.segments(engine_for(url))
