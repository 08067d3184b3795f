"""Shared fixtures: database backends and a small valid dataset.

`db_url` is parametrized over the available backends: SQLite always (a fresh file per test) and
PostgreSQL when `FORESIGHT_TEST_PG_URL` is set (a fresh schema per test, dropped afterwards).
It also sets FORESIGHT_DATABASE_URL for the test. Reuse it anywhere:

    def test_something(engine):          # an engine with the schema created, on every backend
        ...
    def test_cli(db_url):                # the URL, e.g. for a subprocess
        ...
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
for _path in (str(REPO_ROOT), str(TESTS_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from fixtures import demo_db
from sample_data import valid_frames as _valid_frames
from sample_data import write_csvs

from services import db

PG_ENV = "FORESIGHT_TEST_PG_URL"


def backends() -> list[str]:
    return ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: runs the analytical engine on PySpark local (needs Java)")


def pytest_report_header() -> str:
    return f"foresight database backends: {', '.join(backends())}"


@pytest.fixture(params=backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A URL to a fresh, empty database on each available backend."""
    admin: Engine | None = None
    schema = f"test_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'foresight.db'}"
    else:
        base = sa.make_url(os.environ[PG_ENV])
        admin = sa.create_engine(base)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = base.update_query_dict({"options": f"-csearch_path={schema}"}) \
            .render_as_string(hide_password=False)
    monkeypatch.setenv("FORESIGHT_DATABASE_URL", url)
    yield url
    db.dispose_engine(url)
    if admin is not None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture()
def engine(db_url: str) -> Engine:
    """The cached engine for `db_url`, schema created."""
    return db.get_engine(db_url)


@pytest.fixture()
def valid_frames() -> dict[str, pd.DataFrame]:
    """A fresh copy of the small hand-made dataset that passes the contract (string cells)."""
    return _valid_frames()


@pytest.fixture()
def csv_folder(tmp_path: Path) -> Callable[[dict[str, pd.DataFrame]], Path]:
    """`csv_folder(frames)` writes frames as `<table>.csv` into a new folder and returns it."""

    def make(frames: dict[str, pd.DataFrame]) -> Path:
        return write_csvs(frames, tmp_path / f"csv_{uuid.uuid4().hex[:8]}")

    return make


@pytest.fixture(scope="session")
def trained_db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's demo with adoption, churn, explain and the forecast trained (shared: read only;
    see fixtures/demo_db.py). Used by the workbench, adoption and forecast unit, AppTest and e2e tests."""
    return demo_db.built(tmp_path_factory, demo_db.TRAINED)


@pytest.fixture()
def demo_copy(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Callable[[demo_db.DemoSpec], str]:
    """`demo_copy(demo_db.TRAINED)`: a private copy of a session demo database, set as
    FORESIGHT_DATABASE_URL for this test; returns its URL."""

    def make(spec: demo_db.DemoSpec) -> str:
        url = demo_db.private_copy(tmp_path_factory, spec, tmp_path / f"demo-{spec.name}.db")
        monkeypatch.setenv("FORESIGHT_DATABASE_URL", url)
        return url

    return make


@pytest.fixture()
def trained_db_url(demo_copy: Callable[[demo_db.DemoSpec], str]) -> str:
    """A private copy of the trained demo (adoption, churn, explain, forecast), set for this test."""
    return demo_copy(demo_db.TRAINED)


@pytest.fixture()
def churn_db_url(demo_copy: Callable[[demo_db.DemoSpec], str]) -> str:
    """A private copy of the demo with churn and outcomes trained (only those), set for this test."""
    return demo_copy(demo_db.CHURN_OUTCOMES)


@pytest.fixture()
def expansion_db_url(demo_copy: Callable[[demo_db.DemoSpec], str]) -> str:
    """A private copy of the demo with adoption and expansion trained (only those), set for this test."""
    return demo_copy(demo_db.EXPANSION)
