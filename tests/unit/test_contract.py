"""The data contract: every kind of bad input fails its own rule, clearly, with samples."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from services.config import REPO_ROOT
from services.contract import SPECS, TABLES, contract_markdown, validate

Frames = dict[str, pd.DataFrame]


def _set(table: str, row: int, column: str, value: object) -> Callable[[Frames], None]:
    def apply(frames: Frames) -> None:
        frames[table].loc[row, column] = value
    return apply


def _drop_column(table: str, column: str) -> Callable[[Frames], None]:
    def apply(frames: Frames) -> None:
        frames[table] = frames[table].drop(columns=[column])
    return apply


def _duplicate_row(table: str, row: int) -> Callable[[Frames], None]:
    def apply(frames: Frames) -> None:
        frames[table] = pd.concat([frames[table], frames[table].iloc[[row]]], ignore_index=True)
    return apply


def _drop_table(table: str) -> Callable[[Frames], None]:
    def apply(frames: Frames) -> None:
        del frames[table]
    return apply


def _with_stages(frames: Frames) -> None:
    """A company's own picklist, other names than the sample's: the sample's deals renamed onto it."""
    frames["stages"] = pd.DataFrame({"stage": ["Lead", "Demo", "Signed", "Dead"], "stage_order": ["0", "1", "2", "3"],
                                     "is_closed": ["false", "false", "true", "true"],
                                     "is_won": ["false", "false", "true", "false"],
                                     "default_probability": ["0.1", "0.4", "1", None]})
    rename = {"Qualify": "Lead", "Propose": "Demo", "Closed Won": "Signed", "Closed Lost": "Dead"}
    for table in ("opportunities", "opportunity_history"):
        frames[table]["stage"] = frames[table]["stage"].replace(rename)


BAD_CASES = {
    "wrong type: date": (_set("accounts", 0, "created_date", "last tuesday"),
                         "accounts", "created_date must be a date"),
    "wrong type: number": (_set("subscriptions", 1, "arr_usd", "12k"),
                           "subscriptions", "arr_usd must be a number"),
    "wrong type: integer": (_set("support_cases", 0, "severity", "2.5"),
                            "support_cases", "severity must be an integer"),
    "wrong type: boolean": (_set("opportunities", 0, "is_won", "maybe"),
                            "opportunities", "is_won must be a boolean"),
    "missing column": (_drop_column("subscriptions", "arr_usd"),
                       "subscriptions", "required column arr_usd missing"),
    "duplicate id": (_set("accounts", 2, "account_id", "A000001"), "accounts", "account_id unique"),
    "duplicate composite key": (_duplicate_row("usage_monthly", 0), "usage_monthly",
                                "(account_id, product_id, metric_id, month) unique"),
    "dangling foreign key": (_set("subscriptions", 0, "account_id", "A999999"), "subscriptions",
                             "account_id references accounts.account_id"),
    "dangling renewal_of": (_set("subscriptions", 1, "renewal_of", "S9999999"), "subscriptions",
                            "renewal_of references subscriptions.subscription_id"),
    "dangling manager": (_set("people", 3, "manager_id", "P9999"), "people",
                         "manager_id references people.person_id"),
    "value not allowed": (_set("products", 0, "pricing_model", "Huge"), "products", "pricing_model in {"),
    "negative amount": (_set("subscriptions", 0, "arr_usd", "-5"), "subscriptions", "arr_usd >= 0"),
    "severity out of range": (_set("support_cases", 0, "severity", "9"), "support_cases",
                              "severity between 1 and 4"),
    "empty required cell": (_set("accounts", 1, "name", None), "accounts", "name not empty"),
    "end before start": (_set("subscriptions", 0, "end_date", "2022-01-01"), "subscriptions",
                         "end_date >= start_date"),
    "close before created": (_set("opportunities", 1, "close_date", "2020-01-01"), "opportunities",
                             "close_date >= created_date"),
    "month not first day": (_set("usage_monthly", 0, "month", "2024-03-15"), "usage_monthly",
                            "month is the first day of a month"),
    "owner not a rep": (_set("accounts", 0, "owner_id", "P0003"), "accounts",
                        "owner_id is a person with role rep"),
    "metric of another product": (_set("usage_monthly", 3, "metric_id", "crm_reports"),
                                  "usage_monthly", "metric_id belongs to product_id"),
    "closed flag contradicts stage": (lambda f: (_with_stages(f), _set("opportunities", 1, "is_closed", "true")(f)),
                                      "opportunities", "is_closed agrees with its stage's is_closed"),
    "stage not in the picklist": (lambda f: (_with_stages(f), _set("opportunity_history", 0, "stage", "Won-ish")(f)),
                                  "opportunity_history", "stage references stages.stage"),
    "closed stage before an open one": (lambda f: (_with_stages(f), _set("stages", 0, "stage_order", "9")(f)),
                                        "stages", "open stages come before closed ones"),
    "won stage not closed": (lambda f: (_with_stages(f), _set("stages", 2, "is_closed", "false")(f)),
                             "stages", "a won stage is closed"),
    "bad quarter": (_set("commits", 0, "quarter", "Q3-2024"), "commits", "quarter matches"),
    "missing table": (_drop_table("products"), "products", "required table missing"),
}


