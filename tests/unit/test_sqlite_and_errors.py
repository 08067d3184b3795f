"""SQLite in WAL mode with a busy timeout; database errors explained in one sentence; churn-fit reads only CSV."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from services import db
from services.churn.custom import TableError, read_source


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = db.get_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_MS


def test_a_reader_is_not_blocked_by_a_long_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    writer, reader = db.get_engine(url), db._create_engine(url)
    with writer.begin() as conn:
        conn.execute(db.IMPORTS.insert(), [{"import_id": "x", "started_at": pd.Timestamp("2024-01-01"),
                                            "source": "s", "status": "running"}])
        t0 = time.perf_counter()
        with reader.connect() as r:  # the write transaction is still open
            assert r.execute(sa.text("SELECT COUNT(*) FROM imports")).scalar() == 0
        assert time.perf_counter() - t0 < 2
    reader.dispose()


def test_database_is_locked_names_the_real_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    db.get_engine(url)
    monkeypatch.setattr(db, "SQLITE_BUSY_MS", 100)
    first, second = db._create_engine(url), db._create_engine(url)
    with first.begin() as conn:
        conn.execute(sa.text("DELETE FROM imports"))
        with pytest.raises(sa.exc.OperationalError) as err, second.begin() as other:
            other.execute(sa.text("DELETE FROM imports"))
    message = db.explain_error(err.value, url)
    assert "is busy: another process (an import or a training run)" in message and "Traceback" not in message
    first.dispose()
    second.dispose()


def test_lost_connection_message_masks_the_password() -> None:
    exc = sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    message = db.explain_error(exc, "postgresql://u:secret@h/db")
    assert message.startswith("Lost the connection to the database") and "secret" not in message


def test_churn_fit_reads_only_csv_files_and_never_echoes_content(tmp_path: Path, engine) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$very-secret-hash:19000:0:99999:7:::\n")
    for source in (str(secret), "/etc/passwd", "http://169.254.169.254/latest.csv", str(tmp_path / "nope.csv")):
        with pytest.raises(TableError) as err:
            read_source(source, engine)
        assert "secret" not in str(err.value) and "root:" not in str(err.value)
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b'a,b\n"root:very-secret,1\n' + b"\xff\xfe" * 10)
    with pytest.raises(TableError, match="cannot be read as a CSV file") as err:
        read_source(str(broken), engine)
    assert "secret" not in str(err.value)
    good = tmp_path / "ok.csv"
    good.write_text("id,label\n1,0\n")
    assert read_source(str(good), engine).shape == (1, 2)
