"""Cached reads for the model-health page (bounded, short TTL: training may change them any time)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services.monitoring import drift, health, model_report
from services.outcomes import read as outcomes_read
from services.outcomes import report as outcomes
from ui.data import engine_for

TTL = "2m"


@st.cache_data(ttl=TTL, max_entries=4, show_spinner=False)
def models(url: str) -> pd.DataFrame:
    return model_report.overview(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def metric_history(url: str, model: str) -> pd.DataFrame:
    return model_report.metric_history(engine_for(url), model)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def version_metrics(url: str, model: str) -> dict:
    return model_report.version_metrics(engine_for(url), model)


@st.cache_data(ttl=TTL, max_entries=4, show_spinner=False)
def versions(url: str, model: str) -> pd.DataFrame:
    from services import registry

    return registry.versions(engine_for(url), model).drop(columns=["params", "metrics", "data_fingerprint"])


@st.cache_data(ttl=TTL, max_entries=4, show_spinner=False)
def churn_calibration(url: str) -> pd.DataFrame:
    return model_report.churn_calibration(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def drift_bins(url: str, model: str) -> pd.DataFrame:
    return drift.read_drift(engine_for(url), model)


@st.cache_data(ttl="1m", max_entries=4, show_spinner=False)
def freshness(url: str) -> pd.DataFrame:
    return health.freshness(engine_for(url))


@st.cache_data(ttl="1m", max_entries=4, show_spinner=False)
def imports(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    e = engine_for(url)
    return health.import_history(e), health.rule_results(e)


@st.cache_data(ttl="1m", max_entries=4, show_spinner="Joining actions and renewals...")
def outcome_report(url: str) -> pd.DataFrame:
    return outcomes_read.report_frame(engine_for(url))


def effect(frame: pd.DataFrame) -> dict:
    return outcomes.effect_estimate(frame) if not frame.empty else {}
