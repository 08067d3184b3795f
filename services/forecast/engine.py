"""The forecast at one origin date: closed so far + open deals (win probability) + run-rate, simulated.

Used by the training job for the live forecast and for every rolling-origin backtest point, so the
backtest judges exactly the code that produces the page's numbers.
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from models.simulate import leaf_paths, summarize
from models.winprob import WinProbModel
from services.forecast import baselines as bl
from services.forecast import blend as fb
from services.forecast import data as fd
from services.forecast import fresh

log = logging.getLogger(__name__)
SALES_ROLES = ("cro", "regional_vp", "manager", "rep")
ALL = "ALL"
TRAIN_ROWS_MAX = 250_000


@dataclass
class Tree:
    """Leaves (rep x product), nodes (person x product incl. ALL) and the membership matrix."""

    leaves: pd.DataFrame  # owner_id, product_id
    nodes: pd.DataFrame  # person_id, role, parent_id, product_id
    membership: sparse.csr_matrix  # (n_nodes, n_leaves)

    @property
    def levels(self) -> np.ndarray:
        """Calibration level of each node: its role, and whether it is a by-product node."""
        return (self.nodes.role.astype(str) + np.where(self.nodes.product_id == ALL, "", "|product")).to_numpy()

    @property
    def band_fallback(self) -> dict[str, str]:
        """Each calibration level -> the one below it (company -> region -> manager -> rep)."""
        out = {}
        for suffix in ("", "|product"):
            for upper, lower in itertools.pairwise(SALES_ROLES):
                out[upper + suffix] = lower + suffix
        return out

    def leaf_index(self, owner: pd.Series, product: pd.Series) -> np.ndarray:
        key = pd.MultiIndex.from_frame(self.leaves)
        return key.get_indexer(pd.MultiIndex.from_arrays([owner, product]))


def build_tree(people: pd.DataFrame, products: list[str]) -> Tree:
    sales = people[people["role"].isin(SALES_ROLES)]
    parent = dict(zip(sales.person_id, sales.manager_id))
    reps = sorted(sales.loc[sales.role == "rep", "person_id"])
    leaves = pd.DataFrame([(r, p) for r in reps for p in products], columns=["owner_id", "product_id"])
    rows, cols = [], []
    node_keys = [(pid, prod) for pid in sales.person_id for prod in [ALL, *products]]
    node_pos = {k: i for i, k in enumerate(node_keys)}
    for li, (rep, prod) in enumerate(leaves.itertuples(index=False)):
        p, seen = rep, set()
        while isinstance(p, str) and p in parent and p not in seen:
            seen.add(p)
            for key in ((p, ALL), (p, prod)):
                rows.append(node_pos[key]); cols.append(li)
            p = parent[p]
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(node_keys), len(leaves)))
    role = dict(zip(sales.person_id, sales.role))
    nodes = pd.DataFrame(node_keys, columns=["person_id", "product_id"])
    nodes["role"] = nodes.person_id.map(role)
    nodes["parent_id"] = nodes.person_id.map(lambda x: parent.get(x) if isinstance(parent.get(x), str) else None)
    return Tree(leaves, nodes, m)


def train_winprob(data: fd.SalesData, hist_feats: pd.DataFrame, cutoff: pd.Timestamp,
                  step_days: int = 21, seed: int = 0) -> WinProbModel:
    """Fit on deal states at origins every `step_days` before `cutoff`, labels of quarters ended by then."""
    start = data.hist["snapshot_date"].min() + pd.Timedelta(days=60)
    origins = list(pd.date_range(start, cutoff - pd.Timedelta(days=1), freq=f"{step_days}D"))
    rows = fd.expand_horizons(fd.state_at(data, origins, hist_feats), cal=data.cal)
    end = data.cal.periods(rows["target_quarter"]).end_time.normalize()
    rows = rows[end < cutoff]
    if len(rows) > TRAIN_ROWS_MAX:
        rows = rows.sample(TRAIN_ROWS_MAX, random_state=seed)
    y = fd.label(rows, data.opps, cal=data.cal)
    log.info("win probability: %d training rows from %d origins before %s", len(rows), len(origins), cutoff.date())
    return WinProbModel(random_state=seed).fit(rows[fd.FEATURES], y, groups=rows["origin"].to_numpy())


def size_pools(data: fd.SalesData, tree: Tree, cutoff: pd.Timestamp) -> list[np.ndarray]:
    """Per leaf: amounts of fresh deals (created in their close quarter) won in the 4 quarters before cutoff."""
    w = data.won
    w = w[(w.close_date < cutoff) & (w.close_date >= cutoff - pd.DateOffset(months=12))]
    w = w[data.cal.quarters(w.created_date) == data.cal.quarters(w.close_date)]
    by_prod = {p: g["amount_usd"].to_numpy() for p, g in w.groupby("product_id")}
    allp = w["amount_usd"].to_numpy()
    return [by_prod.get(p, allp) for p in tree.leaves.product_id]


def forecast_at(data: fd.SalesData, hist_feats: pd.DataFrame, tree: Tree, origin: pd.Timestamp,
                wp: WinProbModel, window_start: pd.Timestamp, quarters: int = 1, n_paths: int = 1000,
                seed: int = 0, paths_out: list[np.ndarray] | None = None,
                states: dict | None = None, blend: dict[int, dict] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node forecasts for the origin's quarter and the next `quarters - 1`, and the scored open deals.

    An open deal's win probability is `(1 - w) x p_model + w x p_stage` (`services/forecast/blend.py`):
    the LightGBM model's, and its stage's dollar conversion on the analogous origins
    (`stage_probability`, `baselines.stage_rates`); bookings from deals not yet created (`services/forecast/fresh.py`) are
    multiplied by `fresh_factor`. `blend` gives `{h: {"stage_weight": w, "fresh_factor": f}}` per horizon
    (`blend.choose`, out of time); a horizon it lacks gets `blend.DEFAULT`. The model alone ranks deals
    well but its dollar totals swing by quarter (big deals), the stage conversion is steady but blind
    inside a stage. Open deals are drawn won or not with their win probability; fresh bookings as a
    compound Poisson sum of recent deal sizes per leaf. Column `h` is the target's distance in
    quarters; `model_expected_usd` and `stage_expected_usd` are the open deals' dollars at w = 0 and
    w = 1 (what `blend.choose` scores). `paths_out`, when given, receives the node paths of the
    not-yet-closed bookings per quarter (closed-won excluded), for the ending-ARR simulation."""
    origin = pd.Timestamp(origin).normalize()
    q0 = data.cal.quarter(origin)
    snap = fd.expand_horizons(fd.state_at(data, [origin], hist_feats), quarters, cal=data.cal)
    snap["p_model"] = wp.predict_proba(snap[fd.FEATURES])[:, 1] if len(snap) else np.zeros(0)
    snap["p_stage"] = snap["p_model"]
    states = {} if states is None else states
    choice = {h: {"stage_weight": fb.DEFAULT[0], "fresh_factor": fb.DEFAULT[1], **(blend or {}).get(h, {})}
              for h in range(quarters)}
    for h in range(quarters):
        m = (snap.h == h).to_numpy()
        if not m.any():
            continue
        rates, pairs = bl.stage_rates(data, origin, q0 + h, window_start, states)
        if pairs:  # without analogs there is no stage conversion: the model's alone
            snap.loc[m, "p_stage"] = stage_probability(snap.loc[m], rates)
    w = snap.h.map({h: c["stage_weight"] for h, c in choice.items()}).to_numpy(float)
    snap["p_win"] = (1 - w) * snap["p_model"] + w * snap["p_stage"]
    pools = size_pools(data, tree, origin)
    out = []
    for h in range(quarters):
        q = q0 + h
        qs, qe = data.cal.start(q), data.cal.end(q)
        closed = fd.bookings(data, qs, min(origin, qe)) if h == 0 else fd.bookings(data, qs, qs - pd.Timedelta(1))
        deals = snap[snap.h == h]
        n = len(tree.leaves)
        dl = tree.leaf_index(deals.owner_id, deals.product_id)
        ok = dl >= 0
        rr_leaf = fresh.expected(data, tree.leaves, origin, q, window_start) * choice[h]["fresh_factor"]
        paths = leaf_paths(n, dl[ok], deals.amount_usd.to_numpy()[ok], deals.p_win.to_numpy()[ok],
                           rr_leaf, pools, n_paths=n_paths, seed=seed + h)
        node_paths = tree.membership @ paths
        if paths_out is not None:
            paths_out.append(node_paths)
        closed_leaf = _per_leaf(tree, closed.owner_id, closed.product_id, closed.amount_usd)
        in_q = deals.close_in_target.to_numpy()[ok] == 1
        pipe_leaf = _per_leaf(tree, deals.owner_id[ok][in_q], deals.product_id[ok][in_q], deals.amount_usd[ok][in_q])
        s = summarize(node_paths)
        closed_n = tree.membership @ closed_leaf
        frame = tree.nodes.assign(
            quarter=str(q), origin_date=origin, h=h, closed_won_usd=closed_n,
            open_pipeline_usd=tree.membership @ pipe_leaf,
            pipeline_expected_usd=tree.membership @ _expected_leaf(tree, deals, ok, "p_win"),
            model_expected_usd=tree.membership @ _expected_leaf(tree, deals, ok, "p_model"),
            stage_expected_usd=tree.membership @ _expected_leaf(tree, deals, ok, "p_stage"),
            stage_weight=choice[h]["stage_weight"], fresh_factor=choice[h]["fresh_factor"],
            runrate_usd=tree.membership @ rr_leaf, p10_usd=closed_n + s["p10"].to_numpy(),
            p50_usd=closed_n + s["mean"].to_numpy(), p90_usd=closed_n + s["p90"].to_numpy())
        out.append(frame)
    deals = snap.assign(contribution_usd=snap.amount_usd * snap.p_win)
    return pd.concat(out, ignore_index=True), deals


def stage_probability(deals: pd.DataFrame, rates: dict) -> np.ndarray:
    """Each deal's stage's dollar conversion (`rates`), zero for deals closing outside the target or in a
    stage without a rate: the pipeline method's probability, one per stage (blind inside a stage)."""
    rate = deals.stage.astype(str).map(rates).fillna(0.0).to_numpy(float)
    return rate * (deals.close_in_target.to_numpy() == 1)


def _expected_leaf(tree: Tree, deals: pd.DataFrame, ok: np.ndarray, p: str) -> np.ndarray:
    d = deals[ok]
    return _per_leaf(tree, d.owner_id, d.product_id, d.amount_usd * d[p])


def _per_leaf(tree: Tree, owner, product, amount) -> np.ndarray:
    idx = tree.leaf_index(pd.Series(owner).reset_index(drop=True), pd.Series(product).reset_index(drop=True))
    ok = idx >= 0
    return np.bincount(idx[ok], weights=np.asarray(amount, float)[ok], minlength=len(tree.leaves))
