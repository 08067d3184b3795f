"""The simple forecasts the model must beat, at any origin and target quarter, per leaf (rep x product).

- `last_quarter`: bookings of the last quarter complete at the origin.
- `same_quarter_last_year`: bookings of the target quarter a year earlier.
- `pipeline_method` (the spreadsheet): closed so far + open pipeline closing in the target x the
  historical stage-to-won conversion at the same point of the quarter + the average bookings from deals
  created after that point and won in the quarter, both measured on the last `ANALOGS` analogous
  origins whose target quarter had ended before the origin.
- `commit_by_person`: the latest commit submitted on or before the origin (per person, not per leaf).

A baseline whose source quarter starts before `data_start` (history not complete yet: deals created
before the data window are missing) is NaN there, not zero; the pipeline method's analogs need only
their origin inside the window (`window_start`), like the model's (`services/forecast/fresh.py`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from services.forecast import data as fd
from services.forecast import fresh

_leaf_sum, _won_in = fresh.leaf_sum, fresh.won_in


def last_quarter(data: fd.SalesData, leaves: pd.DataFrame, origin: pd.Timestamp,
                 data_start: pd.Timestamp) -> np.ndarray:
    src = data.cal.quarter(origin) - 1
    if src.start_time < data_start:
        return np.full(len(leaves), np.nan)
    return _leaf_sum(leaves, _won_in(data, src))


def same_quarter_last_year(data: fd.SalesData, leaves: pd.DataFrame, target: pd.Period,
                           data_start: pd.Timestamp) -> np.ndarray:
    src = target - 4
    if src.start_time < data_start:
        return np.full(len(leaves), np.nan)
    return _leaf_sum(leaves, _won_in(data, src))


def _open_at(data: fd.SalesData, origin: pd.Timestamp, target: pd.Period, states: dict) -> pd.DataFrame:
    """Deals open at `origin` with their close date (as known then) inside `target`."""
    if origin not in states:
        st = fd.state_at(data, [origin])
        states[origin] = st.assign(stage=st.stage.astype(str))
    s = states[origin]
    qs, qe = target.start_time.normalize(), target.end_time.normalize()
    return s[(s.close_date >= qs) & (s.close_date <= qe)]


def stage_rates(data: fd.SalesData, origin: pd.Timestamp, target: pd.Period, window_start: pd.Timestamp,
                states: dict | None = None) -> tuple[dict, list]:
    """Stage -> dollar share of the open pipeline closing in the target that was won in it, over the last
    `ANALOGS` analogous origins (`fresh.analogs`); the analogs themselves. `states` caches deal states."""
    states = {} if states is None else states
    won_close = data.won.set_index("opportunity_id").close_date
    num, den = {}, {}
    pairs = fresh.analogs(pd.Timestamp(origin).normalize(), target, window_start)
    for t_k, o_k in pairs:
        past = _open_at(data, o_k, t_k, states)
        close = past.opportunity_id.map(won_close)
        won = close.notna() & (close >= t_k.start_time) & (close <= t_k.end_time)
        for stage, g in past.assign(won_usd=past.amount_usd.where(won, 0.0)).groupby("stage"):
            num[stage] = num.get(stage, 0.0) + g.won_usd.sum()
            den[stage] = den.get(stage, 0.0) + g.amount_usd.sum()
    return {s: num[s] / den[s] for s in den if den[s] > 0}, pairs


def pipeline_method(data: fd.SalesData, leaves: pd.DataFrame, origin: pd.Timestamp, target: pd.Period,
                    window_start: pd.Timestamp, states: dict | None = None) -> np.ndarray:
    """Closed so far + open pipeline x stage conversion + average fresh bookings (see the module doc).

    `states` caches deal states per origin date between calls."""
    states = {} if states is None else states
    origin = pd.Timestamp(origin).normalize()
    rate, pairs = stage_rates(data, origin, target, window_start, states)
    if not pairs:
        return np.full(len(leaves), np.nan)
    fresh_rows = [_leaf_sum(leaves, _won_in(data, t_k, created_after=o_k)) for t_k, o_k in pairs]
    now = _open_at(data, origin, target, states)
    weighted = now.assign(amount_usd=now.amount_usd * now.stage.map(rate).fillna(0.0))
    closed = _won_in(data, target)
    closed = closed[closed.close_date <= origin]
    return _leaf_sum(leaves, closed) + _leaf_sum(leaves, weighted) + np.mean(fresh_rows, axis=0)


def commit_by_person(commits: pd.DataFrame, origin: pd.Timestamp, target: pd.Period) -> pd.Series:
    """person_id -> the latest commit for `target` submitted on or before `origin` (may be empty)."""
    if commits.empty:
        return pd.Series(dtype=float)
    c = commits[(commits.quarter == str(target)) & (pd.to_datetime(commits.submitted_at) <= origin)]
    return c.sort_values("submitted_at").groupby("person_id")["amount_usd"].last()
