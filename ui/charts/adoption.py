"""Adoption charts: clusters, their profiles, movements between them, per-product signal distributions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from services.adoption.signals import SIGNAL_LABELS
from ui.charts import PALETTE, layout

NAME_COLOURS = {"Healthy": "#16a34a", "Expansion-ready": "#2563eb", "Unused seats": "#f59e0b",
                "Under-consuming allowance": "#d97706", "Shallow use: jobs incomplete": "#7c3aed",
                "Declining": "#dc2626"}


def colour(name: str, i: int = 0) -> str:
    base = name.split(" (")[0]
    return NAME_COLOURS.get(base, PALETTE[i % len(PALETTE)])


def cluster_bars(cl: pd.DataFrame, value: str, title: str) -> go.Figure:
    """Accounts or ARR per cluster (horizontal bars, largest on top)."""
    d = cl.sort_values(value)
    fig = go.Figure(go.Bar(x=d[value], y=d["name"], orientation="h",
                           marker_color=[colour(n, i) for i, n in enumerate(d["name"])],
                           hovertemplate="%{y}: %{x:,.0f}<extra></extra>"))
    if value == "arr_usd":
        fig.update_xaxes(tickprefix="$", tickformat="~s")
    return layout(fig, title)


def profile_heatmap(prof: pd.DataFrame, title: str = "Cluster profiles vs all accounts (std. deviations)") -> go.Figure:
    labels = [SIGNAL_LABELS.get(c, c) for c in prof.columns]
    fig = go.Figure(go.Heatmap(z=prof.to_numpy(), x=labels, y=list(prof.index), colorscale="RdBu", zmid=0,
                               zmin=-3, zmax=3, text=prof.to_numpy(), texttemplate="%{text:+.1f}",
                               hovertemplate="%{y}<br>%{x}: %{z:+.2f} sd<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, title, height=80 + 40 * len(prof))


def sankey(moves: pd.DataFrame, title: str) -> go.Figure:
    """Accounts flowing from their cluster at the start to the latest month."""
    left = sorted(moves["source"].unique())
    right = sorted(moves["target"].unique())
    nodes = left + right
    idx_l = {n: i for i, n in enumerate(left)}
    idx_r = {n: len(left) + i for i, n in enumerate(right)}
    fig = go.Figure(go.Sankey(
        node={"label": nodes, "pad": 12, "color": [colour(n, i) for i, n in enumerate(nodes)]},
        link={"source": moves["source"].map(idx_l), "target": moves["target"].map(idx_r),
              "value": moves["accounts"], "color": "rgba(100,116,139,0.25)",
              "hovertemplate": "%{source.label} → %{target.label}: %{value:,} accounts<extra></extra>"},
    ))
    return layout(fig, title, height=420)


def box_stats(values: pd.Series) -> dict[str, float]:
    """A box's five numbers as plotly draws them from raw values (linear quartiles; whiskers to the furthest
    value within 1.5 IQR of the box), so the page sends five numbers per box instead of every account's."""
    v = values.dropna().to_numpy(dtype=float)
    if not len(v):
        return {}
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    iqr = q3 - q1
    return {"q1": q1, "median": median, "q3": q3, "lowerfence": float(v[v >= q1 - 1.5 * iqr].min()),
            "upperfence": float(v[v <= q3 + 1.5 * iqr].max())}


def product_box(per: pd.DataFrame, column: str, title: str) -> go.Figure:
    """Distribution of one per-product signal, one box per product (precomputed five numbers)."""
    fig = go.Figure()
    for i, (product, grp) in enumerate(per.groupby("product")):
        stats = box_stats(grp[column])
        if not stats:
            continue
        fig.add_trace(go.Box(x=[str(product)], name=str(product), marker_color=PALETTE[i % len(PALETTE)],
                             **{k: [v] for k, v in stats.items()}))
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return layout(fig, title)
