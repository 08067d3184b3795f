"""The demo company: valid against the contract, reproducible, nothing after as_of, truth planted."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from services import contract
from services.simulator import generate

AS_OF = pd.Timestamp("2026-06-15")


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    return generate(accounts=600, months=24, seed=3, as_of=AS_OF)


def _contract_tables(frames):
    return {k: v for k, v in frames.items() if k in contract.SPECS}


def test_demo_passes_the_contract(demo):
    report = contract.validate(_contract_tables(demo))
    assert report.ok, report.format()


def test_same_seed_same_company():
    a = generate(accounts=120, months=18, seed=7, as_of=AS_OF)
    b = generate(accounts=120, months=18, seed=7, as_of=AS_OF)
    c = generate(accounts=120, months=18, seed=8, as_of=AS_OF)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["subscriptions"].equals(c["subscriptions"])


def test_nothing_after_as_of(demo):
    assert demo["usage_monthly"].month.max() < AS_OF.replace(day=1)
    assert demo["opportunity_history"].snapshot_date.max() <= AS_OF
    assert demo["support_cases"].opened_date.max() <= AS_OF
    assert demo["subscriptions"].start_date.max() <= AS_OF
    assert demo["accounts"].created_date.max() <= AS_OF
    open_deals = demo["opportunities"][~demo["opportunities"].is_closed]
    assert len(open_deals) > 0 and (open_deals.close_date > AS_OF - pd.Timedelta(days=400)).all()


def test_every_archetype_is_planted(demo):
    truth = demo["truth_adoption"]
    latest = truth[truth.month == truth.month.max()]
    assert set(latest.archetype) == {"healthy", "unused_seats", "under_consuming", "shallow", "declining",
                                     "expansion_ready"}
    assert latest.account_id.is_unique


def test_planted_churn_hazard_is_informative(demo):
    renewals = demo["truth_renewals"]
    seen = renewals[renewals.renewal_date <= AS_OF]
    assert 0.04 < seen.churned.mean() < 0.30
    high = seen.p_churn > seen.p_churn.median()
    assert seen[high].churned.mean() > 2 * seen[~high].churned.mean()


def test_commits_carry_planted_biases(demo):
    bias = demo["truth_commit_bias"].set_index("person_id").commit_bias
    assert (bias < 0.9).any() and (bias > 1.1).any()
    assert set(demo["commits"].person_id) <= set(bias.index)


def test_drift_is_planted_only_where_asked():
    clean = generate(accounts=400, months=18, seed=5, as_of=AS_OF)
    drifted = generate(accounts=400, months=18, seed=5, as_of=AS_OF, drift="support_load")

    def recent_share(frames):
        cases = frames["support_cases"]
        recent = cases.opened_date >= (AS_OF.replace(day=1) - pd.DateOffset(months=2))
        return recent.sum() / len(frames["accounts"])

    assert recent_share(drifted) > 1.8 * recent_share(clean)
    params = dict(zip(drifted["truth_params"].key, drifted["truth_params"].value))
    assert json.loads(params["drift_group"]) == "support_load"
    with pytest.raises(ValueError, match="unknown drift group"):
        generate(accounts=100, months=18, drift="weather")


def test_bookings_peak_at_quarter_end(demo):
    won = demo["opportunities"]
    won = won[won.is_won & won.type.isin(["new", "expansion"])]
    month_of_quarter = (won.close_date.dt.month - 1) % 3
    share = won.groupby(month_of_quarter).amount_usd.sum() / won.amount_usd.sum()
    assert share.loc[2] > share.loc[0]
    assert np.isclose(share.sum(), 1.0)


def test_same_seed_and_as_of_give_the_same_tables_whatever_today_is(monkeypatch):
    import datetime as dt

    import services.simulator as sim

    class Frozen(dt.date):
        day_now = dt.date(2026, 7, 20)

        @classmethod
        def today(cls):
            return cls.day_now

    monkeypatch.setattr(sim, "date", Frozen)
    a = generate(accounts=80, months=18, seed=4, as_of="2026-03-31")
    default_a = generate(accounts=80, months=18, seed=4)
    Frozen.day_now = dt.date(2027, 2, 3)
    b = generate(accounts=80, months=18, seed=4, as_of="2026-03-31")
    default_b = generate(accounts=80, months=18, seed=4)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    # without --as-of the clock decides: the last month-end before today
    params = dict(zip(default_a["truth_params"].key, default_a["truth_params"].value))
    assert json.loads(params["as_of"]) == "2026-06-30"
    params = dict(zip(default_b["truth_params"].key, default_b["truth_params"].value))
    assert json.loads(params["as_of"]) == "2027-01-31"


def test_default_as_of_is_the_last_month_end_before_today():
    import datetime as dt

    from services.simulator import default_as_of
    assert default_as_of(dt.date(2026, 12, 1)) == dt.date(2026, 11, 30)
    assert default_as_of(dt.date(2026, 3, 31)) == dt.date(2026, 2, 28)
    assert default_as_of(dt.date(2024, 3, 15)) == dt.date(2024, 2, 29)


def test_no_end_date_is_rewritten_by_a_later_event(demo):
    """A subscription's end date is fixed when it starts: it is a renewal of its account (renewed or
    churned there), never the day of a later amendment or expansion. So what a point-in-time reader
    sees at any date (the subscriptions started by then, with their end dates) is what is stored."""
    subs = demo["subscriptions"]
    simulated = subs[subs.end_date <= AS_OF + pd.DateOffset(months=6)]  # renewals simulated up to here
    renewals = demo["truth_renewals"][["account_id", "renewal_date"]].drop_duplicates()
    got = simulated.merge(renewals, left_on=["account_id", "end_date"], right_on=["account_id", "renewal_date"],
                          how="left", indicator=True)
    not_renewal = got[got["_merge"] == "left_only"]
    assert len(simulated) > 1000
    assert not_renewal.empty, not_renewal.head().to_string()
    # expansions are add-on lines (they renew nothing), co-termed with the running subscription
    addons = subs[subs.renewal_of.isna() & (subs.start_date > subs.groupby("account_id").start_date.transform("min"))]
    assert len(addons) > 0


def test_a_month_end_as_of_completes_its_month():
    frames = generate(accounts=80, months=18, seed=4, as_of="2026-03-31")
    usage = frames["usage_monthly"]
    assert usage.month.max() == pd.Timestamp("2026-03-01")
    assert usage.month.nunique() == 18
    mid = generate(accounts=80, months=18, seed=4, as_of="2026-03-30")["usage_monthly"]
    assert mid.month.max() == pd.Timestamp("2026-02-01")
