"""Training job for the bookings forecast: rolling-origin backtest, then the live forecast.

Backtest: for each of the last 6 complete quarters the models are fitted on data before the quarter's
start and the quarter is forecast as of weeks 0, 1, 4, 6 and 8 (weeks 0 and 6 are scored; 1, 4, 8 feed
the track record). Live: fitted as of `version.as_of`, forecasts for this quarter and the next two, as
of `as_of` and of a week earlier (for "change since last week").
Tables: `forecast_nodes` (one row per origin, quarter, person and product incl. ALL),
`forecast_deals` (open deals scored as of as_of) and `forecast_arr` (ending ARR per node and quarter,
see services/forecast_arr.py). Run-rate intervals are cross-conformal: each backtest quarter's factors
come from the run-rate errors of the other backtest quarters; the live forecast uses all of them.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from models.forecast import seasonal_naive, wape
from models.winprob import auc, expected_calibration_error
from services import db, registry
from services.forecast import arr as fa
from services.forecast import data as fd
from services.forecast import engine as fe
from services.forecast import tables as T
from services.gates import Gate

log = logging.getLogger(__name__)
MODEL = T.MODEL
BACKTEST_QUARTERS = 6
BACKTEST_WEEKS = (0, 1, 4, 6, 8)
SCORED_WEEKS = (0, 6)
MIN_HISTORY_MONTHS = 9
LEVELS = {"company": "cro", "region": "regional_vp", "rep": "rep"}
DEAL_COLUMNS = ["opportunity_id", "account_id", "owner_id", "product_id", "type", "stage", "amount_usd",
                "close_date", "created_date", "pushes", "target_quarter", "h", "p_win", "contribution_usd"]


def run(engine: Engine, version: registry.Version, run_inputs: Any = None) -> tuple[dict, dict]:
    as_of = pd.Timestamp(version.as_of).normalize()
    data = fd.load(engine)
    hf = fd._history_features(data.hist)
    tree = fe.build_tree(data.people, sorted(data.opps.product_id.unique()))
    bt_nodes, bt_deals = backtest(data, hf, tree, as_of)
    metrics = score(engine, data, tree, bt_nodes, bt_deals)
    wp = fe.train_winprob(data, hf, as_of)
    qs = fd.quarter_start(as_of)
    rr = fe.train_runrate(data, qs)
    factors = fe.runrate_factors(bt_nodes.attrs["runrate_checks"], tree.levels)
    metrics["runrate_interval"] = "conformal" if factors else "compound_poisson"
    live, deals, paths = [], None, []
    for origin in (as_of - pd.Timedelta(days=7), as_of):
        paths = []
        nodes, d = fe.forecast_at(data, hf, tree, origin, wp, rr, qs, quarters=3, rr_factors=factors,
                                  paths_out=paths)
        live.append(nodes.assign(kind="live", week=int((origin - qs).days // 7)))
        deals = d
    nodes = pd.concat([*live, bt_nodes.assign(kind="backtest")], ignore_index=True)
    metrics["coherence_max_abs_gap_usd"] = coherence_gap(nodes)
    registry.write_results(engine, T.NODES, nodes, version)
    registry.write_results(engine, T.DEALS, deals[T.DEALS.column_names], version)
    arr, arr_info = fa.ending_arr(fa.load_subscriptions(engine), data.churn, tree, as_of, paths)
    registry.write_results(engine, T.ARR, arr, version)
    metrics.update(arr_info)
    metrics.update(fa.backtest(fa.load_subscriptions(engine), data.churn, bt_nodes))
    now = nodes[(nodes.kind == "live") & (nodes.origin_date == as_of) & (nodes.role == "cro")
                & (nodes.product_id == fe.ALL)]
    log.info("forecast for %s: P50 %.0f", now.quarter.tolist(), now.p50_usd.sum())
    # the run-rate model (MLForecast holds functions) is refitted every run and never loaded: not stored
    return metrics, {"winprob": wp}


def backtest(data: fd.SalesData, hf: pd.DataFrame, tree: fe.Tree, as_of: pd.Timestamp,
             quarters: int = BACKTEST_QUARTERS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node forecasts and scored deals at each backtest origin, with actual bookings attached."""
    last_done = pd.Period(as_of, "Q") - 1
    if (as_of + pd.Timedelta(days=1)).to_period("Q") != pd.Period(as_of, "Q"):
        last_done = pd.Period(as_of, "Q")  # as_of is a quarter's last day: that quarter is complete
    first = data.hist["snapshot_date"].min() + pd.DateOffset(months=MIN_HISTORY_MONTHS)
    chosen = [q for q in (last_done - k for k in range(quarters - 1, -1, -1)) if q.start_time >= first]
    if not chosen:
        raise ValueError(f"too little history to backtest: need {MIN_HISTORY_MONTHS} months before a quarter")
    if len(chosen) < quarters:
        log.warning("only %d of %d backtest quarters have %d months of history before them", len(chosen),
                    quarters, MIN_HISTORY_MONTHS)
    fitted, checks = {}, []
    for q in chosen:  # first pass: models per quarter and the run-rate's conformity scores
        qs = q.start_time.normalize()
        fitted[q] = (fe.train_winprob(data, hf, qs), fe.train_runrate(data, qs))
        checks += [fe.runrate_check(data, tree, fitted[q][1], qs, qs + pd.Timedelta(days=7 * w))
                   for w in BACKTEST_WEEKS]
    checks = pd.concat(checks, ignore_index=True)
    node_parts, deal_parts = [], []
    for q in chosen:  # second pass: forecasts, intervals calibrated on the other quarters (cross-conformal)
        qs, qe = q.start_time.normalize(), q.end_time.normalize()
        wp, rr = fitted[q]
        factors = fe.runrate_factors(checks, tree.levels, exclude_quarter=str(q))
        actual = fd.bookings(data, qs, qe)
        act_node = tree.membership @ fe._per_leaf(tree, actual.owner_id, actual.product_id, actual.amount_usd)
        for week in BACKTEST_WEEKS:
            nodes, deals = fe.forecast_at(data, hf, tree, qs + pd.Timedelta(days=7 * week), wp, rr, qs,
                                          rr_factors=factors)
            node_parts.append(nodes.assign(week=week, actual_usd=act_node))
            if week in SCORED_WEEKS:
                deals = deals.assign(week=week, won_in_quarter=fd.label(deals, data.opps).to_numpy())
                deal_parts.append(deals)
        log.info("backtest %s done", q)
    nodes = pd.concat(node_parts, ignore_index=True)
    nodes.attrs["runrate_checks"] = checks
    return nodes, pd.concat(deal_parts, ignore_index=True)


