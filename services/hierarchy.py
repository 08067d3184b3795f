"""The sales hierarchy (the `people.manager_id` tree) and scope filtering.

Every page filters by the same scope: the whole company, a region, a manager or a rep.
A scope resolves to the set of person_ids whose accounts (by `owner_id`, or `csm_id` for the
customer-success team) are in view. `Scope.within` is the outer bound, the signed-in person's allowed
scope (`services.auth`): whatever the request, the resolved set never leaves that person's subtree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Engine

from services.db import read_table


def children_map(people: pd.DataFrame) -> dict[str, list[str]]:
    """manager_id -> direct reports."""
    tree: dict[str, list[str]] = defaultdict(list)
    for person_id, manager_id in zip(people["person_id"], people["manager_id"]):
        if isinstance(manager_id, str) and manager_id:
            tree[manager_id].append(person_id)
    return tree


def scope_people(people: pd.DataFrame, person_id: str) -> set[str]:
    """person_id and everyone below it in the manager tree (cycle-safe)."""
    tree = children_map(people)
    seen: set[str] = set()
    stack = [person_id]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(tree.get(current, []))
    return seen


def region_people(people: pd.DataFrame, region: str) -> set[str]:
    """Everyone in `region`, and everyone below them."""
    members: set[str] = set()
    for person_id in people.loc[people["region"] == region, "person_id"]:
        members |= scope_people(people, person_id)
    return members


class NotInScope(LookupError):
    """An account, deal or person outside the signed-in person's scope was asked for by id."""


@dataclass(frozen=True)
class Scope:
    """A point in the hierarchy; empty fields mean "all". The narrowest set field wins.

    `within` (a person_id) bounds the scope to that person's subtree: the requested fields are
    intersected with it. None means no bound (the whole company may be seen)."""

    region: str | None = None
    manager_id: str | None = None
    rep_id: str | None = None
    within: str | None = None

    @property
    def is_all(self) -> bool:
        return not (self.region or self.manager_id or self.rep_id or self.within)


def _requested(people: pd.DataFrame, scope: Scope) -> set[str] | None:
    if scope.rep_id:
        return scope_people(people, scope.rep_id)
    if scope.manager_id:
        return scope_people(people, scope.manager_id)
    if scope.region:
        return region_people(people, scope.region)
    return None


def resolve_scope(people: pd.DataFrame, scope: Scope) -> set[str] | None:
    """The person_ids in scope (the request intersected with the bound), or None for no filter."""
    wanted = _requested(people, scope)
    if scope.within is None:
        return wanted
    bound = scope_people(people, scope.within)
    return bound if wanted is None else wanted & bound


def filter_accounts(accounts: pd.DataFrame, owners: set[str] | None) -> pd.DataFrame:
    """Accounts owned, or looked after as CSM, by someone in `owners` (all accounts when None)."""
    if owners is None:
        return accounts
    mask = accounts["owner_id"].isin(owners)
    if "csm_id" in accounts:
        mask |= accounts["csm_id"].isin(owners)
    return accounts[mask]


def account_ids_in_scope(accounts: pd.DataFrame, people: pd.DataFrame, scope: Scope) -> set[str] | None:
    """The account_ids in scope (None: no filter). `accounts` needs account_id, owner_id, csm_id."""
    owners = resolve_scope(people, scope)
    return None if owners is None else set(filter_accounts(accounts, owners)["account_id"])


def accounts_in_scope(engine: Engine, scope: Scope | None) -> set[str] | None:
    """The account_ids a read may return for `scope` (None: every account)."""
    if scope is None or scope.is_all:
        return None
    accounts = read_table("accounts", engine, columns=["account_id", "owner_id", "csm_id"])
    return account_ids_in_scope(accounts, read_table("people", engine), scope)


def people_in_scope(engine: Engine, scope: Scope | None) -> set[str] | None:
    """The person_ids a read may return for `scope` (None: everyone)."""
    if scope is None or scope.is_all:
        return None
    return resolve_scope(read_table("people", engine), scope)


def require_in_scope(allowed: set[str] | None, item_id: str, what: str = "Account") -> None:
    """Raise NotInScope unless `item_id` is among `allowed` (None: everything is allowed)."""
    if allowed is not None and item_id not in allowed:
        raise NotInScope(f"{what} {item_id} is not in your scope.")


def visible_people(people: pd.DataFrame, within: str | None) -> pd.DataFrame:
    """The people a bounded scope may choose among (everyone when `within` is None)."""
    return people if within is None else people[people["person_id"].isin(scope_people(people, within))]


def managers_in(people: pd.DataFrame, region: str | None) -> pd.DataFrame:
    """Sales managers (role `manager`), optionally in one region, sorted by name."""
    mask = people["role"] == "manager"
    if region:
        mask &= people["region"] == region
    return people.loc[mask, ["person_id", "name"]].sort_values("name")


def reps_in(people: pd.DataFrame, region: str | None, manager_id: str | None) -> pd.DataFrame:
    """Reps under a manager, or in a region, or all reps; sorted by name."""
    reps = people[people["role"] == "rep"]
    if manager_id:
        reps = reps[reps["person_id"].isin(scope_people(people, manager_id))]
    elif region:
        reps = reps[reps["region"] == region]
    return reps[["person_id", "name"]].sort_values("name")


def regions(people: pd.DataFrame) -> list[str]:
    """Sales regions present in the people table."""
    return sorted(r for r in people["region"].dropna().unique() if r)
