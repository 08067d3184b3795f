"""The demo company: a simulated multi-product B2B SaaS vendor with its truth planted apart.

`generate()` returns every contract table plus `truth_*` tables (read only by the scorecard) and
`csm_actions` (the demo's history of logged customer-success actions). Everything dated after
`as_of` is hidden from the contract tables; the hidden future only feeds `truth_bookings`.
"""
from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import numpy as np
import pandas as pd

from services import fiscal

from . import expansion, lifecycle
from . import novel as novel_accounts
from . import prospects as lost_prospects
from .accounts import PRE_WINDOW_SHARE, SEGMENTS, make_accounts, seasonal_weights
from .catalog import PRODUCTS, metric_catalog_frame, products_frame
from .org import REGIONS, make_people
from .sales import add_lost_deals, commits_and_quotas, opportunities, stages_frame

log = logging.getLogger(__name__)
FUTURE_MONTHS = 7
DRIFT_GROUPS = ("seat_activation", "consumption", "support_load")
ACTION_TYPES = np.array(["call", "executive_meeting", "training", "success_plan",
                         "commercial_concession", "escalation"])
ARCHETYPE_NAMES = {
    "healthy": "Healthy", "unused_seats": "Unused seats", "under_consuming": "Under-consuming allowance",
    "shallow": "Shallow use: jobs incomplete", "declining": "Declining", "expansion_ready": "Expansion-ready",
}


def _days(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64).astype("datetime64[D]")


def default_as_of(today: date | None = None) -> date:
    """The demo's as-of date when none is given: the last month-end before `today` (default: the clock)."""
    today = today or date.today()
    return today.replace(day=1) - timedelta(days=1)


