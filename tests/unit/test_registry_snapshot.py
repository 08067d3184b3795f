"""registry.read_snapshot: the latest snapshot at or before a date, chosen in SQL, on every backend."""
from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from services import registry
from services.results import Column as C
from services.results import ResultTable

SNAP = ResultTable("test_snapshots", "snapmodel", "rows per score date",
                   (C("account_id", "text"), C("score_date", "date"), C("probability", "float")),
                   keys=("score_date",))
DATES = pd.to_datetime(["2026-01-31", "2026-02-28", "2026-03-31"])


def _write(engine, model: str = "snapmodel", shift: float = 0.0) -> registry.Version:
    version = registry.new_version(model, DATES[-1])
    frame = pd.DataFrame({"account_id": [f"A{i}" for i in range(3)] * 3, "score_date": DATES.repeat(3),
                          "probability": [0.1 * d + shift for d in range(3) for _ in range(3)]})
    frame = frame[~((frame.score_date == DATES[1]) & (frame.account_id == "A2"))]  # A2 not scored in February
    registry.write_results(engine, SNAP, frame, version)
    registry.record(engine, version, {}, {}, "active")
    return version


def test_picks_the_latest_snapshot_at_or_before_the_date(engine) -> None:
    _write(engine)
    for as_of, want in [("2026-03-31", DATES[2]), ("2026-03-30", DATES[1]), ("2026-02-28", DATES[1]),
                        ("2026-02-28 23:59", DATES[1]), ("2026-01-31", DATES[0]), (None, DATES[2])]:
        got = registry.read_snapshot(engine, SNAP, "score_date", as_of)
        assert got.attrs["snapshot"] == want, as_of
        assert set(got.score_date) == {want}
    assert len(registry.read_snapshot(engine, SNAP, "score_date", "2026-02-28")) == 2


def test_before_the_first_snapshot_is_empty_and_says_so(engine) -> None:
    _write(engine)
    got = registry.read_snapshot(engine, SNAP, "score_date", pd.Timestamp("2026-01-30").date())
    assert got.empty and got.attrs["snapshot"] is None


def test_where_narrows_rows_and_the_snapshot_to_them(engine) -> None:
    _write(engine)
    got = registry.read_snapshot(engine, SNAP, "score_date", "2026-03-15", where="account_id = :a", params={"a": "A2"})
    assert got.attrs["snapshot"] == DATES[0] and list(got.account_id) == ["A2"]


def test_only_the_active_version_is_read(engine) -> None:
    _write(engine)
    _write(engine, shift=0.5)  # the newer version becomes active
    got = registry.read_snapshot(engine, SNAP, "score_date", "2026-03-31")
    assert len(got) == 3 and got.probability.min() >= 0.5
    assert registry.snapshot_dates(engine, SNAP, "score_date") == list(DATES)


def test_reads_only_the_chosen_snapshot(engine) -> None:
    _write(engine)
    statements: list[str] = []

    def seen(conn, cursor, statement, *rest) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        got = registry.read_snapshot(engine, SNAP, "score_date", "2026-02-28")
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(got) == 2
    reads = [s for s in statements if s.startswith("SELECT") and "test_snapshots" in s]
    assert len(reads) == 1 and "MAX" in reads[0]  # one query: the snapshot is chosen in SQL


def test_bad_column_or_no_model_is_a_clear_error(engine) -> None:
    with pytest.raises(ValueError, match="no column 'day'"):
        registry.read_snapshot(engine, SNAP, "day", "2026-01-31")
    with pytest.raises(ValueError, match="which model"):
        registry.read_snapshot(engine, "test_snapshots", "score_date", "2026-01-31")
    assert registry.read_snapshot(engine, SNAP, "score_date", "2026-01-31").attrs["snapshot"] is None  # untrained
