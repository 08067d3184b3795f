"""Churn risk: the at-risk list for customer-success managers and the portfolio summary."""
from __future__ import annotations

import streamlit as st

from services.churn.read import MODEL_LABELS, portfolio
from ui import churn as uc
from ui import data, filters
from ui.auth import export_button
from ui.widgets import empty_state, usd

st.title("Churn risk")
url = data.current_url()
models = uc.trained_models(url)
if not models and not data.has_accounts(url):
    empty_state()
    st.stop()
if not models:
    st.info("No churn model is trained yet. Run `python -m services.cli train` (or `make db`).",
            icon=":material/model_training:")
    st.stop()
model = models[0] if len(models) == 1 else st.segmented_control(
    "Model", models, default=models[0], format_func=MODEL_LABELS.get, key="churn_model", required=True)


def custom_view() -> None:
    """The bring-your-own model (`churn-fit`): its scores, tiers and contributions."""
    info = uc.model_info(url, "churn_custom")
    m = info.get("metrics", {})
    scores = uc.custom_scores(url, filters.current_scope())
    st.caption(f"Trained with `churn-fit` on {m.get('n_rows', len(scores)):,} rows and {m.get('n_features', 0)} "
               f"features · tiers: high ≥ 25%, medium ≥ 10% · model {info.get('version', '')}")
    cols = st.columns(4)
    cols[0].metric("Out-of-fold ROC AUC", f"{m.get('auc', float('nan')):.3f}",
                   f"{m.get('auc', 0) - m.get('auc_baseline_logreg', 0):+.4f} vs logistic", delta_color="normal")
    cols[1].metric("PR AUC", f"{m.get('pr_auc', float('nan')):.3f}")
    cols[2].metric("Brier score", f"{m.get('brier', float('nan')):.3f}")
    cols[3].metric("High-risk rows", f"{(scores.tier == 'high').sum():,}")
    tiers = st.multiselect("Tier", ["high", "medium", "low"], default=["high", "medium", "low"], key="custom_tiers")
    view = scores[scores.tier.isin(tiers)]
    st.dataframe(view, hide_index=True, width="stretch", height=420, key="custom_table", column_config={
        "account_id": "Id", "tier": "Tier",
        "probability": st.column_config.ProgressColumn("Churn probability", format="percent", min_value=0,
                                                       max_value=1),
        "reason_1": "Top reason", "reason_2": "Second reason", "reason_3": "Third reason",
    })
    pick = st.selectbox("Explain a row", list(view.account_id[:200]), key="custom_pick")
    if pick is not None:
        contrib = uc.custom_contributions(url, pick, filters.current_scope())
        st.plotly_chart(uc.group_waterfall(contrib, f"Why {pick}: contributions by feature", by="feature",
                                           base_label="Base (all rows)", total_label="This row"),
                        width="stretch")
    export_button(view, "churn_custom_scores.csv", "churn_custom scores")


if model == "churn_custom":
    custom_view()
    st.stop()

scope = filters.current_scope()
csms = uc.csms(url)
csm_names = dict(zip(csms.person_id, csms.name))
with st.container(horizontal=True):
    csm_id = st.selectbox("CSM", [None, *csm_names], format_func=lambda p: "All CSMs" if p is None else csm_names[p],
                          key="churn_csm")
    tiers = st.multiselect("Tier", ["high", "medium", "low"], default=["high", "medium", "low"], key="churn_tiers")
    search = st.text_input("Search accounts", placeholder="Name or id", key="churn_search")
risk = uc.at_risk(url, scope, filters.current_as_of(), csm_id)
info = uc.model_info(url)
if risk.empty:
    st.info("No scored accounts in this scope.", icon=":material/filter_alt_off:")
    st.stop()
score_date = risk["score_date"].iloc[0]
st.caption(f"Scored as of {score_date:%d %B %Y} · {filters.scope_label(scope)} · 180-day churn probability, "
           f"calibrated · tiers: high ≥ 25%, medium ≥ 10% · model {info.get('version', '')}")

tab_list, tab_summary = st.tabs(["At-risk list", "Portfolio summary"])
with tab_list:
    view = risk[risk.tier.isin(tiers)]
    if search:
        s = search.strip().lower()
        view = view[view.name.str.lower().str.contains(s, regex=False) | view.account_id.str.lower().str.contains(s)]
    view = view.assign(account_link="account?account_id=" + view.account_id)
    cols = st.columns(4)
    cols[0].metric("Accounts", f"{len(view):,}")
    cols[1].metric("High-risk accounts", f"{(view.tier == 'high').sum():,}")
    cols[2].metric("ARR in view", usd(view.arr_usd.sum()))
    cols[3].metric("Expected ARR at risk", usd(view.expected_arr_at_risk_usd.sum()))
    shown = ["account_link", "name", "tier", "probability", "change_pp", "expected_arr_at_risk_usd", "arr_usd",
             "days_to_renewal", "reason_1", "reason_2", "reason_3", "csm", "region", "segment"]
    if "adoption_cluster" in view:
        shown.insert(8, "adoption_cluster")
    st.dataframe(view[shown], hide_index=True, width="stretch", height=560, key="at_risk_table", column_config={
        "account_link": st.column_config.LinkColumn("Account", display_text=r"account_id=(.*)"),
        "name": "Name", "tier": "Tier",
        "probability": st.column_config.ProgressColumn("Churn probability", format="percent", min_value=0,
                                                       max_value=1),
        "change_pp": st.column_config.NumberColumn("Change since last month", format="%+.1f pts"),
        "expected_arr_at_risk_usd": st.column_config.NumberColumn("Expected ARR at risk", format="dollar"),
        "arr_usd": st.column_config.NumberColumn("ARR", format="dollar"),
        "days_to_renewal": st.column_config.NumberColumn("Days to renewal", format="%d"),
        "adoption_cluster": "Adoption cluster",
        "reason_1": "Top reason", "reason_2": "Second reason", "reason_3": "Third reason",
        "csm": "CSM", "region": "Region", "segment": "Segment",
    })
    with st.container(horizontal=True, vertical_alignment="bottom"):
        labels = dict(zip(view.account_id, view.name + " (" + view.account_id + ")"))
        pick = st.selectbox("Open an account", list(labels)[:200], format_func=labels.get, key="churn_open",
                            placeholder="Choose an account", index=0 if labels else None)
        if pick:
            st.page_link("pages/account.py", label="Open account view", icon=":material/open_in_new:",
                         query_params={"account_id": pick})
    export_button(view.drop(columns=["account_link"]), f"at_risk_{score_date:%Y%m%d}.csv",
                  f"at-risk list, {filters.scope_label(scope)}")

with tab_summary:
    summary = portfolio(risk)
    cols = st.columns(4)
    cols[0].metric("Accounts scored", f"{int(summary.totals['accounts']):,}")
    cols[1].metric("ARR", usd(summary.totals["arr_usd"]))
    cols[2].metric("Expected ARR at risk", usd(summary.totals["expected_arr_at_risk_usd"]))
    cols[3].metric("Moved to a higher tier", f"{int(summary.totals['moved_to_higher_tier']):,}")
    left, mid, right = st.columns(3)
    left.plotly_chart(uc.tier_arr_bar(summary.arr_by_tier), width="stretch")
    mid.plotly_chart(uc.movement_heatmap(summary.movements), width="stretch")
    right.plotly_chart(uc.renewals_tier_bar(summary.renewals_90d), width="stretch")
