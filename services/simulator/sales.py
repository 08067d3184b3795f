"""Opportunities, their stage histories with slips, and the sales team's commits and quotas."""
from __future__ import annotations

import numpy as np
import pandas as pd

from services.fiscal import CALENDAR, FiscalCalendar

STAGES = np.array(["Qualify", "Discover", "Propose", "Negotiate", "Closed Won", "Closed Lost"])
STAGE_PROBABILITY = [0.1, 0.25, 0.5, 0.75, 1.0, 0.0]  # the CRM's default probability per stage
CATEGORIES = ["pipeline", "best_case", "commit", "closed", "omitted"]
CATEGORY_CODE_OF_STAGE = np.array([0, 0, 1, 2, 3, 3])
TYPES = np.array(["new", "expansion", "renewal"])
CYCLE_DAYS = np.array([40.0, 75.0, 140.0])  # new business, by segment
LOST_PER_WON = {"new_logo": 1.8, "cross_sell": 1.0, "expansion": 0.4}


def stages_frame() -> pd.DataFrame:
    """The demo's stage picklist (the `stages` table): four open stages, then won and lost."""
    return pd.DataFrame({"stage": STAGES, "stage_order": np.arange(len(STAGES)),
                         "is_closed": np.arange(len(STAGES)) >= 4, "is_won": np.arange(len(STAGES)) == 4,
                         "default_probability": STAGE_PROBABILITY})


def add_lost_deals(rng, deals: dict, acc: dict) -> tuple[dict, pd.DataFrame]:
    """Lost deals beside the won ones: new logos lost to prospects, cross-sells and expansions lost."""
    won_new_logo = deals["won"] & deals["new_logo"] & (deals["type"] == 0)
    parts = [deals]
    # new-logo losses create prospect accounts (no subscription)
    src = np.flatnonzero(won_new_logo)
    reps = np.repeat(src, rng.poisson(LOST_PER_WON["new_logo"], len(src)))
    n_pro = len(reps)
    pro_idx = acc["n"] + np.arange(n_pro)
    prospects = {"src": deals["acct"][reps], "idx": pro_idx}
    parts.append(_lost(deals, reps, rng, acct=pro_idx, shift=rng.integers(-120, 120, n_pro)))
    for key, kind, new_logo in (("cross_sell", 0, False), ("expansion", 1, False)):
        src = np.flatnonzero(deals["won"] & (deals["type"] == kind) & (deals["new_logo"] == new_logo))
        reps = np.repeat(src, rng.poisson(LOST_PER_WON[key], len(src)))
        parts.append(_lost(deals, reps, rng, acct=deals["acct"][reps], shift=-rng.integers(30, 300, len(reps))))
    out = {k: np.concatenate([p[k] for p in parts]) for k in deals}
    return out, pd.DataFrame(prospects)


def _lost(deals, rows, rng, acct, shift):
    d = {k: v[rows].copy() for k, v in deals.items()}
    d["acct"] = acct
    d["close"] = d["close"] + shift
    d["won"] = np.zeros(len(rows), bool)
    d["amount"] = d["amount"] * rng.lognormal(0, 0.3, len(rows))
    return d


