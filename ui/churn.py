"""Cached churn reads for the churn pages (charts: ui/charts/churn.py)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from services.churn import read as svc
from services.churn import worklist
from services.hierarchy import Scope
from ui.data import engine_for

TTL = "10m"


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def is_trained(url: str) -> bool:
    return svc.is_trained(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def model_info(url: str, model: str = svc.MODEL) -> dict:
    return svc.model_info(engine_for(url), model)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def trained_models(url: str) -> list[str]:
    return svc.trained_models(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner="Reading scores...")
def custom_scores(url: str, scope: Scope) -> pd.DataFrame:
    return svc.custom_scores(engine_for(url), scope)


@st.cache_data(ttl=TTL, max_entries=64, show_spinner=False)
def custom_contributions(url: str, subject_id: str, scope: Scope) -> pd.DataFrame:
    return svc.custom_contributions(engine_for(url), subject_id, scope)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Reading churn scores...")
def at_risk(url: str, scope: Scope, as_of: dt.date | None, csm_id: str | None) -> pd.DataFrame:
    return svc.at_risk(engine_for(url), scope, as_of, csm_id)


@st.cache_data(ttl=TTL, max_entries=64, show_spinner="Reading the account...")
def account_360(url: str, account_id: str, as_of: dt.date | None, scope: Scope) -> svc.Account360 | None:
    return svc.account_360(engine_for(url), account_id, as_of, scope)


@st.cache_data(ttl=TTL, max_entries=64, show_spinner=False)
def in_scope(url: str, account_id: str, scope: Scope) -> bool:
    return svc.in_scope(engine_for(url), account_id, scope)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def csms(url: str) -> pd.DataFrame:
    from services.db import read_table
    p = read_table("people", engine_for(url), columns=["person_id", "name", "role"])
    return p[p.role == "csm"].sort_values("name")


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def reason_groups(url: str) -> pd.Series:
    return worklist.top_reason_groups(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=32, show_spinner=False)
def with_confidence(url: str, risk: pd.DataFrame) -> pd.DataFrame:
    """The at-risk rows with their interval, novelty flag and reason (services.churn.read.with_confidence)."""
    return svc.with_confidence(engine_for(url), risk)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def novelty_over_time(url: str) -> pd.DataFrame:
    return svc.novelty_over_time(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=64, show_spinner=False)
def find_accounts(url: str, text: str, scope: Scope) -> pd.DataFrame:
    return svc.find_accounts(engine_for(url), text, scope)
