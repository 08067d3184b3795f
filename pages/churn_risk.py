"""Churn risk: the at-risk list for customer-success managers and the portfolio summary."""
from __future__ import annotations

import streamlit as st

from services.churn import worklist as wl
from services.churn.read import MODEL_LABELS, portfolio
from services.churn.tables import RENEWALS_DUE_DAYS
from ui import captions, data, filters
from ui import churn as uc
from ui import confidence as trust
from ui.auth import export_button
from ui.charts import churn as churn_charts
from ui.charts import explain as explain_charts
from ui.format import MONEY_FORMAT
from ui.text import html
from ui.widgets import empty_state, no_snapshot, usd

st.title("Churn risk")
MAX_ROWS = 500  # rows sent to the browser per table
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
               f"features · {captions.tiers(m)}")
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
        st.plotly_chart(explain_charts.waterfall(contrib, by="feature", title=f"Why {html(pick)}: contributions by feature",
                                                 log_odds=False, base_label="Base (all rows)", total_label="This row",
                                                 x_title="lowers risk ← → raises risk"),
                        width="stretch")
    export_button(view, "churn_custom_scores.csv", "churn_custom scores")


if model == "churn_custom":
    custom_view()
    st.stop()

scope = filters.current_scope()
csms = uc.csms(url)
labels = data.person_labels(url)
csm_names = {p: labels.get(p, n) for p, n in zip(csms.person_id, csms.name)}


