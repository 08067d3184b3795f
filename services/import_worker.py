"""The Data page's upload, checked and imported in a worker process, never inside the Streamlit server.

The page saves the upload in a private job folder (`save_upload`: a new folder, mode 0700, under
FORESIGHT_UPLOAD_DIR, default data/uploads; the zip mode 0600) and starts `python -m services.import_worker
FOLDER` (`start`) in one of two modes:
- `check`: read and validate the upload, then compare it with the stored data (services.import_preview);
  nothing is written but the import log's row of a refused upload;
- `import`: read, validate and load it in one transaction (services.importer.import_source), then record
  the audit entry of the person who confirmed it.
The worker runs with limits on its address space and CPU time (`worker_limits`: FORESIGHT_IMPORT_WORKER_MAX_MB,
default half of the machine's memory; FORESIGHT_IMPORT_WORKER_MAX_CPU_S, default 3600) at a lower priority, so
that a hostile upload ends the worker, not the app. It holds the upload lock (one upload worker at a time per
database) and, to import, the data lock (services.joblock) from its start; it writes `progress.json` (stage,
table, done of total) while it works and `result.json` at its end. The page reads both (`poll`); a worker that
ended without a result (killed, out of memory, over its CPU time) is recorded as an interrupted import and
reported as such.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from services import audit, contract, db, joblock, process, progress
from services.config import DATA_DIR, REPO_ROOT
from services.import_files import ImportFileError, read_source, short
from services.importer import ContractViolation, import_source, mark_interrupted, record_failure

log = logging.getLogger(__name__)
MB = 1024 * 1024
UPLOAD = "upload.zip"
REQUEST, PROGRESS, RESULT, LOG = "request.json", "progress.json", "result.json", "worker.log"
MODES = ("check", "import")
STAGES = {"check": ("reading", "validating", "cross_checks", "comparing"),
          "import": ("reading", "validating", "cross_checks", "loading", "snapshot")}
STALE_S = 24 * 3600  # job folders left by ended sessions are deleted after a day
_CHILDREN: dict[str, subprocess.Popen] = {}  # job folder -> its worker, reaped by `poll`


# ----------------------------------------------------------------------------- settings
def upload_dir() -> Path:
    """Where job folders live (FORESIGHT_UPLOAD_DIR, default data/uploads), private to this user."""
    raw = os.environ.get("FORESIGHT_UPLOAD_DIR", "").strip()
    folder = Path(raw) if raw else DATA_DIR / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImportFileError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ImportFileError(f"{name}={raw!r} must be above 0")
    return value


def worker_limits() -> dict[str, int]:
    """{"max_mb": address space of the worker, "max_cpu_s": its CPU seconds}, from the environment."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / MB
    return {"max_mb": int(_env_number("FORESIGHT_IMPORT_WORKER_MAX_MB", physical / 2)),
            "max_cpu_s": int(_env_number("FORESIGHT_IMPORT_WORKER_MAX_CPU_S", 3600))}


# ----------------------------------------------------------------------------- the page's side
def prune(older_than_s: float = STALE_S) -> list[Path]:
    """Delete job folders older than `older_than_s` whose worker has ended; returns them."""
    gone = []
    for folder in upload_dir().iterdir():
        if not folder.is_dir() or time.time() - folder.stat().st_mtime < older_than_s:
            continue
        request = _read(folder / REQUEST) or {}
        if request.get("owner") and process.alive(request["owner"]):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        gone.append(folder)
    return gone


