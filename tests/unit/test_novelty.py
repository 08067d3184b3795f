"""Novelty scorer, intervals and abstaining tiers on small synthetic data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import intervals
from models.novelty import NoveltyScorer
from services import confidence


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    a = rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": a + 0.1 * rng.normal(size=n), "arr": rng.lognormal(10, 1.5, n),
                         "c": rng.normal(size=n), "kind": rng.choice(["x", "y", "z"], n)})


@pytest.fixture(scope="module")
def fitted() -> tuple[NoveltyScorer, np.random.Generator]:
    rng = np.random.default_rng(0)
    X = _frame(rng, 4000)
    return NoveltyScorer(random_state=0).fit(X, groups=np.arange(len(X)) // 4), rng


def test_about_one_percent_of_rows_like_the_training_rows_are_flagged(fitted) -> None:
    scorer, rng = fitted
    rate = scorer.score_frame(_frame(rng, 5000)).novel.mean()
    assert 0.003 <= rate <= 0.025


def test_each_kind_of_novelty_is_flagged_and_named(fitted) -> None:
    scorer, rng = fitted
    X = _frame(rng, 3).reset_index(drop=True)
    X.loc[0, "arr"] = X.arr.max() * 1e3           # out of range
    X.loc[1, "kind"] = "never"                      # unseen category
    X.loc[2, ["a", "b"]] = [1.8, -1.8]              # each in range, together unlike any row
    sf = scorer.score_frame(X)
    assert sf.novel.all()
    assert list(sf.part) == ["out_of_range", "unseen_value", "unusual_combination"]
    assert sf.features[0][0] == "arr" and sf.direction[0][0] == "above"
    assert sf.features[1] == ["kind"]
    assert set(sf.features[2][:2]) == {"a", "b"}
    att = scorer.attributions(X)
    assert att.loc[0].idxmax() == "arr" and att.loc[1].idxmax() == "kind"


def test_ordinary_rows_score_below_planted_ones(fitted) -> None:
    scorer, rng = fitted
    X = _frame(rng, 200)
    base = scorer.score_samples(X)
    X["arr"] *= 1e4
    assert (scorer.score_samples(X) > base).mean() > 0.95


def test_reason_sentence_names_the_feature() -> None:
    text = confidence.reason("unseen_value", ["industry"], ["unseen"], {"industry": "Public sector"},
                             {"industry": "Industry"})
    assert "Industry never seen (Public sector)" in text
    assert "above any training row" in confidence.reason("out_of_range", ["arr_log"], ["above"])


def test_novelty_columns_give_a_reason_only_when_flagged(fitted) -> None:
    scorer, rng = fitted
    X = _frame(rng, 50)
    X.loc[0, "kind"] = "never"
    out = confidence.novelty_columns(scorer, X)
    assert out.novel[0] and "never seen" in out.novelty_reason[0]
    assert out.novelty_reason[~out.novel].isna().all()


def test_group_bootstrap_keeps_groups_whole() -> None:
    g = np.repeat(np.arange(10), 3)
    for rows in intervals.group_bootstrap(g, 5, seed=1):
        counts = pd.Series(g[rows]).value_counts()
        assert (counts % 3 == 0).all() and len(rows) == 30


def test_interval_contains_the_point_and_widens_with_disagreement() -> None:
    point = np.array([-2.0, 0.0, 1.0])
    draws = np.array([[-2.1, -0.5, 1.0], [-1.9, 0.5, 1.0], [-2.0, 0.0, 1.0001]])
    lo, hi = intervals.interval(point, draws, 0.9)
    p = 1 / (1 + np.exp(-point))
    assert (lo <= p).all() and (p <= hi).all()
    assert (hi - lo)[1] > (hi - lo)[0] > (hi - lo)[2]
    with pytest.raises(ValueError):
        intervals.interval(point, draws[:1])


def test_a_good_interval_covers_truth_at_about_its_level() -> None:
    rng = np.random.default_rng(3)
    truth = rng.normal(-1.5, 1, 20000)
    sd = 0.3
    point = truth + rng.normal(0, sd, len(truth))
    draws = point + rng.normal(0, sd, (400, len(truth)))
    lo, hi = intervals.interval(point, draws, 0.9)
    cov = intervals.coverage(lo, hi, 1 / (1 + np.exp(-truth)))
    assert 0.87 <= cov <= 0.93


def test_tiers_abstain_when_novel_or_straddling_widely() -> None:
    tiers = (("high", 0.25), ("medium", 0.10), ("low", 0.0))
    p = np.array([0.5, 0.2, 0.05, 0.24, 0.3])
    lo = np.array([0.45, 0.18, 0.04, 0.05, 0.28])
    hi = np.array([0.55, 0.22, 0.06, 0.60, 0.32])
    out = intervals.abstaining_tier(p, lo, hi, tiers, novel=np.array([False, False, True, False, False]))
    assert list(out) == ["high", "medium", intervals.UNCERTAIN, intervals.UNCERTAIN, "high"]
    # the boundary 0.25 near one end of the interval: no abstention
    assert intervals.abstaining_tier(np.array([0.30]), np.array([0.245]), np.array([0.40]), tiers)[0] == "high"


def test_local_misfit_is_zero_for_a_calibrated_model_and_positive_where_it_misses() -> None:
    rng = np.random.default_rng(5)
    p = np.full((400, 300), 0.2)
    y_ok = rng.random(p.shape) < 0.2
    y_off = rng.random(p.shape) < 0.4
    assert np.median(intervals.local_misfit_sd(y_ok, p, np.full(400, 0.2))) < 0.15
    assert np.median(intervals.local_misfit_sd(y_off, p, np.full(400, 0.2))) > 1.0


def test_nearest_finds_the_closest_reference_rows() -> None:
    ref = np.arange(100, dtype=float)[:, None]
    nb = intervals.nearest(ref, np.array([[10.2], [90.0]]), k=3)
    assert sorted(nb[0]) == [9, 10, 11] and 90 in nb[1]


def test_cluster_fit_flags_rows_far_from_every_centroid() -> None:
    from models.cluster_fit import ClusterFit

    rng = np.random.default_rng(1)
    centers = np.array([[0.0, 0.0], [6.0, 0.0]])
    labels = rng.integers(0, 2, 2000)
    Z = centers[labels] + rng.normal(0, 1, (2000, 2))
    fit = ClusterFit().fit(Z, labels, centers)
    _, flagged = fit.unlike_any(Z)
    assert flagged.mean() <= 0.011
    ratio, far = fit.unlike_any(np.array([[3.0, 12.0], [0.2, 0.1]]))
    assert list(far) == [True, False] and ratio[0] > 2


def test_assess_gives_every_row_an_interval_novelty_and_tier() -> None:
    rng = np.random.default_rng(7)
    train = _frame(rng, 1500)
    y = (rng.random(len(train)) < 1 / (1 + np.exp(-(train.a - 1.5)))).astype(float)
    rows = _frame(rng, 40)
    rows.loc[0, "kind"] = "never"
    point = rows.a.to_numpy() - 1.5
    draws = point + rng.normal(0, 0.2, (5, len(rows)))
    p_train = 1 / (1 + np.exp(-(train.a.to_numpy() - 1.5)))
    tiers = (("high", 0.25), ("medium", 0.10), ("low", 0.0))
    out, scorer, misfit = confidence.assess(train, np.arange(len(train)), y, p_train, rows, point, draws, tiers,
                                            0.9, 100)
    p = 1 / (1 + np.exp(-point))
    assert len(out) == len(rows) and (out.probability_low <= p).all() and (p <= out.probability_high).all()
    assert out.novel[0] and out.tier_confident[0] == intervals.UNCERTAIN
    assert (misfit >= 0).all() and scorer.threshold_ > 0
    summary = confidence.summary(out, np.ones(len(out), bool), scorer, misfit, 0.9, 5)
    assert 0 < summary["share_novel_latest"] < 0.5


def test_one_tier_abstains_only_on_novel_rows() -> None:
    out = intervals.abstaining_tier(np.array([0.2, 0.3]), np.array([0.01, 0.2]), np.array([0.9, 0.4]),
                                    (("all", 0.0),), novel=np.array([False, True]))
    assert list(out) == ["all", intervals.UNCERTAIN]


def test_a_categorical_mostly_missing_in_training_is_left_out() -> None:
    rng = np.random.default_rng(2)
    X = _frame(rng, 1000)
    X["recent"] = None
    X.loc[:50, "recent"] = "a"
    scorer = NoveltyScorer().fit(X)
    assert scorer.ignored_ == ["recent"]
    Y = _frame(rng, 300).assign(recent="b")
    assert scorer.score_frame(Y).novel.mean() < 0.05


def test_misfit_noise_counts_rows_of_one_group_once() -> None:
    rng = np.random.default_rng(9)
    n, k, size = 300, 200, 20  # 10 groups of 20 rows per neighbourhood, one outcome per group
    y = np.repeat(rng.random((n, k // size)) < 0.2, size, axis=1).astype(float)
    p = np.full((n, k), 0.2)
    groups = np.repeat(np.arange(k // size)[None, :], n, axis=0).repeat(size, axis=1)
    naive = intervals.local_misfit_sd(y, p, np.full(n, 0.2))
    grouped = intervals.local_misfit_sd(y, p, np.full(n, 0.2), groups)
    assert np.median(grouped) < 0.5 * np.median(naive)
