"""Expansion: the planted truth, point-in-time features, the job's scores and explanations, the scorecard."""
from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from fixtures import demo_db
from sklearn.metrics import roc_auc_score

from models import explain
from models.churn_metrics import lift_top_decile
from models.expansion import lift_top_decile_within
from services import registry
from services.db import get_engine
from services.expansion import features as xf
from services.expansion import prospects
from services.expansion import read as expansion
from services.expansion import tables as T
from services.expansion.scorecard import driver_ranks, drivers_recovered, oracle_probability, section
from services.simulator import expansion as planted
from services.simulator import generate
from services.simulator import prospects as planted_prospects


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    return get_engine(demo_db.url_of(demo_db.built(tmp_path_factory, demo_db.EXPANSION)))


def test_planted_propensity_is_a_function_of_behaviour() -> None:
    seg = np.zeros(3, dtype=int)
    z = planted.expansion_logit(np.array([0.5, 0.9, 1.2]), np.zeros(3), np.full(3, 0.9), np.zeros(3), seg)
    assert z[0] < z[1] < z[2]  # capacity use near the cap raises it
    full, half = planted.expansion_logit(np.full(2, 1.2), np.zeros(2), np.array([1.0, 0.5]), np.zeros(2), seg[:2])
    low_full, low_half = planted.expansion_logit(np.full(2, 0.5), np.zeros(2), np.array([1.0, 0.5]), np.zeros(2),
                                                 seg[:2])
    assert full - half > low_full - low_half == 0  # jobs completed matter only near the cap
    severe = planted.expansion_logit(np.full(2, 1.0), np.zeros(2), np.ones(2), np.array([0, 3]), seg[:2])
    assert severe[1] < severe[0]


def test_truth_expansion_predicts_the_demo_s_won_deals() -> None:
    frames = generate(accounts=600, months=30, seed=2, as_of="2026-06-30")
    truth = frames["truth_expansion"]
    assert {"account_id", "product_id", "month", "owned", "p_month", "p_180d"} <= set(truth.columns)
    assert truth.p_180d.between(0, 1).all() and (truth.p_180d >= truth.p_month).all()
    assert truth.month.nunique() == planted.TRUTH_MONTHS
    opps = frames["opportunities"]
    won = opps[opps.is_won & opps.type.isin(xf.GROWTH_TYPES)]
    month = truth.month.sort_values().unique()[-7]  # its 180 days end before as_of
    rows = truth[truth.month == month].reset_index(drop=True)
    t = pd.Timestamp(month) + pd.offsets.MonthEnd(0)
    m = rows.reset_index().merge(won, on=["account_id", "product_id"])
    m = m[(m.close_date > t) & (m.close_date <= t + pd.Timedelta(days=180))]
    label = rows.index.isin(m["index"])
    assert 0.02 < label.mean() < 0.2
    assert roc_auc_score(label, rows.p_180d) > 0.65
    assert abs(rows.p_180d.mean() - label.mean()) < 0.03  # the planted probability is calibrated


def test_features_are_point_in_time(engine, tmp_path) -> None:
    """Deleting everything after t leaves the features at t unchanged."""
    t = pd.Timestamp(registry.versions(engine, T.MODEL).iloc[0]["as_of"]) - pd.DateOffset(months=7)
    t = t + pd.offsets.MonthEnd(0)
    before = xf.build(xf.shared_inputs(engine), [t])
    copy = tmp_path / "cut.db"
    with sqlite3.connect(engine.url.database) as a, sqlite3.connect(copy) as b:
        a.backup(b)
        day = t.strftime("%Y-%m-%d")
        b.execute("DELETE FROM usage_monthly WHERE month > ?", (day,))
        b.execute("DELETE FROM support_cases WHERE opened_date > ?", (day,))
        b.execute("DELETE FROM subscriptions WHERE start_date > ?", (day,))
        b.execute("DELETE FROM opportunities WHERE created_date > ?", (day,))
        b.execute("DELETE FROM csm_actions WHERE created_at > ?", (day + " 23:59:59",))
    after = xf.build(xf.shared_inputs(get_engine(f"sqlite:///{copy}")), [t])
    cols = [c for c in xf.feature_columns(before) if c != "adoption_cluster"]
    assert len(before) > 300 and len(before) == len(after)
    pd.testing.assert_frame_equal(before[cols].reset_index(drop=True), after[cols].reset_index(drop=True),
                                  check_dtype=False, check_categorical=False)


