"""Account 360: ARR and subscriptions, usage against capacity, churn risk and its reasons, cases,
open opportunities and logged actions. Other pages link here with `?account_id=A000123`."""
from __future__ import annotations

import streamlit as st

from services.hierarchy import NotInScope, Scope
from ui import churn as uc
from ui import confidence as trust
from ui import filters
from ui.actions import action_panel
from ui.charts import churn as churn_charts
from ui.charts import explain as explain_charts
from ui.expansion import next_best_panel
from ui.filters import current_as_of
from ui.format import MONEY_FORMAT, change
from ui.text import md
from ui.widgets import page_with_data, usd

url = page_with_data("Account")

typed = st.text_input("Find an account", value=st.query_params.get("account_id", ""),
                      placeholder="Name or id, e.g. North Capital or A000123", key="account_id_input").strip()
if not typed:
    st.info("Open an account from the churn risk list, or type its name or id.", icon=":material/domain:")
    st.stop()
matches = uc.find_accounts(url, typed, filters.current_scope())
exact = matches[matches.account_id.str.lower() == typed.lower()]
if not exact.empty or matches.empty:
    account_id = exact.account_id.iloc[0] if not exact.empty else typed
else:
    labels = {r.account_id: f"{r.name} ({r.account_id}) · {r.segment} · {r.region}" for r in matches.itertuples()}
    account_id = st.selectbox(f"{len(labels)} accounts match" + (" (first 20)" if len(labels) == 20 else ""),
                              list(labels), format_func=labels.get, key="account_match")
st.query_params["account_id"] = account_id
as_of, scope = filters.current_as_of(), filters.current_scope()
try:  # the signed-in person's bound refuses; a narrower sidebar choice only asks to widen it (below)
    view = uc.account_360(url, account_id, as_of, Scope(within=scope.within))
except NotInScope as exc:
    st.error(str(exc), icon=":material/lock:")
    st.stop()
if view is None:
    st.error(f"No account with the id or name {md(typed)} in your scope.", icon=":material/error:")
    st.stop()
if not uc.in_scope(url, account_id, scope):
    st.info(f"{account_id} is outside the chosen scope ({filters.scope_label(scope)}): widen it in the sidebar.",
            icon=":material/filter_alt_off:")
    st.stop()

acc = view.account
st.header(f"{md(acc['name'])} ({md(account_id)})")
st.caption(f"{md(acc.get('segment'))} · {md(acc.get('industry'))} · {md(acc.get('region'))} · "
           f"owner {md(acc.get('owner') or '-')} · CSM {md(acc.get('csm') or '-')} · "
           f"customer since {acc['created_date']:%d %b %Y}" + (f" · as of {as_of:%d %B %Y}" if as_of else ""))
hist = view.risk_history
cols = st.columns(4)
latest = hist.iloc[-1] if not hist.empty else None
cols[0].metric("ARR", usd(latest["arr_usd"]) if latest is not None else "-")
if latest is not None:
    delta = (f"{change(100 * (latest['probability'] - hist.iloc[-2]['probability']), 'pts')} since last month"
             if len(hist) > 1 else None)
    cols[1].metric("Risk at next renewal", f"{latest['probability']:.0%}", delta, delta_color="inverse",
                   help="The chance the account does not renew or loses at least half its ARR at its next renewal, "
                        "if nothing is done")
    cols[2].metric("Risk tier", str(latest["tier"]).capitalize())
    cols[3].metric("Expected ARR at risk", usd(latest["expected_arr_at_risk_usd"]))
    trust.score_line(uc.with_confidence(url, hist.tail(1).assign(account_id=account_id)))
else:
    cols[1].metric("Churn probability", "not scored")
    st.info("No churn score of this account stored at or before the as-of date.", icon=":material/history_toggle_off:")
trust.cluster_line(url, account_id, Scope(within=scope.within))

