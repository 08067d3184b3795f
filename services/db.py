"""The database: one cached SQLAlchemy engine per URL, table metadata, transactional loads, typed reads.

Contract tables are generated from `services.contract.TABLES`; app tables are declared here.
Any other table (`truth_*`, model results) is stored with a schema inferred from its frame.
Foreign keys are enforced by the contract before loading, not by SQL constraints, so that bulk
loads stay fast and tables can be replaced in any order.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import contract, progress
from services.config import database_url

log = logging.getLogger(__name__)

SQLITE_CHUNK_ROWS = 100_000
COPY_CHUNK_ROWS = 500_000
BULK_ROWS = 50_000  # above this, a load drops the table's indexes and rebuilds them after


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached (or its URL cannot be used). The message names the URL."""


SQLITE_BUSY_MS = 30_000


def explain_error(exc: BaseException, url: str | sa.URL | None = None) -> str:
    """One sentence for a database error a person sees (no traceback): what happened and what to do."""
    if isinstance(exc, DatabaseUnavailable):
        return str(exc)
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
    where = f" {mask_url(url)}" if url is not None else ""
    if "database is locked" in reason or "database table is locked" in reason:
        return (f"The SQLite database{where} is busy: another process (an import or a training run) has been "
                f"writing to it for more than {SQLITE_BUSY_MS // 1000} s. Try again when it has finished.")
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) and (
            "no such table" in reason or "does not exist" in reason):
        return (f"The database{where} is missing its tables (was it deleted or replaced?): {reason}. "
                f"Seed or import the data again.")
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.DisconnectionError):
        return f"Lost the connection to the database{where}: {reason}. Check that it is running, then reload."
    return f"The database{where} reported an error: {reason}"


