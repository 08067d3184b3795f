"""The data contract: one declarative spec per input table, enforced with pandera.

`TABLES` is the single source of column specs: the pandera schemas here, the SQL tables in
`services.db` and `docs/data-contract.md` (`contract_markdown()`) are all generated from it.
`validate(frames)` parses, coerces and checks every table lazily, then the cross-table rules,
and reports every failed rule with a count and up to five sample rows.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from services import csv_out, progress

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pandera.pandas as pa

SAMPLE_ROWS = 5
# dates: what has happened can be at most OBSERVED_GRACE_DAYS ahead of today (time zones, a month-end
# snapshot); planned dates (end and close dates) at most PLANNED_YEARS ahead
OBSERVED_GRACE_DAYS = 31
PLANNED_YEARS = 30
# tables without which nothing can be computed: refused when empty (a company may have no deals or cases)
NON_EMPTY = ("people", "accounts", "products", "metric_catalog", "subscriptions", "usage_monthly")
KINDS = {
    "id": "string id",
    "str": "text",
    "date": "date (YYYY-MM-DD)",
    "datetime": "timestamp (ISO 8601)",
    "float": "number",
    "int": "integer",
    "bool": "boolean (true/false)",
}
ROLES = ("rep", "manager", "regional_vp", "cro", "csm", "cs_manager", "architect", "data_scientist", "admin",
         "data_owner")
# Foresight's own vocabularies, onto which a company's picklists are mapped (a mapping file's value maps);
# a company's stage names are its own (the `stages` table), so are its segments, regions and industries
FORECAST_CATEGORIES = ("pipeline", "best_case", "commit", "omitted", "closed")
OPPORTUNITY_TYPES = ("new", "expansion", "renewal")


@dataclass(frozen=True)
class Col:
    """One column: its kind (a key of KINDS) and the rules on its values."""

    name: str
    kind: str
    description: str = ""
    nullable: bool = False
    unique: bool = False
    allowed: tuple[Any, ...] | None = None
    ge: float | None = None
    le: float | None = None
    pattern: str | None = None
    planned: bool = False  # a date that may lie ahead (an end or close date), up to PLANNED_YEARS


@dataclass(frozen=True)
class FK:
    column: str
    table: str
    ref: str


@dataclass(frozen=True)
class RowRule:
    """A rule on each row of one table: `check(df)` is a boolean Series, True where the row passes."""

    name: str
    check: Callable[[pd.DataFrame], pd.Series]
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Col, ...]
    key: tuple[str, ...] = ()
    foreign_keys: tuple[FK, ...] = ()
    row_rules: tuple[RowRule, ...] = ()
    optional: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Col:
        return next(c for c in self.columns if c.name == name)


def _ends_after(end: str, start: str) -> RowRule:
    return RowRule(
        f"{end} >= {start}",
        lambda df: df[end].isna() | df[start].isna() | (df[end] >= df[start]),
        (start, end),
    )


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "people",
        "Everyone who owns accounts, deals or commits. The sales hierarchy is the manager_id tree.",
        (
            Col("person_id", "id", "Unique person id.", unique=True),
            Col("name", "str", "Display name."),
            Col("role", "str", "Job role.", allowed=ROLES),
            Col("manager_id", "id", "The person's manager (empty at the top).", nullable=True),
            Col("region", "str", "Sales region (empty for the CRO).", nullable=True),
            Col("email", "str", "Work e-mail, matched to the identity provider's at sign-in (optional).",
                nullable=True, pattern=r"^[^@\s]+@[^@\s]+$"),
        ),
        key=("person_id",),
        foreign_keys=(FK("manager_id", "people", "person_id"),),
    ),
    TableSpec(
        "accounts",
        "Customers and prospects (an account with no subscription is a prospect).",
        (
            Col("account_id", "id", "Unique account id.", unique=True),
            Col("name", "str", "Account name."),
            Col("industry", "str", "Industry."),
            Col("segment", "str", "Customer segment (the company's own names)."),
            Col("region", "str", "Sales region."),
            Col("owner_id", "id", "The account owner, a person with role rep."),
            Col("csm_id", "id", "The customer success manager, if any.", nullable=True),
            Col("created_date", "date", "When the account was created."),
        ),
        key=("account_id",),
        foreign_keys=(FK("owner_id", "people", "person_id"), FK("csm_id", "people", "person_id")),
    ),
    TableSpec(
        "products",
        "Products sold, each with its pricing model.",
        (
            Col("product_id", "id", "Unique product id.", unique=True),
            Col("name", "str", "Product name."),
            Col("pricing_model", "str", "How the product is priced.",
                allowed=("per_seat", "allowance", "usage_value", "flat")),
        ),
        key=("product_id",),
    ),
    TableSpec(
        "metric_catalog",
        "Usage metrics per product. Per product at most one `capacity` metric (seats, allowance, "
        "contracted volume) and one `consumption` metric in the same unit; `feature` metrics count "
        "monthly use and are grouped into jobs; `value` metrics measure outcomes.",
        (
            Col("metric_id", "id", "Unique metric id.", unique=True),
            Col("product_id", "id", "The product measured."),
            Col("name", "str", "Metric name."),
            Col("description", "str", "What the metric counts.", nullable=True),
            Col("unit", "str", "Unit of the value."),
            Col("role", "str", "What the metric means for adoption.",
                allowed=("capacity", "consumption", "feature", "value")),
            Col("job", "str", "The customer job a feature belongs to.", nullable=True),
            Col("higher_is_better", "bool", "Whether more is better."),
        ),
        key=("metric_id",),
        foreign_keys=(FK("product_id", "products", "product_id"),),
    ),
    TableSpec(
        "subscriptions",
        "Subscription terms. end_date is the day after the last covered day (one year: start + 1 "
        "year). A subscription that ended with no renewal is a churn; a renewal at lower ARR a downsell.",
        (
            Col("subscription_id", "id", "Unique subscription id.", unique=True),
            Col("account_id", "id", "The subscribing account."),
            Col("product_id", "id", "The product subscribed."),
            Col("start_date", "date", "First covered day.", planned=True),
            Col("end_date", "date", "Day after the last covered day.", planned=True),
            Col("arr_usd", "float", "Annual recurring revenue in USD.", ge=0),
            Col("quantity", "float", "Seats, allowance or contracted volume.", ge=0),
            Col("renewal_of", "id", "The subscription this one renews.", nullable=True),
        ),
        key=("subscription_id",),
        foreign_keys=(
            FK("account_id", "accounts", "account_id"),
            FK("product_id", "products", "product_id"),
            FK("renewal_of", "subscriptions", "subscription_id"),
        ),
        row_rules=(_ends_after("end_date", "start_date"),),
    ),
    TableSpec(
        "usage_monthly",
        "Monthly usage in long format: one value per account, product, metric and month.",
        (
            Col("account_id", "id", "The account."),
            Col("product_id", "id", "The product."),
            Col("metric_id", "id", "The metric (of that product)."),
            Col("month", "date", "First day of the month."),
            Col("value", "float", "Metric value for the month.", ge=0),
        ),
        key=("account_id", "product_id", "metric_id", "month"),
        foreign_keys=(
            FK("account_id", "accounts", "account_id"),
            FK("product_id", "products", "product_id"),
            FK("metric_id", "metric_catalog", "metric_id"),
        ),
        row_rules=(
            RowRule("month is the first day of a month",
                    lambda df: df["month"].isna() | (df["month"].dt.day == 1), ("month",)),
        ),
    ),
    TableSpec(
        "stages",
        "The company's opportunity stage picklist (optional: when absent it is derived from the "
        "opportunities, closed and won from their flags, open stages in the order deals pass through them).",
        (
            Col("stage", "str", "Stage name, as in opportunities.stage.", unique=True),
            Col("stage_order", "int", "Position in the sales process (0 first; closed stages last).", ge=0),
            Col("is_closed", "bool", "Whether a deal in this stage is closed."),
            Col("is_won", "bool", "Whether a deal in this stage is won (a won stage is closed)."),
            Col("default_probability", "float", "The CRM's default win probability of the stage, if any.",
                nullable=True, ge=0, le=1),
        ),
        key=("stage",),
        row_rules=(RowRule("a won stage is closed", lambda df: df["is_closed"] | ~df["is_won"],
                           ("is_closed", "is_won")),),
        optional=True,
    ),
    TableSpec(
        "opportunities",
        "Sales opportunities (deals), open and closed.",
        (
            Col("opportunity_id", "id", "Unique opportunity id.", unique=True),
            Col("account_id", "id", "The account."),
            Col("owner_id", "id", "The opportunity owner."),
            Col("product_id", "id", "The product sold."),
            Col("type", "str", "Kind of deal.", allowed=OPPORTUNITY_TYPES),
            Col("amount_usd", "float", "Deal amount in USD.", ge=0),
            Col("created_date", "date", "When the opportunity was created."),
            Col("close_date", "date", "Expected or actual close date.", planned=True),
            Col("stage", "str", "Sales stage (one of `stages`)."),
            Col("forecast_category", "str", "Forecast category.", allowed=FORECAST_CATEGORIES),
            Col("is_closed", "bool", "Whether the deal is closed."),
            Col("is_won", "bool", "Whether the deal is won."),
        ),
        key=("opportunity_id",),
        foreign_keys=(
            FK("account_id", "accounts", "account_id"),
            FK("owner_id", "people", "person_id"),
            FK("product_id", "products", "product_id"),
            FK("stage", "stages", "stage"),
        ),
        row_rules=(
            _ends_after("close_date", "created_date"),
            RowRule("a won deal is closed", lambda df: df["is_closed"] | ~df["is_won"], ("is_closed", "is_won")),
        ),
    ),
    TableSpec(
        "opportunity_history",
        "Opportunity snapshots: one row at creation and one per change.",
        (
            Col("opportunity_id", "id", "The opportunity."),
            Col("snapshot_date", "date", "Date of the change."),
            Col("stage", "str", "Stage after the change (one of `stages`)."),
            Col("amount_usd", "float", "Amount after the change.", ge=0),
            Col("close_date", "date", "Close date after the change.", planned=True),
            Col("forecast_category", "str", "Forecast category after the change.", allowed=FORECAST_CATEGORIES),
        ),
        key=("opportunity_id", "snapshot_date"),
        foreign_keys=(FK("opportunity_id", "opportunities", "opportunity_id"), FK("stage", "stages", "stage")),
    ),
    TableSpec(
        "support_cases",
        "Support cases (optional: without them churn trains without its support features).",
        (
            Col("case_id", "id", "Unique case id.", unique=True),
            Col("account_id", "id", "The account."),
            Col("opened_date", "date", "When the case was opened."),
            Col("closed_date", "date", "When it was closed (empty while open).", nullable=True),
            Col("severity", "int", "1 (most severe) to 4.", ge=1, le=4),
            Col("csat", "int", "Satisfaction score 1-5, if surveyed.", nullable=True, ge=1, le=5),
        ),
        key=("case_id",),
        foreign_keys=(FK("account_id", "accounts", "account_id"),),
        row_rules=(_ends_after("closed_date", "opened_date"),),
        optional=True,
    ),
    TableSpec(
        "commits",
        "Quarterly forecast commits submitted by reps and managers (optional).",
        (
            Col("person_id", "id", "Who committed."),
            Col("quarter", "str", "Fiscal quarter (the `company` table's fiscal year), e.g. 2026Q4.",
                pattern=r"^\d{4}Q[1-4]$"),
            Col("amount_usd", "float", "Committed bookings in USD.", ge=0),
            Col("submitted_at", "datetime", "When the commit was submitted."),
        ),
        key=("person_id", "quarter", "submitted_at"),
        foreign_keys=(FK("person_id", "people", "person_id"),),
        optional=True,
    ),
    TableSpec(
        "quotas",
        "Quarterly bookings quotas (optional).",
        (
            Col("person_id", "id", "Whose quota."),
            Col("quarter", "str", "Fiscal quarter (the `company` table's fiscal year), e.g. 2026Q4.",
                pattern=r"^\d{4}Q[1-4]$"),
            Col("amount_usd", "float", "Quota in USD.", ge=0),
        ),
        key=("person_id", "quarter"),
        foreign_keys=(FK("person_id", "people", "person_id"),),
        optional=True,
    ),
    TableSpec(
        "company",
        "The company's settings, one row (optional: without it the fiscal year starts in January). A fiscal "
        "year is named by the calendar year it ends in: starting in February, FY2027 runs February 2026 to "
        "January 2027, and the quarters of `commits` and `quotas` are its quarters (2027Q1 = February-April 2026).",
        (
            Col("name", "str", "The company's name.", unique=True),
            Col("fiscal_year_start_month", "int", "First month of the fiscal year: 1 (January, the default) to "
                "12 (December); 2 for a year starting in February.", nullable=True),
        ),
        key=("name",),
        row_rules=(
            RowRule("fiscal_year_start_month is a month number from 1 (January) to 12 (December)",
                    lambda df: df["fiscal_year_start_month"].isna() | df["fiscal_year_start_month"].between(1, 12),
                    ("fiscal_year_start_month",)),
            RowRule("one row only (the company's settings)",
                    lambda df: pd.Series(len(df) <= 1, index=df.index), ("name",)),
        ),
        optional=True,
    ),
)
SPECS: dict[str, TableSpec] = {t.name: t for t in TABLES}
CROSS_RULES = (
    "every foreign key value (when not empty) exists in the referenced table",
    "accounts.owner_id is a person with role `rep`",
    "usage_monthly.metric_id belongs to usage_monthly.product_id (per metric_catalog)",
    "metric_catalog has at most one `capacity` and one `consumption` metric per product",
    "opportunities.is_closed and is_won agree with their stage's is_closed and is_won (per `stages`)",
    "`stages` orders its open stages before its closed ones",
)


# ----------------------------------------------------------------------------- report
@dataclass
class Failure:
    table: str
    rule: str
    failed_count: int
    sample: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rule": self.rule, "failed_count": self.failed_count,
                "sample": self.sample}


@dataclass
class ValidationReport:
    failures: list[Failure]
    frames: dict[str, pd.DataFrame]
    row_counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "row_counts": self.row_counts,
                "failures": [f.as_dict() for f in self.failures]}

    def format(self, max_samples: int = SAMPLE_ROWS) -> str:
        """Human-readable text: one block per failed rule with its count and sample rows."""
        if self.ok:
            return "All tables pass the data contract."
        lines = [f"{len(self.failures)} rule(s) failed:"]
        for f in self.failures:
            count = f" -- {f.failed_count} row(s)" if f.failed_count else ""
            lines.append(f"- {f.table}: {f.rule}{count}")
            lines += [f"    {json.dumps(row, default=str)}" for row in f.sample[:max_samples]]
        return "\n".join(lines)


def _sample(raw: pd.DataFrame, index: Any) -> list[dict[str, Any]]:
    rows = raw.loc[raw.index.isin(list(index[:SAMPLE_ROWS]))].head(SAMPLE_ROWS).copy()
    for c in rows.columns[[pd.api.types.is_datetime64_any_dtype(t) for t in rows.dtypes]]:
        fmt = "%Y-%m-%d" if (rows[c].dropna() == rows[c].dropna().dt.normalize()).all() else None
        rows[c] = rows[c].dt.strftime(fmt) if fmt else rows[c].astype(str)
    records = json.loads(rows.to_json(orient="records", date_format="iso", default_handler=str))
    return [{"row": int(i) + 1 if isinstance(i, (int, np.integer)) else str(i), **r}
            for i, r in zip(rows.index, records, strict=True)]


# ----------------------------------------------------------------------------- parsing
_TRUE = {"true", "t", "1", "yes", "y", "1.0"}
_FALSE = {"false", "f", "0", "no", "n", "0.0"}


def parse_column(s: pd.Series, kind: str, nullable: bool = True) -> tuple[pd.Series, pd.Series]:
    """Coerce a column to its kind's dtype. Returns (parsed, bad) where bad marks unparseable values."""
    if kind in ("id", "str"):  # categorical stays categorical (cheap for big id columns)
        no_bad = pd.Series(False, index=s.index)
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = s.cat.categories
            return (s if pd.api.types.infer_dtype(cats) in ("string", "empty")
                    else s.cat.rename_categories(cats.astype(str))), no_bad
        present = s.notna()
        if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
            return (s if present.all() else s.where(present, None)), no_bad
        out = s.astype(object).where(present, None)
        out[present] = s[present].astype(str)
        return out, no_bad
    present = s.notna()
    if kind in ("float", "int"):
        num = pd.to_numeric(s, errors="coerce") if s.dtype == object else s
        num = num.astype(float, copy=False)
        bad = present & (~np.isfinite(num) | (kind == "int") & (num % 1 != 0))  # "inf", "NaN" are no numbers
        if kind == "float":
            return (num.where(~bad) if bad.any() else num), bad
        return num.where(~bad).round().astype("Int64"), bad
    if kind == "bool":
        if pd.api.types.is_bool_dtype(s):
            out = s.astype("boolean")
        else:
            text = s.astype(str).str.strip().str.lower()
            out = pd.Series(pd.NA, index=s.index, dtype="boolean")
            out[present & text.isin(_TRUE)] = True
            out[present & text.isin(_FALSE)] = False
        bad = present & out.isna()
        return (out if nullable else out.fillna(False).astype(bool)), bad
    if kind in ("date", "datetime"):
        if pd.api.types.is_datetime64_any_dtype(s):
            out = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        else:
            out = pd.to_datetime(s.where(present, None), errors="coerce", format="ISO8601", utc=True)
            out = out.dt.tz_localize(None)  # an offset (+02:00, Z) is read as that instant in UTC
        out = out.astype("datetime64[ns]", copy=False)
        if kind == "date":
            out = out.dt.normalize()
        return out, present & out.isna()
    raise ValueError(f"unknown column kind {kind!r}")


