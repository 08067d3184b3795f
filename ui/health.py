"""The data-health banner shown on every page (app.py calls `health_banner()` once)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from services import snapshot
from services.monitoring import health
from ui import data

SEEN = "data_snapshot_seen"


@st.cache_data(ttl="5m", max_entries=4, show_spinner=False)
def data_problems(url: str) -> list[str]:
    return health.problems(data.engine_for(url))


def follow_snapshot(url: str) -> None:
    """Forget every cached read when the data changed since this session's last run (an import from the
    command line or a refresh): no page shows results of the data before, even for the caches' lifetime."""
    try:
        now = (snapshot.current(data.engine_for(url)) or {}).get("import_id")
    except SQLAlchemyError:  # the page itself then shows the database's one message
        return
    if st.session_state.get(SEEN, now) != now:
        st.cache_data.clear()
    st.session_state[SEEN] = now


def health_banner() -> None:
    """A warning naming every violated freshness rule, or nothing when the data is healthy or absent."""
    url = data.current_url()
    if not data.has_accounts(url):
        return  # the page's own empty state says what to do
    follow_snapshot(url)
    found = data_problems(url)
    if found:
        st.warning("**Data health:** " + "; ".join(found) + ". See *Model health* for details.",
                   icon=":material/report:")
