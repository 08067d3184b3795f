"""Churn's result tables (model `churn`, and `churn_custom` for a bring-your-own feature table)."""
from __future__ import annotations

from services.results import Column as C
from services.results import ResultTable

MODEL = "churn"
CUSTOM_MODEL = "churn_custom"
EXPLANATION = (C("subject_id", "text", "the account (or row) id"), C("feature", "text"),
               C("group", "text", "business group from the feature catalog"), C("value", "float", "the row's value"),
               C("contribution", "float", "raw log-odds contribution"),
               C("base_value", "float", "base value; base + contributions = the model's raw output"))

SCORES = ResultTable(
    "churn_scores", MODEL,
    "Untreated risk at the next renewal of every active customer account (whatever its distance) at the "
    "data's as-of and the 12 previous month-ends, with its tier and expected ARR at risk.",
    (C("account_id", "text"), C("score_date", "date", "month-end the account was scored at"),
     C("probability", "float", "calibrated probability the account does not renew (or loses >= half its ARR) "
                               "at its next renewal"), C("tier", "text", "high, medium or low"),
     C("arr_usd", "float"),
     C("arr_renewing_usd", "float", "ARR of the subscriptions ending at the next renewal"),
     C("expected_arr_at_risk_usd", "float", "probability x ARR renewing"), C("days_to_renewal", "float"),
     C("renewal_date", "date"), C("log_odds_raw", "float", "the model's raw output"),
     C("adoption_cluster", "text", "the account's adoption cluster at the score date", optional=True)),
    keys=("score_date", "account_id"), indexes=(("account_id",),))
CONFIDENCE = ResultTable(
    "churn_confidence", MODEL,
    "How far to trust each score of `churn_scores`: an interval of the calibrated probability, the "
    "row's novelty against the training rows (`services/churn/confidence.py`) and a tier that abstains.",
    (C("account_id", "text"), C("score_date", "date"),
     C("probability_low", "float", "lower end of the 90% interval (bootstrap refits + local calibration, log-odds scale)"),
     C("probability_high", "float", "upper end of the interval"),
     C("novelty", "float", "distance from the training rows over the flag threshold (>= 1: flagged)"),
     C("novel", "bool", "the row is unlike the training rows (about 1% of training-like rows are)"),
     C("novelty_reason", "text", "why, in words (empty when not flagged)", optional=True),
     C("tier_confident", "text", "the tier, or `uncertain` when novel or the interval leaves over a 1-in-3 chance of another tier")),
    keys=("score_date", "account_id"))
REASONS = ResultTable(
    "churn_reasons", MODEL, "Top three reasons per account at the latest score date, as sentences.",
    (C("account_id", "text"), C("feature", "text"), C("group", "text"), C("contribution", "float", "raw log-odds"),
     C("reason", "text", "sentence with the account's own values"), C("rank", "int", "1-3")),
    keys=("account_id",))
CONTRIBUTIONS = ResultTable(
    "churn_contributions", MODEL,
    "The explanation shape at the latest score date: top 8 features per account plus `other`, float32.",
    (*EXPLANATION, C("score_date", "date")), keys=("subject_id",))
BACKTEST = ResultTable(
    "churn_backtest", MODEL, "Out-of-time test rows (the scorecard joins them with `truth_renewals`).",
    (C("account_id", "text"), C("score_date", "date"),
     C("label_churn", "int", "1 when the account churned at its next renewal"),
     C("probability", "float"), C("probability_baseline", "float", "plain logistic regression"),
     C("renewal_date", "date", "the next renewal, whose outcome is the label"),
     C("days_to_renewal", "float", "distance of the row's date to that renewal")))
CUSTOM_SCORES = ResultTable(
    "churn_custom_scores", CUSTOM_MODEL, "Scores of `cli churn-fit` on a bring-your-own feature table.",
    (C("account_id", "text", "the table's id"), C("probability", "float"), C("tier", "text"),
     C("reason_1", "text", "feature = value (+x.xx log-odds)", optional=True),
     C("reason_2", "text", optional=True), C("reason_3", "text", optional=True)),
    keys=("account_id",))
CUSTOM_CONTRIBUTIONS = ResultTable(
    "churn_custom_contributions", CUSTOM_MODEL, "Explanation shape of `churn-fit` (top 5 + `other`).",
    EXPLANATION, keys=("subject_id",))

# tiers of the calibrated probability: the one definition the job writes and the pages caption
TIERS = (("high", 0.25), ("medium", 0.10), ("low", 0.0))
# the portfolio summary's window of renewals due (days after the score date)
RENEWALS_DUE_DAYS = 90
