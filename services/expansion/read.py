"""Read side of expansion for pages: where to grow (accounts x products by expected ARR), next best product.

No Streamlit. Rows come from the active `expansion` version at the latest score date on or before the
as-of; a product with an expansion or new-business opportunity already open is marked, never suggested
again as new (`suggest=False`).
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import registry
from services.db import read_table
from services.expansion import tables as T
from services.hierarchy import Scope, accounts_in_scope, filter_accounts, require_in_scope, resolve_scope

KIND_LABELS = {"expansion": "Expansion", "cross_sell": "Cross-sell"}


def is_trained(engine: Engine) -> bool:
    return registry.shown_version(engine, T.MODEL) is not None


def score_dates(engine: Engine) -> list[pd.Timestamp]:
    version = registry.shown_version(engine, T.MODEL)
    if version is None or not sa.inspect(engine).has_table(str(T.SCORES)):
        return []
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f'SELECT DISTINCT score_date FROM "{T.SCORES}" WHERE model_version = :v'),
                            {"v": version}).scalars().all()
    return sorted(pd.Timestamp(d) for d in rows)


def _pick_date(dates: list[pd.Timestamp], as_of: Any) -> pd.Timestamp | None:
    if not dates:
        return None
    if as_of is None:
        return dates[-1]
    ok = [d for d in dates if d <= pd.Timestamp(as_of)]
    return ok[-1] if ok else dates[0]


MAX_IDS_IN_QUERY = 900  # ids bound per query (SQLite's old limit is 999 variables)
SCOPED_READ_LIMIT = 20_000  # above this many accounts in scope, the score date is read whole and joined


def _rows_of(engine: Engine, table: Any, account_ids: list[str] | None, where: str = "",
             params: dict | None = None) -> pd.DataFrame:
    """The active version's rows of `table` for these accounts (None: every account), by the version +
    account index in chunks of bound ids; a very large scope reads the rows matching `where` once."""
    if account_ids is None or len(account_ids) > SCOPED_READ_LIMIT:
        rows = registry.read_results(engine, table, where=where, params=params or {})
        return rows if account_ids is None else rows[rows.account_id.isin(account_ids)]
    parts = []
    for lo in range(0, len(account_ids), MAX_IDS_IN_QUERY):
        chunk = account_ids[lo:lo + MAX_IDS_IN_QUERY]
        marks = ", ".join(f":a{i}" for i in range(len(chunk)))
        cond = f"account_id IN ({marks})" + (f" AND {where}" if where else "")
        parts.append(registry.read_results(engine, table, where=cond,
                                           params={**(params or {}), **{f"a{i}": a for i, a in enumerate(chunk)}}))
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _reasons(engine: Engine, account_ids: list[str] | None = None) -> pd.DataFrame:
    why = _rows_of(engine, T.REASONS, account_ids)
    if why.empty:
        return pd.DataFrame(columns=["account_id", "product_id", "reason_1", "reason_2", "reason_3"])
    wide = why.pivot_table(index=["account_id", "product_id"], columns="rank", values="reason", aggfunc="first")
    wide.columns = [f"reason_{int(c)}" for c in wide.columns]
    for c in ("reason_1", "reason_2", "reason_3"):
        if c not in wide:
            wide[c] = None
    return wide.reset_index()


def _day_range(when: pd.Timestamp) -> dict[str, str]:
    """Bounds of one day as text (a date column compares with them on SQLite, stored with or without a time
    part, and on PostgreSQL, cast)."""
    day = pd.Timestamp(when).normalize()
    return {"lo": str(day.date()), "hi": str((day + pd.Timedelta(days=1)).date())}


def _scores_at(engine: Engine, stored: Any, account_ids: list[str] | None) -> pd.DataFrame:
    """Rows of one score date, `stored` as the database returned it (equality: the version + date +
    account index is searched, never the whole date)."""
    return _rows_of(engine, T.SCORES, account_ids, "score_date = :d", {"d": stored})


def _latest_dates(engine: Engine, as_of: Any) -> tuple[Any, pd.Timestamp | None]:
    """(the score date to show, as stored: the latest on or before `as_of`, else the first; the latest
    stored, as a day), by MAX/MIN over the version + score date index instead of listing every date."""
    version = registry.shown_version(engine, T.MODEL)
    if version is None or not sa.inspect(engine).has_table(str(T.SCORES)):
        return None, None
    sql = f'SELECT {{f}}(score_date) FROM "{T.SCORES}" WHERE model_version = :v'
    with engine.connect() as conn:
        latest = conn.execute(sa.text(sql.format(f="MAX")), {"v": version}).scalar()
        if latest is None:
            return None, None
        when = latest
        if as_of is not None:
            hi = _day_range(pd.Timestamp(as_of))["hi"]
            when = conn.execute(sa.text(sql.format(f="MAX") + " AND score_date < :hi"), {"v": version, "hi": hi}
                                ).scalar() or conn.execute(sa.text(sql.format(f="MIN")), {"v": version}).scalar()
    return when, pd.Timestamp(latest).normalize()


def _accounts_in(engine: Engine, owners: set[str] | None, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Accounts owned or looked after (CSM) by someone in `owners` (all when None), filtered in SQL on the
    owner and CSM indexes."""
    cols = ["account_id", "name", "segment", *extra, "owner_id", "csm_id"]
    if owners is None:
        return read_table("accounts", engine, columns=cols)
    if not owners:
        return read_table("accounts", engine, columns=cols).head(0)
    names = sorted(owners)
    marks = ", ".join(f":p{i}" for i in range(len(names)))
    return read_table("accounts", engine, columns=cols, where=f"owner_id IN ({marks}) OR csm_id IN ({marks})",
                      params={f"p{i}": p for i, p in enumerate(names)})
