"""The nightly refresh: append new data, retrain what it changed, compute events, send deliveries.

`python -m services.cli refresh [DIR|ZIP|--source URL]` runs, under the data lock (services.joblock; one
refresh, train or import at a time), these steps, each logged in `refresh_runs`:
1. **import** (when a source is given): the new files are merged with the stored data - a row whose key is
   stored replaces it, a month of usage already loaded is replaced as a whole (never duplicated), tables the
   source lacks are kept - and the merged data is validated by the data contract and loaded in one
   transaction (`importer.import_frames(append=True)`). A refused import stops the refresh; nothing changed.
2. **train**: the models whose results were not built from the data now (services.snapshot), and those
   downstream of them, are retrained with the quality gate. Nothing to retrain when no data changed.
3. **events**: conditions on the active results, fired on entry and cleared on exit (services.alerts.events).
4. **deliveries**: the outbox is filled (services.alerts.outbox) and sent (services.alerts.send).
Idempotent: a second run on the same data imports the same rows, retrains nothing, fires nothing and sends
nothing. Each step is atomic on its own (one transaction, or a version switch), so a refresh killed at
any point leaves the previous results active, and the next run completes the work.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import contract, db, joblock, process, registry, snapshot
from services.alerts import events, outbox, send
from services.alerts import tables as T
from services.importer import ImportFileError, import_frames, read_source

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def as_text(df: pd.DataFrame, spec: contract.TableSpec) -> pd.DataFrame:
    """A stored table in the text form files arrive in (ISO dates, true/false, None for empty)."""
    out = pd.DataFrame(index=df.index)
    for col in spec.columns:
        if col.name not in df:
            continue
        s = df[col.name]
        if col.kind == "date":
            t = pd.to_datetime(s).dt.strftime("%Y-%m-%d")
        elif col.kind == "datetime":
            t = pd.to_datetime(s).dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif col.kind == "bool":
            t = s.map({True: "true", False: "false"})
        else:
            t = s.astype(object).map(lambda v: v if isinstance(v, str) else repr(v) if isinstance(v, float)
                                     else str(v))
        out[col.name] = t.astype(object).where(s.notna(), None)
    return out.reset_index(drop=True)


def merge(stored: pd.DataFrame, new: pd.DataFrame, spec: contract.TableSpec) -> pd.DataFrame:
    """`new` over `stored`: same key replaced; for a table keyed by month, each new month replaces the stored one."""
    new = new.astype(object).where(new.notna(), None)
    if stored.empty:
        return new.reset_index(drop=True)
    if "month" in spec.key and "month" in new:
        months = set(pd.to_datetime(new["month"].dropna(), errors="coerce").dt.strftime("%Y-%m-%d"))
        stored = stored[~stored["month"].isin(months)]
    both = pd.concat([stored, new[[c for c in new.columns if c in stored.columns] + [
        c for c in new.columns if c not in stored.columns]]], ignore_index=True)
    keys = [k for k in spec.key if k in both]
    return both.drop_duplicates(keys, keep="last").reset_index(drop=True) if keys else both


def merged_frames(engine: Engine, new: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every contract table: the stored rows with the new ones appended or replacing (see `merge`)."""
    out = {}
    for spec in contract.TABLES:
        stored = as_text(db.read_table(spec.name, engine), spec)
        out[spec.name] = merge(stored, new[spec.name], spec) if spec.name in new else stored
    return out


def _fetch_url(url: str, folder: Path) -> Path:
    """A zip of CSV files from an http(s) URL, saved under `folder`."""
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ImportFileError(f"{url}: only http(s) URLs are fetched")
    target = folder / "source.zip"
    with urllib.request.urlopen(url, timeout=120) as resp, open(target, "wb") as fh:
        fh.write(resp.read())
    return target


