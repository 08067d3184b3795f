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


def _reasons(engine: Engine) -> pd.DataFrame:
    why = registry.read_results(engine, T.REASONS)
    if why.empty:
        return pd.DataFrame(columns=["account_id", "product_id", "reason_1", "reason_2", "reason_3"])
    wide = why.pivot_table(index=["account_id", "product_id"], columns="rank", values="reason", aggfunc="first")
    wide.columns = [f"reason_{int(c)}" for c in wide.columns]
    for c in ("reason_1", "reason_2", "reason_3"):
        if c not in wide:
            wide[c] = None
    return wide.reset_index()


CONFIDENCE_COLUMNS = ["probability_low", "probability_high", "novel", "novelty_reason"]


def _confidence(engine: Engine, when: pd.Timestamp, account_id: str | None = None) -> pd.DataFrame:
    """The `expansion_confidence` rows of one score date, of one account if given (none for a version trained
    before it existed)."""
    keys = ["account_id", "product_id"]
    if not sa.inspect(engine).has_table(str(T.CONFIDENCE)):
        return pd.DataFrame(columns=[*keys, *CONFIDENCE_COLUMNS])
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
    confidence columns (`expansion_confidence`): probability_low/high (the interval), novel, novelty_reason."""
    when = _pick_date(score_dates(engine), as_of)
    if when is None:
        return pd.DataFrame()
    rows = registry.read_results(engine, T.SCORES, where="score_date = :d", params={"d": str(when)})
    if rows.empty:  # dates stored with a time part (some drivers)
        rows = registry.read_results(engine, T.SCORES)
        rows = rows[rows.score_date == when]
    accounts = read_table("accounts", engine, columns=["account_id", "name", "segment", "owner_id", "csm_id"])
    people = read_table("people", engine)
    accounts = filter_accounts(accounts, resolve_scope(people, scope or Scope())).drop(columns="csm_id")
    if segments:
        accounts = accounts[accounts.segment.isin(segments)]
    if products:
        rows = rows[rows.product_id.isin(products)]
    names = dict(zip(people.person_id, people.name))
    product_names = read_table("products", engine, columns=["product_id", "name"])
    out = rows.merge(accounts.assign(owner=accounts.owner_id.map(names)).drop(columns="owner_id"), on="account_id")
    out["product"] = out.product_id.map(dict(zip(product_names.product_id, product_names.name)))
    out["suggest"] = out.open_opportunity_id.isna()
    if not include_open:
        out = out[out.suggest]
    if when == max(score_dates(engine)):
        out = out.merge(_reasons(engine), on=["account_id", "product_id"], how="left")
    else:
        out = out.assign(reason_1=None, reason_2=None, reason_3=None)
    out["kind"] = out["kind"].map(KIND_LABELS).fillna(out["kind"])
    out = out.merge(_confidence(engine, when), on=["account_id", "product_id"], how="left")
    out["novel"] = out["novel"].fillna(False).astype(bool)
    cols = ["account_id", "name", "segment", "owner", "product_id", "product", "kind", "probability",
            "expected_arr_usd", "expected_deal_usd", "product_arr_usd", "open_opportunity_id", "suggest",
            "reason_1", "reason_2", "reason_3", "score_date", *CONFIDENCE_COLUMNS]
    return out[cols].sort_values("expected_arr_usd", ascending=False, ignore_index=True)


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
