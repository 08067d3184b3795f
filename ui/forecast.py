"""Cached reads for the forecast page (charts: ui/charts/forecast.py)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from services.forecast import read as fc
from ui import data

TTL = "10m"


@st.cache_data(ttl=TTL, max_entries=16, show_spinner="Reading the forecast...")
def nodes_at(url: str, as_of: dt.date | None) -> pd.DataFrame:
    return fc.nodes_at(data.engine_for(url), as_of)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def ending_arr(url: str, as_of: dt.date | None) -> pd.DataFrame:
    return fc.ending_arr(data.engine_for(url), as_of)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def actuals(url: str, owners: tuple[str, ...], as_of: dt.date | None) -> pd.DataFrame:
    return fc.quarterly_actuals(data.engine_for(url), list(owners), as_of=as_of)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def deals(url: str, owners: tuple[str, ...], quarter: str, as_of: dt.date | None) -> pd.DataFrame:
    return fc.deals(data.engine_for(url), list(owners), quarter, as_of=as_of)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def track_record(url: str, person_id: str, as_of: dt.date | None) -> pd.DataFrame:
    return fc.track_record(data.engine_for(url), person_id, as_of)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def waterfall(url: str, owners: tuple[str, ...], as_of: pd.Timestamp, quarter: str) -> pd.DataFrame:
    return fc.waterfall(data.engine_for(url), list(owners), as_of, quarter)
