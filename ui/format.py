"""The one place numbers become words on a page: money, signed changes, points. Pure functions (no
Streamlit), so pages, widgets and the chart builders in ui/charts share them.

The sign always comes first ("-$822.0k", "+$13.4k"): Streamlit's `st.metric` reads a delta's leading
"-" to draw a red down arrow, so a fall formatted "$-13.4k" would show as a green rise."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MINUS = "-"


def _missing(value: object) -> bool:
    try:
        return value is None or math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def usd(value: float | None, signed: bool = False, missing: str = "—") -> str:
    """$1.2M / $340.0k / $950 money; a negative value "-$822.0k"; `signed`: "+$13.4k" for a rise."""
    if _missing(value):
        return missing
    v = float(value)  # type: ignore[arg-type]
    a = abs(v)
    sign = "" if a < 0.5 else (MINUS if v < 0 else ("+" if signed else ""))
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= size:
            return f"{sign}${a / size:,.1f}{suffix}"
    return f"{sign}${a:,.0f}"


def usd_full(value: float | None, missing: str = "—") -> str:
    """Whole dollars with thousands separators, no cents: "$24,424,600", "-$1,200"."""
    if _missing(value):
        return missing
    v = float(value)  # type: ignore[arg-type]
    return f"{MINUS if v <= -0.5 else ''}${abs(v):,.0f}"


_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9}


def parse_money(text: str) -> float:
    """An amount typed into a money box: "24,424,600", "$24,424,600", "24424600", "$24.4M", "950k".
    Raises ValueError with a message a user can act on (empty, not a number, below zero)."""
    raw = (text or "").strip()
    s = raw.replace("$", "").replace(",", "").replace(" ", "").replace("_", "").lower()
    scale = _SCALE.get(s[-1:], 1.0)
    if s[-1:] in _SCALE:
        s = s[:-1]
    try:
        v = float(s) * scale
    except ValueError:
        raise ValueError(f"“{raw}” is not an amount: type it as 1,250,000 or $1.25M.") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"“{raw}” is not an amount: type zero or more, e.g. 1,250,000 or $1.25M.")
    return float(round(v))


def change(value: float | None, unit: str = "", digits: int = 1, missing: str = "—") -> str:
    """A signed change: "+2.5 pts", "-1.0 pts", "0.0 pts" (no sign for no change)."""
    if _missing(value):
        return missing
    v = round(float(value), digits)  # type: ignore[arg-type]
    sign = "+" if v > 0 else (MINUS if v < 0 else "")
    return f"{sign}{abs(v):,.{digits}f}{(' ' + unit) if unit else ''}"


def vs(delta_text: str, what: str) -> str:
    """A metric delta with its comparison: "-$13.4k vs last week"."""
    return f"{delta_text} vs {what}"


# Table column formats (st.column_config.NumberColumn): whole dollars with thousands separators, no cents.
# A column that can go below zero carries "($)" in its label instead of a "$" prefix, so it reads "-1,234"
# rather than "$-1,234".
MONEY_FORMAT = "$%,d"
SIGNED_MONEY_FORMAT = "%,d"


def person_labels(people: pd.DataFrame) -> dict[str, str]:
    """person_id -> the name people read, with the id beside it only where two people share the name
    ("Ben Baker (E0054)"), so a picker never offers two identical choices."""
    names = people.set_index("person_id")["name"].fillna(people.set_index("person_id").index.to_series())
    repeated = names.map(names.value_counts()) > 1
    return {pid: (f"{name} ({pid})" if repeated[pid] else str(name)) for pid, name in names.items()}
