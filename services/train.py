"""The training job: each model's job in dependency order, each stamped with a new version.

A job module exposes `MODEL` (its name) and `run(engine, version) -> (metrics, artifact)`: it fits,
scores and writes its result tables through `registry.write_results`. The version becomes active
only after the job finished; a failing job leaves the active version untouched.
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import time

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import registry

log = logging.getLogger(__name__)
# adoption clusters feed churn features; churn risk feeds the forecast; explanations come last
JOBS = ["services.adoption_job", "services.churn_job", "services.forecast_job", "services.explain_job"]
FINGERPRINT_TABLES = ["accounts", "subscriptions", "usage_monthly", "opportunities", "opportunity_history",
                      "support_cases"]


def data_as_of(engine: Engine) -> pd.Timestamp:
    """The date the data runs to: the latest opportunity snapshot, case or usage month end."""
    with engine.connect() as conn:
        dates = [conn.execute(sa.text(q)).scalar() for q in (
            "SELECT MAX(snapshot_date) FROM opportunity_history",
            "SELECT MAX(opened_date) FROM support_cases",
            "SELECT MAX(month) FROM usage_monthly")]
    ts = [pd.Timestamp(d) for d in dates if d is not None]
    if not ts:
        raise LookupError("the database holds no data yet: seed or import first")
    usage_end = pd.Timestamp(dates[2]) + pd.offsets.MonthEnd(0) if dates[2] is not None else ts[0]
    return max([t for t in ts[:2]] + [usage_end]).normalize()


def fingerprint(engine: Engine, as_of: pd.Timestamp) -> dict:
    with engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in FINGERPRINT_TABLES}
    digest = hashlib.sha256(repr(sorted(counts.items())).encode() + str(as_of).encode()).hexdigest()[:16]
    return {"as_of": str(as_of.date()), "rows": counts, "hash": digest}


def available_jobs() -> list:
    mods = []
    for name in JOBS:
        try:
            mods.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return mods


def train_all(engine: Engine, as_of: pd.Timestamp | None = None, only: list[str] | None = None,
              force: bool = False) -> dict[str, dict]:
    as_of = pd.Timestamp(as_of) if as_of is not None else data_as_of(engine)
    fp = fingerprint(engine, as_of)
    results: dict[str, dict] = {}
    jobs = [m for m in available_jobs() if not only or m.MODEL in only]
    if not jobs:
        log.warning("no model jobs are installed yet")
    for i, job in enumerate(jobs, 1):
        version = registry.new_version(job.MODEL, as_of)
        log.info("[%d/%d] training %s (%s, as of %s)", i, len(jobs), job.MODEL, version.version, as_of.date())
        t0 = time.perf_counter()
        metrics, artifact = job.run(engine, version)
        metrics = {**metrics, "train_seconds": round(time.perf_counter() - t0, 2)}
        if artifact is not None:
            registry.save_artifact(version, artifact)
        status, note = gate(engine, job, metrics, force)
        registry.record(engine, version, metrics, fp, status, note)
        log.info("[%d/%d] %s %s in %.1fs%s", i, len(jobs), job.MODEL, status, metrics["train_seconds"],
                 f": {note}" if note else "")
        results[job.MODEL] = {"version": version.version, "status": status, "note": note, **metrics}
    return results


def gate(engine: Engine, job, metrics: dict, force: bool) -> tuple[str, str]:
    """Quality gate: a job may define `gate(new_metrics, active_metrics) -> reason or None`."""
    check = getattr(job, "gate", None)
    active = registry.active_metrics(engine, job.MODEL)
    if force or check is None or not active:
        return "active", ""
    reason = check(metrics, active)
    return ("rejected", reason) if reason else ("active", "")
