"""Feature catalog: business label, group and sentence template for every model feature.

Features are generated from metric-catalog roles and pricing models, so entries are derived from the
feature name by rule, not listed by hand. `reason(feature, row)` renders a plain-language sentence
with the account's own values and the direction ("Seat activation fell from 82% to 41% in 3 months"),
and, given the typical value of customers who renewed, the comparison ("...; typical renewing customer
78%"). `direction(feature)` is the business direction of a feature's effect on churn risk where it is
known (-1: more never raises risk, e.g. seat activation and job completion; +1: more never lowers it;
0: unknown), the monotone constraint of the churn model. `NEVER_REASONS` are model inputs that are not
customer behaviour (the distance to the renewal) and are never shown as a reason.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PRICING_LABELS = {"per_seat": "Seat activation", "volume": "Volume use (allowance and contracted volume)"}
GROUPS = ("Seat activation", "Consumption", "Usage trend", "Adoption breadth", "Support load", "Tenure",
          "Commercial", "Price change", "Renewal timing", "Adoption cluster", "Capacity use", "Similar accounts",
          "Segment", "Product", "Deal stage", "Deal timing", "Deal size", "Rep track record", "Other")
NEVER_REASONS = ("months_to_renewal",)
_LOWER_RISK = re.compile(r"use_.+_(now|3m|trend_3m|trend_6m|pre_renewal|pre_renewal_trend)|"
                         r"(breadth|jobs)_(3m|trend_3m)|seat_use|volume_use|breadth|job_completion|use_trend")
_HIGHER_RISK = re.compile(r"severe_(3m|6m|pre_renewal)")
# per account x product features of the expansion model (services/expansion/features.py)
PRODUCT_FEATURES = {
    "product_id": ("Product", "Product", "The product {value}"),
    "owned": ("Owns the product", "Commercial", "Owns the product"),
    "product_use_now": ("Capacity use of the product (last month)", "Capacity use",
                        "Uses {value:.0%} of the product's seats, allowance or contracted volume"),
    "product_use_3m": ("Capacity use of the product (3-month mean)", "Capacity use",
                       "Used {value:.0%} of the product's capacity on average over the last 3 months"),
    "max_product_use": ("Highest capacity use of any product owned", "Capacity use",
                        "Runs one of its products at {value:.0%} of capacity"),
    "product_use_trend_3m": ("Capacity use change of the product (3 months)", "Usage trend",
                             "Capacity use of the product {dir} by {abs:.0%} points in 3 months"),
    "product_jobs_3m": ("Job completion in the product", "Adoption breadth",
                        "Completes {value:.0%} of the product's customer jobs end to end"),
    "product_breadth_3m": ("Feature breadth in the product", "Adoption breadth",
                           "Uses {value:.0%} of the product's features"),
    "product_arr_log": ("ARR on the product", "Commercial", "ARR of {usd} on the product"),
    "peer_owner_share": ("Similar accounts owning the product", "Similar accounts",
                         "{value:.0%} of similar accounts (industry and segment) own the product"),
    "peer_win_rate_12m": ("Similar accounts buying the product (12 months)", "Similar accounts",
                          "{value:.1%} of accounts in its industry bought or grew the product in the last 12 months"),
    "industry": ("Industry", "Similar accounts", "In the {value} industry"),
    "segment": ("Segment", "Segment", "A {value} account"),
    "lost_amount_log": ("Lost deal amount", "Deal size", "Its lost deal was worth {usd}"),
    "lost_stage": ("Furthest stage of the lost deal", "Deal stage",
                   "The lost deal reached stage {value:.0f} of the sales process"),
    "days_since_loss": ("Days since the loss", "Deal timing", "Lost {value:.0f} days ago"),
    "lost_cycle_days": ("Days the lost deal was open", "Deal timing", "The lost deal was open for {value:.0f} days"),
    "lost_deals": ("Lost deals", "Deal stage", "{value:.0f} lost deal(s) so far"),
}
# per open deal features of the win-probability model (services/forecast: one row per deal and weekly origin)
WINPROB_FEATURES = {
    "stage_n": ("Deal stage", "Deal stage", "At stage {value:.0f} of the sales process"),
    "forecast_category": ("Forecast category", "Deal stage", "Forecast category {value}"),
    "age_days": ("Deal age (days)", "Deal timing", "Open for {value:.0f} days"),
    "days_in_stage": ("Days in the current stage", "Deal timing", "{value:.0f} days in its current stage"),
    "days_to_close": ("Days to the expected close", "Deal timing", "Expected to close in {value:.0f} days"),
    "days_left_in_target": ("Days left in the quarter", "Deal timing", "{value:.0f} days left in the quarter"),
    "close_in_target": ("Expected to close this quarter", "Deal timing", "Expected to close this quarter"),
    "overdue": ("Past its close date", "Deal timing", "Past its expected close date"),
    "pushes": ("Close date pushed (times)", "Deal timing", "Close date pushed {value:.0f} times"),
    "h": ("Quarters ahead", "Deal timing", "Forecast {value:.0f} quarter(s) ahead"),
    "log_amount": ("Deal amount", "Deal size", "A deal of {usd}"),
    "amount_changes": ("Amount changed (times)", "Deal size", "Amount changed {value:.0f} times"),
    "type": ("Deal type", "Deal size", "A {value} deal"),
    "rep_win_rate": ("Rep's win rate", "Rep track record", "The rep wins {value:.0%} of their deals"),
    "rep_closed_n": ("Rep's closed deals", "Rep track record", "The rep has closed {value:.0f} deals"),
    "churn_probability": ("Account's churn risk", "Commercial", "The account's churn risk is {value:.0%}"),
}


@dataclass(frozen=True)
class FeatureInfo:
    feature: str
    label: str
    group: str
    template: str  # str.format over: value, now, prev, dir, abs, usd, label


def _use_label(pm: str) -> str:
    return PRICING_LABELS.get(pm, f"{pm.replace('_', ' ').capitalize()} capacity use")


def describe(feature: str) -> FeatureInfo:
    """The catalog entry of a feature (unknown features get a neutral entry in group "Other")."""
    m = re.fullmatch(r"use_(.+?)_(now|3m|trend_3m|trend_6m|pre_renewal|pre_renewal_trend)", feature)
    if m:
        pm, kind = m.groups()
        label = _use_label(pm)
        level_group = "Seat activation" if pm == "per_seat" else "Consumption"
        return {
            "now": FeatureInfo(feature, f"{label} (last month)", level_group, "{label} is {value:.0%}"),
            "3m": FeatureInfo(feature, f"{label} (3-month mean)", level_group,
                              "{label} averaged {value:.0%} over the last 3 months"),
            "trend_3m": FeatureInfo(feature, f"{label} change (3 months)", "Usage trend",
                                    "{label} {dir} from {prev:.0%} to {now:.0%} in 3 months"),
            "trend_6m": FeatureInfo(feature, f"{label} change (6 months)", "Usage trend",
                                    "{label} {dir} from {prev:.0%} to {now:.0%} in 6 months"),
            "pre_renewal": FeatureInfo(feature, f"{label} in the window before the renewal", level_group,
                                       "{label} averaged {value:.0%} {window}"),
            "pre_renewal_trend": FeatureInfo(feature, f"{label} change in the window before the renewal",
                                             "Usage trend", "{label} {dir} by {abs:.0%} points {window}"),
        }[kind]
    fixed = {
        "breadth_3m": ("Feature breadth", "Adoption breadth", "Uses {value:.0%} of the product features it pays for"),
        "breadth_trend_3m": ("Feature breadth change", "Adoption breadth",
                             "Feature breadth {dir} by {abs:.0%} points in 3 months"),
        "jobs_3m": ("Job completion", "Adoption breadth", "Completes {value:.0%} of its customer jobs end to end"),
        "jobs_trend_3m": ("Job completion change", "Adoption breadth",
                          "Job completion {dir} by {abs:.0%} points in 3 months"),
        "cases_3m": ("Support cases (3 months)", "Support load", "{value:.0f} support cases in the last 3 months"),
        "cases_6m": ("Support cases (6 months)", "Support load", "{value:.0f} support cases in the last 6 months"),
        "severe_3m": ("Severe cases (3 months)", "Support load",
                      "{value:.0f} severe (severity 1-2) support cases in the last 3 months"),
        "severe_6m": ("Severe cases (6 months)", "Support load",
                      "{value:.0f} severe (severity 1-2) support cases in the last 6 months"),
        "severe_pre_renewal": ("Severe cases before renewal", "Support load",
                               "{value:.0f} severe (severity 1-2) support cases {window6}"),
        "tenure_years": ("Tenure", "Tenure", "Customer for {value:.1f} years"),
        "arr_log": ("ARR", "Commercial", "ARR of {usd}"),
        "quantity_change_12m": ("Contracted quantity change (12 months)", "Commercial",
                                "Contracted quantity {dir} {abs:.0%} over the last 12 months"),
        "price_change_12m": ("Price change at last renewal", "Price change",
                             "Unit price {dir} {abs:.0%} at the last renewal"),
        "products_owned": ("Products owned", "Commercial", "Owns {value:.0f} product(s)"),
        "months_to_renewal": ("Months to renewal", "Renewal timing", "Next renewal in {value:.0f} months"),
        "adoption_cluster": ("Adoption cluster", "Adoption cluster", "In the adoption cluster \"{value}\""),
        # adoption signals (k-means inputs, shares 0-1; use_trend a change of capacity use)
        "seat_use": ("Seat use", "Seat activation", "Uses {value:.0%} of its licensed seats"),
        "volume_use": ("Volume use", "Consumption", "Consumes {value:.0%} of its allowance or contracted volume"),
        "breadth": ("Feature breadth", "Adoption breadth", "Uses {value:.0%} of the product features it pays for"),
        "job_completion": ("Job completion", "Adoption breadth",
                           "Completes {value:.0%} of its customer jobs end to end"),
        "use_trend": ("Use trend (3 months)", "Usage trend", "Capacity use {dir} by {abs:.0%} points in 3 months"),
    }
    if feature in fixed or feature in PRODUCT_FEATURES or feature in WINPROB_FEATURES:
        label, group, template = fixed.get(feature) or PRODUCT_FEATURES.get(feature) or WINPROB_FEATURES[feature]
        return FeatureInfo(feature, label, group, template)
    return FeatureInfo(feature, feature.replace("_", " ").capitalize(), "Other", "{label} is {value}")


def direction(feature: str) -> int:
    """Business direction of the feature's effect on churn risk: -1, +1, or 0 when not known."""
    if _LOWER_RISK.fullmatch(feature):
        return -1
    return 1 if _HIGHER_RISK.fullmatch(feature) else 0


