"""Short history: expansion's layout for 18 to 24 months of usage, and the history every model states."""

from __future__ import annotations

import pandas as pd
import pytest

from services.expansion.job import split_dates

AS_OF = pd.Timestamp("2026-10-31")


def first_month(months: int) -> pd.Timestamp:
    return AS_OF.replace(day=1) - pd.DateOffset(months=months - 1)


@pytest.mark.parametrize(("months", "mode"), [(18, "short"), (21, "short"), (22, "full"), (36, "full")])
def test_expansion_splits_18_months_and_more(months: int, mode: str) -> None:
    parts = split_dates(AS_OF, first_month(months))
    assert parts["mode"] == mode and parts["fit"] and parts["cal"] and parts["test"]
    assert max(parts["fit"] + parts["cal"]) <= parts["test"][0] - pd.Timedelta(days=180)  # no overlapping labels


def test_expansion_below_18_months_says_what_it_needs() -> None:
    with pytest.raises(ValueError, match="needs at least 9 labelled month-ends"):
        split_dates(AS_OF, first_month(17))


def test_data_history_names_the_months_and_the_empty_tables(engine, valid_frames) -> None:
    from services import jobs
    from services.importer import import_frames

    del valid_frames["commits"]
    import_frames(valid_frames, "sample", engine)
    h = jobs.data_history(engine, pd.Timestamp("2024-12-31"))
    assert h["usage_months"] == 2 and h["first_usage_month"] == "2024-03-01"
    assert "commits" in h["tables_without_rows"] and "support_cases" not in h["tables_without_rows"]
