"""Point-in-time expansion features: one row per active customer account x product and month-end as-of.

The account's behaviour comes from the churn pipeline (`services.churn.features.build` over the shared
inputs of the training run); the product's own capacity use and jobs come from the same usage
aggregation per product; `peer_owner_share` is the share of accounts in the same industry and segment
that own the product at t and `peer_win_rate_12m` the product's won growth deals per account of the same
industry over the 12 months up to t ("similar accounts that bought it"). Generic over the catalog: no product names.

Point-in-time rule as in churn: at t only usage months <= t's month, subscriptions started <= t and
opportunities created <= t. Label (`label`): a won opportunity of type expansion or new business on the
account and product closed in (t, t + 180 days].
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from services.churn import features as cf
from services.db import read_table

log = logging.getLogger(__name__)
INPUTS_KEY = "expansion.inputs"
HORIZON_DAYS = cf.HORIZON_DAYS
GROWTH_TYPES = ("expansion", "new")  # opportunity types that grow an existing customer
# account-level inputs taken from the churn rows (the renewal-window ones describe churn, not growth). ARR is
# not an input (neither the account's nor the product's): it stands in for the segment (larger segments pay
# more), took the segment's credit in the explanations and lowered out-of-time AUC (README, Expansion); it
# sizes the expected deal instead.
ACCOUNT_FEATURES = ("breadth_3m", "jobs_3m", "jobs_trend_3m", "severe_6m", "cases_6m", "tenure_years",
                    "products_owned", "days_to_renewal", "quantity_change_12m", "adoption_cluster")
CATEGORICAL = ("product_id", "segment", "industry", "adoption_cluster")


@dataclass
class Inputs:
    churn: cf.Inputs
    accounts: pd.DataFrame  # account_id, segment, industry
    products: list[str]
    panels: dict[str, np.ndarray]  # name -> (n_accounts, n_products, n_months), NaN = not measured
    opps: pd.DataFrame


def shared_inputs(engine: Engine, run_inputs: Any = None) -> Inputs:
    if run_inputs is None:
        return load_inputs(engine, cf.shared_inputs(engine))
    return run_inputs.get(INPUTS_KEY, lambda: load_inputs(engine, cf.shared_inputs(engine, run_inputs)))


def load_inputs(engine: Engine, churn: cf.Inputs) -> Inputs:
    idx = churn.index
    accounts = read_table("accounts", engine, columns=["account_id", "segment", "industry"])
    accounts = accounts.set_index("account_id").reindex(idx).reset_index()
    products = sorted(read_table("products", engine)["product_id"])
    opps = read_table("opportunities", engine, columns=["opportunity_id", "account_id", "product_id", "type",
                                                        "amount_usd", "created_date", "close_date",
                                                        "is_closed", "is_won"])
    opps = opps[opps.type.isin(GROWTH_TYPES)].reset_index(drop=True)
    usage = cf.read_usage_aggregate(engine)  # the analytical engine's aggregate, as the churn inputs'
    n_months = churn.panels["breadth"].shape[1]
    rows = idx.get_indexer(usage["account_id"])
    prod = pd.Index(products).get_indexer(usage["product_id"])
    cols = cf._month_no(pd.to_datetime(usage["month"])) - churn.month0.ordinal
    ok = (rows >= 0) & (prod >= 0) & (cols >= 0) & (cols < n_months)
    panels = {}
    for name in ("use", "breadth", "jobs"):
        arr = np.full((len(idx), len(products), n_months), np.nan)
        arr[rows[ok], prod[ok], cols[ok]] = usage[name].to_numpy(float)[ok]
        panels[name] = arr
    log.info("expansion inputs: %d accounts x %d products, %d growth opportunities", len(idx), len(products),
             len(opps))
    return Inputs(churn, accounts, products, panels, opps)


def _at(panel: np.ndarray, a: np.ndarray, k: np.ndarray, col: np.ndarray) -> np.ndarray:
    ok = (col >= 0) & (col < panel.shape[2])
    return np.where(ok, panel[a, k, np.clip(col, 0, panel.shape[2] - 1)], np.nan)


def _mean3(panel: np.ndarray, a: np.ndarray, k: np.ndarray, col: np.ndarray) -> np.ndarray:
    vals = np.column_stack([_at(panel, a, k, col - i) for i in range(3)])
    cnt = (~np.isnan(vals)).sum(1)
    return np.where(cnt > 0, np.nansum(vals, 1) / np.maximum(cnt, 1), np.nan)


def product_arr(subs: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """ARR of each (account_id, product_id, as_of) row: subscriptions running at as_of."""
    m = keys.reset_index().merge(subs[["account_id", "product_id", "start_date", "end_date", "arr_usd"]],
                                 on=["account_id", "product_id"])
    m = m[(m.start_date <= m.as_of) & (m.end_date > m.as_of)]
    return m.groupby("index")["arr_usd"].sum().reindex(keys.index).fillna(0.0).to_numpy()


def build(inputs: Inputs, dates: list[pd.Timestamp], labels: bool = False,
          accounts: np.ndarray | None = None) -> pd.DataFrame:
    """Rows for every account active at each date x every product, with the features (and labels)."""
    base = cf.build(inputs.churn, dates, accounts=accounts)
    acc_cols = [c for c in ACCOUNT_FEATURES if c in base.columns]
    k = len(inputs.products)
    rep = base.loc[base.index.repeat(k), ["account_id", "as_of", *acc_cols]].reset_index(drop=True)
    prod_pos = np.tile(np.arange(k), len(base))
    rep.insert(1, "product_id", np.asarray(inputs.products, dtype=object)[prod_pos])
    a = inputs.churn.index.get_indexer(rep["account_id"])
    mon = (cf._month_no(pd.PeriodIndex(rep["as_of"] + pd.Timedelta(days=1), freq="M")) - 1
           - inputs.churn.month0.ordinal)
    P = inputs.panels
    use_now = _at(P["use"], a, prod_pos, mon)
    out = rep
    out["product_arr_usd"] = product_arr(inputs.churn.subs, rep[["account_id", "product_id", "as_of"]])
    out["owned"] = (out["product_arr_usd"] > 0).astype(float)
    out["product_use_now"] = use_now
    out["product_use_3m"] = _mean3(P["use"], a, prod_pos, mon)
    out["product_use_trend_3m"] = use_now - _at(P["use"], a, prod_pos, mon - 3)
    out["product_jobs_3m"] = _mean3(P["jobs"], a, prod_pos, mon)
    out["product_breadth_3m"] = _mean3(P["breadth"], a, prod_pos, mon)
    # the highest capacity use among the products the account owns (what a cross-sell follows)
    out["max_product_use"] = pd.Series(np.where(out["owned"] > 0, use_now, np.nan)).groupby(
        [out["account_id"], out["as_of"]]).transform("max").to_numpy()
    seg = inputs.accounts.set_index("account_id")
    out["segment"] = pd.Categorical(seg["segment"].reindex(out["account_id"]).to_numpy())
    out["industry"] = pd.Categorical(seg["industry"].reindex(out["account_id"]).to_numpy())
    out["peer_owner_share"] = out.groupby(["as_of", "product_id", "industry", "segment"], observed=True)[
        "owned"].transform("mean").to_numpy()
    out["peer_win_rate_12m"] = _peer_win_rate(inputs, out)
    out["product_id"] = pd.Categorical(out["product_id"], categories=inputs.products)
    if labels:
        out["label"], out["won_amount_usd"] = _labels(inputs.opps, out)
    return out


def _peer_win_rate(inputs: Inputs, rows: pd.DataFrame, prior: float = 20.0) -> np.ndarray:
    """Won growth deals of the product per customer of the same industry over the 12 months up to t
    (smoothed towards the product's rate across industries with `prior` accounts' weight). Customers at t:
    accounts with a subscription started on or before t."""
    ind = inputs.accounts.set_index("account_id")["industry"]
    won = inputs.opps[inputs.opps.is_won.astype(bool)]
    won = won.assign(industry=won.account_id.map(ind)).dropna(subset=["industry"])
    first_start = inputs.churn.subs.groupby("account_id")["start_date"].min()
    out = np.zeros(len(rows))
    for d in rows["as_of"].unique():
        sel = (rows["as_of"] == d).to_numpy()
        customers = ind.reindex(first_start.index[first_start <= d]).dropna()
        size = customers.value_counts()
        w = won[(won.close_date <= d) & (won.close_date > d - pd.Timedelta(days=365))]
        cnt = w.groupby(["product_id", "industry"]).size()
        per_product = w.groupby("product_id").size() / max(len(customers), 1)
        r = rows.loc[sel, ["product_id", "industry"]].astype(object)
        c = cnt.reindex(pd.MultiIndex.from_frame(r)).fillna(0).to_numpy()
        n = r["industry"].map(size).fillna(0).to_numpy(float)
        base = r["product_id"].map(per_product).fillna(0).to_numpy(float)
        out[sel] = (c + prior * base) / (n + prior)
    return out


def _labels(opps: pd.DataFrame, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    won = opps[opps.is_won.astype(bool)]
    keys = rows[["account_id", "product_id", "as_of"]].astype({"product_id": object}).reset_index()
    m = keys.merge(won[["account_id", "product_id", "close_date", "amount_usd"]], on=["account_id", "product_id"])
    m = m[(m.close_date > m.as_of) & (m.close_date <= m.as_of + pd.Timedelta(days=HORIZON_DAYS))]
    g = m.groupby("index")["amount_usd"].sum().reindex(rows.index)
    return g.notna().to_numpy().astype(int), g.fillna(0.0).to_numpy()


def open_opportunities(opps: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Id of a growth opportunity open at each row's as-of on its account and product (None if none)."""
    keys = rows[["account_id", "product_id", "as_of"]].astype({"product_id": object}).reset_index()
    m = keys.merge(opps[["opportunity_id", "account_id", "product_id", "created_date", "close_date", "is_closed"]],
                   on=["account_id", "product_id"])
    m = m[(m.created_date <= m.as_of) & (~m.is_closed.astype(bool) | (m.close_date > m.as_of))]
    got = m.sort_values("created_date").groupby("index")["opportunity_id"].last().reindex(rows.index)
    return got.astype(object).where(got.notna(), None).to_numpy()


def feature_columns(frame: pd.DataFrame) -> list[str]:
    meta = {"account_id", "as_of", "label", "won_amount_usd", "product_arr_usd"}
    return [c for c in frame.columns if c not in meta]
