"""The pandas implementations of the engine-side features before they moved into the analytical engine,
kept as the specification: the unit tests compare the engine's results with them (1e-9) and
bench/bench_engine.py times them as the previous path. Not used by the application."""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.adoption import SIGNALS
from services.adoption import signals as sig


def churn_reference(usage: pd.DataFrame, catalog: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    keys = ["account_id", "product_id", "month"]
    u = usage.merge(catalog[["metric_id", "role", "job", "product_id"]].rename(
        columns={"product_id": "cat_product"}), on="metric_id")
    used = (u.role == "feature") & (u.value > 0)
    g = pd.DataFrame({
        "capacity": u.value.where(u.role == "capacity").groupby([u[k] for k in keys]).sum(min_count=1),
        "consumption": u.value.where(u.role == "consumption").groupby([u[k] for k in keys]).sum(min_count=1),
        "features_used": used.astype(int).groupby([u[k] for k in keys]).sum()}).reset_index()
    feats = catalog[catalog.role == "feature"]
    size = feats[feats.job.notna()].groupby(["job", "product_id"]).size().rename("n").reset_index()
    j = u[used].merge(size, left_on=["job", "cat_product"], right_on=["job", "product_id"],
                      suffixes=("", "_c"))
    j = j.groupby([*keys, "job"]).agg(used=("value", "size"), n=("n", "max")).reset_index()
    done = (j.used == j.n).astype(int).groupby([j[k] for k in keys]).sum().rename("jobs_done").reset_index()
    g = g.merge(done, on=keys, how="left")
    n_feat = feats.groupby("product_id").size()
    n_jobs = feats.groupby("product_id")["job"].nunique()
    pm = g.product_id.map(products.set_index("product_id")["pricing_model"])
    out = g[keys].copy()
    out["family"] = np.where(pm == "per_seat", "per_seat", "volume")
    out["use"] = g.consumption / g.capacity.where(g.capacity > 0)
    out["breadth"] = g.features_used / g.product_id.map(n_feat)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["jobs"] = g.jobs_done.fillna(0) / g.product_id.map(n_jobs).replace(0, np.nan)
    return out.sort_values(keys).reset_index(drop=True)


def _ownership_ref(subscriptions, products, months):
    subs = subscriptions[["account_id", "product_id", "start_date", "end_date", "arr_usd"]]
    parts = []
    for m in months:
        end = m + pd.offsets.MonthEnd(0)
        active = subs[(subs.start_date <= end) & (subs.end_date > end)]
        g = active.groupby(["account_id", "product_id"], as_index=False)["arr_usd"].sum()
        g["month"] = m
        parts.append(g)
    own = pd.concat(parts, ignore_index=True)
    fam = products.set_index("product_id")["pricing_model"].map(sig.FAMILIES)
    own["family"] = own["product_id"].map(fam)
    own["arr_usd"] = own["arr_usd"].astype(float).clip(lower=0) + 1e-6
    return own


def _product_signals_ref(usage, catalog):
    role = catalog.set_index("metric_id")["role"]
    u = usage[["account_id", "product_id", "metric_id", "month", "value"]].copy()
    u["role"] = u["metric_id"].map(role)
    keys = ["account_id", "product_id", "month"]
    cap = u[u.role == "capacity"].groupby(keys)["value"].sum().rename("capacity")
    con = u[u.role == "consumption"].groupby(keys)["value"].sum().rename("consumption")
    out = pd.concat([cap, con], axis=1)
    out["capacity_use"] = (out["consumption"].fillna(0) / out["capacity"].where(out["capacity"] > 0)).clip(
        upper=sig.USE_CAP)
    feats = catalog[catalog.role == "feature"].copy()
    feats["job"] = feats["job"].fillna(feats["metric_id"])
    n_feat = feats.groupby("product_id").size()
    job_size = feats.groupby(["product_id", "job"]).size().rename("job_size")
    n_jobs = feats.groupby("product_id")["job"].nunique()
    used = u[(u.role == "feature") & (u.value > 0)]
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


def _weighted_ref(df, value, keys):
    ok = df[value].notna()
    w = df["arr_usd"].where(ok, 0.0)
    num = (df[value].fillna(0) * w).groupby([df[k] for k in keys]).sum()
    den = w.groupby([df[k] for k in keys]).sum()
    return (num / den.where(den > 0)).rename(value)


def signals_reference(usage, catalog, products, subscriptions, months):
    """The pandas implementation of the adoption signals before the engine (the specification)."""
    all_months = list(pd.date_range(months[0] - pd.DateOffset(months=sig.TREND_MONTHS + sig.SMOOTH_MONTHS - 1),
                                    months[-1], freq="MS"))
    usage = usage[usage["month"].isin(all_months)]
    ps = _product_signals_ref(usage, catalog)
    own = _ownership_ref(subscriptions, products, all_months)
    df = own.merge(ps, on=["account_id", "product_id", "month"], how="left")
    df["breadth"] = df["breadth"].fillna(0.0)
    df["job_completion"] = df["job_completion"].fillna(0.0)
    keys3 = ["account_id", "product_id", "month"]
    parts = [df[keys3 + ["breadth", "job_completion"]]]
    for lag in range(1, sig.SMOOTH_MONTHS):
        shifted = df[keys3 + ["breadth", "job_completion"]].copy()
        shifted["month"] = shifted["month"] + pd.DateOffset(months=lag)
        parts.append(shifted)
    mean = pd.concat(parts).groupby(keys3)[["breadth", "job_completion"]].mean()
    df = df.drop(columns=["breadth", "job_completion"]).join(mean, on=keys3)
    prev = df[["account_id", "product_id", "month", "capacity_use", "breadth"]].copy()
    prev["month"] = prev["month"] + pd.DateOffset(months=sig.TREND_MONTHS)
    df = df[df["month"].isin(months)].merge(prev, on=keys3, how="left", suffixes=("", "_prev"))
    df["use_trend"] = np.log((df["capacity_use"] + sig.TREND_EPS) / (df["capacity_use_prev"] + sig.TREND_EPS)).clip(
        -sig.TREND_CAP, sig.TREND_CAP)
    df["breadth_trend"] = df["breadth"] - df["breadth_prev"]
    keys = ["account_id", "month"]
    df["seat_use"] = df["capacity_use"].where(df["family"] == "seat")
    df["volume_use"] = df["capacity_use"].where(df["family"] == "volume")
    out = pd.concat([_weighted_ref(df, c, keys) for c in SIGNALS + ["breadth_trend"]], axis=1).reset_index()
    for col in ("seat_use", "volume_use"):
        med = out.groupby("month")[col].transform("median")
        out[col] = out[col].fillna(med).fillna(0.0)
    out[["use_trend", "breadth_trend"]] = out[["use_trend", "breadth_trend"]].fillna(0.0)
    out[["breadth", "job_completion"]] = out[["breadth", "job_completion"]].fillna(0.0)
    out["capacity_use"] = _weighted_ref(df, "capacity_use", keys).reindex(
        pd.MultiIndex.from_frame(out[keys])).to_numpy()
    out["capacity_use"] = out["capacity_use"].fillna(out[["seat_use", "volume_use"]].mean(axis=1))
    out["arr_usd"] = df.groupby(keys)["arr_usd"].sum().reindex(pd.MultiIndex.from_frame(out[keys])).round(2).to_numpy()
    per_product = df[["account_id", "product_id", "month", "capacity_use", "breadth", "job_completion", "arr_usd"]]
    per_product = per_product.sort_values(["month", "account_id", "product_id"])
    return out[keys + sig.COLUMNS + ["arr_usd"]], per_product.reset_index(drop=True)
