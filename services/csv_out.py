"""Every CSV the app writes goes through `safe_frame` / `to_csv_bytes`: no cell can run as a spreadsheet formula.

OWASP's rule for CSV injection: a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is
prefixed with a single quote, which spreadsheets show as text. A cell that already starts with quotes
followed by one of those characters gets one more quote, so that `restore` (applied by the importer to
text columns: one leading quote before quotes and a trigger is dropped) gives back exactly the stored value:
an export imports back unchanged."""
from __future__ import annotations

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGERED = r"^'*[=+\-@\t\r]"  # a trigger, after any number of quotes


def _text_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])
            or isinstance(df[c].dtype, pd.CategoricalDtype)]


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells are neutralised (numbers, dates and booleans are left as they are)."""
    out = df.copy()
    for c in _text_columns(out):
        s = out[c].astype(object)
        text = s.where(s.map(lambda v: isinstance(v, str)), None)
        hit = text.str.contains(_TRIGGERED, regex=True, na=False)
        if hit.any():
            s[hit] = "'" + text[hit]
            out[c] = s
    return out


def to_csv_bytes(df: pd.DataFrame, **kwargs) -> bytes:
    """`df` as UTF-8 CSV bytes, neutralised (for download buttons)."""
    return safe_frame(df).to_csv(index=False, **kwargs).encode()


def restore(s: pd.Series) -> pd.Series:
    """Undo `safe_frame` on one text column read back from a CSV (a quote before a trigger is dropped)."""
    if s.dtype != object:
        return s
    hit = s.str.startswith("'", na=False)
    if not hit.any():
        return s
    hit &= s.str.contains(_TRIGGERED, regex=True, na=False)
    return s.where(~hit, s.str.slice(1)) if hit.any() else s
