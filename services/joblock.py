"""One data job at a time: a lock in the database that `train`, `refresh` and every import take.

`hold(engine, purpose)` inserts the one row of `job_lock` (its primary key makes a second insert fail,
on SQLite and PostgreSQL alike) with the owner's process stamp (services.process); it is deleted when
the job ends. A row whose process has ended (a job killed with `kill -9`) is taken over. Within one
process the lock is re-entrant, so `refresh` holds it across its import and its training run.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import process

log = logging.getLogger(__name__)
NAME = "data"
LOCK = sa.Table(
    "job_lock", sa.MetaData(),
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),  # JSON process stamp
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("acquired_at", sa.DateTime, nullable=False),
)
_HELD: dict[str, int] = {}  # engine url -> depth held by this process
_MUTEX = threading.Lock()


class Busy(RuntimeError):
    """Another import, training run or refresh holds the lock; nothing was changed."""


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def holder(engine: Engine) -> dict | None:
    """The live holder of the lock (purpose, owner, acquired_at), or None when it is free."""
    LOCK.create(engine, checkfirst=True)
    with engine.connect() as conn:
        row = conn.execute(sa.select(LOCK).where(LOCK.c.name == NAME)).first()
    if row is None or not process.alive(row.owner):
        return None
    return {"purpose": row.purpose, "owner": json.loads(row.owner), "acquired_at": row.acquired_at}


def _acquire(engine: Engine, purpose: str) -> None:
    LOCK.create(engine, checkfirst=True)
    me = process.stamp()
    try:
        with engine.begin() as conn:
            row = conn.execute(sa.select(LOCK).where(LOCK.c.name == NAME)).first()
            if row is not None and process.alive(row.owner) and json.loads(row.owner) != me:
                raise Busy(f"a {row.purpose} run (process {json.loads(row.owner).get('pid')}, started "
                           f"{row.acquired_at:%Y-%m-%d %H:%M:%S} UTC) is using the data; the {purpose} did not start: "
                           f"try again when it has finished")
            if row is not None:
                log.warning("taking over the lock of an ended %s run", row.purpose)
                conn.execute(LOCK.delete().where(LOCK.c.name == NAME))
            conn.execute(LOCK.insert().values(name=NAME, owner=json.dumps(me), purpose=purpose,
                                              acquired_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))
    except sa.exc.IntegrityError:  # another process inserted between our read and our insert
        raise Busy(f"another run took the data lock just now; {purpose} did not start") from None


def _release(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(LOCK.delete().where((LOCK.c.name == NAME) & (LOCK.c.owner == json.dumps(process.stamp()))))


@contextmanager
def hold(engine: Engine, purpose: str) -> Iterator[None]:
    """Hold the data lock for `purpose` (import, train, refresh); raises Busy when another process has it."""
    key = _key(engine)
    with _MUTEX:
        depth = _HELD.get(key, 0)
        if depth == 0:
            _acquire(engine, purpose)
        _HELD[key] = depth + 1
    try:
        yield
    finally:
        with _MUTEX:
            _HELD[key] -= 1
            if _HELD[key] == 0:
                del _HELD[key]
                try:
                    _release(engine)
                except sa.exc.SQLAlchemyError:  # the database itself may be what failed
                    log.exception("could not release the data lock (an ended owner is taken over later)")
