"""Result tables, declared once: the `ResultTable` type every capability's `tables.py` uses.

A result table holds the rows a training job writes under a model version (`registry.write_results`
adds `model_version` and `as_of` to every row). Its name, columns and types are declared in the
capability's `tables.py`; the registry checks each write against the declaration, creates new tables
from it (with an index on the version and the table's keys) and `docs/results.md` is generated from
the declarations (`python -m services.results > docs/results.md`; a test fails when it drifts).
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

SQL_TYPES = {"text": sa.Text, "int": sa.BigInteger, "float": sa.Float, "date": sa.DateTime, "bool": sa.Boolean}
STAMP = ("model_version", "as_of")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # text, int, float, date, bool
    doc: str = ""
    optional: bool = False  # absent from some writes (filled NULL)

    def __post_init__(self) -> None:
        if self.type not in SQL_TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type!r}")


@dataclass(frozen=True)
class ResultTable:
    name: str
    model: str | None  # the registry model whose active version the rows belong to (None: given on read)
    doc: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...] = ()  # indexed together with model_version
    indexes: tuple[tuple[str, ...], ...] = ()  # further lookups pages make, each indexed after model_version
    open_columns: str = ""  # set when the table carries columns not known in advance (say which)

    def __str__(self) -> str:
        return self.name

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def check(self, columns: list[str]) -> None:
        """Raise ValueError when a frame about to be written does not match the declaration."""
        have = set(columns) - set(STAMP)
        missing = [c.name for c in self.columns if not c.optional and c.name not in have]
        extra = sorted(have - set(self.column_names))
        if missing or (extra and not self.open_columns):
            raise ValueError(f"result table {self.name}: "
                             + (f"missing declared columns {missing}" if missing else "")
                             + ("; " if missing and extra and not self.open_columns else "")
                             + (f"undeclared columns {extra}" if extra and not self.open_columns else "")
                             + " (declared in the capability's tables.py)")

    def sa_table(self, metadata: sa.MetaData, extra: dict[str, str] | None = None) -> sa.Table:
        cols = [sa.Column(c.name, SQL_TYPES[c.type]()) for c in self.columns]
        cols += [sa.Column(n, SQL_TYPES[t]()) for n, t in (extra or {}).items()]
        cols += [sa.Column("model_version", sa.String(80), nullable=False), sa.Column("as_of", sa.DateTime)]
        idx = [sa.Index(name, "model_version", *cols) for name, cols in self.index_columns()]
        return sa.Table(self.name, metadata, *cols, *idx)

    def index_columns(self) -> list[tuple[str, tuple[str, ...]]]:
        """(index name, columns after model_version): the keys' index, then one per declared lookup."""
        out = [(f"ix_{self.name}_version", self.keys)]
        return out + [(f"ix_{self.name}_version_{'_'.join(cols)}", cols) for cols in self.indexes]


def all_tables() -> list[ResultTable]:
    """Every declared result table, capability by capability."""
    from services.adoption import tables as adoption
    from services.churn import tables as churn
    from services.expansion import tables as expansion
    from services.explain import tables as explain
    from services.forecast import tables as forecast
    from services.monitoring import tables as monitoring
    from services.outcomes import tables as outcomes

    out: list[ResultTable] = []
    for mod in (adoption, churn, expansion, outcomes, forecast, explain, monitoring):
        out += [v for v in vars(mod).values() if isinstance(v, ResultTable)]
    return out


def results_markdown() -> str:
    """docs/results.md: the result tables and the quality gates, from their declarations."""
    from services import jobs

    lines = ["# Result tables", "",
             "Generated from each capability's `tables.py` by `python -m services.results > docs/results.md`;",
             "a test fails when this file drifts. Every row also carries `model_version` and `as_of`",
             "(added by `registry.write_results`); pages read the rows of the model's active version.", ""]
    for t in all_tables():
        lines += [f"## `{t.name}`" + (f" (model `{t.model}`)" if t.model else ""), "", t.doc, ""]
        if t.keys:
            lines += [f"Indexed on `model_version`, {', '.join(f'`{k}`' for k in t.keys)}.", ""]
        for cols in t.indexes:
            lines += [f"Also indexed on `model_version`, {', '.join(f'`{k}`' for k in cols)}.", ""]
        lines += ["| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.type}{' (optional)' if c.optional else ''} | {c.doc} |" for c in t.columns]
        if t.open_columns:
            lines += [f"| ... | float | {t.open_columns} |"]
        lines.append("")
    lines += ["# Quality gates", "",
              "Each training job declares its rules in `GATES` (`services/gates.py`); a new version that fails",
              "one is stored as `rejected` and not shown (`train --force` activates it anyway).", "",
              "| model | metric | rule |", "|---|---|---|"]
    for job in jobs.available_jobs():
        for g in getattr(job, "GATES", ()):
            lines.append(f"| {job.MODEL} | `{g.metric}` | {g.describe()} |")
    lines += ["", "# Jobs", "", "`python -m services.cli train` runs them in this order:", ""]
    lines += [f"{i}. `{j.model}`" + (f" (reads {', '.join(j.after)})" if j.after else "")
              for i, j in enumerate(jobs.JOBS, 1)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # the declarations' class is services.results.ResultTable, not __main__'s
    from services import results  # noqa: PLW0406

    print(results.results_markdown(), end="")
