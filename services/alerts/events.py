"""Events: conditions computed from the active results, diffed against those standing after the last refresh.

`conditions(engine)` lists what holds now, one row per (event type, subject): an account at high risk, a
risk up by at least N points since the month before, a renewal within 90 days at medium or high risk, an
adoption cluster worse than the month before, a commit deal whose close date left the quarter in the last
week, a node's forecast down by at least X% week on week, a manager with no recent commit this quarter,
a drifting feature, a model version the gate rejected, an account ready to grow (its best suggestion of
Where to grow, no opportunity open on it, at or over a probability and an expected ARR). Thresholds: `services.config.alert_thresholds()`.

`evaluate(engine, run_id)` compares them with `alert_state` in one transaction: a new condition *fires* an
event, a condition that no longer holds *clears* it, one that still stands emits nothing. Every comparison
is within the active versions (latest snapshot against the one before it), so a refresh that changes no data
changes no condition and emits nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db, fiscal, picklists, registry
from services.adoption import tables as adoption_tables
from services.alerts import tables as T
from services.churn import tables as churn_tables
from services.config import alert_thresholds
from services.expansion import tables as expansion_tables
from services.forecast import tables as forecast_tables
from services.monitoring import tables as monitoring_tables

log = logging.getLogger(__name__)

EVENT_TYPES: dict[str, str] = {
    "high_risk": "Account entered high churn risk",
    "risk_up": "Churn risk rose sharply in a month",
    "renewal_at_risk": "Renewal soon at medium or high risk",
    "adoption_worse": "Adoption cluster moved to a worse one",
    "commit_slipped": "A commit deal slipped out of the quarter",
    "forecast_drop": "Forecast fell week on week",
    "commit_missing": "Commit missing before the forecast call",
    "drift": "Feature drift flagged",
    "model_rejected": "A new model version was rejected by the quality gate",
    "expansion_ready": "Account became expansion-ready",
}
COLUMNS = ["event_type", "subject_id", "account_id", "person_id", "title", "value", "detail"]


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def _accounts(engine: Engine) -> pd.DataFrame:
    return db.read_table("accounts", engine, columns=["account_id", "name", "owner_id", "csm_id"]).set_index(
        "account_id")


def _account_rows(kind: str, df: pd.DataFrame, accounts: pd.DataFrame, title, value: str) -> list[dict]:
    rows = []
    for r in df.itertuples(index=False):
        a = accounts.loc[r.account_id] if r.account_id in accounts.index else None
        name = a["name"] if a is not None else r.account_id
        rows.append({"event_type": kind, "subject_id": r.account_id, "account_id": r.account_id,
                     "person_id": a["owner_id"] if a is not None else None, "title": title(r, name),
                     "value": float(getattr(r, value)),
                     "detail": json.dumps({"csm_id": a["csm_id"] if a is not None else None}, default=str)})
    return rows


def churn_conditions(engine: Engine, accounts: pd.DataFrame, th: dict[str, float]) -> list[dict]:
    now = registry.read_snapshot(engine, churn_tables.SCORES, "score_date")
    if now.empty:
        return []
    when = now.attrs["snapshot"]
    before = registry.read_snapshot(engine, churn_tables.SCORES, "score_date", when - pd.Timedelta(days=1))
    rows = _account_rows("high_risk", now[now.tier == "high"], accounts,
                         lambda r, n: f"{n} is at high churn risk ({r.probability:.0%})", "probability")
    soon = now[(now.days_to_renewal <= th["renewal_days"]) & now.tier.isin(["medium", "high"])]
    rows += _account_rows("renewal_at_risk", soon, accounts,
                          lambda r, n: f"{n} renews in {r.days_to_renewal:.0f} days at {r.tier} risk "
                                       f"({r.probability:.0%})", "probability")
    if not before.empty:
        m = now.merge(before[["account_id", "probability"]], on="account_id", suffixes=("", "_before"))
        m["rise"] = (m.probability - m.probability_before) * 100
        up = m[m.rise >= th["risk_up_points"]]
        rows += _account_rows("risk_up", up, accounts,
                              lambda r, n: f"{n}: churn risk up {r.rise:.0f} points in a month "
                                           f"({r.probability_before:.0%} to {r.probability:.0%})", "rise")
    return rows


def adoption_conditions(engine: Engine, accounts: pd.DataFrame) -> list[dict]:
    now = registry.read_snapshot(engine, adoption_tables.MEMBERSHIP, "month")
    if now.empty:
        return []
    before = registry.read_snapshot(engine, adoption_tables.MEMBERSHIP, "month",
                                    now.attrs["snapshot"] - pd.Timedelta(days=1))
    clusters = registry.read_results(engine, adoption_tables.CLUSTERS)
    if before.empty or clusters.empty:
        return []
    score = clusters.set_index("cluster_id")["score"]
    m = now.merge(before[["account_id", "cluster_id", "cluster_name"]], on="account_id", suffixes=("", "_before"))
    m["drop"] = m.cluster_id_before.map(score) - m.cluster_id.map(score)
    worse = m[(m.cluster_id != m.cluster_id_before) & (m["drop"] > 0)]
    return _account_rows("adoption_worse", worse, accounts,
                         lambda r, n: f"{n} moved from {r.cluster_name_before} to {r.cluster_name}", "drop")


def expansion_conditions(engine: Engine, accounts: pd.DataFrame, th: dict[str, float]) -> list[dict]:
    """Accounts whose best product to grow at the latest score date (highest expected ARR among the products
    with no growth opportunity open) is at or over `expansion_ready_probability` and
    `expansion_ready_arr_usd`: one condition per account, whichever product it is."""
    now = registry.read_snapshot(engine, expansion_tables.SCORES, "score_date")
    if now.empty:
        return []
    free = now[now.open_opportunity_id.isna()]
    ready = free[(free.probability >= th["expansion_ready_probability"])
                 & (free.expected_arr_usd >= th["expansion_ready_arr_usd"])]
    best = ready.sort_values(["expected_arr_usd", "product_id"], ascending=[False, True]).drop_duplicates("account_id")
    names = dict(db.read_table("products", engine, columns=["product_id", "name"]).itertuples(index=False))
    motion = {"expansion": "expansion", "cross_sell": "cross-sell"}
    return _account_rows("expansion_ready", best, accounts,
                         lambda r, n: f"{n} is ready to grow: {motion.get(r.kind, r.kind)} of "
                                      f"{names.get(r.product_id, r.product_id)}, {r.probability:.0%} within 180 days, "
                                      f"expected ARR ${r.expected_arr_usd:,.0f}", "expected_arr_usd")


def forecast_conditions(engine: Engine, people: pd.DataFrame, th: dict[str, float]) -> list[dict]:
    now = registry.read_snapshot(engine, forecast_tables.NODES, "origin_date", where="kind = 'live'")
    if now.empty:
        return []
    origin = now.attrs["snapshot"]
    week = registry.read_snapshot(engine, forecast_tables.NODES, "origin_date", origin - pd.Timedelta(days=7),
                                  where="kind = 'live'")
    if week.empty or week.attrs["snapshot"] != origin - pd.Timedelta(days=7):
        return []
    key = ["person_id", "product_id", "quarter"]
    pick = lambda f: f[(f.product_id == "ALL") & (f.h == 0)] if "h" in f else f[f.product_id == "ALL"]
    m = pick(now).merge(pick(week)[[*key, "p50_usd"]], on=key, suffixes=("", "_week"))
    m = m[m.p50_usd_week > 0]
    m["drop_pct"] = (1 - m.p50_usd / m.p50_usd_week) * 100
    names, cal = people.set_index("person_id")["name"], fiscal.read(engine)
    return [{"event_type": "forecast_drop", "subject_id": f"{r.person_id}:{r.quarter}", "account_id": None,
             "person_id": r.person_id, "value": float(r.drop_pct),
             "title": f"{names.get(r.person_id, r.person_id)}'s {cal.label(r.quarter)} forecast fell {r.drop_pct:.0f}% in a "
                      f"week (${r.p50_usd_week:,.0f} to ${r.p50_usd:,.0f})", "detail": "{}"}
            for r in m[m.drop_pct >= th["forecast_drop_pct"]].itertuples()]


def slipped_commits(engine: Engine, as_of: pd.Timestamp, accounts: pd.DataFrame) -> list[dict]:
    """Deals in commit with a close date in the as-of's quarter a week ago, now closing after it (still open)."""
    cal = fiscal.read(engine)
    q_end = cal.end(as_of)
    week = as_of - pd.Timedelta(days=7)
    with engine.connect() as conn:
        h = pd.read_sql(sa.text("SELECT opportunity_id, snapshot_date, stage, close_date, forecast_category, "
                                "amount_usd FROM opportunity_history WHERE snapshot_date <= :d"), conn,
                        params={"d": as_of.date()})
    if h.empty:
        return []
    for c in ("snapshot_date", "close_date"):
        h[c] = pd.to_datetime(h[c])
    h = h.sort_values("snapshot_date")
    then = h[h.snapshot_date <= week].groupby("opportunity_id").last()
    now = h.groupby("opportunity_id").last()
    then = then[(then.forecast_category == "commit") & (then.close_date <= q_end) & (then.close_date > week)]
    m = then[["close_date"]].join(now[["close_date", "stage", "amount_usd"]], rsuffix="_now", how="inner")
    m = m[(m.close_date_now > q_end) & ~m.stage.isin(picklists.closed_stages(picklists.read_stages(engine)))]
    if m.empty:
        return []
    opps = db.read_table("opportunities", engine, columns=["opportunity_id", "account_id", "owner_id"],
                         where="opportunity_id IN (" + ", ".join(f":o{i}" for i in range(len(m))) + ")",
                         params={f"o{i}": o for i, o in enumerate(m.index)}).set_index("opportunity_id")
    rows = []
    for opp_id, r in m.iterrows():
        acct = opps.account_id.get(opp_id)
        name = accounts["name"].get(acct, acct) if acct is not None else opp_id
        rows.append({"event_type": "commit_slipped", "subject_id": str(opp_id), "account_id": acct,
                     "person_id": opps.owner_id.get(opp_id), "value": float(r.amount_usd),
                     "title": f"{name}: ${r.amount_usd:,.0f} commit deal moved from {r.close_date:%Y-%m-%d} to "
                              f"{r.close_date_now:%Y-%m-%d}, out of {cal.label(as_of)}", "detail": "{}"})
    return rows


