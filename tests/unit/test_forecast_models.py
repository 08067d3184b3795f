"""Forecast models and data: point-in-time deal states, coherence, win-probability calibration, WAPE,
ending ARR, and leaders' commits (history kept, latest wins)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.forecast import wape
from models.simulate import leaf_paths, node_summary
from models.winprob import WinProbModel, auc, expected_calibration_error
from services.fiscal import CALENDAR
from services.forecast import arr as fa
from services.forecast import data as fd
from services.forecast import engine as fe
from services.simulator import generate


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate(accounts=300, months=24, seed=11)


def sales_data(frames: dict[str, pd.DataFrame], hist: pd.DataFrame | None = None,
               opps: pd.DataFrame | None = None) -> fd.SalesData:
    """SalesData built from simulator frames as `forecast_data.load` builds it from the database."""
    o = frames["opportunities"] if opps is None else opps
    o = o[o["type"].isin(fd.BOOKING_TYPES)].merge(frames["accounts"][["account_id", "segment"]], on="account_id")
    h = frames["opportunity_history"] if hist is None else hist
    h = h[h.opportunity_id.isin(o.opportunity_id)].sort_values(["opportunity_id", "snapshot_date"], kind="stable")
    empty = pd.DataFrame(columns=["account_id", "score_date", "probability"])
    return fd.SalesData(o.reset_index(drop=True), h.reset_index(drop=True), frames["people"], empty)


def test_deal_state_uses_only_history_up_to_the_origin(frames):
    data = sales_data(frames)
    origin = data.hist.snapshot_date.quantile(0.6).normalize()
    snap = fd.state_at(data, [origin])
    assert len(snap) > 20 and (snap.snapshot_date <= origin).all()
    last = data.hist[data.hist.snapshot_date <= origin].groupby("opportunity_id", observed=True).last()
    merged = snap.set_index("opportunity_id")
    assert (merged.stage == last.loc[merged.index, "stage"]).all()
    assert (merged.amount_usd == last.loc[merged.index, "amount_usd"]).all()
    assert not merged.stage.isin(["Closed Won", "Closed Lost"]).any()


def test_changing_rows_after_the_origin_changes_nothing(frames):
    data = sales_data(frames)
    origin = data.hist.snapshot_date.quantile(0.6).normalize()
    before = fd.state_at(data, [origin])
    hist = frames["opportunity_history"].copy()
    later = hist.snapshot_date > origin
    hist.loc[later, "amount_usd"] *= 7
    hist.loc[later, "stage"] = "Closed Lost"
    hist.loc[later, "close_date"] = hist.loc[later, "close_date"] + pd.Timedelta(days=400)
    opps = frames["opportunities"].copy()
    closed_later = opps.close_date >= origin
    opps.loc[closed_later, "is_won"] = ~opps.loc[closed_later, "is_won"]
    after = fd.state_at(sales_data(frames, hist, opps), [origin])
    assert later.sum() > 0 and closed_later.sum() > 0
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True))


def test_changing_rows_before_the_origin_does_change_the_state(frames):
    """The no-leakage test above could pass by ignoring history altogether: this one shows it cannot."""
    data = sales_data(frames)
    origin = data.hist.snapshot_date.quantile(0.6).normalize()
    hist = frames["opportunity_history"].copy()
    hist.loc[hist.snapshot_date <= origin, "amount_usd"] *= 7
    changed = fd.state_at(sales_data(frames, hist), [origin])
    assert not np.allclose(changed.amount_usd.to_numpy(), fd.state_at(data, [origin]).amount_usd.to_numpy())


def test_children_add_up_to_their_parent_exactly(frames):
    data = sales_data(frames)
    products = sorted(data.opps.product_id.unique())
    tree = fe.build_tree(data.people, products)
    rng = np.random.default_rng(0)
    n = len(tree.leaves)
    paths = leaf_paths(n, rng.integers(0, n, 400), rng.uniform(1e3, 1e5, 400).round(), rng.uniform(0, 1, 400),
                       rng.uniform(0, 5e4, n), [rng.uniform(1e3, 2e4, 30)] * n, n_paths=200)
    s = node_summary(paths, tree.membership)
    nodes = tree.nodes.assign(p50=s["mean"].to_numpy())
    total = nodes[nodes.product_id == fe.ALL].set_index("person_id")["p50"]
    kids = nodes[(nodes.product_id == fe.ALL) & nodes.parent_id.notna()].groupby("parent_id")["p50"].sum()
    assert len(kids) > 3
    np.testing.assert_allclose(total.loc[kids.index].to_numpy(), kids.to_numpy(), rtol=1e-12)
    by_product = nodes[nodes.product_id != fe.ALL].groupby("person_id")["p50"].sum()
    np.testing.assert_allclose(total.loc[by_product.index].to_numpy(), by_product.to_numpy(), rtol=1e-12)
    cro = nodes[(nodes.role == "cro") & (nodes.product_id == fe.ALL)].p50.iloc[0]
    assert cro == pytest.approx(paths.sum(0).mean(), rel=1e-12)


def test_win_probability_is_calibrated_on_small_data():
    rng = np.random.default_rng(3)
    n = 6000
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                      "kind": rng.choice(["a", "b", "c"], n).astype(object)})
    logit = 1.5 * X.x1 - X.x2 + X.kind.map({"a": 0.5, "b": 0.0, "c": -1.0}) - 1.0
    p_true = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p_true).astype(int)
    groups = np.repeat(np.arange(20), n // 20)
    train, test = groups < 15, groups >= 15
    model = WinProbModel(n_estimators=100, random_state=0).fit(X[train], y[train], groups=groups[train])
    p = model.predict_proba(X[test])[:, 1]
    assert model.calibrator_ is not None
    assert expected_calibration_error(y[test], p) < 0.05
    assert auc(y[test], p) > 0.8
    assert abs(p.mean() - y[test].mean()) < 0.03


def test_win_probability_rejects_a_single_class():
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="single class"):
        WinProbModel().fit(X, [1, 1, 1])


def test_wape():
    assert wape([100, 200], [110, 170]) == pytest.approx(40 / 300)
    assert wape([100, -100], [100, -50]) == pytest.approx(50 / 200)
    assert np.isnan(wape([0, 0], [1, 2]))


def subs_frame() -> pd.DataFrame:
    d = pd.Timestamp
    rows = [  # id, account, product, start, end, arr, renewal_of
        ("S1", "A1", "P1", d("2024-01-01"), d("2025-01-01"), 100.0, None),  # renewed at +10%
        ("S2", "A1", "P1", d("2025-01-01"), d("2026-01-01"), 110.0, "S1"),
        ("S3", "A2", "P1", d("2024-03-01"), d("2025-03-01"), 100.0, None),  # churned
        ("S4", "A3", "P1", d("2024-06-01"), d("2025-06-01"), 200.0, None),  # renewed flat
        ("S5", "A3", "P1", d("2025-06-01"), d("2026-06-01"), 200.0, "S4"),
    ]
    out = pd.DataFrame(rows, columns=["subscription_id", "account_id", "product_id", "start_date", "end_date",
                                      "arr_usd", "renewal_of"])
    return out.assign(owner_id="R1")


def test_renewal_history_measures_churn_and_uplift():
    h = fa.renewal_history(subs_frame(), pd.Timestamp("2025-09-30"))
    assert h["churn_rate_at_renewal"] == pytest.approx(100 / 400)
    assert h["renewal_arr_ratio"] == pytest.approx(310 / 300)
    with pytest.raises(ValueError, match="renewal rate"):
        fa.renewal_history(subs_frame(), pd.Timestamp("2023-01-01"))


def test_a_co_termed_add_on_line_counts_as_renewed():
    d = pd.Timestamp
    addon = pd.DataFrame([("S6", "A3", "P1", d("2025-02-01"), d("2025-06-01"), 40.0, None)],
                         columns=["subscription_id", "account_id", "product_id", "start_date", "end_date",
                                  "arr_usd", "renewal_of"]).assign(owner_id="R1")
    subs = pd.concat([subs_frame(), addon], ignore_index=True)
    subs.loc[subs.subscription_id == "S5", "arr_usd"] = 240.0  # the renewal carries the add-on's quantity
    h = fa.renewal_history(subs, pd.Timestamp("2025-09-30"))
    assert h["churn_rate_at_renewal"] == pytest.approx(100 / 440)
    assert h["renewal_arr_ratio"] == pytest.approx(350 / 340)


def test_churn_model_used_only_for_renewals_within_its_horizon():
    renewing = subs_frame().iloc[[1, 4]]  # renew 2026-01-01 and 2026-06-01
    churn = pd.DataFrame({"account_id": ["A1", "A3"], "score_date": pd.to_datetime(["2025-09-30"] * 2),
                          "probability": [0.4, 0.9]})
    p, src = fa.churn_probabilities(renewing, churn, pd.Timestamp("2025-09-30"), fallback=0.1)
    assert list(src) == ["churn_model", "historical_rate"] and list(p) == [0.4, 0.1]
    p, src = fa.churn_probabilities(renewing, churn.iloc[:0], pd.Timestamp("2025-09-30"), fallback=0.1)
    assert set(src) == {"historical_rate"}


def test_ending_arr_is_coherent_and_has_the_expected_mean():
    people = pd.DataFrame({"person_id": ["C", "R1", "R2"], "role": ["cro", "rep", "rep"],
                           "manager_id": [None, "C", "C"], "region": [None, "EU", "EU"]})
    tree = fe.build_tree(people, ["P1"])
    subs = pd.concat([subs_frame(), subs_frame().assign(
        subscription_id=lambda f: f.subscription_id + "b", account_id=lambda f: f.account_id + "b",
        renewal_of=lambda f: f.renewal_of.where(f.renewal_of.isna(), f.renewal_of + "b"), owner_id="R2")])
    as_of = pd.Timestamp("2025-09-30")
    book = [np.full((len(tree.nodes), 400), 0.0) for _ in range(3)]
    arr, info = fa.ending_arr(subs, pd.DataFrame(), tree, as_of, book, cal=CALENDAR)
    cro = arr[(arr.person_id == "C") & (arr.product_id == fe.ALL)].set_index("quarter")
    reps = arr[(arr.role == "rep") & (arr.product_id == fe.ALL)].groupby("quarter")["p50_usd"].sum()
    np.testing.assert_allclose(cro.p50_usd.loc[reps.index], reps, rtol=1e-12)
    assert cro.starting_arr_usd.iloc[0] == pytest.approx(2 * 310)
    # Q1 2026 renews S2 (110 per rep): expected change 110 * (ratio * (1 - churn) - 1), in expectation
    exp = 2 * (310 + 110 * (info["renewal_arr_ratio"] * (1 - info["churn_rate_at_renewal"]) - 1))
    assert cro.loc["2026Q1", "p50_usd"] == pytest.approx(exp, rel=0.08)
    assert cro.loc["2026Q1", "p10_usd"] < cro.loc["2026Q1", "p50_usd"] < cro.loc["2026Q1", "p90_usd"]
    assert info["ending_arr_source"] == "historical_rate"


def test_commits_keep_history_and_the_latest_wins(engine):
    from services import db
    from services.forecast import read as fc

    fc.save_commit(engine, "R1", "2026Q1", 100_000, "first")
    fc.save_commit(engine, "R1", "2026Q1", 120_000, "raised")
    fc.save_commit(engine, "R2", "2026Q1", 50_000)
    raw = db.read_table("leader_commits", engine)
    assert len(raw[raw.person_id == "R1"]) == 2
    c = fc.commits(engine).set_index("person_id")
    assert c.loc["R1", "amount_usd"] == 120_000 and c.loc["R1", "note"] == "raised"
    assert c.loc["R2", "amount_usd"] == 50_000
    with pytest.raises(ValueError, match="quarter"):
        fc.save_commit(engine, "R1", "next quarter", 1.0)
    with pytest.raises(ValueError, match="zero or more"):
        fc.save_commit(engine, "R1", "2026Q1", -5.0)


def test_vectorised_states_match_a_per_origin_reference(frames):
    data = sales_data(frames)
    origins = list(pd.date_range(data.hist.snapshot_date.min() + pd.Timedelta(days=30),
                                 data.hist.snapshot_date.max(), freq="45D"))
    snap = fd.state_at(data, origins)
    for origin in origins[::3]:
        ref = data.hist[data.hist.snapshot_date <= origin].groupby("opportunity_id", observed=True).tail(1)
        ref = ref[~ref.stage.isin(["Closed Won", "Closed Lost"])].set_index("opportunity_id")
        got = snap[snap.origin == origin].set_index("opportunity_id")
        assert sorted(got.index) == sorted(ref.index)
        assert (got.snapshot_date == ref.loc[got.index, "snapshot_date"]).all()


def test_arr_backtest_scores_the_expected_ending_arr_against_the_actual():
    subs = subs_frame()
    nodes = pd.DataFrame({"role": ["cro"], "product_id": ["ALL"], "week": [0], "quarter": ["2025Q3"],
                          "p50_usd": [0.0]})
    m = fa.backtest(subs, pd.DataFrame(), nodes, cal=CALENDAR)
    # as of 2025-06-30 (history: S1 renewed +10%, S3 churned): running S2 110 + S5 200, nothing renews in Q3
    assert m["arr_backtest_quarters"] == 1
    assert m["arr_wape_company"] == pytest.approx(0.0) and m["arr_wape_company_flat"] == pytest.approx(0.0)
    # trend baseline: ARR at the 5 quarter ends up to the origin 310, 310, 400, 400, 400 -> net new -22.5 a quarter
    assert m["arr_wape_company_trend"] == pytest.approx(22.5 / 310)
    m = fa.backtest(subs, pd.DataFrame(), nodes.assign(p50_usd=31.0), cal=CALENDAR)
    assert m["arr_wape_company"] == pytest.approx(31 / 310)
