"""The fiscal calendar (services/fiscal.py): quarters of dates for several fiscal year starts, weeks of the
quarter, labels, and where the start month comes from (the `company` table, a mapping file, `seed`)."""

from __future__ import annotations

import pandas as pd
import pytest

from services import cli, contract, db, fiscal, mapping, snapshot
from services.fiscal import CALENDAR, FiscalCalendar

D = pd.Timestamp


@pytest.mark.parametrize(("start", "day", "key", "first", "last"), [
    (1, "2026-02-15", "2026Q1", "2026-01-01", "2026-03-31"),
    (1, "2026-12-31", "2026Q4", "2026-10-01", "2026-12-31"),
    (2, "2026-01-31", "2026Q4", "2025-11-01", "2026-01-31"),  # FY2026 ends in January 2026
    (2, "2026-02-01", "2027Q1", "2026-02-01", "2026-04-30"),  # FY2027 starts in February 2026
    (2, "2026-11-30", "2027Q4", "2026-11-01", "2027-01-31"),
    (4, "2026-03-31", "2026Q4", "2026-01-01", "2026-03-31"),
    (4, "2026-04-01", "2027Q1", "2026-04-01", "2026-06-30"),
    (4, "2026-10-15", "2027Q3", "2026-10-01", "2026-12-31"),
    (11, "2026-10-31", "2026Q4", "2026-08-01", "2026-10-31"),
    (11, "2026-11-01", "2027Q1", "2026-11-01", "2027-01-31"),
    (11, "2027-01-31", "2027Q1", "2026-11-01", "2027-01-31"),
])
def test_quarter_of_a_date(start: int, day: str, key: str, first: str, last: str) -> None:
    cal = FiscalCalendar(start)
    assert cal.key(day) == key
    assert cal.start(day) == D(first) and cal.end(day) == D(last)
    assert cal.start(key) == D(first) and cal.end(cal.period(key)) == D(last)
    q = cal.quarter(day)
    assert (q + 1).start_time.normalize() == D(last) + pd.Timedelta(days=1)  # quarters follow each other


@pytest.mark.parametrize("start", [1, 2, 4, 11])
def test_every_fiscal_quarter_starts_on_a_start_month_and_is_three_months(start: int) -> None:
    days = pd.Series(pd.date_range("2024-01-01", "2027-12-31", freq="D"))
    cal = FiscalCalendar(start)
    starts = cal.quarters(days).dt.start_time
    assert set(starts.dt.month) == {(start - 1 + 3 * k) % 12 + 1 for k in range(4)}
    assert (starts.dt.day == 1).all() and (starts <= days).all()
    assert ((days - starts).dt.days < 92).all()
    fiscal_q1 = days[cal.quarters(days).dt.quarter == 1]
    assert set(fiscal_q1.dt.month) == {start, start % 12 + 1, (start + 1) % 12 + 1}


def test_a_january_start_is_pandas_calendar_quarters() -> None:
    days = pd.Series(pd.date_range("2019-01-01", "2028-12-31", freq="D"))
    assert CALENDAR.freq == pd.Period("2026-01-01", "Q").freqstr
    assert CALENDAR.keys(days).equals(days.dt.to_period("Q").astype(str))
    assert all(CALENDAR.label(k) == k for k in CALENDAR.keys(days).unique())  # pages show what they showed


@pytest.mark.parametrize(("start", "day", "week"), [
    (1, "2026-01-01", 0), (1, "2026-01-07", 0), (1, "2026-01-08", 1), (1, "2026-03-31", 12),
    (2, "2026-02-01", 0), (2, "2026-02-15", 2), (2, "2026-01-31", 13), (4, "2026-05-01", 4), (11, "2026-12-31", 8),
])
def test_week_of_the_quarter(start: int, day: str, week: int) -> None:
    assert FiscalCalendar(start).week(day) == week


def test_last_complete_quarter() -> None:
    feb = FiscalCalendar(2)
    assert feb.last_complete("2026-10-31") == feb.period("2027Q3")  # the quarter's last day: complete
    assert feb.last_complete("2026-11-30") == feb.period("2027Q3")
    assert feb.last_complete("2026-10-30") == feb.period("2027Q2")
    assert CALENDAR.last_complete("2026-12-31") == CALENDAR.period("2026Q4")


def test_labels_say_the_fiscal_year_and_the_months() -> None:
    feb = FiscalCalendar(2)
    assert feb.label("2027Q1") == "FY2027 Q1" and feb.span("2027Q1") == "Feb-Apr 2026"
    assert feb.describe("2027Q4") == "FY2027 Q4 (Nov 2026-Jan 2027)"
    assert feb.label(D("2026-11-30")) == "FY2027 Q4"
    assert FiscalCalendar(4).describe("2027Q1") == "FY2027 Q1 (Apr-Jun 2026)"
    assert "February" in feb.year_sentence() and "FY2027 runs Feb 2026-Jan 2027" in feb.year_sentence()
    assert CALENDAR.label("2026Q4") == "2026Q4" and CALENDAR.describe("2026Q4") == "2026Q4"
    assert "calendar quarters" in CALENDAR.year_sentence()


