"""Cached reads for the forecast page (charts: ui/charts/forecast.py)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from services.forecast import read as fc
from ui import data

TTL = "10m"


@st.cache_data(ttl=TTL, max_entries=4, show_spinner="Reading the forecast...")
def live_nodes(url: str) -> pd.DataFrame:
    return fc.live_nodes(data.engine_for(url))


@st.cache_data(ttl=TTL, max_entries=4, show_spinner=False)
def ending_arr(url: str) -> pd.DataFrame:
    return fc.ending_arr(data.engine_for(url))


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def actuals(url: str, owners: tuple[str, ...]) -> pd.DataFrame:
    return fc.quarterly_actuals(data.engine_for(url), list(owners))


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def deals(url: str, owners: tuple[str, ...], quarter: str) -> pd.DataFrame:
    return fc.deals(data.engine_for(url), list(owners), quarter)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def track_record(url: str, person_id: str) -> pd.DataFrame:
    return fc.track_record(data.engine_for(url), person_id)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def waterfall(url: str, owners: tuple[str, ...], as_of: pd.Timestamp, quarter: str) -> pd.DataFrame:
    return fc.waterfall(data.engine_for(url), list(owners), as_of, quarter)
