"""AppTest: the trust marker, range and show/hide switch on the churn list, Where to grow and the forecast deals.

Each test flags one scored row as unfamiliar in its private copy of a trained demo (the small demos need not
hold a flagged row of their own), then checks that the page marks that row with its reason, shows a range
for the scores, and that switching "Show unfamiliar" off hides exactly the flagged rows."""
from __future__ import annotations

import sqlalchemy as sa

from services.churn import read as churn
from services.db import get_engine
from services.expansion import read as expansion
from services.forecast import read as fc
from ui.confidence import UNFAMILIAR

REASON = "Unlike the training data: planted by the test"


def _flag(url: str, table: str, where: str, params: dict) -> None:
    with get_engine(url).begin() as conn:
        n = conn.execute(sa.text(f'UPDATE "{table}" SET novel = :t, novelty_reason = :r WHERE {where}'),
                         {"t": True, "r": REASON, **params}).rowcount
    assert n >= 1


def _check_marker_and_toggle(at, key: str, ids_column: str, flagged: str) -> None:
    table = at.dataframe[0].value
    marked = table[table["trust"] == UNFAMILIAR]
    assert flagged in set(marked[ids_column]) and (marked["trust_reason"] != "").all()
    assert REASON in set(table.loc[table[ids_column] == flagged, "trust_reason"])
    assert (table["probability_range"].str.contains("%")).mean() > 0.9  # a range beside (nearly) every score
    at.toggle(key=key).set_value(False).run()
    assert not at.exception
    hidden = at.dataframe[0].value
    assert not (hidden["trust"] == UNFAMILIAR).any()
    # the rows that were not marked stay, in order (a list cut to its top rows may fill up from below)
    kept = table.loc[table["trust"] != UNFAMILIAR, ids_column].tolist()
    assert hidden[ids_column].head(len(kept)).tolist() == kept and len(hidden) <= len(table)


def test_churn_list_marks_an_unfamiliar_account_and_hides_it(churn_db_url: str, run_app) -> None:
    risk = churn.at_risk(get_engine(churn_db_url))
    account = risk.account_id.iloc[0]
    _flag(churn_db_url, "churn_confidence", "account_id = :a", {"a": account})
    at = run_app("pages/churn_risk.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table.columns) >= {"trust", "probability_range", "trust_reason"}
    link = f"account?account_id={account}"
    _check_marker_and_toggle(at, "churn_show_unfamiliar", "account_link", link)


def test_where_to_grow_marks_an_unfamiliar_row_and_hides_it(expansion_db_url: str, run_app) -> None:
    rows = expansion.where_to_grow(get_engine(expansion_db_url))
    assert rows.probability_low.notna().all() and (rows.probability_low <= rows.probability).all()
    top = rows.iloc[0]
    _flag(expansion_db_url, "expansion_confidence", "account_id = :a AND product_id = :p",
          {"a": top.account_id, "p": top.product_id})
    at = run_app("pages/where_to_grow.py")
    assert not at.exception
    table = at.dataframe[0].value
    first = table.iloc[0]
    assert first["trust"] == UNFAMILIAR and first["trust_reason"] == REASON
    _check_marker_and_toggle(at, "grow_show_unfamiliar", "account_link", f"account?account_id={top.account_id}")


def test_forecast_deals_show_a_win_range_and_hide_unfamiliar_deals(trained_db_url: str, run_app) -> None:
    engine = get_engine(trained_db_url)
    deals_now = _stored_deals(engine)
    stored = fc.with_deal_novelty(engine, deals_now)
    assert stored.p_win_low.notna().any() and (stored.p_win_low <= stored.p_win + 1e-9).all()
    deal = deals_now.sort_values("contribution_usd", ascending=False).opportunity_id.iloc[0]
    _flag(trained_db_url, "forecast_deal_novelty", "opportunity_id = :o", {"o": deal})
    at = run_app("pages/forecast.py")
    assert not at.exception
    deals = next(d for d in at.dataframe if "opportunity_id" in d.value.columns)
    assert "probability_range" in deals.value.columns
    table = deals.value
    marked = table[table["trust"] == UNFAMILIAR]
    assert deal in set(marked["opportunity_id"])
    assert (table["probability_range"].str.contains("%")).mean() > 0.9
    at.toggle(key="forecast_show_unfamiliar").set_value(False).run()
    after = next(d for d in at.dataframe if "opportunity_id" in d.value.columns).value
    assert len(after) == len(table) - len(marked) and deal not in set(after["opportunity_id"])


def _stored_deals(engine):
    from services import registry
    from services.forecast import tables as T

    deals = registry.read_results(engine, T.DEALS, T.MODEL)
    return deals[deals.h == 0]
