"""Progress of a long job (an import), reported from inside the steps that do the work without a callback
threaded through every call: `report(...)` is a no-op unless a caller has installed a reporter with
`reporting(fn)` (the upload worker does, services.import_worker)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Step:
    """Where a job is: `stage` (reading, validating, cross_checks, comparing, loading, snapshot), the `table`
    it works on (`part` of `parts` tables), and `done` of `total` `unit`s (bytes, columns, rows) of it."""

    stage: str
    table: str = ""
    done: int = 0
    total: int = 0
    unit: str = "rows"
    part: int = 0
    parts: int = 0
    rows: int = 0  # rows of the table, where known

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_REPORTER: ContextVar[Callable[[Step], None] | None] = ContextVar("progress_reporter", default=None)


def report(stage: str, table: str = "", done: int = 0, total: int = 0, unit: str = "rows", part: int = 0,
           parts: int = 0, rows: int = 0) -> None:
    fn = _REPORTER.get()
    if fn is not None:
        fn(Step(stage, table, int(done), int(total), unit, part, parts, int(rows)))


def active() -> bool:
    return _REPORTER.get() is not None


@contextmanager
def reporting(fn: Callable[[Step], None]) -> Iterator[None]:
    token = _REPORTER.set(fn)
    try:
        yield
    finally:
        _REPORTER.reset(token)
