"""Company summary for the overview page: accounts, ARR, renewals due, data freshness.

No Streamlit here; the page reads these through the caches in `ui/data.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.db import read_table
from services.hierarchy import Scope, filter_accounts, resolve_scope
from services.monitoring import health

RENEWAL_WINDOW_DAYS = 90

# Contract tables in load order, with the date column that says how recent each one is.
FRESHNESS_COLUMNS: dict[str, str | None] = {
    "people": None,
    "accounts": "created_date",
    "products": None,
    "metric_catalog": None,
    "subscriptions": "start_date",
    "usage_monthly": "month",
    "opportunities": "created_date",
    "opportunity_history": "snapshot_date",
    "support_cases": "opened_date",
    "commits": "submitted_at",
    "quotas": None,
}
# Days a table may lie behind the as-of date and still count as current (default 31).
# How far behind the as-of date a table may lie: the data-health freshness rules where a table has one
# (one source for the overview and the banner), a quarter for commits, a month otherwise.
EXPECTED_LAG_DAYS = {"commits": 92, **{r.table: r.max_age_days for r in health.RULES}}
# Columns whose values never lie after the data's as-of date (end/close dates may).
_OBSERVED_COLUMNS = {t: c for t, c in FRESHNESS_COLUMNS.items() if c}


@dataclass
class Overview:
    as_of: pd.Timestamp
    customers: int
    arr_usd: float
    renewals_due_count: int
    renewals_due_arr_usd: float
    arr_by_product: pd.DataFrame = field(repr=False)
    arr_by_segment: pd.DataFrame = field(repr=False)
    renewals_by_month: pd.DataFrame = field(repr=False)


def table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def _scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def _to_timestamp(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return None if pd.isna(ts) else ts.tz_localize(None).normalize() if ts.tzinfo else ts.normalize()


def has_accounts(engine: Engine) -> bool:
    """True when the database holds at least one account."""
    if "accounts" not in table_names(engine):
        return False
    return int(_scalar(engine, "SELECT COUNT(*) FROM accounts") or 0) > 0


def latest_observed_date(engine: Engine) -> pd.Timestamp | None:
    """The most recent event date in the data (creation, snapshot, case, usage month)."""
    present = table_names(engine)
    dates = [
        _to_timestamp(_scalar(engine, f"SELECT MAX({col}) FROM {table}"))
        for table, col in _OBSERVED_COLUMNS.items()
        if table in present
    ]
    dates = [d for d in dates if d is not None]
    return max(dates) if dates else None


USAGE_MONTHS_SQL = """
WITH RECURSIVE m(month) AS (
    SELECT MIN(month) FROM usage_monthly
    UNION ALL
    SELECT (SELECT MIN(u.month) FROM usage_monthly u WHERE u.month > m.month) FROM m WHERE m.month IS NOT NULL
)
SELECT month FROM m WHERE month IS NOT NULL
"""


def as_of_choices(engine: Engine) -> list[dt.date]:
    """As-of dates offered in the sidebar: the end of each month with usage data, newest first.

    The newest choice is capped at the latest observed date, so the default is "now" in the data.
    """
    latest = latest_observed_date(engine)
    if latest is None:
        return []
    months: list[pd.Timestamp] = []
    if "usage_monthly" in table_names(engine):
        # a loose index scan over ix_usage_monthly_month: one index probe per month, not a scan of the usage
        with engine.connect() as conn:
            rows = conn.execute(sa.text(USAGE_MONTHS_SQL)).scalars().all()
        months = sorted({t for t in map(_to_timestamp, rows) if t is not None})
    ends = {min(m + pd.offsets.MonthEnd(0), latest) for m in months} | {latest}
    return sorted((d.date() for d in ends), reverse=True)


def active_subscriptions(subscriptions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Subscriptions covering the as-of day (start <= as_of < end)."""
    mask = (subscriptions["start_date"] <= as_of) & (subscriptions["end_date"] > as_of)
    return subscriptions[mask]


def renewals_by_month(active: pd.DataFrame, as_of: pd.Timestamp, months: int = 12) -> pd.DataFrame:
    """Accounts and ARR coming up for renewal in each of the next `months` months."""
    horizon = as_of.to_period("M").to_timestamp() + pd.DateOffset(months=months)
    due = active[active["end_date"] < horizon]
    per_account = due.groupby("account_id").agg(end_date=("end_date", "min"), arr_usd=("arr_usd", "sum"))
    per_account["month"] = per_account["end_date"].dt.to_period("M").dt.to_timestamp()
    out = per_account.groupby("month").agg(accounts=("arr_usd", "size"), arr_usd=("arr_usd", "sum"))
    return out.reset_index()


