"""The page's words for numbers (ui/format.py) and "change since last month" (services/churn/read.py)."""
from __future__ import annotations

import pandas as pd
import pytest

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


def test_outcomes_headline_leads_with_the_adjusted_effect_and_its_interval_in_words() -> None:
    from ui.captions import action_effect

    sure = action_effect(0.38, [0.21, 0.52], 0.9, 120)
    assert sure.startswith("Acting on a flagged account cut its chance of churning by an estimated 38%")
    assert "90% interval: 21% to 52% reduction" in sure and "whole range is a reduction" in sure
    unsure = action_effect(0.1, [-0.05, 0.3], 0.9, 40)
    assert "cannot yet tell" in unsure
    assert "raised" in action_effect(-0.2, None, 0.9, 10)
    assert "No adjusted estimate" in action_effect(None, None, 0.9, 0)


def test_people_who_share_a_name_get_their_id_beside_it() -> None:
    from ui.format import person_labels

    people = pd.DataFrame({"person_id": ["E1", "E2", "E3"], "name": ["Mateo Moreau", "Mateo Moreau", "Ana Rossi"]})
    assert person_labels(people) == {"E1": "Mateo Moreau (E1)", "E2": "Mateo Moreau (E2)", "E3": "Ana Rossi"}


def test_every_win_probability_feature_has_a_label_and_a_group() -> None:
    from services import feature_catalog
    from services.forecast.data import FEATURES

    for f in FEATURES:
        info = feature_catalog.describe(f)
        assert info.group != "Other", f
        assert f in feature_catalog.WINPROB_FEATURES or f in feature_catalog.PRODUCT_FEATURES, f


def test_a_typed_amount_is_read_with_or_without_separators_and_bad_input_says_why() -> None:
    from ui.format import parse_money

    for text in ("24,424,600", "$24,424,600", " 24424600 ", "24 424 600", "$24.4246M"):
        assert parse_money(text) == 24_424_600.0, text
    assert parse_money("950k") == 950_000.0 and parse_money("0") == 0.0 and parse_money("1.2B") == 1.2e9
    for bad in ("", "abc", "-5", "1,2x", "nan", "inf"):
        with pytest.raises(ValueError, match="is not an amount"):
            parse_money(bad)
