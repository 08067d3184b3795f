"""Model versions and their result tables.

Every training run of a model gets a version. Its result rows (scores, clusters, forecasts,
contributions) are appended to result tables stamped with `model_version` and `as_of`; pages read
only the rows of the model's *active* version, so a new run becomes visible in one switch (the
status update in `model_versions`), and a failed or rejected run never shows.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import artifacts, process, snapshot
from services.artifacts import ArtifactError
from services.config import ARTIFACTS_DIR, REPO_ROOT
from services.results import SQL_TYPES, ResultTable

log = logging.getLogger(__name__)
VERSIONS = "model_versions"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
_COLUMNS_CHECKED: set[str] = set()


@dataclass
class Version:
    model: str
    version: str
    as_of: pd.Timestamp
    params: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    artifact_sha256: str | None = None  # set by save_artifact, recorded by record

    @property
    def artifact_path(self) -> Path:
        return artifact_file(self.model, self.version)


def artifact_file(model: str, version: str) -> Path:
    """Where a version's artifact lives: always under the artifact folder, named from model and version only
    (a path stored in the database is never followed)."""
    for name in (model, version):
        if not _NAME.match(str(name)) or ".." in str(name):
            raise ArtifactError(f"refusing artifact name {name!r}: letters, digits, '_', '-' and '.' only")
    return ARTIFACTS_DIR / model / f"{version}.npz"


def code_version() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, check=False,
                             text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def new_version(model: str, as_of: pd.Timestamp, params: dict[str, Any] | None = None) -> Version:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return Version(model, f"{model}-{stamp}-{uuid.uuid4().hex[:6]}", pd.Timestamp(as_of), params or {})


def _ensure_versions(engine: Engine) -> sa.Table:
    md = sa.MetaData()
    t = sa.Table(
        VERSIONS, md,
        sa.Column("version", sa.String(80), primary_key=True),
        sa.Column("model", sa.String(40), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("code_version", sa.String(40)),
        sa.Column("data_fingerprint", sa.Text),
        sa.Column("params", sa.Text),
        sa.Column("metrics", sa.Text),
        sa.Column("artifact_path", sa.Text),  # informational; loading uses artifact_file(model, version)
        sa.Column("artifact_sha256", sa.String(64)),
        sa.Column("status", sa.String(20), nullable=False),  # running, active, retired, rejected, failed, rolled_back
        sa.Column("note", sa.Text),
    )
    md.create_all(engine, checkfirst=True)
    key = engine.url.render_as_string(hide_password=True)
    if key not in _COLUMNS_CHECKED:  # a registry created before content hashes: add the column once
        with engine.begin() as conn:
            if "artifact_sha256" not in {c["name"] for c in sa.inspect(conn).get_columns(VERSIONS)}:
                conn.execute(sa.text(f'ALTER TABLE "{VERSIONS}" ADD COLUMN artifact_sha256 VARCHAR(64)'))
        _COLUMNS_CHECKED.add(key)
    return t


def save_artifact(version: Version, obj: Any) -> Path:
    """Store `obj` code-free (services.artifacts) and remember its sha256 for `record` to register."""
    data = artifacts.dumps(obj)
    path = version.artifact_path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    version.artifact_sha256 = hashlib.sha256(data).hexdigest()
    return path


def load_artifact(engine: Engine, model: str, version: str | None = None) -> Any:
    """The artifact of `version` (default: the active one), after checking its sha256 against the one recorded
    at training. Versions trained before hashes were recorded are refused: retrain them."""
    version = version or active_version(engine, model)
    if version is None:
        raise LookupError(f"no active {model} model: run `python -m services.cli train`")
    rows = versions(engine, model)
    rows = rows[rows.version == version]
    if rows.empty:
        raise LookupError(f"no {model} version {version!r}; see `python -m services.cli models list`")
    expected = rows.iloc[0]["artifact_sha256"]
    if not isinstance(expected, str) or not expected:
        raise ArtifactError(f"{version} was trained before artifacts carried a content hash, so it is not "
                            f"loaded: retrain with `python -m services.cli train`")
    path = artifact_file(model, version)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"the artifact of {version} is missing ({exc.strerror}): retrain with "
                            f"`python -m services.cli train`") from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise ArtifactError(f"the artifact file of {version} does not match the hash recorded at training "
                            f"(it was changed or replaced); refusing to load it: retrain with "
                            f"`python -m services.cli train`")
    return artifacts.loads(data)


def write_results(engine: Engine, table: ResultTable | str, frame: pd.DataFrame, version: Version) -> int:
    """Append result rows stamped with the version (rows of that version written before are replaced).

    A declared `ResultTable` is checked against its declaration and, when new, created from it."""
    name = str(table)
    if isinstance(table, ResultTable):
        table.check(list(frame.columns))
    df = frame.copy()
    df["model_version"] = version.version
    df["as_of"] = version.as_of.normalize()
    with engine.begin() as conn:
        if sa.inspect(conn).has_table(name):
            _add_missing_columns(conn, name, df)
            if isinstance(table, ResultTable):
                _ensure_indexes(conn, table)
            conn.execute(sa.text(f'DELETE FROM "{name}" WHERE model_version = :v'), {"v": version.version})
        elif isinstance(table, ResultTable):
            extra = {c: _kind(df[c]) for c in df.columns if c not in table.column_names and c not in
                     ("model_version", "as_of")}
            table.sa_table(sa.MetaData(), extra).create(conn)
        else:  # an undeclared table: its schema from the frame
            df.head(0).to_sql(name, conn, index=False)
        bulk_insert(conn, name, df)
    return len(df)


def _column_values(s: pd.Series) -> list[Any]:
    """One column as Python values for a DBAPI executemany (NULL for NaN/NaT), converted column-wise."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        # the text SQLAlchemy's DateTime stores in SQLite (and that PostgreSQL parses)
        return pc.cast(pa.array(s.astype("datetime64[us]"), from_pandas=True), pa.string()).to_pylist()
    return s.astype(object).where(s.notna(), None).tolist()


