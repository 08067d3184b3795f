"""The Data page's upload worker (services.import_worker) on every backend: it checks and imports in its own
process, reports progress, refuses a second import while one runs, and a worker that is killed, runs out of
memory or out of CPU time is recorded as failed or interrupted with nothing changed."""
from __future__ import annotations

import io
import json
import os
import signal
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from fixtures import worker_hooks
from sqlalchemy.engine import Engine

from services import audit, contract, db, import_worker, joblock
from services.importer import import_frames

Frames = dict[str, pd.DataFrame]


def _zip(frames: Frames) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, df in frames.items():
            zf.writestr(f"{name}.csv", df.to_csv(index=False))
    return buf.getvalue()


def _tables(engine: Engine) -> dict[str, pd.DataFrame]:
    return {s.name: db.read_table(s.name, engine).sort_values(s.column_names[0], ignore_index=True)
            for s in contract.TABLES}


def _same(before: dict[str, pd.DataFrame], engine: Engine) -> None:
    after = _tables(engine)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[name], obj=name)


def _statuses(engine: Engine) -> list[str]:
    return list(db.read_table("imports", engine).sort_values("started_at")["status"])


@pytest.fixture()
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FORESIGHT_UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


@pytest.fixture()
def loaded(engine: Engine, valid_frames: Frames, uploads: Path) -> Engine:
    import_frames({k: v.copy() for k, v in valid_frames.items()}, "first", engine)
    return engine


def _start(db_url: str, frames: Frames, mode: str, label: str = "upload: t.zip") -> dict:
    folder = import_worker.save_upload(_zip(frames))
    return import_worker.start(folder, mode, label, "P0001", db_url)


def _wait(job: dict, timeout_s: float = 120) -> tuple[dict, list[dict]]:
    """The job's result, and every distinct progress step seen while it ran."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = import_worker.poll(job)
        if state["state"] == "done":
            return state["result"], seen
        if not seen or state["progress"] != seen[-1]:
            seen.append(state["progress"])
        time.sleep(0.05)
    raise AssertionError("the worker did not end")


def _wait_for_stage(job: dict, stage: str, timeout_s: float = 60) -> dict:
    """The first progress step of `stage` that is complete (the gate hook holds the worker after reading)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = import_worker.poll(job)
        assert state["state"] == "running", state
        step = state["progress"]
        if step.get("stage") == stage and step.get("part") == step.get("parts") and step["done"] == step["total"]:
            return step
        time.sleep(0.05)
    raise AssertionError(f"the worker never reached {stage}")


def test_the_upload_is_private_and_the_check_runs_in_its_own_process(db_url: str, loaded: Engine, valid_frames,
                                                                       uploads: Path) -> None:
    before = _tables(loaded)
    valid_frames["accounts"].loc[0, "name"] = "Renamed"
    job = _start(db_url, valid_frames, "check")
    assert job["owner"]["pid"] != os.getpid()
    folder = Path(job["dir"])
    assert oct(folder.stat().st_mode & 0o777) == "0o700" and oct((folder / "upload.zip").stat().st_mode & 0o777) == "0o600"
    result, _ = _wait(job)
    assert result["status"] == "checked", result
    changes = pd.DataFrame(result["changes"]).set_index("table")
    assert changes.loc["accounts", "changed"] == 1 and changes.drop(index="accounts")["changed"].sum() == 0
    _same(before, loaded)  # a check changes nothing
    assert _statuses(loaded) == ["success"]
    assert joblock.holder(loaded, joblock.UPLOAD) is None and joblock.holder(loaded) is None


