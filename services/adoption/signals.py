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

The signals are Ibis expressions (`signal_tables`) executed by the analytical engine (`services.engine`:
DuckDB embedded, or Spark); months are handled as integers (year * 12 + month - 1) so that every engine
computes the same windows.
"""

from __future__ import annotations

import logging

import ibis
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from models.adoption import SIGNALS
from services.engine import Analytics, analytics, memtable

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


def _month_no(col: ibis.Value) -> ibis.Value:
    """A month as an integer (year * 12 + month - 1): month arithmetic that every engine runs alike."""
    return col.year().cast("int64") * 12 + col.month().cast("int64") - 1


def _month_of(no: pd.Series) -> pd.Series:
    no = no.astype("int64")
    return pd.to_datetime(pd.DataFrame({"year": no // 12, "month": no % 12 + 1, "day": 1}))


def _table(x: pd.DataFrame | ibis.Table) -> ibis.Table:
    return x if isinstance(x, ibis.Table) else memtable(x)


def _ownership(subscriptions: ibis.Table, products: ibis.Table, lo: int, hi: int) -> ibis.Table:
    """(account_id, product_id, mno, arr_usd, family) for subscriptions active at each month end in lo..hi."""
    months = pd.DataFrame({"mno": np.arange(lo, hi + 1, dtype="int64")})
    months["month_end"] = _month_of(months["mno"]) + pd.offsets.MonthEnd(0)
    m = memtable(months)
    s = subscriptions.select("account_id", "product_id", "start_date", "end_date", "arr_usd")
    active = s.cross_join(m).filter(lambda t: (t.start_date <= t.month_end) & (t.end_date > t.month_end))
    own = active.group_by(["account_id", "product_id", "mno"]).aggregate(arr_usd=active.arr_usd.sum())
    fam = products.select("product_id", family=products.pricing_model.cases(
        *[(k, v) for k, v in FAMILIES.items() if v is not None], else_=ibis.null("string")))
    own = own.left_join(fam, "product_id").drop("product_id_right")
    # a free product still counts a little
    return own.mutate(arr_usd=ibis.greatest(own.arr_usd.cast("float64"), 0.0) + 1e-6)


def product_signals(usage: ibis.Table, catalog: ibis.Table) -> ibis.Table:
    """Per (account_id, product_id, mno): capacity_use, breadth, job_completion (NULL where unmeasured)."""
    keys = ["account_id", "product_id", "mno"]
    cat = catalog.select("metric_id", "role", job=catalog.job.fill_null(catalog.metric_id))
    u = usage.inner_join(cat, "metric_id")
    agg = u.group_by(keys).aggregate(
        capacity=ibis.ifelse(u.role == "capacity", u.value, ibis.null("float64")).sum(),
        consumption=ibis.ifelse(u.role == "consumption", u.value, ibis.null("float64")).sum())
    agg = agg.mutate(capacity_use=ibis.least(ibis.ifelse(
        agg.capacity > 0, agg.consumption.fill_null(0.0) / agg.capacity, ibis.null("float64")), USE_CAP))
    feats = catalog.filter(catalog.role == "feature").mutate(job=catalog.job.fill_null(catalog.metric_id))
    job_size = feats.group_by(["product_id", "job"]).aggregate(job_size=ibis._.count())
    n_feat = feats.group_by("product_id").aggregate(n_feat=ibis._.count(), n_jobs=ibis._.job.nunique())
    used = u.filter((u.role == "feature") & (u.value > 0))
    breadth = used.group_by(keys).aggregate(n_used=ibis._.count())
    per_job = used.group_by([*keys, "job"]).aggregate(n=ibis._.count())
    per_job = per_job.left_join(job_size, ["product_id", "job"]).drop("product_id_right", "job_right")
    done = per_job.filter(per_job.n >= per_job.job_size).group_by(keys).aggregate(jobs_done=ibis._.count())
    out = (agg.left_join(breadth, keys).drop([f"{k}_right" for k in keys])
           .left_join(done, keys).drop([f"{k}_right" for k in keys])
           .left_join(n_feat, "product_id").drop("product_id_right"))
    return out.select(*keys, "capacity_use",
                      breadth=out.n_used.cast("float64") / out.n_feat.cast("float64"),
                      job_completion=out.jobs_done.fill_null(0).cast("float64") / out.n_jobs.cast("float64"))


def _weighted(df: ibis.Table, value: str) -> ibis.Value:
    ok = df[value].notnull()
    num = ibis.ifelse(ok, df[value] * df.arr_usd, 0.0).sum()
    den = ibis.ifelse(ok, df.arr_usd, 0.0).sum()
    return ibis.ifelse(den > 0, num / den, ibis.null("float64"))


def signal_tables(usage: ibis.Table, catalog: ibis.Table, products: ibis.Table, subscriptions: ibis.Table,
                  months: list[pd.Timestamp]) -> tuple[ibis.Table, ibis.Table]:
    """The signals as Ibis expressions (run by the analytical engine): (per account and month, keyed by
    `mno`, the month number; per account, product and month)."""
    nos = [m.year * 12 + m.month - 1 for m in months]
    lo, hi = nos[0] - (TREND_MONTHS + SMOOTH_MONTHS - 1), nos[-1]
    u = usage.select("account_id", "product_id", "metric_id", "value", mno=_month_no(usage.month))
    u = u.filter((u.mno >= lo) & (u.mno <= hi))
    keys = ["account_id", "product_id", "mno"]
    ps = product_signals(u, catalog)
    df = _ownership(subscriptions, products, lo, hi).left_join(ps, keys).drop([f"{k}_right" for k in keys])
    df = df.mutate(breadth=df.breadth.fill_null(0.0), job_completion=df.job_completion.fill_null(0.0))
    # breadth and job completion: mean over the last SMOOTH_MONTHS owned months
    w = df.select(a2=df.account_id, p2=df.product_id, m2=df.mno, b2=df.breadth, j2=df.job_completion)
    win = df.inner_join(w, [df.account_id == w.a2, df.product_id == w.p2, w.m2 <= df.mno,
                            w.m2 >= df.mno - (SMOOTH_MONTHS - 1)])
    df = win.group_by([*keys, "arr_usd", "family", "capacity_use"]).aggregate(
        breadth=win.b2.mean(), job_completion=win.j2.mean())
    prev = df.select(a3=df.account_id, p3=df.product_id, m3=df.mno + TREND_MONTHS,
                     capacity_use_prev=df.capacity_use, breadth_prev=df.breadth)
    cur = df.filter(df.mno.isin(nos))
    df = cur.left_join(prev, [cur.account_id == prev.a3, cur.product_id == prev.p3, cur.mno == prev.m3])
    df = df.mutate(
        use_trend=((df.capacity_use + TREND_EPS) / (df.capacity_use_prev + TREND_EPS)).ln().clip(
            lower=-TREND_CAP, upper=TREND_CAP),
        breadth_trend=df.breadth - df.breadth_prev,
        seat_use=ibis.ifelse(df.family == "seat", df.capacity_use, ibis.null("float64")),
        volume_use=ibis.ifelse(df.family == "volume", df.capacity_use, ibis.null("float64")))
    per_product = df.select("account_id", "product_id", "mno", "capacity_use", "breadth", "job_completion",
                            "arr_usd").order_by(["mno", "account_id", "product_id"])
    out = df.group_by(["account_id", "mno"]).aggregate(
        **{c: _weighted(df, c) for c in [*SIGNALS, "breadth_trend", "capacity_use"]},
        arr_usd=df.arr_usd.sum().round(2))
    # neutral fill: not owning a family reads as the month's median of the accounts that do
    med = out.group_by(m4=out.mno).aggregate(seat_med=out.seat_use.median(), volume_med=out.volume_use.median())
    out = out.left_join(med, out.mno == med.m4)
    out = out.mutate(seat_use=ibis.coalesce(out.seat_use, out.seat_med, 0.0),
                     volume_use=ibis.coalesce(out.volume_use, out.volume_med, 0.0),
                     use_trend=out.use_trend.fill_null(0.0), breadth_trend=out.breadth_trend.fill_null(0.0),
                     breadth=out.breadth.fill_null(0.0), job_completion=out.job_completion.fill_null(0.0))
    out = out.mutate(capacity_use=ibis.coalesce(out.capacity_use, (out.seat_use + out.volume_use) / 2))
    return out.select("account_id", "mno", *COLUMNS, "arr_usd").order_by(["account_id", "mno"]), per_product


def compute_signals(usage: pd.DataFrame | ibis.Table, catalog: pd.DataFrame | ibis.Table,
                    products: pd.DataFrame | ibis.Table, subscriptions: pd.DataFrame | ibis.Table,
                    months: list[pd.Timestamp], ax: Analytics | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Signals for every account owning at least one product at each month end in `months`.

    Contract tables in (frames or the engine's tables), run on the analytical engine `ax` (the process's
    by default); returns (signals: account_id, month, *COLUMNS, arr_usd; per product: account_id,
    product_id, month, capacity_use, breadth, job_completion, arr_usd)."""
    catalog = _table(catalog)
    ax = ax or analytics()
    roles = set(ax.to_pandas(catalog.select("role").distinct())["role"])
    missing = {"capacity", "consumption"} - roles
    if missing:
        raise ValueError(f"the metric catalog has no {' or '.join(sorted(missing))} metrics: cannot derive "
                         "capacity use")
    if not months:
        raise ValueError("no complete usage months on or before the as-of date")
    months = [pd.Timestamp(m) for m in months]
    sig, per = signal_tables(_table(usage), catalog, _table(products), _table(subscriptions), months)
    out = []
    for expr in (sig, per):
        df = ax.to_pandas(expr)
        df.insert(df.columns.get_loc("mno"), "month", _month_of(df["mno"]))
        out.append(df.drop(columns="mno"))
    return out[0], out[1]


def load_signals(engine: Engine, as_of: pd.Timestamp,
                 n_months: int = DEFAULT_MONTHS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Signals for the last `n_months` complete usage months up to `as_of`, read from the database."""
    as_of = pd.Timestamp(as_of)
    ax = analytics()
    usage = ax.table("usage_monthly", engine)
    seen = ax.to_pandas(usage.filter(usage.month <= as_of).select("month").distinct())
    months = month_starts(seen["month"], as_of, n_months)
    if not months:
        raise LookupError(f"no usage months on or before {as_of.date()}: import usage first")
    log.info("adoption signals over %d months (engine %s)", len(months), ax.kind)
    return compute_signals(usage, ax.table("metric_catalog", engine), ax.table("products", engine),
                           ax.table("subscriptions", engine), months, ax)
