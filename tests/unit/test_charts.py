"""The pure chart builders (ui/charts/): no Streamlit, one waterfall over the explanation shape, business
labels where they exist, and every builder draws from a small frame."""
from __future__ import annotations

import ast

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from services.config import REPO_ROOT
from ui.charts import adoption, churn, explain, forecast, health, overview

CHARTS = REPO_ROOT / "ui" / "charts"


def explanation(n: int = 5, subject: str = "A1", base: float = -2.0) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    feats = [f"feat_{i}" for i in range(n)]
    return pd.DataFrame({"subject_id": subject, "feature": feats, "group": [f"group {i % 3}" for i in range(n)],
                         "value": rng.normal(size=n), "contribution": rng.normal(size=n), "base_value": base})


def _bars(fig: go.Figure) -> tuple[list[str], np.ndarray]:
    wf = next(t for t in fig.data if isinstance(t, go.Waterfall))
    return list(wf.y), np.asarray(wf.x, float)


def test_no_chart_builder_imports_streamlit() -> None:
    for path in CHARTS.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(m.split(".")[0] == "streamlit" for m in names), path.name


def test_one_waterfall_builder_for_explanations() -> None:
    """go.Waterfall is drawn in one place for explanations (the forecast's money bridge is not one)."""
    hits = sorted(str(p.relative_to(REPO_ROOT)) for p in [*(REPO_ROOT / "ui").rglob("*.py"),
                                                          *(REPO_ROOT / "pages").rglob("*.py")]
                  if "go.Waterfall(" in p.read_text())
    assert hits == ["ui/charts/explain.py", "ui/charts/forecast.py"]
    for page in ("account.py", "churn_risk.py", "workbench.py"):
        assert "waterfall(" in (REPO_ROOT / "pages" / page).read_text(), page


@pytest.mark.parametrize("by", ["group", "feature"])
def test_waterfall_bars_sum_to_base_plus_contributions(by: str) -> None:
    expl = explanation(7)
    names, x = _bars(explain.waterfall(expl, by=by))
    base, total = x[0], x[-1]
    assert base == -2.0
    assert total == pytest.approx(base + expl.contribution.sum(), abs=1e-12)
    assert x[1:-1].sum() == pytest.approx(expl.contribution.sum(), abs=1e-12)
    assert len(names) == expl[by].nunique() + 2 and names[0] == "Base value" and names[-1] == "Prediction"


def test_waterfall_folds_the_smallest_into_all_other_and_keeps_the_sum() -> None:
    expl = explanation(20)
    names, x = _bars(explain.waterfall(expl, by="feature", max_bars=6))
    assert len(names) == 6 + 2 and names[-2] == "All other"
    assert x[-1] == pytest.approx(-2.0 + expl.contribution.sum(), abs=1e-12)
    kept = np.abs(x[1:-2])
    assert (np.diff(kept) <= 0).all() and kept.min() >= np.abs(expl.contribution).nsmallest(15).max() - 1e-12


def test_waterfall_shows_business_labels_not_raw_feature_names() -> None:
    expl = explanation(4)
    labels = {f: f"Label of {f}" for f in expl.feature}
    names, _ = _bars(explain.waterfall(expl, by="feature", labels=labels, base_label="Base (all accounts)",
                                       total_label="This account"))
    assert names == ["Base (all accounts)", *sorted(labels.values(), key=lambda s: -abs(
        expl.set_index("feature").contribution[s.removeprefix("Label of ")])), "This account"]
    assert not set(expl.feature) & set(names)


def test_global_views_use_business_labels() -> None:
    sample = pd.concat([explanation(3, s) for s in ("A1", "A2")])
    labels = {"feat_0": "Seat use", "feat_1": "Breadth"}
    imp = pd.DataFrame({"feature": ["feat_0", "feat_1"], "mean_abs_contribution": [0.5, 0.2]})
    assert list(explain.importance_bar(imp, "feature", "imp", labels=labels).data[0].y) == ["Breadth", "Seat use"]
    dep = explain.dependence(sample, "feat_0", "feat_1", labels=labels)
    assert dep.layout.xaxis.title.text == "Seat use" and dep.layout.title.text == "Dependence: Seat use"
    assert list(explain.beeswarm(sample, ["feat_0"], labels=labels).layout.yaxis.ticktext) == ["Seat use"]


def test_waterfall_probability_axis_matches_the_log_odds_ticks() -> None:
    fig = explain.waterfall(explanation(3), log_odds=True)
    ticks = np.asarray(fig.layout.xaxis2.tickvals, float)
    assert [f"{p:.0%}" for p in 1 / (1 + np.exp(-ticks))] == list(fig.layout.xaxis2.ticktext)
    plain = explain.waterfall(explanation(3), log_odds=False, x_title="log-odds of churn")
    assert plain.layout.xaxis.title.text == "log-odds of churn" and "xaxis2" not in plain.layout.to_plotly_json()


def test_waterfall_rejects_frames_it_cannot_explain() -> None:
    two = pd.concat([explanation(3, "A1"), explanation(3, "A2")])
    with pytest.raises(ValueError, match="one subject"):
        explain.waterfall(two)
    with pytest.raises(ValueError, match="missing base_value"):
        explain.waterfall(explanation(3).drop(columns="base_value"))
    with pytest.raises(ValueError, match="empty"):
        explain.waterfall(explanation(3).iloc[:0])


def test_churn_tier_order_is_the_one_declared() -> None:
    from services.churn.read import TIER_ORDER
    assert churn.TIER_ORDER == TIER_ORDER


