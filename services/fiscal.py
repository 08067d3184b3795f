"""The company's fiscal calendar: which quarter a date falls in, where a quarter starts and ends, its label.

A company's fiscal year starts in `fiscal_year_start_month` (the optional `company` contract table; 1 =
January, the default: calendar quarters). A fiscal year is named by the calendar year it ends in (the
convention of Salesforce and pandas): with a February start, FY2027 runs from 1 February 2026 to
31 January 2027 and its first quarter is February-April 2026. Quarter keys keep the contract's spelling
"2027Q1" (fiscal year, quarter); pages show "FY2027 Q1" when the year does not start in January.

Every quarter computation goes through a `FiscalCalendar` (pandas' anchored quarterly frequency: a year
starting in February ends in January, `Q-JAN`; January is `Q-DEC`, pandas' plain `Q`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db

TABLE = "company"
COLUMN = "fiscal_year_start_month"
_ANCHOR = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def check_start_month(value: object) -> int:
    """`value` as a month number 1-12, or a ValueError that says what is expected."""
    try:
        month = int(str(value).strip())
        if str(value).strip() not in (str(month), f"{month}.0") or not 1 <= month <= 12:
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{COLUMN} must be a month number from 1 (January) to 12 (December), e.g. 2 for a "
                         f"fiscal year starting in February; got {value!r}") from None
    return month


@dataclass(frozen=True)
class FiscalCalendar:
    """Quarter arithmetic for a fiscal year starting on the first day of `start_month`."""

    start_month: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_month", check_start_month(self.start_month))  # "2" -> 2, 13 refused

    @property
    def freq(self) -> str:
        """pandas' quarterly frequency anchored on the fiscal year's last month ("Q-DEC" for January)."""
        return f"Q-{_ANCHOR[(self.start_month - 2) % 12]}"

    @property
    def is_calendar(self) -> bool:
        return self.start_month == 1

    # ------------------------------------------------------------------ quarters of dates
    def quarter(self, when: pd.Timestamp | str) -> pd.Period:
        """The fiscal quarter `when` falls in."""
        return pd.Period(pd.Timestamp(when), freq=self.freq)

    def quarters(self, dates: pd.Series) -> pd.Series:
        """The fiscal quarter of each date of a datetime Series (a Series of Periods)."""
        return dates.dt.to_period(self.freq)

    def key(self, when: pd.Timestamp | str) -> str:
        """The quarter key of `when`, as the contract and the result tables spell it ("2027Q1")."""
        return str(self.quarter(when))

    def keys(self, dates: pd.Series) -> pd.Series:
        return self.quarters(dates).astype(str)

    def period(self, key: str | pd.Period) -> pd.Period:
        """The quarter of a key ("2027Q1"); a ValueError that shows the expected spelling otherwise."""
        if isinstance(key, pd.Period):
            if key.freqstr != self.freq:  # a quarter of another calendar: a computation that bypassed this one
                raise ValueError(f"quarter {key} is of frequency {key.freqstr}, not this calendar's {self.freq}")
            return key
        try:
            return pd.Period(str(key), freq=self.freq)
        except ValueError:
            raise ValueError(f"a quarter must look like 2026Q4 (fiscal year, then Q1-Q4), got {key!r}") from None

    def periods(self, keys: pd.Series | list[str]) -> pd.PeriodIndex:
        return pd.PeriodIndex(list(keys), freq=self.freq)

    def start(self, q: pd.Period | pd.Timestamp | str) -> pd.Timestamp:
        """First day of the quarter (of a Period, a key, or the quarter a date falls in)."""
        return self._as_period(q).start_time.normalize()

    def end(self, q: pd.Period | pd.Timestamp | str) -> pd.Timestamp:
        """Last day of the quarter (midnight)."""
        return self._as_period(q).end_time.normalize()

    def week(self, when: pd.Timestamp | str) -> int:
        """Week of its quarter `when` falls in (0: the quarter's first seven days)."""
        when = pd.Timestamp(when).normalize()
        return int((when - self.start(when)).days // 7)

    def last_complete(self, as_of: pd.Timestamp | str) -> pd.Period:
        """The last quarter complete at `as_of` (its own quarter when `as_of` is that quarter's last day)."""
        q = self.quarter(as_of)
        return q if pd.Timestamp(as_of).normalize() == self.end(q) else q - 1

    # ------------------------------------------------------------------ words
    def label(self, q: pd.Period | str) -> str:
        """A quarter as a page shows it: "2026Q4" for calendar quarters, "FY2027 Q1" for a fiscal year."""
        p = self._as_period(q)
        return str(p) if self.is_calendar else f"FY{p.qyear} Q{p.quarter}"

    def span(self, q: pd.Period | str) -> str:
        """The calendar months a quarter covers: "Feb-Apr 2026", "Nov 2026-Jan 2027"."""
        p = self._as_period(q)
        a, b = p.start_time, p.end_time
        first, last = calendar.month_abbr[a.month], calendar.month_abbr[b.month]
        return f"{first}-{last} {b.year}" if a.year == b.year else f"{first} {a.year}-{last} {b.year}"

    def describe(self, q: pd.Period | str) -> str:
        """The label with the months it covers for a fiscal year ("FY2027 Q1 (Feb-Apr 2026)"); the plain
        label for calendar quarters."""
        return self.label(q) if self.is_calendar else f"{self.label(q)} ({self.span(q)})"

    def year_sentence(self) -> str:
        """One line on the calendar in use, for pages and model cards."""
        if self.is_calendar:
            return "Quarters are calendar quarters (the fiscal year starts in January)."
        q1 = pd.Period(pd.Timestamp(2026, self.start_month, 1), freq=self.freq)
        return (f"The fiscal year starts in {calendar.month_name[self.start_month]}: FY{q1.qyear} runs "
                f"{calendar.month_abbr[self.start_month]} {q1.start_time.year}-"
                f"{calendar.month_abbr[(q1 + 3).end_time.month]} {(q1 + 3).end_time.year}.")

    def _as_period(self, q: pd.Period | pd.Timestamp | str) -> pd.Period:
        if isinstance(q, pd.Period):
            return self.period(q)
        if isinstance(q, str) and "Q" in q.upper():
            return self.period(q)
        return self.quarter(q)


CALENDAR = FiscalCalendar(1)


def read(engine: Engine) -> FiscalCalendar:
    """The company's fiscal calendar (the `company` table; calendar quarters when it is absent or empty)."""
    if not db.table_exists(TABLE, engine):
        return CALENDAR
    with engine.connect() as conn:
        value = conn.execute(sa.text(f'SELECT "{COLUMN}" FROM "{TABLE}" LIMIT 1')).scalar()
    return CALENDAR if value is None else FiscalCalendar(check_start_month(value))


def company_frame(start_month: int = 1, name: str = "Company") -> pd.DataFrame:
    """A `company` table of one row (the simulator's, a mapping file's)."""
    return pd.DataFrame({"name": [name], COLUMN: [check_start_month(start_month)]})
