"""Point-in-time churn features: one row per active customer account and month-end as-of date.

Everything is computed generically from the metric catalog roles (capacity, consumption, feature,
job) and pricing models; no product or metric names. Usage is aggregated by the analytical engine
(`usage_aggregate`, an Ibis expression run on DuckDB or Spark) to one row per (account, product, month);
the rest is numpy over an accounts x months panel.

Point-in-time rule: at an as-of date t (a month-end) only usage months <= t's month, cases opened
<= t and subscriptions started <= t are used. CSM actions are never a feature: they are the treatment
whose effect the outcomes report measures, and the score is the risk if nothing is done.

Label (`label_churn`): the outcome of the account's NEXT renewal, whatever its distance from t: its
ARR `GRACE_DAYS` after the renewal date is below half the ARR renewing (ARR loss >= 50% counts as
churn). A row's label is known once renewal_date + `GRACE_DAYS` <= the data's as-of (`labelled`).
`months_to_renewal` is a feature (risk at a renewal relates to behaviour differently 2 or 10 months
before it) but never a reason.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import registry
from services.adoption import tables as adoption_tables
from services.db import read_table
from services.engine import analytics

log = logging.getLogger(__name__)
INPUTS_KEY = "churn.inputs"  # key of the churn inputs in a training run's RunInputs
HORIZON_DAYS = 180  # the "renewal window": next renewal within 180 days
CHURN_ARR_LOSS = 0.5  # ARR loss share that counts as churn
GRACE_DAYS = 30  # a renewal's outcome is read this many days after its date (late signatures)
# Renewal-anchored window: behaviour 6-8 months before the next renewal (when a renewal decision
# forms), or the latest 3 months when the renewal is further than 6 months ahead (never after t).
PRE_RENEWAL_LAG = 6

def usage_aggregate(usage: ibis.Table, catalog: ibis.Table, products: ibis.Table) -> ibis.Table:
    """Per (account, product, month) of usage: `family` (per_seat or volume), `use` (consumption / capacity,
    NULL without a positive capacity), `breadth` (share of the product's feature metrics used) and `jobs`
    (share of its jobs whose features were all used that month). An Ibis expression: it runs on the
    analytical engine (`services.engine`), DuckDB or Spark. Rows are ordered by the keys."""
    keys = ["account_id", "product_id", "month"]
    cat = catalog.select("metric_id", "role", "job", cat_product=catalog.product_id)
    u = usage.select(*keys, "metric_id", "value").inner_join(cat, "metric_id")
    used = (u.role == "feature") & (u.value > 0)
    agg = u.group_by(keys).aggregate(
        capacity=ibis.ifelse(u.role == "capacity", u.value, ibis.null("float64")).sum(),
        consumption=ibis.ifelse(u.role == "consumption", u.value, ibis.null("float64")).sum(),
        features_used=used.ifelse(1, 0).sum())
    feats = catalog.filter(catalog.role == "feature")
    # a job is done when every feature metric of it was used (features without a job count for breadth only)
    job_size = feats.filter(feats.job.notnull()).group_by(["job", "product_id"]).aggregate(n=ibis._.count())
    per_job = u.filter(used).inner_join(job_size, [u.job == job_size.job, u.cat_product == job_size.product_id])
    per_job = per_job.group_by([*keys, "job"]).aggregate(used=ibis._.count(), n=ibis._.n.max())
    done = per_job.group_by(keys).aggregate(jobs_done=(per_job.used == per_job.n).ifelse(1, 0).sum())
    n_feat = feats.group_by("product_id").aggregate(n_feat=ibis._.count(), n_jobs=ibis._.job.nunique())
    prices = products.select("product_id", "pricing_model")
    out = (agg.left_join(done, keys).drop([f"{k}_right" for k in keys])
           .left_join(n_feat, "product_id").drop("product_id_right")
           .left_join(prices, "product_id").drop("product_id_right"))
    return out.select(
        *keys,
        family=ibis.ifelse(out.pricing_model.fill_null("") == "per_seat", "per_seat", "volume"),
        use=ibis.ifelse(out.capacity > 0, out.consumption / out.capacity, ibis.null("float64")),
        breadth=out.features_used.cast("float64") / out.n_feat.cast("float64"),
        jobs=out.jobs_done.fill_null(0).cast("float64") / out.n_jobs.nullif(0).cast("float64"),
    ).order_by(keys)


def read_usage_aggregate(engine: Engine) -> pd.DataFrame:
    """`usage_aggregate` over the raw tables, executed by the analytical engine."""
    ax = analytics()
    expr = usage_aggregate(ax.table("usage_monthly", engine), ax.table("metric_catalog", engine),
                           ax.table("products", engine))
    return ax.to_pandas(expr)



@dataclass
class Inputs:
    """The raw inputs, read once: an accounts x months panel plus the small tables."""

    accounts: pd.DataFrame
    subs: pd.DataFrame
    cases: pd.DataFrame
    adoption: pd.DataFrame | None
    month0: pd.Period
    panels: dict[str, np.ndarray]  # name -> (n_accounts, n_months) float arrays, NaN = not measured
    pricing_models: list[str]  # capacity families: per_seat, volume

    @property
    def index(self) -> pd.Index:
        return pd.Index(self.accounts["account_id"])


def _month_no(p: pd.Series | pd.PeriodIndex) -> np.ndarray:
    return pd.PeriodIndex(p, freq="M").asi8


def shared_inputs(engine: Engine, run_inputs: Any = None) -> Inputs:
    """The churn inputs of this training run (`services.jobs.RunInputs`): read once, handed to every job
    that needs them (churn, outcomes, explain); read afresh when no run is given."""
    if run_inputs is None:
        return load_inputs(engine)
    return run_inputs.get(INPUTS_KEY, lambda: load_inputs(engine))


def load_inputs(engine: Engine) -> Inputs:
    """Read and aggregate everything the features need (usage aggregated by the analytical engine)."""
    accounts = read_table("accounts", engine, columns=["account_id", "created_date"])
    subs = read_table("subscriptions", engine)
    cases = read_table("support_cases", engine, columns=["account_id", "opened_date", "severity"])
    names = set(sa.inspect(engine).get_table_names())
    adoption = None
    if str(adoption_tables.MEMBERSHIP) in names:
        adoption = registry.read_results(engine, adoption_tables.MEMBERSHIP)
        adoption = adoption[["account_id", "month", "cluster_name"]] if not adoption.empty else None
    usage = read_usage_aggregate(engine)
    customers = accounts[accounts.account_id.isin(subs.account_id)].reset_index(drop=True)
    idx = pd.Index(customers.account_id)
    month0 = usage["month"].min().to_period("M") if len(usage) else pd.Timestamp.today().to_period("M")
    n_months = int(_month_no(usage["month"]).max() - month0.ordinal + 1) if len(usage) else 1
    rows = idx.get_indexer(usage["account_id"])
    cols = _month_no(usage["month"]) - month0.ordinal
    keep = rows >= 0
    panels: dict[str, np.ndarray] = {}

    def panel(values: pd.Series, mask: np.ndarray) -> np.ndarray:
        total = np.zeros((len(idx), n_months))
        count = np.zeros((len(idx), n_months))
        m = mask & keep & values.notna().to_numpy()
        np.add.at(total, (rows[m], cols[m]), values.to_numpy()[m])
        np.add.at(count, (rows[m], cols[m]), 1)
        with np.errstate(invalid="ignore"):
            return np.where(count > 0, total / count, np.nan)

    # capacity families: seat-priced products, and everything priced by a volume (allowance, usage value...)
    pricing_models = sorted(usage["family"].unique())
    for pm in pricing_models:
        panels[f"use_{pm}"] = panel(usage["use"], (usage["family"] == pm).to_numpy())
    everything = np.ones(len(usage), bool)
    panels["breadth"] = panel(usage["breadth"], everything)
    panels["jobs"] = panel(usage["jobs"], everything)
    cases = cases[cases.account_id.isin(idx)]
    c_rows = idx.get_indexer(cases["account_id"])
    c_cols = _month_no(cases["opened_date"]) - month0.ordinal
    ok = (c_cols >= 0) & (c_cols < n_months)
    for name, sel in (("cases", np.ones(len(cases), bool)), ("severe", (cases["severity"] <= 2).to_numpy())):
        arr = np.zeros((len(idx), n_months))
        np.add.at(arr, (c_rows[ok & sel], c_cols[ok & sel]), 1)
        panels[name] = arr
    log.info("churn inputs: %d customer accounts, %d months, %d usage rows", len(idx), n_months, len(usage))
    return Inputs(customers, subs, cases, adoption, month0, panels, pricing_models)


META = ["account_id", "as_of", "arr_usd", "arr_renewing_usd", "renewal_date", "days_to_renewal"]


def month_ends(first: pd.Timestamp, last: pd.Timestamp) -> list[pd.Timestamp]:
    return list(pd.date_range(first, last, freq="ME"))


def _arr_at(subs: pd.DataFrame, idx: pd.Index, dates: np.ndarray, row_acct: np.ndarray,
            row_date: np.ndarray) -> np.ndarray:
    """ARR of each (account, date) row: subscriptions with start <= date < end, vectorised."""
    out = np.zeros(len(row_acct))
    key = pd.MultiIndex.from_arrays([row_acct, row_date])
    d = np.asarray(dates, dtype="M8[ns]")
    a = idx.get_indexer(subs["account_id"])
    lo = np.searchsorted(d, subs["start_date"].to_numpy(), side="left")
    hi = np.searchsorted(d, subs["end_date"].to_numpy(), side="left")
    n = np.maximum(hi - lo, 0)
    rep = np.repeat(np.arange(len(subs)), n)
    di = np.repeat(lo, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    s = pd.Series(subs["arr_usd"].to_numpy()[rep]).groupby([a[rep], di]).sum()
    pos = key.get_indexer(pd.MultiIndex.from_arrays([s.index.get_level_values(0), s.index.get_level_values(1)]))
    out[pos[pos >= 0]] = s.to_numpy()[pos >= 0]
    return out


def _window(panel: np.ndarray, rows: np.ndarray, end: np.ndarray, width: int, how: str = "mean") -> np.ndarray:
    """Mean (or sum) of panel[row, end-width+1 .. end]; NaN when the window leaves the panel."""
    offs = np.arange(-width + 1, 1)
    c = end[:, None] + offs[None, :]
    valid = (c >= 0) & (c < panel.shape[1])
    vals = np.where(valid, panel[rows[:, None], np.clip(c, 0, panel.shape[1] - 1)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "sum":
            return np.where(valid.all(1), np.nansum(vals, 1), np.nan)
        cnt = (~np.isnan(vals)).sum(1)
        return np.where(cnt > 0, np.nansum(vals, 1) / np.maximum(cnt, 1), np.nan)


def _at(panel: np.ndarray, rows: np.ndarray, col: np.ndarray) -> np.ndarray:
    ok = (col >= 0) & (col < panel.shape[1])
    return np.where(ok, panel[rows, np.clip(col, 0, panel.shape[1] - 1)], np.nan)


def _price_volume_change(subs: pd.DataFrame, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """ARR change over the last 12 months split into price and volume: ARR-weighted per-product change of
    the unit price (ARR / quantity) and of the contracted quantity (products held at both dates)."""
    s = subs[subs.quantity > 0]
    keys = rows[["account_id", "as_of"]].reset_index(drop=True)
    frames = []
    for lag, name in ((0, "now"), (365, "before")):
        when = keys.assign(when=keys["as_of"] - pd.Timedelta(days=lag))
        m = when.merge(s[["account_id", "product_id", "start_date", "end_date", "arr_usd", "quantity"]],
                       on="account_id")
        m = m[(m.start_date <= m["when"]) & (m.end_date > m["when"])]
        m = m.groupby(["account_id", "as_of", "product_id"], as_index=False).agg(
            arr=("arr_usd", "sum"), qty=("quantity", "sum"))
        frames.append(m.rename(columns={"arr": f"arr_{name}", "qty": f"qty_{name}"}))
    j = frames[0].merge(frames[1], on=["account_id", "as_of", "product_id"])
    price_now, price_before = j["arr_now"] / j["qty_now"], j["arr_before"] / j["qty_before"]
    j["price"] = (price_now / price_before - 1) * j["arr_now"]
    j["volume"] = (j["qty_now"] / j["qty_before"] - 1) * j["arr_now"]
    g = j.groupby(["account_id", "as_of"]).agg(price=("price", "sum"), volume=("volume", "sum"), w=("arr_now", "sum"))
    g = pd.DataFrame({"price": g["price"] / g["w"], "volume": g["volume"] / g["w"]}).reset_index()
    got = keys.merge(g, on=["account_id", "as_of"], how="left")
    return got["price"].to_numpy(), got["volume"].to_numpy()


def build(inputs: Inputs, dates: list[pd.Timestamp], labels: bool = False,
          accounts: np.ndarray | None = None) -> pd.DataFrame:
    """Feature rows for every customer account active (ARR > 0) at each as-of date.

    `labels=True` adds `label_churn`, the outcome of the next renewal (only meaningful where
    `renewal_date + GRACE_DAYS` <= the data's as-of: see `labelled`);
    `accounts` (positions in `inputs.index`) restricts the rows to a subset of accounts."""
    idx = inputs.index
    dates = sorted(pd.Timestamp(d).normalize() for d in dates)
    d_arr = np.array(dates, dtype="M8[ns]")
    pos = np.arange(len(idx)) if accounts is None else np.asarray(accounts)
    k = len(dates)
    acct = np.repeat(pos, k)
    di = np.tile(np.arange(k), len(pos))
    arr = _arr_at(inputs.subs, idx, d_arr, acct, di)
    live = arr > 0
    acct, di, arr = acct[live], di[live], arr[live]
    as_of = d_arr[di]
    df = pd.DataFrame({"account_id": idx.to_numpy()[acct], "as_of": as_of, "arr_usd": arr})
    # next renewal: the latest end date among subscriptions active at t (co-termed accounts)
    s = inputs.subs
    m = df[["account_id", "as_of"]].reset_index().merge(s[["account_id", "start_date", "end_date", "product_id"]],
                                                        on="account_id")
    m = m[(m.start_date <= m.as_of) & (m.end_date > m.as_of)]
    g = m.groupby("index").agg(renewal_date=("end_date", "max"), products_owned=("product_id", "nunique"))
    df["renewal_date"] = g["renewal_date"].reindex(df.index).to_numpy()
    # ARR renewing: the subscriptions active at t that end on the next renewal date
    m = m.merge(s[["account_id", "start_date", "end_date", "product_id", "arr_usd"]],
                on=["account_id", "start_date", "end_date", "product_id"], how="left")
    m = m[m.end_date == m["index"].map(g["renewal_date"])]
    df["arr_renewing_usd"] = m.groupby("index")["arr_usd"].sum().reindex(df.index).fillna(0).to_numpy()
    df["products_owned"] = g["products_owned"].reindex(df.index).fillna(0).to_numpy()
    df["days_to_renewal"] = (df["renewal_date"] - df["as_of"]).dt.days.astype(float)
    # the last complete month on or before t (t itself when t is a month-end)
    mon = _month_no(pd.PeriodIndex(df["as_of"] + pd.Timedelta(days=1), freq="M")) - 1 - inputs.month0.ordinal
    ren = _month_no(pd.PeriodIndex(df["renewal_date"], freq="M")) - inputs.month0.ordinal
    # the pre-renewal window never reaches past t's own month
    anchor = np.minimum(ren - PRE_RENEWAL_LAG, mon)
    P = inputs.panels
    feats: dict[str, np.ndarray] = {}
    for pm in inputs.pricing_models:
        p = P[f"use_{pm}"]
        now = _at(p, acct, mon)
        feats[f"use_{pm}_now"] = now
        feats[f"use_{pm}_trend_3m"] = now - _at(p, acct, mon - 3)
        feats[f"use_{pm}_trend_6m"] = now - _at(p, acct, mon - 6)
        feats[f"use_{pm}_pre_renewal"] = _window(p, acct, anchor, 3)
        feats[f"use_{pm}_pre_renewal_trend"] = _at(p, acct, anchor) - _at(p, acct, anchor - 3)
    for name in ("breadth", "jobs"):
        feats[f"{name}_3m"] = _window(P[name], acct, mon, 3)
        feats[f"{name}_trend_3m"] = _at(P[name], acct, mon) - _at(P[name], acct, mon - 3)
    for name in ("cases", "severe"):
        feats[f"{name}_3m"] = _window(P[name], acct, mon, 3, "sum")
        feats[f"{name}_6m"] = _window(P[name], acct, mon, 6, "sum")
    feats["severe_pre_renewal"] = _window(P["severe"], acct, anchor, 6, "sum")
    created = inputs.accounts["created_date"].to_numpy()[acct]
    feats["tenure_years"] = (as_of - created).astype("m8[D]").astype(float) / 365.25
    feats["arr_log"] = np.log1p(arr)
    # ARR change split into price and volume; accounts younger than a year have had no renewal: 0
    price, volume = _price_volume_change(s, df)
    feats["price_change_12m"] = np.nan_to_num(price, nan=0.0)
    feats["quantity_change_12m"] = np.nan_to_num(volume, nan=0.0)
    feats["products_owned"] = df["products_owned"].to_numpy(float)
    feats["months_to_renewal"] = df["days_to_renewal"].to_numpy() / 30.44
    out = pd.concat([df[META].reset_index(drop=True), pd.DataFrame(feats)], axis=1)
    if inputs.adoption is not None:
        out["adoption_cluster"] = _cluster_at(inputs.adoption, out)
    if labels:
        out["label_churn"] = _next_renewal_outcome(inputs, out, acct)
    return out


def _next_renewal_outcome(inputs: Inputs, rows: pd.DataFrame, acct: np.ndarray) -> np.ndarray:
    """1 when the account's ARR `GRACE_DAYS` after its next renewal is below half the ARR renewing."""
    ren = rows["renewal_date"].to_numpy(dtype="M8[ns]")
    pairs = pd.DataFrame({"a": acct, "r": ren})
    uniq = pairs.drop_duplicates().reset_index(drop=True)
    r = uniq["r"].to_numpy(dtype="M8[ns]")
    when = np.unique(np.concatenate([r - np.timedelta64(1, "D"), r + np.timedelta64(GRACE_DAYS, "D")]))
    a = uniq["a"].to_numpy()
    before = _arr_at(inputs.subs, inputs.index, when, a, np.searchsorted(when, r - np.timedelta64(1, "D")))
    after = _arr_at(inputs.subs, inputs.index, when, a, np.searchsorted(when, r + np.timedelta64(GRACE_DAYS, "D")))
    uniq["y"] = (after < (1 - CHURN_ARR_LOSS) * before).astype(int)
    return pairs.merge(uniq, on=["a", "r"], how="left")["y"].to_numpy()


def labelled(rows: pd.DataFrame, known_by: pd.Timestamp) -> pd.DataFrame:
    """Rows whose next renewal's outcome is known at `known_by` (renewal + GRACE_DAYS <= known_by)."""
    return rows[rows["renewal_date"] + pd.Timedelta(days=GRACE_DAYS) <= known_by]


def _cluster_at(adoption: pd.DataFrame, rows: pd.DataFrame) -> pd.Categorical:
    """The adoption cluster of the latest month on or before each as-of (optional input)."""
    a = adoption.sort_values("month")
    left = rows[["account_id", "as_of"]].reset_index().sort_values("as_of")
    m = pd.merge_asof(left, a.rename(columns={"month": "as_of_m"}), left_on="as_of", right_on="as_of_m",
                      by="account_id", direction="backward")
    return pd.Categorical(m.set_index("index")["cluster_name"].reindex(rows.index))


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's input columns of a `build()` frame."""
    return [c for c in frame.columns if c not in META and c != "label_churn"]