def test_scores_cover_every_account_x_product_with_expected_arr(engine) -> None:
    scores = registry.read_results(engine, T.SCORES)
    latest = scores[scores.score_date == scores.score_date.max()]
    products = latest.product_id.nunique()
    assert products >= 2 and len(latest) == latest.account_id.nunique() * products
    assert latest.probability.between(0, 1).all()
    np.testing.assert_allclose(latest.expected_arr_usd, latest.probability * latest.expected_deal_usd)
    assert set(latest.kind) == set(T.KINDS)
    assert ((latest.kind == "expansion") == (latest.product_arr_usd > 0)).all()
    assert latest.open_opportunity_id.notna().any()


def test_explanations_add_up_and_reasons_are_sentences(engine) -> None:
    expl = registry.read_results(engine, T.CONTRIBUTIONS)
    assert list(expl.columns[:6]) == explain.COLUMNS
    artifact = registry.load_artifact(engine, T.MODEL)
    model = artifact["model"]
    scores = registry.read_results(engine, T.SCORES)
    latest = scores[scores.score_date == scores.score_date.max()]
    raw = explain.prediction(expl)
    p = 1 / (1 + np.exp(-model.calibrated_logit(raw.to_numpy())))
    want = latest.assign(subject=latest.account_id + ":" + latest.product_id).set_index("subject").probability
    np.testing.assert_allclose(p, want.reindex(raw.index).to_numpy(), atol=1e-4)
    why = registry.read_results(engine, T.REASONS)
    assert len(why) and why["rank"].between(1, 3).all() and (why.contribution > 0).all()
    assert not why.reason.str.contains("product_").any()  # labels, not raw feature names


def test_read_side_marks_open_opportunities_and_next_best_skips_them(engine) -> None:
    rows = expansion.where_to_grow(engine)
    assert list(rows.expected_arr_usd) == sorted(rows.expected_arr_usd, reverse=True)
    assert (rows.suggest == rows.open_opportunity_id.isna()).all()
    opened = rows[~rows.suggest].account_id.iloc[0]
    best = expansion.next_best_product(engine, opened)
    assert best is None or best["product_id"] not in set(rows[(rows.account_id == opened) & ~rows.suggest].product_id)
    assert len(expansion.where_to_grow(engine, include_open=False)) == rows.suggest.sum()
    smb = expansion.where_to_grow(engine, segments=["SMB"])
    assert len(smb) and set(smb.segment) == {"SMB"}


def test_a_reps_read_is_the_company_read_cut_to_their_book_and_potential_sums_its_suggestions(engine,
                                                                                              monkeypatch) -> None:
    from services.db import read_table
    from services.hierarchy import Scope

    rows = expansion.where_to_grow(engine)
    accounts = read_table("accounts", engine, columns=["account_id", "owner_id", "csm_id"])
    rep = accounts.set_index("account_id").owner_id[rows.account_id.iloc[0]]
    book = set(accounts[(accounts.owner_id == rep) | (accounts.csm_id == rep)].account_id)
    monkeypatch.setattr(expansion, "MAX_IDS_IN_QUERY", 7)  # several chunks of bound ids
    mine = expansion.where_to_grow(engine, Scope(within=rep))
    want = rows[rows.account_id.isin(book)].reset_index(drop=True)
    assert 0 < len(mine) < len(rows)
    pd.testing.assert_frame_equal(mine, want)
    monkeypatch.setattr(expansion, "SCOPED_READ_LIMIT", 3)  # a large scope: the score date read once, then cut
    pd.testing.assert_frame_equal(expansion.where_to_grow(engine, Scope(within=rep)), want)
    pot = expansion.potential_pipeline(engine, Scope(within=rep))
    assert pot["suggestions"] == int(mine.suggest.sum()) > 0
    assert pot["expected_arr_usd"] == pytest.approx(mine.loc[mine.suggest, "expected_arr_usd"].sum())
    assert pot["by_product"].expected_arr_usd.sum() == pytest.approx(pot["expected_arr_usd"])


