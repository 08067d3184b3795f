"""The training job: each model's job in dependency order, each stamped with a new version.

A job module exposes `MODEL` (its name) and `run(engine, version) -> (metrics, artifact)`: it fits,
scores and writes its result tables through `registry.write_results`. The version becomes active
only after the job finished; a failing job leaves the active version untouched (its version is
recorded as `failed` and any rows it wrote are deleted).

Quality gate: a new version whose key metric is worse than the active version's beyond a tolerance
is recorded as `rejected` (stored, not shown); `force=True` (`train --force`) activates it anyway.
A job module may define its own `gate(new_metrics, active_metrics) -> reason | None`; otherwise the
rule in `GATES` for its model applies:

| model | key metric | better | tolerance |
|---|---|---|---|
| churn | `auc` | higher | may drop at most 0.01 (absolute) |
| forecast | `wape` | lower | may rise at most 5% (relative) |
| adoption | `stability` | higher | may drop at most 0.02 (absolute) |
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import time
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import registry

log = logging.getLogger(__name__)
# adoption clusters feed churn features; churn risk feeds the forecast; explanations come last
# the outcomes job reads the churn scores (and scores earlier month-ends with the active churn model)
JOBS = ["services.adoption_job", "services.churn_job", "services.outcomes_job", "services.forecast_job",
        "services.explain_job"]



@dataclass(frozen=True)
class GateRule:
    metric: str
    higher_is_better: bool
    tolerance: float
    relative: bool = False

    def check(self, new: dict, active: dict) -> str | None:
        """The reason `new` may not replace `active`, or None (also when either lacks the metric)."""
        a, n = active.get(self.metric), new.get(self.metric)
        if not isinstance(a, int | float) or not isinstance(n, int | float):
            return None
        slack = self.tolerance * abs(a) if self.relative else self.tolerance
        worse = (a - n) if self.higher_is_better else (n - a)
        if worse <= slack:
            return None
        word = "dropped" if self.higher_is_better else "rose"
        tol = f"{self.tolerance:.0%} relative" if self.relative else f"{self.tolerance:g}"
        return (f"{self.metric} {word} from {a:.4f} (active) to {n:.4f}, beyond the tolerance of {tol}; "
                "stored but not activated (use --force to activate it anyway)")


GATES: dict[str, GateRule] = {
    "churn": GateRule("auc", higher_is_better=True, tolerance=0.01),
    "forecast": GateRule("wape", higher_is_better=False, tolerance=0.05, relative=True),
    "adoption": GateRule("stability", higher_is_better=True, tolerance=0.02),
}
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
        try:
            metrics, artifact = job.run(engine, version)
            metrics = {**metrics, "train_seconds": round(time.perf_counter() - t0, 2)}
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
        log.info("[%d/%d] %s %s in %.1fs%s", i, len(jobs), job.MODEL, status, metrics["train_seconds"],
                 f": {note}" if note else "")
        results[job.MODEL] = {"version": version.version, "status": status, "note": note, **metrics}
    return results


def gate(engine: Engine, job, metrics: dict, force: bool) -> tuple[str, str]:
    """Quality gate: the job's own `gate(new_metrics, active_metrics)` if it has one, else `GATES`."""
    rule = GATES.get(job.MODEL)
    check = getattr(job, "gate", None) or (rule.check if rule else None)
    active = registry.active_metrics(engine, job.MODEL)
    if check is None or not active:
        return "active", ""
    reason = check(metrics, active)
    if reason and force:
        return "active", f"forced past the quality gate: {reason.split(';')[0]}"
    return ("rejected", reason) if reason else ("active", "")