# ----------------------------------------------------------------------------- schemas
# parse_column does the coercion (strictly: "yes" is no float); pandera checks the resulting dtypes.
# Strings (object or categorical) get no dtype check: pandera's `str` check visits every cell.
_DTYPES = {"id": None, "str": None, "float": float, "int": "Int64", "bool": bool,
           "date": "datetime64[ns]", "datetime": "datetime64[ns]"}


def _checks(col: Col) -> list[pa.Check]:
    checks = []
    if col.allowed is not None:
        checks.append(pa.Check.isin(list(col.allowed), error=f"in {{{', '.join(col.allowed)}}}"))
    if col.ge is not None and col.le is not None:
        checks.append(pa.Check.in_range(col.ge, col.le, error=f"between {col.ge:g} and {col.le:g}"))
    elif col.ge is not None:
        checks.append(pa.Check.ge(col.ge, error=f">= {col.ge:g}"))
    if col.pattern is not None:
        checks.append(pa.Check.str_matches(col.pattern, error=f"matches {col.pattern}"))
    return checks


def schema(spec: TableSpec, columns: list[str] | None = None) -> pa.DataFrameSchema:
    """The pandera schema of one table (restricted to `columns` when given)."""
    cols = [c for c in spec.columns if columns is None or c.name in columns]
    names = {c.name for c in cols}
    dtype = {c.name: ("boolean" if c.kind == "bool" and c.nullable else _DTYPES[c.kind]) for c in cols}
    # uniqueness is checked by `_duplicates` (pandera's failure cases for it grow quadratically)
    return pa.DataFrameSchema(
        {c.name: pa.Column(dtype[c.name], _checks(c), nullable=c.nullable) for c in cols},
        checks=[pa.Check(r.check, name=r.name, error=r.name)
                for r in spec.row_rules if set(r.columns) <= names],
        coerce=False,
        name=spec.name,
    )


