"""Who is signed in, what role they have, and what that role may see and do. No Streamlit.

A `Principal` is a row of `people` matched by e-mail (or picked in demo mode). Its role comes from a
role map applied to the identity provider's `groups` claim first, then to `people.role` (a company's
own job titles can be mapped the same way); an unmapped role is refused with the reason.

What each role sees is one rule, `Principal.scope` (a `services.hierarchy.Scope` bound): the people
below them in the manager tree, or everything. Reads intersect every requested scope with it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from services.hierarchy import Scope

# App roles. The people table's roles map onto these by name unless the role map says otherwise.
REP, MANAGER, REGIONAL_VP, CRO = "rep", "manager", "regional_vp", "cro"
CSM, CS_MANAGER = "csm", "cs_manager"
ARCHITECT, DATA_SCIENTIST, ADMIN, DATA_OWNER = "architect", "data_scientist", "admin", "data_owner"
ROLES = (REP, MANAGER, REGIONAL_VP, CRO, CSM, CS_MANAGER, ARCHITECT, DATA_SCIENTIST, ADMIN, DATA_OWNER)
LABELS = {REP: "Rep", MANAGER: "Sales manager", REGIONAL_VP: "Regional VP", CRO: "CRO", CSM: "CSM",
          CS_MANAGER: "CS manager", ARCHITECT: "Architect", DATA_SCIENTIST: "Data scientist", ADMIN: "Admin",
          DATA_OWNER: "Data owner"}

# Roles bounded to their own subtree of the manager tree; every other role sees the whole company.
BOUNDED = frozenset({REP, MANAGER, REGIONAL_VP, CSM, CS_MANAGER})
SALES = frozenset({REP, MANAGER, REGIONAL_VP, CRO})
CUSTOMER_SUCCESS = frozenset({CSM, CS_MANAGER})
MODEL_STAFF = frozenset({ARCHITECT, DATA_SCIENTIST, ADMIN})
DATA_STAFF = frozenset({ADMIN, DATA_OWNER})

# Permission -> the roles that have it (the admin has every one). Pages and write paths ask `can()`.
PERMISSIONS: dict[str, frozenset[str]] = {name: roles | {ADMIN} for name, roles in {
    "overview": frozenset(ROLES),
    "accounts": frozenset(ROLES),  # churn risk, account, adoption: rows bounded by Principal.scope
    "forecast": SALES | frozenset({ARCHITECT, DATA_SCIENTIST}),
    "enter_commit": SALES,
    # where to grow: reps, managers and CSMs and those above them (rows bounded by Principal.scope); read-only
    # model staff as on the forecast
    "expansion": SALES | CUSTOMER_SUCCESS | frozenset({ARCHITECT, DATA_SCIENTIST}),
    "log_action": CUSTOMER_SUCCESS | SALES,
    "workbench": MODEL_STAFF,
    "model_health": MODEL_STAFF | {DATA_OWNER},
    "data": DATA_STAFF,
    "manage_models": DATA_STAFF,  # activate, rollback
    "audit": frozenset(),
}.items()}

# FORESIGHT_AUTH: "oidc" (production: sign-in required) or unset / "demo".
MODES = ("demo", "oidc")


def auth_mode(configured: bool, requested: str | None) -> str:
    """"oidc" when an identity provider is configured, else "demo"; production without one is refused."""
    requested = (requested or "").strip().lower() or None
    if requested not in (None, *MODES):
        raise ValueError(f"FORESIGHT_AUTH must be one of {', '.join(MODES)}, got {requested!r}")
    if configured:
        return "oidc"  # demo mode is impossible once [auth] is configured
    if requested == "oidc":
        raise RuntimeError("FORESIGHT_AUTH=oidc but .streamlit/secrets.toml has no [auth] section: configure the "
                           "identity provider (see .streamlit/secrets.toml.example) or unset FORESIGHT_AUTH.")
    return "demo"


class SignInError(PermissionError):
    """The signed-in identity cannot be turned into a principal (unknown e-mail, unmapped role)."""


@dataclass(frozen=True)
class Principal:
    person_id: str
    name: str
    email: str | None
    role: str

    @property
    def scope(self) -> Scope:
        """The allowed scope: the person's subtree for bounded roles, else the whole company."""
        return Scope(within=self.person_id if self.role in BOUNDED else None)

    @property
    def label(self) -> str:
        return f"{self.name} ({LABELS.get(self.role, self.role)})"


def can(principal: Principal | None, permission: str) -> bool:
    """Whether the principal's role has `permission` (a key of PERMISSIONS)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return principal is not None and principal.role in PERMISSIONS[permission]


def require(principal: Principal | None, permission: str) -> None:
    """Raise PermissionError unless the principal may do `permission`."""
    if not can(principal, permission):
        who = principal.label if principal else "Nobody signed in"
        raise PermissionError(f"{who} may not {permission.replace('_', ' ')}.")


def map_role(people_role: str, groups: Iterable[str] = (), role_map: Mapping[str, str] | None = None) -> str:
    """The app role: the first group the map knows, else the people role (mapped, or used as is)."""
    role_map = dict(role_map or {})
    for group in groups:
        if group in role_map:
            return _checked(role_map[group], f"group {group!r}")
    role = role_map.get(people_role, people_role)
    return _checked(role, f"people role {people_role!r}")


def _checked(role: str, source: str) -> str:
    if role not in ROLES:
        raise SignInError(f"{source} maps to {role!r}, which is not a Foresight role ({', '.join(ROLES)}); "
                          "map it under [foresight.roles] in .streamlit/secrets.toml.")
    return role


def _principal(row: pd.Series, role: str) -> Principal:
    email = row.get("email")
    return Principal(str(row["person_id"]), str(row["name"]), email if isinstance(email, str) else None, role)


def principal_for_email(people: pd.DataFrame, email: str | None, groups: Iterable[str] = (),
                        role_map: Mapping[str, str] | None = None) -> Principal:
    """The person whose `people.email` matches (case-insensitive), with their mapped role."""
    if not email:
        raise SignInError("The identity provider sent no e-mail address, so you cannot be matched to a person.")
    if "email" not in people:
        raise SignInError("The people table has no email column: add it to match sign-ins to people.")
    match = people[people["email"].fillna("").str.strip().str.lower() == email.strip().lower()]
    if match.empty:
        raise SignInError(f"{email} is not in the people table; ask an admin to add your e-mail.")
    if len(match) > 1:
        raise SignInError(f"{email} belongs to {len(match)} people ({', '.join(match.person_id)}); "
                          "e-mails must be unique.")
    row = match.iloc[0]
    return _principal(row, map_role(str(row["role"]), groups, role_map))


def principal_for_id(people: pd.DataFrame, person_id: str, role_map: Mapping[str, str] | None = None) -> Principal:
    """The person with this id (demo mode's "sign in as", the CLI's --as)."""
    match = people[people["person_id"] == person_id]
    if match.empty:
        raise SignInError(f"No person with id {person_id!r}.")
    row = match.iloc[0]
    return _principal(row, map_role(str(row["role"]), (), role_map))


def personas(people: pd.DataFrame) -> pd.DataFrame:
    """One person per role (the first by id) for demo mode's picker: person_id, name, role."""
    known = people[people["role"].isin(ROLES)].sort_values("person_id")
    first = known.drop_duplicates("role")
    order = {r: i for i, r in enumerate(ROLES)}
    return first.sort_values("role", key=lambda s: s.map(order))[["person_id", "name", "role"]].reset_index(drop=True)