def generate(accounts: int = 5000, months: int = 36, seed: int = 0, as_of: date | str | None = None,
             drift: str | None = None, novel: int = 0, fiscal_start: int = 1) -> dict[str, pd.DataFrame]:
    """Simulate the demo company. `accounts` customer accounts (plus prospects from lost deals).
    `novel` > 0 plants that many recent accounts unlike any training row (`novel.plant`, `truth_novel`).
    `fiscal_start` is the first month of its fiscal year (the `company` table): bookings peak at the end of
    its fiscal quarters and its fiscal Q4, and commits, quotas and `truth_bookings` are keyed by its quarters.

    The same arguments give the same tables on any day; only `as_of=None` reads the clock
    (`default_as_of`)."""
    if drift is not None and drift not in DRIFT_GROUPS:
        raise ValueError(f"unknown drift group {drift!r}; choose one of {', '.join(DRIFT_GROUPS)}")
    if accounts < 50 or months < 18:
        raise ValueError("the demo needs at least 50 accounts and 18 months of history")
    cal = fiscal.FiscalCalendar(fiscal.check_start_month(fiscal_start))
    rng = np.random.default_rng(seed)
    as_of_ts = pd.Timestamp(as_of or default_as_of()).normalize()
    as_of_day = int(as_of_ts.to_datetime64().astype("datetime64[D]").astype(np.int64))
    # the first month not complete at as_of (a month-end as_of completes its own month)
    base = np.datetime64((as_of_ts + pd.Timedelta(days=1)).strftime("%Y-%m"), "M") - months
    total = months + FUTURE_MONTHS
    w = seasonal_weights(base, total, cal.start_month)
    n_total = round(accounts / (1 - (1 - PRE_WINDOW_SHARE) * w[months:].sum()))
    log.info("simulating %d customer accounts over %d months (as of %s)", n_total, total, as_of_ts.date())

    people = make_people(rng, accounts)
    acc = make_accounts(rng, n_total, people, base, total, cal.start_month)
    ev, metric_ids = lifecycle.run(rng, acc, total, months, drift)
    created_day = acc["month_day"](acc["created_month"], acc["day"])
    window_start = int(acc["month_day"](0, 1))
    acct_ids = np.array([f"A{i:06d}" for i in range(n_total)], dtype=object)

    subs = _subscriptions(ev, acct_ids, as_of_day)
    usage = _usage(ev, acct_ids, metric_ids, base)
    cases = _cases(rng, ev, acct_ids, acc, base, as_of_day)

    deals = {k: np.concatenate(v) for k, v in zip(
        ["acct", "prod", "type", "close", "amount", "won", "new_logo"], zip(*ev.deals))}
    deals["close"] = deals["close"].astype(np.int64)
    deals, prospects = add_lost_deals(rng, deals, acc)
    seg_all = np.concatenate([acc["segment"], acc["segment"][prospects["src"].to_numpy()]])
    opp, hist, _ = opportunities(rng, deals, seg_all, window_start, as_of_day)
    n_pro = len(prospects)
    all_ids = np.concatenate([acct_ids, np.array([f"A{n_total + i:06d}" for i in range(n_pro)], dtype=object)])
    src_of = np.concatenate([np.arange(n_total), prospects["src"].to_numpy()])
    owner_all = acc["owner_ids"][acc["owner_idx"][src_of]]
    product_ids = np.array([p["product_id"] for p in PRODUCTS])
    opp_ids = np.array([f"O{i:07d}" for i in range(len(deals["acct"]))], dtype=object)
    opportunities_df = pd.DataFrame({
        "opportunity_id": opp_ids[opp["idx"]], "account_id": all_ids[opp["acct"]],
        "owner_id": owner_all[opp["acct"]], "product_id": product_ids[opp["product"]], "type": opp["type"],
        "amount_usd": opp["amount_usd"].round(2), "created_date": _days(opp["created_day"]),
        "close_date": _days(opp["close_day"]), "stage": opp["stage"],
        "forecast_category": opp["forecast_category"], "is_closed": opp["is_closed"], "is_won": opp["is_won"],
    })
    history = pd.DataFrame({
        "opportunity_id": pd.Categorical.from_codes(hist["opp"].to_numpy(), categories=opp_ids),
        "snapshot_date": _days(hist["day"]), "stage": hist["stage"],
        "amount_usd": hist["amount_usd"].round(2), "close_date": _days(hist["close_day"]),
        "forecast_category": hist["forecast_category"],
    })

    # accounts: customers that exist by as_of, and prospects that have a visible opportunity
    # (including customers-to-be whose first deal is still open at as_of)
    first_opp = opp.groupby("acct")["created_day"].min()
    later = first_opp.index.to_numpy() < n_total
    later[later] = created_day[first_opp.index.to_numpy()[later]] > as_of_day
    pro_created = first_opp[(first_opp.index.to_numpy() >= n_total) | later]
    cust = np.flatnonzero(created_day <= as_of_day)
    src_pro = src_of[pro_created.index.to_numpy()]
    accounts_df = pd.DataFrame({
        "account_id": np.concatenate([acct_ids[cust], all_ids[pro_created.index.to_numpy()]]),
        "name": np.concatenate([acc["name"][cust], acc["name"][src_pro][::-1]]),
        "industry": np.concatenate([acc["industry"][cust], acc["industry"][src_pro]]),
        "segment": SEGMENTS[np.concatenate([acc["segment"][cust], acc["segment"][src_pro]])],
        "region": np.asarray(REGIONS)[np.concatenate([acc["region"][cust], acc["region"][src_pro]])],
        "owner_id": np.concatenate([owner_all[cust], owner_all[pro_created.index.to_numpy()]]),
        "csm_id": np.concatenate([acc["csm_id"][cust], np.full(len(src_pro), None, dtype=object)]),
        "created_date": _days(np.concatenate([created_day[cust], pro_created.to_numpy()])),
    })

    # planted re-engagement of lost prospects (its own random stream: nothing above changes)
    back_opps, back_hist, truth_prospects = lost_prospects.plant(accounts_df, subs, opportunities_df, history,
                                                                 list(SEGMENTS), seed, as_of_ts, len(opp_ids))
    if len(back_opps):
        opportunities_df = pd.concat([opportunities_df, back_opps.astype(
            {c: opportunities_df[c].dtype for c in back_opps.columns if c in ("stage", "forecast_category")})],
            ignore_index=True)
        ids = pd.Index(history["opportunity_id"].cat.categories).append(pd.Index(back_opps["opportunity_id"]))
        history = pd.concat([history.astype({"opportunity_id": object}), back_hist[history.columns]],
                            ignore_index=True)
        history["opportunity_id"] = pd.Categorical(history["opportunity_id"], categories=ids)
    truth_bookings = _truth_bookings(ev, deals, acc, w, base, window_start, total, cal)
    commits, quotas, bias = commits_and_quotas(rng, people, truth_bookings, as_of_ts, cal)
    renewals = _renewals(ev, acct_ids)
    actions = _actions(rng, ev, acct_ids, acc, as_of_day)
    truth_params = {
        "as_of": str(as_of_ts.date()), "seed": seed, "accounts": accounts, "months": months,
        "churn_drivers": lifecycle.CHURN_DRIVERS, "churn_label_threshold": 0.5,
        "action_effect": lifecycle.ACTION_EFFECT, "drift_group": drift, "drift_months": 2, "novel": novel,
        "archetype_names": ARCHETYPE_NAMES,
        "expansion_drivers": expansion.EXPANSION_DRIVERS, "cross_sell_drivers": expansion.CROSS_SELL_DRIVERS,
        "expansion_horizon_months": expansion.HORIZON_MONTHS, "fiscal_start": cal.start_month,
        "prospect_drivers": lost_prospects.DRIVERS, "prospect_horizon_months": lost_prospects.HORIZON_MONTHS,
    }
    frames = {
        "people": people, "products": products_frame(), "metric_catalog": metric_catalog_frame(),
        "accounts": accounts_df, "subscriptions": subs, "usage_monthly": usage,
        "stages": stages_frame(), "opportunities": opportunities_df, "opportunity_history": history, "support_cases": cases,
        "commits": commits, "quotas": quotas, "company": fiscal.company_frame(cal.start_month, "Demo company"),
        "csm_actions": actions,
        "truth_params": pd.DataFrame({"key": list(truth_params),
                                      "value": [json.dumps(v) for v in truth_params.values()]}),
        "truth_adoption": _truth_adoption(ev, acct_ids, base, months, created_day, as_of_day),
        "truth_renewals": renewals[renewals.renewal_date <= as_of_ts + pd.Timedelta(days=366)],
        "truth_bookings": truth_bookings,
        "truth_commit_bias": bias,
        "truth_expansion": _truth_expansion(ev, acct_ids, base, created_day, as_of_day),
        "truth_prospects": truth_prospects,
    }
    visible = set(accounts_df.account_id)
    for name in ("truth_renewals", "csm_actions"):
        frames[name] = frames[name][frames[name].account_id.isin(visible)].reset_index(drop=True)
    if novel:
        frames["truth_novel"] = novel_accounts.plant(frames, novel, seed, as_of_ts)
    return frames