def _rule_name(spec: TableSpec, column: Any, check: str) -> str:
    if check == "multiple_fields_uniqueness":
        return f"({', '.join(spec.key)}) unique"
    if check == "field_uniqueness":
        return f"{column} unique"
    if check == "not_nullable":
        return f"{column} not empty"
    if column is None or check in {r.name for r in spec.row_rules}:
        return check
    return f"{column} {check}"


def latest_date(col: Col, today: pd.Timestamp | None = None) -> pd.Timestamp:
    """The latest plausible value of a date column (see OBSERVED_GRACE_DAYS, PLANNED_YEARS)."""
    today = (today or pd.Timestamp.today()).normalize()
    return today + (pd.DateOffset(years=PLANNED_YEARS) if col.planned else pd.Timedelta(days=OBSERVED_GRACE_DAYS))


_ISO_DAY = r"^\s*(\d{4})-\d{2}-\d{2}"


def _value_rules(spec: TableSpec, col: Col, raw: pd.DataFrame, parsed: pd.Series,
                 bad: pd.Series) -> tuple[pd.Series, list[Failure]]:
    """Rules on single values beyond their kind: no NUL character in text; no date later than plausible
    (a date like 9999-12-31 that pandas cannot hold is reported as too late, not as "not a date")."""
    out: list[Failure] = []
    if col.kind in ("id", "str") and raw[col.name].dtype == object:
        nul = raw[col.name].str.contains("\x00", regex=False, na=False)
        if nul.any():
            out.append(Failure(spec.name, f"{col.name} must not contain a NUL character", int(nul.sum()),
                               _sample(raw, raw.index[nul.to_numpy()])))
    if col.kind in ("date", "datetime"):
        bound = latest_date(col)
        late = parsed.notna() & (parsed > bound)
        if bad.any() and raw[col.name].dtype == object:
            year = pd.to_numeric(raw[col.name].where(bad).str.extract(_ISO_DAY)[0], errors="coerce")
            huge = bad & (year > bound.year)
            late, bad = late | huge, bad & ~huge
        if late.any():
            ahead = f"{PLANNED_YEARS} years" if col.planned else f"{OBSERVED_GRACE_DAYS} days"
            out.append(Failure(spec.name, f"{col.name} must not be later than {bound.date()} (today + {ahead})",
                               int(late.sum()), _sample(raw, raw.index[late.to_numpy()])))
    return bad, out


