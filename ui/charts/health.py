"""Model-health charts: metrics over versions, calibration, drift distributions, save rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui.charts import BLUE, GREY, layout


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
    return layout(fig, title, legend=True)


def calibration(curve: pd.DataFrame, title: str = "Calibration on the out-of-time test",
                predicted: str = "mean_predicted", observed: str = "observed_rate") -> go.Figure:
    """Observed rate against mean predicted probability per bin (`n` rows each), with the diagonal."""
    fig = go.Figure()
    top = float(max(curve[predicted].max(), curve[observed].max(), 0.05)) if len(curve) else 1.0
    fig.add_scatter(x=[0, top], y=[0, top], name="perfect", mode="lines", line={"color": GREY, "dash": "dot"})
    fig.add_scatter(x=curve[predicted], y=curve[observed], name="model", mode="lines+markers",
                    marker={"size": np.clip(np.sqrt(curve["n"].astype(float)) * 2, 5, 20), "color": BLUE},
                    text=curve["n"], hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{text} rows")
    fig.update_xaxes(title="Mean predicted probability")
    fig.update_yaxes(title="Observed churn rate")
    return layout(fig, title, height=340, legend=True)


def drift_distribution(binned: pd.DataFrame, feature: str) -> go.Figure:
    """Reference (training) vs current (latest scoring) shares per bin, side by side."""
    b = binned[binned.feature == feature].sort_values("bin")
    fig = go.Figure()
    fig.add_bar(x=b.bin_label, y=b.reference_share, name="Training window", marker_color=GREY)
    fig.add_bar(x=b.bin_label, y=b.current_share, name="Latest scoring", marker_color=BLUE)
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="Share of accounts", tickformat=".0%")
    psi = float(b.psi.iloc[0]) if len(b) else float("nan")
    return layout(fig, f"{feature}: PSI {psi:.3f}", height=300, legend=True)


def save_rates(table: pd.DataFrame, by: str, title: str) -> go.Figure:
    """Save rate per group with the count of renewals due in the hover."""
    t = table.sort_values("save_rate")
    colors = [GREY if str(v) == "no action" else BLUE for v in t[by]]
    fig = go.Figure(go.Bar(x=t.save_rate, y=t[by].astype(str), orientation="h", marker_color=colors,
                           text=t.renewals_due, hovertemplate="%{y}: %{x:.0%} saved<br>%{text} renewals due"))
    fig.update_xaxes(title="Save rate (not churned)", tickformat=".0%", range=[0, 1])
    return layout(fig, title, height=280)
