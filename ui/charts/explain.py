"""Builders over the one explanation shape (subject_id, feature, group, value, contribution, base_value):
every model and page reuses them, the churn pages and the workbench the same waterfall."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui.charts import GREEN, RED, SLATE, layout

UP, DOWN, TOTAL = RED, GREEN, SLATE


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(x, float)))


def waterfall_steps(expl: pd.DataFrame, by: str = "group", max_bars: int = 12,
                    labels: dict[str, str] | None = None) -> tuple[float, pd.Series]:
    """The base value and one summed contribution per `by` (group or feature) of one subject, largest first;
    past `max_bars` the smallest are summed into "All other". Index: business labels where `labels` has one."""
    validate(expl, by)
    base = float(expl["base_value"].iloc[0])
    parts = expl.groupby(by, sort=False)["contribution"].sum().sort_values(key=np.abs, ascending=False)
    if len(parts) > max_bars:
        rest = parts.iloc[max_bars - 1:].sum()
        parts = pd.concat([parts.iloc[:max_bars - 1], pd.Series({"All other": rest})])
    parts.index = [(labels or {}).get(n, n) for n in parts.index]
    return base, parts.astype(float)


def validate(expl: pd.DataFrame, by: str = "group") -> None:
    """The explanation shape, for one subject: a clear error instead of a wrong chart."""
    missing = {"subject_id", by, "contribution", "base_value"} - set(expl.columns)
    if missing:
        raise ValueError(f"not an explanation frame: missing {', '.join(sorted(missing))}")
    if expl.empty:
        raise ValueError("an empty explanation: nothing to draw")
    if expl["subject_id"].nunique() != 1:
        raise ValueError("a waterfall explains one subject: filter the frame to one subject_id first")


def waterfall(expl: pd.DataFrame, by: str = "group", title: str = "Contributions", log_odds: bool = True,
              max_bars: int = 12, labels: dict[str, str] | None = None, base_label: str = "Base value",
              total_label: str = "Prediction", x_title: str | None = None) -> go.Figure:
    """Base value -> prediction for one subject, one bar per group (or feature), the one waterfall of every
    page. With `log_odds`, the x axis is log-odds with a second axis of the matching probabilities."""
    base, parts = waterfall_steps(expl, by, max_bars, labels)
    total = base + float(parts.sum())
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute", *["relative"] * len(parts), "total"],
        y=[base_label, *parts.index, total_label], x=[base, *parts.tolist(), total],
        increasing={"marker": {"color": UP}}, decreasing={"marker": {"color": DOWN}},
        totals={"marker": {"color": TOTAL}}, text=[f"{base:+.2f}", *[f"{v:+.2f}" for v in parts], f"{total:.2f}"],
        textposition="outside", connector={"line": {"color": "#cbd5e1"}},
        hovertemplate="%{y}: %{x:+.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    layout(fig, title, height=120 + 34 * (len(parts) + 2))
    if x_title:
        fig.update_xaxes(title=x_title)
    if log_odds:
        lo = min(base, total, base + float(np.minimum.accumulate(np.concatenate([[0], parts.cumsum()])).min()))
        hi = max(base, total, base + float(parts.cumsum().max()))
        ticks = np.linspace(lo - 0.3, hi + 0.3, 5)
        fig.update_layout(xaxis={"title": x_title or "log-odds (additive scale)", "range": [ticks[0], ticks[-1]]},
                          xaxis2={"overlaying": "x", "side": "top", "range": [ticks[0], ticks[-1]],
                                  "tickvals": ticks, "ticktext": [f"{p:.0%}" for p in _sigmoid(ticks)],
                                  "title": "probability"},
                          margin={"t": 90})
        fig.add_trace(go.Scatter(x=[ticks[0]], y=[base_label], xaxis="x2", mode="markers",
                                 marker={"opacity": 0}, hoverinfo="skip"))
    return fig


def importance_bar(imp: pd.DataFrame, key: str, title: str, top: int = 15,
                   labels: dict[str, str] | None = None) -> go.Figure:
    """Horizontal bars of mean |contribution| (`key` column names the bars, shown by their `labels`)."""
    d = imp.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(x=d["mean_abs_contribution"], y=[(labels or {}).get(k, k) for k in d[key]],
                           orientation="h", marker_color=TOTAL))
    fig.update_xaxes(title="mean |contribution|")
    return layout(fig, title, height=80 + 26 * len(d))


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
    return layout(fig, title, height=80 + 32 * len(features))


def dependence(sample: pd.DataFrame, feature: str, colour_by: str | None = None,
               title: str | None = None, labels: dict[str, str] | None = None) -> go.Figure:
    """Feature value against its contribution, coloured by another feature's value (interaction)."""
    name = (labels or {}).get(feature, feature)
    d = sample[sample["feature"] == feature][["subject_id", "value", "contribution"]]
    marker: dict = {"size": 5, "color": TOTAL}
    if colour_by:
        c = sample[sample["feature"] == colour_by].set_index("subject_id")["value"]
        marker = {"size": 5, "color": d["subject_id"].map(c).astype(float), "colorscale": "RdBu_r",
                  "showscale": True, "colorbar": {"title": (labels or {}).get(colour_by, colour_by)[:18]}}
    fig = go.Figure(go.Scattergl(x=d["value"], y=d["contribution"], mode="markers", marker=marker,
                                 text=d["subject_id"], hovertemplate="%{text}<br>%{x:.3g} → %{y:.3f}<extra></extra>"))
    fig.update_xaxes(title=name)
    fig.update_yaxes(title="contribution", zeroline=True)
    return layout(fig, title or f"Dependence: {name}", height=360)


def cohort_bar(frame: pd.DataFrame, title: str = "Cohort against all") -> go.Figure:
    """Mean contribution per group: the cohort next to all subjects."""
    fig = go.Figure([go.Bar(x=frame["all"], y=frame["group"], orientation="h", name="all", marker_color="#94a3b8"),
                     go.Bar(x=frame["cohort"], y=frame["group"], orientation="h", name="cohort",
                            marker_color=UP)])
    layout(fig, title, height=100 + 40 * len(frame))
    fig.update_layout(barmode="group", showlegend=True)
    fig.update_yaxes(autorange="reversed")
    return fig
