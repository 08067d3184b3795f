"""Pure plotly chart builders: frames in, figures out. No Streamlit here, so every builder is unit-tested
(tests/unit/test_charts.py). One module per page family: overview, churn, adoption, forecast, health, and
explain (the one waterfall over the explanation shape, used by the churn pages and the workbench)."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

# The house template as plotly's default: every new figure gets it without validating it again. Setting
# `template="plotly_white"` on each figure validated the whole template every time (~30 ms a chart, most of
# the Overview page's script run); the figures are the same.
pio.templates.default = "plotly_white"

PALETTE = ["#2563eb", "#0d9488", "#f59e0b", "#db2777", "#7c3aed", "#64748b"]
GREY, BLUE, RED, GREEN, SLATE = "#9aa5b1", "#1f77b4", "#dc2626", "#16a34a", "#475569"


def layout(fig: go.Figure, title: str, height: int = 320, legend: bool = False) -> go.Figure:
    """The house layout: left-aligned title, white template, tight margins; `legend` puts one below."""
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": 48, "b": 10},
        showlegend=legend,
    )
    if legend:
        fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return fig
