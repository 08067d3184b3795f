"""The Prospects section of Where to grow: lost prospects by lead score, for reps and their managers (scoped)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from services.expansion import read as svc
from services.expansion.features import HORIZON_DAYS
from services.hierarchy import Scope
from ui.auth import export_button
from ui.data import engine_for
from ui.expansion import SHOWN_ROWS, TTL
from ui.format import MONEY_FORMAT


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Reading prospect scores...")
def prospects(url: str, scope: Scope, as_of: dt.date | None) -> pd.DataFrame:
    return svc.prospects(engine_for(url), scope, as_of)


def section(url: str, scope: Scope, as_of: dt.date | None, scope_label: str) -> None:
    """Lost prospects sorted by expected ARR, reasons in words, CSV export (nothing when none is scored)."""
    st.subheader("Prospects")
    rows = prospects(url, scope, as_of)
    if rows.empty:
        stored = rows.attrs.get("stored")
        st.caption(f"Prospect scores are stored for the latest date only ({stored:%d %b %Y})." if stored is not None
                   else "No lost prospects scored in this scope (accounts without a subscription whose last deal "
                        "was lost).")
        return
    score_date = pd.Timestamp(rows["score_date"].iloc[0])
    st.caption(f"Scored as of {score_date:%d %B %Y} · prospects whose last deal was lost and none is open · "
               f"calibrated probability that they come back (a new opportunity) within {HORIZON_DAYS} days · "
               "expected ARR = probability x the lost deal's amount")
    cols = st.columns(3)
    cols[0].metric("Prospects", f"{len(rows):,}")
    cols[1].metric("Expected ARR", f"${rows.expected_arr_usd.sum():,.0f}")
    cols[2].metric("Amount of the lost deals", f"${rows.lost_amount_usd.sum():,.0f}")
    view = rows.assign(account_link="account?account_id=" + rows.account_id)
    st.dataframe(view[["account_link", "name", "product", "probability", "expected_arr_usd", "lost_amount_usd",
                       "days_since_loss", "reason_1", "reason_2", "reason_3", "segment", "industry", "owner"]]
                 .head(SHOWN_ROWS), hide_index=True, width="stretch", key="prospects_table", column_config={
        "account_link": st.column_config.LinkColumn("Account", display_text=r"account_id=(.*)"), "name": "Name",
        "product": "Product lost",
        "probability": st.column_config.ProgressColumn(f"Comes back ({HORIZON_DAYS} days)", format="percent",
                                                       min_value=0, max_value=1),
        "expected_arr_usd": st.column_config.NumberColumn("Expected ARR", format=MONEY_FORMAT),
        "lost_amount_usd": st.column_config.NumberColumn("Lost deal", format=MONEY_FORMAT),
        "days_since_loss": st.column_config.NumberColumn("Days since the loss", format="%d"),
        "reason_1": "Top reason", "reason_2": "Second reason", "reason_3": "Third reason", "segment": "Segment",
        "industry": "Industry", "owner": "Owner"})
    if len(rows) > SHOWN_ROWS:
        st.caption(f"The top {SHOWN_ROWS:,} of {len(rows):,} prospects by expected ARR; the CSV holds them all.")
    export_button(rows, f"prospects_{score_date:%Y%m%d}.csv", f"prospects, {scope_label}", label="Download prospects CSV")
