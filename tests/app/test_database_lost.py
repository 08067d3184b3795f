"""Losing the database mid-session shows one clear message on the page, never a traceback."""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
import streamlit as st
from conftest import APP, TIMEOUT_S
from streamlit.testing.v1 import AppTest

from services import db, overview


def test_database_emptied_mid_session_says_so(demo_db_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    assert not at.exception
    with db.get_engine(demo_db_url).begin() as conn:  # the database is replaced by an empty one
        for name in reversed(db.TABLE_ORDER):
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))
    st.cache_data.clear()  # the cached page data expires
    at.run()
    assert not at.exception, at.exception
    assert any("no accounts yet" in e.value for e in at.info)


@pytest.mark.parametrize(("error", "says"), [
    ("database is locked", "is busy: another process"),
    ("server closed the connection unexpectedly", "Lost the connection to the database"),
])
def test_a_database_error_mid_session_shows_one_message(demo_db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                        error: str, says: str) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    assert not at.exception

    def fail(engine):
        raise sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError(error))

    monkeypatch.setattr(overview, "has_accounts", fail)
    st.cache_data.clear()
    at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error if says in e.value], [e.value for e in at.error]


def test_unreachable_database_shows_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORESIGHT_DATABASE_URL", "postgresql+psycopg2://u:secret@127.0.0.1:1/none")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    assert not at.exception, at.exception
    text = " ".join(e.value for e in at.error)
    assert "Cannot reach database" in text and "secret" not in text
