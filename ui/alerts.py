"""Streamlit side of the action loop: the inbox title with its unread count (app.py's menu), cached reads."""
from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from services.alerts import read
from ui import data
from ui.auth import current_principal


@st.cache_data(ttl=30, max_entries=64, show_spinner=False)
def unread(url: str, person_id: str) -> int:
    return read.unread_count(data.engine_for(url), person_id)


def inbox_title() -> str:
    """"Inbox" with the signed-in person's unread count, e.g. "Inbox (3)"."""
    p = current_principal()
    try:
        if p is None or not data.has_accounts(data.current_url()):
            return "Inbox"
        n = unread(data.current_url(), p.person_id)
    except SQLAlchemyError:  # the page itself then shows the database's one message
        return "Inbox"
    return f"Inbox ({n})" if n else "Inbox"


def inbox(person_id: str) -> pd.DataFrame:
    return read.inbox(data.engine(), person_id)


def changed() -> None:
    """After a write (read, task): the unread count and the lists are read again."""
    unread.clear()


def task_outcomes(frame: pd.DataFrame) -> None:
    """Model health's task side of the outcome report: share with a task, lead time, save rate with and
    without one, per playbook, and the ledger of churned accounts."""
    from services.outcomes import read as outcomes_read
    from services.outcomes import tasks_report as tr

    f = outcomes_read.task_frame(data.engine(), frame)
    if f.empty:
        return
    share = tr.share_with_task(f)
    due = f[f.outcome != "pending"]
    c = st.columns(3)
    c[0].metric("Flagged accounts with a task", "n/a" if share is None else f"{share:.0%}")
    c[1].metric("Median lead time, first flag to renewal",
                "n/a" if due.empty else f"{due.lead_time_days.median():.0f} days")
    c[2].metric("Churned after a flag", f"{int((f.outcome == 'churned').sum()):,}")
    st.caption("Observational: tasks are opened on the accounts people worry about most, so with and without "
               "a task differ in more than the task.")
    fmt = {"save_rate": st.column_config.ProgressColumn("Save rate", format="percent", min_value=0.0, max_value=1.0),
           "arr_before_usd": st.column_config.NumberColumn("ARR before", format="dollar"),
           "arr_after_usd": st.column_config.NumberColumn("ARR after", format="dollar"),
           "arr_retained": st.column_config.NumberColumn("ARR retained", format="percent")}
    left, right = st.columns(2)
    left.dataframe(tr.task_summary(f), hide_index=True, width="stretch", column_config=fmt, key="mh_task_summary")
    right.dataframe(tr.by_playbook(f), hide_index=True, width="stretch", column_config=fmt, key="mh_task_playbooks")
    st.markdown("**Churned accounts: when first flagged, and whether anyone acted**")
    st.dataframe(tr.churn_ledger(f), hide_index=True, width="stretch", key="mh_churn_ledger", column_config={
        "renewal_date": st.column_config.DateColumn("Renewal"), "first_flag": st.column_config.DateColumn("First flag"),
        "p_start": st.column_config.NumberColumn("Risk at the window's start", format="percent"),
        "arr_before_usd": st.column_config.NumberColumn("ARR before", format="dollar")})