CONFIDENCE_COLUMNS = ["probability_low", "probability_high", "novel", "novelty_reason"]


def _confidence(engine: Engine, when: pd.Timestamp, account_id: str | None = None, *, stored: Any = None,
                account_ids: list[str] | None = None) -> pd.DataFrame:
    """The `expansion_confidence` rows of one score date, of one account if given (none for a version trained
    before it existed). With `stored` (the date as the database returned it) only `account_ids` are read, by
    the version + account index."""
    keys = ["account_id", "product_id"]
    if not sa.inspect(engine).has_table(str(T.CONFIDENCE)):
        return pd.DataFrame(columns=[*keys, *CONFIDENCE_COLUMNS])
    if stored is not None:
        conf = _rows_of(engine, T.CONFIDENCE, account_ids, "score_date = :d", {"d": stored})
        if not conf.empty:
            return conf[[*keys, *CONFIDENCE_COLUMNS]]
    where, params = ("account_id = :a", {"a": account_id}) if account_id is not None else ("", {})
    conf = registry.read_results(engine, T.CONFIDENCE, where=" AND ".join(w for w in ("score_date = :d", where) if w),
                                 params={"d": str(when), **params})
    if conf.empty:  # dates stored with a time part (some drivers)
        conf = registry.read_results(engine, T.CONFIDENCE, where=where, params=params or None)
        conf = conf[pd.to_datetime(conf.score_date) == when]
    return conf[[*keys, *CONFIDENCE_COLUMNS]] if not conf.empty else pd.DataFrame(columns=[*keys, *CONFIDENCE_COLUMNS])


def where_to_grow(engine: Engine, scope: Scope | None = None, as_of: Any = None, products: list[str] | None = None,
                  segments: list[str] | None = None, include_open: bool = True) -> pd.DataFrame:
    """Accounts x products in scope, sorted by expected ARR (largest first).

    Columns: account_id, name, segment, owner, product_id, product, kind (Expansion / Cross-sell),
    probability, expected_arr_usd, expected_deal_usd, product_arr_usd, open_opportunity_id, suggest
    (False where an opportunity is already open), reason_1..3 (latest score date only), score_date, and the
    confidence columns (`expansion_confidence`): probability_low/high (the interval), novel, novelty_reason.
    Only the accounts in scope are read (by the version + account index), never the whole score date."""
    stored, latest = _latest_dates(engine, as_of)
    if stored is None:
        return pd.DataFrame()
    when = pd.Timestamp(stored).normalize()
    people = read_table("people", engine)
    owners = resolve_scope(people, scope or Scope())
    accounts = filter_accounts(_accounts_in(engine, owners), owners).drop(columns="csm_id")
    if segments:
        accounts = accounts[accounts.segment.isin(segments)]
    ids = None if owners is None and not segments else accounts.account_id.tolist()
    rows = _scores_at(engine, stored, ids)
    if rows.empty:
        return pd.DataFrame()
    if products:
        rows = rows[rows.product_id.isin(products)]
    names = dict(zip(people.person_id, people.name))
    product_names = read_table("products", engine, columns=["product_id", "name"])
    out = rows.merge(accounts.assign(owner=accounts.owner_id.map(names)).drop(columns="owner_id"), on="account_id")
    out["score_date"] = pd.to_datetime(out["score_date"]).dt.normalize()
    out["product"] = out.product_id.map(dict(zip(product_names.product_id, product_names.name)))
    out["suggest"] = out.open_opportunity_id.isna()
    if not include_open:
        out = out[out.suggest]
    if when == latest:
        out = out.merge(_reasons(engine, ids), on=["account_id", "product_id"], how="left")
    else:
        out = out.assign(reason_1=None, reason_2=None, reason_3=None)
    out["kind"] = out["kind"].map(KIND_LABELS).fillna(out["kind"])
    out = out.merge(_confidence(engine, when, stored=stored, account_ids=ids), on=["account_id", "product_id"],
                    how="left")
    out["novel"] = out["novel"].fillna(False).astype(bool)
    cols = ["account_id", "name", "segment", "owner", "product_id", "product", "kind", "probability",
            "expected_arr_usd", "expected_deal_usd", "product_arr_usd", "open_opportunity_id", "suggest",
            "reason_1", "reason_2", "reason_3", "score_date", *CONFIDENCE_COLUMNS]
    return out[cols].sort_values("expected_arr_usd", ascending=False, ignore_index=True)