def test_scorecard_compares_with_the_planted_oracle(engine) -> None:
    out = section(engine)
    for key in ("auc", "auc_oracle", "ece", "lift_top_decile", "auc_baseline_base_rate", "auc_baseline_logreg",
                "planted_drivers_recovered", "bars", "lift_top_decile_by_product", "lift_top_decile_oracle",
                "lift_top_decile_by_product_oracle", "lift_top_decile_per_product_oracle"):
        assert key in out, key
    assert isinstance(out["bars"]["lift_top_decile_by_product_at_least_3"], bool)  # not numpy's (JSON: a string)
    assert isinstance(out["lift_top_decile_by_product"], float)
    # the stored backtest gives the lifts the job measured on the same rows
    assert set(out["lift_top_decile_per_product"]) == set(out["lift_top_decile_per_product_oracle"])
    bt = registry.read_results(engine, T.BACKTEST)
    assert out["lift_top_decile_by_product"] == pytest.approx(
        lift_top_decile_within(bt.label, bt.probability, bt.product_id)[0])
    assert 0.5 < out["auc_oracle"] <= 1 and 0.5 < out["auc"] <= 1
    assert out["additivity_max_abs_err"] < 1e-6


def test_lift_by_product_is_against_each_product_s_own_rate() -> None:
    # product A sells to 30% of its rows, B to 3.3%: a score that knows only the product puts A's rows in the
    # top decile (pooled lift 5) but ranks nothing within a product (lift 1 in each)
    y = np.r_[(np.arange(100) % 10 < 3), (np.arange(900) % 30 == 0)].astype(int)
    strata = np.r_[["A"] * 100, ["B"] * 900]
    p = np.where(strata == "A", 0.3, 0.03)
    assert lift_top_decile(y, p) == pytest.approx(5.0)
    by, per = lift_top_decile_within(y, p, strata)
    assert by == pytest.approx(1.0) and per == pytest.approx({"A": 1.0, "B": 1.0})
    # weighted by rows; a product without a won row has no lift and no weight
    y = np.r_[[1, 0, 0, 0, 0, 0, 0, 0, 0, 1], [1, 0, 1, 1, 1] + [0] * 15, [0] * 5]
    strata = np.r_[["A"] * 10, ["B"] * 20, ["C"] * 5]
    p = -np.r_[np.arange(10), np.arange(20), np.arange(5)].astype(float)  # the first rows of each score highest
    by, per = lift_top_decile_within(y, p, strata)
    assert per["A"] == pytest.approx(5.0) and per["B"] == pytest.approx(2.5) and np.isnan(per["C"])
    assert by == pytest.approx((5.0 * 10 + 2.5 * 20) / 30)


def test_oracle_join_and_driver_mapping() -> None:
    bt = pd.DataFrame({"account_id": ["A", "A", "B"], "product_id": ["P", "Q", "P"],
                       "score_date": pd.to_datetime(["2026-01-31", "2026-01-31", "2026-02-28"])})
    truth = pd.DataFrame({"account_id": ["A", "B", "B"], "product_id": ["P", "P", "P"],
                          "month": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-02-01"]),
                          "p_180d": [0.3, 0.1, 0.2]})
    np.testing.assert_allclose(oracle_probability(bt, truth), [0.3, 0.0, 0.2])
    top = [["product_use_3m", "Capacity use", 1.0], ["products_owned", "Commercial", 0.5], ["arr_log", "Commercial", 0.1]]
    share, hit = drivers_recovered(top, ["capacity_use", "products_owned", "segment"])
    assert hit == ["capacity_use", "products_owned"] and share == pytest.approx(2 / 3)


def test_grouped_importance_is_exact_per_group_and_ranks_the_drivers() -> None:
    rng = np.random.default_rng(0)
    contrib = np.column_stack([rng.normal(0, 1, 500), rng.normal(0, 1, 500), rng.normal(0, 0.2, 500), np.zeros(500)])
    groups = {"a": "Capacity use", "b": "Capacity use", "c": "Segment"}
    imp = explain.group_importance(["a", "b", "c"], contrib, groups).set_index("group").mean_abs_contribution
    assert imp["Capacity use"] == pytest.approx(np.abs(contrib[:, 0] + contrib[:, 1]).mean())
    assert imp["Segment"] == pytest.approx(np.abs(contrib[:, 2]).mean())
    # credit moved between two features of one group leaves the group's importance unchanged
    moved = contrib.copy()
    moved[:, 0], moved[:, 1] = contrib[:, 0] + 0.5 * contrib[:, 1], 0.5 * contrib[:, 1]
    again = explain.group_importance(["a", "b", "c"], moved, groups).set_index("group").mean_abs_contribution
    assert again["Capacity use"] == pytest.approx(imp["Capacity use"])
    top = [["Capacity use", 1.0], ["Tenure", 0.5], ["Segment", 0.2], ["Products owned", 0.1]]
    share, hit, ranks = driver_ranks(top, ["capacity_use", "segment", "products_owned", "usage_trend"], top_n=3)
    assert hit == ["capacity_use", "segment"] and share == pytest.approx(0.5)
    assert ranks == {"capacity_use": 1, "segment": 3, "products_owned": 4, "usage_trend": 0}


