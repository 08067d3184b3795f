"""The database layer: engines, clear unavailability errors, atomic replacement, typed reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from services import db
from services.contract import validate


def test_unreachable_database_is_reported_with_masked_url() -> None:
    url = "postgresql+psycopg2://someone:s3cret@127.0.0.1:1/nowhere"
    with pytest.raises(db.DatabaseUnavailable) as err:
        db.get_engine(url)
    message = str(err.value)
    assert "127.0.0.1:1/nowhere" in message and "someone" in message
    assert "s3cret" not in message and "***" in message


def test_unusable_sqlite_path_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(db.DatabaseUnavailable, match="file/sub"):
        db.get_engine(f"sqlite:///{blocker / 'sub' / 'x.db'}")


def test_engine_is_cached_and_schema_created(db_url: str) -> None:
    engine = db.get_engine(db_url)
    assert db.get_engine(db_url) is engine
    assert {"accounts", "usage_monthly", "imports", "validation_results", "csm_actions",
            "leader_commits"} <= set(db.table_names(engine))


def test_replace_tables_is_all_or_nothing(engine: Engine, valid_frames: dict) -> None:
    frames = validate(valid_frames).frames
    db.replace_tables(frames, engine)
    broken = {"people": frames["people"].iloc[:1],
              "accounts": frames["accounts"].drop(columns=["owner_id"])}
    with pytest.raises(ValueError, match="owner_id"):
        db.replace_tables(broken, engine)
    assert len(db.read_table("people", engine)) == len(frames["people"])


def test_inferred_tables_round_trip_and_can_change_shape(engine: Engine) -> None:
    first = pd.DataFrame({"account_id": ["A1", "A2"], "p": [0.1, None], "flag": [True, False],
                          "n": [1, 2], "as_of": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                          "at": pd.to_datetime(["2024-01-01 10:30:05", None])})
    db.replace_tables({"any_table": first}, engine)
    pd.testing.assert_frame_equal(db.read_table("any_table", engine), first)
    second = pd.DataFrame({"account_id": ["A3"], "score": [3.5]})
    db.replace_tables({"any_table": second}, engine)
    pd.testing.assert_frame_equal(db.read_table("any_table", engine), second)


def test_read_table_columns_and_where(engine: Engine, valid_frames: dict) -> None:
    db.replace_tables(validate(valid_frames).frames, engine)
    got = db.read_table("usage_monthly", engine, columns=["account_id", "month", "value"],
                        where="month >= :m AND value > :v", params={"m": "2024-04-01", "v": 1})
    assert got.to_dict("records") == [{"account_id": "A000001", "month": pd.Timestamp("2024-04-01"),
                                       "value": 10.0}]
    with pytest.raises(KeyError, match="nope"):
        db.read_table("nope", engine)


def test_empty_contract_table_reads_typed(engine: Engine) -> None:
    subs = db.read_table("subscriptions", engine)
    assert subs.empty and subs["start_date"].dtype == "datetime64[ns]"
    assert subs["arr_usd"].dtype == float


def test_insert_rows_appends(engine: Engine) -> None:
    row = {"action_id": "X1", "account_id": "A1", "person_id": "P1", "action_type": "call",
           "created_at": pd.Timestamp("2024-05-01 12:00"), "note": None}
    db.insert_rows("csm_actions", [row], engine)
    db.insert_rows("csm_actions", [{**row, "action_id": "X2"}], engine)
    got = db.read_table("csm_actions", engine)
    assert list(got["action_id"]) == ["X1", "X2"]
    assert got["created_at"].iloc[0] == pd.Timestamp("2024-05-01 12:00")
