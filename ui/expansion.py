"""Cached expansion reads for the Where to grow page and the account panel (keys include scope and as-of)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from services.expansion import read as svc
from services.expansion.features import HORIZON_DAYS
from services.hierarchy import Scope
from ui.data import engine_for
from ui.format import MONEY_FORMAT
from ui.text import md

TTL = "10m"
SHOWN_ROWS = 500  # rows sent to the browser (the CSV export holds every row in scope)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def is_trained(url: str) -> bool:
    return svc.is_trained(engine_for(url))


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Reading expansion scores...")
def where_to_grow(url: str, scope: Scope, as_of: dt.date | None) -> pd.DataFrame:
    return svc.where_to_grow(engine_for(url), scope, as_of)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner=False)
def potential_pipeline(url: str, scope: Scope, as_of: dt.date | None) -> dict:
    return svc.potential_pipeline(engine_for(url), scope, as_of)


def potential_line(url: str, scope: Scope, as_of: dt.date | None) -> None:
    """The forecast page's line on pipeline that does not exist yet (Where to grow), never added to it."""
    if not is_trained(url):
        return
    pot = potential_pipeline(url, scope, as_of)
    if not pot:
        return
    st.caption(f"Potential, not in the forecast: ${pot['expected_arr_usd']:,.0f} expected ARR from "
               f"{pot['suggestions']:,} Where to grow suggestions on {pot['accounts']:,} accounts with no "
               "opportunity open yet. It becomes pipeline when a rep opens the deal.",
               help=f"Each suggestion's probability of a won deal within {HORIZON_DAYS} days x the typical deal "
                    f"for its segment and product, scored {pot['score_date']:%d %b %Y}.")
    with st.expander("Potential by product"):  # a small table reads faster than the sums in one sentence
        st.dataframe(pot["by_product"][["product", "suggestions", "expected_arr_usd"]], hide_index=True,
                     width="content", column_config={
                         "product": "Product", "suggestions": "Suggestions",
                         "expected_arr_usd": st.column_config.NumberColumn(
                         "Expected ARR", format=MONEY_FORMAT)})


@st.cache_data(ttl=TTL, max_entries=64, show_spinner=False)
def next_best_product(url: str, account_id: str, as_of: dt.date | None, scope: Scope) -> dict | None:
    return svc.next_best_product(engine_for(url), account_id, as_of, scope)


def next_best_panel(url: str, account_id: str, as_of: dt.date | None, scope: Scope | None = None) -> None:
    """The account's next best product with its reasons (nothing when the expansion model is not trained)."""
    if not is_trained(url):
        return
    best = next_best_product(url, account_id, as_of, scope or Scope())
    st.subheader("Next best product")
    if best is None:
        st.caption("No expansion or cross-sell suggestion for this account (not scored, or every product "
                   "already has an open opportunity).")
        return
    cols = st.columns(3)
    cols[0].metric(best["kind"], best["product"] or best["product_id"])
    cols[1].metric(f"Probability of a won deal ({HORIZON_DAYS} days)", f"{best['probability']:.0%}")
    cols[2].metric("Expected ARR", f"${best['expected_arr_usd']:,.0f}")
    trust_line(best)
    for i, reason in enumerate(best["reasons"], 1):
        st.markdown(f"{i}. {md(reason)}")


def trust_line(best: dict) -> None:
    """Under the next best product: the probability's range and, when unfamiliar, the marker and its reason."""
    from ui import confidence as trust

    parts = [f"Range {r}"] if (r := trust.range_text(best.get("probability_low"), best.get("probability_high"))) else []
    if best.get("novel"):
        parts.append(f"**{trust.UNFAMILIAR}**: {md(best.get('novelty_reason') or '')}")
    if parts:
        st.markdown(" · ".join(parts), help=trust.explain())
