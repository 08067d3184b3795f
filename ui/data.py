"""Cached data access for pages: thin `st.cache_*` wrappers over `services` functions.

Cached functions take the database URL so that a change of database never serves stale data.
"""

from __future__ import annotations

import datetime as dt
import warnings

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from services import fiscal
from services import overview as ov
from services.config import database_url
from services.db import get_engine, read_table
from services.hierarchy import Scope
from ui import format as fmt

TTL = "10m"
# Read sides put the snapshot a frame was read at in `frame.attrs` (for the page's one-line notes);
# st.dataframe need not send it to the browser and would warn on every rerun that it cannot.
warnings.filterwarnings("ignore", message="Could not serialize pd.DataFrame.attrs", category=UserWarning)


def current_url() -> str:
    return database_url()


@st.cache_resource(max_entries=4)
def engine_for(url: str) -> Engine:
    return get_engine(url)


def engine() -> Engine:
    """The engine for the configured database."""
    return engine_for(current_url())


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def has_accounts(url: str) -> bool:
    return ov.has_accounts(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def people(url: str) -> pd.DataFrame:
    return read_table("people", engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def person_labels(url: str) -> dict[str, str]:
    """person_id -> name, disambiguated where names repeat (ui/format.person_labels)."""
    return fmt.person_labels(people(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def product_names(url: str) -> dict[str, str]:
    """product_id -> the product's name (pages show names, never ids)."""
    p = read_table("products", engine_for(url), columns=["product_id", "name"])
    return dict(zip(p.product_id, p.name))


def person_name(person_id: str | None) -> str:
    """The label of one person in the configured database (the id itself when unknown)."""
    return person_labels(current_url()).get(person_id, person_id or "")


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def calendar(url: str) -> fiscal.FiscalCalendar:
    """The company's fiscal quarters (services/fiscal.py): keys, labels, spans."""
    return fiscal.read(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner="Reading the calendar...")
def as_of_choices(url: str) -> list[dt.date]:
    return ov.as_of_choices(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Summarising...")
def overview(url: str, as_of: dt.date, scope: Scope) -> ov.Overview:
    return ov.overview(engine_for(url), as_of, scope)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def freshness(url: str, as_of: dt.date) -> pd.DataFrame:
    return ov.freshness(engine_for(url), as_of)


@st.cache_data(ttl="1m", max_entries=8, show_spinner=False)
def last_import(url: str) -> dict | None:
    return ov.last_import(engine_for(url))


@st.cache_data(ttl="1m", max_entries=8, show_spinner=False)
def last_training(url: str) -> dict | None:
    return ov.last_training(engine_for(url))


@st.cache_data(ttl="1m", max_entries=8, show_spinner=False)
def recent_imports(url: str, limit: int = 20) -> pd.DataFrame:
    return ov.recent_imports(engine_for(url), limit)


def clear() -> None:
    """Forget cached data, e.g. after an import changed the database."""
    st.cache_data.clear()
