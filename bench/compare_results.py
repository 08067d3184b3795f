"""Compare every result table's active rows of two databases (e.g. the same demo trained before and after a
change): per table the row counts and the largest difference of each numeric column, text columns equal.

    python bench/compare_results.py sqlite:////tmp/before.db sqlite:////tmp/after.db

Rows are matched after sorting by every non-float column (then the float ones); the `model_version`
column (a new name per run) and the version columns `registry` adds are left out.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
import sqlalchemy as sa

from services import db, registry

SKIP = {"model_version", "snapshot_at", "created_at", "written_at"}


def active_rows(engine: sa.Engine, table: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(
            f'SELECT * FROM "{table}" WHERE model_version IN '
            f"(SELECT version FROM {registry.VERSIONS} WHERE status = 'active')"), conn)


def compare(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if len(a) != len(b):
        return f"DIFFERENT row counts {len(a)} vs {len(b)}"
    if set(a.columns) != set(b.columns):
        return f"DIFFERENT columns {sorted(set(a.columns) ^ set(b.columns))}"
    cols = [c for c in a.columns if c not in SKIP]
    floats = [c for c in cols if pd.api.types.is_float_dtype(a[c]) or pd.api.types.is_float_dtype(b[c])]
    keys = [c for c in cols if c not in floats]
    a = a[cols].sort_values(keys + floats, kind="stable").reset_index(drop=True)
    b = b[cols].sort_values(keys + floats, kind="stable").reset_index(drop=True)
    for c in keys:
        if not a[c].astype(str).equals(b[c].astype(str)):
            return f"DIFFERENT values in {c}"
    worst = 0.0
    for c in floats:
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            return f"DIFFERENT NaNs in {c}"
        ok = ~np.isnan(x)
        if ok.any():
            worst = max(worst, float(np.max(np.abs(x[ok] - y[ok]))))
    return "identical" if worst == 0 else f"max abs diff {worst:.2g}"


def main() -> None:
    before, after = db.get_engine(sys.argv[1]), db.get_engine(sys.argv[2])
    tables = sorted(set(registry.result_tables(before)) | set(registry.result_tables(after)))
    for t in tables:
        a, b = active_rows(before, t), active_rows(after, t)
        print(f"{t:<32} {len(a):>9,} rows  {compare(a, b)}")


if __name__ == "__main__":
    main()
