"""Engine-side features against plain pandas references computed here (equal to 1e-9), on DuckDB always
and on PySpark local where Java and pyspark are installed (CI: `.ci/run` installs both; marked `spark`).

The references are the pandas implementations these features had before they moved into the analytical
engine (`services.engine`), kept here as the specification."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from models.adoption import SIGNALS
from services.adoption import signals as sig
from services.churn.features import usage_aggregate
from services.engine import analytics, memtable
from services.simulator import generate

KINDS = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(scope="module", params=KINDS)
def ax(request: pytest.FixtureRequest):
    if request.param == "spark":
        pytest.importorskip("pyspark")
        if shutil.which("java") is None:
            pytest.skip("PySpark needs Java (CI installs openjdk-17-jre-headless)")
    return analytics(request.param)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    """A small demo plus the edge cases the features must handle: a feature without a job, zero
    capacity, a flat-priced product without feature metrics, usage months with only feature rows."""
    f = generate(accounts=60, months=18, seed=1)
    f = {k: f[k].copy() for k in ("usage_monthly", "metric_catalog", "products", "subscriptions")}
    cat, usage, subs = f["metric_catalog"], f["usage_monthly"], f["subscriptions"]
    for c in ("account_id", "product_id", "metric_id"):
        usage[c] = usage[c].astype(str)
    cat.loc[cat.metric_id == cat[cat.role == "feature"].metric_id.iloc[-1], "job"] = None
    cap = usage.metric_id.isin(cat[cat.role == "capacity"].metric_id)
    usage.loc[usage.index[cap][:40], "value"] = 0.0
    f["products"] = pd.concat([f["products"], pd.DataFrame(
        [{"product_id": "PRD-FLAT", "name": "Flat", "pricing_model": "flat"}])], ignore_index=True)
    f["metric_catalog"] = pd.concat([cat, pd.DataFrame([
        {"metric_id": "flat_cap", "product_id": "PRD-FLAT", "name": "c", "description": None, "unit": "u",
         "role": "capacity", "job": None, "higher_is_better": True},
        {"metric_id": "flat_use", "product_id": "PRD-FLAT", "name": "u", "description": None, "unit": "u",
         "role": "consumption", "job": None, "higher_is_better": True}])], ignore_index=True)
    some = sorted(subs.account_id.unique())[:10]
    months = sorted(usage.month.unique())
    extra = [{"account_id": a, "product_id": "PRD-FLAT", "metric_id": m, "month": mo,
              "value": float(v)} for i, a in enumerate(some) for j, mo in enumerate(months)
             for m, v in (("flat_cap", 10 + i), ("flat_use", (i * j) % 13))]
    f["usage_monthly"] = pd.concat([usage, pd.DataFrame(extra)], ignore_index=True)
    first = subs.start_date.min()
    f["subscriptions"] = pd.concat([subs, pd.DataFrame(
        [{"subscription_id": f"S-FLAT-{a}", "account_id": a, "product_id": "PRD-FLAT", "start_date": first,
          "end_date": first + pd.DateOffset(years=3), "arr_usd": 1000.0, "quantity": 1.0, "renewal_of": None}
         for a in some])], ignore_index=True)
    f["subscriptions"]["start_date"] = f["subscriptions"]["start_date"].astype("datetime64[ns]")
    f["subscriptions"]["end_date"] = f["subscriptions"]["end_date"].astype("datetime64[ns]")
    return f


def assert_frames_close(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for c in want.columns:
        g, w = got[c].reset_index(drop=True), want[c].reset_index(drop=True)
        if pd.api.types.is_float_dtype(w) or pd.api.types.is_float_dtype(g):
            np.testing.assert_allclose(g.to_numpy(float), w.to_numpy(float), rtol=0, atol=1e-9, err_msg=c)
        elif pd.api.types.is_datetime64_any_dtype(w):
            assert (pd.to_datetime(g) == pd.to_datetime(w)).all(), c
        else:
            assert g.astype(object).where(g.notna(), None).tolist() == \
                w.astype(object).where(w.notna(), None).tolist(), c


# ---- the churn inputs' usage aggregate ----------------------------------------------------------------

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


def test_churn_usage_aggregate_matches_pandas(ax, frames) -> None:
    u, c, p = frames["usage_monthly"], frames["metric_catalog"], frames["products"]
    want = churn_reference(u, c, p)
    got = ax.to_pandas(usage_aggregate(memtable(u), memtable(c), memtable(p)))
    assert want["use"].isna().any() and want["use"].notna().any()  # zero capacity reads as unmeasured
    assert (want["product_id"] == "PRD-FLAT").any() and want.loc[want.product_id == "PRD-FLAT", "breadth"].isna().all()
    assert_frames_close(got, want)


# ---- adoption signals ---------------------------------------------------------------------------------

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


def test_adoption_signals_match_pandas(ax, frames) -> None:
    u = frames["usage_monthly"]
    as_of = pd.Timestamp(u.month.max()) + pd.offsets.MonthEnd(0)
    months = sig.month_starts(u["month"], as_of, 8)
    args = (u, frames["metric_catalog"], frames["products"], frames["subscriptions"], months)
    want, want_per = signals_reference(*args)
    got, got_per = sig.compute_signals(*args, ax=ax)
    assert want["use_trend"].abs().gt(0).any() and want["breadth_trend"].abs().gt(0).any()
    assert_frames_close(got, want)
    assert_frames_close(got_per, want_per)
