"""The outbox: every delivery a refresh owes, written once under an idempotency key, sent by `send.py`.

`enqueue(engine)` turns fired events into outbox rows for every subscription that receives them
(`subscriptions.Audience`): one row per event for `immediate`, one digest per person, channel and
frequency for `daily`/`weekly` once the period since that person's last digest has passed. The key is a
hash of what the row carries (person, channel, and the event ids), and it is the primary key, so enqueuing
again - a rerun, a retry after a crash - adds nothing. A digest carries only events no earlier digest of the
same person, channel and frequency carried. Events older than MAX_AGE are not delivered, so a person who
subscribes (or changes a frequency) gets what happens from then on, not the backlog.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
import os

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.alerts import subscriptions as subs
from services.alerts import tables as T
from services.alerts.events import EVENT_TYPES

log = logging.getLogger(__name__)
# the least time between two digests: a little under a day (a week), so a nightly refresh that runs a few
# minutes earlier than the night before still sends tonight's digest
PERIOD = {"daily": dt.timedelta(hours=20), "weekly": dt.timedelta(days=6, hours=20)}
APP_URL_ENV = "FORESIGHT_APP_URL"
MAX_AGE = dt.timedelta(days=8)  # older events are not delivered (a new subscription gets no backlog)


def app_url() -> str:
    return (os.environ.get(APP_URL_ENV, "").strip() or "http://localhost:8501").rstrip("/")


def key_of(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:40]


def link(event: dict) -> str:
    """Where the event leads in the app: the account, the forecast, or model health."""
    if event.get("account_id"):
        return f"{app_url()}/account?account_id={event['account_id']}"
    if event["event_type"] in subs.MODEL_EVENTS:
        return f"{app_url()}/model_health"
    return f"{app_url()}/forecast"


def render(events: list[dict], name: str, title: str) -> tuple[str, str]:
    """(plain text, HTML) of a delivery: one line per event with its link back into the app."""
    lines = [f"{title}, for {name}:", ""]
    items = []
    for e in events:
        lines.append(f"- [{EVENT_TYPES.get(e['event_type'], e['event_type'])}] {e['title']}\n  {link(e)}")
        items.append(f"<tr><td>{html.escape(EVENT_TYPES.get(e['event_type'], e['event_type']))}</td>"
                     f"<td><a href=\"{html.escape(link(e), quote=True)}\">{html.escape(e['title'])}</a></td></tr>")
    lines += ["", f"Inbox and tasks: {app_url()}/inbox"]
    body = (f"<html><body><h2>{html.escape(title)}</h2><p>For {html.escape(name)}</p>"
            f"<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\"><tr><th>Alert</th><th>What happened</th></tr>"
            + "".join(items) + f"</table><p><a href=\"{html.escape(app_url())}/inbox\">Open your inbox in "
            f"Foresight</a></p></body></html>")
    return "\n".join(lines), body


def _fired(engine: Engine, since: dt.datetime | None = None) -> list[dict]:
    q = sa.select(T.EVENTS).where(T.EVENTS.c.action == "fired").order_by(T.EVENTS.c.at, T.EVENTS.c.event_id)
    if since is not None:
        q = q.where(T.EVENTS.c.at >= since)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def _carried(engine: Engine) -> dict[tuple[str, str, str], tuple[set[str], dt.datetime | None]]:
    """Per (person, channel, kind): event ids already carried, and when the last digest was made."""
    out: dict[tuple[str, str, str], tuple[set[str], dt.datetime | None]] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T.OUTBOX.c.person_id, T.OUTBOX.c.channel, T.OUTBOX.c.kind,
                                      T.OUTBOX.c.payload, T.OUTBOX.c.created_at)).all()
    for r in rows:
        ids, last = out.setdefault((r.person_id, r.channel, r.kind), (set(), None))
        ids |= set(json.loads(r.payload).get("event_ids", []))
        out[(r.person_id, r.channel, r.kind)] = (ids, max(filter(None, (last, r.created_at)), default=None))
    return out


def enqueue(engine: Engine, now: dt.datetime | None = None) -> int:
    """Write the deliveries owed for the fired events (nothing twice); returns the rows added."""
    T.ensure(engine)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    people = db.read_table("people", engine)
    names = dict(zip(people.person_id, people.name, strict=True))
    audience = subs.Audience(engine, people)
    subscribed = subs.all_in_force(engine, people)
    events = _fired(engine, since=now - MAX_AGE)
    carried = _carried(engine)
    rows: list[dict] = []
    for (person, channel, frequency), g in subscribed.groupby(["person_id", "channel", "frequency"]):
        if channel == "webhook" and not os.environ.get("FORESIGHT_WEBHOOK_URL"):
            continue
        scopes = dict(zip(g.event_type, g.scope, strict=True))
        kind = "event" if frequency == "immediate" else f"digest_{frequency}"
        done, last = carried.get((person, channel, kind), (set(), None))
        mine = [e for e in events if e["event_type"] in scopes and e["event_id"] not in done
                and audience.allows(person, scopes[e["event_type"]], e)]
        if not mine:
            continue
        if frequency == "immediate":
            for e in mine:
                text, body = render([e], names.get(person, person), EVENT_TYPES[e["event_type"]])
                rows.append(_row(key_of(person, channel, e["event_id"]), person, channel, "event",
                                 e["title"], text, body, [e], now))
        elif last is None or now - last >= PERIOD[frequency]:
            title = f"Foresight {frequency} digest: {len(mine)} alert{'s' if len(mine) != 1 else ''}"
            text, body = render(mine, names.get(person, person), title)
            rows.append(_row(key_of(person, channel, kind, *sorted(e["event_id"] for e in mine)), person, channel,
                             kind, title, text, body, mine, now))
    return _insert_new(engine, rows)


def _row(key: str, person: str, channel: str, kind: str, subject: str, text: str, body: str,
         events: list[dict], now: dt.datetime, extra: dict | None = None) -> dict:
    payload = {"event_ids": [e["event_id"] for e in events],
               "events": [{k: (str(v) if isinstance(v, dt.datetime) else v) for k, v in e.items()} for e in events],
               **(extra or {})}
    return {"key": key, "person_id": person, "channel": channel, "kind": kind, "subject": subject[:300],
            "body_text": text, "body_html": body, "payload": json.dumps(payload, default=str), "created_at": now,
            "status": "pending", "attempts": 0, "claimed_by": None, "sent_at": None, "last_error": None}


def _insert_new(engine: Engine, rows: list[dict]) -> int:
    if not rows:
        return 0
    with engine.begin() as conn:
        have = set(conn.execute(sa.select(T.OUTBOX.c.key).where(T.OUTBOX.c.key.in_([r["key"] for r in rows])))
                   .scalars())
        new = [r for r in {r["key"]: r for r in rows}.values() if r["key"] not in have]
        if new:
            conn.execute(T.OUTBOX.insert(), new)
    log.info("outbox: %d new deliveries", len(new))
    return len(new)


def enqueue_task(engine: Engine, task: dict, change: str) -> int:
    """A task created or closed, for the webhook (a CRM can receive tasks): one row per task and change."""
    if not os.environ.get("FORESIGHT_WEBHOOK_URL"):
        return 0
    T.ensure(engine)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    subject = f"Task {change}: {task['reason']} ({task['account_id']})"
    text = f"{subject}\nOwner {task['owner_id']}, due {task['due_date']}, priority {task['priority']}" + (
        f", outcome {task.get('outcome')}" if task.get("outcome") else "")
    row = _row(key_of("task", task["task_id"], change), task["owner_id"], "webhook", "task", subject, text,
               html.escape(text), [], now, {"task": {k: str(v) if v is not None else None for k, v in task.items()},
                                            "change": change})
    return _insert_new(engine, [row])


def pending(engine: Engine) -> pd.DataFrame:
    T.ensure(engine)
    with engine.connect() as conn:
        return pd.read_sql(sa.select(T.OUTBOX).where(T.OUTBOX.c.status.in_(["pending", "sending"])), conn)
