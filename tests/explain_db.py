"""A small demo company with adoption, churn and the explanations trained (for workbench tests)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN = ("import sys; from services import db, train; "
         "r = train.train_all(db.get_engine(sys.argv[1]), only=['adoption', 'churn', 'explain']); "
         "assert all(v['status'] == 'active' for v in r.values()), r")


def seed_and_train(path: Path, accounts: int = 300, months: int = 30, seed: int = 5) -> str:
    url = f"sqlite:///{path}"
    env = {**os.environ, "FORESIGHT_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "services.cli", "seed", "--accounts", str(accounts), "--months", str(months),
           "--seed", str(seed)]
    subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=600)
    subprocess.run([sys.executable, "-c", TRAIN, url], cwd=REPO_ROOT, env=env, check=True, capture_output=True,
                   timeout=900)
    return url
