"""Unit tests for the adoption estimator: ids, names, margin decomposition, score, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from models.adoption import SIGNALS, AdoptionClusters, score

CENTRES = {  # seat, volume, breadth, jobs, trend
    "Healthy": [0.85, 0.85, 0.93, 0.86, 0.0],
    "Unused seats": [0.30, 0.80, 0.75, 0.57, 0.0],
    "Under-consuming allowance": [0.85, 0.30, 0.76, 0.58, 0.0],
    "Shallow use: jobs incomplete": [0.80, 0.82, 0.50, 0.05, 0.0],
    "Declining": [0.25, 0.40, 0.30, 0.10, -0.4],
    "Expansion-ready": [1.22, 1.20, 0.96, 0.93, 0.1],
}


def blobs(n: int = 1200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = np.array([0.45, 0.15, 0.12, 0.14, 0.06, 0.08])
    group = rng.choice(len(CENTRES), size=n, p=sizes / sizes.sum())
    centres = np.array(list(CENTRES.values()))
    X = pd.DataFrame(centres[group] + rng.normal(0, 0.05, (n, len(SIGNALS))), columns=SIGNALS)
    return X, group


def test_names_follow_the_planted_centres() -> None:
    X, group = blobs()
    model = AdoptionClusters(k_range=(4, 8), n_bootstrap=3).fit(X)
    assert model.k_ == 6
    names = pd.Series(model.predict(X)).map(model.name_of_)
    for g, expected in enumerate(CENTRES):
        assert names[group == g].mode()[0] == expected


def test_ids_are_kept_across_refits() -> None:
    X, _ = blobs(seed=1)
    first = AdoptionClusters(k_range=(6, 6), n_bootstrap=2).fit(X)
    X2, _ = blobs(seed=2)
    second = AdoptionClusters(k_range=(6, 6), n_bootstrap=2, random_state=7).fit(X2, previous=first.centroids_)
    assert second.name_of_ == first.name_of_


def test_unmatched_clusters_get_fresh_ids() -> None:
    X, _ = blobs(seed=3)
    prev = pd.DataFrame([[5.0] * len(SIGNALS)], columns=SIGNALS, index=pd.Index([41], name="cluster_id"))
    model = AdoptionClusters(k_range=(6, 6), n_bootstrap=2).fit(X, previous=prev)
    assert 41 not in model.cluster_ids_ and min(model.cluster_ids_) == 42


def test_margin_decomposition_is_exact() -> None:
    X, _ = blobs(seed=4)
    model = AdoptionClusters(k_range=(6, 6), n_bootstrap=2).fit(X)
    dec = model.margin_decomposition(X)
    Z = model.transform(X)
    cen = model.scaled_centroids_
    d_a = ((Z - cen.loc[dec.cluster_id].to_numpy()) ** 2).sum(1)
    d_b = ((Z - cen.loc[dec.runner_up_id].to_numpy()) ** 2).sum(1)
    np.testing.assert_allclose(dec[SIGNALS].sum(1), d_b - d_a, atol=1e-9)
    assert (dec["margin"] >= 0).all()
    assert (dec["cluster_id"].to_numpy() == model.predict(X)).all()


def test_score_is_bounded_and_rewards_use() -> None:
    frame = pd.DataFrame({"capacity_use": [0.0, 0.5, 1.4, 1.0], "breadth": [0, 0.5, 1, 1],
                          "job_completion": [0, 0.5, 1, 1], "use_trend": [-2, 0, 0, -0.5]})
    s = score(frame)
    assert s.between(0, 100).all()
    assert s.iloc[0] == 0 and s.iloc[2] == 100 and s.iloc[3] == 90


def test_bad_input_is_rejected_clearly() -> None:
    X, _ = blobs()
    with pytest.raises(ValueError, match="missing"):
        AdoptionClusters().fit(X.drop(columns="breadth"))
    with pytest.raises(ValueError, match="NaN"):
        AdoptionClusters().fit(X.assign(breadth=np.nan))
    with pytest.raises(ValueError, match="at least"):
        AdoptionClusters().fit(X.head(20))


def test_each_name_comes_with_the_figures_behind_it() -> None:
    from models.adoption import DEFINING, LABELS
    X, _ = blobs()
    model = AdoptionClusters(k_range=(4, 8), n_bootstrap=3).fit(X)
    for name, text in zip(model.names_, model.descriptions_):
        if name in DEFINING:
            assert text.lower().startswith(LABELS[DEFINING[name]]), (name, text)
        assert " vs " in text and "overall" in text


def test_a_second_cluster_near_a_name_is_named_by_its_trend_or_merged() -> None:
    """Two groups both healthy by level, one with use rising fast: the second is "Recovering", not
    "Healthy (2)" (no counter in any name)."""
    rng = np.random.default_rng(3)
    centres = {**CENTRES, "Recovering": [0.70, 0.80, 0.85, 0.80, 0.7]}
    sizes = np.array([0.40, 0.14, 0.12, 0.14, 0.06, 0.08, 0.06])
    group = rng.choice(len(centres), size=1400, p=sizes / sizes.sum())
    X = pd.DataFrame(np.array(list(centres.values()))[group] + rng.normal(0, 0.05, (1400, len(SIGNALS))),
                     columns=SIGNALS)
    model = AdoptionClusters(k_range=(7, 7), n_bootstrap=2).fit(X)
    names = pd.Series(model.predict(X)).map(model.name_of_)
    assert names[group == list(centres).index("Recovering")].mode()[0] == "Recovering"
    assert not any("(" in n for n in model.names_)


def test_clusters_that_earn_the_same_name_are_merged() -> None:
    """Asked for one cluster more than there are groups, k-means splits a group; both halves earn its name
    and are merged into one id, so each planted group is one cluster."""
    X, group = blobs(seed=5)
    model = AdoptionClusters(k_range=(8, 8), n_bootstrap=2).fit(X)
    assert model.merges_, "an 8-way split of 6 groups should produce a shared name"
    assert len(set(model.names_)) == len(model.names_) == model.k_
    assert adjusted_rand_score(group, model.predict(X)) > 0.95
    assert len(model.centroids_) == model.k_ and model.centroids_.index.is_unique


def test_robust_scaling_rule() -> None:
    """Spread = 1.4826 x MAD (the standard deviation for normal noise, unmoved by a far group); the standard
    deviation where most rows share one value (a neutral fill); 1 for a constant signal."""
    rng = np.random.default_rng(0)
    n = 4000
    X = pd.DataFrame({
        "seat_use": np.r_[rng.normal(0.85, 0.05, n - 800), rng.normal(0.3, 0.05, 800)],  # a far group
        "volume_use": np.where(rng.random(n) < 0.8, 0.8, rng.normal(0.8, 0.2, n)),  # neutral-fill spike
        "breadth": rng.normal(0.9, 0.05, n), "job_completion": np.full(n, 0.5), "use_trend": rng.normal(0, 0.1, n)})
    model = AdoptionClusters(k_range=(4, 4), n_bootstrap=1).fit(X)
    spread = dict(zip(SIGNALS, model.scaler_.scale_))
    assert spread["seat_use"] == pytest.approx(0.06, abs=0.01)  # MAD-based, not the std (~0.22)
    assert X["seat_use"].std() > 3 * spread["seat_use"]
    assert spread["volume_use"] == pytest.approx(X["volume_use"].std(ddof=0))
    assert spread["breadth"] == pytest.approx(0.05, rel=0.1)
    assert spread["job_completion"] == 1.0
    standard = AdoptionClusters(k_range=(4, 4), n_bootstrap=1, scaling="standard").fit(X)
    np.testing.assert_allclose(standard.scaler_.scale_[0], X["seat_use"].std(ddof=0))
    with pytest.raises(ValueError, match="scaling"):
        AdoptionClusters(scaling="minmax").fit(X)
