"""Ending ARR per node (person x product, incl. ALL) and quarter: current ARR, renewals weighted by the
churn model, plus new and expansion bookings, simulated together so P10/P50/P90 come from one set of paths.

- Current ARR: subscriptions running at as_of, on the account owner's leaf (rep x product).
- Renewals: every subscription whose term ends in a forecast quarter either renews at the historical
  renewal ratio (price uplift and quantity cuts, from renewals in the last year) or churns. The chance
  it churns is the active churn model's 180-day probability for the account when the renewal falls
  within 180 days of the latest score, else the historical churn rate at renewal (`renewal_source`).
- Bookings: the forecast's not-yet-closed bookings paths per node (new + expansion amounts are ARR).
P50 is the mean of the paths, so children add up to their parent exactly, as for bookings.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from models.simulate import leaf_paths, summarize
from services import db, fiscal
from services.forecast.engine import Tree, _per_leaf

log = logging.getLogger(__name__)
CHURN_HORIZON_DAYS = 180
RENEWAL_TERM_MIN_DAYS = 300  # a successor running this long is a renewal, shorter ones are amendments


def load_subscriptions(engine: Engine) -> pd.DataFrame:
    """Subscriptions with the account owner (the rep whose ARR it is)."""
    subs = db.read_table("subscriptions", engine)
    owners = db.read_table("accounts", engine, columns=["account_id", "owner_id"])
    return subs.merge(owners, on="account_id", how="left")


def renewal_history(subs: pd.DataFrame, as_of: pd.Timestamp, days: int = 365) -> dict[str, float]:
    """Churn rate at renewal (share of ARR not renewed) and the renewed/previous ARR ratio, over the
    subscriptions whose term ended in the `days` before as_of (amended ones left out).

    Measured per account, product and end date, so co-termed add-on lines (expansions that renew nothing)
    count as renewed when the product's renewal starts on their end date."""
    ended = subs[(subs.end_date <= as_of) & (subs.end_date > as_of - pd.Timedelta(days=days))]
    succ = subs[subs.renewal_of.notna()]
    term = (succ.end_date - succ.start_date).dt.days
    amended = set(succ.loc[term < RENEWAL_TERM_MIN_DAYS, "renewal_of"])
    ended = ended[~ended.subscription_id.isin(amended)]
    if ended.empty or ended.arr_usd.sum() <= 0:
        raise ValueError(f"no subscription terms ended in the {days} days before {as_of.date()}: "
                         "cannot measure the renewal rate")
    renewals = succ[term >= RENEWAL_TERM_MIN_DAYS]
    key = ["account_id", "product_id", "day"]
    ended_k = ended.assign(day=ended.end_date)
    linked = renewals.merge(ended_k[["subscription_id", *key]], left_on="renewal_of", right_on="subscription_id",
                            suffixes=("", "_ended"))[["subscription_id", *key]]
    starting = renewals.assign(day=renewals.start_date)[["subscription_id", *key]]
    successors = pd.concat([linked, starting]).drop_duplicates("subscription_id")
    successors = successors.merge(renewals[["subscription_id", "arr_usd"]], on="subscription_id")
    prev = ended_k.groupby(key).arr_usd.sum()
    renewed_arr = successors.groupby(key).arr_usd.sum().reindex(prev.index).dropna()
    kept = prev.loc[renewed_arr.index].sum()
    churn_rate = 1 - kept / prev.sum()
    ratio = renewed_arr.sum() / kept if kept > 0 else 1.0
    return {"churn_rate_at_renewal": float(churn_rate), "renewal_arr_ratio": float(ratio),
            "renewals_measured": len(ended)}


def churn_probabilities(renewing: pd.DataFrame, churn: pd.DataFrame, as_of: pd.Timestamp,
                        fallback: float) -> tuple[np.ndarray, np.ndarray]:
    """Per renewing subscription: churn probability and its source ('churn_model' or 'historical_rate')."""
    p = np.full(len(renewing), fallback)
    src = np.full(len(renewing), "historical_rate", dtype=object)
    if churn is None or churn.empty:
        return p, src
    c = churn[pd.to_datetime(churn.score_date) <= as_of]
    if c.empty:
        return p, src
    latest = c.sort_values("score_date").groupby("account_id").last()
    score_date = renewing.account_id.map(pd.to_datetime(latest["score_date"]))
    prob = renewing.account_id.map(latest["probability"])
    use = (prob.notna() & ((renewing.end_date - score_date).dt.days <= CHURN_HORIZON_DAYS)).to_numpy()
    p[use] = prob.to_numpy(float)[use]
    src[use] = "churn_model"
    return p, src


