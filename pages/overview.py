"""Overview: customer accounts, ARR, renewals due and data freshness for the chosen scope."""

from __future__ import annotations

import streamlit as st

from services.overview import RENEWAL_WINDOW_DAYS
from ui import data, filters
from ui.charts import overview as charts
from ui.widgets import page_with_data, usd, when

url = page_with_data("Overview")

as_of = filters.current_as_of()
scope = filters.current_scope()
st.caption(f"As of {as_of:%d %B %Y} · {filters.scope_label(scope)}")
summary = data.overview(url, as_of, scope)

tiles = st.columns(4)
tiles[0].metric("Customer accounts", f"{summary.customers:,}", help="Accounts with an active subscription")
tiles[1].metric("ARR", usd(summary.arr_usd), help="Annual recurring revenue of active subscriptions")
tiles[2].metric(f"Renewals due in {RENEWAL_WINDOW_DAYS} days", f"{summary.renewals_due_count:,}", help="Accounts")
tiles[3].metric("ARR up for renewal", usd(summary.renewals_due_arr_usd), help=f"Next {RENEWAL_WINDOW_DAYS} days")

left, right = st.columns(2)
if summary.arr_by_product.empty:
    left.info("No active subscriptions in this scope.")
else:
    left.plotly_chart(charts.arr_bar(summary.arr_by_product, "product", "ARR by product"), width="stretch")
    right.plotly_chart(charts.arr_bar(summary.arr_by_segment, "segment", "ARR by segment"), width="stretch")
if not summary.renewals_by_month.empty:
    st.plotly_chart(charts.renewals_bar(summary.renewals_by_month, "Renewals due by month"), width="stretch")

st.subheader("Data freshness")
last_import = data.last_import(url)
last_training = data.last_training(url)
import_text = f"{when(last_import['at'])} ({last_import.get('status', 'unknown')})" if last_import else "never"
training_text = when(last_training["at"]) if last_training else "not trained yet"
st.caption(f"Last import: {import_text} · Last training: {training_text}")
freshness = data.freshness(url, as_of)
st.dataframe(
    freshness,
    hide_index=True,
    height=35 * (len(freshness) + 1) + 3,
    width="stretch",
    column_config={
        "table": "Table",
        "rows": st.column_config.NumberColumn("Rows", format="localized"),
        "latest_date": st.column_config.DateColumn("Latest date", format="D MMM YYYY"),
        "days_behind": st.column_config.NumberColumn("Days behind as-of"),
        "status": "Status",
    },
)