def _duplicates(spec: TableSpec, df: pd.DataFrame, raw: pd.DataFrame) -> list[Failure]:
    """Unique columns and the table's key, checked in linear time; every row of a duplicated value counts."""
    rules = [([c.name], f"{c.name} unique") for c in spec.columns if c.unique and c.name in df]
    if len(spec.key) > 1 and set(spec.key) <= set(df.columns):
        rules.append((list(spec.key), f"({', '.join(spec.key)}) unique"))
    out = []
    for cols, rule in rules:
        present = df[cols].notna().all(axis=1)
        dup = present & df[cols].duplicated(keep=False)
        if dup.any():
            out.append(Failure(spec.name, rule, int(dup.sum()), _sample(raw, raw.index[dup.to_numpy()])))
    return out


def _validate_table(spec: TableSpec, raw: pd.DataFrame, part: int = 0,
                    parts: int = 0) -> tuple[pd.DataFrame, list[Failure]]:
    if any(not isinstance(c, str) or c != c.strip() for c in raw.columns):
        raw = raw.rename(columns=lambda c: str(c).strip())
    failures: list[Failure] = []
    df = pd.DataFrame(index=raw.index)
    bad_cells: dict[str, pd.Index] = {}
    dupes = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1})
    if dupes:
        failures.append(Failure(spec.name, f"duplicate column(s): {', '.join(dupes)}", len(dupes)))
        raw = raw.loc[:, ~raw.columns.duplicated()]
    steps = len(spec.columns) + 1  # each column, then keys and the schema's checks
    for j, col in enumerate(spec.columns):
        progress.report("validating", spec.name, j, steps, "columns", part, parts, len(raw))
        if col.name not in raw.columns:
            if col.nullable:
                df[col.name] = parse_column(pd.Series(None, index=raw.index, dtype=object),
                                            col.kind)[0]
            else:
                failures.append(Failure(spec.name, f"required column {col.name} missing",
                                        len(raw), [{"columns found": list(map(str, raw.columns))}]))
            continue
        parsed, bad = parse_column(raw[col.name], col.kind, col.nullable)
        if col.kind in ("id", "str"):
            parsed = csv_out.restore(parsed)  # a quote before = + - @ (our export's, a spreadsheet's) is dropped
        bad, more = _value_rules(spec, col, raw, parsed, bad)
        failures += more
        if bad.any():
            kind = KINDS[col.kind]
            article = "an" if kind[0] in "aeiou" else "a"
            failures.append(Failure(spec.name, f"{col.name} must be {article} {kind}",
                                    int(bad.sum()), _sample(raw, raw.index[bad])))
        df[col.name] = parsed
        bad_cells[col.name] = raw.index[bad]
    progress.report("validating", spec.name, steps - 1, steps, "columns", part, parts, len(raw))
    failures += _duplicates(spec, df, raw)
    try:
        checked = schema(spec, list(df.columns)).validate(df, lazy=True, inplace=True)
        if not failures:
            df = checked
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        fc = fc[fc["check"].notna()]
        # unparseable cells are already reported and now null: not "empty" as well
        seen = pd.Series(False, index=fc.index)
        for c, bad_index in bad_cells.items():
            if len(bad_index):
                seen |= (fc["column"] == c) & fc["index"].isin(bad_index)
        fc = fc[~(seen & (fc["check"] == "not_nullable"))]
        is_table = fc["schema_context"] == "DataFrameSchema"
        fc = fc.assign(column=fc["column"].where(~is_table, None))
        for (column, check), grp in fc.groupby(["column", "check"], dropna=False, sort=False):
            idx = pd.unique(grp["index"].dropna())
            failures.append(Failure(spec.name, _rule_name(spec, column if pd.notna(column) else None,
                                                          str(check)),
                                    len(idx) or len(grp), _sample(raw, idx)))
    return df, failures


