"""The analytical engine's reads (SQL database as Arrow, Parquet) and the registry's bulk writes, on every
database backend: what comes back equals what `services.db.read_table` and `pd.read_sql` see."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db, registry
from services.contract import validate
from services.engine import Analytics, analytics, read_arrow


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.sort_values(list(got.columns[:1])).reset_index(drop=True)
    want = want.sort_values(list(want.columns[:1])).reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    for c in want.columns:
        g, w = got[c], want[c]
        if pd.api.types.is_datetime64_any_dtype(w):
            assert (pd.to_datetime(g).fillna(pd.Timestamp(0)) == w.fillna(pd.Timestamp(0))).all(), c
        elif pd.api.types.is_float_dtype(w):
            np.testing.assert_array_equal(g.to_numpy(float), w.to_numpy(float), err_msg=c)
        else:
            assert g.astype(object).where(g.notna(), None).tolist() == \
                w.astype(object).where(w.notna(), None).tolist(), c


def test_sql_tables_reach_the_engine_typed_like_read_table(engine: Engine, valid_frames: dict) -> None:
    db.replace_tables(validate(valid_frames).frames, engine)
    for name in ("subscriptions", "usage_monthly", "metric_catalog", "support_cases", "accounts"):
        want = db.read_table(name, engine)
        got = read_arrow(name, engine).to_pandas()
        for c in got.columns:
            if pd.api.types.is_datetime64_any_dtype(got[c]):
                got[c] = got[c].astype("datetime64[ns]")
        assert len(got) == len(want) > 0, name
        _same(got[list(want.columns)], want)
    ax = analytics()
    counted = ax.to_pandas(ax.table("usage_monthly", engine).group_by("account_id").aggregate(n=lambda t: t.count()))
    assert counted["n"].sum() == len(db.read_table("usage_monthly", engine))


def test_parquet_tables_are_read_in_place(engine: Engine, valid_frames: dict, tmp_path) -> None:
    db.replace_tables(validate(valid_frames).frames, engine)
    want = db.read_table("usage_monthly", engine)
    pq.write_table(read_arrow("usage_monthly", engine), tmp_path / "usage_monthly.parquet")
    ax = Analytics("duckdb", analytics().backend, tmp_path)
    got = ax.to_pandas(ax.table("usage_monthly", engine))
    _same(got[list(want.columns)], want)


def test_bulk_writes_round_trip_every_type(engine: Engine) -> None:
    frame = pd.DataFrame({"account_id": ["A2", "A1", None], "p": [0.25, np.nan, 1e-17],
                          "n": [3, 4, 5], "flag": [True, False, True],
                          "score_date": pd.to_datetime(["2026-01-31", "2026-02-28 13:45:10.123456", None], format="ISO8601"),
                          "note": ['he said "no", twice', "", "line\nbreak"]})
    v = registry.new_version("bulk_test", pd.Timestamp("2026-02-28"))
    assert registry.write_results(engine, "bulk_test_rows", frame, v) == 3
    with engine.connect() as conn:
        back = pd.read_sql(sa.text('SELECT * FROM "bulk_test_rows" ORDER BY n'), conn)
    assert back["account_id"].tolist() == ["A2", "A1", None]
    np.testing.assert_array_equal(back["p"].to_numpy(float), frame["p"].to_numpy(float))
    assert back["n"].tolist() == [3, 4, 5] and back["flag"].astype(bool).tolist() == [True, False, True]
    assert pd.to_datetime(back["score_date"], format="ISO8601").tolist()[:2] == frame["score_date"].tolist()[:2]
    assert pd.isna(back["score_date"].iloc[2])
    assert back["note"].tolist() == frame["note"].tolist()
    assert set(back["model_version"]) == {v.version}
    registry.write_results(engine, "bulk_test_rows", frame.head(1), v)  # rewriting a version replaces it
    with engine.connect() as conn:
        assert conn.execute(sa.text('SELECT COUNT(*) FROM "bulk_test_rows"')).scalar() == 1


def test_declared_lookup_indexes_exist_also_on_tables_created_before(engine: Engine) -> None:
    from services.results import Column, ResultTable

    plain = ResultTable("lookup_test_rows", None, "test", (Column("account_id", "text"), Column("score_date", "date")),
                        keys=("score_date",))
    indexed = ResultTable(plain.name, None, "test", plain.columns, keys=("score_date",), indexes=(("account_id",),))
    frame = pd.DataFrame({"account_id": ["A1"], "score_date": [pd.Timestamp("2026-01-31")]})
    v = registry.new_version("lookup_test", pd.Timestamp("2026-01-31"))
    registry.write_results(engine, plain, frame, v)
    names = {i["name"] for i in sa.inspect(engine).get_indexes(plain.name)}
    assert "ix_lookup_test_rows_version_account_id" not in names
    registry.write_results(engine, indexed, frame, v)
    idx = {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes(plain.name)}
    assert idx["ix_lookup_test_rows_version_account_id"] == ["model_version", "account_id"]
    assert idx["ix_lookup_test_rows_version"] == ["model_version", "score_date"]


def test_sqlite_file_is_read_through_the_process_own_sqlite_library(tmp_path) -> None:
    """A second SQLite library in the process (ADBC's, DuckDB's scanner) does not see pysqlite's locks: its open
    truncated the WAL index under pysqlite's memory map and the next write died of SIGBUS (`make db`, 5,000
    accounts). The read must go through the connections SQLAlchemy uses, and writes go on after it."""
    import subprocess
    import sys
    from pathlib import Path
    script = f"""
import sys
import pandas as pd
from services import db
from services.engine import read_arrow
e = db.get_engine("sqlite:///{tmp_path / 'wal.db'}")
with e.begin() as c:
    c.exec_driver_sql("CREATE TABLE t (a INTEGER, b TEXT)")
for i in range(3):
    with e.begin() as c:
        c.exec_driver_sql("INSERT INTO t VALUES (?, ?)", [(j, "x" * 40) for j in range(50_000)])
    assert read_arrow("t", e).num_rows == 50_000 * (i + 1)
print(sorted(m for m in sys.modules if m.startswith("adbc_driver_sqlite")))
"""
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], check=False, cwd=repo, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
