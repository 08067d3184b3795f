"""One data job at a time: a lock in the database that `train`, `refresh` and every import take.

`hold(engine, purpose)` inserts the one row of `job_lock` (its primary key makes a second insert fail,
on SQLite and PostgreSQL alike) with the owner's stamp: its process (services.process) and its holder, the
calling thread unless an explicit `holder` is given. The row is deleted when the job ends. A row whose process
has ended (a job killed with `kill -9`) is taken over. The lock is re-entrant for its holder only: `refresh`
holds it across its import and its training run (one thread), while two threads of one process (two sessions
of the Streamlit server) are kept apart exactly as two processes are. `name` picks another lock than the data
one (the Data page's upload worker holds "upload" so that one upload is checked or imported at a time).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import process

log = logging.getLogger(__name__)
NAME = "data"
UPLOAD = "upload"
LOCK = sa.Table(
    "job_lock", sa.MetaData(),
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),  # JSON: process stamp, holder, what the job is
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("acquired_at", sa.DateTime, nullable=False),
)
_HELD: dict[tuple[str, str, str], tuple[int, str]] = {}  # (engine url, lock name, holder) -> (depth, owner JSON)
_MUTEX = threading.Lock()


class Busy(RuntimeError):
    """Another import, training run or refresh holds the lock; nothing was changed."""


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _holder_id(holder: str | None) -> str:
    return holder if holder is not None else f"thread-{threading.get_ident()}"


def _same_holder(owner: dict[str, Any], me: dict[str, Any]) -> bool:
    return all(owner.get(k) == me.get(k) for k in ("pid", "host", "holder"))


def holder(engine: Engine, name: str = NAME) -> dict | None:
    """The live holder of the lock (purpose, what, owner, acquired_at), or None when it is free."""
    LOCK.create(engine, checkfirst=True)
    with engine.connect() as conn:
        row = conn.execute(sa.select(LOCK).where(LOCK.c.name == name)).first()
    if row is None or not process.alive(row.owner):
        return None
    owner = json.loads(row.owner)
    return {"purpose": row.purpose, "what": owner.get("what"), "owner": owner, "acquired_at": row.acquired_at}


def describe(purpose: str, owner: dict[str, Any], acquired_at: dt.datetime) -> str:
    """'a train run (process 12, started 2026-11-30 10:00:00 UTC)', with what it is working on when known."""
    what = f" of {owner['what']}" if owner.get("what") else ""
    article = "an" if purpose[:1] in "aeiou" else "a"
    return (f"{article} {purpose} run{what} (process {owner.get('pid')}, started {acquired_at:%Y-%m-%d %H:%M:%S} UTC)")


def _acquire(engine: Engine, name: str, purpose: str, me: dict[str, Any]) -> str:
    LOCK.create(engine, checkfirst=True)
    text = json.dumps(me)
    try:
        with engine.begin() as conn:
            row = conn.execute(sa.select(LOCK).where(LOCK.c.name == name)).first()
            if row is not None and process.alive(row.owner):
                owner = json.loads(row.owner)
                if not _same_holder(owner, me):
                    raise Busy(f"{describe(row.purpose, owner, row.acquired_at)} is using the "
                               f"{'data' if name == NAME else name}; the {purpose} did not start: "
                               f"try again when it has finished")
            if row is not None:
                log.warning("taking over the %s lock of an ended %s run", name, row.purpose)
                conn.execute(LOCK.delete().where(LOCK.c.name == name))
            conn.execute(LOCK.insert().values(name=name, owner=text, purpose=purpose,
                                              acquired_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))
    except sa.exc.IntegrityError:  # another process (or thread) inserted between our read and our insert
        raise Busy(f"another run took the {'data' if name == NAME else name} lock just now; "
                   f"the {purpose} did not start") from None
    return text


def _release(engine: Engine, name: str, owner: str) -> None:
    with engine.begin() as conn:
        conn.execute(LOCK.delete().where((LOCK.c.name == name) & (LOCK.c.owner == owner)))


@contextmanager
def hold(engine: Engine, purpose: str, *, what: str | None = None, holder: str | None = None,
         name: str = NAME) -> Iterator[None]:
    """Hold lock `name` (the data lock by default) for `purpose` (import, train, refresh); raises Busy when
    another holder has it, in this process or another. `what` (an import's source, say) is shown to whoever
    is refused; `holder` names the holder explicitly (default: the calling thread)."""
    key = (_key(engine), name, _holder_id(holder))
    me = {**process.stamp(), "holder": key[2], **({"what": what} if what else {})}
    with _MUTEX:  # one thread at a time in this process; the row's primary key keeps processes apart
        depth, owner = _HELD.get(key, (0, ""))
        if depth == 0:
            owner = _acquire(engine, name, purpose, me)
        _HELD[key] = (depth + 1, owner)
    try:
        yield
    finally:
        with _MUTEX:
            depth, owner = _HELD[key]
            if depth > 1:
                _HELD[key] = (depth - 1, owner)
            else:
                del _HELD[key]
                try:
                    _release(engine, name, owner)
                except sa.exc.SQLAlchemyError:  # the database itself may be what failed
                    log.exception("could not release the %s lock (an ended owner is taken over later)", name)
