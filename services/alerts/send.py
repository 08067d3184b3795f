"""The outbox sender: in-app inbox, e-mail (SMTP) and a Slack-compatible webhook, each delivery once.

A delivery is claimed (`pending` -> `sending`, with this process's stamp) before it goes out and marked
`sent` right after, so a sender killed between two deliveries resumes with the next one and never resends
the ones before. The in-app inbox is written in the same transaction that marks the row sent: exactly once.
For e-mail and webhook the one window left - killed after the server accepted a message but before the row
was marked - is closed on the receiving side: a claim whose process has ended is retried with the same
idempotency key, carried as the e-mail's `Message-ID` and the webhook's `Idempotency-Key` header, so the
receiver can drop the repeat. A failed attempt goes back to `pending` (up to MAX_ATTEMPTS, then `failed`).

Settings (environment first, then `[smtp]` / `[webhook]` in .streamlit/secrets.toml): FORESIGHT_SMTP_HOST,
FORESIGHT_SMTP_PORT (25), FORESIGHT_SMTP_USER, FORESIGHT_SMTP_PASSWORD, FORESIGHT_SMTP_FROM,
FORESIGHT_SMTP_STARTTLS (true/false); FORESIGHT_WEBHOOK_URL.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import smtplib
import time
import tomllib
import urllib.request
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db, process
from services.alerts import tables as T
from services.config import REPO_ROOT

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
PAUSE_ENV = "FORESIGHT_SEND_PAUSE_S"  # seconds to wait after each delivery (tests kill the sender there)


def _secrets(section: str) -> dict[str, Any]:
    path = REPO_ROOT / ".streamlit" / "secrets.toml"
    try:
        return dict(tomllib.loads(path.read_text()).get(section, {}))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def setting(section: str, name: str, default: str | None = None) -> str | None:
    raw = os.environ.get(f"FORESIGHT_{section.upper()}_{name.upper()}", "").strip()
    if raw:
        return raw
    value = _secrets(section).get(name)
    return str(value) if value not in (None, "") else default


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def release_dead_claims(engine: Engine) -> int:
    """Deliveries left `sending` by a sender that has ended: back to `pending` (sent again with their key)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T.OUTBOX.c.key, T.OUTBOX.c.claimed_by).where(T.OUTBOX.c.status == "sending")).all()
    dead = [r.key for r in rows if not process.alive(r.claimed_by)]
    if dead:
        with engine.begin() as conn:
            conn.execute(T.OUTBOX.update().where(T.OUTBOX.c.key.in_(dead)).values(status="pending", claimed_by=None))
        log.warning("%d delivery(ies) were claimed by a sender that ended; retrying them", len(dead))
    return len(dead)


def _claim(engine: Engine, key: str) -> bool:
    with engine.begin() as conn:
        n = conn.execute(T.OUTBOX.update().where((T.OUTBOX.c.key == key) & (T.OUTBOX.c.status == "pending"))
                         .values(status="sending", claimed_by=json.dumps(process.stamp()),
                                 attempts=T.OUTBOX.c.attempts + 1)).rowcount
    return n == 1


def _email_of(engine: Engine, person_id: str) -> str | None:
    with engine.connect() as conn:
        if "email" not in {c["name"] for c in sa.inspect(conn).get_columns("people")}:
            return None
        return conn.execute(sa.text("SELECT email FROM people WHERE person_id = :p"), {"p": person_id}).scalar()


def send_email(row: Any, to: str) -> None:
    host = setting("smtp", "host")
    if not host:
        raise RuntimeError("no SMTP server configured (FORESIGHT_SMTP_HOST or [smtp] host in secrets)")
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = setting("smtp", "from", "foresight@localhost")
    msg["To"] = to
    msg["Message-ID"] = f"<{row.key}@foresight>"
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    with smtplib.SMTP(host, int(setting("smtp", "port", "25")), timeout=30) as smtp:
        if (setting("smtp", "starttls", "false") or "").lower() in ("1", "true", "yes"):
            smtp.starttls()
        user = setting("smtp", "user")
        if user:
            smtp.login(user, setting("smtp", "password", "") or "")
        smtp.send_message(msg)


def slack_payload(row: Any) -> dict[str, Any]:
    """Slack-compatible JSON (incoming webhooks read `text`; `blocks` for the richer view)."""
    payload = json.loads(row.payload)
    return {"text": row.body_text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": row.body_text}}],
            "foresight": {"key": row.key, "kind": row.kind, "person_id": row.person_id,
                          "event_ids": payload.get("event_ids", []), "task": payload.get("task"),
                          "change": payload.get("change")}}


def send_webhook(row: Any) -> None:
    url = setting("webhook", "url")
    if not url:
        raise RuntimeError("no webhook configured (FORESIGHT_WEBHOOK_URL or [webhook] url in secrets)")
    req = urllib.request.Request(url, data=json.dumps(slack_payload(row)).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Idempotency-Key": row.key})
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"webhook answered HTTP {resp.status}")


def _deliver(engine: Engine, row: Any) -> None:
    if row.channel == "inbox":
        with engine.begin() as conn:  # the message and the mark in one transaction: exactly once
            if conn.execute(sa.select(T.INBOX.c.message_id).where(T.INBOX.c.message_id == row.key)).first() is None:
                conn.execute(T.INBOX.insert().values(message_id=row.key, person_id=row.person_id,
                                                     created_at=row.created_at, subject=row.subject,
                                                     body=row.body_text, payload=row.payload, read_at=None))
            conn.execute(T.OUTBOX.update().where(T.OUTBOX.c.key == row.key).values(status="sent", sent_at=_now()))
        return
    if row.channel == "email":
        to = _email_of(engine, row.person_id)
        if not to:
            raise RuntimeError(f"{row.person_id} has no e-mail address in the people table")
        send_email(row, to)
    elif row.channel == "webhook":
        send_webhook(row)
    else:
        raise RuntimeError(f"unknown channel {row.channel!r}")
    with engine.begin() as conn:
        conn.execute(T.OUTBOX.update().where(T.OUTBOX.c.key == row.key).values(status="sent", sent_at=_now()))


def send_pending(engine: Engine, limit: int | None = None) -> dict[str, int]:
    """Send every pending delivery, oldest first; returns counts of sent, retried and failed."""
    T.ensure(engine)
    release_dead_claims(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T.OUTBOX).where(T.OUTBOX.c.status == "pending")
                            .order_by(T.OUTBOX.c.created_at, T.OUTBOX.c.key)).all()
    pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    for row in rows[:limit]:
        if not _claim(engine, row.key):
            continue  # another sender took it
        try:
            _deliver(engine, row)
            counts["sent"] += 1
        except Exception as exc:  # noqa: BLE001 - a server down, a bad address: retried later, reported
            final = row.attempts + 1 >= MAX_ATTEMPTS
            with engine.begin() as conn:
                conn.execute(T.OUTBOX.update().where(T.OUTBOX.c.key == row.key).values(
                    status="failed" if final else "pending", claimed_by=None,
                    last_error=f"{type(exc).__name__}: {exc}"[:1000]))
            counts["failed" if final else "retry"] += 1
            log.warning("delivery %s (%s to %s) failed: %s", row.key[:10], row.channel, row.person_id, exc)
        if pause:
            time.sleep(pause)
    log.info("sender: %(sent)d sent, %(retry)d to retry, %(failed)d failed", counts)
    return counts


def main() -> int:  # `python -m services.alerts.send`: send what is pending (cron, or after a refresh)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    counts = send_pending(db.get_engine())
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
