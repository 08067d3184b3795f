"""Small reusable widgets and formatters shared by pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import data
from ui.format import MONEY_FORMAT, SIGNED_MONEY_FORMAT, usd  # noqa: F401  (usd: re-exported for pages)

SEED_HELP = """\
**The database has no accounts yet.** Load the demo company or your own data:

```bash
make db                                   # seeds the demo company (5,000 accounts) and trains
python -m services.cli seed --accounts 500 --months 24 --seed 0   # a smaller demo
python -m services.cli import path/to/csv-folder                  # your own CSV files
```

You can also upload a zip of CSV files on the **Data** page.
"""


def money_column(label: str, signed: bool = False, help: str | None = None) -> st.column_config.NumberColumn:
    """A money column without cents; `signed` (a change or a gap) shows "-1,234" under a "($)" label."""
    if signed:
        return st.column_config.NumberColumn(f"{label} ($)", format=SIGNED_MONEY_FORMAT, help=help)
    return st.column_config.NumberColumn(label, format=MONEY_FORMAT, help=help)


def when(value: object) -> str:
    """A timestamp as "22 Nov 2026 06:38", or "never"."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "never"
    return pd.Timestamp(value).strftime("%d %b %Y %H:%M")


def empty_state() -> None:
    """The message every page shows when there is no data to show."""
    st.info(SEED_HELP, icon=":material/database:")


def no_snapshot(what: str, as_of: object, hint: str = "choose a later as-of date") -> None:
    """The one line a page shows when nothing of `what` is stored at or before the as-of date."""
    day = f"{pd.Timestamp(as_of):%d %b %Y}" if as_of is not None else "this date"
    st.info(f"No {what} stored as of {day}: {hint}.", icon=":material/history_toggle_off:")


def page_with_data(title: str) -> str:
    """Title the page and return the database URL; on an empty database, say how to seed and stop."""
    st.title(title)
    url = data.current_url()
    if not data.has_accounts(url):
        empty_state()
        st.stop()
    return url
