"""Tasks: a follow-up created from an alert or an account, owned by a person, closed with an outcome.

Every create and close is audited and, when a webhook is configured, sent through the outbox (a CRM can
receive tasks). `my_tasks` / `team_tasks` list them within the reader's role bound (services.auth scope).
"""
from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import audit
from services.alerts import outbox
from services.alerts import tables as T
from services.hierarchy import Scope, accounts_in_scope, people_in_scope

TASK_TYPES = ("call", "executive_meeting", "training", "success_plan", "commercial_concession", "escalation",
              "deal_review", "forecast_review", "model_review")
PRIORITIES = ("high", "medium", "low")
OUTCOMES = ("resolved", "customer_saved", "escalated", "no_response", "not_needed", "lost")
MAX_TEXT = 2000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _exists(engine: Engine, table: str, column: str, value: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text(f'SELECT 1 FROM "{table}" WHERE "{column}" = :v'), {"v": value}).first() is not None


def create(engine: Engine, account_id: str, task_type: str, reason: str, owner_id: str, created_by: str,
           due_date: dt.date, priority: str = "medium", playbook: str | None = None,
           event_id: str | None = None, scope: Scope | None = None) -> str:
    """Create an open task; returns its id. ValueError on unknown values; the account must be in `scope`."""
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {task_type!r}; choose one of {', '.join(TASK_TYPES)}")
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")
    if not reason.strip() or len(reason) > MAX_TEXT:
        raise ValueError(f"give a reason (at most {MAX_TEXT} characters)")
    if not _exists(engine, "accounts", "account_id", account_id):
        raise ValueError(f"unknown account {account_id!r}")
    if not _exists(engine, "people", "person_id", owner_id):
        raise ValueError(f"unknown owner {owner_id!r}")
    allowed = accounts_in_scope(engine, scope)
    if allowed is not None and account_id not in allowed:
        raise PermissionError(f"Account {account_id} is not in your scope.")
    T.ensure(engine)
    task = {"task_id": f"T-{uuid.uuid4().hex[:12]}", "account_id": account_id, "event_id": event_id,
            "task_type": task_type, "reason": reason.strip(), "playbook": playbook, "owner_id": owner_id,
            "created_by": created_by, "created_at": _now(), "due_date": pd.Timestamp(due_date).date(),
            "priority": priority, "status": "open", "outcome": None, "outcome_note": None, "closed_at": None}
    with engine.begin() as conn:
        conn.execute(T.TASKS.insert().values(**task))
        audit.record(conn, created_by, "task_create", task_id=task["task_id"], account_id=account_id,
                     owner_id=owner_id, event_id=event_id)
    outbox.enqueue_task(engine, task, "created")
    return task["task_id"]


def close(engine: Engine, task_id: str, outcome: str, closed_by: str, note: str = "",
          scope: Scope | None = None) -> None:
    """Close an open task with an outcome (audited; sent to the webhook when configured)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    T.ensure(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(T.TASKS).where(T.TASKS.c.task_id == task_id)).first()
    if row is None:
        raise ValueError(f"unknown task {task_id!r}")
    allowed = accounts_in_scope(engine, scope)
    if allowed is not None and row.account_id not in allowed:
        raise PermissionError(f"Task {task_id} is not in your scope.")
    if row.status == "closed":
        raise ValueError(f"task {task_id} is already closed ({row.outcome})")
    with engine.begin() as conn:
        conn.execute(T.TASKS.update().where(T.TASKS.c.task_id == task_id).values(
            status="closed", outcome=outcome, outcome_note=note.strip()[:MAX_TEXT], closed_at=_now()))
        audit.record(conn, closed_by, "task_close", task_id=task_id, outcome=outcome)
    outbox.enqueue_task(engine, {**dict(row._mapping), "status": "closed", "outcome": outcome}, "closed")


def all_tasks(engine: Engine) -> pd.DataFrame:
    T.ensure(engine)
    with engine.connect() as conn:
        df = pd.read_sql(sa.select(T.TASKS).order_by(T.TASKS.c.created_at.desc()), conn)
    for c in ("created_at", "closed_at", "due_date"):
        df[c] = pd.to_datetime(df[c])
    return df


def listing(engine: Engine, person_id: str, which: str = "mine", scope: Scope | None = None) -> pd.DataFrame:
    """`mine`: tasks owned by the person; `team`: owned by anyone in their subtree; always within `scope`."""
    df = all_tasks(engine)
    if which == "mine":
        df = df[df.owner_id == person_id]
    else:
        team = people_in_scope(engine, Scope(manager_id=person_id))
        df = df[df.owner_id.isin(team or set())]
    allowed = accounts_in_scope(engine, scope)
    if allowed is not None:
        df = df[df.account_id.isin(allowed)]
    return df.reset_index(drop=True)
