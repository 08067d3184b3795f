"""Point-in-time data for the bookings forecast.

Bookings are the closed-won `amount_usd` of `new` and `expansion` opportunities. Everything here is
built "as of" an origin date from `opportunity_history`: a deal's state at the origin is its latest
history row on or before it, and nothing dated after the origin is used (labels excepted, which are
only built for target quarters that ended before the caller's cutoff).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import contract, db, fiscal, picklists
from services.churn import tables as churn_tables

log = logging.getLogger(__name__)
BOOKING_TYPES = ("new", "expansion")
CATEGORICAL = ["type", "product_id", "segment", "forecast_category"]
FEATURES = ["stage_n", "age_days", "log_amount", "pushes", "amount_changes", "days_in_stage",
            "days_to_close", "days_left_in_target", "close_in_target", "overdue", "h",
            "rep_win_rate", "rep_closed_n", "churn_probability", *CATEGORICAL]


@dataclass
class SalesData:
    """The inputs of the forecast, read once: booking-type opportunities and their history, the org."""

    opps: pd.DataFrame
    hist: pd.DataFrame
    people: pd.DataFrame
    churn: pd.DataFrame  # account_id, score_date, probability (may be empty)
    stages: pd.DataFrame | None = None  # the company's `stages`; derived from the deals when not given
    cal: fiscal.FiscalCalendar = fiscal.CALENDAR  # the company's fiscal quarters (services/fiscal.py)

    def __post_init__(self) -> None:
        if self.stages is None:
            self.stages = contract.derive_stages(self.opps, self.hist)

    @property
    def won(self) -> pd.DataFrame:
        return self.opps[self.opps.is_won]


def load(engine: Engine) -> SalesData:
    """Read booking-type opportunities, their history, people, and churn scores when present."""
    opps = db.read_table("opportunities", engine)
    if opps.empty:
        raise LookupError("no opportunities in the database: seed or import first")
    opps = opps[opps["type"].isin(BOOKING_TYPES)].copy()
    accounts = db.read_table("accounts", engine, columns=["account_id", "segment"])
    opps = opps.merge(accounts, on="account_id", how="left")
    opps["segment"] = opps["segment"].fillna("unknown")
    hist = db.read_table("opportunity_history", engine)
    hist = hist[hist["opportunity_id"].isin(opps["opportunity_id"])]
    hist = hist.sort_values(["opportunity_id", "snapshot_date"], kind="stable").reset_index(drop=True)
    people = db.read_table("people", engine)
    return SalesData(opps.reset_index(drop=True), hist, people, _churn_scores(engine), picklists.read_stages(engine),
                     fiscal.read(engine))


def _churn_scores(engine: Engine) -> pd.DataFrame:
    """The active churn version's scores (optional input; empty when the churn model is absent)."""
    from services import registry  # local: registry pulls joblib

    empty = pd.DataFrame(columns=["account_id", "score_date", "probability"])
    try:
        df = registry.read_results(engine, churn_tables.SCORES)
    except (sa.exc.SQLAlchemyError, KeyError, ValueError) as exc:
        log.info("churn scores unavailable (%s); forecasting without them", exc)
        return empty
    if df.empty or not {"account_id", "score_date", "probability"} <= set(df.columns):
        return empty
    return df[["account_id", "score_date", "probability"]].sort_values("score_date")


def _history_features(hist: pd.DataFrame) -> pd.DataFrame:
    """Per history row: cumulative pushes, amount changes and the date the current stage began."""
    h = hist.copy()
    g = h.groupby("opportunity_id", sort=False, observed=True)
    prev_close = g["close_date"].shift()
    prev_amount = g["amount_usd"].shift()
    prev_stage = g["stage"].shift()
    h["pushes"] = (h["close_date"] > prev_close).astype(int).groupby(h["opportunity_id"], observed=True).cumsum()
    h["amount_changes"] = ((h["amount_usd"] != prev_amount) & prev_amount.notna()).astype(int).groupby(
        h["opportunity_id"], observed=True).cumsum()
    stage_start = h["snapshot_date"].where(h["stage"] != prev_stage)
    h["stage_since"] = stage_start.groupby(h["opportunity_id"], observed=True).ffill()
    return h