def missing_commits(engine: Engine, as_of: pd.Timestamp, people: pd.DataFrame, th: dict[str, float]) -> list[dict]:
    """Managers whose latest commit for the as-of's quarter is older than `commit_max_age_days` (or absent)."""
    cal = fiscal.read(engine)
    quarter = cal.key(as_of)  # e.g. 2026Q4, the contract's spelling (the company's fiscal quarter)
    frames = [db.read_table(t, engine, columns=["person_id", "quarter", "submitted_at"])
              for t in ("commits", "leader_commits") if db.table_exists(t, engine)]
    c = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["person_id", "quarter",
                                                                                  "submitted_at"])
    c = c[(c.quarter == quarter) & (pd.to_datetime(c.submitted_at) <= as_of + pd.Timedelta(days=1))]
    latest = c.groupby("person_id").submitted_at.max()
    cutoff = as_of - pd.Timedelta(days=th["commit_max_age_days"])
    rows = []
    for p in people[people.role == "manager"].itertuples():
        last = latest.get(p.person_id)
        if last is None or pd.Timestamp(last) < cutoff:
            seen = "none yet" if last is None else f"the last on {pd.Timestamp(last):%Y-%m-%d}"
            rows.append({"event_type": "commit_missing", "subject_id": f"{p.person_id}:{quarter}",
                         "account_id": None, "person_id": p.person_id, "value": None,
                         "title": f"{p.name} has no recent {cal.label(quarter)} commit ({seen})", "detail": "{}"})
    return rows