def baselines(data: fd.SalesData, tree: fe.Tree, quarter: pd.Period) -> pd.DataFrame:
    """Per node (ALL products): seasonal naive (statsforecast, season of 3 months: last quarter's
    monthly pattern) and same quarter last year, from bookings before the quarter starts."""
    qs = quarter.start_time.normalize()
    w = data.won[data.won.close_date < qs]
    reps = tree.leaves.owner_id.unique()
    months = pd.period_range(w.close_date.min().to_period("M"), pd.Period(qs, "M") - 1, freq="M")
    grid = pd.MultiIndex.from_product([reps, months], names=["unique_id", "m"])
    y = w.assign(m=w.close_date.dt.to_period("M")).groupby(["owner_id", "m"])["amount_usd"].sum()
    y.index.names = ["unique_id", "m"]
    series = y.reindex(grid, fill_value=0.0).reset_index(name="y")
    series["ds"] = series.pop("m").dt.to_timestamp()
    sn = seasonal_naive(series, horizon=3, season_length=3).groupby("unique_id")["y_hat"].sum()
    ly = fd.bookings(data, (quarter - 4).start_time.normalize(), (quarter - 4).end_time.normalize())
    ly = ly.groupby("owner_id")["amount_usd"].sum()
    all_nodes = tree.nodes.product_id == fe.ALL
    leaf_rep = tree.leaves.owner_id
    sn_leaf = np.where(tree.leaves.product_id == tree.leaves.product_id.iloc[0], leaf_rep.map(sn).fillna(0), 0)
    ly_leaf = np.where(tree.leaves.product_id == tree.leaves.product_id.iloc[0], leaf_rep.map(ly).fillna(0), 0)
    return tree.nodes[all_nodes].assign(
        quarter=str(quarter), seasonal_naive=(tree.membership @ sn_leaf)[all_nodes.to_numpy()],
        same_quarter_last_year=(tree.membership @ ly_leaf)[all_nodes.to_numpy()])


def score(engine: Engine, data: fd.SalesData, tree: fe.Tree, nodes: pd.DataFrame,
          deals: pd.DataFrame) -> dict:
    scored = nodes[nodes.week.isin(SCORED_WEEKS) & (nodes.product_id == fe.ALL)]
    quarters = sorted(scored.quarter.unique())
    base = pd.concat([baselines(data, tree, pd.Period(q, "Q")) for q in quarters], ignore_index=True)
    scored = scored.merge(base[["person_id", "quarter", "seasonal_naive", "same_quarter_last_year"]],
                          on=["person_id", "quarter"], how="left")
    commits = db.read_table("commits", engine)
    if not commits.empty:
        commits = commits.sort_values("submitted_at").groupby(["person_id", "quarter"])["amount_usd"].last()
        scored = scored.join(commits.rename("commit_usd"), on=["person_id", "quarter"])
    else:
        scored["commit_usd"] = np.nan
    m: dict = {"backtest_quarters": quarters, "backtest_weeks": list(SCORED_WEEKS)}
    for level, role in LEVELS.items():
        s = scored[scored.role == role]
        m[f"wape_{level}"] = wape(s.actual_usd, s.p50_usd)
        m[f"wape_{level}_seasonal_naive"] = wape(s.actual_usd, s.seasonal_naive)
        m[f"wape_{level}_same_quarter_last_year"] = wape(s.actual_usd, s.same_quarter_last_year)
        c = s[s.commit_usd.notna()]
        m[f"wape_{level}_commit"] = wape(c.actual_usd, c.commit_usd) if len(c) else None
        m[f"wape_{level}_by_week"] = {int(w): wape(g.actual_usd, g.p50_usd) for w, g in s.groupby("week")}
    inside = (scored.actual_usd >= scored.p10_usd) & (scored.actual_usd <= scored.p90_usd)
    m["coverage_p10_p90"] = float(inside.mean())
    m["coverage_p10_p90_by_level"] = {r: float(inside[scored.role == r].mean()) for r in fe.SALES_ROLES}
    d = deals[deals.h == 0]
    m["win_prob_auc"] = auc(d.won_in_quarter, d.p_win)
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
