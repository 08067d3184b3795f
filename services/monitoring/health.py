"""Data health: freshness rules per table (as of today), the import history and contract-rule results.

The importer keeps every attempt in `imports` and each failed contract rule in `validation_results`;
this module reads them and checks freshness. Age is measured from the last day a table covers:
for `usage_monthly` that is the end of its latest month (a month's usage is complete only then).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FreshnessRule:
    table: str
    column: str
    max_age_days: int
    month_column: bool = False  # the column holds first days of months: age counts from the month end

    def describe(self) -> str:
        return f"{self.table}.{self.column} not older than {self.max_age_days} days"


RULES = (
    FreshnessRule("usage_monthly", "month", 35, month_column=True),
    FreshnessRule("opportunity_history", "snapshot_date", 7),
    FreshnessRule("opportunities", "created_date", 14),
    FreshnessRule("support_cases", "opened_date", 14),
)


def freshness(engine: Engine, today: dt.date | None = None) -> pd.DataFrame:
    """One row per rule: table, latest date, age in days, allowed age, status (ok, stale, empty)."""
    today_ts = pd.Timestamp(today or dt.date.today()).normalize()
    present = set(db.table_names(engine))
    rows = []
    with engine.connect() as conn:
        for r in RULES:
            latest = None
            if r.table in present:
                latest = conn.execute(sa.text(f'SELECT MAX("{r.column}") FROM "{r.table}"')).scalar()
            if latest is None:
                rows.append({"table": r.table, "rule": r.describe(), "latest": None, "covers_to": None,
                             "age_days": None, "max_age_days": r.max_age_days, "status": "empty"})
                continue
            latest = pd.Timestamp(latest).normalize()
            covers = latest + pd.offsets.MonthEnd(0) if r.month_column else latest
            age = int((today_ts - covers).days)
            rows.append({"table": r.table, "rule": r.describe(), "latest": latest, "covers_to": covers,
                         "age_days": age, "max_age_days": r.max_age_days,
                         "status": "stale" if age > r.max_age_days else "ok"})
    return pd.DataFrame(rows)


def stale_tables(engine: Engine, today: dt.date | None = None) -> list[str]:
    """Tables that break their freshness rule (empty ones included: no data is not fresh data)."""
    f = freshness(engine, today)
    return f.table[f.status != "ok"].tolist()


def import_history(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """The latest imports, newest first: when, source, status, rows loaded and failed rules."""
    t = db.IMPORTS
    with engine.connect() as conn:
        df = pd.read_sql(sa.select(t.c.import_id, t.c.started_at, t.c.finished_at, t.c.source, t.c.status,
                                   t.c.n_rows).order_by(t.c.started_at.desc()).limit(limit), conn)
        fails = pd.read_sql(sa.select(db.VALIDATION_RESULTS.c.import_id,
                                      sa.func.count().label("failed_rules"))
                            .group_by(db.VALIDATION_RESULTS.c.import_id), conn)
    df["rows_loaded"] = df.pop("n_rows").map(lambda s: sum(json.loads(s or "{}").values()))
    counts = fails.set_index("import_id").failed_rules
    df["failed_rules"] = df.import_id.map(counts).astype("float").fillna(0).astype(int)
    return df


def rule_results(engine: Engine, import_id: str | None = None) -> pd.DataFrame:
    """Failed contract rules of one import (default: the latest import that had any)."""
    v, i = db.VALIDATION_RESULTS, db.IMPORTS
    q = (sa.select(i.c.started_at, i.c.source, v.c.import_id, v.c.table_name, v.c.rule, v.c.failed_count,
                   v.c.sample).join(i, i.c.import_id == v.c.import_id))
    if import_id is None:
        latest = sa.select(v.c.import_id).join(i, i.c.import_id == v.c.import_id) \
            .order_by(i.c.started_at.desc()).limit(1).scalar_subquery()
        q = q.where(v.c.import_id == latest)
    else:
        q = q.where(v.c.import_id == import_id)
    with engine.connect() as conn:
        return pd.read_sql(q, conn)


def problems(engine: Engine, today: dt.date | None = None) -> list[str]:
    """Plain-language data problems for the banner: stale or empty tables, a failed latest import."""
    out = []
    f = freshness(engine, today)
    for row in f[f.status != "ok"].itertuples():
        if row.status == "empty":
            out.append(f"{row.table} holds no data")
        else:
            out.append(f"{row.table} is {row.age_days} days old (allowed: {row.max_age_days})")
    hist = import_history(engine, limit=1)
    if not hist.empty and hist.status.iloc[0] == "failed":
        out.append(f"the latest import ({hist.source.iloc[0]}) failed; the data shown is from the one before")
    return out + snapshot_problems(engine)


def snapshot_problems(engine: Engine) -> list[str]:
    """Models whose results were built from other data than the data now (services.snapshot)."""
    from services import registry

    states = registry.data_states(engine)
    foreign = sorted(m for m, s in states.items() if s == "foreign")
    outdated = sorted(m for m, s in states.items() if s == "outdated")
    out = []
    if foreign:
        out.append(f"the data was replaced since the {', '.join(foreign)} model(s) were trained, so their results "
                   f"are not shown: the models must be retrained (`python -m services.cli train` or `refresh`)")
    if outdated:
        out.append(f"new data arrived after the {', '.join(outdated)} model(s) were trained; their results are "
                   f"from the earlier data until the next `refresh` or `train`")
    return out
