"""AppTest for the adoption page on a small seeded and trained demo company."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services import db
from services.adoption import read as adoption

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _page(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("FORESIGHT_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("pages/adoption.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_shows_clusters_and_members(trained_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(trained_db_url, monkeypatch)
    assert at.title[0].value == "Adoption"
    clusters = adoption.clusters(db.get_engine(trained_db_url))
    table = at.dataframe[0].value
    assert list(table["name"]) == list(clusters["name"])
    cluster_box = at.selectbox(key="adoption_cluster")
    assert len(cluster_box.options) == len(clusters)
    # pick the smallest cluster: the member list follows the selection
    smallest = clusters.sort_values("n_accounts").iloc[0]
    cluster_box.set_value(int(smallest["cluster_id"])).run()
    members = at.dataframe[1].value
    assert len(members) == int(smallest["n_accounts"])
    assert members["arr_usd"].is_monotonic_decreasing
    assert members["account_link"].str.startswith("account?account_id=").all()


def test_segment_filter_narrows_the_list(trained_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(trained_db_url, monkeypatch)
    everyone = len(at.dataframe[1].value)
    at.selectbox(key="adoption_segment").set_value("Enterprise").run()
    assert not at.exception
    shown = at.dataframe[1].value if len(at.dataframe) > 1 else None
    assert shown is None or (len(shown) < everyone and set(shown["segment"]) == {"Enterprise"})


def test_page_without_a_model_says_how_to_train(demo_db_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("pages/adoption.py").run()
    assert not at.exception
    assert any("services.cli train" in i.value for i in at.info)