def mask_url(url: str | sa.URL) -> str:
    """The URL with its password hidden."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


# ----------------------------------------------------------------------------- metadata
metadata = sa.MetaData()
_KIND_TYPES: dict[str, Any] = {
    "id": sa.String, "str": sa.String, "float": sa.Float, "int": sa.Integer,
    "bool": sa.Boolean, "date": sa.Date, "datetime": sa.DateTime,
}

for _spec in contract.TABLES:
    _single = len(_spec.key) == 1  # composite keys are unique indexes: dropped during bulk loads
    sa.Table(
        _spec.name, metadata,
        *[sa.Column(c.name, _KIND_TYPES[c.kind](), nullable=c.nullable,
                    primary_key=_single and c.name in _spec.key) for c in _spec.columns],
        *([] if _single else [sa.Index(f"ux_{_spec.name}_key", *_spec.key, unique=True)]),
        *[sa.Index(f"ix_{_spec.name}_{fk.column}", fk.column) for fk in _spec.foreign_keys
          if _spec.name != "usage_monthly" and fk.column != _spec.key[0]],
    )
sa.Index("ix_usage_monthly_month", metadata.tables["usage_monthly"].c.month)

IMPORTS = sa.Table(
    "imports", metadata,
    sa.Column("import_id", sa.String, primary_key=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),  # running | success | failed | interrupted
    sa.Column("n_rows", sa.Text),  # JSON: {table: rows}
    sa.Column("report", sa.Text),  # JSON: ValidationReport.as_dict() or {"error": ...}
)
VALIDATION_RESULTS = sa.Table(
    "validation_results", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("import_id", sa.String, nullable=False, index=True),
    sa.Column("table_name", sa.String, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("failed_count", sa.Integer, nullable=False),
    sa.Column("sample", sa.Text),  # JSON list of up to 5 rows
)
CSM_ACTIONS = sa.Table(
    "csm_actions", metadata,
    sa.Column("action_id", sa.String, primary_key=True),
    sa.Column("account_id", sa.String, nullable=False, index=True),
    sa.Column("person_id", sa.String),
    sa.Column("action_type", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("note", sa.Text),
)
LEADER_COMMITS = sa.Table(
    "leader_commits", metadata,
    sa.Column("commit_id", sa.String, primary_key=True),
    sa.Column("person_id", sa.String, nullable=False, index=True),
    sa.Column("quarter", sa.String, nullable=False),
    sa.Column("amount_usd", sa.Float, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("submitted_by", sa.String),
    sa.Column("submitted_at", sa.DateTime, nullable=False),
)
AUDIT_LOG = sa.Table(  # append-only: services/audit.py inserts and reads, nothing updates or deletes
    "audit_log", metadata,
    sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("who", sa.String, nullable=False, index=True),  # person_id, or "os:<user>" from the CLI
    sa.Column("action", sa.String, nullable=False, index=True),
    sa.Column("details", sa.Text),  # JSON object
)
APP_TABLES = ("imports", "validation_results", "csm_actions", "leader_commits", "audit_log")
TABLE_ORDER = [t.name for t in contract.TABLES] + list(APP_TABLES)


# ----------------------------------------------------------------------------- engines
_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def _sqlite_setup(engine: Engine) -> None:
    """Make pysqlite transactional for DDL too (SQLAlchemy's recipe) and tune it for bulk loads."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        # WAL: readers never wait for a writer (a long import no longer blocks the pages); a writer waits
        # up to SQLITE_BUSY_MS for another writer before "database is locked" (see `explain_error`)
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def _create_engine(url: str) -> Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        _sqlite_setup(engine)
        return engine
    args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args=args)


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: `database_url()`), created once, checked, with the schema made.

    Raises DatabaseUnavailable, naming the URL with its password masked, when it cannot connect."""
    url = url or database_url()
    with _LOCK:
        if url in _ENGINES:
            return _ENGINES[url]
        try:
            engine = _create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError, OSError) as exc:
            raise DatabaseUnavailable(f"Cannot use database {mask_url(url)}: {exc}") from exc
        try:
            ensure_schema(engine)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DatabaseError) as exc:
            engine.dispose()
            reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
            raise DatabaseUnavailable(f"Cannot reach database {mask_url(url)}: {reason}") from exc
        _ENGINES[url] = engine
        return engine


def dispose_engine(url: str | None = None) -> None:
    """Close and forget the cached engine for `url` (all engines when None)."""
    with _LOCK:
        for key in [url] if url else list(_ENGINES):
            engine = _ENGINES.pop(key, None)
            if engine is not None:
                engine.dispose()


def ensure_schema(engine: Engine) -> None:
    """Create every contract and app table that does not exist yet."""
    metadata.create_all(engine, checkfirst=True)


def table_names(engine: Engine | None = None) -> list[str]:
    return sa.inspect(engine or get_engine()).get_table_names()


def truth_params(engine: Engine) -> dict[str, Any]:
    """The demo's planted parameters (`truth_params`, JSON values), or {} for a company's own data."""
    import json

    if not sa.inspect(engine).has_table("truth_params"):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, value FROM truth_params")).all()
    return {k: json.loads(v) for k, v in rows}


def table_exists(name: str, engine: Engine | None = None) -> bool:
    return sa.inspect(engine or get_engine()).has_table(name)


# ----------------------------------------------------------------------------- writing
def _storage_values(df: pd.DataFrame, table: sa.Table) -> dict[str, Any]:
    """Per column: values in the storage format of its SQL type (dates as ISO text, nulls as None)."""
    out: dict[str, Any] = {}
    for col in table.columns:
        if col.name not in df.columns:
            continue
        s = df[col.name]
        if isinstance(col.type, (sa.Date, sa.DateTime)):
            ts = pd.to_datetime(s, format="ISO8601") if s.dtype == object else s
            vals = ts.to_numpy(dtype="datetime64[us]")
            codes, uniques = pd.factorize(vals)  # few distinct dates: format each once; NaT -> -1
            text = np.datetime_as_string(np.asarray(uniques, dtype="datetime64[us]"),
                                         unit="D" if isinstance(col.type, sa.Date) else "us")
            if not isinstance(col.type, sa.Date):
                text = np.char.replace(text, "T", " ")
            out[col.name] = pd.Series(np.append(text.astype(object), None)[codes], dtype=object)
        elif isinstance(col.type, sa.Boolean):
            out[col.name] = pd.Series([None if pd.isna(v) else bool(v) for v in s], dtype=object)
        elif isinstance(col.type, sa.Integer) and not pd.api.types.is_integer_dtype(s.dtype):
            out[col.name] = pd.Series([None if pd.isna(v) else int(v) for v in s], dtype=object)
        else:
            out[col.name] = s.reset_index(drop=True)
    return out


def _as_list(v: pd.Series) -> list[Any]:
    """Python values with None for nulls; categoricals and null-free columns without per-cell work."""
    if isinstance(v.dtype, pd.CategoricalDtype):
        cats = np.append(np.asarray(v.cat.categories, dtype=object), None)
        return cats[v.cat.codes.to_numpy()].tolist()  # code -1 (null) picks the trailing None
    if not v.hasnans:
        return v.tolist()
    return v.astype(object).where(v.notna(), None).tolist()


def _rows(values: dict[str, Any]) -> list[tuple[Any, ...]]:
    return list(zip(*(_as_list(v) for v in values.values()), strict=True))


def _check_columns(df: pd.DataFrame, table: sa.Table) -> None:
    extra = [c for c in df.columns if c not in table.c]
    missing = [c.name for c in table.columns if c.name not in df.columns and not c.nullable
               and not (c.primary_key and c.autoincrement is True)]
    if extra or missing:
        raise ValueError(f"table {table.name}: unexpected columns {extra}, missing columns {missing}")


def _null_marker() -> str:
    """A COPY null marker no cell can hold by chance (16 characters: pandas cuts float na_rep at 32)."""
    return f"fsnull{uuid.uuid4().hex[:10]}"


def _insert(conn: Connection, table: sa.Table, df: pd.DataFrame, part: int = 0, parts: int = 0) -> None:
    """Bulk insert in chunks: COPY on PostgreSQL, executemany on SQLite, Core insert elsewhere (each chunk
    reported as progress, stage "loading": `part` of `parts` tables)."""
    _check_columns(df, table)
    cols = [c.name for c in table.columns if c.name in df.columns]
    prep = conn.dialect.identifier_preparer
    names = ", ".join(prep.quote(c) for c in cols)
    pg = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2"
    chunk_rows = COPY_CHUNK_ROWS if pg else SQLITE_CHUNK_ROWS
    progress.report("loading", table.name, 0, len(df), "rows", part, parts)
    for start in range(0, len(df), chunk_rows):
        if start:
            progress.report("loading", table.name, start, len(df), "rows", part, parts)
        values = _storage_values(df.iloc[start:start + chunk_rows], table)
        if pg:
            buf = io.StringIO()
            # the null marker is random per chunk, so no cell (a literal \\N, say) can be read as null; short,
            # as pandas cuts na_rep of float columns to 32 characters
            null = _null_marker()
            pd.DataFrame(values).to_csv(buf, index=False, header=False, na_rep=null)
            buf.seek(0)
            sql = f"COPY {prep.quote(table.name)} ({names}) FROM STDIN WITH (FORMAT csv, NULL '{null}')"
            conn.connection.dbapi_connection.cursor().copy_expert(sql, buf)  # same transaction
        elif conn.dialect.name == "sqlite":
            marks = ", ".join("?" * len(cols))
            conn.exec_driver_sql(f"INSERT INTO {prep.quote(table.name)} ({names}) VALUES ({marks})",
                                 _rows(values))
        else:
            conn.execute(table.insert(), [dict(zip(cols, r, strict=True)) for r in _rows(values)])


def _insert_bulk(conn: Connection, table: sa.Table, df: pd.DataFrame, part: int = 0, parts: int = 0) -> None:
    """Insert; for big frames drop the table's secondary indexes first and rebuild them after."""
    indexes = list(table.indexes) if len(df) > BULK_ROWS else []
    for index in indexes:
        index.drop(conn, checkfirst=True)
    _insert(conn, table, df, part, parts)
    for index in indexes:
        index.create(conn)


