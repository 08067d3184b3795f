"""The Data page's preview of an upload: rows added, removed and changed per table, before anything changes."""
from __future__ import annotations

import pandas as pd

from services.import_preview import table_changes


def test_added_removed_and_changed_rows_are_counted_on_the_key() -> None:
    stored = pd.DataFrame({"id": ["a", "b", "c"], "v": [1.0, 2.0, 3.0], "d": pd.to_datetime(["2026-01-01"] * 3)})
    incoming = pd.DataFrame({"id": ["b", "c", "d"], "v": [2, 30.0, 4.0], "d": pd.to_datetime(["2026-01-01"] * 3)})
    got = table_changes(stored, incoming, ["id"], ["id", "v", "d"])
    assert got == {"stored": 3, "incoming": 3, "added": 1, "removed": 1, "changed": 1}


def test_identical_tables_change_nothing_and_a_keyless_table_compares_whole_rows() -> None:
    t = pd.DataFrame({"x": [1, 2], "y": ["p", None]})
    assert table_changes(t, t.copy(), ["x"], ["x", "y"])["changed"] == 0
    got = table_changes(t, pd.DataFrame({"x": [1, 3], "y": ["p", "q"]}), [], ["x", "y"])
    assert (got["added"], got["removed"], got["changed"]) == (1, 1, 0)