# ----------------------------------------------------------------------------- cross-table
def _cross_checks(frames: dict[str, pd.DataFrame], raw: Mapping[str, pd.DataFrame]) -> list[Failure]:
    failures: list[Failure] = []

    def fail(table: str, rule: str, mask: pd.Series) -> None:
        if mask.any():
            failures.append(Failure(table, rule, int(mask.sum()),
                                    _sample(raw[table], frames[table].index[mask])))

    for spec in TABLES:
        df = frames.get(spec.name)
        for fk in spec.foreign_keys:
            ref = frames.get(fk.table)
            if df is None or ref is None or fk.column not in df or fk.ref not in ref:
                continue
            vals = df[fk.column]
            fail(spec.name, f"{fk.column} references {fk.table}.{fk.ref}",
                 vals.notna() & ~vals.isin(ref[fk.ref]))
    people, accounts = frames.get("people"), frames.get("accounts")
    if people is not None and accounts is not None and {"owner_id"} <= set(accounts):
        roles = people.drop_duplicates("person_id").set_index("person_id")["role"]
        role = accounts["owner_id"].map(roles)
        fail("accounts", "owner_id is a person with role rep", role.notna() & (role != "rep"))
    usage, catalog = frames.get("usage_monthly"), frames.get("metric_catalog")
    if usage is not None and catalog is not None and {"metric_id", "product_id"} <= set(usage):
        owner = usage["metric_id"].map(catalog.drop_duplicates("metric_id")
                                       .set_index("metric_id")["product_id"])
        fail("usage_monthly", "metric_id belongs to product_id (per metric_catalog)",
             owner.notna() & (owner != usage["product_id"]))
    if catalog is not None:
        core = catalog["role"].isin(["capacity", "consumption"])
        fail("metric_catalog", "at most one capacity and one consumption metric per product",
             core & catalog.duplicated(["product_id", "role"], keep=False))
    stages, opps = frames.get("stages"), frames.get("opportunities")
    if stages is not None and opps is not None and {"stage", "is_closed", "is_won"} <= set(opps):
        flags = stages.drop_duplicates("stage").set_index("stage")
        for flag in ("is_closed", "is_won"):
            want = opps["stage"].map(flags[flag])
            fail("opportunities", f"{flag} agrees with its stage's {flag} (per stages)",
                 want.notna() & (want.astype(bool) != opps[flag].astype(bool)))
    if stages is not None and len(stages):
        last_open = stages.loc[~stages["is_closed"], "stage_order"].max()
        fail("stages", "open stages come before closed ones (stage_order)",
             stages["is_closed"] & (stages["stage_order"] <= last_open))
    return failures


