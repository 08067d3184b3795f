"""Monitoring's result tables."""
from __future__ import annotations

from services.results import Column as C
from services.results import ResultTable

FEATURE_DRIFT = ResultTable(
    "feature_drift", None,
    "PSI per feature of a model (written under that model's version): binned distributions of the training "
    "window's latest year vs the latest scoring snapshot.",
    (C("model", "text"), C("feature", "text"), C("bin", "int"), C("bin_label", "text"),
     C("reference_share", "float"), C("current_share", "float"), C("psi", "float"),
     C("missing_rise", "float", "rise of the share of missing values"), C("flagged", "bool"),
     C("n_reference", "int"), C("n_current", "int")),
    keys=("model",))
