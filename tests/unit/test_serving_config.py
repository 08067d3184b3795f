"""Serving settings in .streamlit/config.toml: no file watcher on the checkout, no error details for end users."""
from __future__ import annotations

import tomllib

from services.config import REPO_ROOT


def test_no_file_watcher_and_no_error_details_in_production() -> None:
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"].get("runOnSave") is False
