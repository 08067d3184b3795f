"""The data-health banner shown on every page (app.py calls `health_banner()` once), and the check that the
models are older than the data.

Who is told what: the people who own the data (those who may import, `data`) see every problem, a failed
latest import included, since they can fix it; everyone else sees only that the data they are looking at is
stale (a table past its freshness rule), never an upload that failed and changed nothing they see."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from services import snapshot
from services.monitoring import health
from ui import auth, data

FAILED_IMPORT = "the latest import"  # health.problems' wording for a failed latest import

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


def problems_for_viewer(found: list[str], owns_data: bool) -> list[str]:
    """The banner's lines for one person: all of them for a data owner, the stale-data lines for others."""
    return list(found) if owns_data else [p for p in found if not p.startswith(FAILED_IMPORT)]


def models_older_than_data(url: str) -> pd.Timestamp | None:
    """When the latest successful import finished, if it finished after the newest model was trained."""
    imports = data.recent_imports(url)
    if imports.empty or "status" not in imports:
        return None
    ok = imports[imports.status == "success"]
    if ok.empty:
        return None
    imported = pd.to_datetime(ok.get("finished_at", ok.get("started_at"))).max()
    trained = data.last_training(url)
    when = pd.to_datetime((trained or {}).get("created_at")) if trained else None
    if when is None or pd.isna(when) or pd.isna(imported):
        return None
    return imported if imported > when else None


def health_banner() -> None:
    """A warning naming the data problems this person should know of, or nothing."""
    url = data.current_url()
    if not data.has_accounts(url):
        return  # the page's own empty state says what to do
    follow_snapshot(url)
    owner = auth.can("data")
    found = problems_for_viewer(data_problems(url), owner)
    if found:
        where = "See *Model health* or *Data* for details." if owner else "Ask your data owner to refresh it."
        st.warning("**Data health:** " + "; ".join(found) + f". {where}", icon=":material/report:")