def _subscriptions(ev, acct_ids, as_of_day) -> pd.DataFrame:
    sid, acct, prod, start, end, arr, qty, ren = (np.concatenate(c) for c in zip(*ev.subs))
    order = np.argsort(sid)
    sid, acct, prod, start, end, arr, qty, ren = (c[order] for c in (sid, acct, prod, start, end, arr, qty, ren))
    vis = start <= as_of_day
    product_ids = np.array([p["product_id"] for p in PRODUCTS])
    fmt = np.array([f"S{i:07d}" for i in range(len(sid))], dtype=object)
    return pd.DataFrame({
        "subscription_id": fmt[sid[vis]], "account_id": acct_ids[acct[vis]],
        "product_id": product_ids[prod[vis]], "start_date": _days(start[vis]),
        "end_date": _days(np.maximum(end[vis], start[vis])), "arr_usd": np.round(arr[vis], 2),
        "quantity": qty[vis], "renewal_of": np.where(ren[vis] >= 0, fmt[np.maximum(ren[vis], 0)], None),
    })


def _usage(ev, acct_ids, metric_ids, base) -> pd.DataFrame:
    sizes = np.array([len(u[0]) for u in ev.usage])
    acct = np.concatenate([u[0] for u in ev.usage])
    metric = np.repeat(np.array([u[1] for u in ev.usage], dtype=np.int8), sizes)
    month = np.repeat(np.array([u[2] for u in ev.usage], dtype=np.int16), sizes)
    value = np.concatenate([u[3] for u in ev.usage]).astype(float)
    ev.usage.clear()
    catalog = metric_catalog_frame().set_index("metric_id")
    prod_of_metric = catalog.loc[metric_ids, "product_id"].to_numpy()
    return pd.DataFrame({
        "account_id": pd.Categorical.from_codes(acct, categories=acct_ids),
        "product_id": pd.Categorical(prod_of_metric[metric]),
        "metric_id": pd.Categorical.from_codes(metric, categories=metric_ids),
        "month": (base + month).astype("datetime64[D]").astype("datetime64[ns]"),
        "value": value,
    })


