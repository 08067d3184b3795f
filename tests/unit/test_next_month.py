"""The demo's next month: the simulator's company one month-end earlier passes the contract, the month's rows
appended by `refresh` (from a folder, or a zip over HTTP on loopback) give back the later company row for
row, and the command line says when another job holds the lock."""
from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from http.server import HTTPServer, SimpleHTTPRequestHandler

import pandas as pd
import pytest

from services import contract, db, joblock
from services.config import REPO_ROOT
from services.importer import import_frames
from services.refresh import refresh
from services.simulator import generate
from services.simulator.next_month import cut, delta, previous_month_end, write_csvs

NEXT = pd.Timestamp("2025-06-30")


@pytest.fixture()
def demo(engine, tmp_path):
    full = generate(accounts=80, months=18, seed=7, as_of=NEXT.date())
    prev = cut(full, previous_month_end(NEXT))
    import_frames({k: v for k, v in prev.items() if k in contract.SPECS}, "demo cut", engine,
                  extra_tables={k: v for k, v in prev.items() if k not in contract.SPECS})
    folder = tmp_path / "next"
    write_csvs({s.name: delta(prev[s.name], full[s.name]) for s in contract.TABLES}, folder)
    return engine, full, prev, folder


def _typed(df: pd.DataFrame, spec: contract.TableSpec) -> pd.DataFrame:
    cols = [c.name for c in spec.columns if c.name in df]
    out = df[cols].copy()
    for c in spec.columns:
        if c.name in out and c.kind in ("id", "str"):
            out[c.name] = out[c.name].astype(object).where(out[c.name].notna(), None).map(
                lambda v: None if v is None else str(v))
        elif c.name in out and c.kind in ("date", "datetime"):
            out[c.name] = pd.to_datetime(out[c.name]).astype("datetime64[ns]")
        elif c.name in out and c.kind in ("float", "int"):
            out[c.name] = pd.to_numeric(out[c.name]).astype(float)
    return out.sort_values(list(spec.key), ignore_index=True)


def _same(engine, full) -> None:
    """The stored tables equal the later company's (floats to 1e-9: CSV text round-trips the last bit)."""
    for spec in contract.TABLES:
        pd.testing.assert_frame_equal(_typed(db.read_table(spec.name, engine), spec), _typed(full[spec.name], spec),
                                      check_dtype=False, check_exact=False, rtol=1e-9, obj=spec.name)


def test_the_next_month_appended_gives_the_later_company_row_for_row(demo):
    engine, full, prev, folder = demo
    assert len(prev["usage_monthly"]) < len(full["usage_monthly"])
    assert prev["usage_monthly"].month.max() == pd.Timestamp("2025-05-01")
    result = refresh(engine, folder, train=lambda engine, only=None, force=False: {}, deliver=False)
    assert result["status"] == "success"
    _same(engine, full)
    refresh(engine, folder, train=lambda engine, only=None, force=False: {}, deliver=False)  # again: no change
    _same(engine, full)


def test_refresh_fetches_a_zip_over_http(demo, tmp_path):
    engine, full, _prev, folder = demo
    shutil.make_archive(str(tmp_path / "serve" / "next"), "zip", folder)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "serve"))
    handler.log_message = lambda *a: None
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        refresh(engine, f"http://127.0.0.1:{server.server_port}/next.zip",
                train=lambda engine, only=None, force=False: {}, deliver=False)
    finally:
        server.shutdown()
    _same(engine, full)


def test_the_command_line_refresh_waits_for_no_one(engine, db_url, valid_frames):
    import_frames(valid_frames, "small", engine)
    keeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        joblock.LOCK.create(engine, checkfirst=True)
        with engine.begin() as conn:
            conn.execute(joblock.LOCK.insert().values(
                name=joblock.NAME, purpose="train", acquired_at=pd.Timestamp.now(),
                owner=json.dumps({"pid": keeper.pid, "host": socket.gethostname()})))
        out = subprocess.run([sys.executable, "-m", "services.cli", "refresh"], cwd=REPO_ROOT, capture_output=True,
                             check=False, text=True, env={**os.environ, "FORESIGHT_DATABASE_URL": db_url}, timeout=120)
    finally:
        keeper.kill()
        keeper.wait()
    assert out.returncode == 3 and "Busy: a train run" in out.stderr
