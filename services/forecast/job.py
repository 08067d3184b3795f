"""Training job for the bookings forecast: rolling-origin backtest, then the live forecast.

Backtest (`services/forecast/backtest.py`): weeks 0, 2, ..., 12 of the last complete quarters, every
horizon the page shows (this quarter, the next, the one after), strictly out of time, with the
baselines and the commit on the same origins; scored by `services/forecast/accuracy.py`. Live: the
win-probability model fitted as of `version.as_of`, forecasts for this quarter and the next two as of
`as_of` and of a week earlier (for "change since last week"), bands from all backtest scores, the
blend of stage conversion and model (`services/forecast/blend.py`) chosen on every backtest quarter
(metrics `blend`: per horizon and week bucket; `blend_live`: the live forecast's, per horizon).
Tables: `forecast_nodes` (one row per origin, quarter, person and product incl. ALL),
`forecast_deals` (open deals scored as of as_of) and `forecast_arr` (ending ARR per node and quarter,
see services/forecast/arr.py).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from models import bands
from models.winprob import auc, expected_calibration_error
from services import db, registry
from services.forecast import accuracy, deal_novelty
from services.forecast import arr as fa
from services.forecast import backtest as bt
from services.forecast import blend as fb
from services.forecast import data as fd
from services.forecast import engine as fe
from services.forecast import mix as forecast_mix
from services.forecast import tables as T
from services.gates import Gate

log = logging.getLogger(__name__)
MODEL = T.MODEL


def run(engine: Engine, version: registry.Version, run_inputs: Any = None) -> tuple[dict, dict]:
    as_of = pd.Timestamp(version.as_of).normalize()
    data = fd.load(engine)
    hf = fd._history_features(data.hist)
    tree = fe.build_tree(data.people, sorted(data.opps.product_id.unique()))
    commits = db.read_table("commits", engine) if db.table_exists("commits", engine) else pd.DataFrame()
    bt_nodes, bt_deals = bt.run(data, hf, tree, as_of, commits)
    metrics = score(bt_nodes, bt_deals)
    wp = fe.train_winprob(data, hf, as_of)
    ended = bt_nodes.assign(target_end=data.cal.periods(bt_nodes.quarter).end_time)
    scored, decided = bands.scores(ended), fb.decision_rows(ended)
    metrics["blend"] = fb.summary(decided, as_of, bt.HORIZONS)
    live, deals, paths, states = [], None, [], {}
    for origin in (as_of - pd.Timedelta(days=7), as_of):
        paths = []
        week = int((origin - data.cal.start(as_of)).days // 7)  # weeks into the as-of's quarter
        choice = fb.for_origin(decided, origin, max(week, 0), bt.HORIZONS)
        nodes, d = fe.forecast_at(data, hf, tree, origin, wp, bt.window_start(data), quarters=bt.HORIZONS,
                                  paths_out=paths, states=states, blend=choice)
        nodes = nodes.assign(level=np.tile(tree.levels, bt.HORIZONS), week=week)
        live.append(bands.apply(nodes, scored, origin, week, tree.band_fallback).assign(kind="live"))
        deals = d
    metrics["blend_live"] = {fb.HORIZON_NAMES[h]: {k: c[k] for k in ("stage_weight", "fresh_factor", "bucket",
                                                                    "source")} for h, c in choice.items()}
    nodes = pd.concat([*live, bt_nodes.assign(kind="backtest")], ignore_index=True).drop(columns="level")
    metrics["coherence_max_abs_gap_usd"] = coherence_gap(nodes)
    registry.write_results(engine, T.NODES, nodes, version)
    registry.write_results(engine, T.DEALS, deals[T.DEALS.column_names], version)
    mix = forecast_mix.flags(tree, bt_deals, deals, data.cal.key(as_of))  # services/forecast/mix.py
    registry.write_results(engine, T.MIX, mix, version)
    metrics["nodes_unusual_mix"] = int(mix.unusual.sum())
    novel_deals = deal_novelty.flags(bt_deals, deals)  # services/forecast/deal_novelty.py
    registry.write_results(engine, T.DEAL_NOVELTY, novel_deals, version)
    metrics["share_novel_deals"] = float(novel_deals.novel.mean()) if len(novel_deals) else 0.0
    arr, arr_info = fa.ending_arr(fa.load_subscriptions(engine), data.churn, tree, as_of, paths, cal=data.cal)
    registry.write_results(engine, T.ARR, arr, version)
    metrics.update(arr_info)
    metrics.update(fa.backtest(fa.load_subscriptions(engine), data.churn, bt_nodes[bt_nodes.h == 0], cal=data.cal))
    now = nodes[(nodes.kind == "live") & (nodes.origin_date == as_of) & (nodes.role == "cro")
                & (nodes.product_id == fe.ALL)]
    log.info("forecast for %s: P50 %.0f", now.quarter.tolist(), now.p50_usd.sum())
    # the run-rate model (MLForecast holds functions) is refitted every run and never loaded: not stored
    return metrics, {"winprob": wp}


def score(nodes: pd.DataFrame, deals: pd.DataFrame) -> dict:
    """The accuracy report, headline figures for the gate (company, region, rep at week 0 of the
    current quarter) and the win-probability scores on the backtest's open deals."""
    rep = accuracy.report(nodes)
    m: dict = {"backtest_origin_quarters": sorted(nodes.loc[nodes.h == 0, "quarter"].unique()),
               "backtest_weeks": sorted(int(w) for w in nodes.week.unique()), **rep}
    w0 = rep["accuracy"].get("current_quarter", {}).get("week_00", {})
    for level in ("company", "region", "rep"):
        m[f"wape_{level}"] = w0.get(level, {}).get("model", {}).get("wape")
    d = deals[deals.h == 0]
    m["win_prob_auc"] = auc(d.won_in_quarter, d.p_win)
    m["win_prob_auc_model"] = auc(d.won_in_quarter, d.p_model)  # the LightGBM probability alone
    m["win_prob_auc_stage"] = auc(d.won_in_quarter, d.p_stage)  # the stage conversion alone (blend w = 1)
    m["win_prob_ece"] = expected_calibration_error(d.won_in_quarter, d.p_win)
    m["win_prob_rows"] = len(d)
    return m


def coherence_gap(nodes: pd.DataFrame) -> float:
    """Largest |parent - sum of children| of p50_usd, over the hierarchy and over products vs ALL."""
    key = ["kind", "origin_date", "week", "quarter"]
    n = nodes.copy()
    n["week"] = n["week"].fillna(-1)
    tot = n[n.product_id == fe.ALL].set_index([*key, "person_id"])["p50_usd"]
    kids = n[(n.product_id == fe.ALL) & n.parent_id.notna()].groupby([*key, "parent_id"])["p50_usd"].sum()
    kids.index = kids.index.set_names([*key, "person_id"])
    gap_tree = (tot.reindex(kids.index) - kids).abs().max()
    by_prod = n[n.product_id != fe.ALL].groupby([*key, "person_id"])["p50_usd"].sum()
    gap_prod = (tot.reindex(by_prod.index) - by_prod).abs().max()
    return float(max(gap_tree, gap_prod))


# the quality gate: company WAPE may rise at most 0.02 + 50% of the active version's
GATES = (Gate("wape_company", higher_is_better=False, max_worse=0.02, max_worse_relative=0.5),)