def ending_arr(subs: pd.DataFrame, churn: pd.DataFrame, tree: Tree, as_of: pd.Timestamp,
               bookings_paths: list[np.ndarray], seed: int = 0, *,
               cal: fiscal.FiscalCalendar) -> tuple[pd.DataFrame, dict]:
    """Ending ARR per node for each quarter that `bookings_paths` covers (as_of's quarter first).

    bookings_paths[h] is the (n_nodes, n_paths) matrix of not-yet-closed bookings in quarter h."""
    as_of = pd.Timestamp(as_of).normalize()
    if not bookings_paths:
        raise ValueError("ending ARR needs the bookings paths of at least one quarter")
    hist = renewal_history(subs, as_of)
    running = subs[(subs.start_date <= as_of) & (subs.end_date > as_of)].reset_index(drop=True)
    leaf = tree.leaf_index(running.owner_id, running.product_id)
    if (leaf < 0).any():
        log.warning("ending ARR: %.1f%% of current ARR sits outside the sales tree and is left out",
                    100 * running.arr_usd[leaf < 0].sum() / max(running.arr_usd.sum(), 1.0))
    running, leaf = running[leaf >= 0].reset_index(drop=True), leaf[leaf >= 0]
    p, src = churn_probabilities(running, churn, as_of, hist["churn_rate_at_renewal"])
    n_leaves, n_paths = len(tree.leaves), bookings_paths[0].shape[1]
    start_node = tree.membership @ _per_leaf(tree, running.owner_id, running.product_id, running.arr_usd)
    cum = np.repeat(start_node[:, None], n_paths, axis=1)
    q0, ratio, out = cal.quarter(as_of), hist["renewal_arr_ratio"], []
    lo = as_of
    for h, book in enumerate(bookings_paths):
        hi = cal.end(q0 + h)
        r = ((running.end_date > lo) & (running.end_date <= hi)).to_numpy()
        arr = running.arr_usd.to_numpy()[r]
        renew = leaf_paths(n_leaves, leaf[r], -arr * ratio, p[r], np.zeros(n_leaves), [], n_paths=n_paths,
                           seed=seed + 100 + h)
        renew += np.bincount(leaf[r], weights=arr * (ratio - 1), minlength=n_leaves)[:, None]
        cum = cum + tree.membership @ renew + book
        s = summarize(cum)
        out.append(tree.nodes.assign(
            quarter=str(q0 + h), origin_date=as_of, starting_arr_usd=start_node,
            renewing_arr_usd=tree.membership @ np.bincount(leaf[r], weights=arr, minlength=n_leaves),
            expected_churned_arr_usd=tree.membership @ np.bincount(leaf[r], weights=arr * p[r], minlength=n_leaves),
            bookings_expected_usd=book.mean(1), p10_usd=s["p10"].to_numpy(), p50_usd=s["mean"].to_numpy(),
            p90_usd=s["p90"].to_numpy(),
            renewal_source="churn_model" if r.any() and (src[r] == "churn_model").all()
            else "mixed" if (src[r] == "churn_model").any() else "historical_rate"))
        lo = hi
    renewing = (running.end_date <= lo).to_numpy()
    model_share = float(running.arr_usd[renewing & (src == "churn_model")].sum()
                        / max(running.arr_usd[renewing].sum(), 1.0))
    info = {**hist, "ending_arr_churn_model_share": model_share,
            "ending_arr_source": "churn_model" if model_share > 0 else "historical_rate"}
    return pd.concat(out, ignore_index=True), info


def arr_at(subs: pd.DataFrame, day: pd.Timestamp) -> float:
    """ARR of the subscriptions running on `day`."""
    return float(subs.loc[(subs.start_date <= day) & (subs.end_date > day), "arr_usd"].sum())


def backtest(subs: pd.DataFrame, churn: pd.DataFrame, bt_nodes: pd.DataFrame, trend_quarters: int = 4, *,
             cal: fiscal.FiscalCalendar) -> dict:
    """Company ending ARR forecast at the start of each backtest quarter (expected value: ARR running the
    day before + expected renewal change + the week-0 bookings P50) against the ARR running on the
    quarter's last day. Renewals use the churn scores dated on or before the origin (the scores of the
    time: `churn_probabilities` cuts them at the origin). Two baselines: flat (the ARR the day before)
    and trend (flat + the average net new ARR of the `trend_quarters` quarters before). Quarters without
    a year of renewals before them are skipped."""
    rows = []
    company = bt_nodes[(bt_nodes.role == "cro") & (bt_nodes.product_id == "ALL") & (bt_nodes.week == 0)]
    first = subs.start_date.min()
    for quarter, bookings in company.groupby("quarter")["p50_usd"].first().items():
        q = cal.period(quarter)
        origin, end = cal.start(q) - pd.Timedelta(days=1), cal.end(q)
        try:
            hist = renewal_history(subs, origin)
        except ValueError:
            continue
        running = subs[(subs.start_date <= origin) & (subs.end_date > origin)]
        renewing = running[running.end_date <= end]
        p, src = churn_probabilities(renewing, churn, origin, hist["churn_rate_at_renewal"])
        arr = renewing.arr_usd.to_numpy()
        change = float((arr * (hist["renewal_arr_ratio"] * (1 - p) - 1)).sum())
        ends = [(q - k).start_time.normalize() - pd.Timedelta(days=1) for k in range(trend_quarters + 1)]
        ends = [e for e in ends if e >= first]
        levels = [arr_at(subs, e) for e in ends]
        net_new = float(np.mean(-np.diff(levels))) if len(levels) > 1 else 0.0
        rows.append((running.arr_usd.sum(), running.arr_usd.sum() + change + bookings, arr_at(subs, end),
                     float((src == "churn_model").mean()) if len(src) else 0.0, running.arr_usd.sum() + net_new))
    if not rows:
        return {}
    start, pred, actual, share, trend = (np.array(c, float) for c in zip(*rows))
    return {"arr_wape_company": float(np.abs(pred - actual).sum() / actual.sum()),
            "arr_wape_company_flat": float(np.abs(start - actual).sum() / actual.sum()),
            "arr_wape_company_trend": float(np.abs(trend - actual).sum() / actual.sum()),
            "arr_backtest_quarters": len(rows), "arr_backtest_churn_model_share": float(share.mean())}
