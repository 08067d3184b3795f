"""Pure plotly figure builders for the model-health page (no Streamlit)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

GREY, BLUE, RED = "#9aa5b1", "#1f77b4", "#d62728"


def _layout(fig: go.Figure, title: str, height: int = 300) -> go.Figure:
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.25}, template="plotly_white")
    return fig


def metric_history(history: pd.DataFrame, metrics: list[str], title: str) -> go.Figure:
    """Chosen metrics over versions (oldest first); baselines dashed; rejected versions marked."""
    fig = go.Figure()
    h = history.sort_values("created_at")
    for m in metrics:
        s = h[h.metric == m]
        dash = "dash" if "baseline" in m else "solid"
        when = pd.to_datetime(s.created_at).dt.strftime("%d %b %H:%M:%S")
        fig.add_scatter(x=when, y=s.value, name=m, mode="lines+markers", line={"dash": dash},
                        text=s.version + " (" + s.status + ")", hovertemplate="%{text}<br>%{y:.4f}")
    fig.update_xaxes(type="category", title="Version trained")
    return _layout(fig, title)


def calibration(curve: pd.DataFrame, title: str = "Calibration on the out-of-time test") -> go.Figure:
    fig = go.Figure()
    top = float(max(curve.mean_predicted.max(), curve.observed_rate.max(), 0.05)) if len(curve) else 1.0
    fig.add_scatter(x=[0, top], y=[0, top], name="perfect", mode="lines", line={"color": GREY, "dash": "dot"})
    fig.add_scatter(x=curve.mean_predicted, y=curve.observed_rate, name="model", mode="lines+markers",
                    marker={"size": 8, "color": BLUE}, text=curve.n, hovertemplate="predicted %{x:.3f}<br>"
                    "observed %{y:.3f}<br>%{text} rows")
    fig.update_xaxes(title="Mean predicted probability")
    fig.update_yaxes(title="Observed churn rate")
    return _layout(fig, title, height=320)


def drift_distribution(binned: pd.DataFrame, feature: str) -> go.Figure:
    """Reference (training) vs current (latest scoring) shares per bin, side by side."""
    b = binned[binned.feature == feature].sort_values("bin")
    fig = go.Figure()
    fig.add_bar(x=b.bin_label, y=b.reference_share, name="Training window", marker_color=GREY)
    fig.add_bar(x=b.bin_label, y=b.current_share, name="Latest scoring", marker_color=BLUE)
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="Share of accounts", tickformat=".0%")
    psi = float(b.psi.iloc[0]) if len(b) else float("nan")
    return _layout(fig, f"{feature}: PSI {psi:.3f}", height=300)


def save_rates(table: pd.DataFrame, by: str, title: str) -> go.Figure:
    """Save rate per group with the count of renewals due in the hover."""
    t = table.sort_values("save_rate")
    colors = [GREY if str(v) == "no action" else BLUE for v in t[by]]
    fig = go.Figure(go.Bar(x=t.save_rate, y=t[by].astype(str), orientation="h", marker_color=colors,
                           text=t.renewals_due, hovertemplate="%{y}: %{x:.0%} saved<br>%{text} renewals due"))
    fig.update_xaxes(title="Save rate (not churned)", tickformat=".0%", range=[0, 1])
    return _layout(fig, title, height=280)
