"""Data health: freshness rules as of a given day, import history and failed contract rules."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from services.importer import ContractViolation, import_frames
from services.monitoring import health


@pytest.fixture()
def loaded(engine, valid_frames):
    import_frames(valid_frames, "sample", engine)
    return engine


def latest(engine, table: str, column: str) -> pd.Timestamp:
    return pd.Timestamp(pd.read_sql(f'SELECT MAX("{column}") AS d FROM "{table}"', engine).d.iloc[0])


def test_freshness_rules_flag_stale_tables(loaded) -> None:
    usage_end = latest(loaded, "usage_monthly", "month") + pd.offsets.MonthEnd(0)
    snap = latest(loaded, "opportunity_history", "snapshot_date")
    day = max(usage_end, snap).date()
    fresh = health.freshness(loaded, today=day).set_index("table")
    assert fresh.loc["usage_monthly", "covers_to"] == usage_end
    # 8 days after the last snapshot: opportunity history (7 days) is stale, usage (35) is not
    later = (snap + pd.Timedelta(days=8)).date()
    stale = set(health.stale_tables(loaded, today=later))
    assert "opportunity_history" in stale
    if (pd.Timestamp(later) - usage_end).days <= 35:
        assert "usage_monthly" not in stale
    far = (usage_end + pd.Timedelta(days=36)).date()
    assert "usage_monthly" in health.stale_tables(loaded, today=far)
    assert any("usage_monthly is" in p for p in health.problems(loaded, today=far))


def test_empty_database_reports_every_rule(engine) -> None:
    f = health.freshness(engine, today=dt.date(2026, 1, 1))
    assert set(f.status) == {"empty"} and len(f) == len(health.RULES)
    assert len(health.problems(engine)) == len(health.RULES)


def test_failed_import_is_kept_with_its_rules(loaded, valid_frames) -> None:
    bad = {k: v.copy() for k, v in valid_frames.items()}
    bad["accounts"].loc[0, "account_id"] = bad["accounts"].loc[1, "account_id"]  # a duplicate key
    with pytest.raises(ContractViolation):
        import_frames(bad, "bad upload", loaded)
    hist = health.import_history(loaded)
    assert hist.status.tolist()[:2] == ["failed", "success"]
    assert hist.failed_rules.iloc[0] >= 1 and hist.rows_loaded.iloc[1] > 0
    rules = health.rule_results(loaded)
    assert (rules.table_name == "accounts").any() and (rules.source == "bad upload").all()
    assert any("latest import (bad upload) failed" in p for p in health.problems(loaded))