def bulk_insert(conn: sa.Connection, name: str, df: pd.DataFrame) -> None:
    """Append `df` to table `name` in bulk, inside `conn`'s transaction: COPY on PostgreSQL, one prepared
    `executemany` over column-wise converted values elsewhere (SQLite). Never row-by-row SQL."""
    if df.empty:
        return
    cols = [str(c) for c in df.columns]
    quoted = ", ".join(f'"{c}"' for c in cols)
    dialect = conn.dialect.name
    if dialect == "postgresql":
        table = pa.table({c: _arrow_column(df[c]) for c in cols})
        buf = io.BytesIO()
        pa_csv.write_csv(table, buf, pa_csv.WriteOptions(include_header=False))
        buf.seek(0)
        cur = conn.connection.cursor()
        try:
            cur.copy_expert(f'COPY "{name}" ({quoted}) FROM STDIN WITH (FORMAT csv)', buf)
        finally:
            cur.close()
        return
    values = [_column_values(df[c]) for c in cols]
    marks = ", ".join("?" if conn.dialect.paramstyle == "qmark" else "%s" for _ in cols)
    insert = f'INSERT INTO "{name}" ({quoted}) VALUES ({marks})'
    step = 100_000
    for lo in range(0, len(df), step):
        conn.exec_driver_sql(insert, list(zip(*(v[lo:lo + step] for v in values))))


def _arrow_column(s: pd.Series) -> pa.Array:
    """A column for COPY's CSV: dates as text with microseconds, NaN as NULL, anything odd as text."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return pa.array(_column_values(s), pa.string())
    try:
        return pa.array(s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in s.astype(object).where(s.notna(), None)],
                        pa.string())


def _ensure_indexes(conn: sa.Connection, table: ResultTable) -> None:
    """A table created before an index was declared gets it (IF NOT EXISTS: a no-op once there)."""
    for index, cols in table.index_columns()[1:]:
        quoted = ", ".join(f'"{c}"' for c in ("model_version", *cols))
        conn.execute(sa.text(f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table.name}" ({quoted})'))


def _add_missing_columns(conn: sa.Connection, name: str, df: pd.DataFrame) -> None:
    """A table written by an older version of a job may lack newer columns: add them."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(name)}
    for col in df.columns.difference(sorted(have)):
        kind = SQL_TYPES[_kind(df[col])]().compile(dialect=conn.dialect)
        conn.execute(sa.text(f'ALTER TABLE "{name}" ADD COLUMN "{col}" {kind}'))


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if pd.api.types.is_integer_dtype(s):
        return "int"
    if pd.api.types.is_numeric_dtype(s):
        return "float"
    return "date" if pd.api.types.is_datetime64_any_dtype(s) else "text"