def save_upload(data: bytes) -> Path:
    """A new private job folder holding `data` as upload.zip (0600); returns the folder."""
    prune()
    folder = upload_dir() / uuid.uuid4().hex
    folder.mkdir(mode=0o700)
    fd = os.open(folder / UPLOAD, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return folder


def start(folder: Path, mode: str, label: str, who: str, database_url: str, allow_shrink: bool = True) -> dict:
    """Start the worker on the upload in `folder`; returns the job (a dict the page keeps in its session)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    folder = Path(folder)
    for name in (PROGRESS, RESULT):
        (folder / name).unlink(missing_ok=True)
    request = {"mode": mode, "label": label, "who": who, "allow_shrink": allow_shrink}
    _write(folder / REQUEST, request)
    env = {**os.environ, "FORESIGHT_DATABASE_URL": database_url, "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(folder / LOG, "ab") as out:
        child = subprocess.Popen([sys.executable, "-m", "services.import_worker", str(folder)], cwd=REPO_ROOT,
                                 env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)  # runs on if the server stops; ends on its own
    _CHILDREN[str(folder)] = child
    stamp = {"pid": child.pid, "host": process.stamp()["host"]}
    _write(folder / REQUEST, {**request, "owner": stamp})
    return {"dir": str(folder), "mode": mode, "label": label, "owner": stamp, "url": database_url,
            "started": time.time()}


def _running(job: dict) -> tuple[bool, int | None]:
    """(alive, exit code when known) of the job's worker; reaps it when this process started it."""
    child = _CHILDREN.get(job["dir"])
    if child is not None:
        code = child.poll()
        if code is not None:
            _CHILDREN.pop(job["dir"], None)
        return code is None, code
    return process.alive(job["owner"]), None


def poll(job: dict) -> dict[str, Any]:
    """{"state": "running", "progress": {...}} or {"state": "done", "result": {...}}. A worker that ended
    without a result is recorded as interrupted (the import log, once) and its result says why."""
    folder = Path(job["dir"])
    result = _read(folder / RESULT)
    alive, code = _running(job)
    if result is None and alive:
        return {"state": "running", "progress": _read(folder / PROGRESS) or {"stage": "starting"}}
    result = result or _read(folder / RESULT)  # written just before it ended
    if result is None:
        result = _ended_without_result(job, code)
        _write(folder / RESULT, result)
    return {"state": "done", "result": result}


def _cause(code: int | None) -> str:
    limits = worker_limits()
    if code == -signal.SIGXCPU:
        return (f"it used more than its CPU time limit of {limits['max_cpu_s']:,} s "
                f"(FORESIGHT_IMPORT_WORKER_MAX_CPU_S)")
    if code == -signal.SIGKILL:
        return ("its process was killed (by an operator, or by the operating system when memory ran out; the "
                f"worker's own limit is {limits['max_mb']:,} MB, FORESIGHT_IMPORT_WORKER_MAX_MB)")
    if code is not None and code < 0:
        return f"its process was stopped by signal {signal.Signals(-code).name}"
    if code is not None:
        return f"its process crashed (exit code {code}); see {LOG} in the job folder"
    return "its process ended without a result (killed or crashed)"


def _ended_without_result(job: dict, code: int | None) -> dict[str, Any]:
    cause = _cause(code)
    engine = db.get_engine(job["url"])
    what = "import" if job["mode"] == "import" else "check of the upload"
    error = f"the {what} stopped before finishing: {cause}; nothing was changed"
    try:
        if not (job["mode"] == "import" and mark_interrupted(engine)):  # a check, or killed before it logged
            record_failure(engine, job["label"], error=error, status="interrupted")
    except Exception:  # the database may be what is gone; the page still says what happened
        log.exception("could not log the interrupted %s", what)
    return {"status": "interrupted", "mode": job["mode"], "error": error, "exit_code": code}


def discard(job_or_folder: dict | str | Path | None) -> None:
    """Delete a job folder (the upload in it too); a worker still running keeps going."""
    if job_or_folder is None:
        return
    folder = Path(job_or_folder["dir"] if isinstance(job_or_folder, dict) else job_or_folder)
    if folder.parent == upload_dir():
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- words for the page
def _mb(n: int) -> str:
    return f"{n / MB:,.1f}"


def words(step: dict[str, Any], mode: str = "import") -> str:
    """The progress in a sentence: "Loading usage_monthly: 120,000 of 400,000 rows (table 4 of 14)"."""
    stage, table = step.get("stage", "starting"), step.get("table", "")
    done, total, part, parts = (int(step.get(k) or 0) for k in ("done", "total", "part", "parts"))
    of = f" (table {part} of {parts})" if parts else ""
    if stage == "reading":
        return f"Reading {table}: {_mb(done)} of {_mb(total)} MB of the upload read" + (
            f" (file {part} of {parts})" if parts else "")
    if stage == "validating":
        rows = int(step.get("rows") or 0)
        return f"Validating {table} ({rows:,} rows): column {min(done + 1, total)} of {total}{of}"
    if stage == "cross_checks":
        return f"Checking references between tables ({int(step.get('rows') or 0):,} rows)"
    if stage == "comparing":
        return f"Comparing {table} with the stored data{of}"
    if stage == "loading":
        return f"Loading {table}: {done:,} of {total:,} rows{of}"
    if stage == "snapshot":
        return "Recording the data snapshot"
    return f"Starting the {'import' if mode == 'import' else 'check'}..."


def fraction(step: dict[str, Any], mode: str = "import") -> float:
    """How far the job is, 0-1: each stage an equal share, within it the tables and rows done."""
    stages = STAGES[mode]
    stage = step.get("stage")
    if stage not in stages:
        return 0.0
    done, total, part, parts = (int(step.get(k) or 0) for k in ("done", "total", "part", "parts"))
    within = done / total if total else 0.0
    if stage != "reading" and parts:
        within = (max(part - 1, 0) + within) / parts
    return min(1.0, (stages.index(stage) + min(within, 1.0)) / len(stages))


# ----------------------------------------------------------------------------- the worker
def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write(path: Path, body: dict[str, Any]) -> None:
    """Atomically (a reader never sees half a file), private to this user."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(body, out, default=str)
    os.replace(tmp, path)


class _Reporter:
    """Writes progress.json: at every new stage or table and at the end of each, else at most every `every_s`
    seconds."""

    def __init__(self, folder: Path, every_s: float = 0.25) -> None:
        self.path, self.every_s, self.last, self.key = folder / PROGRESS, every_s, 0.0, None

    def __call__(self, step: progress.Step) -> None:
        key, now = (step.stage, step.table, step.part), time.monotonic()
        if key == self.key and now - self.last < self.every_s and step.done < step.total:
            return
        self.key, self.last = key, now
        _write(self.path, {**step.as_dict(), "at": dt.datetime.now(dt.UTC).isoformat()})


def apply_limits(limits: dict[str, int]) -> None:
    """Cap this process's address space and CPU time (Linux, macOS), and lower its priority."""
    size = limits["max_mb"] * MB
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    cpu = limits["max_cpu_s"]
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5 if hard == resource.RLIM_INFINITY else min(cpu + 5, hard)))
    try:
        os.nice(10)
    except OSError:
        pass


