"""The forecast's result tables (model `forecast`)."""
from __future__ import annotations

from services.results import Column as C
from services.results import ResultTable

MODEL = "forecast"
_NODE = (C("person_id", "text", "the node: a person of the sales hierarchy"),
         C("product_id", "text", "`ALL` or a product"), C("role", "text"), C("parent_id", "text"),
         C("quarter", "text", "e.g. 2026Q4"), C("origin_date", "date", "the date the forecast was made as of"))

NODES = ResultTable(
    "forecast_nodes", MODEL,
    "Bookings forecast per node, product and quarter: `live` rows as of the as-of date and a week earlier "
    "(3 quarters); `backtest` rows at past origins with the actual.",
    (*_NODE, C("closed_won_usd", "float"), C("open_pipeline_usd", "float"), C("pipeline_expected_usd", "float", "open deals x p_win"),
     C("model_expected_usd", "float", "open deals x the model's probability alone (stage weight 0)", optional=True),
     C("stage_expected_usd", "float", "open deals x their stage's dollar conversion (stage weight 1)", optional=True),
     C("stage_weight", "float", "the blend used: p_win = (1 - w) x p_model + w x p_stage (services/forecast/blend.py)",
       optional=True),
     C("fresh_factor", "float", "the factor applied to the bookings from deals not yet created", optional=True),
     C("runrate_usd", "float", "bookings from deals not yet created (x fresh_factor)"), C("p10_usd", "float"),
     C("p50_usd", "float", "mean of the bottom-up paths: children sum to parents"), C("p90_usd", "float"),
     C("kind", "text", "live or backtest"), C("week", "int", "week of the quarter at the origin"),
     C("h", "int", "quarters from the origin's quarter to `quarter` (0, 1, 2)"),
     C("band", "text", "P10/P90 from past backtest errors of the level (calibrated), of a level below (borrowed), or simulated"),
     C("actual_usd", "float", "backtest rows: what was booked"),
     C("last_quarter_usd", "float", "backtest baseline: bookings of the last complete quarter"),
     C("same_quarter_last_year_usd", "float", "backtest baseline: bookings of the quarter a year earlier"),
     C("pipeline_method_usd", "float", "backtest baseline: closed + open x stage conversion + average fresh"),
     C("commit_usd", "float", "backtest: the latest commit submitted by the origin (ALL rows)")),
    keys=("kind", "quarter", "person_id"), indexes=(("origin_date",),))
DEALS = ResultTable(
    "forecast_deals", MODEL, "Open booking deals as of the as-of date per target quarter, with their win probability.",
    (C("opportunity_id", "text"), C("account_id", "text"), C("owner_id", "text"), C("product_id", "text"),
     C("type", "text"), C("stage", "text"), C("amount_usd", "float"), C("close_date", "date"),
     C("created_date", "date"), C("pushes", "int", "close-date pushes so far"), C("target_quarter", "text"),
     C("h", "int", "quarters ahead"), C("p_win", "float", "probability of winning inside the quarter: the model's blended with the stage's "
       "dollar conversion (weight `stage_weight` of the node rows)"),
     C("p_model", "float", "the LightGBM model's calibrated probability alone"),
     C("contribution_usd", "float", "p_win x amount")),
    keys=("target_quarter",), indexes=(("account_id",),))
ARR = ResultTable(
    "forecast_arr", MODEL, "Ending ARR per node and quarter (the as-of's quarter and the next two).",
    (*_NODE, C("starting_arr_usd", "float"), C("renewing_arr_usd", "float"), C("expected_churned_arr_usd", "float"),
     C("bookings_expected_usd", "float"), C("p10_usd", "float"), C("p50_usd", "float"), C("p90_usd", "float"),
     C("renewal_source", "text", "churn_model, historical_rate or mixed")),
    keys=("quarter", "person_id"), indexes=(("origin_date",),))
MIX = ResultTable(
    "forecast_mix", MODEL,
    "Deal mix of every node in the as-of's quarter against the backtest (`services/forecast/mix.py`): the largest "
    "deal's share of the expected pipeline, and whether it exceeds any backtested quarter's at the node's level.",
    (C("person_id", "text"), C("product_id", "text"), C("quarter", "text"),
     C("expected_usd", "float", "expected pipeline: p_win x amount of its open deals"), C("n_deals", "int"),
     C("top_deal_usd", "float", "the largest deal's p_win x amount"), C("top_deal_id", "text", optional=True),
     C("top_deal_share", "float", "its share of the expected pipeline"),
     C("backtest_max_share", "float", "the largest such share at this level in the backtest", optional=True),
     C("unusual", "bool", "deal mix unlike any backtested quarter: the band may be too narrow"),
     C("reason", "text", "why, in words (empty when not unusual)", optional=True)),
    keys=("quarter", "person_id"))
DEAL_NOVELTY = ResultTable(
    "forecast_deal_novelty", MODEL,
    "Novelty of the current quarter's open deals against the deals the win-probability model learned from "
    "and the range of their win probability (`services/forecast/deal_novelty.py`).",
    (C("opportunity_id", "text"), C("target_quarter", "text"),
     C("novelty", "float", "distance from the past deals over the flag threshold (>= 1: flagged)"),
     C("novel", "bool", "the deal is unlike the past deals (about 1% of past-like deals are)"),
     C("novelty_reason", "text", "why, in words (empty when not flagged)", optional=True),
     C("p_win_low", "float", "lower end of the win probability's range (the backtest deals' outcomes near it)",
       optional=True),
     C("p_win_high", "float", "upper end of that range", optional=True)),
    keys=("opportunity_id",))