def test_the_import_loads_audits_and_reports_each_stage(db_url: str, loaded: Engine, valid_frames,
                                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    for k, v in worker_hooks.env(f"gate:{gate}").items():
        monkeypatch.setenv(k, v)
    valid_frames["accounts"].loc[0, "name"] = "Renamed"
    job = _start(db_url, valid_frames, "import")
    step = _wait_for_stage(job, "reading")  # the last file read, held before validation
    assert step["unit"] == "bytes" and step["done"] == step["total"] > 0 and step["parts"] == len(valid_frames)
    words = import_worker.words(step, "import")
    assert words.startswith("Reading ") and " of " in words and 0 < import_worker.fraction(step, "import") < 0.25
    running = joblock.holder(loaded)
    assert running is not None and running["what"] == "upload: t.zip" and running["owner"]["pid"] == job["owner"]["pid"]
    gate.unlink()
    result, seen = _wait(job)
    assert result["status"] == "success" and result["row_counts"]["accounts"] == 3, result
    stages = [s.get("stage") for s in seen]
    assert "validating" in stages, stages
    assert "Renamed" in set(db.read_table("accounts", loaded)["name"])
    assert _statuses(loaded) == ["success", "success"]
    trail = audit.entries(loaded, action="import", who="P0001")
    assert len(trail) == 1 and "upload: t.zip" in str(trail.iloc[0].to_dict())
    assert joblock.holder(loaded) is None and joblock.holder(loaded, joblock.UPLOAD) is None


def test_a_refused_upload_names_the_rule_and_changes_nothing(db_url: str, loaded: Engine, valid_frames) -> None:
    before = _tables(loaded)
    valid_frames["subscriptions"].loc[0, "arr_usd"] = "inf"
    for mode in ("check", "import"):
        result, _ = _wait(_start(db_url, valid_frames, mode))
        assert result["status"] == "refused", result
        assert any("arr_usd must be a number" in f["rule"] for f in result["report"]["failures"])
        _same(before, loaded)
    assert _statuses(loaded) == ["success", "failed", "failed"]


def test_an_unreadable_upload_is_refused_by_name(db_url: str, loaded: Engine) -> None:
    folder = import_worker.save_upload(b"PK\x03\x04 not a zip")
    result, _ = _wait(import_worker.start(folder, "check", "upload: x.zip", "P0001", db_url))
    assert result["status"] == "unreadable" and "not a readable zip" in result["error"]
    assert _statuses(loaded) == ["success", "failed"]


def test_a_second_import_while_one_runs_is_refused_and_changes_nothing(db_url: str, loaded: Engine, valid_frames,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    for k, v in worker_hooks.env(f"gate:{gate}").items():
        monkeypatch.setenv(k, v)
    first = {k: v.copy() for k, v in valid_frames.items()}
    first["accounts"].loc[0, "name"] = "From the first"
    one = _start(db_url, first, "import", "upload: first.zip")
    _wait_for_stage(one, "reading")
    before = _tables(loaded)
    second = {k: v.copy() for k, v in valid_frames.items()}
    second["accounts"].loc[0, "name"] = "From the second"
    for mode in ("import", "check"):
        result, _ = _wait(_start(db_url, second, mode, "upload: second.zip"))
        assert result["status"] == "busy" and "upload: first.zip" in result["error"], result
    _same(before, loaded)
    gate.unlink()
    result, _ = _wait(one)
    assert result["status"] == "success"
    assert set(db.read_table("accounts", loaded)["name"]) >= {"From the first"}
    assert "From the second" not in set(db.read_table("accounts", loaded)["name"])
    assert _statuses(loaded).count("failed") == 1  # the refused import is logged; the refused check is not


def test_a_killed_worker_is_recorded_interrupted_and_loads_nothing(db_url: str, loaded: Engine, valid_frames,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    for k, v in worker_hooks.env(f"gate:{gate}").items():
        monkeypatch.setenv(k, v)
    before = _tables(loaded)
    valid_frames["accounts"].loc[0, "name"] = "Never stored"
    job = _start(db_url, valid_frames, "import")
    _wait_for_stage(job, "reading")
    os.kill(job["owner"]["pid"], signal.SIGKILL)
    result, _ = _wait(job)
    assert result["status"] == "interrupted" and "killed" in result["error"], result
    _same(before, loaded)
    log = db.read_table("imports", loaded).sort_values("started_at")
    assert list(log["status"]) == ["success", "interrupted"]
    assert "ended before finishing" in json.loads(log.iloc[-1]["report"])["error"]
    assert import_worker.poll(job)["result"] == result  # recorded once
    assert joblock.holder(loaded) is None  # the dead worker's lock is free for the next run
    import_frames(valid_frames, "after", loaded)


def test_a_worker_over_its_memory_limit_fails_cleanly(db_url: str, loaded: Engine, valid_frames,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook allocates more than the limit: without the limit the allocation would succeed."""
    monkeypatch.setenv("FORESIGHT_IMPORT_WORKER_MAX_MB", "1200")
    for k, v in worker_hooks.env("memory:1600").items():
        monkeypatch.setenv(k, v)
    before = _tables(loaded)
    result, _ = _wait(_start(db_url, valid_frames, "import"))
    assert result["status"] == "failed" and "ran out of memory" in result["error"] and "1,200 MB" in result["error"]
    _same(before, loaded)
    log = db.read_table("imports", loaded).sort_values("started_at")
    assert list(log["status"]) == ["success", "failed"] and "MemoryError" in log.iloc[-1]["report"]


def test_a_worker_over_its_cpu_limit_is_stopped_and_recorded(db_url: str, loaded: Engine, valid_frames,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORESIGHT_IMPORT_WORKER_MAX_CPU_S", "2")
    for k, v in worker_hooks.env("cpu").items():
        monkeypatch.setenv(k, v)
    before = _tables(loaded)
    result, _ = _wait(_start(db_url, valid_frames, "check"))
    assert result["status"] == "interrupted" and "CPU time limit of 2 s" in result["error"], result
    _same(before, loaded)
    assert _statuses(loaded) == ["success", "interrupted"]


def test_progress_in_words() -> None:
    assert import_worker.words({"stage": "loading", "table": "usage_monthly", "done": 120_000, "total": 400_000,
                                "part": 4, "parts": 14}) == "Loading usage_monthly: 120,000 of 400,000 rows (table 4 of 14)"
    assert import_worker.words({"stage": "validating", "table": "accounts", "done": 2, "total": 9, "rows": 21_000,
                                "part": 2, "parts": 10}, "check") == \
        "Validating accounts (21,000 rows): column 3 of 9 (table 2 of 10)"
    assert import_worker.words({}, "check") == "Starting the check..."
    load = {"stage": "loading", "done": 50, "total": 100, "part": 1, "parts": 2}
    assert import_worker.fraction(load) == pytest.approx((3 + 0.25) / 5)
    assert import_worker.fraction({"stage": "comparing", "part": 1, "parts": 2}, "check") == pytest.approx(3 / 4)


def test_bad_worker_limits_are_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORESIGHT_IMPORT_WORKER_MAX_MB", "lots")
    with pytest.raises(ValueError, match="FORESIGHT_IMPORT_WORKER_MAX_MB='lots' is not a number"):
        import_worker.worker_limits()
    monkeypatch.setenv("FORESIGHT_IMPORT_WORKER_MAX_MB", "-5")
    with pytest.raises(ValueError, match="must be above 0"):
        import_worker.worker_limits()
