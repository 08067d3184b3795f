"""The churn job on the shared trained demo (300 accounts, 30 months): features, scores, reasons."""
from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from fixtures import demo_db

from services import registry
from services.churn import features as churn_features
from services.churn import read as churn
from services.churn.scorecard import section
from services.churn.tables import MODEL, REASONS, SCORES, TIERS
from services.db import get_engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    return get_engine(demo_db.url_of(demo_db.built(tmp_path_factory, demo_db.CHURN_OUTCOMES)))


def test_features_are_point_in_time(engine, tmp_path) -> None:
    """Deleting everything after t leaves the features at t unchanged."""
    t = pd.Timestamp(registry.versions(engine, MODEL).iloc[0]["as_of"]) - pd.DateOffset(months=7)
    t = t + pd.offsets.MonthEnd(0)
    before = churn_features.build(churn_features.load_inputs(engine), [t])
    src = engine.url.database
    copy = tmp_path / "cut.db"
    with sqlite3.connect(src) as a, sqlite3.connect(copy) as b:
        a.backup(b)
        day = t.strftime("%Y-%m-%d")
        b.execute("DELETE FROM usage_monthly WHERE month > ?", (day,))
        b.execute("DELETE FROM support_cases WHERE opened_date > ?", (day,))
        b.execute("DELETE FROM subscriptions WHERE start_date > ?", (day,))
        b.execute("DELETE FROM csm_actions WHERE created_at > ?", (day + " 23:59:59",))
    after = churn_features.build(churn_features.load_inputs(get_engine(f"sqlite:///{copy}")), [t])
    cols = churn_features.feature_columns(before)
    assert len(before) > 100
    pd.testing.assert_frame_equal(before[["account_id", *cols]].reset_index(drop=True),
                                  after[["account_id", *cols]].reset_index(drop=True), check_dtype=False)


def test_scores_tiers_and_expected_arr(engine) -> None:
    scores = registry.read_results(engine, SCORES, MODEL)
    assert scores.score_date.nunique() == 13
    latest = scores[scores.score_date == scores.score_date.max()]
    assert latest.account_id.is_unique and (latest.arr_usd > 0).all()
    assert np.allclose(latest.expected_arr_at_risk_usd, latest.probability * latest.arr_renewing_usd)
    assert (latest.arr_renewing_usd <= latest.arr_usd + 1e-6).all() and latest.renewal_date.notna().all()
    cut = dict(TIERS)
    high = latest.probability >= cut["high"]
    assert (latest.tier[high] == "high").all() and (latest.tier[latest.probability < cut["medium"]] == "low").all()
    # risk at the next renewal for the whole book: accounts far from renewal are scored from behaviour now
    far = latest[latest.days_to_renewal > churn_features.HORIZON_DAYS]
    assert len(far) > 50 and far.probability.min() > 0 and far.probability.nunique() > len(far) // 2
    assert (far.tier != "low").any()


def test_labels_are_the_outcome_of_the_next_renewal(engine) -> None:
    """On the demo the label is the planted outcome of the account's next renewal, whatever its distance."""
    inputs = churn_features.load_inputs(engine)
    as_of = pd.Timestamp(registry.versions(engine, MODEL).iloc[0]["as_of"])
    dates = churn_features.month_ends(as_of - pd.DateOffset(months=20), as_of - pd.DateOffset(months=14))
    rows = churn_features.labelled(churn_features.build(inputs, dates, labels=True), as_of)
    truth = pd.read_sql("SELECT account_id, renewal_date, churned FROM truth_renewals", engine,
                        parse_dates=["renewal_date"])
    m = rows.reset_index().merge(truth, on="account_id", suffixes=("", "_truth"))
    m = m[m.renewal_date_truth > m.as_of].sort_values("renewal_date_truth").groupby("index").first()
    assert (m.days_to_renewal > churn_features.HORIZON_DAYS).sum() > 100
    assert (m.label_churn == m.churned.astype(int)).mean() > 0.97


def test_reasons_read_as_sentences(engine) -> None:
    reasons = registry.read_results(engine, REASONS, MODEL)
    assert not reasons.empty and reasons.groupby("account_id")["rank"].max().max() <= 3
    assert (reasons.contribution > 0).all()
    assert not reasons.reason.str.contains(r"\{|not measured").any()


def test_scorecard_section_measures_against_truth(engine) -> None:
    card = section(engine)
    for key in ("auc", "pr_auc", "brier", "ece", "lift_top_decile", "auc_baseline_logreg", "n_train", "n_test",
                "auc_oracle", "oracle_gap", "planted_drivers_recovered", "by_distance", "history_mode", "bars"):
        assert key in card
    assert 0.5 < card["auc"] <= 1 and card["auc_oracle"] > 0.7 and card["n_test"] > 0
    assert card["oracle_gap"] == pytest.approx(card["auc_oracle"] - card["auc"])
    assert set(card["by_distance"]) == {"0-3m", "3-6m", "6-12m"}
    assert card["by_distance"]["0-3m"]["n"] > 0 and "auc_oracle" in card["by_distance"]["0-3m"]
    assert card["additivity_max_abs_err"] < 1e-6


def test_at_risk_list_and_portfolio(engine) -> None:
    risk = churn.at_risk(engine)
    assert risk.expected_arr_at_risk_usd.is_monotonic_decreasing
    assert risk.change_pp.notna().mean() > 0.8
    summary = churn.portfolio(risk)
    assert summary.arr_by_tier.arr_usd.sum() == pytest.approx(risk.arr_usd.sum())
    assert summary.movements.accounts.sum() == len(risk)
    view = churn.account_360(engine, risk.account_id.iloc[0])
    assert view is not None and len(view.risk_history) >= 2 and not view.subscriptions.empty
    assert churn.account_360(engine, "NOPE") is None
