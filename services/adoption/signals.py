"""Adoption signals: raw usage metrics turned into a small, comparable vector per account and month.

Everything is derived from the metric catalog (`role`, `job`) and `products.pricing_model`; no product
or metric name appears in code. For each product an account owns at a month end (an active
subscription), from that month's usage:

- capacity use = consumption / capacity (active users / seats, messages / allowance, GMV / contracted
  volume), capped at `USE_CAP` (1.5) so one outlier cannot dominate a centroid;
- breadth = share of the product's feature metrics with a value > 0 (a missing row counts as 0);
- job completion = share of the product's jobs whose features are all used in the same month;
breadth and job completion are averaged over the last 3 months (one month of feature use is noisy).

Per account these are combined, weighted by each product's ARR, into the clustered `SIGNALS` (the
first five rows) plus two stored for display:

| signal | meaning |
|---|---|
| `seat_use` | capacity use of per-seat products (`pricing_model = per_seat`) |
| `volume_use` | capacity use of consumption-priced products (`allowance`, `usage_value`) |
| `breadth` | share of features in real use, all products |
| `job_completion` | share of jobs complete, all products |
| `use_trend` | log ratio of capacity use now vs 3 months before (all products with capacity), clipped to +-1.5 |
| `breadth_trend` | change of breadth over 3 months (shown, not clustered) |
| `capacity_use` | capacity use over all products with capacity (feeds the score, not clustered) |

`breadth_trend` is left out of the clustering on evidence: with it, k-means splits the healthy
majority along month-to-month noise (ARI against the demo's planted archetypes fell from 0.84 to 0.58).

Capacity use is split by pricing family because an unused seat and an unused allowance are different
problems with different remedies. Flat-priced products count for breadth, jobs and trends only.
Neutral fill: when an account owns no product of a family, that family's use is set to the median of
the accounts that do (in the same month), so "not owning" never reads as "not using"; when no account
owns a family the signal is a constant (it then carries no weight after scaling). A trend without a
3-month-old observation is 0.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.adoption import SIGNALS
from services.db import read_table

log = logging.getLogger(__name__)

SIGNAL_LABELS = {
    "seat_use": "Seat use", "volume_use": "Volume use", "breadth": "Feature breadth",
    "job_completion": "Job completion", "use_trend": "Use trend (3 months)",
    "breadth_trend": "Breadth trend (3 months)",
}
FAMILIES = {"per_seat": "seat", "allowance": "volume", "usage_value": "volume", "flat": None}
USE_CAP = 1.5
TREND_CAP = 1.5
TREND_EPS = 0.05  # keeps the log ratio finite near zero use
TREND_MONTHS = 3
SMOOTH_MONTHS = 3  # breadth and job completion: mean of the last 3 months (one month is too noisy)
COLUMNS = SIGNALS + ["breadth_trend", "capacity_use"]  # stored; only SIGNALS are clustered
DEFAULT_MONTHS = 13


def month_starts(usage_months: pd.Series, as_of: pd.Timestamp, n: int = DEFAULT_MONTHS) -> list[pd.Timestamp]:
    """The last `n` months (first days) with usage whose month end is on or before `as_of`."""
    months = pd.to_datetime(pd.Series(usage_months).dropna().unique())
    months = sorted(m for m in months if m + pd.offsets.MonthEnd(0) <= pd.Timestamp(as_of))
    return [pd.Timestamp(m) for m in months[-n:]]


def _ownership(subscriptions: pd.DataFrame, products: pd.DataFrame, months: list[pd.Timestamp]) -> pd.DataFrame:
    """(account_id, product_id, month, arr_usd, family) for subscriptions active at each month end."""
    subs = subscriptions[["account_id", "product_id", "start_date", "end_date", "arr_usd"]]
    parts = []
    for m in months:
        end = m + pd.offsets.MonthEnd(0)
        active = subs[(subs.start_date <= end) & (subs.end_date > end)]
        g = active.groupby(["account_id", "product_id"], as_index=False)["arr_usd"].sum()
        g["month"] = m
        parts.append(g)
    own = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["account_id", "product_id", "arr_usd", "month"])
    fam = products.set_index("product_id")["pricing_model"].map(FAMILIES)
    own["family"] = own["product_id"].map(fam)
    own["arr_usd"] = own["arr_usd"].astype(float).clip(lower=0) + 1e-6  # a free product still counts a little
    return own


def product_signals(usage: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Per (account_id, product_id, month): capacity_use, breadth, job_completion (NaN where unmeasured)."""
    role = catalog.set_index("metric_id")["role"]
    u = usage[["account_id", "product_id", "metric_id", "month", "value"]].copy()
    for c in ("account_id", "product_id", "metric_id"):
        u[c] = u[c].astype(str)
    u["role"] = u["metric_id"].map(role)
    keys = ["account_id", "product_id", "month"]
    cap = u[u.role == "capacity"].groupby(keys)["value"].sum().rename("capacity")
    con = u[u.role == "consumption"].groupby(keys)["value"].sum().rename("consumption")
    out = pd.concat([cap, con], axis=1)
    out["capacity_use"] = (out["consumption"].fillna(0) / out["capacity"].where(out["capacity"] > 0)).clip(
        upper=USE_CAP)

    feats = catalog[catalog.role == "feature"].copy()
    feats["job"] = feats["job"].fillna(feats["metric_id"])  # a feature without a job is its own job
    n_feat = feats.groupby("product_id").size()
    job_size = feats.groupby(["product_id", "job"]).size().rename("job_size")
    n_jobs = feats.groupby("product_id")["job"].nunique()
    used = u[(u.role == "feature") & (u.value > 0)].drop_duplicates(["account_id", "product_id", "metric_id",
                                                                      "month"])
    used = used.assign(job=used["metric_id"].map(feats.set_index("metric_id")["job"]))
    breadth = used.groupby(keys).size() / used.groupby(keys)["product_id"].first().map(n_feat).to_numpy()
    per_job = used.groupby(keys + ["job"]).size().rename("n").reset_index()
    per_job = per_job.join(job_size, on=["product_id", "job"])
    done = per_job[per_job.n >= per_job.job_size].groupby(keys).size()
    out = out.join(breadth.rename("breadth"), how="outer").join(done.rename("jobs_done"), how="left")
    out = out.reset_index()
    out["jobs_done"] = out["jobs_done"].fillna(0)
    out["job_completion"] = out["jobs_done"] / out["product_id"].map(n_jobs).to_numpy()
    return out[keys + ["capacity_use", "breadth", "job_completion"]]