def _cases(rng, ev, acct_ids, acc, base, as_of_day) -> pd.DataFrame:
    acct = np.concatenate([np.repeat(c[0], c[2] + c[3]) for c in ev.cases])
    month = np.concatenate([np.full((c[2] + c[3]).sum(), c[1]) for c in ev.cases])
    is_sev = _severe_flags(ev)
    n = len(acct)
    sev = np.where(is_sev, rng.choice([1, 2], size=n, p=[0.25, 0.75]), rng.choice([3, 4], size=n, p=[0.6, 0.4]))
    opened = acc["month_day"](month, rng.integers(1, 29, n))
    closed = opened + np.ceil(rng.exponential(np.array([0, 2.0, 4.0, 7.0, 10.0])[sev])).astype(np.int64)
    csat = np.where(rng.random(n) < 0.65, np.clip(np.round(4.6 - 0.5 * (sev <= 2) + rng.normal(0, 0.6, n)), 1, 5),
                    np.nan)
    vis = (opened <= as_of_day) & (opened >= acc["month_day"](acc["created_month"], acc["day"])[acct])
    return pd.DataFrame({
        "case_id": np.array([f"C{i:07d}" for i in range(vis.sum())], dtype=object),
        "account_id": acct_ids[acct[vis]], "opened_date": _days(opened[vis]),
        "closed_date": pd.to_datetime(np.where(closed[vis] <= as_of_day, closed[vis], -1).astype(
            "datetime64[D]")).where(closed[vis] <= as_of_day),
        "severity": sev[vis].astype(int), "csat": csat[vis],
    })


def _severe_flags(ev) -> np.ndarray:
    out = []
    for c in ev.cases:
        tot = c[2] + c[3]
        starts = np.repeat(np.cumsum(tot) - tot, tot)
        pos = np.arange(tot.sum()) - starts
        out.append(pos < np.repeat(c[2], tot))
    return np.concatenate(out)


