"""Audit log (admins): who signed in, imported, trained, activated or rolled back a model, entered a commit,
logged an action, gave playbook feedback or exported a list; newest first."""
from __future__ import annotations

import streamlit as st

from services import audit
from ui import data

st.title("Audit log")
st.caption("Append-only: every sign-in, import, training run, model activation and rollback, commit, logged "
           "action, playbook feedback and CSV export, with who did it and when.")
names = dict(zip(*data.people(data.current_url())[["person_id", "name"]].T.values)) if data.has_accounts(
    data.current_url()) else {}
c1, c2 = st.columns(2)
action = c1.selectbox("Action", [None, *audit.ACTIONS], format_func=lambda a: a or "All actions", key="audit_action")
who = c2.text_input("Who (person id or os:user)", key="audit_who").strip() or None
log = audit.entries(data.engine(), action=action, who=who)
if log.empty:
    st.info("No entries yet for this filter.", icon=":material/history:")
    st.stop()
log = log.assign(name=log.who.map(names))
counts = log.action.value_counts()
st.caption(f"{len(log):,} {'entry' if len(log) == 1 else 'entries'} shown: " + ", ".join(f"{n:,} {action}" for action, n in counts.items()))
st.dataframe(log[["at", "who", "name", "action", "details"]], hide_index=True, width="stretch", key="audit_table",
             column_config={"at": st.column_config.DatetimeColumn("When", format="D MMM YYYY HH:mm:ss"),
                            "who": "Who", "name": "Name", "action": "Action", "details": "Details"})