def potential_pipeline(engine: Engine, scope: Scope | None = None, as_of: Any = None) -> dict[str, Any]:
    """Pipeline that does not exist yet: the suggestions in scope (no growth opportunity open) with their
    summed expected ARR, overall and per product. Not counted in the forecast; the forecast page shows it
    beside it. Empty dict when the expansion model is not trained or nothing is scored."""
    rows = where_to_grow(engine, scope, as_of, include_open=False)
    if rows.empty:
        return {}
    by_product = rows.groupby("product", dropna=False).agg(suggestions=("account_id", "size"),
                                                            expected_arr_usd=("expected_arr_usd", "sum"))
    return {"score_date": pd.Timestamp(rows.score_date.iloc[0]), "suggestions": len(rows),
            "accounts": int(rows.account_id.nunique()), "expected_arr_usd": float(rows.expected_arr_usd.sum()),
            "by_product": by_product.sort_values("expected_arr_usd", ascending=False).reset_index()}


def next_best_product(engine: Engine, account_id: str, as_of: Any = None,
                      scope: Scope | None = None) -> dict[str, Any] | None:
    """The account's product with the highest expected ARR and no open opportunity, with its reasons and its
    confidence (probability_low/high, novel, novelty_reason); None when the model is not trained or the
    account is not scored; NotInScope outside `scope`."""
    require_in_scope(accounts_in_scope(engine, scope), account_id)
    when = _pick_date(score_dates(engine), as_of)
    if when is None:
        return None
    rows = registry.read_results(engine, T.SCORES, where="account_id = :a", params={"a": account_id})
    rows = rows[(rows.score_date == when) & rows.open_opportunity_id.isna()]
    if rows.empty:
        return None
    best = rows.sort_values("expected_arr_usd", ascending=False).iloc[0]
    product_names = read_table("products", engine, columns=["product_id", "name"])
    why = registry.read_results(engine, T.REASONS, where="account_id = :a AND product_id = :p",
                                params={"a": account_id, "p": best.product_id}).sort_values("rank")
    conf = _confidence(engine, when, account_id)
    conf = conf[conf.product_id == best.product_id]
    trust = ({c: conf[c].iloc[0] for c in CONFIDENCE_COLUMNS} if not conf.empty else
             {"probability_low": None, "probability_high": None, "novel": False, "novelty_reason": None})
    trust["novel"] = bool(trust["novel"]) if trust["novel"] is not None and not pd.isna(trust["novel"]) else False
    return {**trust, "product_id": best.product_id,
            "product": dict(zip(product_names.product_id, product_names.name)).get(best.product_id),
            "kind": KIND_LABELS.get(best.kind, best.kind), "probability": float(best.probability),
            "expected_arr_usd": float(best.expected_arr_usd), "score_date": pd.Timestamp(best.score_date),
            "reasons": why.reason.tolist() if when == max(score_dates(engine)) else []}


def prospects(engine: Engine, scope: Scope | None = None, as_of: Any = None) -> pd.DataFrame:
    """Lost prospects in scope by their lead score (expected ARR = probability of re-engaging within 180 days
    x the lost deal's amount), with three reasons in words. Stored at the data's as-of only: an earlier
    as-of gives an empty frame with `attrs["stored"]` the date that is stored.

    Columns: account_id, name, segment, industry, owner, product, probability, expected_arr_usd,
    lost_amount_usd, days_since_loss, lost_opportunity_id, reason_1..3, score_date."""
    cols = ["account_id", "name", "segment", "industry", "owner", "product", "probability", "expected_arr_usd",
            "lost_amount_usd", "days_since_loss", "lost_opportunity_id", "reason_1", "reason_2", "reason_3",
            "score_date"]
    people = read_table("people", engine)
    owners = resolve_scope(people, scope or Scope())
    accounts = filter_accounts(_accounts_in(engine, owners, ("industry",)), owners)
    ids = None if owners is None else accounts.account_id.tolist()
    rows = _rows_of(engine, T.PROSPECT_SCORES, ids)
    if rows.empty:
        return pd.DataFrame(columns=cols)
    stored = pd.Timestamp(rows.score_date.max())
    if as_of is not None and pd.Timestamp(as_of) < stored:
        out = pd.DataFrame(columns=cols)
        out.attrs["stored"] = stored
        return out
    names = dict(zip(people.person_id, people.name))
    product_names = dict(read_table("products", engine, columns=["product_id", "name"]).itertuples(index=False))
    out = rows.merge(accounts.drop(columns="csm_id"), on="account_id")
    out["owner"] = out.owner_id.map(names)
    out["product"] = out.lost_product_id.map(product_names).fillna(out.lost_product_id)
    why = _rows_of(engine, T.PROSPECT_REASONS, ids)
    if not why.empty:
        wide = why.pivot_table(index="account_id", columns="rank", values="reason", aggfunc="first")
        wide.columns = [f"reason_{int(c)}" for c in wide.columns]
        out = out.merge(wide.reset_index(), on="account_id", how="left")
    for c in ("reason_1", "reason_2", "reason_3"):
        if c not in out:
            out[c] = None
    return out[cols].sort_values("expected_arr_usd", ascending=False, ignore_index=True)
