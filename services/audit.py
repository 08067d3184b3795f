"""The audit log: who did what, when. Append-only (`audit_log`): this module inserts and reads, nothing
updates or deletes a row. No Streamlit.

Actions recorded: sign_in, import, train, activate, rollback, commit, log_action, playbook_feedback,
export, refresh, task_create, task_close, subscriptions. `who` is a person_id for people signed in to the app, `os:<user>` for the command line.
"""
from __future__ import annotations

import datetime as dt
import getpass
import json
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db

ACTIONS = ("sign_in", "import", "train", "activate", "rollback", "commit", "log_action", "playbook_feedback",
           "export", "refresh", "task_create", "task_close", "subscriptions")


def os_user() -> str:
    """The command line's `who` when no --as is given: the operating-system user."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def record(target: Engine | Connection, who: str | None, action: str, **details: Any) -> None:
    """Append one entry. `target` may be a connection inside the caller's transaction (written together)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; known: {', '.join(ACTIONS)}")
    if not who:
        raise ValueError(f"an audit entry ({action}) needs who did it")
    row = {"at": dt.datetime.now(), "who": who, "action": action,
           "details": json.dumps(details, default=str, sort_keys=True) if details else None}
    if isinstance(target, Connection):
        db.AUDIT_LOG.create(target, checkfirst=True)
        target.execute(db.AUDIT_LOG.insert().values(**row))
        return
    with target.begin() as conn:
        db.AUDIT_LOG.create(conn, checkfirst=True)
        conn.execute(db.AUDIT_LOG.insert().values(**row))


def entries(engine: Engine, action: str | None = None, who: str | None = None, limit: int = 500) -> pd.DataFrame:
    """The newest entries first: at, who, action, details (a JSON text)."""
    cols = ["entry_id", "at", "who", "action", "details"]
    if not sa.inspect(engine).has_table("audit_log"):
        return pd.DataFrame(columns=cols)
    t = db.AUDIT_LOG
    q = sa.select(*[t.c[c] for c in cols]).order_by(t.c.at.desc(), t.c.entry_id.desc()).limit(int(limit))
    if action:
        q = q.where(t.c.action == action)
    if who:
        q = q.where(t.c.who == who)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).fetchall(), columns=cols)
