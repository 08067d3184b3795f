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
