"""Overview page through AppTest: tiles, charts, freshness, filters and the empty state."""

from __future__ import annotations

import pandas as pd

from services.db import get_engine, read_table
from services.hierarchy import managers_in
from services.overview import as_of_choices
from ui.format import person_labels


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_overview_shows_company_summary(demo_db_url, run_app) -> None:
    at = run_app()
    assert at.title[0].value == "Overview"
    labels = [m.label for m in at.metric]
    assert labels == ["Customer accounts", "ARR", "Renewals due in 90 days", "ARR up for renewal"]
    assert int(_metric(at, "Customer accounts").replace(",", "")) > 0
    assert _metric(at, "ARR").startswith("$")
    assert len(at.get("plotly_chart")) >= 2
    freshness = at.dataframe[0].value
    assert {"accounts", "subscriptions", "usage_monthly"} <= set(freshness["table"])
    assert any("Last import" in c.value for c in at.caption)


def test_sidebar_filters_narrow_the_scope(demo_db_url, run_app) -> None:
    people = read_table("people", get_engine(demo_db_url))
    at = run_app()
    total = _accounts(at)
    region_box = at.sidebar.selectbox(key="scope_region")
    assert region_box.options[0] == "All regions"
    region = region_box.options[1]
    region_box.set_value(region).run()
    assert not at.exception
    in_region = _accounts(at)
    assert 0 <= in_region < total
    assert region in at.caption[0].value
    manager_box = at.sidebar.selectbox(key="scope_manager")
    managers = managers_in(people, region)
    labels = person_labels(people)  # a name that repeats carries its id
    assert manager_box.options[1:] == [labels[p] for p in managers["person_id"]]
    manager_box.set_value(managers["person_id"].iloc[0]).run()
    assert not at.exception
    assert _accounts(at) <= in_region
    assert "(manager)" in at.caption[0].value


def test_as_of_choices_go_back_in_time(demo_db_url, run_app) -> None:
    at = run_app()
    as_of = at.sidebar.selectbox(key="as_of")
    assert len(as_of.options) >= 12
    newest = at.session_state["as_of"]
    as_of.set_value(min(at.session_state["as_of"], *_as_of_values(demo_db_url))).run()
    assert not at.exception
    assert at.session_state["as_of"] < newest
    assert pd.Timestamp(at.session_state["as_of"]).strftime("%B %Y") in at.caption[0].value


def test_empty_database_explains_how_to_seed(empty_db_url, run_app) -> None:
    at = run_app()
    assert at.title[0].value == "Overview"
    assert "services.cli seed" in at.info[0].value
    assert not at.metric


def _accounts(at) -> int:
    return int(_metric(at, "Customer accounts").replace(",", ""))


def _as_of_values(url: str) -> list:
    return as_of_choices(get_engine(url))
