"""Cached adoption reads and pure plotly chart builders for the adoption page."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from services.adoption import read as svc
from services.adoption.signals import SIGNAL_LABELS
from services.hierarchy import Scope
from ui.charts import PALETTE, _layout
from ui.data import engine_for

TTL = "10m"
NAME_COLOURS = {"Healthy": "#16a34a", "Expansion-ready": "#2563eb", "Unused seats": "#f59e0b",
                "Under-consuming allowance": "#d97706", "Shallow use: jobs incomplete": "#7c3aed",
                "Declining": "#dc2626"}


def colour(name: str, i: int = 0) -> str:
    base = name.split(" (")[0]
    return NAME_COLOURS.get(base, PALETTE[i % len(PALETTE)])


@st.cache_data(ttl=TTL, max_entries=8, show_spinner="Reading adoption clusters...")
def clusters(url: str) -> pd.DataFrame:
    return svc.clusters(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def profile(url: str) -> pd.DataFrame:
    return svc.profile(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def movements(url: str, scope: Scope) -> pd.DataFrame:
    return svc.movements(engine_for(url), scope=scope)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Reading accounts...")
def members(url: str, cluster_id: int | None, scope: Scope, segment: str | None) -> pd.DataFrame:
    return svc.members(engine_for(url), cluster_id, scope, segment)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def product_signals(url: str, scope: Scope) -> pd.DataFrame:
    return svc.product_signals(engine_for(url), scope)


def cluster_bars(cl: pd.DataFrame, value: str, title: str) -> go.Figure:
    """Accounts or ARR per cluster (horizontal bars, largest on top)."""
    d = cl.sort_values(value)
    fig = go.Figure(go.Bar(x=d[value], y=d["name"], orientation="h",
                           marker_color=[colour(n, i) for i, n in enumerate(d["name"])],
                           hovertemplate="%{y}: %{x:,.0f}<extra></extra>"))
    if value == "arr_usd":
        fig.update_xaxes(tickprefix="$", tickformat="~s")
    return _layout(fig, title)


def profile_heatmap(prof: pd.DataFrame, title: str = "Cluster profiles vs all accounts (std. deviations)") -> go.Figure:
    labels = [SIGNAL_LABELS.get(c, c) for c in prof.columns]
    fig = go.Figure(go.Heatmap(z=prof.to_numpy(), x=labels, y=list(prof.index), colorscale="RdBu", zmid=0,
                               zmin=-3, zmax=3, text=prof.to_numpy(), texttemplate="%{text:+.1f}",
                               hovertemplate="%{y}<br>%{x}: %{z:+.2f} sd<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, height=80 + 40 * len(prof))


def sankey(moves: pd.DataFrame, title: str) -> go.Figure:
    """Accounts flowing from their cluster at the start to the latest month."""
    left = sorted(moves["source"].unique())
    right = sorted(moves["target"].unique())
    nodes = left + right
    idx_l = {n: i for i, n in enumerate(left)}
    idx_r = {n: len(left) + i for i, n in enumerate(right)}
    fig = go.Figure(go.Sankey(
        node={"label": nodes, "pad": 12, "color": [colour(n, i) for i, n in enumerate(nodes)]},
        link={"source": moves["source"].map(idx_l), "target": moves["target"].map(idx_r),
              "value": moves["accounts"], "color": "rgba(100,116,139,0.25)",
              "hovertemplate": "%{source.label} → %{target.label}: %{value:,} accounts<extra></extra>"},
    ))
    return _layout(fig, title, height=420)


def product_box(per: pd.DataFrame, column: str, title: str) -> go.Figure:
    """Distribution of one per-product signal, one box per product."""
    fig = go.Figure()
    for i, (product, grp) in enumerate(per.groupby("product")):
        fig.add_trace(go.Box(y=grp[column], name=str(product), marker_color=PALETTE[i % len(PALETTE)],
                             boxpoints=False))
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(fig, title)