left, right = st.columns([3, 2])
with left:
    st.subheader("Why this risk")
    if latest is not None and view.reasons_date is not None and latest["score_date"] < view.reasons_date:
        st.info(f"Reasons are stored for the latest score date only ({view.reasons_date:%d %b %Y}).",
                icon=":material/history_toggle_off:")
    elif view.reasons.empty:
        st.caption("No risk-raising reasons recorded for this account.")
    for r in view.reasons.itertuples():
        st.markdown(f"{r.rank}. **{md(r.reason)}** · _{md(r.group)}_")
    if not view.contributions.empty:
        st.plotly_chart(explain_charts.waterfall(
            view.contributions, title="Why this risk: contributions by group", log_odds=False,
            base_label="Average account", total_label="This account",
            x_title="lowers risk ← → raises risk"), width="stretch")
        st.caption("Each bar is a group of signals that raises (right) or lowers (left) this account's risk "
                   "against the average account (model scale; the risk itself is the tile above).")
with right:
    if not hist.empty:
        st.plotly_chart(churn_charts.risk_history_line(hist), width="stretch")

next_best_panel(url, account_id, current_as_of(), scope)

st.subheader("Subscriptions")
st.dataframe(view.subscriptions[["product", "start_date", "end_date", "arr_usd", "quantity", "subscription_id"]],
             hide_index=True, width="stretch", column_config={
                 "product": "Product", "start_date": st.column_config.DateColumn("Start", format="D MMM YYYY"),
                 "end_date": st.column_config.DateColumn("End", format="D MMM YYYY"),
                 "arr_usd": st.column_config.NumberColumn("ARR", format=MONEY_FORMAT),
                 "quantity": st.column_config.NumberColumn("Quantity", format="localized"),
                 "subscription_id": "Subscription"})

st.subheader("Usage against capacity")
products = list(dict.fromkeys(view.usage["product"].dropna()))
if not products:
    st.caption("No usage recorded.")
for chunk in range(0, len(products), 2):
    for col, product in zip(st.columns(2), products[chunk:chunk + 2]):
        col.plotly_chart(churn_charts.usage_vs_capacity(view.usage, product), width="stretch")

c1, c2 = st.columns(2)
with c1:
    st.subheader("Support cases")
    cases = view.cases.head(50)
    st.dataframe(cases[["case_id", "opened_date", "closed_date", "severity", "csat"]] if not cases.empty else cases,
                 hide_index=True, width="stretch", column_config={
                     "case_id": "Case", "opened_date": st.column_config.DateColumn("Opened", format="D MMM YYYY"),
                     "closed_date": st.column_config.DateColumn("Closed", format="D MMM YYYY"),
                     "severity": st.column_config.NumberColumn("Severity", help="1 is most severe"),
                     "csat": st.column_config.NumberColumn("CSAT", format="%.0f")})
with c2:
    st.subheader("Open opportunities")
    if view.opportunities.empty:
        st.caption("No open opportunities.")
    else:
        st.dataframe(view.opportunities[["opportunity_id", "product", "type", "stage", "amount_usd", "close_date"]],
                     hide_index=True, width="stretch", column_config={
                         "opportunity_id": "Opportunity", "product": "Product", "type": "Type", "stage": "Stage",
                         "amount_usd": st.column_config.NumberColumn("Amount", format=MONEY_FORMAT),
                         "close_date": st.column_config.DateColumn("Close date", format="D MMM YYYY")})
st.subheader("Actions logged")
if view.actions.empty:
    st.caption("No customer-success actions logged on this account.")
else:
    st.dataframe(view.actions[["created_at", "action_type", "person", "note"]], hide_index=True, width="stretch",
                 column_config={"created_at": st.column_config.DatetimeColumn("When", format="D MMM YYYY HH:mm"),
                                "action_type": "Action", "person": "By", "note": "Note"})
top = view.reasons.iloc[0] if not view.reasons.empty else None
action_panel(account_id, cluster_name=latest.get("adoption_cluster") if latest is not None else None,
             risk_reason=top["reason"] if top is not None else None, reason_group=top["group"] if top is not None else None,
             show_log=False, on_logged=uc.account_360.clear)
