"""The JSON scorecard: data facts plus one section per model, filled by the modules that own them.

A model's section is a function `Engine -> dict` registered under its name, either with
`@register("churn")` or by a module `services.<name>.scorecard` (or `services.scorecard_<name>`) that
defines `section(engine)`;
`scorecard()` imports those modules lazily and tolerates their absence (an empty section).
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import contract, db

log = logging.getLogger(__name__)

Section = Callable[[Engine], dict[str, Any]]
SECTIONS: dict[str, Section] = {}
MODEL_SECTIONS = ("churn", "adoption", "expansion", "forecast", "explain", "health")
PACKAGE_OF = {"health": "monitoring"}  # section -> capability package, where the names differ


def register(name: str) -> Callable[[Section], Section]:
    """Decorator: `@register("churn") def churn_section(engine) -> dict`."""

    def deco(fn: Section) -> Section:
        SECTIONS[name] = fn
        return fn

    return deco


def _load_section(name: str) -> Section | None:
    if name in SECTIONS:
        return SECTIONS[name]
    module_name = f"services.{PACKAGE_OF.get(name, name)}.scorecard"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None
    if name not in SECTIONS and callable(getattr(module, "section", None)):
        SECTIONS[name] = module.section
    return SECTIONS.get(name)


def _scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def _iso(value: Any) -> str | None:
    return None if value is None else pd.Timestamp(value).date().isoformat()


def data_section(engine: Engine) -> dict[str, Any]:
    """Row counts per table, the data's time span and the last import."""
    names = set(db.table_names(engine))
    tables = [t for t in db.TABLE_ORDER if t in names] + sorted(t for t in names
                                                                if t.startswith("truth_"))
    prep = engine.dialect.identifier_preparer
    counts = {t: int(_scalar(engine, f"SELECT COUNT(*) FROM {prep.quote(t)}")) for t in tables}
    out: dict[str, Any] = {
        "row_counts": counts,
        "as_of": _iso(_scalar(engine, "SELECT MAX(month) FROM usage_monthly")),
        "first_month": _iso(_scalar(engine, "SELECT MIN(month) FROM usage_monthly")),
        "months": int(_scalar(engine, "SELECT COUNT(DISTINCT month) FROM usage_monthly") or 0),
        "contract_tables_missing": [s.name for s in contract.TABLES
                                    if not s.optional and not counts.get(s.name)],
        "last_import": None,
    }
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.IMPORTS.c.import_id, db.IMPORTS.c.source, db.IMPORTS.c.status,
                                     db.IMPORTS.c.finished_at)
                           .order_by(db.IMPORTS.c.started_at.desc()).limit(1)).mappings().first()
    if row is not None:
        out["last_import"] = {**row, "finished_at": str(row["finished_at"])}
    return out


def scorecard(engine: Engine | None = None) -> dict[str, Any]:
    """`{"data": {...}, "churn": {...}, "adoption": {...}, "forecast": {...}, "explain": {...}}`.

    A section that raises is reported as `{"error": "..."}` (and logged) rather than hiding the rest."""
    engine = engine or db.get_engine()
    result: dict[str, Any] = {"data": data_section(engine)}
    for name in MODEL_SECTIONS + tuple(n for n in SECTIONS if n not in MODEL_SECTIONS):
        fn = _load_section(name)
        if fn is None:
            result[name] = {}
            continue
        try:
            result[name] = fn(engine)
        except Exception as exc:  # one broken section must not hide the others
            log.exception("scorecard section %s failed", name)
            result[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return json.loads(json.dumps(result, default=str))
