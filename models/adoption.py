"""Adoption clusters: robustly scaled signals + k-means with k chosen by bootstrap stability, stable ids,
names; clusters that earn the same name are merged.

`AdoptionClusters` follows scikit-learn's estimator contract (hyper-parameters in `__init__`, `fit`
returns self, fitted state ends in `_`). Frames in, results out; no database, no files.

SCALING: k-means weighs every signal by its spread, so the spread decides what the clusters separate.
The standard deviation of a signal grows with the very groups k-means is to find (unused seats at 30% use
against a majority near 85% make the standard deviation of seat use 2.7 times its MAD on the demo), which
shrinks the gaps between groups and leaves noisy signals (the 3-month use trend) to drive the splits: on
the demo, standard scaling put expansion-ready accounts inside Healthy at k 5-6. Each signal is therefore centred on its median and
divided by its robust spread, 1.4826 x the median absolute deviation (the spread of the typical account,
equal to the standard deviation for normal noise). Where the MAD is under `spread_floor` (a quarter) of the
standard deviation, most accounts share one value (the neutral fill of accounts that do not own a pricing
family) and the MAD measures that spike, not the spread; the standard deviation is used there. The scaling
is linear per signal, so centroids, margins and explanations stay exact in signal units. Names are judged
in population standard deviations (`population_`), whatever the clustering space.

Choice of k (documented criterion): for every k in `k_range`, fit k-means (k-means++, best of `n_init` = 10
starts: with 4, one demo seed settled on a healthy half joined to the expansion-ready accounts) on a
sample and measure its
*stability*: the mean adjusted Rand index between the reference labelling and the labellings of
k-means refitted on `n_bootstrap` bootstrap resamples (all predicted on the same sample), and its
silhouette. The chosen k is the one with the best silhouette among the k whose stability is at least
`stability_threshold` (silhouette with a stability check): stability alone can favour a larger k
(k-means splits a big round group the same way every time), and silhouette alone can pick a split
that does not reproduce. If no k is stable enough, the most stable k is taken.

Merging: clusters whose profiles earn the same name (see NAMING) are merged at the id level: their
members' mean replaces their centres and k-means is refitted from the merged centres, until every cluster
has its own name (`merges_` lists the names merged; `k_` is the final number of clusters, `stability_` and
`silhouette_` those of the k chosen before merging). One archetype is then one cluster, not "X" and
"X (2)" with its accounts split between two ids.

Stable ids: a refit is matched to the previous model's centroids (Hungarian assignment on distances in
population standard deviations); a new centroid within `match_distance` of an old one keeps its id (and so
its place in the membership history); others get fresh ids.

Names come from each cluster's own profile (see NAMING below): the adoption challenge its centroid
departs furthest towards, in standard deviations from the population, when at least MIN_NAME_FIT (so a
company without per-seat products never gets "Unused seats"), else Healthy or Expansion-ready. A second
cluster near a name another holds more strongly is named by its trend ("Recovering", "Newly declining")
or merged under the same name. Each description gives the figures behind the name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

SIGNALS = ["seat_use", "volume_use", "breadth", "job_completion", "use_trend"]
LABELS = {"seat_use": "seat use", "volume_use": "volume use", "breadth": "feature breadth",
          "job_completion": "job completion", "use_trend": "3-month use trend"}
MIN_NAME_FIT = 0.5
PERCENT_SIGNALS = {"seat_use", "volume_use", "breadth", "job_completion"}


def _neg(x: float) -> float:
    return max(0.0, -x)


# name -> score of a centroid (z-units by signal); the higher, the better the name fits
VOCABULARY: dict[str, Callable[[dict[str, float]], float]] = {
    "Healthy": lambda z: -sum(_neg(v) for v in z.values()) - 0.5 * max(z["seat_use"], z["volume_use"], 0.0),
    "Unused seats": lambda z: -z["seat_use"],
    "Under-consuming allowance": lambda z: -z["volume_use"],
    "Shallow use: jobs incomplete": lambda z: -z["job_completion"] + 0.5 * min(z["seat_use"], z["volume_use"], 0.0),
    "Declining": lambda z: -z["use_trend"] - 0.5 * max(z["seat_use"], z["volume_use"]),
    "Expansion-ready": lambda z: 0.5 * (z["seat_use"] + z["volume_use"]),
}


# NAMING: a cluster takes the challenge its profile departs furthest towards, measured on the challenge's
# defining signal in standard deviations from the population, when at least MIN_NAME_FIT; a falling use
# trend that strong names it Declining before a low capacity use does (use falls first, seats empty after).
# With no challenge that strong it is Healthy, or Expansion-ready when its capacity use is MIN_NAME_FIT
# above the population. A second cluster under a name it does not hold most strongly is "Recovering" when
# its use trend rises 2 x MIN_NAME_FIT above the population and the holder's does not, "Newly declining"
# when it falls that much more than the holder's (a trend name needs the same strength as Declining), and
# otherwise keeps the same name and is merged with the holder (AdoptionClusters._merge_same_names).
DEFINING = {"Declining": "use_trend", "Unused seats": "seat_use", "Under-consuming allowance": "volume_use",
            "Shallow use: jobs incomplete": "job_completion"}
SECOND_NAMES = ("Recovering", "Newly declining")


def _evidence(z: dict[str, float], name: str) -> float:
    if name in DEFINING:
        return -z[DEFINING[name]]
    if name == "Expansion-ready":
        return max(z["seat_use"], z["volume_use"])
    return -max((_neg(v) for v in z.values()), default=0.0)


def _primary_name(z: dict[str, float]) -> str:
    if -z["use_trend"] >= 2 * MIN_NAME_FIT:
        return "Declining"
    best = max(DEFINING, key=lambda n: _evidence(z, n))
    if _evidence(z, best) >= MIN_NAME_FIT:
        return best
    return "Expansion-ready" if _evidence(z, "Expansion-ready") >= 2 * MIN_NAME_FIT else "Healthy"


def _second_name(name: str, z: dict[str, float], holder: dict[str, float]) -> str:
    if z["use_trend"] >= 2 * MIN_NAME_FIT and holder["use_trend"] < MIN_NAME_FIT:
        return "Recovering"
    if name != "Declining" and z["use_trend"] <= holder["use_trend"] - 2 * MIN_NAME_FIT:
        return "Newly declining"
    return name


def _names(z: list[dict[str, float]]) -> list[str]:
    """The name of each centroid (z: departures in population standard deviations), see NAMING."""
    chosen = [_primary_name(zc) for zc in z]
    evidence = [_evidence(zc, n) for zc, n in zip(z, chosen)]
    for name in set(chosen):
        holders = sorted((i for i, n in enumerate(chosen) if n == name), key=lambda i: -evidence[i])
        keeper = holders[0] if name != "Healthy" else max(holders, key=lambda i: -abs(z[i]["use_trend"]))
        for i in holders:
            if i != keeper:  # a second cluster near one name: named by its trend, else merged under it
                chosen[i] = _second_name(name, z[i], z[keeper])
    return chosen


def score(signals: pd.DataFrame) -> pd.Series:
    """Net adoption score 0-100.

    score = 100 * clip(0.4 * min(capacity_use, 1) + 0.3 * breadth + 0.3 * job_completion
                       + 0.2 * clip(use_trend, -1, 0), 0, 1)
    Using what you pay for, across the features and whole jobs, earns the points; a falling use
    trend costs up to 20 points. Capacity use beyond 100% earns nothing extra."""
    cap = signals["capacity_use"].clip(upper=1.0).fillna(0.0)
    raw = (0.4 * cap + 0.3 * signals["breadth"] + 0.3 * signals["job_completion"]
           + 0.2 * signals["use_trend"].clip(-1.0, 0.0))
    return (100 * raw.clip(0.0, 1.0)).round(1)


def _fmt(signal: str, value: float) -> str:
    return f"{value:.0%}" if signal in PERCENT_SIGNALS else f"{value:+.2f}"


class AdoptionClusters(BaseEstimator):
    """Robustly scaled signals + k-means; k by bootstrap stability; same-named clusters merged; stable ids;
    vocabulary names."""

    def __init__(self, k_range: tuple[int, int] = (4, 9), stability_threshold: float = 0.85,
                 n_bootstrap: int = 6, selection_rows: int = 5_000, max_fit_rows: int = 50_000,
                 silhouette_rows: int = 3_000,
                 match_distance: float = 1.0, n_init: int = 10, n_threads: int | None = 1,
                 scaling: str = "robust", spread_floor: float = 0.25, random_state: int = 0) -> None:
        self.k_range = k_range
        self.stability_threshold = stability_threshold
        self.n_bootstrap = n_bootstrap
        self.selection_rows = selection_rows
        self.max_fit_rows = max_fit_rows
        self.silhouette_rows = silhouette_rows
        self.match_distance = match_distance
        self.n_init = n_init
        self.n_threads = n_threads
        self.scaling = scaling
        self.spread_floor = spread_floor
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        missing = [s for s in SIGNALS if s not in X]
        if missing:
            raise ValueError(f"signals missing from the input: {', '.join(missing)}")
        values = X[SIGNALS].to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise ValueError("signals contain NaN or infinite values; fill them before clustering")
        return values

    def _scaler(self, values: np.ndarray) -> StandardScaler:
        """The clustering space (see SCALING): centred on the median, each signal divided by its robust
        spread (1.4826 x MAD), or by its standard deviation where the MAD is under `spread_floor` of it;
        a constant signal is divided by 1. `scaling="standard"` gives plain standard scaling."""
        sc = StandardScaler().fit(values)
        if self.scaling == "standard":
            return sc
        if self.scaling != "robust":
            raise ValueError(f"scaling must be 'robust' or 'standard', got {self.scaling!r}")
        med = np.median(values, axis=0)
        mad = 1.4826 * np.median(np.abs(values - med), axis=0)
        std = values.std(axis=0)
        spread = np.where(mad >= self.spread_floor * std, mad, std)
        sc.mean_, sc.scale_ = med, np.where(spread > 1e-12, spread, 1.0)
        return sc

    def _kmeans(self, k: int, seed: int, n_init: int = 1) -> KMeans:
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed)

    def _stability(self, Z: np.ndarray, k: int, rng: np.random.Generator) -> tuple[float, np.ndarray]:
        ref = self._kmeans(k, self.random_state, self.n_init).fit(Z)
        ref_labels = ref.labels_
        aris = []
        for b in range(self.n_bootstrap):
            idx = rng.integers(0, len(Z), len(Z))
            boot = self._kmeans(k, self.random_state + 1 + b, self.n_init).fit(Z[idx])
            aris.append(adjusted_rand_score(ref_labels, boot.predict(Z)))
        return float(np.mean(aris)), ref.cluster_centers_

    def fit(self, X: pd.DataFrame, y: None = None, previous: pd.DataFrame | None = None) -> AdoptionClusters:
        """Fit (OpenMP threads limited to `n_threads`: on a shared 2-core box, 2 spinning threads per
        k-means made the 100k benchmark 17x slower than 1)."""
        with threadpool_limits(limits=self.n_threads):
            return self._fit(X, previous)

    def _fit(self, X: pd.DataFrame, previous: pd.DataFrame | None) -> AdoptionClusters:
        """Fit on a frame with the `SIGNALS` columns (one row per account).

        `previous`: the prior model's centroids (index cluster_id, SIGNALS columns in signal units)
        whose ids are kept for matching clusters."""
        values = self._matrix(X)
        lo, hi = self.k_range
        if len(values) < 10 * hi:
            raise ValueError(f"need at least {10 * hi} accounts to choose among {hi} clusters, got {len(values)}")
        rng = np.random.default_rng(self.random_state)
        self.population_ = StandardScaler().fit(values)
        self.scaler_ = self._scaler(values)
        Z = self.scaler_.transform(values)
        Zs = Z[rng.choice(len(Z), self.selection_rows, replace=False)] if len(Z) > self.selection_rows else Z
        Zf = Z[rng.choice(len(Z), self.max_fit_rows, replace=False)] if len(Z) > self.max_fit_rows else Z
        sil_idx = rng.choice(len(Zs), min(self.silhouette_rows, len(Zs)), replace=False)
        rows, centers = [], {}
        for k in range(lo, hi + 1):
            stab, centers[k] = self._stability(Zs, k, rng)
            labels = KMeans(n_clusters=k, init=centers[k], n_init=1).fit(Zs).labels_
            sil = float(silhouette_score(Zs[sil_idx], labels[sil_idx]))
            rows.append({"k": k, "stability": round(stab, 4), "silhouette": round(sil, 4)})
            log.info("k=%d: stability %.3f, silhouette %.3f", k, stab, sil)
        self.k_selection_ = pd.DataFrame(rows)
        stable = self.k_selection_[self.k_selection_.stability >= self.stability_threshold]
        pick = (stable.sort_values("silhouette").iloc[-1] if len(stable)
                else self.k_selection_.sort_values("stability").iloc[-1])
        self.k_ = int(pick["k"])
        self.stability_ = float(pick["stability"])
        self.silhouette_ = float(pick["silhouette"])
        km = KMeans(n_clusters=self.k_, init=centers[self.k_], n_init=1).fit(Zf)
        self.kmeans_, self.merges_ = self._merge_same_names(km, Zf)
        self.k_ = self.kmeans_.n_clusters
        self.cluster_ids_ = self._match_ids(self.kmeans_.cluster_centers_, previous)
        self._name()
        return self

    def _merge_same_names(self, km: KMeans, Z: np.ndarray) -> tuple[KMeans, list[str]]:
        """Clusters whose profiles earn the same name are one group to a reader: they are merged (the
        group's members' mean replaces their centres) and k-means is refitted from the merged centres,
        until every cluster has its own name. Returns the final k-means and the names merged."""
        merged: list[str] = []
        while km.n_clusters > 2:
            names = _names(self._z(km.cluster_centers_))
            dup = next((n for n in dict.fromkeys(names) if names.count(n) > 1), None)
            if dup is None:
                break
            group = [i for i, n in enumerate(names) if n == dup]
            init = [c for i, c in enumerate(km.cluster_centers_) if i not in group]
            init.append(Z[np.isin(km.labels_, group)].mean(axis=0))
            km = KMeans(n_clusters=len(init), init=np.array(init), n_init=1).fit(Z)
            merged.append(dup)
            log.info("merged %d clusters named %s", len(group), dup)
        return km, merged

    def _z(self, centers: np.ndarray) -> list[dict[str, float]]:
        """Centres in the clustering space -> signal departures in population standard deviations."""
        z = self.population_.transform(self.scaler_.inverse_transform(centers))
        return [dict(zip(SIGNALS, row)) for row in z]

    def _match_ids(self, scaled: np.ndarray, previous: pd.DataFrame | None) -> np.ndarray:
        ids = np.full(len(scaled), -1)
        if previous is not None and len(previous):
            old = self.population_.transform(previous[SIGNALS].to_numpy(dtype=float))
            scaled = self.population_.transform(self.scaler_.inverse_transform(scaled))
            dist = np.linalg.norm(scaled[:, None, :] - old[None, :, :], axis=2)
            rows, cols = linear_sum_assignment(dist)
            for r, c in zip(rows, cols):
                if dist[r, c] <= self.match_distance:
                    ids[r] = int(previous.index[c])
        next_id = max([int(i) for i in previous.index] if previous is not None and len(previous) else [-1]) + 1
        for r in np.flatnonzero(ids < 0):
            ids[r], next_id = next_id, next_id + 1
        return ids

    def _name(self) -> None:
        """Name each cluster from its own profile (see NAMING); each description states the figures behind
        its name (the defining signal first, against the population)."""
        z = self._z(self.kmeans_.cluster_centers_)
        scaled = np.array([[zc[s] for s in SIGNALS] for zc in z])
        names = list(VOCABULARY)
        fit = np.array([[VOCABULARY[n](zc) for n in names] for zc in z])
        chosen = _names(z)
        self.names_ = chosen
        self.name_fit_ = pd.DataFrame(fit, index=self.cluster_ids_, columns=names)
        population = self.population_.mean_
        centroids = self.scaler_.inverse_transform(self.kmeans_.cluster_centers_)
        self.descriptions_ = []
        for zc, cen, name in zip(scaled, centroids, chosen):
            lead = DEFINING.get(name.split(" (")[0], None)
            order = [SIGNALS.index(lead)] if lead else []
            order += [i for i in np.argsort(-np.abs(zc)) if i not in order]
            parts = [f"{LABELS[SIGNALS[i]]} {_fmt(SIGNALS[i], cen[i])} vs {_fmt(SIGNALS[i], population[i])} overall"
                     for i in order[:2]]
            self.descriptions_.append("; ".join(parts).capitalize())

    # ------------------------------------------------------------------ results
    @property
    def scaled_centroids_(self) -> pd.DataFrame:
        return pd.DataFrame(self.kmeans_.cluster_centers_, index=pd.Index(self.cluster_ids_, name="cluster_id"),
                            columns=SIGNALS)

    @property
    def centroids_(self) -> pd.DataFrame:
        """Centroids in signal units (index cluster_id)."""
        return pd.DataFrame(self.scaler_.inverse_transform(self.kmeans_.cluster_centers_),
                            index=pd.Index(self.cluster_ids_, name="cluster_id"), columns=SIGNALS)

    @property
    def name_of_(self) -> dict[int, str]:
        return dict(zip(self.cluster_ids_.tolist(), self.names_))

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Scaled signals."""
        return self.scaler_.transform(self._matrix(X))

    def _distances(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        Z = self.transform(X)
        c = self.kmeans_.cluster_centers_
        d2 = (Z**2).sum(axis=1)[:, None] - 2 * Z @ c.T + (c**2).sum(axis=1)[None, :]
        return Z, np.maximum(d2, 0.0)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Stable cluster id of each row."""
        _, d2 = self._distances(X)
        return self.cluster_ids_[np.argmin(d2, axis=1)]

    def margin_decomposition(self, X: pd.DataFrame) -> pd.DataFrame:
        """Exact per-signal decomposition of the squared-distance margin to the runner-up centroid.

        For row x with assigned centroid a and runner-up b (scaled space):
        ||x-b||^2 - ||x-a||^2 = sum_s [(x_s-b_s)^2 - (x_s-a_s)^2]; one column per signal, plus
        `cluster_id`, `runner_up_id` and `margin` (the sum). Positive contributions pull towards the
        assigned cluster."""
        Z, d2 = self._distances(X)
        order = np.argsort(d2, axis=1)
        a, b = order[:, 0], order[:, 1]
        ca, cb = self.kmeans_.cluster_centers_[a], self.kmeans_.cluster_centers_[b]
        contrib = (Z - cb) ** 2 - (Z - ca) ** 2
        out = pd.DataFrame(contrib, columns=SIGNALS, index=X.index)
        out["cluster_id"] = self.cluster_ids_[a]
        out["runner_up_id"] = self.cluster_ids_[b]
        out["margin"] = contrib.sum(axis=1)
        return out
