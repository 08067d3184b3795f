"""Adoption: clusters of accounts by the kind of adoption challenge they face, and who is in them."""

from __future__ import annotations

import streamlit as st

from models.adoption import SIGNALS
from services.adoption.signals import SIGNAL_LABELS
from ui import adoption as ua
from ui import filters
from ui.charts import adoption as adoption_charts
from ui.format import MONEY_FORMAT
from ui.text import md
from ui.widgets import no_snapshot, page_with_data, usd

MAX_ROWS = 500  # accounts sent to the browser per cluster
url = page_with_data("Adoption")
as_of, scope = filters.current_as_of(), filters.current_scope()
cl = ua.clusters(url, as_of, scope)
if cl.empty:
    st.info("No adoption clusters yet. Run `python -m services.cli train` (or `make db`).",
            icon=":material/model_training:")
    st.stop()
if cl.attrs.get("month") is None:
    no_snapshot("adoption signals of a complete month", as_of)
    st.stop()
st.caption(f"Usage of {cl.attrs['month']:%B %Y} (the latest month complete as of the as-of date) · "
           f"{filters.scope_label(scope)} · net adoption score 0-100: capacity use, feature breadth and job "
           "completion, less a falling use trend · clusters group accounts that use the products alike")

st.subheader("Clusters at a glance")
tiles = st.columns(3)
tiles[0].metric("Accounts clustered", f"{int(cl.n_accounts.sum()):,}")
tiles[1].metric("Clusters", f"{len(cl)}")
tiles[2].metric("Mean adoption score", f"{(cl.score * cl.n_accounts).sum() / max(cl.n_accounts.sum(), 1):.0f}")
left, right = st.columns(2)
left.plotly_chart(adoption_charts.cluster_bars(cl, "n_accounts", "Accounts per cluster"), width="stretch")
right.plotly_chart(adoption_charts.cluster_bars(cl, "arr_usd", "ARR per cluster"), width="stretch")
st.dataframe(cl[["name", "description", "n_accounts", "arr_usd", "score"]], hide_index=True, width="stretch",
             column_config={
                 "name": "Cluster", "description": "What sets it apart",
                 "n_accounts": st.column_config.NumberColumn("Accounts", format="localized"),
                 "arr_usd": st.column_config.NumberColumn("ARR", format=MONEY_FORMAT),
                 "score": st.column_config.ProgressColumn("Mean score", min_value=0, max_value=100, format="%.0f"),
             })
left, right = st.columns(2)
prof = ua.profile(url, as_of)
if not prof.empty:
    left.plotly_chart(adoption_charts.profile_heatmap(prof), width="stretch")
moves = ua.movements(url, as_of, scope)
if not moves.empty:
    start, end = moves.attrs.get("start"), moves.attrs.get("end")
    span = f" ({start:%b %Y} → {end:%b %Y})" if start is not None else ""
    right.plotly_chart(adoption_charts.sankey(moves, f"Movements since last quarter{span}"), width="stretch")

@st.fragment
def cluster_accounts() -> None:
    """Accounts in one cluster: choosing a cluster, a segment or an account reruns only this part."""
    st.subheader("Accounts in a cluster")
    names = dict(zip(cl.cluster_id.astype(int), cl.name))
    with st.container(horizontal=True):
        cluster_id = st.selectbox("Cluster", list(names), format_func=names.get, key="adoption_cluster")
        segment = st.selectbox("Segment", [None, *ua.segments(url)], key="adoption_segment",
                               format_func=lambda s: s or "All segments")
    view = ua.members(url, cluster_id, scope, segment, as_of)
    row = cl[cl.cluster_id == cluster_id].iloc[0]
    st.caption(f"**{md(row['name'])}**: {md(row['description'])}. {len(view):,} accounts, {usd(view.arr_usd.sum())} ARR in view.")
    if view.empty:
        st.info("No accounts of this cluster in this scope and segment.", icon=":material/filter_alt_off:")
    else:
        if len(view) > MAX_ROWS:  # the browser gets the largest accounts only
            st.caption(f"Showing the {MAX_ROWS:,} largest of {len(view):,} accounts by ARR: choose a segment or a "
                       "narrower scope for the rest.")
        view = view.head(MAX_ROWS).assign(account_link="account?account_id=" + view.account_id.head(MAX_ROWS))
        pct = {s: st.column_config.ProgressColumn(SIGNAL_LABELS[s], min_value=0, max_value=1.5, format="percent")
               for s in ("seat_use", "volume_use")}
        pct.update({s: st.column_config.ProgressColumn(SIGNAL_LABELS[s], min_value=0, max_value=1, format="percent")
                    for s in ("breadth", "job_completion")})
        st.dataframe(
            view[["account_link", "name", "segment", "arr_usd", "score", "score_trend", "products", *SIGNALS,
                  "breadth_trend"]],
            hide_index=True, width="stretch", height=420, key="adoption_members",
            column_config={
                "account_link": st.column_config.LinkColumn("Account", display_text=r"account_id=(.*)"),
                "name": "Name", "segment": "Segment", "products": "Products",
                "arr_usd": st.column_config.NumberColumn("ARR", format=MONEY_FORMAT),
                "score": st.column_config.NumberColumn("Score", format="%.0f"),
                "score_trend": st.column_config.NumberColumn("Score trend (3 months)", format="%+.0f"),
                **pct,
                "use_trend": st.column_config.NumberColumn(SIGNAL_LABELS["use_trend"], format="%+.2f",
                                                           help="log ratio of capacity use now vs 3 months ago"),
                "breadth_trend": st.column_config.NumberColumn(SIGNAL_LABELS["breadth_trend"], format="%+.2f"),
            })

        with st.container(horizontal=True, vertical_alignment="bottom"):
            labels = dict(zip(view.account_id, view.name))
            account_id = st.selectbox("Open an account", list(labels), key="adoption_account",
                                      format_func=lambda a: f"{labels[a]} ({a})")
            st.link_button("Open account view", f"account?account_id={account_id}", icon=":material/domain:")


cluster_accounts()

st.subheader("By product")
per = ua.product_signals(url, as_of, scope)
if per.empty and per.attrs.get("month") is not None and per.attrs["month"] != cl.attrs["month"]:
    st.info(f"Per-product signals are stored for the latest month only ({per.attrs['month']:%B %Y}).",
            icon=":material/history_toggle_off:")
elif not per.empty:
    cols = st.columns(3)
    for col, (signal, title) in zip(cols, [("capacity_use", "Capacity use"), ("breadth", "Feature breadth"),
                                           ("job_completion", "Job completion")]):
        col.plotly_chart(adoption_charts.product_box(per, signal, title), width="stretch")
