"""Outcomes' result tables (model `outcomes`)."""
from __future__ import annotations

from services.results import Column as C
from services.results import ResultTable

MODEL = "outcomes"

FLAG_HISTORY = ResultTable(
    "churn_flag_history", MODEL,
    "One row per (account, renewal) flagged high or medium in the 6 months before the renewal.",
    (C("account_id", "text"), C("renewal_date", "date"), C("p_start", "float", "risk at the window's start"),
     C("p_max", "float", "highest risk in the window"), C("tier", "text", "highest tier in the window"),
     C("arr_usd", "float"), C("first_score", "date", "first score date of the window")),
    keys=("account_id",))