def derive_stages(opps: pd.DataFrame, hist: pd.DataFrame | None = None) -> pd.DataFrame:
    """The `stages` table a company did not send, from its deals: a stage is closed (won) when most
    deals now in it are closed (won); open stages are ordered by how often deals pass through each one
    before another (pairs of first appearances in each deal's history), then won and lost stages."""
    cols = ["stage", "stage_order", "is_closed", "is_won", "default_probability"]
    names = pd.concat([opps["stage"].astype(object),
                       hist["stage"].astype(object) if hist is not None else pd.Series(dtype=object)]).dropna()
    if names.empty:
        return empty_frame("stages")
    flags = opps.assign(is_closed=opps["is_closed"].astype(float), is_won=opps["is_won"].astype(float)) \
        .groupby(opps["stage"].astype(object))[["is_closed", "is_won"]].mean()
    out = pd.DataFrame({"stage": pd.unique(names)})
    out["is_closed"] = out["stage"].map(flags["is_closed"]).fillna(0) > 0.5
    out["is_won"] = out["is_closed"] & (out["stage"].map(flags["is_won"]).fillna(0) > 0.5)
    score = pd.Series(0.0, index=out["stage"])
    if hist is not None and len(hist):
        h = hist[["opportunity_id", "snapshot_date", "stage"]].astype({"opportunity_id": object, "stage": object})
        first = h.sort_values("snapshot_date", kind="stable").drop_duplicates(["opportunity_id", "stage"])
        first = first.assign(pos=first.groupby("opportunity_id").cumcount())
        pairs = first.merge(first, on="opportunity_id", suffixes=("_a", "_b"))
        pairs = pairs[pairs["pos_a"] < pairs["pos_b"]]
        score = score.add(pairs.groupby("stage_a").size(), fill_value=0).sub(
            pairs.groupby("stage_b").size(), fill_value=0)
    out["score"] = out["stage"].map(score).fillna(0.0)
    out = out.sort_values(["is_closed", "is_won", "score"], ascending=[True, False, False], kind="stable")
    out["stage_order"] = pd.array(np.arange(len(out)), dtype="Int64")
    out["default_probability"] = np.nan
    return out[cols].reset_index(drop=True)


