"""Churn charts: ARR and renewals by risk tier, tier movements, an account's risk history and usage."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from services.churn.tables import RENEWALS_DUE_DAYS, TIERS
from ui.charts import layout

TIER_ORDER = [name for name, _ in TIERS]
TIER_COLOURS = {"high": "#dc2626", "medium": "#f59e0b", "low": "#16a34a", "new": "#94a3b8"}


def tier_arr_bar(by_tier: pd.DataFrame, title: str = "ARR by risk tier") -> go.Figure:
    fig = go.Figure(go.Bar(x=by_tier["tier"].astype(str), y=by_tier["arr_usd"],
                           marker_color=[TIER_COLOURS.get(str(t), "#64748b") for t in by_tier["tier"]],
                           customdata=by_tier[["accounts", "expected_arr_at_risk_usd"]],
                           hovertemplate="%{x}: $%{y:,.0f} ARR<br>%{customdata[0]:,} accounts<br>"
                                         "$%{customdata[1]:,.0f} expected at risk<extra></extra>"))
    fig.update_yaxes(tickprefix="$", tickformat="~s", title=None)
    return layout(fig, title)


def movement_heatmap(moves: pd.DataFrame, title: str = "Tier movements since last month (accounts)") -> go.Figure:
    order_from = [t for t in ["new", *TIER_ORDER] if t in set(moves.previous_tier)]
    grid = moves.pivot_table(index="previous_tier", columns="tier", values="accounts", aggfunc="sum",
                             observed=False).reindex(index=order_from, columns=TIER_ORDER).fillna(0)
    fig = go.Figure(go.Heatmap(z=grid.to_numpy(), x=[f"now {c}" for c in grid.columns],
                               y=[f"was {i}" for i in grid.index], colorscale="Blues", showscale=False,
                               text=grid.to_numpy().astype(int), texttemplate="%{text}",
                               hovertemplate="%{y} → %{x}: %{z:,.0f} accounts<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, title)


def renewals_tier_bar(due: pd.DataFrame, title: str = f"Renewals due in {RENEWALS_DUE_DAYS} days by tier") -> go.Figure:
    fig = go.Figure(go.Bar(x=due["tier"].astype(str), y=due["arr_usd"], customdata=due[["accounts"]],
                           marker_color=[TIER_COLOURS.get(str(t), "#64748b") for t in due["tier"]],
                           hovertemplate="%{x}: $%{y:,.0f} ARR<br>%{customdata[0]:,} accounts<extra></extra>"))
    fig.update_yaxes(tickprefix="$", tickformat="~s", title=None)
    return layout(fig, title)


def risk_history_line(history: pd.DataFrame, title: str = "Churn risk history") -> go.Figure:
    fig = go.Figure(go.Scatter(x=history["score_date"], y=history["probability"], mode="lines+markers",
                               line={"color": "#dc2626"},
                               hovertemplate="%{x|%d %b %Y}: %{y:.0%}<extra></extra>"))
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", title="Risk at the next renewal")
    fig.update_xaxes(title=None)
    return layout(fig, title)


def usage_vs_capacity(usage: pd.DataFrame, product: str) -> go.Figure:
    u = usage[usage["product"] == product]
    fig = go.Figure([
        go.Scatter(x=u["month"], y=u["capacity"], name="Capacity", line={"color": "#94a3b8", "dash": "dash"}),
        go.Scatter(x=u["month"], y=u["consumption"], name="Consumption", line={"color": "#2563eb"}),
    ])
    fig = layout(fig, f"{product}: consumption against capacity", height=260)
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": 1.15, "x": 1, "xanchor": "right"})
    return fig
