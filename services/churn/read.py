"""Read side of churn risk for pages: at-risk list, portfolio summary, account 360. No Streamlit."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import registry
from services.churn import tables as T
from services.churn.custom import MODEL as C_MODEL
from services.churn.tables import MODEL, TIERS
from services.db import read_table
from services.hierarchy import Scope, accounts_in_scope, filter_accounts, require_in_scope, resolve_scope

TIER_ORDER = [name for name, _ in TIERS]


def is_trained(engine: Engine, model: str = MODEL) -> bool:
    return registry.shown_version(engine, model) is not None


def model_info(engine: Engine, model: str = MODEL) -> dict[str, Any]:
    """The active version's metrics and as-of (empty when the model is not trained)."""
    v = registry.versions(engine, model)
    v = v[v.status == "active"]
    if v.empty:
        return {}
    row = v.iloc[0]
    return {"version": row["version"], "as_of": pd.Timestamp(row["as_of"]), "created_at": row["created_at"],
            "metrics": registry.active_metrics(engine, model)}


def score_dates(engine: Engine, model: str = MODEL) -> list[pd.Timestamp]:
    return registry.snapshot_dates(engine, T.SCORES, "score_date", model)


def _scores_at(engine: Engine, as_of: Any) -> pd.DataFrame:
    return registry.read_snapshot(engine, T.SCORES, "score_date", as_of, MODEL)


def previous_month_end(when: Any) -> pd.Timestamp:
    """"Last month" for a score date: the end of the month before its month (30 Nov -> 31 Oct, 1 Dec -> 30 Nov),
    never merely the previous score date (a data date one day after a month-end would compare with the day
    before and show no change)."""
    return (pd.Timestamp(when).to_period("M") - 1).to_timestamp(how="end").normalize()


def at_risk(engine: Engine, scope: Scope | None = None, as_of: Any = None, csm_id: str | None = None) -> pd.DataFrame:
    """Scored accounts in scope at the latest score date <= as_of (None: the latest), sorted by expected
    ARR at risk; empty when no score date is at or before `as_of`.

    Columns: account_id, name, segment, region, csm, probability, tier, change_pp (probability change
    since the previous month-end's scores, in points: `previous_month_end`), previous_tier, arr_usd, expected_arr_at_risk_usd,
    days_to_renewal, renewal_date, reason_1..3, adoption_cluster (when present), score_date.
    `attrs`: `score_date` (None: no scores at or before `as_of`) and `reasons_date`, the one score date
    reasons are stored for (the latest); at other dates reason_1..3 are empty."""
    scope = scope or Scope()
    cur = _scores_at(engine, as_of)
    when = cur.attrs["snapshot"]
    dates = score_dates(engine)
    attrs = {"score_date": when, "reasons_date": dates[-1] if dates else None}
    if cur.empty:
        return _with_attrs(pd.DataFrame(), attrs)
    prev = _scores_at(engine, previous_month_end(when)).set_index("account_id")
    cur["previous_probability"] = cur.account_id.map(prev["probability"]) if len(prev) else np.nan
    cur["previous_tier"] = cur.account_id.map(prev["tier"]) if len(prev) else None
    cur["change_pp"] = 100 * (cur["probability"] - cur["previous_probability"])
    accounts = read_table("accounts", engine, columns=["account_id", "name", "segment", "region", "owner_id",
                                                       "csm_id"])
    people = read_table("people", engine, columns=["person_id", "name"])
    accounts = filter_accounts(accounts, resolve_scope(read_table("people", engine), scope))
    if csm_id:
        accounts = accounts[accounts.csm_id == csm_id]
    names = dict(zip(people.person_id, people.name))
    accounts = accounts.assign(csm=accounts.csm_id.map(names), owner=accounts.owner_id.map(names))
    out = cur.merge(accounts.drop(columns=["owner_id"]), on="account_id", how="inner")
    reasons = registry.read_results(engine, T.REASONS, MODEL) if when == attrs["reasons_date"] else pd.DataFrame()
    wide = (reasons.pivot_table(index="account_id", columns="rank", values="reason", aggfunc="first")
            if not reasons.empty else pd.DataFrame())
    for r in (1, 2, 3):
        out[f"reason_{r}"] = out.account_id.map(wide[r]) if r in wide else None
    keep = ["account_id", "name", "segment", "region", "csm", "owner", "csm_id", "probability", "tier",
            "change_pp", "previous_tier", "arr_usd", "expected_arr_at_risk_usd", "days_to_renewal",
            "renewal_date", "reason_1", "reason_2", "reason_3", "score_date"]
    if "adoption_cluster" in out:
        keep.insert(9, "adoption_cluster")
    if "arr_renewing_usd" in out:  # versions before risk at the next renewal did not store it
        keep.insert(keep.index("arr_usd") + 1, "arr_renewing_usd")
    out = out[keep].sort_values("expected_arr_at_risk_usd", ascending=False, ignore_index=True)
    return _with_attrs(out, attrs)


