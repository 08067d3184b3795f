"""The page's words for numbers (ui/format.py) and "change since last month" (services/churn/read.py)."""
from __future__ import annotations

import pandas as pd

from services.churn.read import previous_month_end
from ui.format import change, usd, usd_full


def test_negative_money_puts_the_sign_first_so_metric_arrows_point_down() -> None:
    assert usd(-822_000) == "-$822.0k"
    assert usd(-13_400, signed=True) == "-$13.4k"
    assert usd(13_400, signed=True) == "+$13.4k"
    assert usd(0, signed=True) == "$0"
    assert usd(24_424_600) == "$24.4M"
    assert usd(950) == "$950"
    assert usd(float("nan")) == "—" and usd(None) == "—"
    assert usd_full(-1200.4) == "-$1,200" and usd_full(24_424_600) == "$24,424,600"


def test_change_is_signed_and_zero_has_no_sign() -> None:
    assert change(2.5, "pts") == "+2.5 pts"
    assert change(-1.04, "pts") == "-1.0 pts"
    assert change(0.01, "pts") == "0.0 pts"


def test_last_month_is_the_previous_month_end_not_the_previous_day() -> None:
    assert previous_month_end("2026-11-30") == pd.Timestamp("2026-10-31")
    assert previous_month_end("2026-12-01") == pd.Timestamp("2026-11-30")
    assert previous_month_end(pd.Timestamp("2026-03-15")) == pd.Timestamp("2026-02-28")
