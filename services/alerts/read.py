"""What the Inbox and Tasks pages read: a person's inbox, unread count, recent events, their subscriptions."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.alerts import subscriptions
from services.alerts import tables as T
from services.alerts.events import EVENT_TYPES
from services.alerts.tasks import all_tasks, listing  # noqa: F401 - re-exported for the pages

__all__ = ["EVENT_TYPES", "inbox", "listing", "mark_read", "refresh_runs", "subscriptions_of", "unread_count"]


def inbox(engine: Engine, person_id: str, limit: int = 200) -> pd.DataFrame:
    """The person's inbox, newest first: message_id, created_at, subject, body, read, and the first event's
    event_id, event_type and account_id (for "create a task")."""
    T.ensure(engine)
    q = (sa.select(T.INBOX).where(T.INBOX.c.person_id == person_id).order_by(T.INBOX.c.created_at.desc(),
                                                                             T.INBOX.c.message_id).limit(limit))
    with engine.connect() as conn:
        df = pd.read_sql(q, conn)
    first = [(json.loads(p).get("events") or [{}])[0] for p in df.payload]
    df["event_id"] = [e.get("event_id") for e in first]
    df["event_type"] = [e.get("event_type") for e in first]
    df["account_id"] = [e.get("account_id") for e in first]
    df["read"] = df.read_at.notna()
    return df.drop(columns=["payload"])


def unread_count(engine: Engine, person_id: str) -> int:
    T.ensure(engine)
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(T.INBOX).where(
            (T.INBOX.c.person_id == person_id) & T.INBOX.c.read_at.is_(None))).scalar() or 0)


def mark_read(engine: Engine, person_id: str, message_ids: list[str]) -> int:
    """Mark the person's own messages read (another person's ids are ignored)."""
    if not message_ids:
        return 0
    with engine.begin() as conn:
        return conn.execute(T.INBOX.update().where(
            (T.INBOX.c.person_id == person_id) & T.INBOX.c.message_id.in_(message_ids) & T.INBOX.c.read_at.is_(None))
            .values(read_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))).rowcount


def subscriptions_of(engine: Engine, person_id: str, role: str) -> pd.DataFrame:
    return subscriptions.for_person(engine, person_id, role)


def refresh_runs(engine: Engine, limit: int = 20) -> pd.DataFrame:
    T.ensure(engine)
    with engine.connect() as conn:
        return pd.read_sql(sa.select(T.REFRESH_RUNS).order_by(T.REFRESH_RUNS.c.started_at.desc()).limit(limit), conn)
