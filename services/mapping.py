"""A mapping file (TOML) from a source's tables and columns to the data contract, so an export loads as it
comes. `apply(raw, mapping)` turns the source's frames (every cell a string, as the CSV reader gives them)
into contract tables; the contract then validates them as any import.

    [tables.opportunities]
    from = "Opportunity"                    # the source file (Opportunity.csv), case-insensitive
    [tables.opportunities.columns]
    opportunity_id = "Id"                   # a source column
    type = { column = "Type", values = { "New Business" = "new", "Existing Business" = "expansion" } }
    stage = "StageName"
    is_closed = "IsClosed"
    product_id = { column = "Product__c", default = "P-MAIN" }   # an empty or missing source value
    currency = { value = "USD" }            # a constant

A column spec is a source column name, or a table with `column` (or `value`, a constant), and optionally
`values` (a value map; a value not in it is kept as it is, so the contract reports it), `default`, and
`scale` (a number multiplied in, e.g. 0.01 for percentages), or `optional = true` (a source column that
may be absent: read as empty). A table may set `keep_last = "<source column>"`:
rows with the same contract key keep the one with the latest value of that column (a CRM's several
changes in one day). `optional = true`: a source file that is absent is skipped (the contract decides
whether the table may be missing). `[roles]` maps a company's job titles onto Foresight's roles (used as
the `values` of people.role when it names no map of its own).

Usage at daily grain: `[tables.usage_monthly]` with `grain = "day"` and its `month` column naming the day
column; rows are summed into calendar months per account, product and metric, except capacity metrics and
the consumption metric of per-seat products (seats bought, seats active), which take the month's maximum.

Tables in the source that carry a contract name and are not mapped are read as they are (`passthrough`,
true unless the file says false), so a CRM's mapping can sit beside usage and billing files already in the
contract's shape.

The company's settings (the `company` table) may be mapped from a source table like any other, or set in
the file itself; values set here win over the source's:

    [company]
    name = "Ledgerly"
    fiscal_year_start_month = 2             # the fiscal year starts in February (1-12; default 1)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from services import contract, fiscal
from services.import_files import ImportFileError

MAX_AGGREGATED = ("capacity",)


class MappingError(ImportFileError):
    """The mapping file is malformed or names a source table or column that is not there."""


def load(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            mapping = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"{path}: cannot be read as a mapping file ({exc})") from exc
    unknown = sorted(set(mapping.get("tables", {})) - set(contract.SPECS))
    if unknown:
        raise MappingError(f"{path}: maps unknown contract table(s) {', '.join(unknown)} "
                           f"(expected: {', '.join(contract.SPECS)})")
    _check_company(mapping.get("company"), str(path))
    return mapping


def _check_company(company: Any, where: str) -> None:
    """The `[company]` section: known settings only, a fiscal year start month 1-12."""
    if company is None:
        return
    if not isinstance(company, dict):
        raise MappingError(f"{where}: [company] must be a table of settings, got {company!r}")
    known = set(contract.SPECS[fiscal.TABLE].column_names)
    unknown = sorted(set(company) - known)
    if unknown:
        raise MappingError(f"{where}: [company] has unknown setting(s) {', '.join(unknown)} "
                           f"(expected: {', '.join(sorted(known))})")
    if fiscal.COLUMN in company:
        try:
            fiscal.check_start_month(company[fiscal.COLUMN])
        except ValueError as exc:
            raise MappingError(f"{where}: [company] {exc}") from None


def _company(frame: pd.DataFrame | None, settings: dict[str, Any]) -> pd.DataFrame:
    """The `company` table: the source's row (if any) with the file's `[company]` settings over it."""
    row = frame.iloc[0].to_dict() if frame is not None and len(frame) else {}
    row = {**row, **settings}
    row.setdefault("name", "Company")
    return pd.DataFrame([{c: row.get(c) for c in contract.SPECS[fiscal.TABLE].column_names}])


def _column(src: pd.DataFrame, name: str, spec: Any, table: str, roles: dict[str, str]) -> pd.Series:
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, dict):
        raise MappingError(f"tables.{table}.columns.{name}: expected a column name or a table, got {spec!r}")
    if "value" in spec:
        out = pd.Series(spec["value"], index=src.index, dtype=object)
    else:
        col = spec.get("column")
        if col not in src.columns:
            if "default" in spec or spec.get("optional"):
                out = pd.Series(None, index=src.index, dtype=object)
            else:
                raise MappingError(f"tables.{table}.columns.{name}: source column {col!r} not found "
                                   f"(columns: {', '.join(map(str, src.columns))})")
        else:
            out = src[col].astype(object)
    values = spec.get("values", roles if table == "people" and name == "role" else None)
    if values:
        out = out.map(lambda v: values.get(v, v) if isinstance(v, str) else v)
    if "scale" in spec:
        out = pd.to_numeric(out, errors="coerce") * float(spec["scale"])
    if "default" in spec:
        out = out.where(out.notna(), spec["default"])
    return out


def _table(raw: dict[str, pd.DataFrame], table: str, spec: dict[str, Any], roles: dict[str, str]
           ) -> pd.DataFrame | None:
    source = str(spec.get("from", table)).lower()
    if source not in raw:
        if spec.get("optional"):
            return None
        raise MappingError(f"tables.{table}: source table {spec.get('from', table)!r} not found "
                           f"(files: {', '.join(sorted(raw))})")
    src = raw[source]
    out = pd.DataFrame({name: _column(src, name, col, table, roles)
                        for name, col in spec.get("columns", {}).items()}, index=src.index)
    keep_last = spec.get("keep_last")
    key = list(contract.SPECS[table].key)
    if keep_last:
        if keep_last not in src.columns:
            raise MappingError(f"tables.{table}.keep_last: source column {keep_last!r} not found")
        order = pd.to_datetime(src[keep_last], errors="coerce", format="ISO8601", utc=True)
        keys = out[key].copy()
        for name in key:  # a date key compares days, whatever time of day the source stamped
            if contract.SPECS[table].column(name).kind == "date":
                keys[name] = pd.to_datetime(keys[name], errors="coerce", format="ISO8601", utc=True).dt.normalize()
        last = keys.loc[order.sort_values(kind="stable").index].drop_duplicates(key, keep="last").index
        out = out.loc[sorted(last)]
    if spec.get("grain") == "day":
        out = out.assign(month=pd.to_datetime(out["month"], errors="coerce", format="ISO8601")
                         .dt.to_period("M").dt.start_time.dt.strftime("%Y-%m-%d"))
    return out.reset_index(drop=True)


def _monthly(usage: pd.DataFrame, catalog: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Daily usage rows summed into months (capacity and per-seat consumption: the month's maximum)."""
    per_seat = set(products.loc[products["pricing_model"] == "per_seat", "product_id"])
    cat = catalog.drop_duplicates("metric_id").set_index("metric_id")
    role = usage["metric_id"].map(cat["role"])
    use_max = role.isin(MAX_AGGREGATED) | ((role == "consumption") & usage["metric_id"].map(cat["product_id"])
                                           .isin(per_seat))
    usage = usage.assign(value=pd.to_numeric(usage["value"], errors="coerce"), _max=use_max.to_numpy())
    key = ["account_id", "product_id", "metric_id", "month"]
    summed = usage[~usage["_max"]].groupby(key, as_index=False, sort=False)["value"].sum(min_count=1)
    peaked = usage[usage["_max"]].groupby(key, as_index=False, sort=False)["value"].max()
    return pd.concat([summed, peaked], ignore_index=True)


def apply(raw: dict[str, pd.DataFrame], mapping: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The contract tables from a source's frames through a mapping (see the module doc)."""
    raw = {k.lower(): v for k, v in raw.items()}
    roles = mapping.get("roles", {})
    tables = mapping.get("tables", {})
    out: dict[str, pd.DataFrame] = {}
    for table, spec in tables.items():
        frame = _table(raw, table, spec, roles)
        if frame is not None:
            out[table] = frame
    used = {str(spec.get("from", t)).lower() for t, spec in tables.items()}
    if mapping.get("passthrough", True):
        for name, frame in raw.items():
            if name in contract.SPECS and name not in out and name not in used:
                out[name] = frame
    if mapping.get("company"):
        _check_company(mapping["company"], "mapping")
        out[fiscal.TABLE] = _company(out.get(fiscal.TABLE), mapping["company"])
    daily = tables.get("usage_monthly", {}).get("grain") == "day"
    if daily and {"usage_monthly", "metric_catalog", "products"} <= set(out):
        out["usage_monthly"] = _monthly(out["usage_monthly"], out["metric_catalog"], out["products"])
    return out
