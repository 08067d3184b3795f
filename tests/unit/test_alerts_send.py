"""The outbox sender against a local SMTP server (aiosmtpd) and a local HTTP server on loopback: e-mail
digests and Slack-style webhook posts arrive, and a sender killed between two deliveries and restarted
delivers each exactly once (counted by the idempotency key each delivery carries)."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from test_alerts import SNAPSHOT_1, company, stub_train  # noqa: F401 - the fixture

from services.alerts import outbox, send, subscriptions
from services.alerts import tables as T
from services.config import REPO_ROOT
from services.refresh import refresh


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


@pytest.fixture()
def servers(monkeypatch):
    box = Mailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    posts: list[tuple[str, dict]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append((self.headers["Idempotency-Key"], json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    http = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    env = {"FORESIGHT_SMTP_HOST": "127.0.0.1", "FORESIGHT_SMTP_PORT": str(smtp.port),
           "FORESIGHT_WEBHOOK_URL": f"http://127.0.0.1:{http.server_port}/hook",
           "FORESIGHT_APP_URL": "http://foresight.test"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    yield {"mail": box.messages, "posts": posts, "env": env}
    smtp.stop()
    http.shutdown()


def _sent(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(T.OUTBOX).where(T.OUTBOX.c.status == "sent")).scalar()


def _sender(db_url: str, env: dict, pause: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services.alerts.send"], cwd=REPO_ROOT,
                            env={**os.environ, **env, "FORESIGHT_DATABASE_URL": db_url,
                                 send.PAUSE_ENV: str(pause)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killed_sender_restarted_delivers_each_exactly_once(company, db_url, servers):  # noqa: F811
    engine = company
    subscriptions.save(engine, "P0003", pd.DataFrame(  # the manager also wants the webhook, immediately
        [("P0003", t, ch, "team", f, True) for t in ("high_risk", "risk_up", "renewal_at_risk", "commit_missing")
         for ch, f in (("webhook", "immediate"), ("email", "daily"), ("inbox", "immediate"))],
        columns=subscriptions.COLUMNS))
    refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False, now=dt.datetime(2024, 7, 2, 6))
    owed = outbox.pending(engine)
    assert {"inbox", "email", "webhook"} <= set(owed.channel) and len(owed) >= 4

    first = _sender(db_url, servers["env"], pause=1.0)
    deadline = time.monotonic() + 60
    while _sent(engine) < 2 and time.monotonic() < deadline:  # kill it in its pause after the second delivery
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert 2 <= _sent(engine) < len(owed), "the kill must land between two deliveries"

    second = _sender(db_url, servers["env"], pause=0)
    assert second.wait(60) == 0
    assert _sent(engine) == len(owed) and outbox.pending(engine).empty

    emails = owed[owed.channel == "email"]
    got = Counter(m["Message-ID"].strip("<>").split("@")[0] for m in servers["mail"])
    assert got == Counter({k: 1 for k in emails.key})
    hooks = owed[owed.channel == "webhook"]
    assert Counter(k for k, _ in servers["posts"]) == Counter({k: 1 for k in hooks.key})
    with engine.connect() as conn:
        inbox = conn.execute(sa.select(T.INBOX.c.message_id)).scalars().all()
    assert sorted(inbox) == sorted(owed[owed.channel == "inbox"].key)

    digest = next(m for m in servers["mail"] if m["To"] == "p0003@example.com")
    html = digest.get_body(("html",)).get_content()
    assert "http://foresight.test/account?account_id=A000001" in html and "<table" in html
    post = servers["posts"][0][1]
    assert isinstance(post["text"], str) and post["blocks"][0]["type"] == "section"


def test_a_delivery_that_fails_is_retried_then_marked_failed(company, monkeypatch):  # noqa: F811
    engine = company
    refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False)
    monkeypatch.setenv("FORESIGHT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FORESIGHT_SMTP_PORT", str(_free_port()))  # nobody listens
    for _ in range(send.MAX_ATTEMPTS):
        send.send_pending(engine)
    rows = outbox.pending(engine)
    assert rows[rows.channel == "email"].empty  # none left pending: each was tried MAX_ATTEMPTS times
    with engine.connect() as conn:
        failed = conn.execute(sa.select(T.OUTBOX).where(T.OUTBOX.c.status == "failed")).all()
    assert failed and all(r.channel == "email" and r.attempts == send.MAX_ATTEMPTS and r.last_error for r in failed)


def test_tasks_go_to_the_webhook_when_created_and_closed(company, servers):  # noqa: F811
    from services.alerts import tasks

    engine = company
    tid = tasks.create(engine, "A000002", "call", "Renewal at risk", "P0005", "P0005", dt.date(2024, 8, 1))
    tasks.close(engine, tid, "customer_saved", "P0005")
    assert send.send_pending(engine)["sent"] == 2
    sent = [p["foresight"] for _, p in servers["posts"]]
    assert [(s["task"]["task_id"], s["change"]) for s in sent] == [(tid, "created"), (tid, "closed")]
    assert sent[1]["task"]["outcome"] == "customer_saved"
    assert send.send_pending(engine)["sent"] == 0  # nothing twice