def test_every_builder_draws_a_small_frame() -> None:
    tiers = pd.DataFrame({"tier": ["high", "medium", "low"], "arr_usd": [3.0, 2.0, 1.0], "accounts": [1, 2, 3],
                          "expected_arr_at_risk_usd": [1.0, 0.5, 0.1]})
    moves = pd.DataFrame({"previous_tier": ["new", "low", "high"], "tier": ["low", "medium", "high"],
                          "accounts": [2, 3, 4]})
    months = pd.date_range("2026-01-01", periods=3, freq="MS")
    usage = pd.DataFrame({"product": "P", "month": months, "capacity": 10.0, "consumption": [4.0, 5.0, 6.0]})
    cl = pd.DataFrame({"name": ["Healthy", "Declining (2)"], "n_accounts": [5, 3], "arr_usd": [10.0, 4.0]})
    flows = pd.DataFrame({"source": ["x", "y"], "target": ["x", "x"], "accounts": [3, 1]})
    per = pd.DataFrame({"product": ["P", "P", "Q"], "use": [0.2, 0.5, 0.9]})
    q = ["2026Q1", "2026Q2"]
    fut = pd.DataFrame({"quarter": q, "p10_usd": [1.0, 2.0], "p50_usd": [2.0, 3.0], "p90_usd": [3.0, 4.0],
                        "starting_arr_usd": [2.0, 2.0]})
    hist = pd.DataFrame({"created_at": ["2026-01-01", "2026-02-01"], "metric": "auc", "value": [0.9, 0.91],
                         "version": ["v1", "v2"], "status": ["active", "rejected"]})
    cal = pd.DataFrame({"mean_predicted": [0.1, 0.5], "observed_rate": [0.12, 0.4], "n": [10, 20]})
    bins = pd.DataFrame({"feature": "f", "bin": [0, 1], "bin_label": ["low", "high"], "reference_share": [0.5, 0.5],
                         "current_share": [0.3, 0.7], "psi": 0.25})
    saves = pd.DataFrame({"action_type": ["call", "no action"], "save_rate": [0.8, 0.6], "renewals_due": [5, 9]})
    sample = pd.concat([explanation(3, s) for s in ("A1", "A2", "A3")])
    imp = pd.DataFrame({"feature": ["feat_0", "feat_1"], "mean_abs_contribution": [0.5, 0.2]})
    figs = [
        churn.tier_arr_bar(tiers), churn.movement_heatmap(moves), churn.renewals_tier_bar(tiers),
        churn.risk_history_line(pd.DataFrame({"score_date": months, "probability": [0.1, 0.2, 0.3]})),
        churn.usage_vs_capacity(usage, "P"),
        adoption.cluster_bars(cl, "arr_usd", "ARR"), adoption.profile_heatmap(pd.DataFrame({"seat_use": [0.5]},
                                                                                            index=["Healthy"])),
        adoption.sankey(flows, "moves"), adoption.product_box(per, "use", "use"),
        forecast.forecast_chart(fut.assign(actual_usd=1.0), fut, pd.DataFrame({"quarter": q, "amount_usd": [2, 3]})),
        forecast.arr_chart(fut), forecast.pipeline_bridge(pd.DataFrame({"step": ["a", "b"], "change_usd": [1, -2]})),
        health.metric_history(hist, ["auc"], "auc"), health.calibration(cal),
        health.calibration(cal.rename(columns={"mean_predicted": "predicted", "observed_rate": "observed"}),
                           predicted="predicted", observed="observed"),
        health.drift_distribution(bins, "f"), health.save_rates(saves, "action_type", "saves"),
        overview.arr_bar(tiers.rename(columns={"tier": "segment"}), "segment", "ARR"),
        overview.renewals_bar(pd.DataFrame({"month": months, "arr_usd": 1.0, "accounts": 1})),
        explain.importance_bar(imp, "feature", "importance"), explain.beeswarm(sample, ["feat_0", "feat_1"]),
        explain.dependence(sample, "feat_0", "feat_1"),
        explain.cohort_bar(pd.DataFrame({"group": ["g"], "all": [0.1], "cohort": [0.3]})),
    ]
    for fig in figs:
        assert isinstance(fig, go.Figure) and len(fig.data) >= 1 and fig.layout.title.text
    assert health.drift_distribution(bins, "f").layout.title.text == "f: PSI 0.250"


def test_every_chart_carries_the_house_template() -> None:
    """The white template comes from plotly's default (set once in ui/charts), not a per-figure assignment."""
    import plotly.io as pio

    from ui.charts import layout

    fig = layout(go.Figure(go.Bar(x=[1], y=[1])), "t")
    assert fig.layout.template == pio.templates["plotly_white"]


def test_product_boxes_send_five_numbers_per_box_not_every_account() -> None:
    stats = adoption.box_stats(pd.Series([0.0, 1, 2, 3, 4, 100, None]))
    assert stats == pytest.approx({"q1": 1.25, "median": 2.5, "q3": 3.75, "lowerfence": 0.0, "upperfence": 4.0})
    per = pd.DataFrame({"product": ["CRM"] * 5000 + ["Commerce"] * 5000,
                        "use": np.random.default_rng(1).random(10_000)})
    fig = adoption.product_box(per, "use", "use")
    assert sorted(t.name for t in fig.data) == ["CRM", "Commerce"] and all(t.y is None for t in fig.data)
    assert len(fig.to_json()) < 20_000  # 10,000 raw values were ~200 kB
