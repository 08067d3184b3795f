"""Read sides as of a date and within a scope, on the shared trained demo (read only)."""
from __future__ import annotations

import pandas as pd
import pytest

from services import db, registry
from services.adoption import read as adoption
from services.churn import read as churn
from services.churn import tables as churn_tables
from services.explain import read as explain
from services.fiscal import CALENDAR
from services.forecast import read as fc
from services.hierarchy import Scope, regions


@pytest.fixture(scope="module")
def engine(trained_db_file):
    return db.get_engine(f"sqlite:///{trained_db_file}")


@pytest.fixture(scope="module")
def region(engine) -> str:
    return regions(db.read_table("people", engine))[0]


def test_a_usage_month_is_shown_once_it_has_ended() -> None:
    known = adoption._month_known
    assert known(pd.Timestamp("2026-11-30")) == pd.Timestamp("2026-11-01")
    assert known(pd.Timestamp("2026-11-29")) < pd.Timestamp("2026-11-01")  # November not complete yet
    assert known(pd.Timestamp("2026-12-01")) >= pd.Timestamp("2026-11-01")
    assert pd.Timestamp("2027-02-01") <= known(pd.Timestamp("2027-02-28")) < pd.Timestamp("2027-03-01")
    assert known(pd.Timestamp("2027-03-30")) < pd.Timestamp("2027-03-01")
    assert known(None) is None


def test_churn_at_risk_per_score_date(engine) -> None:
    dates = churn.score_dates(engine)
    assert len(dates) == 13
    past = churn.at_risk(engine, as_of=dates[5] + pd.Timedelta(days=3))
    assert past.attrs["score_date"] == dates[5] and set(past.score_date) == {dates[5]}
    assert past.reason_1.isna().all() and past.attrs["reasons_date"] == dates[-1]
    prev = registry.read_snapshot(engine, churn_tables.SCORES, "score_date", dates[4]).set_index("account_id")
    row = past.iloc[0]
    want = 100 * (row.probability - prev.probability.get(row.account_id, float("nan")))
    assert row.change_pp == pytest.approx(want, nan_ok=True)
    latest = churn.at_risk(engine)
    assert latest.reason_1.notna().any()
    before = churn.at_risk(engine, as_of=dates[0] - pd.Timedelta(days=1))
    assert before.empty and before.attrs["score_date"] is None


def test_account_360_as_of(engine) -> None:
    dates = churn.score_dates(engine)
    account = churn.at_risk(engine).account_id.iloc[0]
    now = churn.account_360(engine, account)
    then = churn.account_360(engine, account, dates[3])
    assert then.risk_history.score_date.max() <= dates[3] < now.risk_history.score_date.max()
    assert then.usage.month.max() <= dates[3] and then.cases.opened_date.max() <= dates[3]
    assert then.reasons.empty and not now.reasons.empty and then.reasons_date == dates[-1]
    assert churn.in_scope(engine, account, Scope())


def test_adoption_clusters_as_of_and_in_scope(engine, region) -> None:
    latest = adoption.month_of(engine)
    earlier = latest - pd.DateOffset(months=4)
    as_of = earlier + pd.offsets.MonthEnd(0)
    cl = adoption.clusters(engine, as_of)
    sig = adoption.signals_at(engine, as_of)
    assert cl.attrs["month"] == earlier and cl.n_accounts.sum() == len(sig) > 0
    scoped = adoption.clusters(engine, as_of, Scope(region=region))
    assert 0 < scoped.n_accounts.sum() < cl.n_accounts.sum()
    moves = adoption.movements(engine, as_of)
    assert moves.attrs["end"] == earlier and moves.accounts.sum() <= len(sig)
    assert adoption.product_signals(engine, as_of).empty and not adoption.product_signals(engine).empty


def test_forecast_nodes_at_an_origin_of_the_as_of_quarter(engine) -> None:
    live = fc.nodes_at(engine)
    origin = live.attrs["origin"]
    assert set(live.origin_date) == {origin, origin - pd.Timedelta(days=7)}  # now and a week earlier
    backtest = registry.read_results(engine, fc.T.NODES, fc.MODEL, "kind = 'backtest'")
    day = backtest.origin_date.max() + pd.Timedelta(days=2)
    at = fc.nodes_at(engine, day)
    assert CALENDAR.key(day) in set(at.quarter)  # the last backtest origin lies inside its quarter
    assert at.attrs["origin"] == backtest.origin_date.max() and set(at.kind) == {"backtest"}
    first = backtest.origin_date.min() - pd.Timedelta(days=1)
    assert fc.nodes_at(engine, first).empty and fc.nodes_at(engine, first).attrs["origin"] is None


def test_forecast_figures_without_a_week_earlier_have_no_change(engine) -> None:
    live = fc.nodes_at(engine)
    one = live[live.origin_date == live.attrs["origin"]]
    cro = fc.node_for(db.read_table("people", engine), Scope())
    quarter = min(one.quarter)
    assert fc.figures(engine, one, [cro], quarter).p50_usd_last_week.isna().all()
    assert fc.figures(engine, live, [cro], quarter).p50_usd_last_week.notna().all()


def test_commits_and_actuals_are_cut_at_the_as_of(engine) -> None:
    everyone = fc.commits(engine)
    day = pd.Timestamp(everyone.submitted_at.median()).normalize()
    cut = fc.commits(engine, day)
    assert 0 < len(cut) < len(everyone) and (pd.to_datetime(cut.submitted_at) < day + pd.Timedelta(days=1)).all()
    owners = db.read_table("people", engine).person_id.tolist()
    assert fc.quarterly_actuals(engine, owners, 50, day).quarter.max() == CALENDAR.key(day)


def test_workbench_subjects_in_scope(engine, region) -> None:
    for model in ("churn", "adoption_margin", "winprob", "forecast_node"):
        everyone = explain.subjects(engine, model)
        scoped = explain.subjects(engine, model, Scope(region=region))
        assert set(scoped.subject_id) < set(everyone.subject_id), model