def test_planted_re_engagement_predicts_the_demo_s_new_deals_on_lost_prospects() -> None:
    z = planted_prospects.monthly_logit(np.array([10_000, 100_000]), np.array([1, 1]), 0.0, np.array([6, 6]))
    assert z[1] > z[0]  # a larger lost deal comes back more often
    stage = planted_prospects.monthly_logit(np.full(2, 20_000), np.array([0, 3]), 0.0, np.full(2, 6))
    assert stage[1] > stage[0]
    time = planted_prospects.monthly_logit(np.full(3, 20_000), np.ones(3), 0.0, np.array([1, 4, 20]))
    assert time[0] < time[1] > time[2]  # cooling off, then fading
    frames = generate(accounts=600, months=30, seed=2, as_of="2026-06-30")
    truth, opps = frames["truth_prospects"], frames["opportunities"]
    assert truth.p_180d.between(0, 1).all() and truth.month.nunique() == planted_prospects.TRUTH_MONTHS
    assert not opps.opportunity_id.duplicated().any()
    assert set(truth.account_id) <= set(frames["accounts"].account_id) - set(frames["subscriptions"].account_id)
    month = sorted(truth.month.unique())[-7]  # its 180 days end before as_of
    rows = truth[truth.month == month]
    t = pd.Timestamp(month) + pd.offsets.MonthEnd(0)
    new = opps[(opps.created_date > t) & (opps.created_date <= t + pd.Timedelta(days=180))]
    label = rows.account_id.isin(set(new.account_id))
    assert 0.05 < label.mean() < 0.4
    assert roc_auc_score(label, rows.p_180d) > 0.7
    assert abs(rows.p_180d.mean() - label.mean()) < 0.05  # the planted probability is calibrated


def test_prospect_features_are_point_in_time_and_the_job_scores_them(engine, tmp_path) -> None:
    t = pd.Timestamp(registry.versions(engine, T.MODEL).iloc[0]["as_of"]) - pd.DateOffset(months=7)
    t = t + pd.offsets.MonthEnd(0)
    before = prospects.build(prospects.load(engine), [t], labels=False)
    copy = tmp_path / "cut.db"
    with sqlite3.connect(engine.url.database) as a, sqlite3.connect(copy) as b:
        a.backup(b)
        day = t.strftime("%Y-%m-%d")
        b.execute("DELETE FROM opportunity_history WHERE snapshot_date > ?", (day + " 23:59:59",))
        b.execute("DELETE FROM opportunities WHERE created_date > ?", (day + " 23:59:59",))
        b.execute("DELETE FROM subscriptions WHERE start_date > ?", (day + " 23:59:59",))
    after = prospects.build(prospects.load(get_engine(f"sqlite:///{copy}")), [t], labels=False)
    assert len(before) > 30
    pd.testing.assert_frame_equal(before.drop(columns=["product_id", "industry", "segment"]),
                                  after.drop(columns=["product_id", "industry", "segment"]), check_dtype=False)
    metrics = registry.active_metrics(engine, T.MODEL)["prospects"]
    assert metrics["status"] == "fitted" and 0.5 < metrics["auc"] <= 1 and metrics["n_scored"] > 0
    scores = registry.read_results(engine, T.PROSPECT_SCORES)
    np.testing.assert_allclose(scores.expected_arr_usd, scores.probability * scores.lost_amount_usd)
    shown = expansion.prospects(engine)
    assert len(shown) == len(scores) and list(shown.expected_arr_usd) == sorted(shown.expected_arr_usd, reverse=True)
    assert shown.reason_1.notna().any() and not shown.reason_1.dropna().str.contains("_").any()
    assert set(shown.account_id).isdisjoint(set(registry.read_results(engine, T.SCORES).account_id))  # no customer
    card = section(engine)["prospects"]
    assert 0.5 < card["auc_oracle"] <= 1 and "auc_baseline_recency" in card