@pytest.mark.parametrize("bad", [0, 13, "Feb", "2.5", None, -1])
def test_a_start_month_outside_1_to_12_is_refused_with_what_is_expected(bad: object) -> None:
    with pytest.raises(ValueError, match=r"month number from 1 \(January\) to 12 \(December\)"):
        FiscalCalendar(bad)  # type: ignore[arg-type]


def test_a_bad_quarter_key_or_a_quarter_of_another_calendar_is_refused() -> None:
    with pytest.raises(ValueError, match="must look like 2026Q4"):
        CALENDAR.period("Q4 2026")
    with pytest.raises(ValueError, match="not this calendar's Q-JAN"):
        FiscalCalendar(2).start(pd.Period("2026-11-01", "Q"))


def test_the_start_month_is_read_from_the_company_table(engine) -> None:
    assert fiscal.read(engine) == CALENDAR  # no company table rows: calendar quarters
    before = snapshot.data_fingerprint(engine)
    with engine.begin() as conn:
        db.write_tables(conn, {"company": fiscal.company_frame(2, "Ledgerly")})
    assert fiscal.read(engine) == FiscalCalendar(2)
    assert snapshot.data_fingerprint(engine) != before  # another fiscal year: the models are outdated
    with engine.begin() as conn:
        db.write_tables(conn, {"company": fiscal.company_frame(1, "Ledgerly").iloc[0:0]})
    assert snapshot.data_fingerprint(engine) == before and fiscal.read(engine) == CALENDAR


def test_the_contract_checks_the_company_table() -> None:
    ok = contract.validate({"company": pd.DataFrame({"name": ["Acme"], "fiscal_year_start_month": ["2"]})})
    assert not [f for f in ok.failures if f.table == "company"]
    bad = contract.validate({"company": pd.DataFrame({"name": ["Acme"], "fiscal_year_start_month": ["13"]})})
    rules = [f.rule for f in bad.failures if f.table == "company"]
    assert rules == ["fiscal_year_start_month is a month number from 1 (January) to 12 (December)"]
    two = contract.validate({"company": pd.DataFrame({"name": ["Acme", "Beta"], "fiscal_year_start_month": [2, 3]})})
    assert [f.rule for f in two.failures if f.table == "company"] == ["one row only (the company's settings)"]


def test_a_mapping_file_sets_the_fiscal_year(tmp_path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[company]\nname = "Acme"\nfiscal_year_start_month = 2\n')
    out = mapping.apply({}, mapping.load(path))
    assert out["company"].to_dict("records") == [{"name": "Acme", "fiscal_year_start_month": 2}]
    source = {"organization": pd.DataFrame({"Name": ["Acme Inc"], "FiscalYearStartMonth": ["4"]})}
    m = {"tables": {"company": {"from": "Organization", "columns": {"name": "Name",
                                                                   "fiscal_year_start_month": "FiscalYearStartMonth"}}},
         "company": {"fiscal_year_start_month": 2}}
    assert mapping.apply(source, m)["company"].to_dict("records") == [{"name": "Acme Inc",
                                                                        "fiscal_year_start_month": 2}]
    path.write_text("[company]\nfiscal_year_start_month = 14\n")
    with pytest.raises(mapping.MappingError, match=r"\[company\] fiscal_year_start_month must be a month number"):
        mapping.load(path)
    path.write_text("[company]\nfiscal_start = 2\n")
    with pytest.raises(mapping.MappingError, match="unknown setting"):
        mapping.load(path)


def test_seed_takes_a_fiscal_start_and_refuses_a_bad_one(capsys) -> None:
    args = cli.build_parser().parse_args(["seed", "--fiscal-start", "2"])
    assert args.fiscal_start == 2
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["seed", "--fiscal-start", "13"])
    assert "--fiscal-start must be a month number from 1 (January) to 12" in capsys.readouterr().err
    assert cli.seed_command(100, 24, 0, D("2026-10-31").date(), fiscal_start=2).endswith("--fiscal-start 2")
    assert "--fiscal-start" not in cli.seed_command(100, 24, 0, D("2026-10-31").date())


def test_the_commit_alert_follows_the_fiscal_quarter(engine, valid_frames) -> None:
    """On 2024-07-10 a February company is in FY2025 Q2 (May-July 2024): the manager's commit for it counts,
    one keyed by the calendar quarter (2024Q3) does not."""
    from services.alerts import events
    from services.importer import import_frames

    people = valid_frames["people"]
    as_of, th = D("2024-07-10"), {"commit_max_age_days": 7.0}
    missing = lambda: {r["subject_id"]: r["title"] for r in events.missing_commits(engine, as_of, people, th)}
    import_frames(valid_frames, "calendar quarters", engine)
    assert "P0003:2024Q3" not in missing()  # committed on 2024-07-03 for 2024Q3
    frames = {**valid_frames, "company": fiscal.company_frame(2, "Acme").astype(str)}
    import_frames(frames, "a year starting in February", engine)
    assert missing()["P0003:2025Q2"].endswith("has no recent FY2025 Q2 commit (none yet)")
    frames["commits"] = valid_frames["commits"].assign(quarter="2025Q2")
    import_frames(frames, "commits keyed by fiscal quarter", engine)
    assert "P0003:2025Q2" not in missing()
