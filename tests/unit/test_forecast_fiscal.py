"""The forecast on a fiscal year that starts in February (services/fiscal.py): its quarters, origins, actuals,
baselines and commits follow the company's quarters, and the simulator plants such a company."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.fiscal import CALENDAR, FiscalCalendar
from services.forecast import backtest as bt
from services.forecast import baselines as bl
from services.forecast import data as fd
from services.forecast import engine as fe
from services.forecast import fresh
from services.simulator import generate
from services.simulator.accounts import seasonal_weights

D = pd.Timestamp
FEB = FiscalCalendar(2)
AS_OF = "2026-10-31"  # the last day of FY2027 Q3 (August-October 2026)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate(accounts=300, months=24, seed=11, as_of=AS_OF, fiscal_start=2)


def sales_data(frames: dict[str, pd.DataFrame], cal: FiscalCalendar) -> fd.SalesData:
    o = frames["opportunities"]
    o = o[o["type"].isin(fd.BOOKING_TYPES)].merge(frames["accounts"][["account_id", "segment"]], on="account_id")
    h = frames["opportunity_history"]
    h = h[h.opportunity_id.isin(o.opportunity_id)].sort_values(["opportunity_id", "snapshot_date"], kind="stable")
    empty = pd.DataFrame(columns=["account_id", "score_date", "probability"])
    return fd.SalesData(o.reset_index(drop=True), h.reset_index(drop=True), frames["people"], empty, cal=cal)


def _tiny(shift_months: int, cal: FiscalCalendar) -> tuple[fd.SalesData, pd.DataFrame]:
    """One rep, one product (tests/unit/test_forecast_backtest.py's tiny company), every date moved by
    `shift_months`: at week 0 of a quarter two open deals of 100 closing in it (one won), a fresh deal of 40
    created and won in it; at the next quarter's start one open deal of 200."""
    move = lambda day: D(day) + pd.DateOffset(months=shift_months)
    rows = [("O1", "2024-12-01", "2025-02-15", 100.0, True), ("O2", "2024-12-01", "2025-03-01", 100.0, False),
            ("O3", "2025-01-20", "2025-03-10", 40.0, True), ("O4", "2025-03-15", "2025-05-20", 200.0, False)]
    opps = pd.DataFrame([(i, move(c), move(e), a, w) for i, c, e, a, w in rows],
                        columns=["opportunity_id", "created_date", "close_date", "amount_usd", "is_won"])
    opps = opps.assign(account_id="A1", owner_id="R1", product_id="P1", type="new", segment="smb",
                       is_closed=opps.opportunity_id != "O4",
                       stage=np.where(opps.opportunity_id == "O4", "Open", np.where(opps.is_won, "Won", "Lost")))
    h = []
    for o in opps.itertuples():
        h.append((o.opportunity_id, o.created_date, "Open", o.amount_usd, o.close_date, "best_case"))
        if o.opportunity_id != "O4":
            h.append((o.opportunity_id, o.close_date, o.stage, o.amount_usd, o.close_date, "closed"))
    hist = pd.DataFrame(h, columns=["opportunity_id", "snapshot_date", "stage", "amount_usd", "close_date",
                                    "forecast_category"]).sort_values(["opportunity_id", "snapshot_date"])
    people = pd.DataFrame({"person_id": ["C", "R1"], "role": ["cro", "rep"], "manager_id": [None, "C"]})
    data = fd.SalesData(opps, hist.reset_index(drop=True), people,
                        pd.DataFrame(columns=["account_id", "score_date", "probability"]), cal=cal)
    return data, pd.DataFrame({"owner_id": ["R1"], "product_id": ["P1"]})


def _baselines(data: fd.SalesData, leaves: pd.DataFrame, shift: int) -> tuple:
    move = lambda day: D(day) + pd.DateOffset(months=shift)
    origin = move("2025-04-01")
    target = data.cal.quarter(origin)
    return (bl.pipeline_method(data, leaves, origin, target, window_start=move("2024-12-01"))[0],
            bl.last_quarter(data, leaves, origin, data_start=move("2024-10-01"))[0],
            fresh.expected(data, leaves, origin, target, move("2024-12-01"))[0])


def test_a_company_one_month_later_with_a_february_year_gets_the_same_numbers() -> None:
    """The calendar company's baselines and fresh bookings, moved one month later under a fiscal year
    starting in February: every quarter moves with it, so the figures are the same; under calendar
    quarters the moved deals straddle quarters and the figures change."""
    calendar = _baselines(*_tiny(0, CALENDAR), 0)
    assert calendar == pytest.approx((0.5 * 200 + 40, 140.0, 40.0))
    assert _baselines(*_tiny(1, FEB), 1) == pytest.approx(calendar)
    assert _baselines(*_tiny(1, CALENDAR), 1) != pytest.approx(calendar)


def test_the_win_label_is_won_inside_the_fiscal_quarter() -> None:
    data, _ = _tiny(1, FEB)  # open on 2025-02-01: O1 (won on 2025-03-15, FY2026 Q1: Feb-Apr 2025) and O2 (lost)
    snap = fd.expand_horizons(fd.state_at(data, [D("2025-02-01")]), 2, cal=data.cal)
    assert set(snap.target_quarter) == {"2026Q1", "2026Q2"}
    won = snap[fd.label(snap, data.opps, cal=data.cal) == 1]
    assert set(zip(won.opportunity_id, won.target_quarter)) == {("O1", "2026Q1")}
    assert (snap.loc[snap.h == 0, "days_left_in_target"] == (D("2025-04-30") - D("2025-02-01")).days).all()


def test_the_simulator_keys_commits_quotas_and_truth_by_fiscal_quarter(frames) -> None:
    assert frames["company"].fiscal_year_start_month.tolist() == [2]
    assert set(frames["commits"].submitted_at.dt.month) == {2, 5, 8, 11}  # 10 days into each fiscal quarter
    assert (frames["commits"].submitted_at.dt.day == 11).all()
    for name in ("commits", "quotas", "truth_bookings"):
        starts = FEB.periods(frames[name].quarter).start_time
        assert set(starts.month) == {2, 5, 8, 11}, name
    truth = frames["truth_bookings"]
    last = truth[truth.quarter == FEB.key(AS_OF)]  # the last fiscal quarter complete at the as-of, 2027Q3
    opps = frames["opportunities"]
    won = opps[opps.is_won & opps.type.isin(fd.BOOKING_TYPES)]
    inside = won[(won.close_date >= D("2026-08-01")) & (won.close_date <= D(AS_OF))]
    assert len(last) and last.actual_bookings_usd.sum() == pytest.approx(inside.amount_usd.sum(), rel=1e-6)


def test_bookings_peak_in_the_last_month_of_each_fiscal_quarter() -> None:
    base = np.datetime64("2024-02", "M")  # the first month of FY2025
    for start, peaks in ((1, {3, 6, 9, 12}), (2, {1, 4, 7, 10})):
        w = seasonal_weights(base, 24, start)
        month = (base + np.arange(24)).astype("datetime64[M]").astype(int) % 12 + 1
        growth = w / np.roll(w, 1)  # a quarter-end month is up on the month before it, the next one down
        up = {int(m) for m, g in zip(month[1:], growth[1:]) if g > 1.2}
        assert up == peaks, (start, up)


def test_the_backtest_runs_on_fiscal_quarters(frames) -> None:
    """Origins at the start of February, May, August and November quarters; the actual is what was won
    between the origin and three months later; the commits (keyed by fiscal quarter) are attached."""
    data = sales_data(frames, FEB)
    tree = fe.build_tree(data.people, sorted(data.opps.product_id.unique()))
    rows, deals = bt.run(data, fd._history_features(data.hist), tree, D(AS_OF), frames["commits"], n=2,
                         weeks=(0, 2))
    company = rows[(rows.h == 0) & (rows.role == "cro") & (rows.product_id == fe.ALL)]
    now = company[company.week == 0]
    origins = pd.to_datetime(now.origin_date)
    assert list(now.quarter) == ["2027Q2", "2027Q3"] and set(origins.dt.month) == {5, 8}
    assert (origins.dt.day == 1).all()
    won = data.won
    for origin, actual in zip(origins, now.actual_usd):
        end = origin + pd.DateOffset(months=3) - pd.Timedelta(days=1)
        assert actual == pytest.approx(won.loc[(won.close_date >= origin) & (won.close_date <= end), "amount_usd"].sum())
    assert now.commit_usd.isna().all()  # submitted 10 days into the quarter: not yet at week 0
    committed = company[company.week == 2]
    assert committed.commit_usd.notna().all() and (committed.commit_usd > 0).all()
    assert set(deals.target_quarter) == {"2027Q2", "2027Q3"}
    live, _ = fe.forecast_at(data, fd._history_features(data.hist), tree, D(AS_OF), fe.train_winprob(
        data, fd._history_features(data.hist), D(AS_OF)), bt.window_start(data), quarters=3, n_paths=200)
    company = live[(live.role == "cro") & (live.product_id == fe.ALL)].set_index("h")
    assert list(company.quarter) == ["2027Q3", "2027Q4", "2028Q1"]
    closed = won.loc[(won.close_date >= D("2026-08-01")) & (won.close_date <= D(AS_OF)), "amount_usd"].sum()
    assert company.loc[0, "closed_won_usd"] == pytest.approx(closed)
    assert company.loc[1, "closed_won_usd"] == 0.0  # November-January has not started
