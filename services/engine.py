"""The analytical engine: where set-based work (usage aggregates, features, signals) runs.

One engine per process (`analytics()`, cached), chosen by `FORESIGHT_ENGINE`:

- `duckdb` (default): DuckDB embedded, in memory; `make run` needs nothing more.
- `spark`: a PySpark session: the active one when there is one (Databricks, `spark-submit`), else one
  built for `FORESIGHT_SPARK_MASTER` (default `local[2]`).

Features are written once as Ibis expressions over `Analytics.table(name, db)` and run on either.
Raw tables are read in place: from Parquet when `FORESIGHT_PARQUET_DIR` holds `<table>.parquet` (a file
or a folder of files, the layout Spark writes), else from the SQL database as Arrow (ADBC for SQLite
and PostgreSQL: columnar, no row-by-row Python; other databases through SQLAlchemy), typed by the data
contract (ids and text as strings, dates as timestamps, numbers as float64). App state (people's inputs,
the registry, results) stays in the SQL database; only the heavy reads go through here.
"""
from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Engine

from services import contract

log = logging.getLogger(__name__)

ENGINE_ENV = "FORESIGHT_ENGINE"
PARQUET_ENV = "FORESIGHT_PARQUET_DIR"
SPARK_MASTER_ENV = "FORESIGHT_SPARK_MASTER"
SPARK_MEMORY_ENV = "FORESIGHT_SPARK_DRIVER_MEMORY"
KINDS = ("duckdb", "spark")
ARROW_TYPES = {"id": pa.string(), "str": pa.string(), "date": pa.timestamp("us"), "float": pa.float64(),
               "int": pa.int64(), "bool": pa.bool_()}


def engine_kind() -> str:
    """`FORESIGHT_ENGINE` (duckdb or spark; duckdb when unset)."""
    kind = os.environ.get(ENGINE_ENV, "").strip().lower() or "duckdb"
    if kind not in KINDS:
        raise ValueError(f"{ENGINE_ENV}={kind!r}: expected one of {', '.join(KINDS)}")
    return kind


def parquet_dir() -> Path | None:
    value = os.environ.get(PARQUET_ENV, "").strip()
    return Path(value) if value else None


@dataclass
class Analytics:
    """An Ibis backend plus the way raw tables reach it."""

    kind: str
    backend: Any  # ibis.BaseBackend
    parquet: Path | None = None

    def table(self, name: str, db: Engine, columns: list[str] | None = None) -> ibis.Table:
        """Raw table `name` as an Ibis table on this engine (Parquet when present, else the SQL database)."""
        path = self._parquet_path(name)
        if path is not None:
            t = self.backend.read_parquet(str(path))
            t = _typed(t, name)
            return t.select(*columns) if columns else t
        return ibis.memtable(read_arrow(name, db, columns))

    def _parquet_path(self, name: str) -> Path | None:
        if self.parquet is None:
            return None
        for candidate in (self.parquet / f"{name}.parquet", self.parquet / name):
            if candidate.exists():
                return candidate
        return None

    def to_pandas(self, expr: ibis.Expr) -> pd.DataFrame:
        """Execute `expr` on this engine; timestamps come back as datetime64[ns] (pandas' default)."""
        df = self.backend.execute(expr)
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c]):
                df[c] = df[c].astype("datetime64[ns]")
        return df


def memtable(df: pd.DataFrame) -> ibis.Table:
    """A pandas frame as an Ibis table that any engine can run (categoricals as text, dates as timestamps)."""
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
        elif pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].astype("datetime64[us]")
    return ibis.memtable(pa.Table.from_pandas(out, preserve_index=False))


def _typed(t: ibis.Table, name: str) -> ibis.Table:
    """Cast a Parquet table's columns to the contract's types (a foreign writer may differ)."""
    spec = contract.SPECS.get(name)
    if spec is None:
        return t
    kinds = {"id": "string", "str": "string", "date": "timestamp", "float": "float64", "int": "int64",
             "bool": "boolean"}
    casts = {c.name: t[c.name].cast(kinds[c.kind]) for c in spec.columns if c.name in t.columns}
    return t.mutate(**casts)


