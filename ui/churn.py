"""Cached churn reads and pure plotly chart builders for the churn pages."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from services.churn import read as svc
from services.hierarchy import Scope
from ui.charts import _layout
from ui.data import engine_for

TTL = "10m"
TIER_COLOURS = {"high": "#dc2626", "medium": "#f59e0b", "low": "#16a34a", "new": "#94a3b8"}


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def is_trained(url: str) -> bool:
    return svc.is_trained(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def model_info(url: str, model: str = svc.MODEL) -> dict:
    return svc.model_info(engine_for(url), model)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def trained_models(url: str) -> list[str]:
    return svc.trained_models(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner="Reading scores...")
def custom_scores(url: str, scope: Scope) -> pd.DataFrame:
    return svc.custom_scores(engine_for(url), scope)


@st.cache_data(ttl=TTL, max_entries=64, show_spinner=False)
def custom_contributions(url: str, subject_id: str, scope: Scope) -> pd.DataFrame:
    return svc.custom_contributions(engine_for(url), subject_id, scope)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Reading churn scores...")
def at_risk(url: str, scope: Scope, as_of: dt.date | None, csm_id: str | None) -> pd.DataFrame:
    return svc.at_risk(engine_for(url), scope, as_of, csm_id)


@st.cache_data(ttl=TTL, max_entries=64, show_spinner="Reading the account...")
def account_360(url: str, account_id: str, scope: Scope) -> svc.Account360 | None:
    return svc.account_360(engine_for(url), account_id, scope)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def csms(url: str) -> pd.DataFrame:
    from services.db import read_table
    p = read_table("people", engine_for(url), columns=["person_id", "name", "role"])
    return p[p.role == "csm"].sort_values("name")


def tier_arr_bar(by_tier: pd.DataFrame, title: str = "ARR by risk tier") -> go.Figure:
    fig = go.Figure(go.Bar(x=by_tier["tier"].astype(str), y=by_tier["arr_usd"],
                           marker_color=[TIER_COLOURS.get(str(t), "#64748b") for t in by_tier["tier"]],
                           customdata=by_tier[["accounts", "expected_arr_at_risk_usd"]],
                           hovertemplate="%{x}: $%{y:,.0f} ARR<br>%{customdata[0]:,} accounts<br>"
                                         "$%{customdata[1]:,.0f} expected at risk<extra></extra>"))
    fig.update_yaxes(tickprefix="$", tickformat="~s", title=None)
    return _layout(fig, title)


def movement_heatmap(moves: pd.DataFrame, title: str = "Tier movements since last month (accounts)") -> go.Figure:
    order_from = [t for t in ["new", *svc.TIER_ORDER] if t in set(moves.previous_tier)]
    grid = moves.pivot_table(index="previous_tier", columns="tier", values="accounts", aggfunc="sum",
                             observed=False).reindex(index=order_from, columns=svc.TIER_ORDER).fillna(0)
    fig = go.Figure(go.Heatmap(z=grid.to_numpy(), x=[f"now {c}" for c in grid.columns],
                               y=[f"was {i}" for i in grid.index], colorscale="Blues", showscale=False,
                               text=grid.to_numpy().astype(int), texttemplate="%{text}",
                               hovertemplate="%{y} → %{x}: %{z:,.0f} accounts<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title)


def renewals_tier_bar(due: pd.DataFrame, title: str = "Renewals due in 90 days by tier") -> go.Figure:
    fig = go.Figure(go.Bar(x=due["tier"].astype(str), y=due["arr_usd"], customdata=due[["accounts"]],
                           marker_color=[TIER_COLOURS.get(str(t), "#64748b") for t in due["tier"]],
                           hovertemplate="%{x}: $%{y:,.0f} ARR<br>%{customdata[0]:,} accounts<extra></extra>"))
    fig.update_yaxes(tickprefix="$", tickformat="~s", title=None)
    return _layout(fig, title)


def risk_history_line(history: pd.DataFrame, title: str = "Churn risk history") -> go.Figure:
    fig = go.Figure(go.Scatter(x=history["score_date"], y=history["probability"], mode="lines+markers",
                               line={"color": "#dc2626"},
                               hovertemplate="%{x|%d %b %Y}: %{y:.0%}<extra></extra>"))
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", title="180-day churn probability")
    fig.update_xaxes(title=None)
    return _layout(fig, title)


def usage_vs_capacity(usage: pd.DataFrame, product: str) -> go.Figure:
    u = usage[usage["product"] == product]
    fig = go.Figure([
        go.Scatter(x=u["month"], y=u["capacity"], name="Capacity", line={"color": "#94a3b8", "dash": "dash"}),
        go.Scatter(x=u["month"], y=u["consumption"], name="Consumption", line={"color": "#2563eb"}),
    ])
    fig = _layout(fig, f"{product}: consumption against capacity", height=260)
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": 1.15, "x": 1, "xanchor": "right"})
    return fig


def group_waterfall(contrib: pd.DataFrame, title: str = "Why this risk: contributions by group",
                    by: str = "group", base_label: str = "Base (all accounts)", total_label: str = "This account"
                    ) -> go.Figure:
    """Waterfall from the base value over grouped (or, with by="feature", raw) contributions (raw log-odds)."""
    g = contrib.groupby(by)["contribution"].sum().sort_values(key=abs, ascending=False)
    base = float(contrib["base_value"].iloc[0])
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute", *["relative"] * len(g), "total"],
        y=[base_label, *g.index, total_label], x=[base, *g.to_numpy(), 0],
        increasing={"marker": {"color": "#dc2626"}}, decreasing={"marker": {"color": "#16a34a"}},
        hovertemplate="%{y}: %{x:+.2f} log-odds<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="log-odds of churn (model scale, before calibration)")
    return _layout(fig, title, height=360)
