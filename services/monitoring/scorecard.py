"""Scorecard section `health`: drift, stale tables, active versions and the action effect (read, not refit)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db, registry
from services.monitoring import drift, health


def planted_action_effect(engine: Engine) -> float | None:
    """The simulator's planted action effect (demo data only; truth tables are read here and nowhere else)."""
    if not db.table_exists("truth_params", engine):
        return None
    with engine.connect() as conn:
        value = conn.execute(sa.text("SELECT value FROM truth_params WHERE key = 'action_effect'")).scalar()
    return None if value is None else float(json.loads(value))


def section(engine: Engine) -> dict[str, Any]:
    v = registry.versions(engine)
    active = v[v.status == "active"]
    flagged: dict[str, list[str]] = {}
    psi_max: dict[str, float] = {}
    for model in active.model:
        s = drift.summary(drift.read_drift(engine, model))
        if not s.empty:
            flagged[model] = s.feature[s.flagged].tolist()
            psi_max[model] = round(float(s.psi.max()), 4)
    outcome = registry.active_metrics(engine, "outcomes")
    estimate, planted = outcome.get("action_effect_estimate"), planted_action_effect(engine)
    out: dict[str, Any] = {
        "drift_flagged": flagged, "drift_psi_max": psi_max,
        "stale_tables": health.stale_tables(engine),
        "active_versions": dict(zip(active.model, active.version, strict=True)),
        "rejected_versions": int((v.status == "rejected").sum()), "failed_versions": int((v.status == "failed").sum()),
        "action_effect_estimate": estimate, "action_effect_interval_90": outcome.get("action_effect_interval_90"),
        "action_effect_stratified": outcome.get("action_effect_stratified"),
        "action_effect_raw": outcome.get("action_effect_raw"), "action_effect_planted": planted,
        "n_flagged_renewals_due": outcome.get("n_flagged_due"),
    }
    if estimate is not None and planted:
        out["action_effect_relative_error"] = round(abs(estimate - planted) / planted, 4)
        out["action_effect_within_30pct"] = out["action_effect_relative_error"] <= 0.30
    return out