def _create_inferred(conn: Connection, name: str, df: pd.DataFrame) -> sa.Table:
    """(Re)create a non-declared table with column types inferred from the frame, in this transaction."""
    df.head(0).to_sql(name, conn, if_exists="replace", index=False)
    return sa.Table(name, sa.MetaData(), autoload_with=conn)


def write_tables(conn: Connection, frames: Mapping[str, pd.DataFrame],
                 drop: Iterable[str] = ()) -> dict[str, int]:
    """`replace_tables` inside a transaction the caller holds open on `conn`."""
    declared = [n for n in TABLE_ORDER if n in frames]
    others = [n for n in frames if n not in metadata.tables]
    for name in drop:
        if name not in metadata.tables and name not in frames:
            sa.Table(name, sa.MetaData()).drop(conn, checkfirst=True)
    if declared and conn.dialect.name == "postgresql":  # transactional, and no dead tuples
        prep = conn.dialect.identifier_preparer
        conn.exec_driver_sql(f"TRUNCATE {', '.join(prep.quote(n) for n in declared)}")
    else:
        for name in reversed(declared):
            conn.execute(metadata.tables[name].delete())
    counts: dict[str, int] = {}
    order = declared + others
    for part, name in enumerate(order, 1):
        df = frames[name]
        table = metadata.tables[name] if name in metadata.tables else _create_inferred(conn, name, df)
        t0 = time.perf_counter()
        _insert_bulk(conn, table, df, part, len(order))
        log.info("wrote %s: %s rows in %.1fs", name, f"{len(df):,}", time.perf_counter() - t0)
        counts[name] = len(df)
    return counts


