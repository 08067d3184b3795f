"""services.overview and services.hierarchy on every database backend, with the hand-made dataset."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from services import overview as ov
from services.hierarchy import Scope, regions, resolve_scope, scope_people
from services.importer import import_frames

AS_OF = dt.date(2024, 3, 15)


def _load(engine, valid_frames) -> None:
    import_frames(valid_frames, "test", engine)


def test_summary_counts_active_subscriptions(engine, valid_frames) -> None:
    _load(engine, valid_frames)
    summary = ov.overview(engine, AS_OF)
    # On 15 Mar 2024: S0000002 (A000001, 14,400) and S0000003 (A000002, 50,000, ends 1 Apr 2024).
    assert summary.customers == 2
    assert summary.arr_usd == 64_400
    assert (summary.renewals_due_count, summary.renewals_due_arr_usd) == (1, 50_000)
    assert dict(zip(summary.arr_by_segment["segment"], summary.arr_by_segment["arr_usd"])) == {
        "Enterprise": 50_000, "SMB": 14_400}
    assert summary.renewals_by_month["month"].tolist() == [pd.Timestamp("2024-04-01"), pd.Timestamp("2025-02-01")]


def test_scope_filters_by_owner(engine, valid_frames) -> None:
    _load(engine, valid_frames)
    assert ov.overview(engine, AS_OF, Scope(rep_id="P0004")).customers == 1
    assert ov.overview(engine, AS_OF, Scope(region="EMEA")).customers == 2


def test_as_of_choices_and_freshness(engine, valid_frames) -> None:
    assert ov.as_of_choices(engine) == [] and not ov.has_accounts(engine)
    _load(engine, valid_frames)
    choices = ov.as_of_choices(engine)
    assert choices[0] == dt.date(2024, 7, 3)  # latest observed date (a commit)
    assert dt.date(2024, 3, 31) in choices and choices == sorted(choices, reverse=True)
    fresh = ov.freshness(engine, choices[0]).set_index("table")
    assert fresh.loc["usage_monthly", "latest_date"] == pd.Timestamp("2024-04-30")
    assert fresh.loc["quotas", "status"] == "empty" and fresh.loc["people", "status"] == "reference"
    assert ov.last_import(engine)["status"] == "success"
    assert ov.last_training(engine) is None


def test_scope_people_walks_the_tree(valid_frames) -> None:
    people = valid_frames["people"]
    assert scope_people(people, "P0003") == {"P0003", "P0004", "P0005"}
    assert scope_people(people, "P0001") == set(people["person_id"])
    assert resolve_scope(people, Scope()) is None
    assert regions(people) == ["EMEA"]
