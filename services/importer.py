"""Import: read CSV files (a folder or a zip), validate them all, then load in one transaction.

Nothing in the data tables changes unless every table passes the contract. Every attempt is
recorded in `imports` (and the failed rules in `validation_results`): `running` from its start, then
`success`, `failed` (refused, or crashed) or `interrupted` (Ctrl-C; or found running with its process gone).
Reading the files and the limits on them: services/import_files.py.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import contract, db, joblock, mapping, process, progress, snapshot
from services.import_files import ImportFileError, Limits, read_csv_folder, read_source, read_zip, short

__all__ = ["ContractViolation", "ImportFileError", "ImportShrinkError", "Limits", "import_frames", "import_source",
           "read_csv_folder", "read_source", "read_zip"]

log = logging.getLogger(__name__)


class ImportShrinkError(ImportFileError):
    """The import would remove more than the allowed share of the stored rows; nothing was changed."""


class ContractViolation(Exception):
    """The input breaks the data contract; `report` lists every failed rule. Nothing was loaded."""

    def __init__(self, report: contract.ValidationReport, import_id: str | None = None) -> None:
        super().__init__(report.format())
        self.report = report
        self.import_id = import_id


# ----------------------------------------------------------------------------- loading
def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _log_row(import_id: str, started: dt.datetime, source: str, status: str,
             counts: Mapping[str, int], report: dict) -> dict:
    return {"import_id": import_id, "started_at": started, "finished_at": _now(), "source": source,
            "status": status, "n_rows": json.dumps(dict(counts)),
            "report": json.dumps(report, default=str)}


def start_import(engine: Engine, source: str, started: dt.datetime | None = None) -> str:
    """Log an import as `running` (with its process, see services.process) before anything is read; an earlier
    import still marked running whose process has ended is marked `interrupted` first."""
    mark_interrupted(engine)
    import_id = uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(db.IMPORTS.insert(), [{**_log_row(import_id, started or _now(), source, "running", {},
                                                       {"owner": process.stamp()}), "finished_at": None}])
    return import_id


def mark_interrupted(engine: Engine) -> list[str]:
    """Imports logged `running` whose process is gone (killed, crashed): marked `interrupted`. Their load was
    one transaction, so nothing of them was stored. Returns their ids."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.IMPORTS.c.import_id, db.IMPORTS.c.report)
                            .where(db.IMPORTS.c.status == "running")).all()
    dead = [r.import_id for r in rows if not process.alive(json.loads(r.report or "{}").get("owner"))]
    if dead:
        with engine.begin() as conn:
            conn.execute(db.IMPORTS.update().where(db.IMPORTS.c.import_id.in_(dead)).values(
                status="interrupted", finished_at=_now(), report=json.dumps(
                    {"ok": False, "error": "the import process ended before finishing (killed or crashed); "
                                           "nothing of it was loaded"})))
        log.warning("%d import(s) were interrupted: %s", len(dead), ", ".join(dead))
    return dead


def record_failure(engine: Engine, source: str, report: contract.ValidationReport | None = None,
                   error: str | None = None, started: dt.datetime | None = None, import_id: str | None = None,
                   status: str = "failed") -> str:
    """Log a failed import (and its failed rules) in its own transaction, replacing its `running` row when
    `import_id` is given; returns its import_id."""
    import_id = import_id or uuid.uuid4().hex
    body = report.as_dict() if report is not None else {"ok": False, "error": error}
    counts = report.row_counts if report is not None else {}
    with engine.begin() as conn:
        conn.execute(db.IMPORTS.delete().where(db.IMPORTS.c.import_id == import_id))
        conn.execute(db.IMPORTS.insert(), [_log_row(import_id, started or _now(), source, status,
                                                   counts, body)])
        rules = [{"import_id": import_id, "table_name": f.table, "rule": f.rule,
                  "failed_count": f.failed_count, "sample": json.dumps(f.sample, default=str)}
                 for f in (report.failures if report is not None else [])]
        if error is not None:
            rules.append({"import_id": import_id, "table_name": "", "rule": error,
                          "failed_count": 0, "sample": "[]"})
        if rules:
            conn.execute(db.VALIDATION_RESULTS.insert(), rules)
    return import_id


def _record_crash(engine: Engine, source: str, import_id: str, started: dt.datetime, exc: BaseException) -> None:
    """An import that raised something unexpected (or was interrupted): logged, never silently `running`."""
    status = "interrupted" if isinstance(exc, KeyboardInterrupt | SystemExit) else "failed"
    try:
        record_failure(engine, source, error=f"the import crashed: {type(exc).__name__}: {short(exc)}",
                       started=started, import_id=import_id, status=status)
    except Exception:  # the database itself may be what failed
        log.exception("could not log the failed import %s", import_id)


def max_shrink() -> float:
    """The share of stored contract rows an import may remove without confirmation (FORESIGHT_IMPORT_MAX_SHRINK)."""
    raw = os.environ.get("FORESIGHT_IMPORT_MAX_SHRINK", "").strip()
    try:
        return float(raw) if raw else 0.5
    except ValueError:
        raise ImportFileError(f"FORESIGHT_IMPORT_MAX_SHRINK={raw!r} is not a number between 0 and 1") from None