def _truth_bookings(ev, deals, acc, w, base, window_start, total, cal: fiscal.FiscalCalendar) -> pd.DataFrame:
    """Planted expected bookings (new + expansion) per rep and fiscal quarter, and the actual incl. the future."""
    book = deals["won"] & (deals["type"] < 2) & (deals["close"] >= window_start)
    acct = deals["acct"][book]
    owner = acc["owner_idx"][acct]
    quarter = pd.PeriodIndex(_days(deals["close"][book]), freq=cal.freq).astype(str)
    actual = pd.DataFrame({"owner": owner, "quarter": quarter, "usd": deals["amount"][book]}).groupby(
        ["owner", "quarter"])["usd"].sum()
    # expected: cross-sell and expansion intensities from the lifecycle, plus new-logo intensity
    n_in_window = acc["n"] * (1 - PRE_WINDOW_SHARE)
    mean_new = float((acc["planned_qty"] * acc["unit_price"] * acc["initial_products"]).sum(1).mean())
    rep_share = np.zeros(acc["n_owners"])
    np.add.at(rep_share, acc["owner_idx"], 1.0)
    rep_share /= rep_share.sum()
    rows = []
    for m, per_owner in ev.expected:
        e = per_owner + n_in_window * w[m] * rep_share * mean_new
        q = cal.key((base + m).astype("datetime64[D]"))
        rows.append(pd.DataFrame({"owner": np.arange(acc["n_owners"]), "quarter": q, "usd": e}))
    expected = pd.concat(rows).groupby(["owner", "quarter"])["usd"].sum()
    full_q = pd.PeriodIndex((base + np.arange(total)).astype("datetime64[D]"), freq=cal.freq)
    complete = full_q.value_counts()
    complete = set(complete[complete == 3].index.astype(str))
    out = pd.DataFrame({"expected_bookings_usd": expected}).join(actual.rename("actual_bookings_usd")).fillna(0.0)
    out = out.reset_index()
    out = out[out.quarter.isin(complete)]
    out["owner_id"] = acc["owner_ids"][out.pop("owner").to_numpy()]
    return out[["quarter", "owner_id", "expected_bookings_usd", "actual_bookings_usd"]].reset_index(drop=True)


def _renewals(ev, acct_ids) -> pd.DataFrame:
    acct, day, p, churned, acted = (np.concatenate(c) for c in zip(*ev.renewals))
    return pd.DataFrame({"account_id": acct_ids[acct], "renewal_date": pd.to_datetime(_days(day)),
                         "p_churn": p, "churned": churned, "acted": acted})


def _actions(rng, ev, acct_ids, acc, as_of_day) -> pd.DataFrame:
    if not ev.actions:
        acct = np.zeros(0, np.int64); day = np.zeros(0, np.int64)
    else:
        acct, day = (np.concatenate(c) for c in zip(*ev.actions))
    vis = day <= as_of_day
    acct, day = acct[vis], day[vis]
    kind = rng.choice(ACTION_TYPES, size=len(acct))
    return pd.DataFrame({
        "action_id": np.array([f"ACT{i:07d}" for i in range(len(acct))], dtype=object),
        "account_id": acct_ids[acct], "person_id": acc["csm_id"][acct], "action_type": kind,
        "created_at": pd.to_datetime(_days(day)) + pd.Timedelta(hours=10),
        "note": np.char.add("Demo history: ", kind.astype(str)),
    })


def _truth_expansion(ev, acct_ids, base, created_day, as_of_day) -> pd.DataFrame:
    """Planted monthly expansion / cross-sell probability of each visible customer x product, from the
    behaviour of that month, and its 180-day equivalent (the next six months' draws at that rate)."""
    product_ids = np.array([p["product_id"] for p in PRODUCTS])
    parts = []
    for m, live, owned, p in ev.expansion:
        vis = created_day[live] <= as_of_day
        k = len(product_ids)
        n = int(vis.sum())
        parts.append(pd.DataFrame({
            "account_id": np.repeat(acct_ids[live[vis]], k),
            "product_id": np.tile(product_ids, n),
            "month": pd.Timestamp((base + m).astype("datetime64[D]")),
            "owned": owned[vis].ravel(),
            "p_month": p[vis].ravel().round(6),
            "p_180d": expansion.horizon_probability(p[vis].ravel()).round(6),
        }))
    return pd.concat(parts, ignore_index=True)


def _truth_adoption(ev, acct_ids, base, months, created_day, as_of_day) -> pd.DataFrame:
    """Planted archetype of each visible customer for the last 13 complete months."""
    parts = []
    for m, live, s in ev.states:
        if months - 13 <= m < months:
            live_vis = created_day[live] <= as_of_day
            names = np.array(lifecycle.ARCHETYPES)[s[live_vis]]
            parts.append(pd.DataFrame({
                "account_id": acct_ids[live[live_vis]],
                "month": pd.Timestamp((base + m).astype("datetime64[D]")),
                "archetype": names,
                "expected_name": pd.Series(names).map(ARCHETYPE_NAMES).to_numpy(),
            }))
    return pd.concat(parts, ignore_index=True)