def _smooth(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Mean of each column over the last SMOOTH_MONTHS owned months (per account and product)."""
    keys = ["account_id", "product_id", "month"]
    parts = [df[keys + cols]]
    for lag in range(1, SMOOTH_MONTHS):
        shifted = df[keys + cols].copy()
        shifted["month"] = shifted["month"] + pd.DateOffset(months=lag)
        parts.append(shifted)
    mean = pd.concat(parts).groupby(keys)[cols].mean()
    return df.drop(columns=cols).join(mean, on=keys)


def _weighted(df: pd.DataFrame, value: str, keys: list[str]) -> pd.Series:
    ok = df[value].notna()
    w = df["arr_usd"].where(ok, 0.0)
    num = (df[value].fillna(0) * w).groupby([df[k] for k in keys]).sum()
    den = w.groupby([df[k] for k in keys]).sum()
    return (num / den.where(den > 0)).rename(value)


def compute_signals(usage: pd.DataFrame, catalog: pd.DataFrame, products: pd.DataFrame,
                    subscriptions: pd.DataFrame, months: list[pd.Timestamp]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Signals for every account owning at least one product at each month end in `months`.

    Frames in (contract tables); returns (signals: account_id, month, *COLUMNS, arr_usd;
    per product: account_id, product_id, month, capacity_use, breadth, job_completion, arr_usd)."""
    missing = {"capacity", "consumption"} - set(catalog["role"])
    if missing:
        raise ValueError(f"the metric catalog has no {' or '.join(sorted(missing))} metrics: cannot derive "
                         "capacity use")
    if not months:
        raise ValueError("no complete usage months on or before the as-of date")
    months = [pd.Timestamp(m) for m in months]
    all_months = list(pd.date_range(months[0] - pd.DateOffset(months=TREND_MONTHS + SMOOTH_MONTHS - 1),
                                    months[-1], freq="MS"))
    usage = usage[usage["month"].isin(all_months)]
    ps = product_signals(usage, catalog)
    own = _ownership(subscriptions, products, all_months)
    own["account_id"] = own["account_id"].astype(str)
    df = own.merge(ps, on=["account_id", "product_id", "month"], how="left")
    df["breadth"] = df["breadth"].fillna(0.0)
    df["job_completion"] = df["job_completion"].fillna(0.0)
    df = _smooth(df, ["breadth", "job_completion"])
    prev = df[["account_id", "product_id", "month", "capacity_use", "breadth"]].copy()
    prev["month"] = prev["month"] + pd.DateOffset(months=TREND_MONTHS)
    df = df[df["month"].isin(months)].merge(prev, on=["account_id", "product_id", "month"], how="left",
                                            suffixes=("", "_prev"))
    df["use_trend"] = np.log((df["capacity_use"] + TREND_EPS) / (df["capacity_use_prev"] + TREND_EPS)).clip(
        -TREND_CAP, TREND_CAP)
    df["breadth_trend"] = df["breadth"] - df["breadth_prev"]

    keys = ["account_id", "month"]
    df["seat_use"] = df["capacity_use"].where(df["family"] == "seat")
    df["volume_use"] = df["capacity_use"].where(df["family"] == "volume")
    out = pd.concat([_weighted(df, c, keys) for c in SIGNALS + ["breadth_trend"]], axis=1).reset_index()
    for col in ("seat_use", "volume_use"):
        med = out.groupby("month")[col].transform("median")
        out[col] = out[col].fillna(med).fillna(0.0)
    out[["use_trend", "breadth_trend"]] = out[["use_trend", "breadth_trend"]].fillna(0.0)
    out[["breadth", "job_completion"]] = out[["breadth", "job_completion"]].fillna(0.0)
    out["capacity_use"] = _weighted(df, "capacity_use", keys).reindex(
        pd.MultiIndex.from_frame(out[keys])).to_numpy()
    out["capacity_use"] = out["capacity_use"].fillna(out[["seat_use", "volume_use"]].mean(axis=1))
    out["arr_usd"] = df.groupby(keys)["arr_usd"].sum().reindex(pd.MultiIndex.from_frame(out[keys])).round(2).to_numpy()
    per_product = df[keys[:1] + ["product_id", "month", "capacity_use", "breadth", "job_completion", "arr_usd"]]
    return out[keys + COLUMNS + ["arr_usd"]], per_product.reset_index(drop=True)


def load_signals(engine: Engine, as_of: pd.Timestamp,
                 n_months: int = DEFAULT_MONTHS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Signals for the last `n_months` complete usage months up to `as_of`, read from the database."""
    as_of = pd.Timestamp(as_of)
    with engine.connect() as conn:
        seen = pd.read_sql(sa.text("SELECT DISTINCT month FROM usage_monthly WHERE month <= :d"), conn,
                           params={"d": as_of.date()})
    months = month_starts(pd.to_datetime(seen["month"]), as_of, n_months)
    if not months:
        raise LookupError(f"no usage months on or before {as_of.date()}: import usage first")
    first = months[0] - pd.DateOffset(months=TREND_MONTHS + SMOOTH_MONTHS - 1)
    usage = read_table("usage_monthly", engine, where="month >= :a AND month <= :b",
                       params={"a": first.date(), "b": months[-1].date()})
    log.info("adoption signals from %s usage rows, %d months", f"{len(usage):,}", len(months))
    return compute_signals(usage, read_table("metric_catalog", engine), read_table("products", engine),
                           read_table("subscriptions", engine), months)
