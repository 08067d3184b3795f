"""Model health: versions and metrics per model, calibration, drift, data health, the outcome report."""

from __future__ import annotations

import streamlit as st

from services.outcomes.report import CAVEAT, INTERVAL, by_action, by_tier
from ui import captions
from ui import confidence as trust
from ui import health_data as hd
from ui.actions import action_panel
from ui.alerts import task_outcomes
from ui.charts import health as charts
from ui.format import MONEY_FORMAT
from ui.model_admin import version_controls
from ui.widgets import page_with_data

url = page_with_data("Model health")

# Lazy tabs: only the open one is computed (switching reruns the page with that tab open).
models_tab, drift_tab, data_tab, outcomes_tab = st.tabs(["Models", "Drift", "Data health", "Outcomes"],
                                                        key="mh_tab", on_change="rerun")

with models_tab:
    if models_tab.open:
        overview = hd.models(url)
        if overview.empty:
            st.info("No model has been trained yet: run `python -m services.cli train`.", icon=":material/info:")
        else:
            st.dataframe(overview, hide_index=True, width="stretch", column_config={
                "model": "Model", "active_version": "Active version",
                "trained_at": st.column_config.DatetimeColumn("Trained", format="D MMM YYYY HH:mm"),
                "as_of": st.column_config.DateColumn("Data as of"), "versions": "Versions", "rejected": "Rejected",
                "failed": "Failed", "key_metrics": "Key metrics (active)"})
            model = st.selectbox("Model", overview.model.tolist(), key="mh_model")
            history = hd.metric_history(url, model)
            names = sorted(history.metric.unique())
            key = [m for m in ("auc", "wape", "stability", "action_effect_estimate") if m in names]
            chosen = st.multiselect("Metrics", names, default=key + [m for m in names if "baseline" in m][:2],
                                    key=f"mh_metrics_{model}")
            if chosen:
                st.plotly_chart(charts.metric_history(history, chosen, f"{model}: metrics over versions"),
                                width="stretch")
            if model == "churn":
                curve = hd.churn_calibration(url)
                if not curve.empty:
                    st.plotly_chart(charts.calibration(curve), width="stretch")
            st.markdown("**Versions** (newest first; `python -m services.cli models activate VERSION` or `rollback`)")
            st.dataframe(hd.versions(url, model), hide_index=True, width="stretch", column_config={
                "created_at": st.column_config.DatetimeColumn("Trained", format="D MMM YYYY HH:mm"),
                "as_of": st.column_config.DateColumn("Data as of"), "artifact_path": None})
            version_controls(model)
            with st.expander("All metrics of the active version"):
                st.json(hd.version_metrics(url, model), expanded=False)

with drift_tab:
    if drift_tab.open:
        overview = hd.models(url)
        drift_models = [m for m in overview.model if not hd.drift_bins(url, m).empty] if not overview.empty else []
        if not drift_models:
            st.info("No drift measured yet: the churn job stores it when it trains.", icon=":material/info:")
        for m in drift_models:
            bins = hd.drift_bins(url, m)
            summary = bins.drop_duplicates("feature").sort_values("psi", ascending=False)
            n_flag = int(summary.flagged.sum())
            st.subheader(f"{m.capitalize()}: {n_flag} of {len(summary)} features drifted ({captions.psi_flag()})")
            st.dataframe(summary[["feature", "psi", "flagged", "n_reference", "n_current"]], hide_index=True,
                         width="stretch", column_config={
                             "feature": "Feature", "psi": st.column_config.ProgressColumn(
                                 "PSI", format="%.3f", min_value=0.0, max_value=max(0.5, float(summary.psi.max()))),
                             "flagged": "Flagged", "n_reference": "Training rows", "n_current": "Scoring rows"})
            feature = st.selectbox("Distribution of", summary.feature.tolist(), key=f"drift_feature_{m}")
            st.plotly_chart(charts.drift_distribution(bins, feature), width="stretch")
        trust.health_section(url)

with data_tab:
    if data_tab.open:
        fresh = hd.freshness(url)
        st.subheader("Freshness (as of today)")
        st.dataframe(fresh, hide_index=True, width="stretch", column_config={
            "table": "Table", "rule": "Rule", "latest": st.column_config.DateColumn("Latest"),
            "covers_to": st.column_config.DateColumn("Covers to"), "age_days": "Age (days)",
            "max_age_days": "Allowed (days)", "status": "Status"})
        history, rules = hd.imports(url)
        st.subheader("Import history")
        st.dataframe(history, hide_index=True, width="stretch", column_config={
            "import_id": None, "started_at": st.column_config.DatetimeColumn("Started", format="D MMM YYYY HH:mm"),
            "finished_at": st.column_config.DatetimeColumn("Finished", format="D MMM YYYY HH:mm"),
            "source": "Source", "status": "Status", "rows_loaded": st.column_config.NumberColumn("Rows", format="%d"),
            "failed_rules": "Failed rules"})
        if not rules.empty:
            st.subheader("Failed contract rules of the latest rejected import")
            st.dataframe(rules.drop(columns=["import_id"]), hide_index=True, width="stretch")

