"""Drift of the churn model's features: the training window vs the latest scoring snapshot.

Called once by the churn job after scoring. The reference sample is the point-in-time feature rows at
every `STEP`-th month-end of the latest `REFERENCE_MONTHS` of the training window (a sample of what
the model was fitted on, cheaper than keeping all of it); the current sample is the feature rows it
just scored at the data's as-of.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from services import registry
from services.churn import features as cf
from services.monitoring import drift

STEP = 3
REFERENCE_MONTHS = 12  # the latest year of the training window: features that age with the calendar
# (tenure) would otherwise drift by construction between an early training month and today


def store(engine: Engine, version: registry.Version, inputs: cf.Inputs, train_window: list[str],
          current: pd.DataFrame) -> pd.DataFrame:
    """Build the reference rows, then `drift.store_drift`; returns the per-feature summary."""
    end = pd.Timestamp(train_window[1])
    start = max(pd.Timestamp(train_window[0]), end - pd.DateOffset(months=REFERENCE_MONTHS))
    dates = cf.month_ends(start, end)[::-STEP][::-1]  # every STEP-th month-end, counted back from the end
    reference = cf.build(inputs, dates)
    return drift.store_drift(engine, version, reference[list(current.columns)], current)
