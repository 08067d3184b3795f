"""Model activation and rollback by a signed-in person: allowed to admins and data owners, audited.

The command line (`services.cli models activate|rollback`) is the operator's path and audits the OS user.
"""
from __future__ import annotations

from sqlalchemy.engine import Engine

from services import audit, auth, registry


def activate(engine: Engine, principal: auth.Principal | None, version: str) -> str:
    """Make `version` active for its model; returns the model. PermissionError for other roles."""
    auth.require(principal, "manage_models")
    model = registry.activate(engine, version)
    audit.record(engine, principal.person_id, "activate", model=model, version=version)
    return model


def rollback(engine: Engine, principal: auth.Principal | None, model: str) -> str:
    """Re-activate the version active before the current one; returns it. PermissionError for other roles."""
    auth.require(principal, "manage_models")
    version = registry.rollback(engine, model)
    audit.record(engine, principal.person_id, "rollback", model=model, version=version)
    return version
