"""Rolling-origin backtest of every horizon the page shows, strictly out of time.

Origins: weeks 0, 2, ..., 12 of each of the last `ORIGIN_QUARTERS` complete quarters that have
`MIN_HISTORY_MONTHS` of history before them. From each origin the current quarter (h = 0), the next
(h = 1) and the one after (h = 2) are forecast, where that target quarter is complete at `as_of`.
An origin uses only what existed before it: the win-probability model is fitted at its quarter's start
on labels of quarters ended by then, fresh bookings come from analogs complete before it, the blend of
stage conversion and model (`services/forecast/blend.py`) and its bands from the past backtest
forecasts whose target quarter had ended before it (`models/bands.py`).
Every row carries the actual and the baselines (`services/forecast/baselines.py`) on the same origin.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from models import bands
from services.forecast import baselines as bl
from services.forecast import blend as fb
from services.forecast import data as fd
from services.forecast import engine as fe
from services.forecast import fresh

log = logging.getLogger(__name__)
ORIGIN_QUARTERS = 10
CURRENT_WEEKS = (0, 2, 4, 6, 8, 10, 12)
HORIZONS = 3
MIN_HISTORY_MONTHS = 7
RAMP_MONTHS = 6  # quarters starting earlier than this into the history lack deals created before it
DEAL_WEEKS = (0, 6)  # open deals kept (with their label) for the win-probability scores


def window_start(data: fd.SalesData) -> pd.Timestamp:
    return data.hist["snapshot_date"].min().normalize()


def data_start(data: fd.SalesData) -> pd.Timestamp:
    return window_start(data) + pd.DateOffset(months=RAMP_MONTHS)


def origin_quarters(data: fd.SalesData, as_of: pd.Timestamp, n: int = ORIGIN_QUARTERS) -> list[pd.Period]:
    """The last `n` fiscal quarters complete at `as_of` with `MIN_HISTORY_MONTHS` of history before them."""
    last = data.cal.last_complete(as_of)
    first = window_start(data) + pd.DateOffset(months=MIN_HISTORY_MONTHS)
    chosen = [q for q in (last - k for k in range(n - 1, -1, -1)) if q.start_time >= first]
    if not chosen:
        raise ValueError(f"too little history to backtest: need {MIN_HISTORY_MONTHS} months before a quarter")
    return chosen


def run(data: fd.SalesData, hf: pd.DataFrame, tree: fe.Tree, as_of: pd.Timestamp, commits: pd.DataFrame,
        n: int = ORIGIN_QUARTERS, weeks: tuple[int, ...] = CURRENT_WEEKS,
        blend_kw: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest rows (forecast, actual, baselines, commit, band source, the blend used) and the scored
    open deals. `blend_kw` goes to `blend.choose` (tests: `min_quarters`, `min_gain`)."""
    last = data.cal.last_complete(as_of)
    w0, d0 = window_start(data), data_start(data)
    levels = pd.Series(tree.levels, index=tree.nodes.index)
    actuals, states, rows, deal_parts = {}, {}, [], []
    scored = pd.DataFrame(columns=["level", "h", "week", "target_end", "score"])
    decided = pd.DataFrame(columns=[*fb.COLUMNS, "bucket"])  # company and region rows for blend.choose
    for q in origin_quarters(data, as_of, n):
        qs = data.cal.start(q)
        wp = fe.train_winprob(data, hf, qs)
        for week in weeks:
            origin = qs + pd.Timedelta(days=7 * week)
            choice = fb.for_origin(decided, origin, week, HORIZONS, **(blend_kw or {}))
            nodes, deals = fe.forecast_at(data, hf, tree, origin, wp, w0, quarters=HORIZONS, states=states,
                                          blend=choice)
            nodes = nodes.assign(level=np.tile(levels.to_numpy(), HORIZONS), week=week)
            nodes = nodes[nodes.quarter <= str(last)]
            nodes = bands.apply(nodes, scored, origin, week, tree.band_fallback)
            parts = [_with_truth(data, tree, nodes[nodes.h == h], origin, q + h, commits, actuals, states, d0, w0)
                     for h in sorted(nodes.h.unique())]
            done = pd.concat(parts, ignore_index=True)
            rows.append(done)
            done = done.assign(target_end=data.cal.periods(done.quarter).end_time)
            new = bands.scores(done)
            d_new = fb.decision_rows(done)
            decided = d_new if decided.empty else pd.concat([decided, d_new], ignore_index=True)
            scored = new if scored.empty else pd.concat([scored, new], ignore_index=True)
            if week in DEAL_WEEKS:
                d = deals[deals.h == 0]
                deal_parts.append(d.assign(week=week, won_in_quarter=fd.label(d, data.opps, cal=data.cal).to_numpy()))
        log.info("backtest origin %s done (%d rows)", q, sum(len(r) for r in rows))
    return pd.concat(rows, ignore_index=True), pd.concat(deal_parts, ignore_index=True)


def _with_truth(data, tree, nodes, origin, target, commits, actuals, states, d0, w0) -> pd.DataFrame:
    """The rows of one target quarter with the actual bookings, the baselines and the commit attached."""
    m, leaves = tree.membership, tree.leaves
    if target not in actuals:
        actuals[target] = m @ fresh.leaf_sum(leaves, fresh.won_in(data, target))
    idx = nodes.index.to_numpy() - nodes.index.to_numpy().min()  # the node order of tree.nodes
    pick = lambda leaf: (m @ leaf)[idx]
    commit = bl.commit_by_person(commits, origin, target)
    is_all = nodes.product_id == fe.ALL
    return nodes.assign(
        actual_usd=actuals[target][idx],
        last_quarter_usd=pick(bl.last_quarter(data, leaves, origin, d0)),
        same_quarter_last_year_usd=pick(bl.same_quarter_last_year(data, leaves, target, d0)),
        pipeline_method_usd=pick(bl.pipeline_method(data, leaves, origin, target, w0, states)),
        commit_usd=nodes.person_id.map(commit).where(is_all).astype(float))
