"""How well each account fits its adoption cluster (`models.cluster_fit.ClusterFit`), at the latest month.

The spread of each cluster is the 99th percentile of its members' distances to the centroid (scaled
signals, the space k-means works in) on the month the clusters were fitted on; an account farther than
that from every centroid is "unlike any group" rather than forced into the nearest one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.adoption import AdoptionClusters
from models.cluster_fit import ClusterFit


def table(model: AdoptionClusters, latest: pd.DataFrame) -> pd.DataFrame:
    """Rows of `adoption_fit` for the accounts of the latest month."""
    Z = model.transform(latest)
    pos = model.kmeans_.predict(Z)
    fit = ClusterFit().fit(Z, pos, model.kmeans_.cluster_centers_)
    ratios = fit.ratios(Z)
    nearest = ratios.min(axis=1)
    return pd.DataFrame({"account_id": latest.account_id.to_numpy(), "month": latest.month.to_numpy(),
                         "cluster_id": model.cluster_ids_[pos].astype(int),
                         "distance_ratio": ratios[np.arange(len(Z)), pos], "nearest_ratio": nearest,
                         "unlike_any_group": nearest > 1.0})
