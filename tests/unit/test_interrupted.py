"""Crashed and killed work leaves a trace and no debris: an import killed half-way is logged `interrupted`
(nothing of it loaded), a training run killed half-way has its result rows deleted by the next start."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import contract, db, importer, jobs, registry
from services.config import REPO_ROOT

SLOW_IMPORT = """
import sys, time
from services import contract, db, importer
real = contract.validate
def slow(frames):
    time.sleep(60)
    return real(frames)
contract.validate = slow
importer.import_source(sys.argv[2], db.get_engine(sys.argv[1]))
"""
KILLED_TRAIN = """
import os, signal, sys
import pandas as pd
from services import db, registry
engine = db.get_engine(sys.argv[1])
v = registry.new_version("churn", pd.Timestamp("2024-06-30"))
registry.start(engine, v)
registry.write_results(engine, "half_written_scores", pd.DataFrame({"account_id": ["A1", "A2"], "p": [0.1, 0.2]}), v)
print(v.version, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def _statuses(engine: Engine) -> list[str]:
    return list(db.read_table("imports", engine).sort_values("started_at")["status"])


def test_a_killed_import_is_logged_interrupted_and_loads_nothing(db_url: str, engine: Engine, valid_frames,
                                                                csv_folder) -> None:
    good = csv_folder(valid_frames)
    importer.import_source(good, engine)
    before = db.read_table("accounts", engine)
    smaller = {k: v.iloc[:2] if k == "accounts" else v for k, v in valid_frames.items()}
    child = _child(SLOW_IMPORT, db_url, str(csv_folder(smaller)))
    deadline = time.time() + 60
    while "running" not in _statuses(engine) and time.time() < deadline:
        time.sleep(0.2)
    assert "running" in _statuses(engine)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert importer.mark_interrupted(engine)
    log = db.read_table("imports", engine).sort_values("started_at")
    assert list(log["status"]) == ["success", "interrupted"]
    assert "ended before finishing" in json.loads(log.iloc[-1]["report"])["error"]
    pd.testing.assert_frame_equal(db.read_table("accounts", engine), before)


def test_a_crash_inside_an_import_is_logged_failed(engine: Engine, valid_frames, csv_folder,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(frames):
        raise MemoryError("out of memory while validating")
    monkeypatch.setattr(contract, "validate", boom)
    with pytest.raises(MemoryError):
        importer.import_source(csv_folder(valid_frames), engine)
    log = db.read_table("imports", engine)
    assert list(log["status"]) == ["failed"] and "MemoryError" in json.loads(log.iloc[0]["report"])["error"]


def test_a_live_import_is_not_marked_interrupted(engine: Engine) -> None:
    importer.start_import(engine, "this process")
    assert importer.mark_interrupted(engine) == [] and _statuses(engine) == ["running"]


def test_a_killed_train_leaves_rows_that_the_next_start_deletes(db_url: str, engine: Engine) -> None:
    child = _child(KILLED_TRAIN, db_url)
    out, _ = child.communicate(timeout=120)
    version = out.strip()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM half_written_scores")).scalar() == 2
    assert registry.versions(engine).set_index("version").loc[version, "status"] == "running"
    with pytest.raises(LookupError):  # no data to train on; the cleaning comes first all the same
        jobs.train_all(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM half_written_scores")).scalar() == 0
    row = registry.versions(engine).set_index("version").loc[version]
    assert row["status"] == "failed" and "interrupted" in row["note"] and "2 result row(s)" in row["note"]
    assert registry.clean_interrupted(engine) == []


def test_a_running_version_of_a_live_process_is_left_alone(engine: Engine) -> None:
    v = registry.new_version("churn", pd.Timestamp("2024-06-30"))
    registry.start(engine, v)
    registry.write_results(engine, "half_written_scores", pd.DataFrame({"account_id": ["A1"]}), v)
    assert registry.clean_interrupted(engine) == []
    registry.record(engine, v, {}, {}, "active")
    assert list(registry.versions(engine)["status"]) == ["active"]


def test_process_stamps() -> None:
    from services import process
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          check=True, capture_output=True, text=True)
    assert process.alive(process.stamp())
    assert not process.alive({**process.stamp(), "pid": int(done.stdout)})
    assert process.alive({"pid": 1, "host": "another-host"}) and not process.alive("not json")
