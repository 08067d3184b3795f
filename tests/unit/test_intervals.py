"""Intervals on synthetic problems whose true probabilities are known: refits, local calibration, abstention."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from models import intervals
from services.forecast import deal_novelty

K = 50  # neighbours, as the churn and expansion steps use


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _intervals_of(truth_logit, seed: int = 0):
    """A logistic model on x fitted to outcomes drawn from `truth_logit(x)`; the test rows' intervals from 8
    bootstrap refits alone and combined with the local calibration (cross-fitted training probabilities,
    the K nearest training rows in x). Returns (truth p, refits-only interval, combined interval)."""
    rng = np.random.default_rng(seed)
    x, x_test = rng.uniform(-2, 2, 6000), rng.uniform(-2, 2, 1500)
    y = (rng.random(len(x)) < _sigmoid(truth_logit(x))).astype(int)
    X, Xt = x[:, None], x_test[:, None]
    model = LogisticRegression().fit(X, y)
    point = model.decision_function(Xt)
    draws = []
    for rows in intervals.group_bootstrap(np.arange(len(x)), 8, seed):
        draws.append(LogisticRegression().fit(X[rows], y[rows]).decision_function(Xt))
    draws = np.vstack(draws)
    oof = np.empty(len(x))
    fold = rng.integers(0, 5, len(x))
    for f in range(5):
        oof[fold == f] = LogisticRegression().fit(X[fold != f], y[fold != f]).predict_proba(X[fold == f])[:, 1]
    nb = intervals.nearest(X, Xt, K)
    local = intervals.calibration_sd(y[nb], oof[nb], _sigmoid(point))
    truth = _sigmoid(truth_logit(x_test))
    return truth, intervals.interval(point, draws, 0.9), intervals.interval(point, draws, 0.9, extra_sd=local)


def test_the_local_calibration_covers_the_truth_where_the_model_misses_its_form() -> None:
    # truth curved in x, the model linear: refits agree with each other and miss the truth alike
    truth, refits_only, combined = _intervals_of(lambda x: -2.0 + 1.5 * np.abs(x))
    assert intervals.coverage(*refits_only, truth) < 0.5
    assert intervals.coverage(*combined, truth) >= 0.85


def test_the_local_calibration_covers_a_well_specified_model_without_blowing_up() -> None:
    truth, _, combined = _intervals_of(lambda x: -1.5 + x, seed=1)
    assert intervals.coverage(*combined, truth) >= 0.85
    assert np.median(combined[1] - combined[0]) < 0.3  # a range, not "anything between 0 and 1"


def test_calibration_sd_adds_the_sampling_error_of_the_neighbours_rate() -> None:
    rng = np.random.default_rng(4)
    p = np.full((300, K), 0.2)
    y = (rng.random(p.shape) < 0.2).astype(float)
    local = intervals.calibration_sd(y, p, np.full(300, 0.2))
    misfit = intervals.local_misfit_sd(y, p, np.full(300, 0.2))
    assert (local >= misfit).all()
    # with a calibrated model the sd is about the binomial error of K outcomes, on the log-odds scale
    assert np.median(local) == pytest.approx(np.sqrt(0.2 * 0.8 / K) / (0.2 * 0.8), rel=0.05)
    # one outcome shared by all the rows of a group counts once: fewer outcomes, a wider range
    groups = np.repeat(np.arange(K // 5)[None, :], 300, axis=0).repeat(5, axis=1)
    y_grouped = np.repeat(rng.random((300, K // 5)) < 0.2, 5, axis=1).astype(float)
    assert np.median(intervals.calibration_sd(y_grouped, p, np.full(300, 0.2), groups)) > 2 * np.median(local)


def test_edge_for_withholds_exactly_beyond_the_chance_of_another_tier() -> None:
    chance, level = 1 / 3, 0.9
    edge = intervals.edge_for(chance, level)
    sd = 0.8
    boundary = 0.25
    points = intervals.logit(boundary) + np.linspace(-2, 2, 401) * sd  # the boundary from -2 to +2 sd away
    low, high = intervals.interval_sd(points, sd, level)
    tier = intervals.abstaining_tier(_sigmoid(points), low, high, (("high", boundary), ("low", 0.0)), edge=edge)
    other_side = norm.cdf(-np.abs(points - intervals.logit(boundary)) / sd)
    clear = np.abs(other_side - chance) > 0.01
    assert ((tier == intervals.UNCERTAIN) == (other_side > chance))[clear].all()
    with pytest.raises(ValueError):
        intervals.edge_for(0.6, level)


def _backtest(rng, n: int, won_rate) -> pd.DataFrame:
    p = rng.uniform(0.05, 0.9, n)
    return pd.DataFrame({"opportunity_id": [f"O{i}" for i in range(n)], "target_quarter": "2026Q1", "p_win": p,
                         "won_in_quarter": (rng.random(n) < won_rate(p)).astype(float)})


def test_the_win_range_follows_the_backtest_outcomes_near_the_probability() -> None:
    rng = np.random.default_rng(2)
    live = np.array([0.2, 0.5, 0.8])
    low, high = deal_novelty.win_range(_backtest(rng, 4000, lambda p: p), live)
    assert (low < live).all() and (live < high).all() and (high - low < 0.3).all()
    # deals scored 0.5 won three times in four in the backtest: the range reaches that rate
    lo2, hi2 = deal_novelty.win_range(_backtest(rng, 4000, lambda p: np.where(np.abs(p - 0.5) < 0.1, 0.75, p)),
                                      live)
    assert hi2[1] >= 0.75 > high[1]
    assert hi2[0] - lo2[0] == pytest.approx(high[0] - low[0], abs=0.1)
    # a probability of exactly 0 (a deal outside the quarter) lies inside its own range
    lo0, hi0 = deal_novelty.win_range(_backtest(rng, 500, lambda p: p), np.array([0.0, 1.0]))
    assert lo0[0] == 0.0 <= hi0[0] and lo0[1] <= 1.0 == hi0[1]
