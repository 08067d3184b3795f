"""Every public read function of services (services/*/read.py and services/overview.py), called with a
rep's scope, returns no row outside the rep's book; asked for an account outside it by id, it refuses.

A new public read function must take a `scope` (and is then checked here), or be listed below with the
reason it needs none; an unlisted, unscoped one fails `test_every_read_function_is_classified`.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fixtures import demo_db

from services import auth, db
from services.config import REPO_ROOT
from services.hierarchy import NotInScope, Scope, account_ids_in_scope, resolve_scope

PG_ENV = "FORESIGHT_TEST_PG_URL"  # as in tests/conftest.py: PostgreSQL runs too when it is set
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])
MODULES = [f"services.{p.parent.name}.read" for p in sorted((REPO_ROOT / "services").glob("*/read.py"))]
MODULES.append("services.overview")

# Whole modules that serve only pages whose permission no bounded role has (checked below).
PAGE_ONLY = {"services.explain.read": "workbench", "services.outcomes.read": "model_health"}
# Functions without a scope that return nothing about an account or a person (called and checked below).
NO_ROWS_ABOUT_ANYONE = {
    "services.churn.read": {"is_trained", "model_info", "score_dates", "trained_models", "previous_month_end", "has_confidence",
                            "novelty_over_time"},  # novelty: the company's share of flagged scores per date
    "services.adoption.read": {"profile", "month_of", "segments"},  # company-wide population; the month shown
    "services.forecast.read": {"current_quarter", "missing_inputs"},  # which optional tables have no rows
    "services.expansion.read": {"is_trained", "score_dates"},  # whether trained, the score dates
    "services.alerts.read": {"refresh_runs"},  # the refresh log
    "services.overview": {"table_names", "has_accounts", "latest_observed_date", "as_of_choices", "freshness",
                          "last_import", "last_training", "recent_imports"},
}
# Pure functions over frames or people lists the caller already read through a scope (checked with the
# rep's own people where they take owners).
OVER_CALLER_DATA = {
    "services.churn.read": {"portfolio", "with_confidence"},
    "services.forecast.read": {"node_for", "figures", "children", "by_product", "quarterly_actuals", "deals",
                               "waterfall", "save_commit", "track_summary", "with_deal_novelty"},
    "services.overview": {"active_subscriptions", "renewals_by_month"},
}
# The signed-in person's own rows, selected by their person_id (their inbox, their subscriptions).
PERSONAL = {"services.alerts.read": {"inbox", "unread_count", "mark_read", "subscriptions_of"}}
# By-id functions that answer whether an id is in scope (True/False, nothing about the account) instead of
# refusing it: the Account page asks before it reads, to tell "widen the sidebar" from "not in your scope".
IN_SCOPE_PREDICATES = {"services.churn.read": {"in_scope"}}
ID_COLUMNS = ("account_id", "subject_id")
PERSON_COLUMNS = ("person_id", "owner_id")


def _public(module: ModuleType) -> dict[str, Any]:
    return {n: f for n, f in vars(module).items() if inspect.isfunction(f) and not n.startswith("_")
            and f.__module__ == module.__name__}


def _copy_to_postgres(source: sa.Engine, schema: str) -> str:
    """Every table of the SQLite demo (contract, app and result tables) in a new PostgreSQL schema."""
    url = sa.make_url(os.environ[PG_ENV]).update_query_dict({"options": f"-csearch_path={schema}"})
    meta = sa.MetaData()
    meta.reflect(source)
    for table in meta.tables.values():
        for col in table.columns:
            col.type = col.type.as_generic()
        table.indexes.clear()
    target = sa.create_engine(url)
    with target.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    meta.create_all(target)
    with source.connect() as src, target.begin() as dst:
        for table in meta.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(table.select())]
            for i in range(0, len(rows), 20_000):
                dst.execute(table.insert(), rows[i:i + 20_000])
    target.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The trained demo on each backend (PostgreSQL: a copy in a schema of its own, dropped afterwards)."""
    path: Path = demo_db.built(tmp_path_factory, demo_db.TRAINED)
    url, schema = demo_db.url_of(path), None
    if request.param == "postgresql":
        schema = f"test_scope_{uuid.uuid4().hex[:10]}"
        url = _copy_to_postgres(sa.create_engine(url), schema)
    yield _world(db.get_engine(url))
    db.dispose_engine(url)
    if schema:
        admin = sa.create_engine(os.environ[PG_ENV])
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _world(engine: sa.Engine) -> dict[str, Any]:
    people = db.read_table("people", engine)
    accounts = db.read_table("accounts", engine)
    counts = accounts.owner_id.value_counts()
    rep_id = next(p for p in people[people.role == auth.REP].person_id if counts.get(p, 0) >= 3)
    rep = auth.principal_for_id(people, rep_id)
    scope = rep.scope
    allowed = account_ids_in_scope(accounts, people, scope)
    outside = sorted(set(accounts.account_id) - allowed)
    from services import overview as ov
    from services.forecast import read as fc

    return {"engine": engine, "people": people, "scope": scope, "rep": rep_id, "allowed": allowed,
            "as_of": ov.as_of_choices(engine)[-1], "quarter": fc.current_quarter(fc.nodes_at(engine)),
            "allowed_people": resolve_scope(people, scope), "outside": outside[0],
            "inside": min(allowed), "accounts": accounts}


def _frames(result: Any) -> list[pd.DataFrame]:
    if isinstance(result, pd.DataFrame):
        return [result]
    if dataclasses.is_dataclass(result):
        return [v for v in vars(result).values() if isinstance(v, pd.DataFrame)]
    return []


