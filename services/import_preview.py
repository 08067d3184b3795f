"""What an import would change, before it changes anything: per contract table, the rows stored, the rows in
the upload, and how many would be added, removed or changed (matched on the table's key). Read only."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sqlalchemy.engine import Engine

from services import contract, db, progress


def _stored(engine: Engine, name: str, columns: list[str]) -> pd.DataFrame:
    if not db.table_exists(name, engine):
        return pd.DataFrame(columns=columns)
    return db.read_table(name, engine)


def _norm(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns in comparable dtypes (a float 1.0 and an int 1 are the same value; dates as datetimes)."""
    out = {}
    for c in columns:
        s = frame[c] if c in frame else pd.Series(None, index=frame.index, dtype=object)
        if pd.api.types.is_bool_dtype(s):  # as numbers: a database without a boolean type stores 0 and 1
            s = pd.Series(s.astype("boolean").astype("Float64").to_numpy(dtype=float, na_value=float("nan")),
                          index=s.index)
        elif pd.api.types.is_numeric_dtype(s):
            s = s.astype(float).round(6)
        elif pd.api.types.is_datetime64_any_dtype(s):
            s = s.astype("datetime64[ns]")
        else:
            s = s.astype(object).where(s.notna(), None).astype(str)
        out[c] = s.reset_index(drop=True)
    return pd.DataFrame(out, columns=columns)


def _hash(frame: pd.DataFrame) -> pd.Series:
    if frame.shape[1] == 0:
        return pd.Series(0, index=frame.index, dtype="uint64")
    return pd.util.hash_pandas_object(frame, index=False)


def table_changes(stored: pd.DataFrame, incoming: pd.DataFrame, key: list[str], columns: list[str]) -> dict:
    """Rows added, removed and changed from `stored` to `incoming`, matched on `key` (no key: by whole row)."""
    a, b = _norm(stored, columns), _norm(incoming, columns)
    k = key or columns
    rest = [c for c in columns if c not in k]
    ha = pd.DataFrame({"k": _hash(a[k]).values, "v": _hash(a[rest]).values}).drop_duplicates("k")
    hb = pd.DataFrame({"k": _hash(b[k]).values, "v": _hash(b[rest]).values}).drop_duplicates("k")
    m = ha.merge(hb, on="k", how="outer", suffixes=("_a", "_b"), indicator=True)
    both = m[m["_merge"] == "both"]
    return {"stored": len(stored), "incoming": len(incoming), "added": int((m["_merge"] == "right_only").sum()),
            "removed": int((m["_merge"] == "left_only").sum()), "changed": int((both.v_a != both.v_b).sum())}


def preview(frames: Mapping[str, pd.DataFrame], engine: Engine) -> pd.DataFrame:
    """One row per contract table: table, stored, incoming, added, removed, changed (validated frames in)."""
    rows = []
    for part, spec in enumerate(contract.TABLES, 1):
        progress.report("comparing", spec.name, part=part, parts=len(contract.TABLES))
        columns = spec.column_names
        incoming = frames.get(spec.name, contract.empty_frame(spec.name))
        stored = _stored(engine, spec.name, columns)
        rows.append({"table": spec.name, **table_changes(stored, incoming, list(spec.key), columns)})
    return pd.DataFrame(rows)