def start(engine: Engine, version: Version) -> None:
    """Log `version` as `running` (with its process) before its job writes any result row, so that rows of a
    run that is killed can be found and deleted by the next run (`clean_interrupted`)."""
    t = _ensure_versions(engine)
    with engine.begin() as conn:
        conn.execute(t.insert().values(
            version=version.version, model=version.model, created_at=version.created_at,
            as_of=version.as_of.date(), code_version=code_version(), params=json.dumps(version.params, default=str),
            metrics="{}", status="running", note=json.dumps({"owner": process.stamp()})))


def clean_interrupted(engine: Engine) -> list[str]:
    """Versions left `running` by a process that has ended (a killed or crashed `train`): their result rows
    are deleted and they are marked `failed`. Returns them."""
    v = versions(engine)
    dead = [str(r.version) for r in v[v.status == "running"].itertuples()
            if not process.alive(_owner(r.note))]
    t = _ensure_versions(engine)
    for version in dead:
        n = discard_results(engine, version)
        with engine.begin() as conn:
            conn.execute(t.update().where(t.c.version == version).values(
                status="failed", note=f"interrupted: the training process ended before finishing (killed?); "
                                      f"its {n} result row(s) were deleted"))
        log.warning("cleaned the interrupted version %s (%d result rows deleted)", version, n)
    return dead


def _owner(note: str | None) -> dict | None:
    try:
        return json.loads(note or "").get("owner")
    except (ValueError, AttributeError):
        return None


def record(engine: Engine, version: Version, metrics: dict[str, Any], fingerprint: dict[str, Any],
           status: str, note: str = "") -> None:
    t = _ensure_versions(engine)
    with engine.begin() as conn:
        conn.execute(t.delete().where(t.c.version == version.version))  # its `running` row, if started
        if status == "active":
            conn.execute(t.update().where((t.c.model == version.model) & (t.c.status == "active"))
                         .values(status="retired"))
        conn.execute(t.insert().values(
            version=version.version, model=version.model, created_at=version.created_at,
            as_of=version.as_of.date(), code_version=code_version(),
            data_fingerprint=json.dumps(fingerprint, default=str), params=json.dumps(version.params, default=str),
            metrics=json.dumps(metrics, default=float), artifact_path=str(version.artifact_path),
            artifact_sha256=version.artifact_sha256, status=status, note=note))


def set_status(engine: Engine, model: str, version: str, status: str) -> None:
    """Make `version` the active one (one transaction: the old active one retires)."""
    t = _ensure_versions(engine)
    with engine.begin() as conn:
        if status == "active":
            conn.execute(t.update().where((t.c.model == model) & (t.c.status == "active")).values(status="retired"))
        conn.execute(t.update().where(t.c.version == version).values(status=status))


def versions(engine: Engine, model: str | None = None) -> pd.DataFrame:
    t = _ensure_versions(engine)
    q = sa.select(t).order_by(t.c.created_at.desc())
    if model:
        q = q.where(t.c.model == model)
    with engine.connect() as conn:
        return pd.read_sql(q, conn)


def active_version(engine: Engine, model: str) -> str | None:
    v = versions(engine, model)
    v = v[v.status == "active"]
    return None if v.empty else str(v.iloc[0]["version"])


def shown_version(engine: Engine, model: str) -> str | None:
    """The active version whose results pages may show: None when there is none, or when it was built from
    another company's data or a replaced dataset (services.snapshot: "foreign"); its rows must not be shown
    under the current data's names. Reads (`read_results`, `read_snapshot`, `snapshot_dates`) go through it."""
    v = versions(engine, model)
    v = v[v.status == "active"]
    if v.empty:
        return None
    if snapshot.state(v.iloc[0]["data_fingerprint"], snapshot.current(engine)) == "foreign":
        return None
    return str(v.iloc[0]["version"])


def data_states(engine: Engine) -> dict[str, str]:
    """Per model with an active version: how its data relates to the data now (services.snapshot.state)."""
    v = versions(engine)
    v = v[v.status == "active"]
    now = snapshot.current(engine)
    return {str(r.model): snapshot.state(r.data_fingerprint, now) for r in v.itertuples()}