def _check_rows(name: str, result: Any, w: dict[str, Any]) -> None:
    for frame in _frames(result):
        for col in ID_COLUMNS:
            if col in frame:
                leaked = set(frame[col].astype(str)) - w["allowed"]
                assert not leaked, f"{name} returned {len(leaked)} {col}s outside the rep's book"
        for col in PERSON_COLUMNS:
            if col in frame:
                leaked = set(frame[col].dropna().astype(str)) - w["allowed_people"]
                assert not leaked, f"{name} returned {col}s outside the rep's scope: {sorted(leaked)[:5]}"


def _args(fn: Any, w: dict[str, Any], account_id: str) -> dict[str, Any]:
    values = {"engine": w["engine"], "scope": w["scope"], "account_id": account_id, "subject_id": account_id,
              "person_id": w["rep"], "cluster_id": None, "segment": None, "csm_id": None, "as_of": w["as_of"],
              "quarter": w["quarter"], "h": 0, "week": 4, "text": "a"}  # text: a search matching most names and ids
    params = inspect.signature(fn).parameters
    return {n: values[n] for n, p in params.items() if n in values and (p.default is inspect.Parameter.empty
                                                                      or n == "scope")}


def test_every_read_function_is_classified() -> None:
    unclassified = []
    for name in MODULES:
        if name in PAGE_ONLY:
            continue
        listed = NO_ROWS_ABOUT_ANYONE.get(name, set()) | OVER_CALLER_DATA.get(name, set()) | PERSONAL.get(name, set())
        for fn_name, fn in _public(importlib.import_module(name)).items():
            if "scope" not in inspect.signature(fn).parameters and fn_name not in listed:
                unclassified.append(f"{name}.{fn_name}")
    assert not unclassified, f"read functions without a scope and not classified: {unclassified}"


def test_page_only_modules_serve_no_bounded_role() -> None:
    for module, permission in PAGE_ONLY.items():
        bounded = auth.PERMISSIONS[permission] & auth.BOUNDED
        assert not bounded, f"{module} is unscoped but {permission} is open to bounded roles {sorted(bounded)}"


def test_scoped_reads_return_only_the_reps_book(world: dict[str, Any]) -> None:
    checked = []
    for name in MODULES:
        if name in PAGE_ONLY:
            continue
        for fn_name, fn in _public(importlib.import_module(name)).items():
            if "scope" not in inspect.signature(fn).parameters or fn_name in OVER_CALLER_DATA.get(name, set()):
                continue
            result = fn(**_args(fn, world, world["inside"]))
            _check_rows(f"{name}.{fn_name}", result, world)
            checked.append(fn_name)
    assert {"at_risk", "account_360", "members", "signals_at", "nodes_at", "commits", "overview", "where_to_grow",
            "next_best_product"} <= set(checked)
    from services import overview as ov
    mine, company = ov.overview(world["engine"], world["as_of"], world["scope"]), ov.overview(world["engine"], world["as_of"])
    assert 0 < mine.customers < company.customers and mine.arr_usd < company.arr_usd


def test_reads_by_id_refuse_an_account_outside_the_book(world: dict[str, Any]) -> None:
    refused = []
    for name in MODULES:
        if name in PAGE_ONLY:
            continue
        for fn_name, fn in _public(importlib.import_module(name)).items():
            params = inspect.signature(fn).parameters
            if fn_name in IN_SCOPE_PREDICATES.get(name, set()):
                assert fn(**_args(fn, world, world["outside"])) is False
                assert fn(**_args(fn, world, world["inside"])) is True
                continue
            if "scope" in params and ({"account_id", "subject_id"} & set(params)):
                with pytest.raises(NotInScope, match="not in your scope"):
                    fn(**_args(fn, world, world["outside"]))
                refused.append(fn_name)
    assert {"account_360", "next_best_product"} <= set(refused)


def test_a_rep_asking_for_a_wider_scope_still_gets_their_book(world: dict[str, Any]) -> None:
    from services.churn import read as churn

    region = world["people"].set_index("person_id").loc[world["rep"], "region"]
    wider = Scope(region=region, within=world["rep"])
    assert set(churn.at_risk(world["engine"], wider).account_id) <= world["allowed"]
    other = next(r for r in world["people"][world["people"].role == auth.REP].person_id if r != world["rep"])
    assert churn.at_risk(world["engine"], Scope(rep_id=other, within=world["rep"])).empty


def test_no_rows_functions_return_nothing_about_anyone(world: dict[str, Any]) -> None:
    for name, fns in NO_ROWS_ABOUT_ANYONE.items():
        module = importlib.import_module(name)
        for fn_name in fns:
            fn = getattr(module, fn_name)
            if fn_name in ("current_quarter", "previous_month_end"):
                continue  # a label from the nodes frame the caller read; a date from a date
            kwargs = {"engine": world["engine"]}
            if "as_of" in inspect.signature(fn).parameters:
                kwargs["as_of"] = pd.Timestamp.today().date()
            for frame in _frames(fn(**kwargs)):
                assert not set(ID_COLUMNS + PERSON_COLUMNS) & set(frame), f"{name}.{fn_name} returns ids"


def test_people_list_functions_keep_to_the_owners_given(world: dict[str, Any]) -> None:
    from services.forecast import read as fc

    owners = sorted(world["allowed_people"])
    quarter = world["quarter"]
    _check_rows("deals", fc.deals(world["engine"], owners, quarter, limit=1000), world)
    nodes = fc.nodes_at(world["engine"], scope=world["scope"])
    assert set(nodes.person_id) <= world["allowed_people"] and not nodes.empty
    assert fc.node_for(world["people"], Scope(within=world["rep"])) == world["rep"]
    assert fc.node_for(world["people"], Scope(region="EMEA", within=world["rep"])) == world["rep"]
