"""AppTest: the Where to grow page and the account's next best product, on the demo with expansion trained."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from services.db import get_engine, read_table
from services.expansion import read as expansion
from ui.expansion import SHOWN_ROWS


def test_where_to_grow_untrained(demo_db_url: str, run_app) -> None:
    at = run_app("pages/where_to_grow.py")
    assert at.title[0].value == "Where to grow"
    assert any("No expansion model is trained yet" in i.value for i in at.info)


def test_where_to_grow_lists_accounts_x_products_by_expected_arr(expansion_db_url: str, run_app) -> None:
    at = run_app("pages/where_to_grow.py")
    rows = expansion.where_to_grow(get_engine(expansion_db_url))
    table = at.dataframe[0].value
    assert len(table) == min(len(rows), SHOWN_ROWS) > 0  # the top rows go to the browser, all to the CSV
    assert list(table["expected_arr_usd"]) == sorted(table["expected_arr_usd"], reverse=True)
    assert list(table["name"].head(5)) == list(rows["name"].head(5))
    assert table["reason_1"].notna().any()
    # already-open opportunities are marked, and the toggle hides them (no duplicate suggestion)
    opened = table["open_opportunity_id"].notna()
    assert (table.loc[opened, "status"] == "Opportunity open").all()
    assert (table.loc[~opened, "status"] == "Suggested").all()
    at.toggle(key="grow_hide_open").set_value(True).run()
    assert len(at.dataframe[0].value) == min(int(rows.suggest.sum()), SHOWN_ROWS)
    assert at.dataframe[0].value["open_opportunity_id"].isna().all()
    at.toggle(key="grow_hide_open").set_value(False).run()
    product = rows["product"].iloc[0]
    at.multiselect(key="grow_products").set_value([product]).run()
    shown = at.dataframe[0].value
    assert set(shown["product"]) == {product} and len(shown) == min((rows["product"] == product).sum(), SHOWN_ROWS)
    at.multiselect(key="grow_segments").set_value(["SMB"]).run()
    assert len(at.dataframe[0].value) == min(((rows["product"] == product) & (rows["segment"] == "SMB")).sum(),
                                             SHOWN_ROWS)
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


def test_where_to_grow_shows_prospects_by_lead_score_in_scope(expansion_db_url: str, run_app) -> None:
    engine = get_engine(expansion_db_url)
    rows = expansion.prospects(engine)
    assert len(rows) > 0
    at = run_app("pages/where_to_grow.py")
    assert any(s.value == "Prospects" for s in at.subheader)
    table = at.dataframe[1].value
    assert len(table) == min(len(rows), SHOWN_ROWS)
    assert list(table["expected_arr_usd"]) == sorted(table["expected_arr_usd"], reverse=True)
    assert table["reason_1"].notna().any()
    assert len(at.get("download_button")) == 2  # suggestions and prospects, each with its CSV
    accounts = read_table("accounts", engine, columns=["account_id", "owner_id"])
    rep = accounts.set_index("account_id").owner_id[rows.account_id.iloc[0]]
    at.selectbox(key="scope_rep").set_value(rep).run()
    assert not at.exception
    mine = at.dataframe[1].value
    assert 0 < len(mine) < len(rows)
    assert set(mine["account_link"].str.split("=").str[1]) <= set(accounts[accounts.owner_id == rep].account_id)


def test_the_forecast_s_potential_line_is_the_suggestions_not_yet_pipeline(expansion_db_url: str) -> None:
    def script() -> None:
        import os

        from services.hierarchy import Scope
        from ui.expansion import potential_line

        potential_line(os.environ["FORESIGHT_DATABASE_URL"], Scope(), None)

    at = AppTest.from_function(script).run()
    assert not at.exception
    pot = expansion.potential_pipeline(get_engine(expansion_db_url))
    line = " ".join(c.value for c in at.caption)
    assert "not in the forecast" in line and f"${pot['expected_arr_usd']:,.0f}" in line
    assert f"{pot['suggestions']:,} Where to grow suggestions" in line
    table = at.dataframe[0].value  # per product, in the expander under the line
    assert table["expected_arr_usd"].tolist() == pot["by_product"]["expected_arr_usd"].tolist()
    assert abs(table["expected_arr_usd"].sum() - pot["expected_arr_usd"]) < 1e-6 * max(1.0, pot["expected_arr_usd"])