def validate(frames: Mapping[str, pd.DataFrame]) -> ValidationReport:
    """Validate input tables against the contract; every failed rule is reported.

    On success `report.frames` holds the coerced frames (declared columns only, in order)."""
    failures: list[Failure] = []
    coerced: dict[str, pd.DataFrame] = {}
    for name in frames:
        if name not in SPECS:
            failures.append(Failure(name, "unknown table (expected one of: "
                                    f"{', '.join(SPECS)})", len(frames[name])))
    present = [spec for spec in TABLES if spec.name in frames]
    for spec in TABLES:
        if spec.name not in frames:
            if not spec.optional:
                failures.append(Failure(spec.name, "required table missing", 0))
            continue
        if spec.name in NON_EMPTY and len(frames[spec.name]) == 0:
            failures.append(Failure(spec.name, "required table is empty (no data rows)", 0))
        coerced[spec.name], table_failures = _validate_table(spec, frames[spec.name], present.index(spec) + 1,
                                                             len(present))
        failures += table_failures
    derived = "stages" not in coerced and "opportunities" in coerced and not failures
    if derived:
        coerced["stages"] = derive_stages(coerced["opportunities"], coerced.get("opportunity_history"))
    progress.report("cross_checks", rows=sum(len(df) for df in coerced.values()))
    failures += _cross_checks(coerced, {k: v for k, v in frames.items() if k in coerced}
                              | ({"stages": coerced["stages"]} if derived else {}))
    counts = {name: len(df) for name, df in frames.items()} | ({"stages": len(coerced["stages"])} if derived else {})
    ok = {k: v.reset_index(drop=True) for k, v in coerced.items()} if not failures else {}
    return ValidationReport(failures, ok, counts)


