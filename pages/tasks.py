"""Tasks: my tasks and my team's, created from an alert (Inbox) or an account, closed with an outcome;
exportable as CSV (and sent to the webhook, when one is configured, for a CRM)."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from services.alerts import read, tasks
from services.hierarchy import accounts_in_scope
from ui import data
from ui.auth import current_principal, export_button, who
from ui.widgets import page_with_data

url = page_with_data("Tasks")
principal = current_principal()
engine = data.engine()
which = st.segmented_control("Whose", ["mine", "team"], default="mine", key="tasks_which",
                             format_func={"mine": "My tasks", "team": "My team's tasks"}.get) or "mine"
status = st.segmented_control("Status", ["open", "closed", "all"], default="open", key="tasks_status") or "open"
frame = read.listing(engine, principal.person_id, which, principal.scope)
if status != "all":
    frame = frame[frame.status == status]
names = dict(zip(*data.people(url)[["person_id", "name"]].T.values))
frame = frame.assign(owner=frame.owner_id.map(names))
cols = ["task_id", "account_id", "task_type", "reason", "owner", "due_date", "priority", "status", "outcome",
        "playbook", "created_at", "closed_at"]
if frame.empty:
    st.info("No tasks here yet: create one from an alert in the Inbox, or for an account below.",
            icon=":material/task_alt:")
else:
    st.dataframe(frame[cols], hide_index=True, width="stretch", key="tasks_table",
                 column_config={"task_id": "Task", "account_id": "Account", "task_type": "Type", "reason": "Reason",
                                "owner": "Owner", "priority": "Priority", "status": "Status", "outcome": "Outcome",
                                "playbook": "Playbook", "due_date": st.column_config.DateColumn("Due"),
                                "created_at": st.column_config.DatetimeColumn("Created", format="D MMM YYYY"),
                                "closed_at": st.column_config.DatetimeColumn("Closed", format="D MMM YYYY")})
    export_button(frame[cols], "tasks.csv", f"tasks ({which}, {status})")

open_tasks = frame[frame.status == "open"] if not frame.empty else frame
if not open_tasks.empty:
    with st.form("tasks_close"):
        st.subheader("Close a task")
        task_id = st.selectbox("Task", open_tasks.task_id.tolist(), key="tasks_close_id",
                               format_func=lambda t: f"{t}: {open_tasks.set_index('task_id').reason[t][:80]}")
        outcome = st.selectbox("Outcome", tasks.OUTCOMES, key="tasks_close_outcome")
        note = st.text_input("Note", key="tasks_close_note")
        if st.form_submit_button("Close task"):
            try:
                tasks.close(engine, task_id, outcome, who(), note, scope=principal.scope)
            except (ValueError, PermissionError) as exc:
                st.error(str(exc))
            else:
                st.success(f"Closed {task_id}: {outcome}.", icon=":material/check:")
                st.rerun()

with st.expander("Create a task for an account"):
    allowed = accounts_in_scope(engine, principal.scope)
    with st.form("tasks_create"):
        account_id = st.text_input("Account id", key="tasks_new_account").strip()
        c1, c2, c3 = st.columns(3)
        ttype = c1.selectbox("Type", tasks.TASK_TYPES, key="tasks_new_type")
        priority = c2.selectbox("Priority", tasks.PRIORITIES, index=1, key="tasks_new_priority")
        due = c3.date_input("Due", dt.date.today() + dt.timedelta(days=7), key="tasks_new_due")
        reason = st.text_input("Reason", key="tasks_new_reason")
        if st.form_submit_button("Create task"):
            if allowed is not None and account_id not in allowed:
                st.error(f"Account {account_id or '(none)'} is not in your scope.")
            else:
                try:
                    tid = tasks.create(engine, account_id, ttype, reason, principal.person_id, who(), due, priority,
                                       scope=principal.scope)
                except (ValueError, PermissionError) as exc:
                    st.error(str(exc))
                else:
                    st.success(f"Task {tid} created.", icon=":material/task_alt:")
                    st.rerun()