def active_metrics(engine: Engine, model: str) -> dict[str, Any]:
    v = versions(engine, model)
    v = v[v.status == "active"]
    return {} if v.empty else json.loads(v.iloc[0]["metrics"] or "{}")


def result_tables(engine: Engine) -> list[str]:
    """Every table that holds versioned result rows (it has a `model_version` column)."""
    insp = sa.inspect(engine)
    return [t for t in insp.get_table_names()
            if t != VERSIONS and any(c["name"] == "model_version" for c in insp.get_columns(t))]


def discard_results(engine: Engine, version: str) -> int:
    """Delete every result row written under `version` (e.g. by a run that failed half-way)."""
    n = 0
    with engine.begin() as conn:
        for table in result_tables(engine):
            n += conn.execute(sa.text(f'DELETE FROM "{table}" WHERE model_version = :v'), {"v": version}).rowcount
    return n


def prune(engine: Engine, model: str) -> list[str]:
    """Retention: delete the result rows of `model`'s versions no one can show or restore; returns them.

    Kept: the active version (every snapshot the as-of selector offers is a score date, month or origin
    inside it), the previous active one (what `rollback` restores), versions still running, and versions
    rejected after the active one (candidates waiting for `models activate`). Every other version with
    rows (older retired, rolled back, older rejected) loses its rows and is marked `pruned` (its registry
    row, metrics and artifact stay)."""
    v = versions(engine, model)  # newest first
    active = v[v.status == "active"]
    if active.empty:
        return []
    created = active.iloc[0]["created_at"]
    previous = v[(v.status == "retired") & (v.created_at < created)].head(1)
    keep = set(active.version) | set(previous.version) | set(v[v.status == "running"].version)
    keep |= set(v[(v.status == "rejected") & (v.created_at > created)].version)
    doomed = [str(x) for x in v[~v.version.isin(keep) & v.status.isin(["retired", "rolled_back", "rejected"])].version]
    t = _ensure_versions(engine)
    for version in doomed:
        n = discard_results(engine, version)
        with engine.begin() as conn:
            conn.execute(t.update().where(t.c.version == version).values(
                status="pruned", note=f"pruned by the retention policy ({n} result rows deleted)"))
        log.info("pruned %s (%d result rows)", version, n)
    return doomed


def activate(engine: Engine, version: str) -> str:
    """Make `version` its model's active version (whatever its status); returns the model name."""
    v = versions(engine)
    row = v[v.version == version]
    if row.empty:
        raise LookupError(f"no model version {version!r}; see `python -m services.cli models list`")
    if row.iloc[0]["status"] == "failed":
        raise ValueError(f"version {version} failed during training and has no results to show")
    if row.iloc[0]["status"] == "pruned":
        raise ValueError(f"version {version} was pruned by the retention policy: its results are gone; retrain")
    model = str(row.iloc[0]["model"])
    set_status(engine, model, version, "active")
    log.info("activated %s", version)
    return model


def rollback(engine: Engine, model: str) -> str:
    """Re-activate the version that was active before the current one; returns it.

    The current active version becomes `rolled_back`, so a second rollback goes one further back."""
    v = versions(engine, model)
    active = v[v.status == "active"]
    if active.empty:
        raise LookupError(f"no active {model} version to roll back from")
    current = active.iloc[0]
    earlier = v[(v.status == "retired") & (v.created_at < current["created_at"])]
    if earlier.empty:
        raise LookupError(f"{model} has no earlier version that was active; nothing to roll back to")
    target = str(earlier.iloc[0]["version"])  # versions() is newest first
    t = _ensure_versions(engine)
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.version == current["version"]).values(status="rolled_back"))
        conn.execute(t.update().where(t.c.version == target).values(status="active"))
    log.info("rolled %s back from %s to %s", model, current["version"], target)
    return target


def metrics_summary(metrics_json: str | None, limit: int = 4) -> str:
    """A short `key=value` text of the first numeric metrics (for listings)."""
    metrics = json.loads(metrics_json or "{}")
    items = [(k, v) for k, v in metrics.items() if isinstance(v, int | float) and k != "train_seconds"]
    return ", ".join(f"{k}={v:.4g}" for k, v in items[:limit])


