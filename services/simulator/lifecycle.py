"""Customer lifecycle of the demo company, simulated month by month and vectorised over accounts.

Each customer account moves between planted adoption archetypes (a Markov chain); the archetype
drives usage of every product it owns; usage and support load drive a planted churn hazard at each
annual (co-termed) renewal; customer-success actions on flagged accounts cut that hazard by a planted
effect. Everything is recorded as events; `frames.py` turns events into contract tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import expansion as X
from .accounts import INDUSTRIES
from .catalog import PRODUCTS, feature_ids

ARCHETYPES = ["healthy", "unused_seats", "under_consuming", "shallow", "declining", "expansion_ready"]
H, UNUSED, UNDER, SHALLOW, DECL, EXPAND = range(6)
# Monthly transition probabilities (rows: from, columns: to).
TRANSITIONS = np.array([
    [0.966, 0.004, 0.008, 0.004, 0.009, 0.009],
    [0.035, 0.955, 0.000, 0.000, 0.010, 0.000],
    [0.025, 0.000, 0.965, 0.000, 0.010, 0.000],
    [0.030, 0.000, 0.000, 0.960, 0.010, 0.000],
    [0.000, 0.120, 0.000, 0.000, 0.880, 0.000],
    [0.015, 0.000, 0.000, 0.000, 0.000, 0.985],
])
STATIONARY_START = np.array([0.36, 0.12, 0.16, 0.12, 0.10, 0.14])
ONBOARDING_START = np.array([0.30, 0.20, 0.20, 0.30, 0.0, 0.0])
TARGET_SEAT = np.array([0.85, 0.30, 0.85, 0.80, np.nan, 1.25])
TARGET_VOLUME = np.array([0.85, 0.80, 0.30, 0.80, np.nan, 1.25])
FEATURE_USE_P = np.array([0.93, 0.75, 0.75, np.nan, 0.90, 0.97])
CASE_STATE_MULT = np.array([1.0, 1.8, 1.3, 1.6, 2.5, 0.8])
SEVERE_SHARE = np.array([0.20, 0.30, 0.25, 0.30, 0.45, 0.15])

# The planted churn hazard at a renewal, from behaviour observable 6 months before it.
CHURN_DRIVERS = {
    "seat_activation": "mean seat activation (active users / licensed seats), months -8..-6",
    "usage_trend": "3-month change of seat activation ending month -6",
    "support_load": "severity 1-2 support cases opened in months -11..-6",
    "tenure": "account tenure in years at month -6",
    "price_change": "ARR uplift at the previous renewal",
}
ACTION_EFFECT = 0.40  # relative cut in churn probability after a CSM action on a flagged account
UPLIFTS = np.array([0.0, 0.03, 0.05, 0.08, 0.12])
UPLIFT_P = np.array([0.35, 0.25, 0.20, 0.12, 0.08])
BURN_IN = 12
PAD = 24


def churn_logit(act, trend, severe_cases, tenure_years, price_change):
    """Log-odds of churn at a renewal. Not additive on purpose, as real churn is not: risk climbs
    steeply once seat activation falls below about half, severe support cases hurt most where
    adoption is already weak, and a price rise matters more to young accounts."""
    weak = act < 0.55
    return (-3.5 + 2.0 * (0.65 - act) + 2.5 * np.clip((0.55 - act) / 0.2, 0, 1)
            - 6.0 * trend + severe_cases * np.where(weak, 1.0, 0.35)
            + 1.2 * np.exp(-tenure_years / 1.5) + price_change * np.where(tenure_years < 3, 14.0, 5.0))


@dataclass
class Events:
    subs: list = field(default_factory=list)  # (sub_id, acct, prod, start_day, end_day, arr, qty, renewal_of)
    # end_day is fixed when a subscription starts: no later event rewrites it
    usage: list = field(default_factory=list)  # (acct array, metric_idx, month, value array)
    cases: list = field(default_factory=list)  # (acct, month, severe_count, other_count)
    deals: list = field(default_factory=list)  # (acct, prod, type, close_day, amount, won)
    renewals: list = field(default_factory=list)  # (acct, day, p_churn, churned, acted)
    actions: list = field(default_factory=list)  # (acct, day)
    states: list = field(default_factory=list)  # (month, state array)
    expansion: list = field(default_factory=list)  # (month, acct array, owned (n, K), p_month (n, K))
    expected: list = field(default_factory=list)  # (month, expected usd per owner)


def run(rng, acc, months_total: int, first_future_month: int, drift: str | None) -> tuple[Events, list]:
    """Simulate months -BURN_IN .. months_total-1. `acc` holds per-account arrays (see frames.py)."""
    n = acc["n"]
    created, day = acc["created_month"], acc["day"]
    K = len(PRODUCTS)
    ev = Events()
    metric_ids: list[str] = []
    metric_base = []
    for p in PRODUCTS:
        metric_base.append(len(metric_ids))
        metric_ids += [p["capacity"][0], p["consumption"][0]] + [m[0] for m in p["value"]] + feature_ids(p)
    volume = np.array([p["pricing_model"] != "per_seat" for p in PRODUCTS])
    seat_k = [k for k in range(K) if not volume[k]]

    state = np.zeros(n, dtype=np.int8)
    lvl_seat = np.zeros(n)
    lvl_vol = np.zeros(n)
    owned = np.zeros((n, K), dtype=bool)
    qty = acc["planned_qty"].copy()
    price = np.ones(n)  # cumulative price factor from uplifts
    last_uplift = np.zeros(n)
    cur_sub = np.full((n, K), -1, dtype=np.int64)
    cur_start = np.zeros((n, K), dtype=np.int64)
    term_end = np.zeros(n, dtype=np.int64)  # day index of the next renewal
    alive = np.zeros(n, dtype=bool)
    churned = np.zeros(n, dtype=bool)
    acted = np.zeros(n, dtype=bool)
    shallow_pick = rng.integers(0, 2, size=(n, K, 2))
    case_rate = acc["case_rate"]
    span = months_total + BURN_IN + PAD
    act_hist = np.zeros((n, span))
    sev_hist = np.zeros((n, span))
    next_sub = [0]
    # observed capacity use (4 months) and jobs completed (3 months) per account x product, rolling
    use_buf = np.full((n, K, 4), np.nan)
    jobs_buf = np.full((n, K, 3), np.nan)
    pend_p = np.zeros((n, K))  # planted monthly expansion / cross-sell probability from last month
    pend_owned = np.zeros((n, K), dtype=bool)
    ind_of = {v: i for i, v in enumerate(INDUSTRIES)}
    industry = np.array([ind_of[v] for v in acc["industry"]])
    aff = X.affinity(len(INDUSTRIES), K)

    def month_day(m, d):
        return acc["month_day"](m, d)

    def start_sub(idx, k, start, end, renewal_of):
        ids = next_sub[0] + np.arange(len(idx))
        next_sub[0] += len(idx)
        arr = qty[idx, k] * acc["unit_price"][idx, k] * price[idx]
        ev.subs.append((ids, idx, np.full(len(idx), k), start, end, arr, qty[idx, k].copy(), renewal_of))
        cur_sub[idx, k] = ids
        cur_start[idx, k] = start
        owned[idx, k] = True
        return arr

    def add_on(idx, k, start, end, extra):
        """A subscription line for `extra` quantity that renews nothing; returns its ARR."""
        arr = extra * acc["unit_price"][idx, k] * price[idx]
        keep = extra > 0
        ids = next_sub[0] + np.arange(keep.sum())
        next_sub[0] += len(ids)
        ev.subs.append((ids, idx[keep], np.full(len(ids), k), start[keep], end[keep], arr[keep], extra[keep],
                        np.full(len(ids), -1)))
        return arr

    def hist(m):
        return m + BURN_IN + PAD - 12

    for m in range(-BURN_IN, months_total):
        h = hist(m)
        # accounts entering: pre-window ones at the first loop month, the others at creation
        entering = (created == m) | ((m == -BURN_IN) & (created < m))
        idx = np.flatnonzero(entering)
        if len(idx):
            start_dist = np.where((created[idx] < -BURN_IN)[:, None], STATIONARY_START, ONBOARDING_START)
            u = rng.random(len(idx))
            state[idx] = (u[:, None] > np.cumsum(start_dist, axis=1)).sum(1)
            alive[idx] = True
            # current term: from the last anniversary on or before m
            years = np.maximum(0, (m - created[idx]) // 12)
            start_m = created[idx] + 12 * years
            start = month_day(start_m, day[idx])
            term_end[idx] = month_day(start_m + 12, day[idx])
            owned_init = acc["initial_products"][idx]
            for k in range(K):
                sel = idx[owned_init[:, k]]
                s = start[owned_init[:, k]]
                start_sub(sel, k, s, term_end[sel], np.full(len(sel), -1))
                if len(sel) and m >= 0:
                    new_logo = created[sel] == m
                    ev.deals.append((sel, np.full(len(sel), k), np.full(len(sel), 0), s,
                                     qty[sel, k] * acc["unit_price"][sel, k], np.ones(len(sel), bool), new_logo))
            no_vol = ~(owned[idx][:, volume].any(1))
            state[idx[no_vol & (state[idx] == UNDER)]] = H
            lvl_seat[idx] = np.nan_to_num(TARGET_SEAT[state[idx]], nan=0.5)
            lvl_vol[idx] = np.nan_to_num(TARGET_VOLUME[state[idx]], nan=0.5)
            act_hist[idx, : h + 1] = lvl_seat[idx, None]

        live = np.flatnonzero(alive & (created < m))
        # archetype transitions
        u = rng.random(len(live))
        new_state = (u[:, None] > np.cumsum(TRANSITIONS[state[live]], axis=1)).sum(1).astype(np.int8)
        no_vol = ~(owned[live][:, volume].any(1))
        new_state[no_vol & (new_state == UNDER)] = H
        state[live] = new_state
        live = np.flatnonzero(alive)
        s = state[live]
        for lvl, target in ((lvl_seat, TARGET_SEAT), (lvl_vol, TARGET_VOLUME)):
            t = np.where(s == DECL, lvl[live] * 0.80, target[s])
            lvl[live] = np.clip(lvl[live] + 0.6 * (t - lvl[live]) + rng.normal(0, 0.03, len(live)), 0.02, 1.5)
        ev.states.append((m, live.copy(), s.copy()))

        # realised usage, support cases
        shift = m >= first_future_month - 2 and m < first_future_month
        seat_obs = lvl_seat[live] * rng.lognormal(0, 0.05, len(live))
        vol_obs = lvl_vol[live] * rng.lognormal(0, 0.08, len(live))
        if drift == "seat_activation" and shift:
            seat_obs *= 0.6
        if drift == "consumption" and shift:
            vol_obs *= 0.5
        act_obs = np.zeros(len(live))
        use_buf[:, :, m % 4] = np.nan
        jobs_buf[:, :, m % 3] = np.nan
        for k, p in enumerate(PRODUCTS):
            has = owned[live, k]
            a = live[has]
            cap = qty[a, k]
            use = (seat_obs if not volume[k] else vol_obs)[has]
            cons = np.round(cap * use) if not volume[k] else cap * use
            if not volume[k]:
                cons = np.maximum(cons, 0)
                act_obs[has] = cons / np.maximum(cap, 1)
            use_buf[a, k, m % 4] = cons / np.maximum(cap, 1e-9)
            visible = m >= 0 and m < first_future_month
            b = metric_base[k]
            if visible:
                ev.usage.append((a.astype(np.int32), b, m, cap.astype(np.float32)))
                ev.usage.append((a.astype(np.int32), b + 1, m, np.asarray(cons, np.float32)))
            j = b + 2
            for _ in p["value"]:
                if visible:
                    ev.usage.append((a.astype(np.int32), j, m, np.round(cons / acc["aov"][a]).astype(np.float32)))
                j += 1
            # feature use every month (also outside the visible window: it drives the expansion truth)
            st = state[a]
            p_use = np.where(st == DECL, 0.9 * np.minimum(1, lvl_vol[a] / 0.85 if volume[k]
                                                          else lvl_seat[a] / 0.85), FEATURE_USE_P[st])
            scale = np.maximum(1.0, cons if not volume[k] else cons / 1000.0)
            f = 0
            done = np.zeros(len(a))
            for jj, feats in enumerate(p["jobs"].values()):
                job_done = np.ones(len(a), dtype=bool)
                for fi, _ in enumerate(feats):
                    pick = shallow_pick[a, k, jj] == (fi % 2)
                    pu = np.where(st == SHALLOW, np.where(pick, 0.97, 0.03), p_use)
                    used = rng.random(len(a)) < pu
                    job_done &= used
                    if visible:
                        val = rng.poisson(scale[used] * rng.uniform(0.3, 2.0, used.sum())) + 1
                        ev.usage.append((a[used].astype(np.int32), j + f, m, val.astype(np.float32)))
                    f += 1
                done += job_done
            jobs_buf[a, k, m % 3] = done / len(p["jobs"])
        act_hist[live, h] = np.where(owned[live][:, seat_k].any(1), act_obs, np.nan_to_num(vol_obs))
        rate = case_rate[live] * CASE_STATE_MULT[s] * (3.5 if drift == "support_load" and shift else 1.0)
        n_cases = rng.poisson(rate)
        severe = rng.binomial(n_cases, SEVERE_SHARE[s])
        sev_hist[live, h] = severe
        if m >= 0:
            ev.cases.append((live, m, severe, n_cases - severe))

        # planted hazard now (for flagging) and at renewals (drivers from 6 months earlier)
        def hazard(hh, who):
            act = act_hist[who, hh - 2: hh + 1].mean(1)
            trend = act_hist[who, hh] - act_hist[who, hh - 3]
            sev = sev_hist[who, hh - 5: hh + 1].sum(1)
            tenure = (hh - hist(0) - created[who]) / 12.0
            return 1 / (1 + np.exp(-churn_logit(act, trend, sev, tenure, last_uplift[who])))

        month_start, month_end = month_day(m, 1), month_day(m + 1, 1)
        to_renew = live[(term_end[live] >= month_start) & (term_end[live] < month_end)]
        if len(to_renew):
            p = hazard(h - 6, to_renew)
            p_eff = np.where(acted[to_renew], p * (1 - ACTION_EFFECT), p)
            lost = rng.random(len(to_renew)) < p_eff
            rday = term_end[to_renew]
            ev.renewals.append((to_renew, rday, p, lost, acted[to_renew].copy()))
            gone = to_renew[lost]
            for k in range(K):
                g = gone[owned[gone, k]]
                ev.deals.append((g, np.full(len(g), k), np.full(len(g), 2), term_end[g],
                                 qty[g, k] * acc["unit_price"][g, k] * price[g], np.zeros(len(g), bool),
                                 np.zeros(len(g), bool)))
            alive[gone] = False
            churned[gone] = True
            owned[gone] = False
            keep = to_renew[~lost]
            upl = rng.choice(UPLIFTS, size=len(keep), p=UPLIFT_P)
            price[keep] *= 1 + upl
            last_uplift[keep] = upl
            new_end = month_day(m + 12, day[keep])
            for k in range(K):
                r = keep[owned[keep, k]]
                use = (lvl_seat if not volume[k] else lvl_vol)[r]
                cut = np.where(use < 0.55, np.clip(use * 1.3, 0.7, 1.0), 1.0)
                qty[r, k] = np.maximum(1.0, np.round(qty[r, k] * cut)) if not volume[k] else qty[r, k] * cut
                prev = cur_sub[r, k]
                arr = start_sub(r, k, term_end[r], new_end[owned[keep, k]], prev)
                ev.deals.append((r, np.full(len(r), k), np.full(len(r), 2), term_end[r], arr,
                                 np.ones(len(r), bool), np.zeros(len(r), bool)))
            term_end[keep] = new_end
            acted[keep] = False

        # CSM actions on accounts flagged by the planted hazard, renewal within 1-6 months
        live = np.flatnonzero(alive)
        months_left = (term_end[live] - month_start) / 30.4
        cand = live[(months_left > 1) & (months_left <= 6) & ~acted[live]]
        if len(cand) and m >= 0:
            flagged = cand[hazard(h, cand) > 0.35]
            act_now = flagged[rng.random(len(flagged)) < 0.30]
            acted[act_now] = True
            ev.actions.append((act_now, month_day(m, rng.integers(1, 29, len(act_now)))))

        # cross-sell and expansion bookings, drawn with the planted probabilities of last month's behaviour
        exp_usd = np.zeros(n)
        for k in range(K):
            cand = live[~owned[live, k] & ~pend_owned[live, k]]
            p_x = pend_p[cand, k]
            exp_usd[cand] += p_x * acc["planned_qty"][cand, k] * acc["unit_price"][cand, k] * price[cand]
            buy = cand[rng.random(len(cand)) < p_x]
            if len(buy):
                d = month_day(m, rng.integers(1, 29, len(buy)))
                qty[buy, k] = acc["planned_qty"][buy, k]
                arr = start_sub(buy, k, d, term_end[buy], np.full(len(buy), -1))
                ev.deals.append((buy, np.full(len(buy), k), np.full(len(buy), 0), d, arr,
                                 np.ones(len(buy), bool), np.zeros(len(buy), bool)))
        ready = owned[live] & pend_owned[live]
        p_grow = np.where(ready, pend_p[live], 0.0)
        exp_usd[live] += X.EXPANSION_SHARE * (p_grow * qty[live] * acc["unit_price"][live]).sum(1) * price[live]
        win = np.zeros((n, K), dtype=bool)
        win[live] = rng.random((len(live), K)) < p_grow
        grow = np.flatnonzero(win.any(1))
        if len(grow):
            d = month_day(m, rng.integers(1, 29, len(grow)))
            for k in range(K):
                g = grow[win[grow, k]]
                dd = np.maximum(d[win[grow, k]], cur_start[g, k] + 1)  # after the running term began
                before = qty[g, k].copy()
                qty[g, k] = np.round(qty[g, k] * 1.3) if not volume[k] else qty[g, k] * 1.3
                # add-on line for the extra quantity, co-termed to the running term; the running
                # subscription keeps its end date (its renewal), so no later event rewrites it
                added = add_on(g, k, dd, term_end[g], qty[g, k] - before)
                ev.deals.append((g, np.full(len(g), k), np.full(len(g), 1), dd, added,
                                 np.ones(len(g), bool), np.zeros(len(g), bool)))
            lvl_seat[win[:, seat_k].any(1)] /= 1 + X.EXPANSION_SHARE
            lvl_vol[win[:, volume].any(1)] /= 1 + X.EXPANSION_SHARE
            state[grow] = H
        # planted probabilities for next month's draws, from this month's observable behaviour
        pend_p[:] = 0.0
        pend_owned[:] = owned
        if len(live):
            use_now = use_buf[live, :, m % 4]
            trend = use_now - use_buf[live, :, (m + 1) % 4]
            jb = jobs_buf[live]
            jobs3 = np.nansum(jb, axis=2) / np.maximum((~np.isnan(jb)).sum(2), 1)
            own = owned[live]
            jobs_owned = (jobs3 * own).sum(1) / np.maximum(own.sum(1), 1)
            use_max = np.where(own, np.nan_to_num(use_now), 0.0).max(1)
            sev6 = sev_hist[live, h - 5: h + 1].sum(1)
            seg = acc["segment"][live]
            z_exp = X.expansion_logit(use_now, trend, jobs3, sev6[:, None], seg[:, None])
            z_x = X.cross_sell_logit(jobs_owned[:, None], use_max[:, None], owned[live].sum(1)[:, None],
                                     aff[industry[live]], sev6[:, None], seg[:, None])
            z = np.where(owned[live], z_exp, z_x)
            pend_p[live] = 1 / (1 + np.exp(-z))
            if first_future_month - X.TRUTH_MONTHS <= m < first_future_month:
                ev.expansion.append((m, live.copy(), owned[live].copy(), pend_p[live].copy()))
        if m >= 0:
            ev.expected.append((m, np.bincount(acc["owner_idx"], weights=exp_usd, minlength=acc["n_owners"])))
    return ev, metric_ids
