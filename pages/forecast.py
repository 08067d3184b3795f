"""Forecast: bookings for the node in scope against the leader's commit, this quarter and the next two."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from services.forecast import read as fc
from services.hierarchy import scope_people
from ui import data, filters
from ui import forecast as uf
from ui.auth import can, who
from ui.widgets import page_with_data, usd

url = page_with_data("Forecast")
scope = filters.current_scope()
nodes = uf.live_nodes(url, scope)
if nodes.empty:
    st.info("No forecast yet: run `python -m services.cli train`.", icon=":material/info:")
    st.stop()

people = data.people(url)
names = dict(zip(people.person_id, people.name))
person = fc.node_for(people, scope)
owners = tuple(sorted(p for p in scope_people(people, person) if p in set(people.person_id)))
quarters = sorted(nodes.quarter.unique())
quarter = st.segmented_control("Quarter", quarters, default=quarters[0], key="fc_quarter") or quarters[0]
as_of = nodes.origin_date.max()
st.caption(f"As of {as_of:%d %B %Y} · {names.get(person, person)} · {filters.scope_label()}")

fig = fc.figures(data.engine(), nodes, [person], quarter)
row = fig.iloc[0]


def delta(col: str) -> str | None:
    prev = row.get(f"{col}_last_week")
    return None if pd.isna(prev) else f"{usd(row[col] - prev)} vs last week"


tiles = st.columns(3) + st.columns(3)  # two rows: full figures stay readable
tiles[0].metric("Quota", usd(row.quota_usd) if pd.notna(row.quota_usd) else "—")
tiles[1].metric("Commit", usd(row.commit_usd) if pd.notna(row.commit_usd) else "—")
tiles[2].metric("Forecast P50", usd(row.p50_usd), delta("p50_usd"),
                help=f"P10 {usd(row.p10_usd)} - P90 {usd(row.p90_usd)}")
tiles[3].metric("Closed won", usd(row.closed_won_usd), delta("closed_won_usd"))
tiles[4].metric("Gap to commit", usd(row.gap_to_commit_usd) if pd.notna(row.gap_to_commit_usd) else "—")
tiles[5].metric("Pipeline coverage", f"{row.pipeline_coverage:.1f}x", help="Open pipeline / (quota - closed won)")
st.caption(f"P10-P90: {usd(row.p10_usd)} - {usd(row.p90_usd)}")

money = {c: st.column_config.NumberColumn(label, format="dollar") for c, label in (
    ("p10_usd", "P10"), ("p50_usd", "P50"), ("p90_usd", "P90"), ("closed_won_usd", "Closed won"),
    ("commit_usd", "Commit"), ("quota_usd", "Quota"), ("gap_to_commit_usd", "Gap to commit"),
    ("open_pipeline_usd", "Open pipeline"), ("amount_usd", "Amount"), ("contribution_usd", "Contribution"),
    ("actual_usd", "Actual"), ("model_week_1_usd", "Model week 1"), ("model_week_4_usd", "Model week 4"),
    ("model_week_8_usd", "Model week 8"))}

def _drill(people: pd.DataFrame) -> None:
    """Move the shared sidebar scope to the chosen child (runs before the sidebar widgets exist)."""
    drill = st.session_state.get("fc_drill")
    if not drill:
        return
    who = people.set_index("person_id").loc[drill]
    if who.role == "regional_vp":
        st.session_state[filters.REGION] = who.region
    elif who.role == "manager":
        st.session_state[filters.MANAGER] = drill
    elif who.role == "rep":
        st.session_state[filters.REP] = drill
    st.session_state["fc_drill"] = None


kids = fc.children(people, person)
left, right = st.columns([3, 2])
with left:
    st.subheader("Team")
    if kids:
        table = fc.figures(data.engine(), nodes, kids, quarter)
        table.insert(0, "name", table.person_id.map(names))
        st.dataframe(table[["name", "person_id", "quota_usd", "commit_usd", "closed_won_usd", "p10_usd", "p50_usd",
                            "p90_usd", "gap_to_commit_usd", "pipeline_coverage"]], hide_index=True, width="stretch",
                     column_config={**money, "name": "Name", "person_id": "Id",
                                    "pipeline_coverage": st.column_config.NumberColumn("Coverage", format="%.1fx")})
        st.selectbox("Drill down to", [None, *kids], key="fc_drill", on_change=_drill, args=(people,),
                     format_func=lambda p: "Choose a person" if p is None else names.get(p, p))
    else:
        st.caption("A rep: no team below.")
with right:
    st.subheader("By product")
    st.dataframe(fc.by_product(nodes, person, quarter), hide_index=True, width="stretch",
                 column_config={**money, "product_id": "Product"})

actual = uf.actuals(url, owners)
fut = nodes[(nodes.person_id == person) & (nodes.product_id == "ALL") & (nodes.origin_date == as_of)]
commits = fc.commits(data.engine(), scope)
commits = commits[(commits.person_id == person) & commits.quarter.isin(list(actual.quarter) + quarters)]
st.plotly_chart(uf.forecast_chart(actual, fut, commits), width="stretch")

st.subheader("Ending ARR")
arr = uf.ending_arr(url, scope)
arr = arr[(arr.person_id == person) & (arr.product_id == "ALL")] if not arr.empty else arr
if arr.empty:
    st.caption("No ending-ARR forecast in the active version: retrain with `python -m services.cli train`.")
else:
    st.plotly_chart(uf.arr_chart(arr), width="stretch")
    arr_right = st.container()
    sources = {"churn_model": "churn model", "historical_rate": "historical renewal rate",
               "mixed": "churn model within 180 days, historical rate after"}
    arr_right.dataframe(
        arr.assign(renewal_source=arr.renewal_source.map(sources))[
            ["quarter", "starting_arr_usd", "renewing_arr_usd", "expected_churned_arr_usd", "bookings_expected_usd",
             "p10_usd", "p50_usd", "p90_usd", "renewal_source"]],
        hide_index=True, width="stretch",
        column_config={**money, "quarter": "Quarter", "starting_arr_usd": st.column_config.NumberColumn(
            "ARR today", format="dollar"), "renewing_arr_usd": st.column_config.NumberColumn(
            "Renewing in quarter", format="dollar"), "expected_churned_arr_usd": st.column_config.NumberColumn(
            "Expected churn", format="dollar"), "bookings_expected_usd": st.column_config.NumberColumn(
            "Bookings to come", format="dollar"), "renewal_source": "Renewals weighted by"})
    arr_right.caption("Ending ARR = ARR today - churned renewals (+ renewal uplift) + new and expansion bookings; "
                      "P50 is the mean of the simulated paths.")

st.plotly_chart(uf.waterfall_chart(uf.waterfall(url, owners, as_of, quarters[0])), width="stretch")

st.subheader("Deals that move the number")
d = uf.deals(url, owners, quarter)
if d.empty:
    st.caption("No open deals in scope for this quarter.")
else:
    st.dataframe(d[["account_link", "opportunity_id", "owner_id", "product_id", "stage", "amount_usd", "p_win",
                    "contribution_usd", "close_date", "pushes"]], hide_index=True, width="stretch",
                 column_config={**money, "account_link": st.column_config.LinkColumn(
                     "Account", display_text=r"account_id=(.*)"), "opportunity_id": "Deal", "owner_id": "Owner",
                     "product_id": "Product", "stage": "Stage",
                     "p_win": st.column_config.ProgressColumn("Win in quarter", min_value=0.0, max_value=1.0),
                     "close_date": st.column_config.DateColumn("Expected close", format="D MMM YYYY"),
                     "pushes": "Pushes"})

st.subheader("Track record")
tr = uf.track_record(url, person, scope)
if tr.empty:
    st.caption("No backtest for this node yet.")
else:
    st.dataframe(tr, hide_index=True, width="stretch", column_config={**money, "quarter": "Quarter",
                                                                      "closer": "Closer to actual"})

if not can("enter_commit"):
    st.stop()
st.subheader("Your commit")
current = row.commit_usd if pd.notna(row.commit_usd) else float(round(row.p50_usd, -3))
with st.form("commit_form"):
    amount = st.number_input(f"Commit for {quarter} (USD)", min_value=0.0, value=float(current), step=1000.0,
                             key="fc_commit_amount")
    note = st.text_input("Note", key="fc_commit_note")
    if st.form_submit_button("Save commit"):
        fc.save_commit(data.engine(), person, quarter, amount, note, submitted_by=who())
        st.success(f"Saved commit {usd(amount)} for {names.get(person, person)}, {quarter}.")
history = fc.commit_history(data.engine(), person, quarter, scope)
if not history.empty:
    last = history.iloc[0]
    note_text = f": “{last.note}”" if isinstance(last.note, str) and last.note else ""
    st.caption(f"Latest commit for {quarter}: {usd(last.amount_usd)} by {names.get(last.submitted_by, last.submitted_by)}"
               f" on {pd.Timestamp(last.submitted_at):%d %b %Y %H:%M}{note_text}")
    with st.expander(f"Commit history ({len(history)})"):
        st.dataframe(history, hide_index=True, width="stretch", column_config={
            **money, "submitted_at": st.column_config.DatetimeColumn("Submitted", format="D MMM YYYY HH:mm"),
            "note": "Note", "submitted_by": "By"})
