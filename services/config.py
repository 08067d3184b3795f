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


# Alert thresholds (services.alerts.events): FORESIGHT_ALERT_<NAME, upper case> overrides each default.
ALERT_DEFAULTS: dict[str, float] = {
    "risk_up_points": 10.0,  # churn risk up by at least this many percentage points in a month
    "renewal_days": 90.0,  # renewal within this many days at medium or high risk
    "forecast_drop_pct": 10.0,  # a node's forecast (P50, this quarter) down by at least this share week on week
    "commit_max_age_days": 7.0,  # a manager's commit older than this (or none) this quarter is missing
    # an account is expansion-ready when its best product to grow (no opportunity open on it) reaches both
    "expansion_ready_probability": 0.15,  # calibrated probability of a won deal within 180 days
    "expansion_ready_arr_usd": 1000.0,  # expected ARR (probability x the typical won deal)
}


def alert_thresholds() -> dict[str, float]:
    """The alert thresholds in force: the defaults, each overridden by FORESIGHT_ALERT_<NAME> when set."""
    out = dict(ALERT_DEFAULTS)
    for name in out:
        raw = os.environ.get(f"FORESIGHT_ALERT_{name.upper()}", "").strip()
        if raw:
            try:
                out[name] = float(raw)
            except ValueError:
                raise ValueError(f"FORESIGHT_ALERT_{name.upper()}={raw!r} is not a number") from None
    return out
