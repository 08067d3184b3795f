"""The action loop's app tables (people's state, not model results), declared once.

`alert_state` holds the conditions standing after the last refresh (one row per event type and
subject); `alert_events` the log of entries (`fired`) and exits (`cleared`). `alert_subscriptions` says who
wants which event type, in what scope, by which channel and how often. `alert_outbox` holds every delivery
with its idempotency key (the primary key); the in-app channel lands in `alert_inbox`. `tasks` are the
follow-ups people create from an alert or an account and close with an outcome. `refresh_runs` logs runs.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

METADATA = sa.MetaData()

STATE = sa.Table(
    "alert_state", METADATA,
    sa.Column("event_type", sa.String(40), primary_key=True),
    sa.Column("subject_id", sa.String(80), primary_key=True),
    sa.Column("event_id", sa.String(64), nullable=False),  # the `fired` event that opened it
    sa.Column("since", sa.DateTime, nullable=False),
)
EVENTS = sa.Table(
    "alert_events", METADATA,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(40), index=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),  # fired | cleared
    sa.Column("subject_id", sa.String(80), nullable=False),
    sa.Column("account_id", sa.String(40), index=True),  # when the subject is (or belongs to) an account
    sa.Column("person_id", sa.String(40), index=True),  # whose book it is in (owner, CSM, node)
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("detail", sa.Text),  # JSON
)
SUBSCRIPTIONS = sa.Table(
    "alert_subscriptions", METADATA,
    sa.Column("person_id", sa.String(40), primary_key=True),
    sa.Column("event_type", sa.String(40), primary_key=True),
    sa.Column("channel", sa.String(10), primary_key=True),  # inbox | email | webhook
    sa.Column("scope", sa.String(10), nullable=False),  # mine | team | region | all (bounded by the role)
    sa.Column("frequency", sa.String(10), nullable=False),  # immediate | daily | weekly
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
OUTBOX = sa.Table(
    "alert_outbox", METADATA,
    sa.Column("key", sa.String(64), primary_key=True),  # idempotency key: a retry can never add a second row
    sa.Column("person_id", sa.String(40), nullable=False, index=True),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # event | digest_daily | digest_weekly | task
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text),
    sa.Column("payload", sa.Text, nullable=False),  # JSON: events (and the task) it carries
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(10), nullable=False, index=True),  # pending | sending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("claimed_by", sa.Text),  # JSON process stamp of the sender that took it
    sa.Column("sent_at", sa.DateTime),
    sa.Column("last_error", sa.Text),
)
INBOX = sa.Table(
    "alert_inbox", METADATA,
    sa.Column("message_id", sa.String(64), primary_key=True),  # = the outbox key
    sa.Column("person_id", sa.String(40), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("read_at", sa.DateTime),
)
TASKS = sa.Table(
    "tasks", METADATA,
    sa.Column("task_id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), nullable=False, index=True),
    sa.Column("event_id", sa.String(64)),  # the alert it came from, if any
    sa.Column("task_type", sa.String(40), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("playbook", sa.Text),
    sa.Column("owner_id", sa.String(40), nullable=False, index=True),
    sa.Column("created_by", sa.String(40), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("priority", sa.String(10), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # open | closed
    sa.Column("outcome", sa.String(20)),
    sa.Column("outcome_note", sa.Text),
    sa.Column("closed_at", sa.DateTime),
)
REFRESH_RUNS = sa.Table(
    "refresh_runs", METADATA,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(12), nullable=False),  # running | success | failed | interrupted
    sa.Column("source", sa.Text),
    sa.Column("steps", sa.Text),  # JSON: step -> outcome
    sa.Column("owner", sa.Text),  # JSON process stamp
)
_READY: set[str] = set()


def ensure(engine: Engine) -> None:
    """Create the action loop's tables that do not exist yet (once per engine and process)."""
    key = engine.url.render_as_string(hide_password=True)
    if key not in _READY:
        METADATA.create_all(engine, checkfirst=True)
        _READY.add(key)
