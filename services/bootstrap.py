"""Checks used by `make db`: does the database need seeding or training?

`python -m services.bootstrap needs-seed` exits 0 when the database has no accounts,
`python -m services.bootstrap needs-train` exits 0 when no model version is recorded.
Exit status 1 means "nothing to do"; 2 or more is an error.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.db import get_engine


def count_rows(engine: Engine, table: str) -> int:
    """Rows in `table`, or 0 when the table does not exist."""
    if not sa.inspect(engine).has_table(table):
        return 0
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def needs_seed(engine: Engine) -> bool:
    return count_rows(engine, "accounts") == 0


def needs_train(engine: Engine) -> bool:
    return count_rows(engine, "model_versions") == 0


def main(argv: list[str]) -> int:
    checks = {"needs-seed": needs_seed, "needs-train": needs_train}
    if len(argv) != 1 or argv[0] not in checks:
        print(f"usage: python -m services.bootstrap {{{','.join(checks)}}}", file=sys.stderr)
        return 2
    try:
        return 0 if checks[argv[0]](get_engine()) else 1
    except Exception as exc:  # noqa: BLE001 -- report any error, never mistake it for "nothing to do"
        print(f"services.bootstrap: cannot check the database: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
