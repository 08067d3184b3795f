"""The data lock (services.joblock) on every backend: re-entrant for its holder (a thread, or an explicit holder)
only, so two threads of one process (two sessions of the Streamlit server) are kept apart as two processes are."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import Engine

from services import joblock
from services.importer import ImportFileError, import_frames


def _in_thread(fn) -> BaseException | None:
    """Run `fn` in another thread; what it raised (None when it returned)."""
    out: list[BaseException | None] = [None]

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out[0] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join(60)
    return out[0]


def test_another_thread_of_this_process_is_refused_naming_the_holder(engine: Engine) -> None:
    def second() -> None:
        with joblock.hold(engine, "import", what="upload: second.zip"):
            pass

    with joblock.hold(engine, "import", what="upload: first.zip"):
        err = _in_thread(second)
        assert isinstance(err, joblock.Busy), err
        assert "upload: first.zip" in str(err) and "did not start" in str(err)
        assert joblock.holder(engine)["what"] == "upload: first.zip"  # the refusal did not release it
    assert joblock.holder(engine) is None
    assert _in_thread(second) is None  # free again: the other thread takes it


def test_two_server_threads_cannot_both_import(engine: Engine, valid_frames) -> None:
    """A session's import (a thread) holding the lock: another session's import is refused and changes nothing."""
    started, release = threading.Event(), threading.Event()

    def first() -> None:
        with joblock.hold(engine, "import", what="upload: first.zip"):
            started.set()
            release.wait(60)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert started.wait(60)
        with pytest.raises(ImportFileError, match="upload: first.zip"):
            import_frames(valid_frames, "upload: second.zip", engine)
    finally:
        release.set()
        t.join(60)
    import_frames(valid_frames, "upload: third.zip", engine)  # the first one ended: a new import runs


def test_the_same_thread_re_enters_and_releases_at_the_outermost(engine: Engine) -> None:
    with joblock.hold(engine, "refresh"):
        with joblock.hold(engine, "import"):
            assert joblock.holder(engine)["purpose"] == "refresh"
        assert joblock.holder(engine) is not None  # still the refresh's
    assert joblock.holder(engine) is None


def test_an_explicit_holder_re_enters_from_another_thread(engine: Engine) -> None:
    def inner() -> None:
        with joblock.hold(engine, "train", holder="refresh-42"):
            pass

    with joblock.hold(engine, "refresh", holder="refresh-42"):
        assert _in_thread(inner) is None
        assert joblock.holder(engine) is not None  # the inner release did not free the outer hold
        assert isinstance(_in_thread(lambda: joblock.hold(engine, "train").__enter__()), joblock.Busy)
    assert joblock.holder(engine) is None


def test_locks_by_name_are_independent(engine: Engine) -> None:
    with joblock.hold(engine, "check", what="upload: a.zip", name=joblock.UPLOAD):
        assert joblock.holder(engine) is None and joblock.holder(engine, joblock.UPLOAD)["what"] == "upload: a.zip"
        with joblock.hold(engine, "train"):  # a training run may go on while an upload is checked
            assert joblock.holder(engine)["purpose"] == "train"
