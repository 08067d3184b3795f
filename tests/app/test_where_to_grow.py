"""AppTest: the Where to grow page and the account's next best product, on the demo with expansion trained."""
from __future__ import annotations

from services.db import get_engine, read_table
from services.expansion import read as expansion


def test_where_to_grow_untrained(demo_db_url: str, run_app) -> None:
    at = run_app("pages/where_to_grow.py")
    assert at.title[0].value == "Where to grow"
    assert any("No expansion model is trained yet" in i.value for i in at.info)


def test_where_to_grow_lists_accounts_x_products_by_expected_arr(expansion_db_url: str, run_app) -> None:
    at = run_app("pages/where_to_grow.py")
    rows = expansion.where_to_grow(get_engine(expansion_db_url))
    table = at.dataframe[0].value
    assert len(table) == len(rows) > 0
    assert list(table["expected_arr_usd"]) == sorted(table["expected_arr_usd"], reverse=True)
    assert list(table["name"].head(5)) == list(rows["name"].head(5))
    assert table["reason_1"].notna().any()
    # already-open opportunities are marked, and the toggle hides them (no duplicate suggestion)
    opened = table["open_opportunity_id"].notna()
    assert (table.loc[opened, "status"] == "Opportunity open").all()
    assert (table.loc[~opened, "status"] == "Suggested").all()
    at.toggle(key="grow_hide_open").set_value(True).run()
    assert len(at.dataframe[0].value) == int((~opened).sum())
    at.toggle(key="grow_hide_open").set_value(False).run()
    product = rows["product"].iloc[0]
    at.multiselect(key="grow_products").set_value([product]).run()
    shown = at.dataframe[0].value
    assert set(shown["product"]) == {product} and len(shown) == (rows["product"] == product).sum()
    at.multiselect(key="grow_segments").set_value(["SMB"]).run()
    assert len(at.dataframe[0].value) == ((rows["product"] == product) & (rows["segment"] == "SMB")).sum()
    assert at.get("download_button")


def test_where_to_grow_follows_the_sidebar_scope(expansion_db_url: str, run_app) -> None:
    engine = get_engine(expansion_db_url)
    rows = expansion.where_to_grow(engine)
    accounts = read_table("accounts", engine, columns=["account_id", "owner_id"])
    rep = accounts[accounts.account_id == rows.account_id.iloc[0]].owner_id.iloc[0]
    at = run_app("pages/where_to_grow.py")
    at.selectbox(key="scope_rep").set_value(rep).run()
    assert not at.exception
    table = at.dataframe[0].value
    owned_by_rep = set(accounts[accounts.owner_id == rep].account_id)
    assert 0 < len(table) < len(rows)
    assert set(table["account_link"].str.split("=").str[1]) <= owned_by_rep


def test_account_page_shows_the_next_best_product(expansion_db_url: str, run_app) -> None:
    engine = get_engine(expansion_db_url)
    rows = expansion.where_to_grow(engine, include_open=False)
    account = rows.account_id.iloc[0]
    best = expansion.next_best_product(engine, account)
    assert best is not None and best["product_id"] == rows.product_id.iloc[0]
    assert best["probability_low"] <= best["probability"] <= best["probability_high"]
    at = run_app(None)
    at.query_params["account_id"] = account
    at.switch_page("pages/account.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value == "Next best product" for s in at.subheader)
    assert any(m.value == best["product"] for m in at.metric)
    assert any(m.value.startswith("Range ") and "%" in m.value for m in at.markdown)  # its range beside it