def read_arrow(name: str, db: Engine, columns: list[str] | None = None) -> pa.Table:
    """Table `name` of the SQL database as Arrow, typed by the data contract (columnar transfer)."""
    spec = contract.SPECS.get(name)
    cols = columns or ([c.name for c in spec.columns] if spec else None)
    select = ", ".join(f'"{c}"' for c in cols) if cols else "*"
    sql = f'SELECT {select} FROM "{name}"'
    backend = db.url.get_backend_name()
    if backend == "sqlite":
        # Through the process's own SQLite library (the one SQLAlchemy's connections use), never a second one
        # (ADBC's or DuckDB's sqlite scanner): two SQLite libraries in one process do not see each other's
        # locks, so the second one's open took itself for the only connection and truncated the WAL index
        # (the -shm file) under pysqlite's memory map: "Bus error" in the next write (seen in `make db`'s
        # expansion job at 5,000 accounts). SQLite is typed per value: ids, text and dates are read as text
        # (cast by the contract below), NULLs as a sentinel so that each column reads as one type.
        query = f'SELECT {", ".join(_sqlite_select(c, spec) for c in cols)} FROM "{name}"' if cols else sql
        with db.connect() as conn:
            cur = conn.connection.cursor()
            try:
                cur.execute(query)
                names = [d[0] for d in cur.description]
                columns_ = list(zip(*cur.fetchall())) or [() for _ in names]
            finally:
                cur.close()
        table = _sqlite_nulls(pa.table({n: pa.array(list(v)) for n, v in zip(names, columns_)}))
    elif backend == "postgresql":
        import adbc_driver_postgresql.dbapi as adbc

        url = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with adbc.connect(url) as conn, conn.cursor() as cur:
            cur.execute(sql)
            table = cur.fetch_arrow_table()
    else:  # any other SQLAlchemy database (and in-memory SQLite): through pandas
        from services.db import read_table

        table = pa.Table.from_pandas(read_table(name, db, columns=cols), preserve_index=False)
    return _cast_arrow(table, name)


_NULL_TEXT, _NULL_INT = "\x01", -(2**63) + 1  # sentinels for NULL in SQLite reads


def _sqlite_select(col: str, spec: contract.TableSpec | None) -> str:
    c = next((x for x in spec.columns if x.name == col), None) if spec else None
    if c is None:
        return f'"{col}"'
    if c.kind in ("id", "str", "date"):
        return f'IFNULL(CAST("{col}" AS TEXT), char(1)) AS "{col}"' if c.nullable else f'CAST("{col}" AS TEXT) AS "{col}"'
    if c.nullable and c.kind in ("int", "bool"):
        return f'IFNULL(CAST("{col}" AS INTEGER), {_NULL_INT}) AS "{col}"'
    return f'"{col}"'


def _sqlite_nulls(table: pa.Table) -> pa.Table:
    cols = {}
    for name in table.column_names:
        arr = table[name]
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            arr = pc.if_else(pc.equal(arr, _NULL_TEXT), pa.scalar(None, arr.type), arr)
        elif pa.types.is_integer(arr.type):
            arr = pc.if_else(pc.equal(arr, _NULL_INT), pa.scalar(None, arr.type), arr)
        cols[name] = arr
    return pa.table(cols)


def _cast_arrow(table: pa.Table, name: str) -> pa.Table:
    spec = contract.SPECS.get(name)
    if spec is None:
        return table
    out = {}
    for col in table.column_names:
        arr = table[col]
        kind = spec.column(col).kind if col in {c.name for c in spec.columns} else None
        target = ARROW_TYPES.get(kind) if kind else None
        if target is None or arr.type == target:
            out[col] = arr
        elif kind == "date" and pa.types.is_string(arr.type):
            out[col] = pc.cast(pc.utf8_slice_codeunits(arr, 0, 19).cast(pa.string()), pa.timestamp("us"))
        elif kind == "bool" and pa.types.is_string(arr.type):
            out[col] = pc.cast(pc.cast(arr, pa.int64()), pa.bool_())
        else:
            out[col] = pc.cast(arr, target)
    return pa.table(out)


def _spark_backend() -> Any:
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        master = os.environ.get(SPARK_MASTER_ENV, "").strip() or "local[2]"
        memory = os.environ.get(SPARK_MEMORY_ENV, "").strip() or "4g"  # tables from the database go through the driver
        session = (SparkSession.builder.master(master).appName("foresight")
                   .config("spark.driver.memory", memory)
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.ui.enabled", "false").getOrCreate())
    return ibis.pyspark.connect(session)


@functools.cache
def analytics(kind: str | None = None) -> Analytics:
    """The process's analytical engine (cached): `kind` or `FORESIGHT_ENGINE`."""
    kind = kind or engine_kind()
    if kind == "spark":
        backend = _spark_backend()
    else:
        backend = ibis.duckdb.connect()
        threads = os.environ.get("FORESIGHT_ENGINE_THREADS", "").strip()
        if threads:
            backend.raw_sql(f"SET threads = {int(threads)}")
    log.info("analytical engine: %s%s", kind, f" (Parquet from {parquet_dir()})" if parquet_dir() else "")
    return Analytics(kind, backend, parquet_dir())