def replace_tables(frames: Mapping[str, pd.DataFrame], engine: Engine | None = None,
                   drop: Iterable[str] = ()) -> dict[str, int]:
    """Replace the rows of each given table, all in ONE transaction (all or nothing).

    Declared tables (contract and app tables) keep their schema: delete, then bulk insert.
    Other tables (`truth_*`, model results) are recreated with a schema inferred from the frame.
    Tables named in `drop` are dropped in the same transaction. Returns rows written per table."""
    with (engine or get_engine()).begin() as conn:
        return write_tables(conn, frames, drop)


def insert_rows(name: str, rows: pd.DataFrame | list[dict[str, Any]],
                engine: Engine | None = None) -> int:
    """Append rows to a declared table (e.g. csm_actions, leader_commits) in one transaction."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    with (engine or get_engine()).begin() as conn:
        _insert(conn, metadata.tables[name], df)
    return len(df)


# ----------------------------------------------------------------------------- reading
def _kind(col: sa.Column) -> str | None:
    """The contract kind that parses a column of this SQL type (None: leave the values alone)."""
    for sql_type, kind in ((sa.Date, "date"), (sa.DateTime, "datetime"), (sa.Boolean, "bool"),
                           (sa.Integer, "int"), (sa.Float, "float"), (sa.Numeric, "float"),
                           (sa.String, "str")):
        if isinstance(col.type, sql_type):
            return kind
    return None


def _fetch(conn: Connection, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
    """Run a SELECT into a frame; on PostgreSQL through COPY (all cells as text, nulls as NaN)."""
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        compiled = sa.text(sql).bindparams(**params).compile(dialect=conn.dialect) if params \
            else sa.text(sql).compile(dialect=conn.dialect)
        cursor = conn.connection.dbapi_connection.cursor()
        query = cursor.mogrify(compiled.string, compiled.params).decode()
        buf = io.StringIO()
        null = _null_marker()  # random: no stored text (a literal \\N, say) reads as null
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true, NULL '{null}')", buf)
        buf.seek(0)
        return pd.read_csv(buf, dtype=str, keep_default_na=False, na_values=[null])
    return pd.read_sql(sa.text(sql), conn, params=dict(params))


def read_table(name: str, engine: Engine | None = None, columns: list[str] | None = None,
               where: str | None = None, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A whole table (or `columns`, rows matching the SQL `where` with bound `params`) as a typed frame.

    Dates come back as datetime64[ns] (midnight for DATE), booleans as bool, contract tables with
    exactly the dtypes that `contract.validate` produces."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        table = metadata.tables.get(name)
        if table is None:
            if not sa.inspect(conn).has_table(name):
                raise KeyError(f"table {name!r} does not exist in {mask_url(engine.url)}")
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        cols = [table.c[c] for c in columns] if columns else list(table.columns)
        prep = conn.dialect.identifier_preparer
        sql = f"SELECT {', '.join(prep.quote(c.name) for c in cols)} FROM {prep.quote(name)}"
        df = _fetch(conn, sql + (f" WHERE {where}" if where else ""), params or {})
    spec = contract.SPECS.get(name)
    for col in cols:
        kind = spec.column(col.name).kind if spec else _kind(col)
        if kind is None:
            continue
        typed = contract.parse_column(df[col.name], kind, col.nullable if spec else True)[0]
        if not spec and kind == "int" and not typed.isna().any():
            typed = typed.astype("int64")
        elif not spec and kind == "bool" and not typed.isna().any():
            typed = typed.astype(bool)
        df[col.name] = typed
    return df
