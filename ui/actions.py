"""The account page's action widget: suggested playbook (accept / dismiss) and a form to log an action."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import streamlit as st

from services.outcomes import actions
from services.outcomes.read import latest_feedback
from ui import auth, data, health_data
from ui.text import md
from ui.widgets import when

REPEAT_S = 120  # the same action with the same note by the same person within this is a double click


def _flash_key(account_id: str) -> str:
    return f"action_flash_{account_id}"


def _repeat(logged: pd.DataFrame, kind: str, note: str, person: str | None) -> bool:
    """True when this exact action was logged by the same person a moment ago (a second click)."""
    if logged.empty:
        return False
    recent = logged[pd.to_datetime(logged.created_at) >= pd.Timestamp(dt.datetime.now()) - pd.Timedelta(seconds=REPEAT_S)]
    same = recent[(recent.action_type == kind) & (recent.note.fillna("") == note.strip())]
    return bool(len(same) and (person is None or "person_id" not in same or (same.person_id == person).any()))


def action_panel(account_id: str, cluster_name: str | None = None, risk_reason: str | None = None,
                 reason_group: str | None = None, show_log: bool = True,
                 on_logged: Callable[[], None] | None = None) -> None:
    """Draw the playbook suggestion and the log-an-action form for one account.

    `on_logged` runs after an action is stored (e.g. to clear the caller's cached account view). Drawn only
    for roles that may log actions (the architect's view is read only); the author is the signed-in person."""
    if not auth.can("log_action"):
        return
    engine = data.engine()
    playbook = actions.suggest_playbook(cluster_name, reason_group)
    flash = st.session_state.pop(_flash_key(account_id), None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    with st.container(border=True):
        st.markdown(f"**Suggested playbook: {playbook.name}**" + (f" - for *{risk_reason}*" if risk_reason else ""))
        st.markdown("\n".join(f"1. {s}" for s in playbook.steps))
        wrong = st.checkbox("This reason is wrong", key=f"pb_wrong_{account_id}")
        c1, c2 = st.columns(2)
        decision = ("accepted" if c1.button("Accept", key=f"pb_accept_{account_id}") else
                    "dismissed" if c2.button("Dismiss", key=f"pb_dismiss_{account_id}") else None)
        if decision:
            actions.record_feedback(engine, account_id, playbook.name, decision, reason_wrong=wrong,
                                    risk_reason=risk_reason, person_id=auth.who())
            st.toast(f"Playbook {decision}. Thank you, the feedback is kept.")
        last = latest_feedback(engine, account_id)
        if last:
            by = data.person_name(last["person_id"]) if last.get("person_id") else "someone"
            st.caption(f"Playbook {md(last['playbook'])} {last['decision']} by {md(by)} on {when(last['created_at'])}"
                       + (" (the risk reason was marked wrong)" if last.get("reason_wrong") else "") + ".")
    with st.form(key=f"log_action_{account_id}", clear_on_submit=True):
        st.markdown("**Log an action**")
        default = actions.ACTION_TYPES.index(playbook.action_type)
        kind = st.selectbox("Action", actions.ACTION_TYPES, index=default, format_func=actions.ACTION_LABELS.get,
                            key=f"action_type_{account_id}")
        note = st.text_area("Note", max_chars=actions.MAX_NOTE, key=f"action_note_{account_id}")
        if st.form_submit_button("Log action", type="primary"):
            if _repeat(actions.account_actions(engine, account_id), kind, note, auth.who()):
                st.warning("This action was logged a moment ago; it is not logged twice.", icon=":material/info:")
            else:
                try:
                    actions.log_action(engine, account_id, kind, note, person_id=auth.who())
                except ValueError as exc:
                    st.error(str(exc))
                else:
                    health_data.outcome_report.clear()
                    if on_logged is not None:
                        on_logged()
                    st.session_state[_flash_key(account_id)] = (
                        f"Logged: {actions.ACTION_LABELS[kind]} on {md(account_id)}.")
                    st.rerun()  # lists drawn above the form show the new action at once
    logged = actions.account_actions(engine, account_id) if show_log else None
    if logged is not None and not logged.empty:
        st.dataframe(logged[["created_at", "action_type", "note"]].head(10), hide_index=True,
                     column_config={"created_at": st.column_config.DatetimeColumn("When", format="D MMM YYYY"),
                                    "action_type": "Action", "note": "Note"})
