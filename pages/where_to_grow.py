"""Where to grow: accounts x products by expected expansion or cross-sell ARR, for reps, CSMs and their managers."""
from __future__ import annotations

import streamlit as st

from services.expansion.features import HORIZON_DAYS
from ui import confidence as trust
from ui import expansion as ux
from ui import filters, prospects
from ui.auth import export_button
from ui.format import MONEY_FORMAT
from ui.widgets import page_with_data, usd

url = page_with_data("Where to grow")
if not ux.is_trained(url):
    st.info("No expansion model is trained yet. Run `python -m services.cli train` (or `make db`).",
            icon=":material/model_training:")
    st.stop()
scope = filters.current_scope()
rows = ux.where_to_grow(url, scope, filters.current_as_of())
if rows.empty:
    st.info("No scored accounts in this scope.", icon=":material/filter_alt_off:")
    st.stop()
score_date = rows["score_date"].iloc[0]
st.caption(f"Scored as of {score_date:%d %B %Y} · {filters.scope_label(scope)} · calibrated probability of a won "
           f"expansion (a product the account owns) or cross-sell (one it does not) within {HORIZON_DAYS} days · expected "
           "ARR = probability x the typical won deal for the segment and product")
with st.container(horizontal=True):
    products = st.multiselect("Product", sorted(rows["product"].dropna().unique()), key="grow_products",
                              placeholder="All products")
    segments = st.multiselect("Segment", sorted(rows["segment"].dropna().unique()), key="grow_segments",
                              placeholder="All segments")
    hide_open = st.toggle("Hide products with an open opportunity", value=False, key="grow_hide_open")
    show_unfamiliar = trust.filter_toggle("grow_show_unfamiliar")
view = rows
if products:
    view = view[view["product"].isin(products)]
if segments:
    view = view[view["segment"].isin(segments)]
if hide_open:
    view = view[view["suggest"]]
view = trust.annotate(trust.apply(view, show_unfamiliar))
view = view.assign(account_link="account?account_id=" + view.account_id,
                   status=view["suggest"].map({True: "Suggested", False: "Opportunity open"}))
new = view[view["suggest"]]
cols = st.columns(4)
cols[0].metric("Suggestions", f"{len(new):,}")
cols[1].metric("Expected ARR of suggestions", usd(new.expected_arr_usd.sum()))
cols[2].metric("Accounts", f"{view.account_id.nunique():,}")
cols[3].metric("Already open", f"{(~view['suggest']).sum():,}")
shown = ["account_link", "name", "product", "kind", "status", "probability", "expected_arr_usd", "product_arr_usd",
         "reason_1", "trust", "probability_range", "reason_2", "reason_3", "trust_reason", "open_opportunity_id",
         "segment", "owner"]
st.dataframe(view[shown].head(ux.SHOWN_ROWS), hide_index=True, width="stretch", height=560, key="grow_table",
             column_config={
    "account_link": st.column_config.LinkColumn("Account", display_text=r"account_id=(.*)"),
    "name": "Name", "product": "Product", "kind": "Motion", "status": "Status",
    "probability": st.column_config.ProgressColumn(f"Probability ({HORIZON_DAYS} days)", format="percent", min_value=0,
                                                   max_value=1),
    "expected_arr_usd": st.column_config.NumberColumn("Expected ARR", format=MONEY_FORMAT),
    "product_arr_usd": st.column_config.NumberColumn("ARR on the product now", format=MONEY_FORMAT),
    "reason_1": "Top reason", "reason_2": "Second reason", "reason_3": "Third reason",
    "open_opportunity_id": "Open opportunity", "segment": "Segment", "owner": "Owner", **trust.column_config(),
})
if len(view) > ux.SHOWN_ROWS:
    st.caption(f"The top {ux.SHOWN_ROWS:,} of {len(view):,} rows by expected ARR; the CSV holds them all.")
export_button(view.drop(columns=["account_link"]), f"where_to_grow_{score_date:%Y%m%d}.csv",
              f"where to grow, {filters.scope_label(scope)}")

prospects.section(url, scope, filters.current_as_of(), filters.scope_label(scope))