def _with_attrs(frame: pd.DataFrame, attrs: dict[str, Any]) -> pd.DataFrame:
    frame.attrs.update(attrs)
    return frame


@dataclass
class Portfolio:
    arr_by_tier: pd.DataFrame  # tier, accounts, arr_usd, expected_arr_at_risk_usd
    movements: pd.DataFrame  # previous_tier, tier, accounts, arr_usd
    renewals_90d: pd.DataFrame  # tier, accounts, arr_usd
    totals: dict[str, float] = field(default_factory=dict)


def portfolio(risk: pd.DataFrame) -> Portfolio:
    """Portfolio summary of an `at_risk()` frame: ARR by tier, tier movements, renewals due in `RENEWALS_DUE_DAYS`."""
    tiers = pd.CategoricalDtype(TIER_ORDER, ordered=True)
    r = risk.assign(tier=risk.tier.astype(tiers))
    by_tier = r.groupby("tier", observed=False).agg(
        accounts=("account_id", "size"), arr_usd=("arr_usd", "sum"),
        expected_arr_at_risk_usd=("expected_arr_at_risk_usd", "sum")).reset_index()
    moved = r.assign(previous_tier=r.previous_tier.fillna("new")).groupby(
        ["previous_tier", "tier"], observed=True).agg(accounts=("account_id", "size"),
                                                      arr_usd=("arr_usd", "sum")).reset_index()
    due = r[r.days_to_renewal <= T.RENEWALS_DUE_DAYS].groupby("tier", observed=False).agg(
        accounts=("account_id", "size"), arr_usd=("arr_usd", "sum")).reset_index()
    up = r.previous_tier.notna() & (r.previous_tier.map({t: i for i, t in enumerate(TIER_ORDER)}).fillna(-1)
                                    > r.tier.cat.codes)
    totals = {"accounts": float(len(r)), "arr_usd": float(r.arr_usd.sum()),
              "expected_arr_at_risk_usd": float(r.expected_arr_at_risk_usd.sum()),
              "moved_to_higher_tier": float(up.sum())}
    return Portfolio(by_tier, moved, due, totals)


@dataclass
class Account360:
    account: dict[str, Any]
    subscriptions: pd.DataFrame
    usage: pd.DataFrame  # product, month, capacity, consumption, use
    risk_history: pd.DataFrame  # score_date, probability, tier
    reasons: pd.DataFrame  # rank, reason, group, contribution
    contributions: pd.DataFrame  # explanation shape: group, feature, value, contribution, base_value
    cases: pd.DataFrame
    opportunities: pd.DataFrame
    actions: pd.DataFrame
    reasons_date: pd.Timestamp | None = None  # the score date reasons and contributions are stored for


def _where(engine: Engine, table: str, account_id: str, columns: list[str] | None = None) -> pd.DataFrame:
    if not sa.inspect(engine).has_table(table):
        return pd.DataFrame()
    return read_table(table, engine, columns=columns, where="account_id = :a", params={"a": account_id})


def in_scope(engine: Engine, account_id: str, scope: Scope | None) -> bool:
    """Whether the account is within the scope, by owner or CSM (True for the whole company or an unknown id)."""
    allowed = accounts_in_scope(engine, scope)
    return allowed is None or account_id in allowed or _where(engine, "accounts", account_id, ["owner_id"]).empty


