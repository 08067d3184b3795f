"""Expansion's result tables (model `expansion`), declared once."""
from __future__ import annotations

from services.churn.tables import EXPLANATION
from services.results import Column as C
from services.results import ResultTable

MODEL = "expansion"
KINDS = ("expansion", "cross_sell")  # a product the account owns / does not own

SCORES = ResultTable(
    "expansion_scores", MODEL,
    "Calibrated probability of a won expansion (owned product) or cross-sell (product not owned) within 180 "
    "days for every active customer account x product, at the data's as-of and the previous month-ends, "
    "with the expected ARR and any opportunity already open.",
    (C("account_id", "text"), C("product_id", "text"), C("score_date", "date", "month-end the row was scored at"),
     C("kind", "text", "expansion or cross_sell"), C("probability", "float", "calibrated 180-day probability"),
     C("expected_deal_usd", "float", "expected ARR of a won deal for this segment, product and kind"),
     C("expected_arr_usd", "float", "probability x expected deal"),
     C("product_arr_usd", "float", "the account's ARR on the product at the score date (0 if not owned)"),
     C("open_opportunity_id", "text", "an expansion or new-business opportunity already open on it",
       optional=True)),
    keys=("score_date", "account_id", "product_id"), indexes=(("account_id",),))
CONFIDENCE = ResultTable(
    "expansion_confidence", MODEL,
    "How far to trust each score of `expansion_scores`: an interval of the calibrated probability "
    "and the row's novelty against the training rows (`services/expansion/confidence.py`).",
    (C("account_id", "text"), C("product_id", "text"), C("score_date", "date"),
     C("probability_low", "float", "lower end of the 90% interval (bootstrap refits + local calibration, log-odds scale)"),
     C("probability_high", "float", "upper end of the interval"),
     C("novelty", "float", "distance from the training rows over the flag threshold (>= 1: flagged)"),
     C("novel", "bool", "the row is unlike the training rows (about 1% of training-like rows are)"),
     C("novelty_reason", "text", "why, in words (empty when not flagged)", optional=True)),
    keys=("score_date", "account_id", "product_id"))
REASONS = ResultTable(
    "expansion_reasons", MODEL, "Top three reasons per account x product at the latest score date, as sentences.",
    (C("account_id", "text"), C("product_id", "text"), C("feature", "text"), C("group", "text"),
     C("contribution", "float", "raw log-odds"), C("reason", "text", "sentence with the account's own values"),
     C("rank", "int", "1-3")),
    keys=("account_id", "product_id"))
CONTRIBUTIONS = ResultTable(
    "expansion_contributions", MODEL,
    "The explanation shape at the latest score date (subject `account_id:product_id`): top 6 features plus "
    "`other`.", (*EXPLANATION, C("score_date", "date")), keys=("subject_id",))
BACKTEST = ResultTable(
    "expansion_backtest", MODEL,
    "Out-of-time test rows (the scorecard joins them with `truth_expansion`).",
    (C("account_id", "text"), C("product_id", "text"), C("score_date", "date"), C("kind", "text"),
     C("label", "int", "1 when a won expansion or cross-sell of the product closed within 180 days"),
     C("probability", "float"), C("probability_baseline", "float", "plain logistic regression"),
     C("probability_base_rate", "float", "the training base rate of the product and kind")))
PROSPECT_SCORES = ResultTable(
    "prospect_scores", MODEL,
    "Lead score of every lost prospect (no subscription, its latest deal lost, none open) at the data's as-of: "
    "the calibrated probability that it re-engages (a new opportunity opened on it) within 180 days.",
    (C("account_id", "text"), C("score_date", "date"),
     C("probability", "float", "calibrated probability of a new opportunity within 180 days"),
     C("expected_arr_usd", "float", "probability x the lost deal's amount"),
     C("lost_opportunity_id", "text", "its latest lost deal"), C("lost_amount_usd", "float"),
     C("lost_product_id", "text"), C("days_since_loss", "float")),
    keys=("account_id",))
PROSPECT_REASONS = ResultTable(
    "prospect_reasons", MODEL, "Top three reasons per prospect that raise its lead score, as sentences.",
    (C("account_id", "text"), C("feature", "text"), C("contribution", "float", "raw log-odds"),
     C("reason", "text", "sentence with the prospect's own values"), C("rank", "int", "1-3")),
    keys=("account_id",))
PROSPECT_BACKTEST = ResultTable(
    "prospect_backtest", MODEL, "Out-of-time test rows of the lead score (the scorecard joins them with "
    "`truth_prospects`).",
    (C("account_id", "text"), C("score_date", "date"), C("label", "int", "1 when an opportunity was opened on it "
                                                                       "within 180 days"),
     C("probability", "float"), C("probability_baseline", "float", "plain logistic regression")))