with outcomes_tab:
    if outcomes_tab.open:
        frame = hd.outcome_report(url)
        open_flags = frame[frame.outcome == "pending"] if not frame.empty else frame
        if not open_flags.empty:
            with st.expander(f"Act on a flagged account ({open_flags.account_id.nunique():,} with a renewal ahead)"):
                ids = sorted(open_flags.account_id.unique())
                account = st.selectbox("Account", ids, key="mh_action_account")
                action_panel(account)
            frame = hd.outcome_report(url)  # again: an action logged above shows at once
        if frame.empty:
            st.info("No outcome report yet: it needs an active churn model and the outcomes job "
                    "(`python -m services.cli train`).", icon=":material/info:")
        else:
            eff = hd.effect(frame)
            trained = hd.version_metrics(url, "outcomes")  # the adjusted estimate needs features: the job stores it
            est, band = trained.get("action_effect_estimate"), trained.get("action_effect_interval_90")
            st.subheader("Does acting on a flagged account help?")
            st.info(captions.action_effect(est, band, INTERVAL, int(eff.get("n_acted", 0))), icon=":material/insights:")
            c = st.columns(3)
            c[0].metric("Churn cut by acting (adjusted)", "n/a" if est is None else f"{est:.0%}",
                        help="G-computation at the last training run: the acted accounts' churn against what a model "
                             "of churn on their behaviour before the renewal predicts without the action" + (
                            f"; {INTERVAL:.0%} bootstrap interval {band[0]:.0%} to {band[1]:.0%}" if band else ""))
            c[1].metric("Flagged renewals due", f"{eff.get('n_flagged_due', 0):,}")
            c[2].metric("Acted on", f"{eff.get('n_acted', 0):,}")
            st.caption(CAVEAT)
            raw = eff.get("action_effect_raw")
            money = {"action_type": "First action", "tier": "Worst tier", "acted": "Acted",
                     "renewals_due": "Renewals due", "renewed": "Renewed", "downsold": "Downsold",
                     "churned": "Churned", "pending": "Pending", "save_rate": st.column_config.ProgressColumn("Save rate", format="percent", min_value=0.0,
                                                                  max_value=1.0),
                     "arr_before_usd": st.column_config.NumberColumn("ARR before", format=MONEY_FORMAT),
                     "arr_after_usd": st.column_config.NumberColumn("ARR after", format=MONEY_FORMAT),
                     "arr_retained": st.column_config.NumberColumn("ARR retained", format="percent")}
            with st.expander("Raw save rates by action and tier (not the effect of acting)"):
                st.warning("CSMs act on the accounts most likely to churn, so acted accounts churn more even when "
                           "acting helps: these raw rates compare different accounts, not the effect of the action"
                           + ("" if raw is None else f" (raw difference in churn: {-raw:+.0%} for acted accounts)")
                           + ". The adjusted effect above allows for that.", icon=":material/warning:")
                actions_table = by_action(frame)
                left, right = st.columns(2)
                with left:
                    st.plotly_chart(charts.save_rates(actions_table, "action_type", "Save rate by action"),
                                    width="stretch")
                with right:
                    st.dataframe(by_tier(frame), hide_index=True, width="stretch", column_config=money)
                st.dataframe(actions_table, hide_index=True, width="stretch", column_config=money)
            st.subheader("Flagged accounts")
            show = frame.sort_values("renewal_date", ascending=False)[
                ["account_id", "renewal_date", "tier", "p_start", "acted", "action_type", "n_actions", "outcome",
                 "arr_before_usd", "arr_after_usd"]]
            st.dataframe(show, hide_index=True, width="stretch", column_config={
                "account_id": "Account", "renewal_date": st.column_config.DateColumn("Renewal"), "tier": "Worst tier",
                "p_start": st.column_config.NumberColumn("Risk 6 months before", format="percent"),
                "acted": "Acted", "action_type": "First action", "n_actions": "Actions", "outcome": "Outcome",
                **money})
            st.subheader("Tasks and outcomes")
            task_outcomes(frame)
