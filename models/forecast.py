"""Forecast error measures."""
from __future__ import annotations

import numpy as np


def wape(actual, forecast) -> float:
    """Weighted absolute percentage error: sum |forecast - actual| / sum |actual|."""
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    denom = np.abs(a).sum()
    if denom == 0:
        return float("nan")
    return float(np.abs(f - a).sum() / denom)
