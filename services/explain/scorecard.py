"""Scorecard section `explain`: the figures the explain job stored with its active version (nothing refitted).

`additivity_max_abs_err` per model (log-odds for churn, win probability and the adoption surrogate; the
k-means margin in squared scaled units), `surrogate_fidelity` (held-out accounts where the surrogate
agrees with k-means), `shap_rows_per_s` (churn TreeSHAP throughput in the training job) and
`reason_coverage` (share of at-risk accounts whose top three reasons all render as sentences).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from services import registry
from services.explain.tables import MODEL

BARS = {"additivity_max_abs_err": 1e-6, "surrogate_fidelity": 0.95}


def section(engine: Engine) -> dict[str, Any]:
    m = registry.active_metrics(engine, MODEL)
    if not m:
        return {}
    models = m.get("models", {})
    per_model = {name: v.get("additivity_max_abs_err", v.get("surrogate_additivity_max_abs_err"))
                 for name, v in models.items() if isinstance(v, dict) and "skipped" not in v}
    out: dict[str, Any] = {
        "version": registry.active_version(engine, MODEL),
        "additivity_max_abs_err": m.get("additivity_max_abs_err"),
        "additivity_max_abs_err_by_model": per_model,
        "margin_additivity_max_abs_err": m.get("margin_additivity_max_abs_err"),
        "surrogate_fidelity": m.get("surrogate_fidelity"),
        "shap_rows_per_s": m.get("shap_rows_per_s"),
        "reason_coverage": m.get("reason_coverage"),
        "rows_explained": {k: v.get("rows") for k, v in models.items() if isinstance(v, dict)},
        "skipped": {k: v["skipped"] for k, v in models.items() if isinstance(v, dict) and "skipped" in v},
    }
    err, fid = out["additivity_max_abs_err"], out["surrogate_fidelity"]
    out["meets_bars"] = {"additivity_max_abs_err": err is not None and err < BARS["additivity_max_abs_err"],
                         "surrogate_fidelity": fid is not None and fid >= BARS["surrogate_fidelity"]}
    return out