def _check(engine: Any, path: Path, label: str) -> dict[str, Any]:
    from services.import_preview import preview  # lazy: only the check compares with the stored data

    try:
        frames = read_source(path)
    except ImportFileError as exc:
        record_failure(engine, label, error=str(exc))
        return {"status": "unreadable", "error": str(exc)}
    report = contract.validate(frames)
    del frames
    if not report.ok:
        record_failure(engine, label, report)
        return {"status": "refused", "report": report.as_dict()}
    changes = preview(report.frames, engine)
    return {"status": "checked", "changes": changes.to_dict("records")}


def _import(engine: Any, path: Path, request: dict[str, Any]) -> dict[str, Any]:
    label = request["label"]
    try:
        report = import_source(path, engine, label=label, allow_shrink=bool(request.get("allow_shrink")))
    except ContractViolation as violation:
        return {"status": "refused", "report": violation.report.as_dict()}
    except ImportFileError as exc:
        return {"status": "unreadable", "error": str(exc)}
    audit.record(engine, request.get("who") or "anonymous", "import", source=label, row_counts=report.row_counts)
    return {"status": "success", "row_counts": report.row_counts}


def run(folder: Path) -> dict[str, Any]:
    """The worker's job on `folder` (its request.json names the mode); returns the result it writes."""
    request = _read(folder / REQUEST) or {}
    mode, label = request.get("mode"), request.get("label") or "upload"
    if mode not in MODES:
        return {"status": "failed", "error": f"no job in {folder} (request.json holds no mode)"}
    engine = db.get_engine(os.environ.get("FORESIGHT_DATABASE_URL") or None)
    limits = worker_limits()
    try:
        with joblock.hold(engine, mode, what=label, name=joblock.UPLOAD), \
                progress.reporting(_Reporter(folder)):
            if mode == "check":
                return _check(engine, folder / UPLOAD, label)
            with joblock.hold(engine, "import", what=label):  # before reading: nothing changes under it
                return _import(engine, folder / UPLOAD, request)
    except joblock.Busy as exc:
        if mode == "import":
            record_failure(engine, label, error=f"the import was refused: {exc}")
        return {"status": "busy", "error": str(exc)}
    except MemoryError:
        error = (f"the {mode} ran out of memory: the worker may use {limits['max_mb']:,} MB "
                 "(FORESIGHT_IMPORT_WORKER_MAX_MB); nothing was changed")
        if mode == "check":  # an import's crash is logged by the importer
            record_failure(engine, label, error=error)
        return {"status": "failed", "error": error}
    except db.DatabaseUnavailable as exc:
        return {"status": "failed", "error": f"the database is unavailable: {exc}"}
    except Exception as exc:  # a bug or a database error: logged (an import's by the importer), reported
        log.exception("the %s failed", mode)
        error = f"the {mode} failed: {type(exc).__name__}: {short(exc)}; nothing was changed"
        if mode == "check":
            record_failure(engine, label, error=error)
        return {"status": "failed", "error": error}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m services.import_worker JOB_FOLDER", file=sys.stderr)
        return 2
    folder = Path(args[0])
    apply_limits(worker_limits())
    result = run(folder)
    request = _read(folder / REQUEST) or {}
    _write(folder / RESULT, {**result, "mode": request.get("mode")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
