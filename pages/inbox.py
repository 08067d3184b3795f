"""Inbox: the alerts delivered to the signed-in person (newest first), marked read, turned into tasks; and
the person's subscriptions (event types, scope, channel, frequency)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from services.alerts import read, subscriptions, tasks
from services.alerts.events import EVENT_TYPES
from ui import alerts, data
from ui.auth import current_principal, who
from ui.text import md
from ui.widgets import page_with_data

url = page_with_data("Inbox")
principal = current_principal()
engine = data.engine()
messages = alerts.inbox(principal.person_id)
unread = int((~messages.read).sum()) if not messages.empty else 0
st.caption(f"Alerts for {md(principal.name)}: {unread:,} unread of {len(messages):,}. A refresh "
           "(`python -m services.cli refresh`) computes them; choose which ones reach you below.")

if messages.empty:
    st.info("No alerts yet. They arrive after the next refresh, for the event types you subscribe to.",
            icon=":material/inbox:")
elif unread and st.button("Mark all read", key="inbox_all_read", icon=":material/done_all:"):
    read.mark_read(engine, principal.person_id, messages.message_id.tolist())
    alerts.changed()
    st.rerun()

for i, m in enumerate(messages.head(50).itertuples()):
    with st.container(border=True, key=f"inbox_msg_{i}"):
        head, act = st.columns([5, 2])
        kind = EVENT_TYPES.get(m.event_type, "Digest") if isinstance(m.event_type, str) else "Digest"
        head.markdown(("" if m.read else "**New** · ") + f"{md(kind)}: {md(m.subject)}")
        head.caption(f"{pd.Timestamp(m.created_at):%d %b %Y %H:%M}")
        with head.expander("Details"):
            st.text(m.body)
        if not m.read and act.button("Mark read", key=f"inbox_read_{i}"):
            read.mark_read(engine, principal.person_id, [m.message_id])
            alerts.changed()
            st.rerun()
        if isinstance(m.account_id, str) and act.toggle("Create a task", key=f"inbox_task_{i}"):
            with st.form(f"inbox_task_form_{i}"):
                c1, c2, c3 = st.columns(3)
                ttype = c1.selectbox("Type", tasks.TASK_TYPES, key=f"inbox_task_type_{i}")
                priority = c2.selectbox("Priority", tasks.PRIORITIES, key=f"inbox_task_priority_{i}")
                due = c3.date_input("Due", dt.date.today() + dt.timedelta(days=7), key=f"inbox_task_due_{i}")
                reason = st.text_input("Reason", m.subject, key=f"inbox_task_reason_{i}")
                playbook = st.text_input("Playbook (optional)", key=f"inbox_task_playbook_{i}")
                if st.form_submit_button("Create task"):
                    try:
                        tid = tasks.create(engine, m.account_id, ttype, reason, principal.person_id, who(), due,
                                           priority, playbook or None, m.event_id, scope=principal.scope)
                    except (ValueError, PermissionError) as exc:
                        st.error(str(exc))
                    else:
                        read.mark_read(engine, principal.person_id, [m.message_id])
                        alerts.changed()
                        st.success(f"Task {tid} created: see Tasks.", icon=":material/task_alt:")

with st.expander("My subscriptions"):
    st.caption("Scope is always within your role's view: a rep's 'all' is still their own book. With no choice "
               "saved, your role's defaults apply.")
    current = read.subscriptions_of(engine, principal.person_id, principal.role)
    edited = st.data_editor(
        current.drop(columns=["person_id"]), num_rows="dynamic", hide_index=True, key="inbox_subscriptions",
        column_config={
            "event_type": st.column_config.SelectboxColumn("Event", options=list(EVENT_TYPES), required=True),
            "channel": st.column_config.SelectboxColumn("Channel", options=list(subscriptions.CHANNELS), required=True),
            "scope": st.column_config.SelectboxColumn("Scope", options=list(subscriptions.SCOPES), required=True),
            "frequency": st.column_config.SelectboxColumn("Frequency", options=list(subscriptions.FREQUENCIES),
                                                          required=True),
            "active": st.column_config.CheckboxColumn("Active", default=True)})
    if st.button("Save subscriptions", key="inbox_save_subscriptions"):
        try:
            subscriptions.save(engine, principal.person_id, edited.dropna(subset=["event_type", "channel"]))
        except ValueError as exc:
            st.error(str(exc))
        else:
            from services import audit

            audit.record(engine, who(), "subscriptions", rows=len(edited))
            st.success("Saved.", icon=":material/check:")
