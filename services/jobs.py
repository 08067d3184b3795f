"""The training run: every model's job in dependency order, each stamped with a new version.

A job module exposes `MODEL` (its name), `GATES` (its quality-gate rules, `services.gates.Gate`) and
`run(engine, version, inputs) -> (metrics, artifact)`: it fits, scores and writes its result tables through
`registry.write_results`. `inputs` is this run's `RunInputs`: raw inputs read once per run and handed to
every job that needs them (the churn inputs feed churn, outcomes and explain). The version becomes active
only after the job finished; a failing job leaves the active version untouched (its version is recorded
as `failed` and any rows it wrote are deleted). A new version that fails one of its job's `GATES` is
recorded as `rejected` (stored, not shown); `force=True` (`train --force`) activates it anyway. After each
job the retention policy (`registry.prune`) deletes the rows of versions that can no longer be shown or rolled
back to.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import joblock, registry, snapshot
from services.adoption import job as adoption_job
from services.churn import job as churn_job
from services.expansion import job as expansion_job
from services.explain import job as explain_job
from services.forecast import job as forecast_job
from services.gates import first_failure
from services.outcomes import job as outcomes_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    module: ModuleType
    after: tuple[str, ...] = ()  # models whose active results this job reads

    @property
    def model(self) -> str:
        return self.module.MODEL


# adoption clusters feed churn features; the outcomes job reads the churn scores (and scores earlier
# month-ends with the active churn model); expansion reads the adoption clusters through the churn inputs
# (listed after churn, so both share one read of them); churn risk feeds the forecast's ending ARR; explanations come last
JOBS: tuple[Job, ...] = (
    Job(adoption_job),
    Job(churn_job, after=("adoption",)),
    Job(expansion_job, after=("adoption",)),
    Job(outcomes_job, after=("churn",)),
    Job(forecast_job, after=("churn",)),
    Job(explain_job, after=("churn", "adoption", "forecast")),
)


class RunInputs:
    """Raw inputs of one training run, each read at most once (`get(key, loader)` memoises)."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def get(self, key: str, loader: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = loader()
        return self._cache[key]


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
        data = snapshot.data_fingerprint(conn)
    digest = hashlib.sha256(repr(sorted(counts.items())).encode() + str(as_of).encode()).hexdigest()[:16]
    lineage = (snapshot.current(engine) or {}).get("lineage")
    return {"as_of": str(as_of.date()), "rows": counts, "hash": digest, "data": data, "lineage": lineage}


OPTIONAL_INPUTS = ("support_cases", "commits", "quotas", "opportunities")


def data_history(engine: Engine, as_of: pd.Timestamp) -> dict:
    """What history the models had: months of usage and of deals up to the as-of, and the optional tables
    that held no rows (each model card states it)."""
    day = pd.Timestamp(as_of).date()
    with engine.connect() as conn:
        usage = conn.execute(sa.text("SELECT MIN(month), MAX(month), COUNT(DISTINCT month) FROM usage_monthly "
                                     "WHERE month <= :d"), {"d": day}).one()
        deals = conn.execute(sa.text("SELECT MIN(snapshot_date), MAX(snapshot_date) FROM opportunity_history "
                                     "WHERE snapshot_date <= :d"), {"d": day}).one()
        empty = [t for t in OPTIONAL_INPUTS
                 if not conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar()]
    deal_months = None
    if deals[0] is not None:
        lo, hi = pd.Timestamp(deals[0]).to_period("M"), pd.Timestamp(deals[1]).to_period("M")
        deal_months = int(hi.ordinal - lo.ordinal + 1)
    return {"usage_months": int(usage[2] or 0), "first_usage_month": str(pd.Timestamp(usage[0]).date()) if usage[0]
            else None, "last_usage_month": str(pd.Timestamp(usage[1]).date()) if usage[1] else None,
            "deal_history_months": deal_months, "tables_without_rows": empty}


def check_order(jobs: tuple[Job, ...] = JOBS) -> None:
    """Raise if a job is listed before a model it reads."""
    seen: set[str] = set()
    for job in jobs:
        missing = [m for m in job.after if m not in seen]
        if missing:
            raise ValueError(f"job {job.model} is listed before {', '.join(missing)}, which it reads")
        seen.add(job.model)


def available_jobs() -> list[ModuleType]:
    check_order()
    return [job.module for job in JOBS]


def train_all(engine: Engine, as_of: pd.Timestamp | None = None, only: list[str] | None = None,
              force: bool = False) -> dict[str, dict]:
    """Train every job (or `only` these) on one consistent snapshot: the data lock (services.joblock) is held
    throughout, so no import can change the data under a run; raises joblock.Busy when another run has it."""
    with joblock.hold(engine, "train"):
        return _train_all(engine, as_of, only, force)


def _train_all(engine: Engine, as_of: pd.Timestamp | None, only: list[str] | None,
               force: bool) -> dict[str, dict]:
    registry.clean_interrupted(engine)  # rows of a run that was killed half-way
    as_of = pd.Timestamp(as_of) if as_of is not None else data_as_of(engine)
    fp = fingerprint(engine, as_of)
    history = data_history(engine, as_of)
    results: dict[str, dict] = {}
    jobs = [m for m in available_jobs() if not only or m.MODEL in only]
    unknown = sorted(set(only or ()) - {m.MODEL for m in available_jobs()})
    if unknown:
        raise ValueError(f"no training job for {', '.join(unknown)}; "
                         f"jobs: {', '.join(m.MODEL for m in available_jobs())}")
    inputs = RunInputs()
    for i, job in enumerate(jobs, 1):
        version = registry.new_version(job.MODEL, as_of)
        log.info("[%d/%d] training %s (%s, as of %s)", i, len(jobs), job.MODEL, version.version, as_of.date())
        t0 = time.perf_counter()
        registry.start(engine, version)
        try:
            metrics, artifact = job.run(engine, version, inputs)
            metrics = {**metrics, "data_history": history, "train_seconds": round(time.perf_counter() - t0, 2)}
            if artifact is not None:
                registry.save_artifact(version, artifact)
        except Exception as exc:  # a failed job must leave the active version as it was
            log.exception("%s failed; the active version is unchanged", job.MODEL)
            note = f"{type(exc).__name__}: {exc}"
            registry.discard_results(engine, version.version)
            registry.record(engine, version, {}, fp, "failed", note[:2000])
            results[job.MODEL] = {"version": version.version, "status": "failed", "note": note}
            continue
        status, note = gate(engine, job, metrics, force)
        registry.record(engine, version, metrics, fp, status, note)
        registry.prune(engine, job.MODEL)  # retention: active, previous, pending candidates
        log.info("[%d/%d] %s %s in %.1fs%s", i, len(jobs), job.MODEL, status, metrics["train_seconds"],
                 f": {note}" if note else "")
        results[job.MODEL] = {"version": version.version, "status": status, "note": note, **metrics}
    return results


def gate(engine: Engine, job: ModuleType, metrics: dict, force: bool) -> tuple[str, str]:
    """Quality gate: the first of the job's `GATES` the new metrics fail, against the active version's."""
    active = registry.active_metrics(engine, job.MODEL)
    reason = first_failure(getattr(job, "GATES", ()), metrics, active)
    if reason:
        reason += "; stored but not activated (use --force to activate it anyway)"
    if reason and force:
        return "active", f"forced past the quality gate: {reason.split(';')[0]}"
    return ("rejected", reason) if reason else ("active", "")
