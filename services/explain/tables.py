"""The explanation layer's result tables (model `explain`)."""
from __future__ import annotations

from services.churn.tables import EXPLANATION
from services.results import Column as C
from services.results import ResultTable

MODEL = "explain"

EXPLANATIONS = ResultTable(
    "explanations", MODEL, "Top 8 contributions + `other` per subject for every explained model (float32).",
    (*EXPLANATION, C("model", "text", "churn, adoption or winprob")), keys=("model", "subject_id"))
SAMPLE = ResultTable(
    "explanation_sample", MODEL, "All features for 2,000 subjects per model (importance, beeswarm, dependence).",
    (*EXPLANATION, C("model", "text")), keys=("model",))
CHURN_ROWS = ResultTable(
    "explain_churn_rows", MODEL, "The churn model's input row of every scored account (what-if input).",
    (C("account_id", "text"),), keys=("account_id",), open_columns="one column per churn model feature")
