"""Forecast: bookings for the node in scope against the leader's commit, this quarter and the next two."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from services.forecast import read as fc
from services.forecast.arr import CHURN_HORIZON_DAYS
from services.hierarchy import scope_people
from ui import confidence as trust
from ui import data, filters
from ui import forecast as uf
from ui.auth import can, who
from ui.charts import forecast as forecast_charts
from ui.expansion import potential_line
from ui.format import MONEY_FORMAT, usd_full
from ui.text import md
from ui.widgets import money_column, no_snapshot, page_with_data, usd

url = page_with_data("Forecast")
as_of, cutoff, scope = filters.current_as_of(), filters.inputs_cutoff(), filters.current_scope()
cal = data.calendar(url)  # the company's fiscal quarters: "FY2027 Q1" where the year does not start in January
nodes = uf.nodes_at(url, as_of, scope)
if nodes.empty and uf.nodes_at(url, None, scope).empty:
    st.info("No forecast yet: run `python -m services.cli train`.", icon=":material/info:")
    st.stop()
if nodes.empty:
    no_snapshot(f"forecast for {cal.label(pd.Timestamp(as_of))}", as_of)
    st.stop()
origin = nodes.attrs["origin"]

people = data.people(url)
names = data.person_labels(url)
person = fc.node_for(people, scope)
owners = tuple(sorted(p for p in scope_people(people, person) if p in set(people.person_id)))
quarters = sorted(nodes.quarter.unique())
money = {c: st.column_config.NumberColumn(label, format=MONEY_FORMAT) for c, label in (
    ("p10_usd", "P10"), ("p50_usd", "P50"), ("p90_usd", "P90"), ("closed_won_usd", "Closed won"),
    ("commit_usd", "Commit"), ("quota_usd", "Quota"),
    ("open_pipeline_usd", "Open pipeline"), ("amount_usd", "Amount"), ("contribution_usd", "Contribution"),
    ("actual_usd", "Actual"), ("model_week_0_usd", "Model week 0"), ("model_week_4_usd", "Model week 4"),
    ("model_week_8_usd", "Model week 8"))}
money["gap_to_commit_usd"] = money_column("Forecast vs commit", signed=True, help="P50 minus commit")

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
labelled = lambda f: f.assign(quarter=f.quarter.map(cal.label)) if not f.empty else f
if kids:  # above the quarter's fragment: a drill moves the sidebar scope, so the whole page reruns
    st.selectbox("Drill down to", [None, *kids], key="fc_drill", on_change=_drill, args=(people,),
                 format_func=lambda p: "Choose a person" if p is None else names.get(p, p))


@st.fragment
def quarter_view() -> None:
    """The quarter control and everything that depends on the quarter: a quarter change (or a saved commit,
    or the unfamiliar-deals toggle) reruns only this part, not the sidebar, the charts and the track record."""
    if st.session_state.pop("fc_commit_rerun", False):  # a commit was saved: the chart below shows commits too
        st.rerun()
    if st.session_state.get("fc_quarter") not in quarters:  # another as-of date: other quarters
        st.session_state.pop("fc_quarter", None)
    quarter = st.segmented_control("Quarter", quarters, default=quarters[0], key="fc_quarter",
                                   format_func=cal.label) or quarters[0]
    made = "" if origin == pd.Timestamp(as_of) else f" · latest forecast made {origin:%d %b %Y}"
    span = "" if cal.is_calendar else f" · {cal.describe(quarter)}"
    st.caption(f"As of {as_of:%d %B %Y}{made}{span} · {md(names.get(person, person))} · {md(filters.scope_label())}")

    fig = uf.figures(url, as_of, scope, (person,), quarter, cutoff)
    row = fig.iloc[0]


    def delta(col: str) -> str | None:
        prev = row.get(f"{col}_last_week")
        if pd.isna(prev) or abs(row[col] - prev) < 0.5:  # no change: no arrow (a green up arrow on $0 misreads)
            return None
        return f"{usd(row[col] - prev, signed=True)} vs last week"


    tiles = st.columns(3) + st.columns(3)  # two rows: full figures stay readable
    tiles[0].metric("Quota", usd(row.quota_usd) if pd.notna(row.quota_usd) else "—")
    tiles[1].metric("Commit", usd(row.commit_usd) if pd.notna(row.commit_usd) else "—")
    tiles[2].metric("Forecast P50", usd(row.p50_usd), delta("p50_usd"),
                    help=f"P10 {usd(row.p10_usd)} - P90 {usd(row.p90_usd)}")
    tiles[3].metric("Closed won", usd(row.closed_won_usd), delta("closed_won_usd"))
    tiles[4].metric("Forecast vs commit", usd(row.gap_to_commit_usd, signed=True),
                    help="Forecast P50 minus the commit: below zero, the model expects less than was committed; "
                         "above zero, more. (Commit minus closed won is what is left to close: "
                         f"{usd(row.commit_usd - row.closed_won_usd)}.)")
    tiles[5].metric("Pipeline coverage", f"{row.pipeline_coverage:.1f}x" if pd.notna(row.pipeline_coverage) else "—",
                    help="Open pipeline / (quota - closed won)")
    st.caption(f"P10-P90: {usd(row.p10_usd)} - {usd(row.p90_usd)}")
    for why in uf.missing_inputs(url).values():
        st.caption(why)
    potential_line(url, scope, as_of)
    trust.mix_line(url, person, quarter, scope)
    horizon = quarters.index(quarter)
    weeks = nodes.loc[nodes.origin_date == origin, "week"] if "week" in nodes else pd.Series(dtype=float)
    live_week = int(weeks.max()) if weeks.notna().any() else 0
    st.info(uf.accuracy_sentence(uf.accuracy_here(url, person, horizon, live_week, scope), horizon), icon=":material/history:")
    bias = uf.commit_bias(url, quarter, scope).set_index("person_id")
    if person in bias.index and pd.notna(bias.loc[person, "bias"]):
        b = bias.loc[person]
        st.caption(f"Commit track record: {b.bias:+.0%} on average (spread ±{b.spread:.0%}) over {int(b.n)} quarters; "
                   f"corrected for it, this commit reads {usd(b.corrected_usd)}.")

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Team")
        if kids:
            table = uf.figures(url, as_of, scope, tuple(kids), quarter, cutoff)
            table.insert(0, "name", table.person_id.map(names))
            table = table.join(bias[["bias", "spread", "corrected_usd"]], on="person_id")
            st.dataframe(table[["name", "quota_usd", "commit_usd", "bias", "corrected_usd", "closed_won_usd",
                                "p10_usd", "p50_usd", "p90_usd", "gap_to_commit_usd", "pipeline_coverage"]],
                         hide_index=True, width="stretch",
                         column_config={**money, "name": "Name", "person_id": "Id",
                                        "bias": st.column_config.NumberColumn("Commit bias", format="percent",
                                                                              help="How far their commits ran above (+) or below (-) the actual in past quarters (geometric mean)"),
                                        "corrected_usd": st.column_config.NumberColumn("Corrected commit", format=MONEY_FORMAT),
                                        "pipeline_coverage": st.column_config.NumberColumn("Coverage", format="%.1fx")})
            if table.corrected_usd.notna().any():
                st.caption(f"Bias-corrected roll-up of the team's commits: {usd(table.corrected_usd.sum())} "
                           f"(as committed: {usd(table.commit_usd.sum())}).")
        else:
            st.caption("A rep: no team below.")
    with right:
        st.subheader("By product")
        products = data.product_names(url)
        by_product = fc.by_product(nodes, person, quarter)
        by_product = by_product.assign(product_id=by_product.product_id.map(lambda p: products.get(p, p)))
        st.dataframe(by_product, hide_index=True, width="stretch",
                     column_config={**money, "product_id": "Product"})

    st.subheader("Deals that move the number")
    d = uf.deals(url, owners, quarter, as_of)
    if d.empty and d.attrs.get("stored") is not None and d.attrs["stored"] > pd.Timestamp(as_of):
        st.info(f"Deals are stored for the latest date only ({d.attrs['stored']:%d %b %Y}).",
                icon=":material/history_toggle_off:")
    elif d.empty:
        st.caption("No open deals in scope for this quarter.")
    else:
        show_unfamiliar = trust.filter_toggle("forecast_show_unfamiliar", "Show unfamiliar deals")
        d = trust.apply(trust.with_deal_novelty(url, d), show_unfamiliar)
        product_names = data.product_names(url)
        d = d.assign(product_id=d.product_id.map(lambda p: product_names.get(p, p)),
                     owner_id=d.owner_id.map(lambda p: names.get(p, p)))
        st.dataframe(d[["account_link", "opportunity_id", "owner_id", "product_id", "stage", "amount_usd", "p_win",
                        "trust", "probability_range", "trust_reason", "contribution_usd", "close_date", "pushes"]],
                     hide_index=True, width="stretch",
                     column_config={**money, **trust.column_config(), "account_link": st.column_config.LinkColumn(
                         "Account", display_text=r"account_id=(.*)"), "opportunity_id": "Deal", "owner_id": "Owner",
                         "product_id": "Product", "stage": "Stage",
                         "p_win": st.column_config.ProgressColumn("Win in quarter", min_value=0.0, max_value=1.0),
                         "close_date": st.column_config.DateColumn("Expected close", format="D MMM YYYY"),
                         "pushes": "Pushes"})
        if pd.notna(row.get("stage_weight")):
            w = float(row.stage_weight)
            fresh = float(row.fresh_factor) if pd.notna(row.get("fresh_factor")) else 1.0
            scaled = "" if abs(fresh - 1) < 1e-9 else (f" Bookings from deals not yet created are scaled by {fresh:.2f}, "
                                                       "which predicted past quarters clearly better.")
            st.caption(f"Win in quarter: {1 - w:.0%} the model's probability, {w:.0%} the historical conversion of the "
                       "deal's stage (chosen on past quarters: the default mix unless another predicted them clearly "
                       f"better).{scaled}")

    if can("enter_commit"):
        st.subheader("Your commit")
        flash = st.session_state.pop("fc_commit_saved", None)
        if flash:
            st.success(flash, icon=":material/check_circle:")
        who_name = md(names.get(person, person))
        current = row.commit_usd if pd.notna(row.commit_usd) else float(round(row.p50_usd, -3))
        source = "their latest commit" if pd.notna(row.commit_usd) else "the forecast P50 (no commit yet)"
        # One widget per node and quarter: a value typed for one person never pre-fills another's box. A text box,
        # so the amount shows with thousands separators ("24,424,600"; "$24.4M" is read too).
        amount_key, note_key = f"fc_commit_amount:{person}:{quarter}", f"fc_commit_note:{person}:{quarter}"
        with st.form("fc_commit_form"):  # one form; its boxes are keyed per person and quarter
            st.text_input(f"Commit for {cal.label(quarter)}: {who_name} (USD)", value=f"{current:,.0f}", key=amount_key,
                          help=f"Pre-filled with {source}: {usd_full(current)}. Type 1,250,000 or $1.25M.")
            st.text_input("Note", key=note_key)
            # saved in the callback, before the page reruns: the tiles above read the new commit on this same click
            st.form_submit_button("Save commit", on_click=uf.save_commit_from_form,
                                  args=(person, quarter, amount_key, note_key, who_name, who(), cal.label(quarter)))
        error = st.session_state.pop("fc_commit_error", None)
        if error:
            st.error(error, icon=":material/error:")
        history = uf.commit_history(url, person, quarter, scope)
        if not history.empty:
            last = history.iloc[0]
            note_text = f": “{last.note}”" if isinstance(last.note, str) and last.note else ""
            st.caption(f"Latest commit for {cal.label(quarter)}: {usd(last.amount_usd)} by {md(names.get(last.submitted_by, last.submitted_by))}"
                       f" on {pd.Timestamp(last.submitted_at):%d %b %Y %H:%M}{md(note_text)}")
            with st.expander(f"Commit history ({len(history)})"):
                st.dataframe(history, hide_index=True, width="stretch", column_config={
                    **money, "submitted_at": st.column_config.DatetimeColumn("Submitted", format="D MMM YYYY HH:mm"),
                    "note": "Note", "submitted_by": "By"})


quarter_view()
actual = uf.actuals(url, owners, as_of)
fut = nodes[(nodes.person_id == person) & (nodes.product_id == "ALL") & (nodes.origin_date == origin)]
commits = uf.commits(url, cutoff, scope)
commits = commits[(commits.person_id == person) & commits.quarter.isin(list(actual.quarter) + quarters)]
st.plotly_chart(forecast_charts.forecast_chart(labelled(actual), labelled(fut), labelled(commits)), width="stretch")

st.subheader("Ending ARR")
arr = uf.ending_arr(url, as_of, scope)
stored = arr.attrs.get("stored")
arr = arr[(arr.person_id == person) & (arr.product_id == "ALL")] if not arr.empty else arr
if arr.empty and stored is not None and stored > pd.Timestamp(as_of):
    st.info(f"Ending ARR is stored for the latest date only ({stored:%d %b %Y}).", icon=":material/history_toggle_off:")
elif arr.empty:
    st.caption("No ending-ARR forecast in the active version: retrain with `python -m services.cli train`.")
else:
    arr = labelled(arr)
    st.plotly_chart(forecast_charts.arr_chart(arr), width="stretch")
    arr_right = st.container()
    sources = {"churn_model": "churn model", "historical_rate": "historical renewal rate",
               "mixed": f"churn model within {CHURN_HORIZON_DAYS} days, historical rate after"}
    arr_right.dataframe(
        arr.assign(renewal_source=arr.renewal_source.map(sources))[
            ["quarter", "starting_arr_usd", "renewing_arr_usd", "expected_churned_arr_usd", "bookings_expected_usd",
             "p10_usd", "p50_usd", "p90_usd", "renewal_source"]],
        hide_index=True, width="stretch",
        column_config={**money, "quarter": "Quarter", "starting_arr_usd": st.column_config.NumberColumn(
            "ARR today", format=MONEY_FORMAT), "renewing_arr_usd": st.column_config.NumberColumn(
            "Renewing in quarter", format=MONEY_FORMAT), "expected_churned_arr_usd": st.column_config.NumberColumn(
            "Expected churn", format=MONEY_FORMAT), "bookings_expected_usd": st.column_config.NumberColumn(
            "Bookings to come", format=MONEY_FORMAT), "renewal_source": "Renewals weighted by"})
    arr_right.caption("Ending ARR = ARR today - churned renewals (+ renewal uplift) + new and expansion bookings; "
                      "P50 is the mean of the simulated paths.")

bridge = uf.waterfall(url, owners, pd.Timestamp(as_of), quarters[0])
if bridge.empty or not bridge.change_usd.abs().gt(0.5).any():  # seven zero bars say less than a sentence
    st.caption(f"Open pipeline closing in {cal.label(quarters[0])}: no change in the last {fc.BRIDGE_DAYS} days.")
else:
    st.plotly_chart(forecast_charts.pipeline_bridge(bridge), width="stretch")

st.subheader("Track record")
tr = uf.track_record(url, person, as_of, scope)
if tr.empty:
    st.caption("No backtest for this node yet.")
else:
    st.dataframe(labelled(tr), hide_index=True, width="stretch", column_config={**money, "quarter": "Quarter",
                                                                      "closer": "Closer to actual"})
