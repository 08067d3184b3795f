"""Engine-side features against plain pandas references computed here (equal to 1e-9), on DuckDB always
and on PySpark local where Java and pyspark are installed (CI: `.ci/run` installs both; marked `spark`).

The references are the pandas implementations these features had before they moved into the analytical
engine (`services.engine`), kept here as the specification."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from engine_reference import churn_reference, signals_reference

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

def test_churn_usage_aggregate_matches_pandas(ax, frames) -> None:
    u, c, p = frames["usage_monthly"], frames["metric_catalog"], frames["products"]
    want = churn_reference(u, c, p)
    got = ax.to_pandas(usage_aggregate(memtable(u), memtable(c), memtable(p)))
    assert want["use"].isna().any() and want["use"].notna().any()  # zero capacity reads as unmeasured
    assert (want["product_id"] == "PRD-FLAT").any() and want.loc[want.product_id == "PRD-FLAT", "breadth"].isna().all()
    assert_frames_close(got, want)


# ---- adoption signals ---------------------------------------------------------------------------------

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