def test_valid_dataset_passes_and_is_coerced(valid_frames: Frames) -> None:
    report = validate(valid_frames)
    assert report.ok, report.format()
    accounts = report.frames["accounts"]
    assert list(accounts.columns) == SPECS["accounts"].column_names
    assert accounts["created_date"].dtype == "datetime64[ns]"
    assert report.frames["metric_catalog"]["higher_is_better"].dtype == bool
    assert report.frames["subscriptions"]["arr_usd"].dtype == float
    assert str(report.frames["support_cases"]["csat"].dtype) == "Int64"
    assert report.frames["commits"]["submitted_at"].iloc[0] == pd.Timestamp("2024-07-02 09:30")


def test_optional_tables_may_be_absent(valid_frames: Frames) -> None:
    del valid_frames["commits"]
    assert validate(valid_frames).ok
    assert all(not s.optional for s in TABLES if s.name not in ("commits", "quotas", "stages", "support_cases", "company"))


def test_extra_columns_are_ignored_and_nullable_columns_may_be_missing(valid_frames: Frames) -> None:
    valid_frames["accounts"]["comment"] = "x"
    valid_frames["accounts"] = valid_frames["accounts"].drop(columns=["csm_id"])
    report = validate(valid_frames)
    assert report.ok, report.format()
    assert "comment" not in report.frames["accounts"]
    assert report.frames["accounts"]["csm_id"].isna().all()


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_fails_its_rule(valid_frames: Frames, case: str) -> None:
    mutate, table, rule = BAD_CASES[case]
    mutate(valid_frames)
    report = validate(valid_frames)
    assert not report.ok and report.frames == {}
    hits = [f for f in report.failures if f.table == table and rule in f.rule]
    assert hits, report.format()
    if "missing" not in case:
        assert hits[0].failed_count >= 1 and 1 <= len(hits[0].sample) <= 5
    assert rule in report.format()


def test_every_failed_rule_is_reported_at_once(valid_frames: Frames) -> None:
    for mutate, _, _ in (BAD_CASES["wrong type: date"], BAD_CASES["duplicate id"],
                         BAD_CASES["dangling foreign key"], BAD_CASES["negative amount"]):
        mutate(valid_frames)
    rules = {f.rule for f in validate(valid_frames).failures}
    assert {"created_date must be a date (YYYY-MM-DD)", "account_id unique",
            "account_id references accounts.account_id", "arr_usd >= 0"} <= rules


def test_unparseable_cell_does_not_cascade_into_foreign_key_failures(valid_frames: Frames) -> None:
    BAD_CASES["wrong type: date"][0](valid_frames)
    assert [f.rule for f in validate(valid_frames).failures] == [
        "created_date must be a date (YYYY-MM-DD)"]


def test_unknown_table_is_reported(valid_frames: Frames) -> None:
    valid_frames["acounts"] = valid_frames["accounts"]
    assert any(f.table == "acounts" and "unknown table" in f.rule
               for f in validate(valid_frames).failures)


def test_sample_rows_point_at_the_file_line(valid_frames: Frames) -> None:
    valid_frames["accounts"].loc[2, "created_date"] = "someday"
    failure = validate(valid_frames).failures[0]
    assert failure.sample == [{"row": 3, **valid_frames["accounts"].iloc[2].to_dict()}]


def test_contract_doc_is_up_to_date() -> None:
    doc = REPO_ROOT / "docs" / "data-contract.md"
    assert doc.read_text() == contract_markdown(), (
        "docs/data-contract.md is stale: run python -c 'from services.contract import "
        "contract_markdown as m; open(\"docs/data-contract.md\", \"w\").write(m())'")


def test_a_company_brings_its_own_stage_picklist(valid_frames: Frames) -> None:
    _with_stages(valid_frames)
    report = validate(valid_frames)
    assert report.ok, report.format()
    assert report.frames["stages"]["stage"].tolist() == ["Lead", "Demo", "Signed", "Dead"]


def test_without_a_stages_table_it_is_derived_from_the_deals(valid_frames: Frames) -> None:
    report = validate(valid_frames)
    assert report.ok, report.format()
    stages = report.frames["stages"].set_index("stage")
    assert report.row_counts["stages"] == len(stages)
    won, lost = stages[stages.is_won].index.tolist(), stages[stages.is_closed & ~stages.is_won].index.tolist()
    assert won == ["Closed Won"] and lost == ["Closed Lost"]
    opened = stages[~stages.is_closed].sort_values("stage_order").index.tolist()
    assert opened == ["Qualify", "Propose"]  # the order deals pass through them
    assert stages.stage_order.max() == len(stages) - 1
