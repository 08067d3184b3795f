"""Settings from the environment: paths and the database URL."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
DATA_DIR: Path = REPO_ROOT / "data"
ARTIFACTS_DIR: Path = REPO_ROOT / "artifacts"

DATABASE_URL_ENV = "FORESIGHT_DATABASE_URL"


def default_sqlite_url() -> str:
    """The embedded SQLite database under data/ (the directory is created)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DATA_DIR / 'foresight.db'}"


def database_url() -> str:
    """`FORESIGHT_DATABASE_URL` if set, else the embedded SQLite database at data/foresight.db."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    return url or default_sqlite_url()