def state_at(data: SalesData, origins: list[pd.Timestamp], hist_feats: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every deal open at each origin, in its state as of that origin (one row per deal and origin)."""
    hf = _history_features(data.hist) if hist_feats is None else hist_feats
    cols = ["opportunity_id", "snapshot_date", "stage", "amount_usd", "close_date", "forecast_category",
            "pushes", "amount_changes", "stage_since"]
    hf = hf[cols].sort_values(["opportunity_id", "snapshot_date"], kind="stable").reset_index(drop=True)
    meta = data.opps[["opportunity_id", "account_id", "owner_id", "product_id", "type", "segment",
                      "created_date"]]
    o = np.unique(pd.to_datetime(pd.Series(origins, dtype="datetime64[ns]")).to_numpy())
    if len(o) == 0:
        return pd.DataFrame(columns=[*cols, "origin"])
    # a history row is the deal's state at every origin in [its snapshot_date, the deal's next snapshot_date)
    nxt = hf.groupby("opportunity_id", sort=False, observed=True)["snapshot_date"].shift(-1)
    first = np.searchsorted(o, hf["snapshot_date"].to_numpy(), side="left")
    last = np.searchsorted(o, nxt.fillna(pd.Timestamp.max).to_numpy(), side="left")
    n = np.maximum(last - first, 0)
    rows = np.repeat(np.arange(len(hf)), n)
    at = np.repeat(first, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    snap = hf.iloc[rows].assign(origin=o[at])
    snap = snap[~snap["stage"].isin(picklists.closed_stages(data.stages))]
    snap = snap.sort_values(["origin", "snapshot_date"], kind="stable")
    snap = snap.reset_index(drop=True).merge(meta, on="opportunity_id", how="inner")
    snap["stage_n"] = snap["stage"].astype(object).map(picklists.open_stage_rank(data.stages)).astype(float)
    snap["age_days"] = (snap["origin"] - snap["created_date"]).dt.days
    snap["log_amount"] = np.log1p(snap["amount_usd"].clip(lower=0))
    snap["days_in_stage"] = (snap["origin"] - snap["stage_since"]).dt.days
    snap["days_to_close"] = (snap["close_date"] - snap["origin"]).dt.days
    snap["overdue"] = (snap["days_to_close"] < 0).astype(int)
    return _with_rep_history(snap, data)


def _with_rep_history(snap: pd.DataFrame, data: SalesData) -> pd.DataFrame:
    """Each owner's win rate on booking deals closed before the origin (point in time)."""
    closed = data.opps.loc[data.opps.is_closed, ["owner_id", "close_date", "is_won"]].sort_values("close_date")
    out = []
    for origin, part in snap.groupby("origin", sort=False):
        c = closed[closed["close_date"] < origin].groupby("owner_id")["is_won"].agg(["sum", "count"])
        part = part.join(c, on="owner_id")
        part["rep_closed_n"] = part["count"].fillna(0)
        part["rep_win_rate"] = (part["sum"].fillna(0) + 1) / (part["rep_closed_n"] + 3)
        out.append(part.drop(columns=["sum", "count"]))
    snap = pd.concat(out, ignore_index=True)
    return _with_churn(snap, data.churn)


def _with_churn(snap: pd.DataFrame, churn: pd.DataFrame) -> pd.DataFrame:
    if churn.empty:
        snap["churn_probability"] = np.nan
        return snap
    left = snap.sort_values("origin").reset_index(drop=True)
    right = churn.rename(columns={"score_date": "origin_c"}).sort_values("origin_c")
    merged = pd.merge_asof(left, right, left_on="origin", right_on="origin_c", by="account_id",
                           direction="backward")
    return merged.drop(columns=["origin_c"]).rename(columns={"probability": "churn_probability"})


def expand_horizons(snap: pd.DataFrame, horizons: int = 3, *, cal: fiscal.FiscalCalendar) -> pd.DataFrame:
    """One row per deal, origin and target quarter (h = 0: the origin's quarter, 1, 2: the next ones)."""
    parts = []
    q0 = cal.quarters(snap["origin"])
    for h in range(horizons):
        target = q0 + h
        p = snap.assign(h=h, target_quarter=target.astype(str))
        end = target.dt.end_time.dt.normalize()
        start = target.dt.start_time.dt.normalize()
        p["days_left_in_target"] = (end - p["origin"]).dt.days
        p["close_in_target"] = ((p["close_date"] >= start) & (p["close_date"] <= end)).astype(int)
        parts.append(p)
    return pd.concat(parts, ignore_index=True)


def label(rows: pd.DataFrame, opps: pd.DataFrame, *, cal: fiscal.FiscalCalendar) -> pd.Series:
    """1 when the deal was won with its close date inside the row's target quarter."""
    won = opps.loc[opps.is_won, ["opportunity_id", "close_date"]].set_index("opportunity_id")["close_date"]
    close = rows["opportunity_id"].map(won)
    return (close.notna() & (cal.keys(close) == rows["target_quarter"])).astype(int)


def bookings(data: SalesData, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Closed-won amount per owner and product with close_date in [start, end]."""
    w = data.won
    w = w[(w.close_date >= start) & (w.close_date <= end)]
    return w.groupby(["owner_id", "product_id"], as_index=False)["amount_usd"].sum()


def monthly_series(data: SalesData, cutoff: pd.Timestamp, horizons: int = 3) -> pd.DataFrame:
    """Long series (unique_id, ds, y, h) of *fresh* bookings per rep x product and month before `cutoff`.

    y for month m and h is the amount won in m from deals created on or after the start of the quarter
    h quarters before m's quarter: the part of a quarter's bookings that did not exist as pipeline
    when a forecast was made h quarters earlier. Months whose bookings are not final by `cutoff`
    are left out; series start at the first month with any booking (the data window's start)."""
    w = data.won[data.won.close_date < cutoff]
    month = w["close_date"].dt.to_period("M")
    q_start = data.cal.quarters(w["close_date"])
    created_q = data.cal.quarters(w["created_date"])
    first = month.min() if len(w) else pd.Period(cutoff, "M") - 1
    months = pd.period_range(first, pd.Period(cutoff, "M") - 1, freq="M")
    keys = data.opps.loc[data.opps.created_date < cutoff, ["owner_id", "product_id"]].drop_duplicates()
    frames = []
    for h in range(horizons):
        fresh = (created_q >= q_start - h)
        agg = w[fresh].assign(m=month[fresh]).groupby(["owner_id", "product_id", "m"])["amount_usd"].sum()
        grid = pd.MultiIndex.from_frame(keys.merge(pd.DataFrame({"m": months}), how="cross"))
        y = agg.reindex(grid, fill_value=0.0).reset_index()
        y["h"] = h
        frames.append(y)
    out = pd.concat(frames, ignore_index=True)
    out["unique_id"] = out["owner_id"] + "|" + out["product_id"] + "|" + out["h"].astype(str)
    out["ds"] = out["m"].dt.to_timestamp()
    return out.rename(columns={"amount_usd": "y"})[["unique_id", "ds", "y", "h", "owner_id", "product_id"]]


def fresh_share_after(data: SalesData, cutoff: pd.Timestamp, offset_days: int, horizons: int = 3,
                      quarters: int = 4) -> np.ndarray:
    """Share of fresh bookings (see `monthly_series`) created after `offset_days` into the origin quarter.

    Measured over the last `quarters` target quarters that ended before `cutoff`; one share per h."""
    w = data.won[data.won.close_date < cutoff]
    target = data.cal.quarters(w["close_date"])
    last_done = data.cal.quarter(cutoff) - 1
    out = np.ones(horizons)
    if offset_days <= 0:
        return out
    for h in range(horizons):
        sel = (target <= last_done) & (target > last_done - quarters)
        origin_q = target[sel] - h
        base = origin_q.dt.start_time
        created = w.loc[sel, "created_date"]
        fresh = created >= base
        after = created >= base + pd.Timedelta(days=offset_days)
        amt = w.loc[sel, "amount_usd"]
        total = amt[fresh].sum()
        out[h] = amt[after].sum() / total if total > 0 else 1.0
    return out
