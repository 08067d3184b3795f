"""Read side of adoption clusters for the page: clusters, members, movements, per-product signals.

Everything comes from the active adoption version's result tables (declared in `services/adoption/tables.py`).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from models.adoption import SIGNALS
from services import registry
from services.adoption import tables as T
from services.db import read_table
from services.hierarchy import Scope, accounts_in_scope

MOVEMENT_MONTHS = 3


def clusters(engine: Engine) -> pd.DataFrame:
    """One row per cluster: cluster_id, name, description, centroid signals, n_accounts, arr_usd, score."""
    df = registry.read_results(engine, T.CLUSTERS)
    return df.sort_values("arr_usd", ascending=False).reset_index(drop=True) if not df.empty else df


def _in_scope(engine: Engine, frame: pd.DataFrame, scope: Scope | None) -> pd.DataFrame:
    allowed = accounts_in_scope(engine, scope)
    return frame if allowed is None or frame.empty else frame[frame["account_id"].isin(allowed)]


def latest_signals(engine: Engine, scope: Scope | None = None) -> pd.DataFrame:
    """Signals, score and cluster of every account in scope in the latest month."""
    sig = _in_scope(engine, registry.read_results(engine, T.SIGNALS), scope)
    if sig.empty:
        return sig
    latest = sig["month"].max()
    mem = registry.read_results(engine, T.MEMBERSHIP, where="month >= :m",
                                params={"m": latest.date()})
    sig = sig[sig["month"] == latest]
    return sig.merge(mem[["account_id", "cluster_id", "cluster_name"]], on="account_id")


def profile(engine: Engine) -> pd.DataFrame:
    """Cluster centroids against the population, in standard deviations (rows: cluster names).

    Company-wide on purpose: the population is every account, as the clusters were fitted on it."""
    cl = clusters(engine)
    sig = latest_signals(engine)
    if cl.empty or sig.empty:
        return pd.DataFrame()
    mean, std = sig[SIGNALS].mean(), sig[SIGNALS].std().replace(0, 1.0)
    return ((cl.set_index("name")[SIGNALS] - mean) / std).round(2)


def _product_names(engine: Engine) -> pd.DataFrame:
    per = registry.read_results(engine, T.PRODUCT_SIGNALS)
    products = read_table("products", engine, columns=["product_id", "name"]).rename(columns={"name": "product"})
    return per.merge(products, on="product_id", how="left")


def members(engine: Engine, cluster_id: int | None, scope: Scope | None = None,
            segment: str | None = None) -> pd.DataFrame:
    """Accounts in a cluster (None: all) within the scope and segment, sorted by ARR (largest first)."""
    sig = latest_signals(engine, scope)
    if sig.empty:
        return sig
    if cluster_id is not None:
        sig = sig[sig["cluster_id"] == cluster_id]
    accounts = read_table("accounts", engine, columns=["account_id", "name", "segment"])
    if segment:
        accounts = accounts[accounts["segment"] == segment]
    per = _product_names(engine)
    products = per.groupby("account_id")["product"].agg(lambda s: ", ".join(sorted(s.dropna())))
    out = sig.merge(accounts[["account_id", "name", "segment"]], on="account_id").join(products, on="account_id")
    cols = ["account_id", "name", "segment", "cluster_name", "arr_usd", "score", "score_trend", "product",
            *SIGNALS, "breadth_trend"]
    return out[cols].rename(columns={"product": "products"}).sort_values("arr_usd", ascending=False,
                                                                         ignore_index=True)


def movements(engine: Engine, months: int = MOVEMENT_MONTHS, scope: Scope | None = None) -> pd.DataFrame:
    """Accounts in scope moving between clusters from `months` ago to the latest month: source, target,
    accounts."""
    mem = _in_scope(engine, registry.read_results(engine, T.MEMBERSHIP), scope)
    if mem.empty:
        return pd.DataFrame(columns=["source", "target", "accounts"])
    latest = mem["month"].max()
    start = max(mem["month"].min(), latest - pd.DateOffset(months=months))
    a = mem[mem["month"] == start][["account_id", "cluster_name"]]
    b = mem[mem["month"] == latest][["account_id", "cluster_name"]]
    pairs = a.merge(b, on="account_id", suffixes=("_from", "_to"))
    out = pairs.groupby(["cluster_name_from", "cluster_name_to"]).size().rename("accounts").reset_index()
    out.attrs.update(start=start, end=latest)
    return out.rename(columns={"cluster_name_from": "source", "cluster_name_to": "target"})


def product_signals(engine: Engine, scope: Scope | None = None) -> pd.DataFrame:
    """Latest month per account in scope and product: product, capacity_use, breadth, job_completion."""
    per = _in_scope(engine, _product_names(engine), scope)
    return per[["account_id", "product", "capacity_use", "breadth", "job_completion"]] if not per.empty else per
