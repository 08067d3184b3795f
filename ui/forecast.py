"""Cached reads and pure plotly chart builders for the forecast page."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from services.forecast import read as fc
from services.hierarchy import Scope
from ui import data

TTL = "10m"


@st.cache_data(ttl=TTL, max_entries=16, show_spinner="Reading the forecast...")
def live_nodes(url: str, scope: Scope) -> pd.DataFrame:
    return fc.live_nodes(data.engine_for(url), scope)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def ending_arr(url: str, scope: Scope) -> pd.DataFrame:
    return fc.ending_arr(data.engine_for(url), scope)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def actuals(url: str, owners: tuple[str, ...]) -> pd.DataFrame:
    return fc.quarterly_actuals(data.engine_for(url), list(owners))


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def deals(url: str, owners: tuple[str, ...], quarter: str) -> pd.DataFrame:
    return fc.deals(data.engine_for(url), list(owners), quarter)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def track_record(url: str, person_id: str, scope: Scope) -> pd.DataFrame:
    return fc.track_record(data.engine_for(url), person_id, scope)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def waterfall(url: str, owners: tuple[str, ...], as_of: pd.Timestamp, quarter: str) -> pd.DataFrame:
    return fc.waterfall(data.engine_for(url), list(owners), as_of, quarter)


def forecast_chart(actual: pd.DataFrame, fut: pd.DataFrame, commits: pd.DataFrame) -> go.Figure:
    """Quarterly bookings: actuals, P50 with the P10-P90 band for the forecast quarters, and commits."""
    fig = go.Figure()
    fig.add_bar(x=actual["quarter"], y=actual["actual_usd"], name="Actual bookings", marker_color="#9aa5b1")
    fig.add_scatter(x=fut["quarter"], y=fut["p90_usd"], mode="lines", line={"width": 0}, showlegend=False,
                    hoverinfo="skip")
    fig.add_scatter(x=fut["quarter"], y=fut["p10_usd"], mode="lines", line={"width": 0}, fill="tonexty",
                    fillcolor="rgba(31,119,180,0.2)", name="P10-P90")
    fig.add_scatter(x=fut["quarter"], y=fut["p50_usd"], mode="lines+markers", name="Forecast P50",
                    line={"color": "#1f77b4"})
    if not commits.empty:
        fig.add_scatter(x=commits["quarter"], y=commits["amount_usd"], mode="markers", name="Commit",
                        marker={"symbol": "diamond", "size": 11, "color": "#d62728"})
    fig.update_layout(title="Bookings by quarter", yaxis_title="USD", height=360, margin={"t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.15})
    return fig


def arr_chart(rows: pd.DataFrame) -> go.Figure:
    """Ending ARR per quarter: P50 with P10-P90 whiskers, against the ARR running today."""
    fig = go.Figure()
    fig.add_scatter(x=rows["quarter"], y=rows["p50_usd"], mode="lines+markers", name="Ending ARR P50",
                    line={"color": "#2ca02c"}, error_y={"type": "data", "symmetric": False,
                                                         "array": rows["p90_usd"] - rows["p50_usd"],
                                                         "arrayminus": rows["p50_usd"] - rows["p10_usd"]})
    fig.add_scatter(x=rows["quarter"], y=rows["starting_arr_usd"], mode="lines", name="ARR today",
                    line={"color": "#9aa5b1", "dash": "dot"})
    fig.update_layout(title="Ending ARR by quarter (P10-P90 whiskers)", yaxis_title="USD", height=320,
                      margin={"t": 40, "b": 10}, legend={"orientation": "h", "y": -0.2})
    return fig


def waterfall_chart(steps: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Waterfall(x=steps["step"], y=steps["change_usd"], measure=["relative"] * len(steps)))
    fig.update_layout(title="Open pipeline this quarter: what changed since last week", yaxis_title="USD",
                      height=340, margin={"t": 40, "b": 10})
    return fig