def _window(months_to_renewal: Any, width: int = 3) -> str:
    """Where the renewal-anchored window lies for this row: 6-8 months before the renewal, never after t."""
    if _missing(months_to_renewal) or float(months_to_renewal) >= 6:
        return f"over the last {width} months"
    end = round(6 - float(months_to_renewal))
    if end <= 0:
        return f"over the last {width} months"
    return f"{end}-{end + width - 1} months ago ({6}-{6 + width - 1} months before the renewal)"


def groups(features: list[str]) -> dict[str, str]:
    return {f: describe(f).group for f in features}


def labels(features: list[str]) -> dict[str, str]:
    return {f: describe(f).label for f in features}


def _usd(x: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"${x / size:,.1f}{suffix}"
    return f"${x:,.0f}"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def reason(feature: str, row: Mapping[str, Any], typical: Any = None) -> str:
    """One plain-language sentence for `feature` with the row's own values and direction, and the typical
    value of renewing customers when `typical` is given."""
    text = _sentence(feature, row)
    if _missing(typical) or not isinstance(typical, (int, float)) or _missing(row.get(feature)):
        return text
    info = describe(feature)
    v = float(typical)
    if feature == "arr_log":
        shown = _usd(math.expm1(v))
    elif feature == "tenure_years":
        shown = f"{v:.1f} years"
    elif "%}" not in info.template:
        shown = f"{v:.1f}"
    else:
        shown = f"{100 * v:+.0f} points" if "trend" in feature else f"{v:.0%}"
    return f"{text}; typical renewing customer {shown}"


def _sentence(feature: str, row: Mapping[str, Any]) -> str:
    info = describe(feature)
    value = row.get(feature)
    label = info.label.split(" (")[0]
    if _missing(value):
        return f"{info.label}: not measured"
    ctx: dict[str, Any] = {"value": value, "label": label, "window": _window(row.get("months_to_renewal")),
                           "window6": _window(row.get("months_to_renewal"), 6)}
    if isinstance(value, (int, float)):
        v = float(value)
        ctx.update(abs=abs(v), dir="rose" if v > 0 else "fell" if v < 0 else "held steady",
                   usd=_usd(math.expm1(v)) if feature in ("arr_log", "product_arr_log", "log_amount", "lost_amount_log")
                   else "")
        m = re.fullmatch(r"use_(.+?)_trend_\dm", feature)
        if m:
            now = row.get(f"use_{m.group(1)}_now")
            if _missing(now):
                return f"{label} changed by {v:+.0%} points"
            ctx.update(now=float(now), prev=float(now) - v, label=_use_label(m.group(1)))
        elif feature.startswith("use_"):
            ctx["label"] = _use_label(re.sub(r"^use_(.+?)_(now|3m|pre_renewal.*)$", r"\1", feature))
    try:
        text = info.template.format(**ctx)
    except (KeyError, ValueError, TypeError):
        text = f"{info.label}: {value}"
    return text.replace("rose 0%", "held steady").replace("fell 0%", "held steady")
