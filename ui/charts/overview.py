"""Overview charts: ARR per category and renewals due by month."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ui.charts import PALETTE, layout


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
    return layout(fig, title)


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
    return layout(fig, title)
