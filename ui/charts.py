"""Pure plotly chart builders: frames in, figures out. No Streamlit, testable anywhere."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

PALETTE = ["#2563eb", "#0d9488", "#f59e0b", "#db2777", "#7c3aed", "#64748b"]


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": 48, "b": 10},
        template="plotly_white",
        showlegend=False,
    )
    return fig


def arr_bar(frame: pd.DataFrame, category: str, title: str) -> go.Figure:
    """Horizontal bars of ARR per category (largest on top); expects `category`, `arr_usd`, `accounts`."""
    ordered = frame.sort_values("arr_usd")
    fig = go.Figure(
        go.Bar(
            x=ordered["arr_usd"],
            y=ordered[category].astype(str),
            orientation="h",
            marker_color=PALETTE[0],
            customdata=ordered[["accounts"]] if "accounts" in ordered else None,
            hovertemplate="%{y}: $%{x:,.0f} ARR<br>%{customdata[0]:,} accounts<extra></extra>",
            texttemplate="$%{x:,.3s}",
            textposition="outside",
            textangle=0,
            cliponaxis=False,
        )
    )
    top = float(ordered["arr_usd"].max()) if len(ordered) else 0.0
    fig.update_xaxes(tickprefix="$", tickformat="~s", title=None, range=[0, top * 1.18 or 1])
    fig.update_yaxes(title=None)
    return _layout(fig, title)


def renewals_bar(frame: pd.DataFrame, title: str = "Renewals due by month") -> go.Figure:
    """ARR up for renewal per month; expects `month`, `arr_usd`, `accounts`."""
    fig = go.Figure(
        go.Bar(
            x=frame["month"],
            y=frame["arr_usd"],
            marker_color=PALETTE[0],
            customdata=frame[["accounts"]],
            hovertemplate="%{x|%b %Y}: $%{y:,.0f} ARR<br>%{customdata[0]:,} accounts<extra></extra>",
        )
    )
    fig.update_xaxes(dtick="M1", tickformat="%b %Y", title=None)
    fig.update_yaxes(tickprefix="$", tickformat="~s", title=None)
    return _layout(fig, title)