def _arr_by(active: pd.DataFrame, column: str) -> pd.DataFrame:
    out = active.groupby(column, as_index=False).agg(arr_usd=("arr_usd", "sum"), accounts=("account_id", "nunique"))
    return out.sort_values("arr_usd", ascending=False, ignore_index=True)


def overview(engine: Engine, as_of: dt.date, scope: Scope | None = None) -> Overview:
    """Headline figures for accounts in `scope` (default: the whole company) as of `as_of`."""
    scope = scope or Scope()
    as_of_ts = pd.Timestamp(as_of).normalize()
    accounts = filter_accounts(read_table("accounts", engine), resolve_scope(read_table("people", engine), scope))
    products = read_table("products", engine)[["product_id", "name"]].rename(columns={"name": "product"})
    subs = read_table("subscriptions", engine)
    subs = subs[subs["account_id"].isin(accounts["account_id"])]
    active = active_subscriptions(subs, as_of_ts)
    active = active.merge(products, on="product_id", how="left").merge(
        accounts[["account_id", "segment"]], on="account_id", how="left"
    )
    window_end = as_of_ts + pd.Timedelta(days=RENEWAL_WINDOW_DAYS)
    due = active[active["end_date"] <= window_end]
    return Overview(
        as_of=as_of_ts,
        customers=int(active["account_id"].nunique()),
        arr_usd=float(active["arr_usd"].sum()),
        renewals_due_count=int(due["account_id"].nunique()),
        renewals_due_arr_usd=float(due["arr_usd"].sum()),
        arr_by_product=_arr_by(active, "product"),
        arr_by_segment=_arr_by(active, "segment"),
        renewals_by_month=renewals_by_month(active, as_of_ts),
    )


def freshness(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    """Per contract table: rows, latest date and how far it lies behind the as-of date."""
    as_of_ts = pd.Timestamp(as_of).normalize()
    present = table_names(engine)
    rows = []
    for table, col in FRESHNESS_COLUMNS.items():
        if table not in present:
            rows.append({"table": table, "rows": 0, "latest_date": None, "days_behind": None, "status": "missing"})
            continue
        count = int(_scalar(engine, f"SELECT COUNT(*) FROM {table}") or 0)
        latest = _to_timestamp(_scalar(engine, f"SELECT MAX({col}) FROM {table}")) if col else None
        if latest is not None and table == "usage_monthly":
            latest += pd.offsets.MonthEnd(0)  # a month of usage covers the data up to its last day
        behind = (as_of_ts - latest).days if latest is not None else None
        if count == 0:
            status = "empty"
        elif behind is None:
            status = "reference"
        elif behind < 0:
            status = "has later data"
        else:
            status = "current" if behind <= EXPECTED_LAG_DAYS.get(table, 31) else "behind"
        rows.append(
            {"table": table, "rows": count, "latest_date": latest, "days_behind": behind, "status": status}
        )
    return pd.DataFrame(rows)


def _latest_row(engine: Engine, table: str, time_columns: tuple[str, ...]) -> dict | None:
    """The most recent row of an app table, or None when it is absent or empty."""
    if table not in table_names(engine):
        return None
    frame = read_table(table, engine)
    if frame.empty:
        return None
    col = next((c for c in time_columns if c in frame.columns), None)
    if col is not None:
        frame = frame.sort_values(col)
    row = frame.iloc[-1].to_dict()
    row["at"] = row.get(col) if col else None
    return row


def last_import(engine: Engine) -> dict | None:
    """The latest row of the `imports` log (any status)."""
    return _latest_row(engine, "imports", ("finished_at", "imported_at", "started_at", "created_at"))


def last_training(engine: Engine) -> dict | None:
    """The latest row of `model_versions`, if training has ever run."""
    return _latest_row(engine, "model_versions", ("trained_at", "created_at", "finished_at"))


def recent_imports(engine: Engine, limit: int = 20) -> pd.DataFrame:
    """The import log, newest first (empty frame when there is none)."""
    if "imports" not in table_names(engine):
        return pd.DataFrame()
    frame = read_table("imports", engine)
    col = next((c for c in ("finished_at", "imported_at", "started_at", "created_at") if c in frame.columns), None)
    if col is not None:
        frame = frame.sort_values(col, ascending=False)
    return frame.head(limit).reset_index(drop=True)
