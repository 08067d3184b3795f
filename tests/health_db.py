"""A small demo company with churn and outcomes trained, built once per test session and shared.

Churn needs about two years of history, so this seeds 300 accounts over 30 months (about a minute).
Tests that change it must copy it first (`trained_copy`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = ["seed", "--accounts", "300", "--months", "30", "--seed", "11"]
TRAIN = ["train", "--model", "churn", "--model", "outcomes"]


def trained_db(factory: pytest.TempPathFactory) -> Path:
    path = factory.getbasetemp() / "health-trained" / "demo.db"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".building")
        env = {**os.environ, "FORESIGHT_DATABASE_URL": f"sqlite:///{tmp}"}
        for args in (SEED, TRAIN):
            subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=REPO_ROOT, env=env, check=True,
                           capture_output=True, timeout=600)
        tmp.rename(path)
    return path


def trained_copy(factory: pytest.TempPathFactory, target: Path) -> str:
    shutil.copy(trained_db(factory), target)
    return f"sqlite:///{target}"
