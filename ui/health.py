"""The data-health banner shown on every page (app.py calls `health_banner()` once)."""

from __future__ import annotations

import streamlit as st

from services.monitoring import health
from ui import data


@st.cache_data(ttl="5m", max_entries=4, show_spinner=False)
def data_problems(url: str) -> list[str]:
    return health.problems(data.engine_for(url))


def health_banner() -> None:
    """A warning naming every violated freshness rule, or nothing when the data is healthy or absent."""
    url = data.current_url()
    if not data.has_accounts(url):
        return  # the page's own empty state says what to do
    found = data_problems(url)
    if found:
        st.warning("**Data health:** " + "; ".join(found) + ". See *Model health* for details.",
                   icon=":material/report:")
