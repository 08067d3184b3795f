"""Read side of adoption clusters for the page: clusters, members, movements, per-product signals.

Everything comes from the active adoption version's result tables (declared in `services/adoption/tables.py`),
as of a date: the signals and memberships of the latest usage month complete by then (a month's row is
known once the month has ended), within a scope of the sales hierarchy.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from models.adoption import SIGNALS
from services import picklists, registry
from services.adoption import tables as T
from services.db import read_table
from services.hierarchy import Scope, accounts_in_scope, filter_accounts, require_in_scope, resolve_scope

MOVEMENT_MONTHS = 3


def _month_known(as_of: Any) -> pd.Timestamp | None:
    """The latest month start whose month has ended by `as_of` (None: no limit)."""
    if as_of is None:
        return None
    return pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1) - pd.DateOffset(months=1)


def _accounts(engine: Engine, scope: Scope | None) -> pd.DataFrame:
    accounts = read_table("accounts", engine, columns=["account_id", "name", "segment", "owner_id", "csm_id"])
    return filter_accounts(accounts, resolve_scope(read_table("people", engine), scope or Scope()))


def month_of(engine: Engine, as_of: Any = None) -> pd.Timestamp | None:
    """The usage month the page shows as of `as_of` (None: no signals stored at or before it)."""
    dates = [d for d in registry.snapshot_dates(engine, T.SIGNALS, "month")
             if as_of is None or d <= _month_known(as_of)]
    return dates[-1] if dates else None


def signals_at(engine: Engine, as_of: Any = None, scope: Scope | None = None) -> pd.DataFrame:
    """Signals, score and cluster of every account (in scope) in the month shown as of `as_of`;
    `attrs["month"]` is that month (None and empty when none is stored by then)."""
    sig = registry.read_snapshot(engine, T.SIGNALS, "month", _month_known(as_of))
    month = sig.attrs["snapshot"]
    if month is not None:
        mem = registry.read_snapshot(engine, T.MEMBERSHIP, "month", month)
        sig = sig.merge(mem[["account_id", "month", "cluster_id", "cluster_name"]], on=["account_id", "month"])
        if scope is not None and not scope.is_all:
            sig = sig[sig.account_id.isin(_accounts(engine, scope).account_id)]
    sig.attrs["month"] = month
    return sig


def clusters(engine: Engine, as_of: Any = None, scope: Scope | None = None) -> pd.DataFrame:
    """One row per cluster: cluster_id, name, description, centroid signals, and the accounts, ARR and mean
    score of its members in scope in the month shown as of `as_of` (`attrs["month"]`; None: no month stored)."""
    df = registry.read_results(engine, T.CLUSTERS)
    sig = signals_at(engine, as_of, scope)
    if df.empty:
        return df
    stats = (sig.groupby("cluster_id").agg(n_accounts=("account_id", "size"), arr_usd=("arr_usd", "sum"),
                                           score=("score", "mean")) if len(sig) else
             pd.DataFrame(columns=["n_accounts", "arr_usd", "score"], dtype=float))
    df = df.drop(columns=["n_accounts", "arr_usd", "score"]).join(stats, on="cluster_id")
    df[["n_accounts", "arr_usd"]] = df[["n_accounts", "arr_usd"]].fillna(0)
    df["n_accounts"] = df["n_accounts"].astype(int)
    df = df.sort_values("arr_usd", ascending=False).reset_index(drop=True)
    df.attrs["month"] = sig.attrs["month"]
    return df


def profile(engine: Engine, as_of: Any = None) -> pd.DataFrame:
    """Cluster centroids against all accounts of the month shown, in standard deviations (rows: names).

    Company-wide on purpose: the population is every account, as the clusters were fitted on it."""
    cl = registry.read_results(engine, T.CLUSTERS)
    sig = signals_at(engine, as_of)
    if cl.empty or sig.empty:
        return pd.DataFrame()
    mean, std = sig[SIGNALS].mean(), sig[SIGNALS].std().replace(0, 1.0)
    return ((cl.set_index("name")[SIGNALS] - mean) / std).round(2)




def _product_names(engine: Engine) -> pd.DataFrame:
    per = registry.read_results(engine, T.PRODUCT_SIGNALS)
    products = read_table("products", engine, columns=["product_id", "name"]).rename(columns={"name": "product"})
    return per.merge(products, on="product_id", how="left")


def members(engine: Engine, cluster_id: int | None, scope: Scope | None = None,
            segment: str | None = None, as_of: Any = None) -> pd.DataFrame:
    """Accounts in a cluster (None: all) within the scope and segment in the month shown as of `as_of`,
    sorted by ARR (largest first)."""
    sig = signals_at(engine, as_of)
    if sig.empty:
        return sig
    if cluster_id is not None:
        sig = sig[sig["cluster_id"] == cluster_id]
    accounts = _accounts(engine, scope)
    if segment:
        accounts = accounts[accounts["segment"] == segment]
    per = _product_names(engine)
    products = per.groupby("account_id")["product"].agg(lambda s: ", ".join(sorted(s.dropna())))
    out = sig.merge(accounts[["account_id", "name", "segment"]], on="account_id").join(products, on="account_id")
    cols = ["account_id", "name", "segment", "cluster_name", "arr_usd", "score", "score_trend", "product",
            *SIGNALS, "breadth_trend"]
    return out[cols].rename(columns={"product": "products"}).sort_values("arr_usd", ascending=False,
                                                                         ignore_index=True)


def movements(engine: Engine, as_of: Any = None, scope: Scope | None = None,
              months: int = MOVEMENT_MONTHS) -> pd.DataFrame:
    """Accounts (in scope) moving between clusters from `months` before the month shown as of `as_of` to
    it: source, target, accounts (`attrs`: start, end)."""
    end = month_of(engine, as_of)
    empty = pd.DataFrame(columns=["source", "target", "accounts"])
    if end is None:
        return empty
    b = registry.read_snapshot(engine, T.MEMBERSHIP, "month", end)
    a = registry.read_snapshot(engine, T.MEMBERSHIP, "month", end - pd.DateOffset(months=months))
    if a.empty:  # fewer months stored: from the first one
        first = registry.snapshot_dates(engine, T.MEMBERSHIP, "month")[:1]
        a = registry.read_snapshot(engine, T.MEMBERSHIP, "month", first[0]) if first else a
    if a.empty or a.attrs["snapshot"] == end:
        return empty
    if scope is not None and not scope.is_all:
        keep = set(_accounts(engine, scope).account_id)
        a, b = a[a.account_id.isin(keep)], b[b.account_id.isin(keep)]
    pairs = a[["account_id", "cluster_name"]].merge(b[["account_id", "cluster_name"]], on="account_id",
                                                    suffixes=("_from", "_to"))
    out = pairs.groupby(["cluster_name_from", "cluster_name_to"]).size().rename("accounts").reset_index()
    out = out.rename(columns={"cluster_name_from": "source", "cluster_name_to": "target"})
    out.attrs.update(start=a.attrs["snapshot"], end=end)
    return out


def product_signals(engine: Engine, as_of: Any = None, scope: Scope | None = None) -> pd.DataFrame:
    """Per account (in scope) and product: product, capacity_use, breadth, job_completion. Stored for the
    latest month only: empty when `as_of` shows an earlier month (`attrs["month"]`: the stored month)."""
    latest = month_of(engine)
    per = _product_names(engine)
    if not per.empty and scope is not None and not scope.is_all:
        per = per[per.account_id.isin(_accounts(engine, scope).account_id)]
    if latest is None or month_of(engine, as_of) != latest:
        per = per.iloc[0:0]
    out = per[["account_id", "product", "capacity_use", "breadth", "job_completion"]] if len(per.columns) else per
    out.attrs["month"] = latest
    return out


def segments(engine: Engine) -> list[str]:
    """The company's own segment names (the page's segment filter)."""
    return picklists.segments(engine)


def cluster_fit(engine: Engine, account_id: str, scope: Scope | None = None) -> dict[str, Any] | None:
    """How well the account fits its adoption cluster at the latest month (`adoption_fit`; None if not stored);
    NotInScope outside `scope`."""
    require_in_scope(accounts_in_scope(engine, scope), account_id)
    import sqlalchemy as sa

    if not sa.inspect(engine).has_table(str(T.FIT)) or registry.active_version(engine, T.MODEL) is None:
        return None
    rows = registry.read_results(engine, T.FIT, T.MODEL, "account_id = :a", {"a": account_id})
    if rows.empty:
        return None
    out = rows.iloc[0].to_dict()
    out["unlike_any_group"] = bool(out["unlike_any_group"])
    return out