def retrain_plan(engine: Engine, jobs: tuple) -> list[str]:
    """The models to retrain: those whose newest version (active, or rejected by the gate) was not built from
    the data now, and every model downstream of one. A version the gate rejected on this data is not retried
    on the same data (a refresh on unchanged data retrains nothing)."""
    v = registry.versions(engine)
    v = v[v.status.isin(["active", "rejected"])].drop_duplicates("model")  # newest first
    now = snapshot.current(engine)
    states = {str(r.model): snapshot.state(r.data_fingerprint, now) for r in v.itertuples()}
    plan: list[str] = []
    for job in jobs:
        if states.get(job.model) != "current" or any(m in plan for m in job.after):
            plan.append(job.model)
    return plan


def _log(engine: Engine, run_id: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(T.REFRESH_RUNS.update().where(T.REFRESH_RUNS.c.run_id == run_id).values(**values))


def _mark_interrupted(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T.REFRESH_RUNS.c.run_id, T.REFRESH_RUNS.c.owner)
                            .where(T.REFRESH_RUNS.c.status == "running")).all()
    for r in rows:
        if not process.alive(r.owner):
            _log(engine, r.run_id, status="interrupted", finished_at=_now())


def refresh(engine: Engine, source: str | Path | None = None, *, train: Callable[..., dict] | None = None,
            deliver: bool = True, now: dt.datetime | None = None, force: bool = False) -> dict[str, Any]:
    """Run the refresh (see the module doc); returns {"run_id", "status", "steps"}. Raises joblock.Busy when
    another run holds the data lock, ImportFileError/ContractViolation when the new data is refused."""
    from services import jobs  # lazy: every model job

    train = train or jobs.train_all
    T.ensure(engine)
    with joblock.hold(engine, "refresh"):
        _mark_interrupted(engine)
        registry.clean_interrupted(engine)  # result rows of a training run killed with an earlier refresh
        run_id = f"R-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        with engine.begin() as conn:
            conn.execute(T.REFRESH_RUNS.insert().values(run_id=run_id, started_at=_now(), status="running",
                                                        source=str(source) if source else None, steps="{}",
                                                        owner=json.dumps(process.stamp())))
        steps: dict[str, Any] = {}
        status = "success"
        try:
            if source:
                steps["import"] = _import(engine, source)
                _log(engine, run_id, steps=json.dumps(steps, default=str))
            plan = retrain_plan(engine, jobs.JOBS)
            if plan:
                result = train(engine, only=plan if len(plan) < len(jobs.JOBS) else None, force=force)
                steps["train"] = {m: r["status"] for m, r in result.items()}
                if any(r["status"] == "failed" for r in result.values()):
                    status = "failed"
                    steps["train_notes"] = {m: r.get("note") for m, r in result.items() if r["status"] != "active"}
            else:
                steps["train"] = "every model is up to date with the data"
            _log(engine, run_id, steps=json.dumps(steps, default=str))
            found = events.evaluate(engine, run_id, at=now)
            steps["events"] = {"fired": int((found.action == "fired").sum()),
                               "cleared": int((found.action == "cleared").sum())}
            steps["outbox"] = outbox.enqueue(engine, now=now)
            if deliver:
                steps["sent"] = send.send_pending(engine)
        except BaseException as exc:
            steps["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            _log(engine, run_id, status="failed", finished_at=_now(), steps=json.dumps(steps, default=str))
            raise
        _log(engine, run_id, status=status, finished_at=_now(), steps=json.dumps(steps, default=str))
        log.info("refresh %s: %s %s", run_id, status, steps)
        return {"run_id": run_id, "status": status, "steps": steps}


def _import(engine: Engine, source: str | Path) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="foresight-refresh-") as tmp:
        path = _fetch_url(str(source), Path(tmp)) if str(source).startswith(("http://", "https://")) else source
        new = read_source(path)
        unknown = sorted(set(new) - set(contract.SPECS))
        if unknown:
            log.info("ignoring files that are not contract tables: %s", ", ".join(unknown))
        frames = merged_frames(engine, {k: v for k, v in new.items() if k in contract.SPECS})
        report = import_frames(frames, f"refresh: {source}", engine, allow_shrink=True, append=True)
    return {"rows_in_files": {t: len(df) for t, df in new.items() if t in contract.SPECS},
            "rows_stored": {t: int(n) for t, n in report.row_counts.items() if t in new}}
