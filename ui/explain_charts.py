"""Pure plotly builders over the one explanation shape (subject_id, feature, group, value, contribution,
base_value): every model reuses them. No Streamlit here."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui.charts import _layout

UP, DOWN, TOTAL = "#dc2626", "#16a34a", "#475569"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(x, float)))


def waterfall(expl: pd.DataFrame, by: str = "group", title: str = "Contributions", log_odds: bool = True,
              max_bars: int = 12, labels: dict[str, str] | None = None) -> go.Figure:
    """Base value -> prediction for one subject, one bar per group (or feature). With `log_odds`, the x axis
    is log-odds with a second axis of the matching probabilities."""
    if expl["subject_id"].nunique() != 1:
        raise ValueError("a waterfall explains one subject: filter the frame to one subject_id first")
    base = float(expl["base_value"].iloc[0])
    parts = expl.groupby(by, sort=False)["contribution"].sum().sort_values(key=np.abs, ascending=False)
    if len(parts) > max_bars:
        rest = parts.iloc[max_bars - 1:].sum()
        parts = pd.concat([parts.iloc[:max_bars - 1], pd.Series({"All other": rest})])
    names = [(labels or {}).get(n, n) for n in parts.index]
    total = base + float(parts.sum())
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute", *["relative"] * len(parts), "total"],
        y=["Base value", *names, "Prediction"], x=[base, *parts.tolist(), total],
        increasing={"marker": {"color": UP}}, decreasing={"marker": {"color": DOWN}},
        totals={"marker": {"color": TOTAL}}, text=[f"{base:+.2f}", *[f"{v:+.2f}" for v in parts], f"{total:.2f}"],
        textposition="outside", connector={"line": {"color": "#cbd5e1"}}))
    fig.update_yaxes(autorange="reversed")
    _layout(fig, title, height=120 + 34 * (len(parts) + 2))
    if log_odds:
        lo = min(base, total, base + float(np.minimum.accumulate(np.concatenate([[0], parts.cumsum()])).min()))
        hi = max(base, total, base + float(parts.cumsum().max()))
        ticks = np.linspace(lo - 0.3, hi + 0.3, 5)
        fig.update_layout(xaxis={"title": "log-odds (additive scale)", "range": [ticks[0], ticks[-1]]},
                          xaxis2={"overlaying": "x", "side": "top", "range": [ticks[0], ticks[-1]],
                                  "tickvals": ticks, "ticktext": [f"{p:.0%}" for p in _sigmoid(ticks)],
                                  "title": "probability"},
                          margin={"t": 90})
        fig.add_trace(go.Scatter(x=[ticks[0]], y=["Base value"], xaxis="x2", mode="markers",
                                 marker={"opacity": 0}, hoverinfo="skip"))
    return fig


def importance_bar(imp: pd.DataFrame, key: str, title: str, top: int = 15) -> go.Figure:
    """Horizontal bars of mean |contribution| (`key` column names the bars)."""
    d = imp.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(x=d["mean_abs_contribution"], y=d[key], orientation="h", marker_color=TOTAL))
    fig.update_xaxes(title="mean |contribution|")
    return _layout(fig, title, height=80 + 26 * len(d))


def beeswarm(sample: pd.DataFrame, features: list[str], title: str = "Contributions by feature",
             labels: dict[str, str] | None = None, seed: int = 0) -> go.Figure:
    """One jittered row of points per feature: x = contribution, colour = the feature's value (rank within
    the feature, low blue to high red)."""
    rng = np.random.default_rng(seed)
    fig = go.Figure()
    for i, f in enumerate(features):
        d = sample[sample["feature"] == f]
        v = d["value"].astype(float)
        colour = v.rank(pct=True).fillna(0.5) if v.notna().any() else pd.Series(0.5, index=d.index)
        fig.add_trace(go.Scattergl(
            x=d["contribution"], y=i + rng.uniform(-0.3, 0.3, len(d)), mode="markers", name=f,
            marker={"size": 4, "color": colour, "colorscale": "RdBu_r", "cmin": 0, "cmax": 1,
                    "showscale": i == 0, "colorbar": {"title": "value", "tickvals": [0, 1],
                                                      "ticktext": ["low", "high"]}},
            customdata=np.column_stack([d["subject_id"], v]),
            hovertemplate="%{customdata[0]}<br>value %{customdata[1]:.3g}<br>contribution %{x:.3f}<extra></extra>"))
    fig.update_yaxes(tickvals=list(range(len(features))), ticktext=[(labels or {}).get(f, f) for f in features],
                     autorange="reversed")
    fig.update_xaxes(title="contribution", zeroline=True)
    return _layout(fig, title, height=80 + 32 * len(features))


def dependence(sample: pd.DataFrame, feature: str, colour_by: str | None = None,
               title: str | None = None) -> go.Figure:
    """Feature value against its contribution, coloured by another feature's value (interaction)."""
    d = sample[sample["feature"] == feature][["subject_id", "value", "contribution"]]
    marker: dict = {"size": 5, "color": TOTAL}
    if colour_by:
        c = sample[sample["feature"] == colour_by].set_index("subject_id")["value"]
        marker = {"size": 5, "color": d["subject_id"].map(c).astype(float), "colorscale": "RdBu_r",
                  "showscale": True, "colorbar": {"title": colour_by[:18]}}
    fig = go.Figure(go.Scattergl(x=d["value"], y=d["contribution"], mode="markers", marker=marker,
                                 text=d["subject_id"], hovertemplate="%{text}<br>%{x:.3g} → %{y:.3f}<extra></extra>"))
    fig.update_xaxes(title=feature)
    fig.update_yaxes(title="contribution", zeroline=True)
    return _layout(fig, title or f"Dependence: {feature}", height=360)


def cohort_bar(frame: pd.DataFrame, title: str = "Cohort against all") -> go.Figure:
    """Mean contribution per group: the cohort next to all subjects."""
    fig = go.Figure([go.Bar(x=frame["all"], y=frame["group"], orientation="h", name="all", marker_color="#94a3b8"),
                     go.Bar(x=frame["cohort"], y=frame["group"], orientation="h", name="cohort",
                            marker_color=UP)])
    _layout(fig, title, height=100 + 40 * len(frame))
    fig.update_layout(barmode="group", showlegend=True)
    fig.update_yaxes(autorange="reversed")
    return fig


def calibration(cal: pd.DataFrame, title: str = "Calibration (out-of-time test)") -> go.Figure:
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#94a3b8"}),
                     go.Scatter(x=cal["predicted"], y=cal["observed"], mode="markers+lines",
                                marker={"size": np.clip(np.sqrt(cal["n"]) * 2, 5, 20), "color": TOTAL})])
    fig.update_xaxes(title="predicted probability", range=[0, 1])
    fig.update_yaxes(title="observed churn rate", range=[0, 1])
    return _layout(fig, title, height=340)
