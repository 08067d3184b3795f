"""Bookings from deals not yet created at an origin, per leaf (rep x product), from the leaf's own history.

For a target quarter T seen from origin o (o lies `offset` days into its quarter O, T = O + h), the
analogs are the earlier pairs (T - k, o_k = start of O - k + offset) whose target quarter had ended
before o. A leaf's expected fresh bookings are the mean, over the last `ANALOGS` analogs, of what it
won in T - k from deals created after o_k (the rate of such deals times their size), shrunk towards the
average leaf of its product with weight `SHRINK` analogs (company and product totals are unchanged by
the shrinkage). Analog origins before `window_start` (the first day of history) are not used: deals
created after an analog origin inside the window are all in the data. Where no analog lies inside (a
horizon longer than the history), the nearest one is used with its origin moved to `window_start`
(an undercount, but not nothing).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from services.forecast import data as fd

ANALOGS = 4
SHRINK = 1.0


def analogs(origin: pd.Timestamp, target: pd.Period, window_start: pd.Timestamp,
            n: int = ANALOGS) -> list[tuple[pd.Period, pd.Timestamp]]:
    """(target quarter, origin date) pairs analogous to (target, origin), complete before `origin`."""
    origin = pd.Timestamp(origin).normalize()
    o_q = pd.Period(origin, freq=target.freq)  # the target's calendar (services/fiscal.py)
    offset = origin - o_q.start_time.normalize()
    at = lambda k: min((o_q - k).start_time.normalize() + offset, (o_q - k).end_time.normalize())
    out, k = [], 1
    while len(out) < n and at(k) >= window_start:
        if (target - k).end_time.normalize() < origin:
            out.append((target - k, at(k)))
        k += 1
    k = 1
    while not out and (target - k).start_time >= window_start:  # none inside: the nearest, origin clipped
        if (target - k).end_time.normalize() < origin:
            out.append((target - k, max(at(k), window_start)))
        k += 1
    return out


def won_in(data: fd.SalesData, q: pd.Period, created_after: pd.Timestamp | None = None) -> pd.DataFrame:
    w = data.won
    w = w[(w.close_date >= q.start_time.normalize()) & (w.close_date <= q.end_time.normalize())]
    return w if created_after is None else w[w.created_date > created_after]


def leaf_sum(leaves: pd.DataFrame, frame: pd.DataFrame, col: str = "amount_usd") -> np.ndarray:
    key = pd.MultiIndex.from_frame(leaves[["owner_id", "product_id"]])
    s = frame.groupby(["owner_id", "product_id"])[col].sum()
    return s.reindex(key, fill_value=0.0).to_numpy(dtype=float)


def history(data: fd.SalesData, leaves: pd.DataFrame, origin: pd.Timestamp, target: pd.Period,
            window_start: pd.Timestamp) -> np.ndarray:
    """(n_analogs, n_leaves) fresh bookings won in each analog quarter (empty when there is none)."""
    rows = [leaf_sum(leaves, won_in(data, t_k, created_after=o_k))
            for t_k, o_k in analogs(origin, target, window_start)]
    return np.vstack(rows) if rows else np.zeros((0, len(leaves)))


def expected(data: fd.SalesData, leaves: pd.DataFrame, origin: pd.Timestamp, target: pd.Period,
             window_start: pd.Timestamp) -> np.ndarray:
    """Per leaf: expected bookings in `target` from deals created after `origin` (zeros without analogs)."""
    h = history(data, leaves, origin, target, window_start)
    if len(h) == 0:
        return np.zeros(len(leaves))
    mean = h.mean(0)
    prod = leaves["product_id"].to_numpy()
    prod_mean = pd.Series(mean).groupby(prod).transform("mean").to_numpy()
    k = len(h)
    return (k * mean + SHRINK * prod_mean) / (k + SHRINK)