def _check_shrink(engine: Engine, data: Mapping[str, pd.DataFrame]) -> None:
    with engine.connect() as conn:
        stored = sum(conn.execute(sa.text(f'SELECT COUNT(*) FROM "{s.name}"')).scalar() or 0 for s in contract.TABLES)
    new = sum(len(data[s.name]) for s in contract.TABLES)
    share = max_shrink()
    if stored and new < stored * (1 - share):
        raise ImportShrinkError(
            f"the import would replace {stored:,} stored rows by {new:,} ({1 - new / stored:.0%} fewer, more than "
            f"the {share:.0%} allowed without confirmation); nothing was changed. Confirm the replacement "
            f"(`import --allow-shrink` on the command line, the confirmation box on the Data page)")


def import_frames(frames: Mapping[str, pd.DataFrame], source: str, engine: Engine | None = None,
                  extra_tables: Mapping[str, pd.DataFrame] | None = None,
                  allow_shrink: bool = True, import_id: str | None = None,
                  append: bool = False) -> contract.ValidationReport:
    """Validate every contract table, then replace them all (and `extra_tables`) in one transaction.

    Absent optional tables are loaded empty; `truth_*` tables not in `extra_tables` are dropped
    (they describe the previous dataset). Raises ContractViolation, with nothing changed, on any
    failed rule, and ImportShrinkError unless `allow_shrink` when the import would remove more than
    `max_shrink()` of the stored rows. Every outcome, a crash included, is logged in `imports` under
    `import_id` (started here when not given). Returns the report (row counts per table).

    The load holds the data lock (services.joblock): during a training run or a refresh it is refused.
    `append` (refresh's merged import) continues the stored data's snapshot lineage and keeps `truth_*`
    tables; a replacing import starts a new lineage (services.snapshot)."""
    engine = engine or db.get_engine()
    started, t0 = _now(), time.perf_counter()
    import_id = import_id or start_import(engine, source, started)
    try:
        with joblock.hold(engine, "import", what=source):
            return _validate_and_load(frames, source, engine, extra_tables, allow_shrink, import_id, started, t0,
                                      append)
    except joblock.Busy as exc:
        record_failure(engine, source, error=str(exc), started=started, import_id=import_id)
        raise ImportFileError(f"the import was refused: {exc}") from None
    except (ContractViolation, ImportFileError):
        raise  # logged already
    except BaseException as exc:  # a database error, a crash, Ctrl-C
        _record_crash(engine, source, import_id, started, exc)
        raise


def _validate_and_load(frames: Mapping[str, pd.DataFrame], source: str, engine: Engine,
                       extra_tables: Mapping[str, pd.DataFrame] | None, allow_shrink: bool, import_id: str,
                       started: dt.datetime, t0: float, append: bool = False) -> contract.ValidationReport:
    log.info("Validating %d table(s) against the data contract...", len(frames))
    report = contract.validate(frames)
    if not report.ok:
        record_failure(engine, source, report, started=started, import_id=import_id)
        log.info("Rejected: %d rule(s) failed (import %s)", len(report.failures), import_id)
        raise ContractViolation(report, import_id)
    data = {spec.name: report.frames.get(spec.name, contract.empty_frame(spec.name))
            for spec in contract.TABLES}
    if not allow_shrink:
        try:
            _check_shrink(engine, data)
        except ImportShrinkError as exc:
            record_failure(engine, source, error=str(exc), started=started, import_id=import_id)
            raise
    data.update(extra_tables or {})
    stale = [] if append else [t for t in db.table_names(engine) if t.startswith("truth_") and t not in data]
    before = snapshot.current(engine)
    lineage = before["lineage"] if append and before else import_id
    total = sum(len(df) for df in data.values())
    log.info("Loading %d table(s), %s rows, in one transaction...", len(data), f"{total:,}")
    with engine.begin() as conn:
        counts = db.write_tables(conn, data, drop=stale)
        report.row_counts = counts
        progress.report("snapshot", rows=total)
        snap = {"data": snapshot.data_fingerprint(conn), "lineage": lineage, "import_id": import_id}
        conn.execute(db.IMPORTS.delete().where(db.IMPORTS.c.import_id == import_id))
        conn.execute(db.IMPORTS.insert(), [_log_row(import_id, started, source, "success",
                                                   counts, {**report.as_dict(), "snapshot": snap})])
    log.info("Loaded in %.1fs (import %s)", time.perf_counter() - t0, import_id)
    return report


def import_source(source: str | Path | bytes, engine: Engine | None = None,
                  label: str | None = None, allow_shrink: bool = False,
                  mapping_file: str | Path | None = None) -> contract.ValidationReport:
    """Read a folder or zip and import it; unreadable files are recorded as a failed import too.
    An import that would remove more than `max_shrink()` of the stored rows needs `allow_shrink`.
    With `mapping_file` (TOML, services.mapping) the source's own tables are mapped onto the contract first."""
    engine = engine or db.get_engine()
    label = label or (str(source) if not isinstance(source, bytes) else "upload")
    started = _now()
    import_id = start_import(engine, label, started)
    try:
        frames = read_source(source)
        if mapping_file is not None:
            frames = mapping.apply(frames, mapping.load(mapping_file))
    except ImportFileError as exc:
        record_failure(engine, label, error=str(exc), started=started, import_id=import_id)
        raise
    except BaseException as exc:
        _record_crash(engine, label, import_id, started, exc)
        raise
    return import_frames(frames, label, engine, allow_shrink=allow_shrink, import_id=import_id)
