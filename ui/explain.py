"""Cached reads for the workbench (bounded caches) and the active models as resources."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services import registry
from services.explain import read as svc
from services.hierarchy import Scope
from ui.data import engine_for

TTL = "10m"


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def available(url: str) -> list[str]:
    return svc.available(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Reading subjects...")
def subjects(url: str, model: str, scope: Scope) -> pd.DataFrame:
    return svc.subjects(engine_for(url), model, scope)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def explained_as_of(url: str, model: str) -> pd.Timestamp | None:
    return svc.explained_as_of(engine_for(url), model)


@st.cache_data(ttl=TTL, max_entries=128, show_spinner=False)
def stored(url: str, model: str, subject_id: str) -> pd.DataFrame:
    if model == "forecast_node":
        return svc.forecast_node(engine_for(url), subject_id)
    return svc.stored(engine_for(url), model, subject_id)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner="Reading the explanation sample...")
def sample(url: str, model: str) -> pd.DataFrame:
    return svc.sample(engine_for(url), model)


@st.cache_data(ttl=TTL, max_entries=128, show_spinner=False)
def churn_row(url: str, account_id: str) -> dict[str, Any]:
    return svc.churn_row(engine_for(url), account_id).values


@st.cache_data(ttl=TTL, max_entries=128, show_spinner=False)
def adoption_signals(url: str, account_id: str) -> dict[str, float]:
    return svc.adoption_signals(engine_for(url), account_id)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def model_card(url: str, model: str) -> dict[str, Any]:
    return svc.model_card(engine_for(url), model)


@st.cache_resource(ttl=TTL, max_entries=4, show_spinner="Loading the model...")
def artifact(url: str, model: str, version: str) -> Any:
    """The fitted model of an active version (keyed by version, so a new training run reloads it)."""
    return registry.load_artifact(engine_for(url), model, version)


def active_artifact(url: str, model: str) -> Any:
    """The active version's model; a refused artifact (no or wrong content hash) stops the page with why."""
    version = registry.shown_version(engine_for(url), model)
    if version is None:
        return None
    try:
        return artifact(url, model, version)
    except registry.ArtifactError as exc:
        st.warning(str(exc))
        st.stop()
