"""Workbench: why a model said what it said, for one subject or the whole population, and what would change it."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from models.adoption import SIGNALS
from services import feature_catalog
from services.explain import read as svc
from ui import confidence as trust
from ui import explain as ux
from ui import filters
from ui.charts import explain as charts
from ui.charts import health as health_charts
from ui.format import change
from ui.text import html, md
from ui.widgets import page_with_data

url = page_with_data("Workbench")
models = ux.available(url)
if not models:
    st.info("No explanations yet: run `python -m services.cli train` (the explain job runs last).",
            icon=":material/info:")
    st.stop()

LOG_ODDS = {"churn", "winprob"}
c1, c2 = st.columns([1, 2])
model = c1.selectbox("Model", models, format_func=svc.MODELS.get, key="wb_model")
as_of, scope = filters.current_as_of(), filters.current_scope()
explained = ux.explained_as_of(url, model)
if explained is not None and as_of is not None and pd.Timestamp(as_of) < explained:
    st.info(f"Explanations are stored for the latest date only ({explained:%d %b %Y}): choose it as the as-of date.",
            icon=":material/history_toggle_off:")
    st.stop()
subjects = ux.subjects(url, model, scope)
if subjects.empty:
    st.info(f"This model has no scored subjects in this scope ({filters.scope_label(scope)}).", icon=":material/info:")
    st.stop()
labels = dict(zip(subjects.subject_id, subjects.label))
subject = c2.selectbox("Subject", subjects.subject_id, format_func=labels.get, key="wb_subject")
expl = ux.stored(url, model, subject)
names = feature_catalog.labels(sorted(expl.feature.unique()))


def regroup(frame: pd.DataFrame) -> pd.DataFrame:
    """Groups from the feature catalog where it knows better than a stored "Other"."""
    if model == "forecast_node" or frame.empty or "group" not in frame:
        return frame
    known = feature_catalog.groups(sorted(frame.feature.unique()))
    return frame.assign(group=[known.get(f, g) if g == "Other" else g for f, g in zip(frame.feature, frame.group)])


expl = regroup(expl)
technical = st.toggle("Technical view", key="wb_technical",
                      help="Model scales (log-odds, k-means margins), raw feature names, the surrogate model")
if not technical:
    st.caption({"churn": "What raises (red) or lowers (green) this account's risk against the average account.",
                "winprob": "What raises (red) or lowers (green) this deal's chance of closing in the quarter.",
                "adoption_margin": "Which usage signals put this account in its adoption cluster rather than "
                                   "the next closest one.",
                }.get(model, "The forecast P50 of the current quarter split into its parts (USD)."))
elif model in LOG_ODDS:
    st.caption("Contributions are on the log-odds scale, where they add up exactly from the base value to the "
               "model's raw output; the top axis shows the matching probability (before calibration).")
elif model == "adoption_margin":
    st.caption("Adoption clusters come from k-means: each signal's share of the squared-distance margin between "
               "the assigned cluster and the nearest other one (scaled units; the shares add up to the margin).")
else:
    st.caption("The forecast P50 of the current quarter split into its parts (USD).")

# One view at a time: a view that is not shown is not computed (st.tabs would run every tab on each rerun).
VIEWS = ["Why", "What-if", "Population", "Model card", "Compare"]


def reasons(frame: pd.DataFrame, values: dict) -> list[str]:
    top = frame[(frame.feature != "other") & (frame.contribution > 0)].nlargest(3, "contribution")
    return [feature_catalog.reason(f, values) for f in top.feature]


def local_view() -> None:
    by = "feature" if technical else "group"
    if model == "adoption_margin":
        km = ux.active_artifact(url, "adoption")
        sig = ux.adoption_signals(url, subject)
        w = svc.adoption_whatif(km, sig, subject)
        a, b = st.columns(2)
        a.metric("Cluster", w["cluster"])
        b.metric("Nearest other cluster", w["runner_up"], help="the runner-up centroid")
        for text in svc.adoption_sentences(km, sig):
            st.markdown(f"- {md(text)}")
        margin = f" (margin {w['margin']:.2f})" if technical else ""
        st.plotly_chart(charts.waterfall(expl, by="feature", log_odds=False, labels=names,
                                         title=f"Why {html(w['cluster'])} and not {html(w['runner_up'])}{margin}",
                                         base_label="Start", total_label="Margin"),
                        key="wb_margin")
        sur = ux.stored(url, "adoption_surrogate", subject) if technical else pd.DataFrame()
        if len(sur):
            st.plotly_chart(charts.waterfall(sur, by=by, labels=names,
                                             title="Surrogate LightGBM: the cluster's score (log-odds)"),
                            key="wb_surrogate")
        return
    if model == "churn" and explained is not None:
        trust.score_line(trust.churn_confidence(url, subject, explained))
    if model == "churn":
        st.subheader("Reasons")
        for text in reasons(expl, ux.churn_row(url, subject)):
            st.markdown(f"- {md(text)}")
    odds = model in LOG_ODDS
    st.plotly_chart(charts.waterfall(
        expl, by=by, log_odds=odds, labels=names,
        title="From the base value to the prediction" if technical else "What moves this prediction",
        base_label="Base value" if technical else "Average", total_label="Prediction" if technical else "This one",
        x_title=None if technical or not odds else "lowers ← → raises (top axis: probability)"),
        key="wb_waterfall")
    if model != "forecast_node" and technical:
        table = expl.assign(label=expl.feature.map(names))[["label", "feature", "group", "value", "contribution"]]
        st.dataframe(table.sort_values("contribution", key=abs, ascending=False),
                     hide_index=True, column_config={"label": "Signal", "feature": "Feature", "group": "Group",
                                                     "value": st.column_config.NumberColumn("Value", format="%.3f"),
                                                     "contribution": st.column_config.NumberColumn(
                                                         "Contribution", format="%+.3f")})


@st.fragment
def churn_whatif() -> None:
    art = ux.active_artifact(url, "churn")
    values = ux.churn_row(url, subject)
    model_ = art["model"]
    tiers = dict(art["tiers"])
    edits = {}
    cols = st.columns(3)
    for i, f in enumerate(svc.actionable(model_.feature_names_)):
        v = values.get(f)
        if v is None or pd.isna(v):
            continue
        new = cols[i % 3].slider(feature_catalog.describe(f).label, 0.0, 1.0, float(min(max(v, 0), 1)), 0.01,
                                 key=f"wb_wi_{subject}_{f}")
        if abs(float(new) - float(v)) > 1e-9:
            edits[f] = float(new)
    p0 = float(svc.churn_predict(model_, [values])[0][0])
    row = svc.apply_edits(values, edits)
    p1 = float(svc.churn_predict(model_, [row])[0][0])
    a, b = st.columns(2)
    moved = round((p1 - p0) * 100, 1)  # no "↑ +0.0 pts" in red before anything was moved
    a.metric("Churn probability (what-if)", f"{p1:.1%}", delta=change(moved, "pts") if moved else "no change",
             delta_color="inverse" if moved else "off", delta_arrow="auto" if moved else "off")
    b.metric("Risk tier (what-if)", svc.tier_of(p1, tiers), delta=f"was {svc.tier_of(p0, tiers)}", delta_color="off",
             delta_arrow="off")
    st.plotly_chart(charts.waterfall(svc.churn_explain(model_, row, subject), by="group",
                                     title="What-if contributions"), key="wb_wi_chart")
    if st.button("Suggest the smallest change that lowers the tier", key="wb_suggest"):
        s = svc.suggest_churn(model_, values, tiers)
        if s["edits"]:
            st.dataframe(pd.DataFrame({"signal": [names.get(f, f) for f in s["edits"]],
                                       "now": [values[f] for f in s["edits"]], "to": list(s["edits"].values())}),
                         hide_index=True)
        st.write(f"New probability {s['probability']:.1%}, tier {s['tier']}. {s['note']}")


@st.fragment
def adoption_whatif() -> None:
    km = ux.active_artifact(url, "adoption")
    sig = ux.adoption_signals(url, subject)
    new = {}
    cols = st.columns(len(SIGNALS))
    for c, s in zip(cols, SIGNALS):
        lo, hi = (-1.0, 1.0) if s == "use_trend" else (0.0, max(1.5, sig[s]))
        new[s] = c.slider(feature_catalog.describe(s).label, lo, hi, float(min(max(sig[s], lo), hi)), 0.01,
                          key=f"wb_ad_{subject}_{s}")
    w = svc.adoption_whatif(km, new, subject)
    a, b = st.columns(2)
    a.metric("Cluster (what-if)", w["cluster"])
    b.metric("Nearest other cluster", w["runner_up"])
    st.plotly_chart(charts.waterfall(w["explanation"], by="feature", log_odds=False, labels=names,
                                     title="What-if margin decomposition"), key="wb_ad_chart")
    if st.button("Suggest the smallest move to a healthy cluster", key="wb_ad_suggest"):
        s = svc.suggest_adoption(km, sig)
        if s["edits"]:
            st.dataframe(pd.DataFrame({"signal": [names.get(k, feature_catalog.describe(k).label) for k in s["edits"]],
                                       "now": [sig[k] for k in s["edits"]],
                                       "to": list(s["edits"].values())}), hide_index=True)
        st.write(f"Lands in: {s['cluster']}. {s['note']}")


def whatif_view() -> None:
    if model == "churn":
        churn_whatif()
    elif model == "adoption_margin":
        adoption_whatif()
    else:
        st.info("What-if editing covers accounts (churn risk and adoption cluster).", icon=":material/info:")


def population_view() -> None:
    smp = regroup(ux.sample(url, model)) if model != "forecast_node" else pd.DataFrame()
    if smp.empty:
        st.info("Global views cover the account and opportunity models.", icon=":material/info:")
    else:
        imp_g, imp_f = svc.importance(smp, "group"), svc.importance(smp, "feature")
        a, b = st.columns(2)
        a.plotly_chart(charts.importance_bar(imp_g, "group", "Importance by group"), key="wb_imp_g")
        b.plotly_chart(charts.importance_bar(imp_f, "feature", "Importance by feature",
                                             labels=feature_catalog.labels(imp_f.feature.head(15).tolist())), key="wb_imp_f")
        top = imp_f.feature.head(10).tolist()
        glabels = feature_catalog.labels(top)
        st.plotly_chart(charts.beeswarm(smp, top, labels=glabels), key="wb_bees")
        a, b = st.columns(2)
        feat = a.selectbox("Dependence of", top, key="wb_dep")
        colour = b.selectbox("Coloured by", [f for f in top if f != feat], key="wb_dep_c")
        st.plotly_chart(charts.dependence(smp, feat, colour, labels=glabels), key="wb_dep_chart")
        segment = subjects.label.str.split(" · ").str[-1]
        pick = st.selectbox("Cohort", sorted(segment.unique()), key="wb_cohort")
        ids = subjects.subject_id[segment == pick].tolist()
        st.plotly_chart(charts.cohort_bar(svc.cohort(smp, ids), f"Cohort “{pick}” against all"), key="wb_cohort_chart")


def card_view() -> None:
    mc = ux.model_card(url, model)
    if not mc:
        st.info("No active model.", icon=":material/info:")
    else:
        st.write(f"**{mc['model']}** · version `{mc['version']}` · as of {mc['as_of']} · code {mc['code_version']}")
        if mc.get("training_window"):
            st.write(f"Training window {mc['training_window'][0]} to {mc['training_window'][1]}; "
                     f"out-of-time test {mc['test_window'][0]} to {mc['test_window'][1]}")
        h = mc.get("history") or {}
        if h.get("mode"):
            left = ", ".join(h.get("features_left_out") or []) or "none"
            st.write(f"History: {h['months']} months of usage ({h['mode']} layout): renewals up to "
                     f"{h['eval_months']} months ahead tested; features left out: {left}. Production model "
                     f"refitted on {h['production_window'][0]} to {h['production_window'][1]}.")
        dh = mc.get("data_history") or {}
        if dh.get("usage_months"):
            absent = ", ".join(t.replace("_", " ") for t in dh.get("tables_without_rows") or []) or "none"
            st.write(f"Data it had: {dh['usage_months']} months of usage ({dh['first_usage_month']} to "
                     f"{dh['last_usage_month']}), {dh.get('deal_history_months') or 0} months of deal history; "
                     f"tables with no rows: {absent}.")
        if mc.get("cut_offs"):
            st.write("Risk tiers: " + ", ".join(f"{k} ≥ {v:.0%}" for k, v in mc["cut_offs"].items()))
        st.dataframe(pd.DataFrame({"metric": list(mc["metrics"]), "value": list(mc["metrics"].values())}),
                     hide_index=True, column_config={"value": st.column_config.NumberColumn(format="%.4g")})
        if mc.get("calibration") is not None:
            st.plotly_chart(health_charts.calibration(mc["calibration"], "Calibration (out-of-time test)",
                                                          predicted="predicted", observed="observed"), key="wb_cal")
        st.caption(f"Data version: {mc['data']}")


def compare_view() -> None:
    other = st.selectbox("Compare with", [s for s in subjects.subject_id if s != subject], format_func=labels.get,
                         key="wb_other")
    if other:
        a, b = st.columns(2)
        lo = model in LOG_ODDS
        fb = "feature" if model == "adoption_margin" or technical else "group"
        a.plotly_chart(charts.waterfall(expl, by=fb, log_odds=lo, labels=names, title=html(labels[subject])), key="wb_c1")
        b.plotly_chart(charts.waterfall(regroup(ux.stored(url, model, other)), by=fb, log_odds=lo, labels=names,
                                        title=html(labels[other])), key="wb_c2")


@st.fragment
def views() -> None:
    """The view control and the chosen view: switching views reruns only this part, not the model and
    subject reads above it."""
    view = st.segmented_control("View", VIEWS, default=VIEWS[0], key="wb_view", required=True) or VIEWS[0]
    {"Why": local_view, "What-if": whatif_view, "Population": population_view, "Model card": card_view,
     "Compare": compare_view}[view]()


views()
