"""Confidence charts: the share of scores flagged unfamiliar (and of tiers withheld) per score date."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ui.charts import BLUE, GREY, layout


def share_flagged(frame: pd.DataFrame, expected: float, title: str = "Scores unlike the training data") -> go.Figure:
    """share_novel (and share_uncertain) per score_date; `expected` (the training-like flag rate) dotted."""
    fig = go.Figure()
    fig.add_scatter(x=frame["score_date"], y=frame["share_novel"], name="Unfamiliar", mode="lines+markers",
                    line={"color": BLUE}, hovertemplate="%{x|%d %b %Y}<br>%{y:.1%} unfamiliar")
    if "share_uncertain" in frame:
        fig.add_scatter(x=frame["score_date"], y=frame["share_uncertain"], name="Tier withheld",
                        mode="lines+markers", line={"color": GREY, "dash": "dash"},
                        hovertemplate="%{x|%d %b %Y}<br>%{y:.1%} uncertain")
    fig.add_hline(y=expected, line={"dash": "dot", "color": GREY})
    fig.update_yaxes(tickformat=".0%", title="Share of scored accounts", rangemode="tozero")
    fig.update_xaxes(title="Score date")
    return layout(fig, title, legend=True)