def account_360(engine: Engine, account_id: str, as_of: Any = None,
                scope: Scope | None = None) -> Account360 | None:
    """Everything about one account as of `as_of` (None: everything known): scores, usage, cases and
    subscriptions up to that date, opportunities open on it (None when the id is unknown; NotInScope when
    outside `scope`). Reasons and contributions are stored for the latest score date only (`reasons_date`):
    empty for an earlier as-of."""
    acc = _where(engine, "accounts", account_id)
    if acc.empty:
        return None
    require_in_scope(accounts_in_scope(engine, scope), account_id)
    until = pd.Timestamp.max if as_of is None else pd.Timestamp(as_of)
    people = read_table("people", engine, columns=["person_id", "name"])
    names = dict(zip(people.person_id, people.name))
    account = acc.iloc[0].to_dict()
    account["owner"] = names.get(account.get("owner_id"))
    account["csm"] = names.get(account.get("csm_id"))
    products = read_table("products", engine)
    pname = dict(zip(products.product_id, products.name))
    subs = _where(engine, "subscriptions", account_id).sort_values("start_date", ascending=False)
    subs = subs[subs.start_date <= until]
    subs["product"] = subs.product_id.map(pname)
    with engine.connect() as conn:
        usage = pd.read_sql(sa.text(
            "SELECT u.product_id, u.month, SUM(CASE WHEN c.role='capacity' THEN u.value END) AS capacity, "
            "SUM(CASE WHEN c.role='consumption' THEN u.value END) AS consumption FROM usage_monthly u "
            "JOIN metric_catalog c ON c.metric_id = u.metric_id WHERE u.account_id = :a "
            "GROUP BY u.product_id, u.month ORDER BY u.month"), conn, params={"a": account_id})
    usage["month"] = pd.to_datetime(usage["month"])
    usage["product"] = usage.product_id.map(pname)
    usage["use"] = usage.consumption / usage.capacity.where(usage.capacity > 0)
    usage = usage[usage.month <= until]
    scores = registry.read_results(engine, T.SCORES, MODEL, "account_id = :a", {"a": account_id})
    history = scores.sort_values("score_date")[["score_date", "probability", "tier", "arr_usd",
                                                "expected_arr_at_risk_usd", *(["adoption_cluster"] if
                                                "adoption_cluster" in scores else [])]] if not scores.empty else scores
    dates = score_dates(engine)
    reasons_date = dates[-1] if dates else None
    if not history.empty:
        history = history[history.score_date <= until]
    if reasons_date is not None and reasons_date <= until:
        reasons = registry.read_results(engine, T.REASONS, MODEL, "account_id = :a", {"a": account_id})
        reasons = reasons.sort_values("rank") if not reasons.empty else reasons
        contrib = registry.read_results(engine, T.CONTRIBUTIONS, MODEL, "subject_id = :a", {"a": account_id})
    else:
        reasons = contrib = pd.DataFrame(columns=["rank", "reason", "group", "contribution"])
    cases = _where(engine, "support_cases", account_id).sort_values("opened_date", ascending=False)
    cases = cases[cases.opened_date <= until]
    opps = _where(engine, "opportunities", account_id)
    if not opps.empty:  # open on the as-of date: created by then, not closed by then
        closed = opps.is_closed.astype(bool) & (opps.close_date <= until)
        opps = opps[(opps.created_date <= until) & ~closed]
    if not opps.empty:
        opps = opps.assign(product=opps.product_id.map(pname)).sort_values("close_date")
    actions = _where(engine, "csm_actions", account_id)
    if not actions.empty:
        actions = actions.assign(person=actions.person_id.map(names)).sort_values("created_at", ascending=False)
    return Account360(account, subs, usage, history, reasons, contrib, cases, opps, actions, reasons_date)


# ---------------------------------------------------------------- bring-your-own model (churn-fit)
MODEL_LABELS = {MODEL: "Built-in churn model (demo accounts)", C_MODEL: "Your feature table (churn-fit)"}


def trained_models(engine: Engine) -> list[str]:
    """The churn models with an active version: the built-in one and/or the bring-your-own one."""
    return [m for m in MODEL_LABELS if is_trained(engine, m)]


def custom_scores(engine: Engine, scope: Scope | None = None) -> pd.DataFrame:
    """Rows scored by the active `churn_custom` model, highest probability first, with the top three
    risk-raising contributions in words: account_id, probability, tier, reason_1..3. A bounded scope keeps
    only rows whose id is an account in it."""
    scores = registry.read_results(engine, T.CUSTOM_SCORES)
    allowed = accounts_in_scope(engine, scope)
    if allowed is not None and not scores.empty:
        scores = scores[scores.account_id.astype(str).isin(allowed)]
    if scores.empty:
        return scores
    keep = ["account_id", "probability", "tier", *[f"reason_{r}" for r in (1, 2, 3)]]
    out = scores.reindex(columns=keep)  # versions written before reasons were stored: empty reasons
    return out.sort_values("probability", ascending=False, ignore_index=True)