def empty_frame(name: str) -> pd.DataFrame:
    """A typed frame with no rows for contract table `name`."""
    empty = pd.Series([], dtype=object)
    return pd.DataFrame({c.name: parse_column(empty, c.kind, c.nullable)[0]
                         for c in SPECS[name].columns})


# ----------------------------------------------------------------------------- docs
def _date_rule(c: Col) -> str:
    if c.kind not in ("date", "datetime"):
        return ""
    return f"<= today + {PLANNED_YEARS} years" if c.planned else f"<= today + {OBSERVED_GRACE_DAYS} days"


def contract_markdown() -> str:
    """The contract as markdown (docs/data-contract.md is this text; a test keeps them equal)."""
    out = [
        "# Data contract",
        "",
        "<!-- Generated by services.contract.contract_markdown(); do not edit by hand. -->",
        "",
        "Foresight reads these tables, from a folder (or zip) of CSV files named `<table>.csv` or",
        "from the same tables in a SQL database. Every file is validated before anything is loaded;",
        "on any violation nothing changes and each failed rule is reported with a count and sample",
        "rows. A clean import replaces all tables in one transaction. Ids are strings; empty cells",
        "are nulls; dates are `YYYY-MM-DD`; booleans are `true`/`false`. Extra columns are ignored;",
        "a missing nullable column is read as all empty.",
        "",
        "Values: numbers are finite (`inf`, `-inf`, `NaN` are refused); text holds no NUL character;",
        "timestamps may carry an offset (`Z`, `+02:00`) and are stored as UTC; a date that has happened",
        f"may be at most {OBSERVED_GRACE_DAYS} days after today, a planned one (end and close dates) at most",
        f"{PLANNED_YEARS} years; a repeated header column is refused. These tables must have at least one",
        f"row: {', '.join(NON_EMPTY)}.",
        "",
        "## Rules across tables",
        "",
        *[f"- {r}" for r in CROSS_RULES],
        "",
    ]
    for spec in TABLES:
        out += [f"## `{spec.name}`{' (optional)' if spec.optional else ''}", "", spec.description, ""]
        out += ["| column | type | empty allowed | rules | description |", "|---|---|---|---|---|"]
        for c in spec.columns:
            rules = [f"in {{{', '.join(map(str, c.allowed))}}}" if c.allowed else "",
                     "unique" if c.unique else "",
                     f">= {c.ge:g}" if c.ge is not None else "",
                     f"<= {c.le:g}" if c.le is not None else "",
                     f"matches `{c.pattern}`" if c.pattern else "",
                     _date_rule(c)]
            fks = [f"references `{fk.table}.{fk.ref}`" for fk in spec.foreign_keys
                   if fk.column == c.name]
            rule_text = "; ".join(r for r in rules + fks if r)
            out.append(f"| `{c.name}` | {KINDS[c.kind]} | {'yes' if c.nullable else 'no'} | "
                       f"{rule_text} | {c.description} |")
        out.append("")
        if spec.key:
            out.append(f"Key (unique): `({', '.join(spec.key)})`.")
        for r in spec.row_rules:
            out.append(f"Row rule: {r.name}.")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