def opportunities(rng, deals: dict, segment: np.ndarray, window_start: int, as_of: int):
    """Build opportunities and their history as seen at as_of. Returns (opportunities, history, kept ids)."""
    n = len(deals["acct"])
    seg = segment[deals["acct"]]
    typ = deals["type"]
    cycle = CYCLE_DAYS[seg] * rng.lognormal(0, 0.35, n) * np.where(typ == 1, 0.6, 1.0)
    cycle = np.where(typ == 2, 90.0, cycle).astype(np.int64) + 7
    close = deals["close"].astype(np.int64)
    created = close - cycle
    # only deals created inside the window (and by as_of) become opportunities
    sub = np.flatnonzero((created >= window_start) & (created <= as_of))
    deals = {k: v[sub] for k, v in deals.items()}
    typ, close, created, cycle, n = typ[sub], close[sub], created[sub], cycle[sub], len(sub)
    keep = np.ones(n, dtype=bool)
    won = deals["won"]
    max_stage = np.where(won, 3, rng.choice(4, size=n, p=[0.35, 0.30, 0.20, 0.15]))
    max_stage = np.where((typ == 2) & ~won, np.maximum(max_stage, 2), max_stage)
    pushes = np.minimum(rng.poisson(np.where(won, 0.4, 0.9)), 3)
    gaps = rng.integers(15, 45, size=(n, 3)) * (np.arange(3) < pushes[:, None])
    first_close = close - gaps.sum(1)
    bad = first_close < created + 7
    pushes = np.where(bad, 0, pushes)
    gaps = np.where(bad[:, None], 0, gaps)
    first_close = np.where(bad, close, first_close)
    amount = deals["amount"]
    changed = rng.random(n) < 0.25
    first_amount = np.where(changed, amount * rng.uniform(0.7, 1.3, n), amount)
    omitted = rng.random(n) < 0.05

    ev_opp, ev_day, ev_stage, ev_amount, ev_close = [], [], [], [], []

    def add(o, d, stage=None, amt=None, cl=None):
        ev_opp.append(o); ev_day.append(d)
        ev_stage.append(np.full(len(o), -1) if stage is None else stage)
        ev_amount.append(np.full(len(o), np.nan) if amt is None else amt)
        ev_close.append(np.full(len(o), -1) if cl is None else cl)

    ids = np.arange(n)
    add(ids, created, np.zeros(n, int), first_amount, first_close)
    frac = np.sort(rng.uniform(0.05, 0.95, size=(n, 3)), axis=1)
    for s in (1, 2, 3):
        o = ids[max_stage >= s]
        add(o, created[o] + (frac[o, s - 1] * cycle[o]).astype(np.int64), np.full(len(o), s))
    bounds = first_close
    for i in range(3):
        o = ids[pushes > i]
        new_close = bounds[o] + gaps[o, i]
        add(o, np.maximum(created[o] + 1, bounds[o] - rng.integers(0, 7, len(o))), cl=new_close)
        bounds = bounds.copy(); bounds[o] = new_close
    o = ids[changed]
    add(o, created[o] + (rng.uniform(0.1, 0.9, len(o)) * cycle[o]).astype(np.int64), amt=amount[o])
    add(ids, close, np.where(won, 4, 5), amount, close)

    opp_a, day_a = np.concatenate(ev_opp), np.concatenate(ev_day)
    day_a = np.minimum(day_a, close[opp_a])
    sel = keep[opp_a] & (day_a <= as_of)
    order = np.lexsort((day_a[sel], opp_a[sel]))  # stable: the creation row leads each deal
    opp_a, day_a = opp_a[sel][order], day_a[sel][order]
    # every deal's first row carries all fields, so a plain forward fill never crosses deals
    stage_a = _ffill(np.concatenate(ev_stage)[sel][order], np.concatenate(ev_stage)[sel][order] >= 0)
    close_a = _ffill(np.concatenate(ev_close)[sel][order], np.concatenate(ev_close)[sel][order] >= 0)
    amount_raw = np.concatenate(ev_amount)[sel][order]
    amount_a = _ffill(amount_raw, ~np.isnan(amount_raw))
    last_of_day = np.r_[(opp_a[1:] != opp_a[:-1]) | (day_a[1:] != day_a[:-1]), True]
    ev = pd.DataFrame({"opp": opp_a, "day": day_a, "stage": stage_a.astype(int), "amount": amount_a,
                       "close": close_a.astype(np.int64)})[last_of_day].reset_index(drop=True)
    # categorical codes, not strings: millions of history rows at 100k accounts
    cat = np.where(omitted[ev["opp"].to_numpy()] & (ev["stage"] < 2), len(CATEGORIES) - 1,
                   CATEGORY_CODE_OF_STAGE[ev["stage"].to_numpy()])
    ev["category"] = pd.Categorical.from_codes(cat, categories=CATEGORIES)

    last = ev[np.r_[ev["opp"].to_numpy()[1:] != ev["opp"].to_numpy()[:-1], True]].set_index("opp")
    visible = last.index.to_numpy()
    opp = pd.DataFrame({
        "idx": sub[visible],
        "acct": deals["acct"][visible],
        "product": deals["prod"][visible],
        "type": TYPES[typ[visible]],
        "amount_usd": last["amount"].to_numpy(),
        "created_day": created[visible],
        "close_day": last["close"].to_numpy(),
        "stage": STAGES[last["stage"].to_numpy()],
        "forecast_category": last["category"].to_numpy(),
        "is_closed": last["stage"].to_numpy() >= 4,
        "is_won": last["stage"].to_numpy() == 4,
    })
    hist = ev.rename(columns={"amount": "amount_usd", "close": "close_day", "category": "forecast_category"})
    hist["opp"] = sub[hist["opp"].to_numpy()]
    hist["stage"] = pd.Categorical.from_codes(hist["stage"].to_numpy(), categories=STAGES)
    return opp, hist, sub


def _ffill(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    idx = np.maximum.accumulate(np.where(valid, np.arange(len(values)), 0))
    return values[idx]


def commits_and_quotas(rng, people: pd.DataFrame, expected_rep_q: pd.DataFrame, as_of: pd.Timestamp,
                       cal: FiscalCalendar = CALENDAR):
    """Quarterly commits with planted per-person biases, and quotas, for every sales leader and rep (keyed
    by the company's fiscal quarters, `cal`)."""
    sales = people[people.role.isin(["rep", "manager", "regional_vp", "cro"])]
    parent = dict(zip(people.person_id, people.manager_id))
    rows = []
    for rep, q, e in expected_rep_q[["owner_id", "quarter", "expected_bookings_usd"]].itertuples(index=False):
        p = rep
        while p is not None and isinstance(p, str):
            rows.append((p, q, e))
            p = parent.get(p)
    tree = pd.DataFrame(rows, columns=["person_id", "quarter", "expected"]).groupby(
        ["person_id", "quarter"], as_index=False)["expected"].sum()
    tree = tree[tree.person_id.isin(sales.person_id)]
    bias_of = dict(zip(sales.person_id, rng.choice([0.80, 1.0, 1.20], size=len(sales), p=[0.3, 0.5, 0.2])
                       * rng.lognormal(0, 0.03, len(sales))))
    bias = tree.person_id.map(bias_of).to_numpy()
    noise = np.where(tree.person_id.map(dict(zip(people.person_id, people.role))) == "rep", 0.15, 0.06)
    commits = pd.DataFrame({
        "person_id": tree.person_id,
        "quarter": tree.quarter,
        "amount_usd": np.round(tree.expected * bias * rng.lognormal(0, noise), -2),
        "submitted_at": cal.periods(tree.quarter).start_time + pd.Timedelta(days=10, hours=9),
    })
    commits = commits[commits.submitted_at <= as_of].reset_index(drop=True)
    quotas = pd.DataFrame({"person_id": tree.person_id, "quarter": tree.quarter,
                           "amount_usd": np.round(tree.expected * 1.1, -3)}).reset_index(drop=True)
    bias_frame = pd.DataFrame({"person_id": list(bias_of), "commit_bias": list(bias_of.values())})
    return commits, quotas, bias_frame
