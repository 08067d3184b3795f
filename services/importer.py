"""Import: read CSV files (a folder or a zip), validate them all, then load in one transaction.

Nothing in the data tables changes unless every table passes the contract. Every attempt is
recorded in `imports` (and the failed rules in `validation_results`).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import time
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import IO

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import contract, db

log = logging.getLogger(__name__)


class ImportFileError(ValueError):
    """Input files that cannot be read as the contract's CSV tables (the message names the files)."""


class ContractViolation(Exception):
    """The input breaks the data contract; `report` lists every failed rule. Nothing was loaded."""

    def __init__(self, report: contract.ValidationReport, import_id: str | None = None) -> None:
        super().__init__(report.format())
        self.report = report
        self.import_id = import_id


# ----------------------------------------------------------------------------- reading
def _ignored(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _read_csv(label: str, handle: IO[bytes] | Path) -> pd.DataFrame:
    try:
        return pd.read_csv(handle, dtype=str, keep_default_na=False, na_values=[""],
                           encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        raise ImportFileError(f"{label}: the file is empty (no header row)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ImportFileError(f"{label}: cannot be read as a UTF-8 CSV file ({exc})") from exc


def _collect(items: list[tuple[str, str]], where: str) -> dict[str, str]:
    """Map table name -> file name; raise one ImportFileError listing every problem."""
    problems, tables = [], {}
    for name, kind in items:
        if kind == "dir":
            problems.append(f"{name}: unexpected folder (put the CSV files directly in {where})")
        elif not name.lower().endswith(".csv"):
            problems.append(f"{name}: not a CSV file (expected <table>.csv)")
        else:
            table = PurePosixPath(name).stem.strip().lower()
            if table in tables:
                problems.append(f"{name}: table {table} given twice ({tables[table]})")
            tables[table] = name
    if not tables and not problems:
        problems.append(f"{where}: no CSV files found")
    if problems:
        raise ImportFileError("; ".join(problems))
    return tables


def read_csv_folder(path: str | Path) -> dict[str, pd.DataFrame]:
    """Every `<table>.csv` in a folder, all cells as strings (empty cells as nulls)."""
    folder = Path(path)
    if not folder.is_dir():
        raise ImportFileError(f"{folder}: not a folder")
    items = [(p.name, "dir" if p.is_dir() else "file") for p in sorted(folder.iterdir())
             if not _ignored(p.name)]
    tables = _collect(items, str(folder))
    return {table: _read_csv(str(folder / name), folder / name) for table, name in tables.items()}


def read_zip(data: bytes | str | Path) -> dict[str, pd.DataFrame]:
    """Every `<table>.csv` in a zip (at its root or inside one top folder)."""
    label = "the zip file" if isinstance(data, bytes) else str(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{label}: not a readable zip file ({exc})") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _ignored(m.filename)]
        tops = {PurePosixPath(m.filename).parts[0] for m in members}
        strip = len(tops) == 1 and all(len(PurePosixPath(m.filename).parts) > 1 for m in members)
        by_name = {}
        for m in members:
            parts = PurePosixPath(m.filename).parts[1 if strip else 0:]
            by_name["/".join(parts)] = m
        items = [(n.split("/")[0], "dir") if "/" in n else (n, "file") for n in by_name]
        tables = _collect(sorted(set(items)), label)
        frames = {}
        for table, name in tables.items():
            with archive.open(by_name[name]) as handle:
                frames[table] = _read_csv(f"{label}: {name}", io.BytesIO(handle.read()))
        return frames


def read_source(source: str | Path | bytes) -> dict[str, pd.DataFrame]:
    """A folder of CSVs, a zip file path or zip bytes."""
    if isinstance(source, bytes) or str(source).lower().endswith(".zip"):
        return read_zip(source)
    path = Path(source)
    if not path.exists():
        raise ImportFileError(f"{path}: no such file or folder")
    if path.is_file():
        if zipfile.is_zipfile(path):
            return read_zip(path)
        raise ImportFileError(f"{path}: expected a folder of CSV files or a .zip of them")
    return read_csv_folder(path)


# ----------------------------------------------------------------------------- loading
def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _log_row(import_id: str, started: dt.datetime, source: str, status: str,
             counts: Mapping[str, int], report: dict) -> dict:
    return {"import_id": import_id, "started_at": started, "finished_at": _now(), "source": source,
            "status": status, "n_rows": json.dumps(dict(counts)),
            "report": json.dumps(report, default=str)}


def record_failure(engine: Engine, source: str, report: contract.ValidationReport | None = None,
                   error: str | None = None, started: dt.datetime | None = None) -> str:
    """Log a failed import (and its failed rules) in its own transaction; returns its import_id."""
    import_id = uuid.uuid4().hex
    body = report.as_dict() if report is not None else {"ok": False, "error": error}
    counts = report.row_counts if report is not None else {}
    with engine.begin() as conn:
        conn.execute(db.IMPORTS.insert(), [_log_row(import_id, started or _now(), source, "failed",
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


def import_frames(frames: Mapping[str, pd.DataFrame], source: str, engine: Engine | None = None,
                  extra_tables: Mapping[str, pd.DataFrame] | None = None) -> contract.ValidationReport:
    """Validate every contract table, then replace them all (and `extra_tables`) in one transaction.

    Absent optional tables are loaded empty; `truth_*` tables not in `extra_tables` are dropped
    (they describe the previous dataset). Raises ContractViolation, with nothing changed, on any
    failed rule. Returns the report (row counts per table)."""
    engine = engine or db.get_engine()
    started, t0 = _now(), time.perf_counter()
    log.info("Validating %d table(s) against the data contract...", len(frames))
    report = contract.validate(frames)
    if not report.ok:
        import_id = record_failure(engine, source, report, started=started)
        log.info("Rejected: %d rule(s) failed (import %s)", len(report.failures), import_id)
        raise ContractViolation(report, import_id)
    data = {spec.name: report.frames.get(spec.name, contract.empty_frame(spec.name))
            for spec in contract.TABLES}
    data.update(extra_tables or {})
    stale = [t for t in db.table_names(engine) if t.startswith("truth_") and t not in data]
    total = sum(len(df) for df in data.values())
    log.info("Loading %d table(s), %s rows, in one transaction...", len(data), f"{total:,}")
    import_id = uuid.uuid4().hex
    try:
        with engine.begin() as conn:
            counts = db.write_tables(conn, data, drop=stale)
            report.row_counts = counts
            conn.execute(db.IMPORTS.insert(), [_log_row(import_id, started, source, "success",
                                                       counts, report.as_dict())])
    except sa.exc.SQLAlchemyError as exc:
        record_failure(engine, source, error=f"loading failed: {exc}", started=started)
        raise
    log.info("Loaded in %.1fs (import %s)", time.perf_counter() - t0, import_id)
    return report


def import_source(source: str | Path | bytes, engine: Engine | None = None,
                  label: str | None = None) -> contract.ValidationReport:
    """Read a folder or zip and import it; unreadable files are recorded as a failed import too."""
    engine = engine or db.get_engine()
    label = label or (str(source) if not isinstance(source, bytes) else "upload")
    try:
        frames = read_source(source)
    except ImportFileError as exc:
        record_failure(engine, label, error=str(exc))
        raise
    return import_frames(frames, label, engine)