def custom_contributions(engine: Engine, subject_id: str, scope: Scope | None = None) -> pd.DataFrame:
    """The stored explanation rows of one scored row of the `churn_custom` model."""
    require_in_scope(accounts_in_scope(engine, scope), str(subject_id), "Row")
    return registry.read_results(engine, T.CUSTOM_CONTRIBUTIONS, T.CUSTOM_MODEL, "subject_id = :s", {"s": str(subject_id)})


# ---------------------------------------------------------------- confidence (services/churn/confidence.py)
CONFIDENCE_COLUMNS = ["probability_low", "probability_high", "novelty", "novel", "novelty_reason", "tier_confident"]


def _confidence_frame(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=["account_id", "score_date", *CONFIDENCE_COLUMNS])
    frame = frame.drop(columns=["model_version", "as_of"], errors="ignore")
    frame["novel"] = frame["novel"].fillna(False).astype(bool)
    frame["score_date"] = pd.to_datetime(frame["score_date"])
    return frame


def has_confidence(engine: Engine) -> bool:
    return is_trained(engine) and sa.inspect(engine).has_table(str(T.CONFIDENCE))


def with_confidence(engine: Engine, risk: pd.DataFrame) -> pd.DataFrame:
    """`risk` (rows of `at_risk`, or any frame with account_id and score_date) with the confidence columns:
    probability_low/high (the interval), novel, novelty, novelty_reason, tier_confident. Rows without a
    confidence row (a version trained before it existed) get novel False and no interval."""
    out = risk.copy()
    if risk.empty or not has_confidence(engine):
        for c in CONFIDENCE_COLUMNS:
            out[c] = False if c == "novel" else None
        return out
    ids = risk["account_id"].unique()
    where, params = ("account_id = :a", {"a": str(ids[0])}) if len(ids) == 1 else ("", None)
    parts = []
    for d in sorted(pd.to_datetime(risk["score_date"]).dropna().unique()):  # one snapshot per score date
        snap = registry.read_snapshot(engine, T.CONFIDENCE, "score_date", d, MODEL, where, params)
        if snap.attrs["snapshot"] == pd.Timestamp(d):
            parts.append(snap)
    conf = _confidence_frame(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame())
    out["score_date"] = pd.to_datetime(out["score_date"])
    out = out.drop(columns=[c for c in CONFIDENCE_COLUMNS if c in out]).merge(
        conf[["account_id", "score_date", *CONFIDENCE_COLUMNS]], on=["account_id", "score_date"], how="left")
    out["novel"] = out["novel"].fillna(False).astype(bool)
    out.attrs = risk.attrs
    return out


def novelty_over_time(engine: Engine) -> pd.DataFrame:
    """Per score date: scored rows, share flagged novel and share with an abstaining (`uncertain`) tier."""
    if not has_confidence(engine):
        return pd.DataFrame(columns=["score_date", "rows", "share_novel", "share_uncertain"])
    table = str(T.CONFIDENCE)
    version = registry.shown_version(engine, MODEL)
    with engine.connect() as conn:
        out = pd.read_sql(sa.text(
            f"SELECT score_date, COUNT(*) AS rows, AVG(CASE WHEN novel THEN 1.0 ELSE 0.0 END) AS share_novel, "
            f"AVG(CASE WHEN tier_confident = 'uncertain' THEN 1.0 ELSE 0.0 END) AS share_uncertain "
            f"FROM {table} WHERE model_version = :v GROUP BY score_date ORDER BY score_date"),
            conn, params={"v": version})
    out["score_date"] = pd.to_datetime(out["score_date"])
    return out


def find_accounts(engine: Engine, text: str, scope: Scope | None = None, limit: int = 20) -> pd.DataFrame:
    """Accounts in scope whose id or name contains `text` (case-insensitive), exact id first, then by name:
    account_id, name, segment, region. For the Account page's search box."""
    text = (text or "").strip()
    if not text:
        return pd.DataFrame(columns=["account_id", "name", "segment", "region"])
    pattern = f"%{text.lower()}%"
    found = read_table("accounts", engine, columns=["account_id", "name", "segment", "region", "owner_id", "csm_id"],
                       where="lower(account_id) LIKE :p OR lower(name) LIKE :p", params={"p": pattern})
    found = filter_accounts(found, resolve_scope(read_table("people", engine), scope or Scope()))
    exact = found.account_id.str.lower() == text.lower()
    found = found.assign(_exact=~exact).sort_values(["_exact", "name"]).head(limit)
    return found[["account_id", "name", "segment", "region"]].reset_index(drop=True)
