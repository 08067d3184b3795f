"""Forecast charts: bookings with the P10-P90 band and commits, ending ARR, the pipeline bridge."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ui.charts import layout


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
    fig.update_yaxes(title="USD")
    return layout(fig, "Bookings by quarter", height=360, legend=True)


def arr_chart(rows: pd.DataFrame) -> go.Figure:
    """Ending ARR per quarter: P50 with P10-P90 whiskers, against the ARR running today."""
    fig = go.Figure()
    fig.add_scatter(x=rows["quarter"], y=rows["p50_usd"], mode="lines+markers", name="Ending ARR P50",
                    line={"color": "#2ca02c"}, error_y={"type": "data", "symmetric": False,
                                                         "array": rows["p90_usd"] - rows["p50_usd"],
                                                         "arrayminus": rows["p50_usd"] - rows["p10_usd"]})
    fig.add_scatter(x=rows["quarter"], y=rows["starting_arr_usd"], mode="lines", name="ARR today",
                    line={"color": "#9aa5b1", "dash": "dot"})
    fig.update_yaxes(title="USD")
    return layout(fig, "Ending ARR by quarter (P10-P90 whiskers)", height=320, legend=True)


def pipeline_bridge(steps: pd.DataFrame) -> go.Figure:
    """What changed in the open pipeline since last week, step by step (`step`, `change_usd`). A bridge of
    money, not an explanation: the explanation waterfall is ui.charts.explain.waterfall."""
    fig = go.Figure(go.Waterfall(x=steps["step"], y=steps["change_usd"], measure=["relative"] * len(steps)))
    fig.update_yaxes(title="USD")
    return layout(fig, "Open pipeline this quarter: what changed since last week", height=340)
