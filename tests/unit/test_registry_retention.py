"""Retention of result versions: the active one, the one rollback restores and pending candidates keep
their rows; older versions are pruned after each training job."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import registry


def _train(engine: Engine, n: int, status: str) -> registry.Version:
    v = registry.new_version("keep_test", pd.Timestamp("2026-01-31"))
    v.created_at = dt.datetime(2026, 1, 1) + dt.timedelta(hours=n)
    registry.start(engine, v)
    registry.write_results(engine, "keep_test_rows", pd.DataFrame({"account_id": ["A1", "A2"], "n": [n, n]}), v)
    registry.record(engine, v, {}, {}, status)
    registry.prune(engine, "keep_test")
    return v


def _rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        got = conn.execute(sa.text('SELECT model_version, COUNT(*) FROM "keep_test_rows" GROUP BY model_version'))
        return dict(got.all())


def test_old_versions_are_pruned_and_rollback_still_works(engine: Engine) -> None:
    v1 = _train(engine, 1, "active")
    v2 = _train(engine, 2, "active")
    assert set(_rows(engine)) == {v1.version, v2.version}  # active + previous
    v3 = _train(engine, 3, "active")
    assert set(_rows(engine)) == {v2.version, v3.version}
    status = registry.versions(engine, "keep_test").set_index("version")["status"]
    assert status[v1.version] == "pruned"
    v4 = _train(engine, 4, "rejected")  # a candidate waiting for `models activate`: kept
    assert set(_rows(engine)) == {v2.version, v3.version, v4.version}
    assert registry.rollback(engine, "keep_test") == v2.version
    with pytest.raises(LookupError):  # v1 was pruned: nothing further back to restore
        registry.rollback(engine, "keep_test")
    with pytest.raises(ValueError, match="pruned"):
        registry.activate(engine, v1.version)
    registry.activate(engine, v4.version)
    registry.prune(engine, "keep_test")  # v2 is now the previous active one; v3 was rolled back
    assert set(_rows(engine)) == {v2.version, v4.version}