@st.fragment
def book() -> None:
    """The filters and the four tabs: a filter or a tab reruns only this part of the page (not the sidebar,
    the sign-in or the banner above it)."""
    with st.container(horizontal=True):
        csm_id = st.selectbox("CSM", [None, *csm_names], format_func=lambda p: "All CSMs" if p is None else csm_names[p],
                              key="churn_csm")
        tiers = st.multiselect("Tier", ["high", "medium", "low"], default=["high", "medium", "low"], key="churn_tiers")
        within = st.selectbox("Renewing within", [None, 30, 90, 180, 365], key="churn_within",
                              format_func=lambda d: "Any time" if d is None else f"{d} days")
        search = st.text_input("Search accounts", placeholder="Name or id", key="churn_search")
        show_unfamiliar = trust.filter_toggle("churn_show_unfamiliar")
    as_of = filters.current_as_of()
    risk = uc.at_risk(url, scope, as_of, csm_id)
    risk = trust.annotate(uc.with_confidence(url, risk)) if not risk.empty else risk
    info = uc.model_info(url)
    if risk.attrs.get("score_date") is None:
        no_snapshot("churn scores", as_of)
        return
    if risk.empty:
        st.info("No scored accounts in this scope.", icon=":material/filter_alt_off:")
        return
    score_date = risk["score_date"].iloc[0]
    st.caption(f"Scored as of {score_date:%d %B %Y} · {filters.scope_label(scope)} · risk at the next renewal, "
               f"whenever it is: the calibrated chance the account does not renew or loses at least half its ARR, "
               f"if nothing is done (logged actions do not change it) · expected ARR at risk = probability × ARR "
               f"renewing · {captions.tiers(info.get('metrics'))}")

    # Lazy tabs: only the open one is computed (switching reruns the page with that tab open).
    tab_list, tab_work, tab_team, tab_summary = st.tabs(["At-risk list", "CSM worklist", "Team view",
                                                         "Portfolio summary"], key="churn_tab", on_change="rerun")
    with tab_list:
        if tab_list.open:
            view = trust.apply(wl.renewing_within(risk[risk.tier.isin(tiers)], within), show_unfamiliar)
            if search:
                s = search.strip().lower()
                view = view[view.name.str.lower().str.contains(s, regex=False) | view.account_id.str.lower().str.contains(s)]
            view = view.assign(account_link="account?account_id=" + view.account_id)
            cols = st.columns(4)
            cols[0].metric("Accounts", f"{len(view):,}")
            cols[1].metric("High-risk accounts", f"{(view.tier == 'high').sum():,}")
            cols[2].metric("ARR in view", usd(view.arr_usd.sum()))
            cols[3].metric("Expected ARR at risk", usd(view.expected_arr_at_risk_usd.sum()))
            reasons_date = risk.attrs.get("reasons_date")
            with_reasons = reasons_date == score_date
            if not with_reasons:
                st.info(f"Reasons are stored for the latest score date only ({reasons_date:%d %b %Y}).",
                        icon=":material/history_toggle_off:")
            # the columns a CSM reads first fit a 1024-pixel screen; the rest scroll
            shown = ["account_link", "name", "tier", "probability", "change_pp", "expected_arr_at_risk_usd",
                     "renewal_date", *(["reason_1"] if with_reasons else []), "trust", "probability_range", "arr_usd",
                     "days_to_renewal",
                     *(["reason_2", "reason_3"] if with_reasons else []), "trust_reason", "csm", "region", "segment"]
            if "adoption_cluster" in view:
                shown.insert(shown.index("csm"), "adoption_cluster")
            view = view.assign(change_pp=view.change_pp.round(1) + 0.0)  # no "-0.0 pts"
            if len(view) > MAX_ROWS:  # the browser gets the top rows only; the CSV below has all of them
                st.caption(f"Showing the top {MAX_ROWS:,} of {len(view):,} accounts by expected ARR at risk: search, "
                           "filter or download the CSV for the rest.")
            st.dataframe(view[shown].head(MAX_ROWS), hide_index=True, width="stretch", height=560, key="at_risk_table",
                         column_config={
                "account_link": st.column_config.LinkColumn("Account", display_text=r"account_id=(.*)"),
                "name": "Name", "tier": "Tier",
                "probability": st.column_config.ProgressColumn("Risk at next renewal", format="percent", min_value=0,
                                                               max_value=1),
                "change_pp": st.column_config.NumberColumn("Change since last month", format="%+.1f pts"),
                "renewal_date": st.column_config.DateColumn("Next renewal"),
                "expected_arr_at_risk_usd": st.column_config.NumberColumn("Expected ARR at risk", format=MONEY_FORMAT),
                "arr_usd": st.column_config.NumberColumn("ARR", format=MONEY_FORMAT),
                "days_to_renewal": st.column_config.NumberColumn("Days to renewal", format="%d"),
                "adoption_cluster": "Adoption cluster",
                "reason_1": "Top reason", "reason_2": "Second reason", "reason_3": "Third reason",
                "csm": "CSM", "region": "Region", "segment": "Segment", **trust.column_config(),
            })
            with st.container(horizontal=True, vertical_alignment="bottom"):
                labels = dict(zip(view.account_id, view.name + " (" + view.account_id + ")"))
                pick = st.selectbox("Open an account", list(labels)[:200], format_func=labels.get, key="churn_open",
                                    placeholder="Choose an account", index=0 if labels else None)
                if pick:
                    st.page_link("pages/account.py", label="Open account view", icon=":material/open_in_new:",
                                 query_params={"account_id": pick})
            blank = [] if with_reasons else ["reason_1", "reason_2", "reason_3"]
            export_button(view.drop(columns=["account_link", *blank]), f"at_risk_{score_date:%Y%m%d}.csv",
                          f"at-risk list, {filters.scope_label(scope)}")

    with tab_work:
        if tab_work.open:
            n = st.number_input("Accounts per CSM", 1, 50, wl.DEFAULT_N, key="churn_worklist_n")
            work = wl.worklist(wl.renewing_within(risk, within), uc.reason_groups(url), int(n))
            st.caption("Each CSM's top accounts by expected ARR at risk, what changed since last month and the "
                       "suggested playbook.")
            st.dataframe(work[["csm", "rank", "name", "tier", "probability", "expected_arr_at_risk_usd", "renewal_date",
                               "change", "reason_1", "playbook", "first_step"]], hide_index=True, width="stretch",
                         height=520, key="churn_worklist", column_config={
                             "csm": "CSM", "rank": "#", "name": "Account", "tier": "Tier",
                             "probability": st.column_config.ProgressColumn("Risk at next renewal", format="percent",
                                                                            min_value=0, max_value=1),
                             "expected_arr_at_risk_usd": st.column_config.NumberColumn("Expected ARR at risk",
                                                                                       format=MONEY_FORMAT),
                             "renewal_date": st.column_config.DateColumn("Next renewal"),
                             "change": "Since last month", "reason_1": "Top reason", "playbook": "Suggested playbook",
                             "first_step": "First step"})

    with tab_team:
        if tab_team.open:
            team = wl.team_load(wl.renewing_within(risk, within))
            st.caption("Load per CSM: accounts, high-risk accounts, ARR and expected ARR at risk; high-risk renewals "
                       f"due within {RENEWALS_DUE_DAYS} days.")
            st.dataframe(team.drop(columns=["csm_id"]), hide_index=True, width="stretch", key="churn_team",
                         column_config={
                             "csm": "CSM", "accounts": "Accounts", "high_risk_accounts": "High risk",
                             "arr_usd": st.column_config.NumberColumn("ARR", format=MONEY_FORMAT),
                             "expected_arr_at_risk_usd": st.column_config.NumberColumn("Expected ARR at risk",
                                                                                       format=MONEY_FORMAT),
                             "high_risk_renewals_due": f"High-risk renewals in {RENEWALS_DUE_DAYS} days",
                             "share_of_risk": st.column_config.ProgressColumn("Share of the team's risk", format="percent",
                                                                              min_value=0, max_value=1)})

    with tab_summary:
        if tab_summary.open:
            summary = portfolio(risk)
            cols = st.columns(4)
            cols[0].metric("Accounts scored", f"{int(summary.totals['accounts']):,}")
            cols[1].metric("ARR", usd(summary.totals["arr_usd"]))
            cols[2].metric("Expected ARR at risk", usd(summary.totals["expected_arr_at_risk_usd"]))
            cols[3].metric("Moved to a higher tier", f"{int(summary.totals['moved_to_higher_tier']):,}")
            left, mid, right = st.columns(3)
            left.plotly_chart(churn_charts.tier_arr_bar(summary.arr_by_tier), width="stretch")
            mid.plotly_chart(churn_charts.movement_heatmap(summary.movements), width="stretch")
            right.plotly_chart(churn_charts.renewals_tier_bar(summary.renewals_90d), width="stretch")


book()
