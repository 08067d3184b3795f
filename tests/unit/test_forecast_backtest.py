"""The forecast's backtest: strictly out of time, the pipeline baseline, the oracle, bands and the report."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import bands
from services.forecast import accuracy, fresh
from services.forecast import backtest as bt
from services.forecast import baselines as bl
from services.forecast import blend as fb
from services.forecast import data as fd
from services.forecast import engine as fe
from services.forecast.scorecard import with_oracle
from services.simulator import generate

D = pd.Timestamp


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate(accounts=300, months=24, seed=11)


def sales_data(frames, opps=None, hist=None) -> fd.SalesData:
    o = frames["opportunities"] if opps is None else opps
    o = o[o["type"].isin(fd.BOOKING_TYPES)].merge(frames["accounts"][["account_id", "segment"]], on="account_id")
    h = frames["opportunity_history"] if hist is None else hist
    h = h[h.opportunity_id.isin(o.opportunity_id)].sort_values(["opportunity_id", "snapshot_date"], kind="stable")
    empty = pd.DataFrame(columns=["account_id", "score_date", "probability"])
    return fd.SalesData(o.reset_index(drop=True), h.reset_index(drop=True), frames["people"], empty)


def test_bands_use_no_error_from_a_quarter_not_ended_at_the_origin():
    rng = np.random.default_rng(0)
    past = pd.DataFrame({"level": "rep", "h": 0, "week": 0, "target_end": [D("2024-12-31"), D("2025-03-31")] * 20,
                         "score": rng.lognormal(0, 0.3, 40)})
    origin = D("2025-04-01")
    before = bands.calibrate(past, origin, "rep", 0, 0)
    future = past.assign(target_end=D("2025-06-30"), score=50.0)  # the quarter being forecast, and later
    assert bands.calibrate(pd.concat([past, future]), origin, "rep", 0, 0) == before
    assert before[0] < 1 < before[1]
    assert bands.calibrate(past.head(bands.MIN_POINTS - 1), origin, "rep", 0, 0) is None
    one_quarter = np.sort(past.score)  # one quarter: the split-conformal order statistics of its points
    k = int(np.floor(0.1 * 41))
    assert bands.calibrate(past.assign(target_end=D("2025-03-31")), origin, "rep", 0, 0) == (
        pytest.approx(one_quarter[k - 1]), pytest.approx(one_quarter[40 - k]))


def test_bands_widen_when_the_same_points_come_from_fewer_quarters():
    """Points of one quarter share its shock: 40 scores from 2 quarters give a wider band than from 20."""
    rng = np.random.default_rng(1)
    score = rng.lognormal(0, 0.3, 40)
    ends = pd.date_range("2020-03-31", periods=20, freq="QE")
    many = pd.DataFrame({"level": "rep", "h": 0, "week": 0, "target_end": np.tile(ends, 2), "score": score})
    few = many.assign(target_end=np.where(np.arange(40) % 2 == 0, ends[0], ends[1]))
    lo_m, hi_m = bands.calibrate(many, D("2025-04-01"), "rep", 0, 0)
    lo_f, hi_f = bands.calibrate(few, D("2025-04-01"), "rep", 0, 0)
    assert hi_f / lo_f > 2 * hi_m / lo_m


def test_fresh_analogs_have_ended_before_the_origin():
    for origin in pd.date_range("2025-01-01", "2025-12-31", freq="17D"):
        for h in range(3):
            target = pd.Period(origin, "Q") + h
            pairs = fresh.analogs(origin, target, D("2023-01-01"))
            assert len(pairs) == fresh.ANALOGS
            assert all(t.end_time < origin and o < origin for t, o in pairs)
            assert all((pd.Period(o, "Q") + h) == t for t, o in pairs)  # same horizon and week


def test_backtest_rows_do_not_change_when_later_data_does(frames):
    """An origin uses only data, models and calibration errors from before it: change every won amount
    from a cut date on, and no forecast made before the cut moves (its actual may)."""
    data = sales_data(frames)
    as_of = data.hist.snapshot_date.max()
    tree = fe.build_tree(data.people, sorted(data.opps.product_id.unique()))
    quarters = bt.origin_quarters(data, as_of, n=3)
    cut = quarters[-2].start_time + pd.Timedelta(days=7 * 3)  # later quarters forecast from before it
    opps = frames["opportunities"].copy()
    later = opps.is_won & (opps.close_date >= cut)
    opps.loc[later, "amount_usd"] *= 3.0
    hist = frames["opportunity_history"].copy()
    hist.loc[hist.snapshot_date >= cut, "amount_usd"] *= 3.0
    changed = sales_data(frames, opps, hist)
    commits = pd.DataFrame(columns=["person_id", "quarter", "amount_usd", "submitted_at"])
    blend_kw = {"min_quarters": 1, "min_gain": 0.0}  # choose a blend wherever one past quarter exists
    runs = [bt.run(d, fd._history_features(d.hist), tree, as_of, commits, n=3, weeks=(0, 6), blend_kw=blend_kw)[0]
            for d in (data, changed)]
    key = ["origin_date", "quarter", "person_id", "product_id"]
    a, b = (r.set_index(key).sort_index() for r in runs)
    early = a.index.get_level_values("origin_date") < cut
    cols = ["p10_usd", "p50_usd", "p90_usd", "pipeline_method_usd", "last_quarter_usd", "stage_weight",
            "fresh_factor", "model_expected_usd", "stage_expected_usd"]
    assert early.sum() > 0 and (a[early].band == "calibrated").any()
    chosen = a[early & ((a.stage_weight != fb.DEFAULT[0]) | (a.fresh_factor != fb.DEFAULT[1]))]
    assert len(chosen) > 0  # blends were chosen before the cut (from quarters ended before their origin)
    pd.testing.assert_frame_equal(a.loc[early, cols], b.loc[early, cols])
    assert not np.allclose(a.loc[~early, "p50_usd"], b.loc[~early, "p50_usd"])  # the test can fail
    assert (a.actual_usd != b.actual_usd).any()


def _tiny_data() -> tuple[fd.SalesData, pd.DataFrame]:
    """One rep, one product. At 2025-01-01 (week 0 of 2025Q1): two open deals of 100 in Propose closing
    in 2025Q1, one won; a fresh deal of 40 created and won in 2025Q1. At 2025-04-01: one open deal of
    200 in Propose closing in 2025Q2."""
    rows = [  # id, created, close, amount, won, stage at origin
        ("O1", "2024-12-01", "2025-02-15", 100.0, True),
        ("O2", "2024-12-01", "2025-03-01", 100.0, False),
        ("O3", "2025-01-20", "2025-03-10", 40.0, True),
        ("O4", "2025-03-15", "2025-05-20", 200.0, False),
    ]
    opps = pd.DataFrame(rows, columns=["opportunity_id", "created_date", "close_date", "amount_usd", "is_won"])
    for c in ("created_date", "close_date"):
        opps[c] = pd.to_datetime(opps[c])
    opps = opps.assign(account_id="A1", owner_id="R1", product_id="P1", type="new", segment="smb",
                       is_closed=opps.opportunity_id != "O4",
                       stage=np.where(opps.opportunity_id == "O4", "Propose",
                                      np.where(opps.is_won, "Closed Won", "Closed Lost")))
    h = []
    for o in opps.itertuples():
        h.append((o.opportunity_id, o.created_date, "Propose", o.amount_usd, o.close_date, "best_case"))
        if o.opportunity_id != "O4":
            h.append((o.opportunity_id, o.close_date, o.stage, o.amount_usd, o.close_date, "closed"))
    hist = pd.DataFrame(h, columns=["opportunity_id", "snapshot_date", "stage", "amount_usd", "close_date",
                                    "forecast_category"])
    people = pd.DataFrame({"person_id": ["C", "R1"], "role": ["cro", "rep"], "manager_id": [None, "C"]})
    data = fd.SalesData(opps, hist.sort_values(["opportunity_id", "snapshot_date"]).reset_index(drop=True),
                        people, pd.DataFrame(columns=["account_id", "score_date", "probability"]))
    return data, pd.DataFrame({"owner_id": ["R1"], "product_id": ["P1"]})


def test_pipeline_method_is_open_times_stage_conversion_plus_average_fresh():
    data, leaves = _tiny_data()
    origin, target = D("2025-04-01"), pd.Period("2025Q2", "Q")
    got = bl.pipeline_method(data, leaves, origin, target, window_start=D("2024-12-01"))
    # analog: 2025Q1 from 2025-01-01: Propose converted 100 of 200 (0.5); fresh 40. Now: 200 open x 0.5 + 40
    assert got == pytest.approx([0.5 * 200 + 40])
    assert bl.last_quarter(data, leaves, origin, data_start=D("2024-10-01")) == pytest.approx([140.0])
    assert np.isnan(bl.same_quarter_last_year(data, leaves, target, data_start=D("2024-10-01"))).all()
    assert fresh.expected(data, leaves, origin, target, D("2024-12-01")) == pytest.approx([40.0])
    # a second analog (2024Q4 from 2024-10-01, nothing fresh) halves the average
    assert fresh.expected(data, leaves, origin, target, D("2024-10-01")) == pytest.approx([20.0])
    # no analog complete before the origin: no pipeline-method forecast
    assert np.isnan(bl.pipeline_method(data, leaves, D("2025-01-01"), pd.Period("2025Q1", "Q"), D("2024-12-15")))


def test_oracle_is_closed_plus_the_planted_expectation_still_to_come():
    rows = pd.DataFrame({
        "person_id": ["C", "M", "R1", "R2"], "parent_id": [None, "C", "M", "M"],
        "role": ["cro", "manager", "rep", "rep"], "quarter": "2025Q1", "product_id": "ALL",
        "origin_date": D("2025-01-01") + pd.Timedelta(days=45), "closed_won_usd": [30.0, 30.0, 10.0, 20.0]})
    truth = pd.DataFrame({"quarter": "2025Q1", "owner_id": ["R1", "R2"], "expected_bookings_usd": [90.0, 180.0]})
    out = with_oracle(rows, truth).set_index("person_id").oracle_usd
    left = (D("2025-03-31") - D("2025-02-15")).days / 90
    assert out["R1"] == pytest.approx(10 + 90 * left) and out["R2"] == pytest.approx(20 + 180 * left)
    assert out["C"] == pytest.approx(out["R1"] + out["R2"]) == pytest.approx(out["M"])
    week0 = with_oracle(rows.assign(origin_date=D("2025-01-01"), closed_won_usd=0.0), truth)
    # closed so far includes the origin's day: the rest of the quarter is its other 89 days
    assert week0.set_index("person_id").oracle_usd["C"] == pytest.approx(270.0 * 89 / 90)
    ahead = with_oracle(rows.assign(origin_date=D("2024-12-01"), closed_won_usd=0.0), truth)
    assert ahead.set_index("person_id").oracle_usd["C"] == pytest.approx(270.0)  # next quarter: all of it


def test_report_compares_the_model_with_the_best_baseline_on_the_same_rows():
    rows = pd.DataFrame({
        "role": "cro", "product_id": "ALL", "h": 0, "week": 0, "band": "calibrated",
        "actual_usd": [100.0, 100.0, 100.0], "p50_usd": [110.0, 90.0, 100.0], "p10_usd": 80.0, "p90_usd": [105.0, 105.0, 99.0],
        "pipeline_method_usd": [120.0, 80.0, np.nan], "last_quarter_usd": [150.0, 50.0, 100.0],
        "same_quarter_last_year_usd": np.nan, "commit_usd": np.nan})
    c = accuracy.report(rows)["accuracy"]["current_quarter"]["week_00"]["company"]
    assert c["model"]["wape"] == pytest.approx(20 / 300) and c["model"]["bias"] == pytest.approx(0.0)
    assert c["pipeline_method"]["wape"] == pytest.approx(0.2) and c["pipeline_method"]["n"] == 2
    assert c["best_baseline"] == {"method": "pipeline_method", "ratio": pytest.approx((20 / 200) / 0.2)}
    assert "same_quarter_last_year" not in c
    with_o = accuracy.report(rows.assign(oracle_usd=[100.0, 110.0, 100.0]))["accuracy"]["current_quarter"]
    o = with_o["week_00"]["company"]["oracle"]
    # on the rows both have (the first two): oracle 10 / 200 against the pipeline method's 40 / 200
    assert o["vs_best_baseline"] == pytest.approx(0.25) and o["wape"] == pytest.approx(10 / 300)
    cov = accuracy.report(rows)["coverage_p10_p90"]["current_quarter"]["company"]
    assert cov["all"] == pytest.approx(2 / 3)


def test_track_summary_states_the_error_that_8_of_10_quarters_stayed_within():
    from services.forecast.read import track_summary

    actual = np.full(10, 100.0)
    errors = np.array([1, -2, 3, -4, 5, -6, 7, -8, 30, -40], float)  # percent
    rows = pd.DataFrame({"quarter": [f"20{20 + i // 4}Q{i % 4 + 1}" for i in range(10)], "actual_usd": actual,
                         "p50_usd": actual + errors, "p10_usd": actual + errors - 10, "p90_usd": actual + errors + 10})
    s = track_summary(rows, week=4)
    assert (s["hits"], s["n"], s["week"]) == (8, 10, 4)
    assert s["within_pct"] == pytest.approx(8.0)
    assert s["bias_pct"] == pytest.approx(errors.sum() / 10)
    assert s["inside_band"] == 8


def test_commit_bias_is_measured_on_earlier_quarters_only_and_corrects_the_roll_up():
    from services.forecast import commit_bias as cb

    quarters = [str(pd.Period("2024Q1", "Q") + i) for i in range(6)]
    actual = pd.DataFrame([(p, q, 100.0) for p in ("M", "R1", "R2") for q in quarters],
                          columns=["person_id", "quarter", "actual_usd"])
    over = {"M": 1.0, "R1": 1.25, "R2": 0.8}  # R1 commits 25% high, R2 20% low
    commits = pd.DataFrame([(p, q, 100.0 * over[p]) for p in over for q in quarters],
                           columns=["person_id", "quarter", "amount_usd"])
    commits.loc[(commits.person_id == "R1") & (commits.quarter == quarters[-1]), "amount_usd"] = 500.0
    errs = cb.errors(commits, actual)
    c = cb.corrected(commits, errs, quarters[-1]).set_index("person_id")
    assert c.loc["R2", "bias"] == pytest.approx(-0.2) and c.loc["R2", "corrected_usd"] == pytest.approx(100.0)
    assert c.loc["R1", "bias"] == pytest.approx(0.25)  # the 500 of the quarter itself is not in its bias
    assert np.isnan(cb.corrected(commits, errs, quarters[2]).set_index("person_id").loc["R1", "bias"])  # 2 < 3
    t = cb.backtest(commits, actual, {"R1": "M", "R2": "M", "M": None})
    m = t[(t.person_id == "M") & (t.quarter == quarters[4])].iloc[0]
    assert m.team_corrected_usd == pytest.approx(200.0) and m.actual_usd == 100.0


def test_scorecard_sections_come_from_the_capability_packages():
    from services import scorecard
    from services.forecast import scorecard as forecast_card
    from services.monitoring import scorecard as health_card

    assert scorecard._load_section("forecast") is forecast_card.section
    assert scorecard._load_section("health") is health_card.section


class _ConstantModel:
    def predict_proba(self, X):
        return np.column_stack([np.full(len(X), 0.1), np.full(len(X), 0.9)])


@pytest.mark.parametrize("w", [0.0, 0.25, 1.0])  # 1.0 (not in the grid): the pipeline method's
def test_open_deal_probability_blends_the_stage_conversion_with_the_model(w):
    data, _ = _tiny_data()
    tree = fe.build_tree(data.people, ["P1"])
    blend = {0: {"stage_weight": w, "fresh_factor": 1.0}, 1: {"stage_weight": w, "fresh_factor": 2.0}}
    nodes, deals = fe.forecast_at(data, fd._history_features(data.hist), tree, D("2025-04-01"), _ConstantModel(),
                                  D("2024-12-01"), quarters=2, n_paths=200, blend=blend)
    o4 = deals[deals.opportunity_id == "O4"].set_index("h")
    # this quarter: Propose converted 0.5 on the analog; next quarter: O4 closes outside it (stage part 0)
    assert o4.loc[0, "p_win"] == pytest.approx(w * 0.5 + (1 - w) * 0.9)
    assert o4.loc[1, "p_win"] == pytest.approx((1 - w) * 0.9)
    assert (o4.p_model == 0.9).all()
    rep = nodes[(nodes.person_id == "R1") & (nodes.product_id == fe.ALL)].set_index("h")
    assert rep.loc[0, "pipeline_expected_usd"] == pytest.approx(200 * o4.loc[0, "p_win"])
    assert rep.loc[0, "pipeline_expected_usd"] == pytest.approx(
        (1 - w) * rep.loc[0, "model_expected_usd"] + w * rep.loc[0, "stage_expected_usd"])
    assert (rep.stage_weight == w).all() and rep.fresh_factor.tolist() == [1.0, 2.0]
    plain, _ = fe.forecast_at(data, fd._history_features(data.hist), tree, D("2025-04-01"), _ConstantModel(),
                              D("2024-12-01"), quarters=2, n_paths=200)  # no blend given: the default
    plain = plain[(plain.person_id == "R1") & (plain.product_id == fe.ALL)].set_index("h")
    assert (plain.stage_weight == fb.DEFAULT[0]).all()
    assert rep.loc[1, "runrate_usd"] == pytest.approx(2.0 * plain.loc[1, "runrate_usd"])


def test_stage_probability_is_the_pipeline_methods_and_the_grid_keeps_the_models_order():
    deals = pd.DataFrame({"stage": ["Propose", "Propose", "Propose", "Qualify", "Odd"],
                          "close_in_target": [1, 1, 0, 1, 1], "amount_usd": [100.0, 300.0, 50.0, 10.0, 5.0],
                          "p_model": [0.2, 0.6, 0.5, 0.1, 0.4]})
    p = fe.stage_probability(deals, {"Propose": 0.4, "Qualify": 0.1})
    assert p.tolist() == [0.4, 0.4, 0.0, 0.1, 0.0]  # outside the target, a stage without a rate: zero
    assert max(fb.STAGE_WEIGHTS) < 1  # a blend never ties the deals of a stage
    for w in fb.STAGE_WEIGHTS:
        blend = (1 - w) * deals.p_model + w * p
        assert blend[1] > blend[0]


def _decision_rows(quarters: int, actual_mult: float) -> pd.DataFrame:
    """Company rows, one per quarter at week 0 of h = 0, actual 86 x actual_mult (at 1: the (0.75, 0.8) cell)."""
    q = pd.period_range("2023Q1", periods=quarters, freq="Q")
    rows = pd.DataFrame({"h": 0, "week": 0, "role": "cro", "product_id": "ALL", "quarter": q.astype(str),
                         "target_end": q.end_time, "closed_won_usd": 0.0, "model_expected_usd": 100.0,
                         "stage_expected_usd": 60.0, "runrate_usd": 20.0, "fresh_factor": 1.0})
    return fb.decision_rows(rows.assign(actual_usd=86.0 * actual_mult))  # w = 0.75, x 0.8: 25 + 45 + 16


def test_blend_is_chosen_on_quarters_ended_before_the_origin_only():
    rows = _decision_rows(8, 1.0)
    origin = D("2025-01-01")  # after all 8 quarters (2023Q1-2024Q4)
    c = fb.choose(rows, origin, h=0, week=1)
    assert (c["stage_weight"], c["fresh_factor"], c["source"], c["quarters"]) == (0.75, 0.8, "chosen", 8)
    assert c["wape"] == pytest.approx(0.0) and c["wape_default"] == pytest.approx(14 / 86)
    # quarters ending at or after the origin, whatever they say, change nothing
    later = _decision_rows(12, 1.0).iloc[8:].assign(model_expected_usd=1.0, stage_expected_usd=500.0)
    assert fb.choose(pd.concat([rows, later]), origin, h=0, week=1) == c
    # another horizon or week bucket has no rows: the default
    assert fb.choose(rows, origin, h=1, week=0)["stage_weight"] == fb.DEFAULT[0]
    assert fb.choose(rows, origin, h=0, week=8)["source"].startswith("default: too few")


def test_blend_keeps_the_default_without_enough_quarters_or_a_material_gain():
    few = _decision_rows(fb.MIN_QUARTERS - 1, 1.0)
    c = fb.choose(few, D("2030-01-01"), h=0, week=0)
    assert (c["stage_weight"], c["fresh_factor"], c["quarters"]) == (*fb.DEFAULT, fb.MIN_QUARTERS - 1)
    assert fb.choose(_decision_rows(fb.MIN_QUARTERS, 1.0), D("2030-01-01"), h=0, week=0)["source"] == "chosen"
    # the default says 50 + 30 + 20 = 100; actuals 85 once, then 98: the best cell (96) is 14% better, not 20%
    close = _decision_rows(8, 1.0).assign(actual_usd=[85.0] + [98.0] * 7)
    c = fb.choose(close, D("2030-01-01"), h=0, week=0)
    assert c["wape"] == c["wape_default"] == pytest.approx(29 / (85 + 7 * 98))
    assert c["best"] == [0.5, 0.8] and c["wape_best"] == pytest.approx(25 / (85 + 7 * 98))
    assert (c["stage_weight"], c["fresh_factor"]) == fb.DEFAULT and c["source"].startswith("default: best")
    c0 = fb.choose(close, D("2030-01-01"), h=0, week=0, min_gain=0.0)
    assert (c0["stage_weight"], c0["fresh_factor"]) == (0.5, 0.8) and c0["wape"] == pytest.approx(25 / (85 + 7 * 98))