def read_results(engine: Engine, table: ResultTable | str, model: str | None = None, where: str = "",
                 params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Rows of `table` written by the active version of `model` (default: the table's model; empty if none)."""
    model = model or getattr(table, "model", None)
    if model is None:
        raise ValueError(f"read_results({table}): which model's version? the table serves several")
    table = str(table)
    version = shown_version(engine, model)
    if version is None or not sa.inspect(engine).has_table(table):
        return pd.DataFrame()
    sql = f'SELECT * FROM "{table}" WHERE model_version = :v' + (f" AND ({where})" if where else "")
    with engine.connect() as conn:
        df = pd.read_sql(sa.text(sql), conn, params={"v": version, **(params or {})})
    return _parse_dates(df)


def _active_table(engine: Engine, table: ResultTable | str, model: str | None) -> tuple[str, str | None]:
    model = model or getattr(table, "model", None)
    if model is None:
        raise ValueError(f"read from {table}: which model's version? the table serves several")
    version = shown_version(engine, model)
    return str(table), version if version is not None and sa.inspect(engine).has_table(str(table)) else None


def _snapshot_column(table: ResultTable | str, date_column: str) -> str:
    if isinstance(table, ResultTable) and date_column not in (*table.column_names, "as_of"):
        raise ValueError(f"{table} has no column {date_column!r} (declared: {', '.join(table.column_names)})")
    if not date_column.isidentifier():
        raise ValueError(f"not a column name: {date_column!r}")
    return date_column


def _as_datetime(as_of: Any) -> datetime:
    return pd.Timestamp(as_of).to_pydatetime().replace(tzinfo=None)


def read_snapshot(engine: Engine, table: ResultTable | str, date_column: str, as_of: Any = None,
                  model: str | None = None, where: str = "", params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Rows of the active version's latest snapshot at or before `as_of` (None: the latest snapshot).

    A snapshot is the set of rows sharing one value of `date_column` (a score date, a month, an origin; or
    `as_of`, the version's date, for a table stored at that date only).
    The snapshot is chosen in SQL (`MAX(date_column)` among the rows matching `where`), so only its rows
    are read. The chosen date is in `frame.attrs["snapshot"]` (None when no snapshot is at or before
    `as_of`; the frame is then empty)."""
    name, version = _active_table(engine, table, model)
    col = _snapshot_column(table, date_column)
    if version is None:
        return _with_snapshot(pd.DataFrame(), None)
    cond = "model_version = :v" + (f" AND ({where})" if where else "")
    bind = {"v": version, **(params or {})}
    inner = f'SELECT MAX("{col}") FROM "{name}" WHERE {cond}'
    query = sa.text(f'SELECT * FROM "{name}" WHERE {cond} AND "{col}" = ({inner}'
                    + (f' AND "{col}" <= :snapshot_as_of)' if as_of is not None else ")"))
    if as_of is not None:
        query = query.bindparams(sa.bindparam("snapshot_as_of", type_=sa.DateTime()))
        bind["snapshot_as_of"] = _as_datetime(as_of)
    with engine.connect() as conn:
        df = _parse_dates(pd.read_sql(query, conn, params=bind))
    return _with_snapshot(df, df[col].iloc[0] if len(df) else None)


def snapshot_dates(engine: Engine, table: ResultTable | str, date_column: str, model: str | None = None,
                   where: str = "", params: dict[str, Any] | None = None) -> list[pd.Timestamp]:
    """The snapshot dates the active version stored in `table`, oldest first (one DISTINCT query)."""
    name, version = _active_table(engine, table, model)
    col = _snapshot_column(table, date_column)
    if version is None:
        return []
    cond = "model_version = :v" + (f" AND ({where})" if where else "")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f'SELECT DISTINCT "{col}" FROM "{name}" WHERE {cond}'),
                            {"v": version, **(params or {})}).scalars().all()
    return sorted(pd.Timestamp(r) for r in rows if r is not None)


def _with_snapshot(df: pd.DataFrame, when: Any) -> pd.DataFrame:
    df.attrs["snapshot"] = None if when is None or pd.isna(when) else pd.Timestamp(when)
    return df


def _parse_dates(df: pd.DataFrame) -> pd.DataFrame:
    for c in df.columns:
        if c == "as_of" or c.endswith("_date") or c in ("month", "ds"):
            df[c] = pd.to_datetime(df[c])
    return df