def model_conditions(engine: Engine) -> list[dict]:
    rows = []
    v = registry.versions(engine)
    for model, g in v[v.status.isin(["active", "rejected"])].groupby("model"):
        newest = g.iloc[0]  # versions() is newest first
        if newest.status == "rejected":
            rows.append({"event_type": "model_rejected", "subject_id": str(newest.version), "account_id": None,
                         "person_id": None, "value": None, "detail": "{}",
                         "title": f"The new {model} model ({newest.version}) was rejected by the quality gate: "
                                  f"{str(newest.note or '').split(';')[0]}"})
        if (g.status == "active").any():
            drift = registry.read_results(engine, monitoring_tables.FEATURE_DRIFT, model=str(model),
                                          where="flagged = :t", params={"t": True})
            for feature, d in drift.groupby("feature") if not drift.empty else ():
                rows.append({"event_type": "drift", "subject_id": f"{model}:{feature}", "account_id": None,
                             "person_id": None, "value": float(d.psi.sum()), "detail": "{}",
                             "title": f"{model}: the distribution of {feature} drifted (PSI {d.psi.sum():.2f})"})
    return rows


def conditions(engine: Engine, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Every condition that holds on the active results (columns COLUMNS), one row per type and subject."""
    from services.jobs import data_as_of  # the date the data runs to (jobs imports every model job: lazy)

    th = alert_thresholds()
    accounts = _accounts(engine)
    people = db.read_table("people", engine)
    try:
        as_of = pd.Timestamp(as_of) if as_of is not None else data_as_of(engine)
    except LookupError:
        return _frame([])
    rows = (churn_conditions(engine, accounts, th) + adoption_conditions(engine, accounts)
            + expansion_conditions(engine, accounts, th)
            + forecast_conditions(engine, people, th) + slipped_commits(engine, as_of, accounts)
            + missing_commits(engine, as_of, people, th) + model_conditions(engine))
    return _frame(rows).drop_duplicates(["event_type", "subject_id"]).reset_index(drop=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def evaluate(engine: Engine, run_id: str, found: pd.DataFrame | None = None,
             at: dt.datetime | None = None) -> pd.DataFrame:
    """Fire the new conditions and clear the ended ones, in one transaction; returns the events written."""
    T.ensure(engine)
    found = conditions(engine) if found is None else found
    at = at or _now()
    with engine.begin() as conn:
        standing = {(r.event_type, r.subject_id): r for r in conn.execute(sa.select(T.STATE))}
        now = {(r.event_type, r.subject_id): r for r in found.itertuples(index=False)}
        events = []
        for key in sorted(set(now) - set(standing)):
            r = now[key]
            events.append({"event_id": uuid.uuid4().hex, "run_id": run_id, "at": at, "event_type": r.event_type,
                           "action": "fired", "subject_id": r.subject_id, "account_id": _none(r.account_id),
                           "person_id": _none(r.person_id), "title": r.title, "value": _none(r.value),
                           "detail": r.detail})
        for key in sorted(set(standing) - set(now)):
            opened = conn.execute(sa.select(T.EVENTS).where(T.EVENTS.c.event_id == standing[key].event_id)).first()
            events.append({"event_id": uuid.uuid4().hex, "run_id": run_id, "at": at, "event_type": key[0],
                           "action": "cleared", "subject_id": key[1],
                           "account_id": opened.account_id if opened else None,
                           "person_id": opened.person_id if opened else None,
                           "title": "No longer: " + (opened.title if opened else f"{key[0]} {key[1]}"),
                           "value": None, "detail": "{}"})
        if events:
            conn.execute(T.EVENTS.insert(), events)
        gone = sorted(set(standing) - set(now))
        for etype, subject in gone:
            conn.execute(T.STATE.delete().where((T.STATE.c.event_type == etype) & (T.STATE.c.subject_id == subject)))
        new = [{"event_type": e["event_type"], "subject_id": e["subject_id"], "event_id": e["event_id"], "since": at}
               for e in events if e["action"] == "fired"]
        if new:
            conn.execute(T.STATE.insert(), new)
    log.info("events: %d fired, %d cleared, %d standing", len(new), len(gone), len(set(now) & set(standing)))
    return pd.DataFrame(events, columns=[c.name for c in T.EVENTS.columns])


def _none(v: object) -> object:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else v


def fired_events(engine: Engine) -> pd.DataFrame:
    """Every fired event (event_type, account_id, at), for the outcome report's first-flag dates."""
    T.ensure(engine)
    with engine.connect() as conn:
        return pd.read_sql(sa.select(T.EVENTS.c.event_type, T.EVENTS.c.action, T.EVENTS.c.account_id, T.EVENTS.c.at)
                           .where(T.EVENTS.c.action == "fired"), conn)
