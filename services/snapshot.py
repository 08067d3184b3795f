"""Which data snapshot results were built from, and whether it is still the data in the database.

Every successful import records the snapshot it loaded in its `imports` row (`report["snapshot"]`):
`data`, a content fingerprint (row counts, the account ids and names, sums of the amounts, the fiscal year), and
`lineage`, the import that started this company's data (a replacing import starts a new lineage, an
appending one - `refresh` - continues the one before). Every model version records the same fingerprint
(`train` computes it under the data lock). A version built from another snapshot is
- *outdated* when the snapshot is of the same lineage (new months appended since): still shown, with a
  plain note that `refresh`/`train` will update it;
- *foreign* when the lineage changed (another company or a replacement): never shown (registry reads
  return nothing) and the pages say the models must be retrained.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db

TABLES = ("people", "accounts", "subscriptions", "usage_monthly", "opportunities", "opportunity_history",
          "support_cases")
SUMS = {"subscriptions": "arr_usd", "usage_monthly": "value", "opportunities": "amount_usd",
        "opportunity_history": "amount_usd"}


def data_fingerprint(conn: Connection | Engine) -> str:
    """A 16-hex fingerprint of the contract data as it is now (counts, account ids and names, amount sums)."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return data_fingerprint(c)
    h = hashlib.sha256()
    for t in TABLES:
        count = conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar()
        h.update(f"{t}:{count};".encode())
        if t in SUMS:
            # an exact integer sum of hundredths: a float SUM may differ in its last bits between two reads
            total = conn.execute(sa.text(f'SELECT SUM(CAST(ROUND("{SUMS[t]}" * 100) AS BIGINT)) FROM "{t}"')).scalar()
            h.update(f"{int(total or 0)};".encode())
    for account_id, name in conn.execute(sa.text('SELECT account_id, name FROM accounts ORDER BY account_id')):
        h.update(f"{account_id}\x1f{name}\x1e".encode())
    if sa.inspect(conn).has_table("company"):  # the fiscal year: another one moves every quarter (no rows: as before)
        for name, month in conn.execute(sa.text('SELECT name, fiscal_year_start_month FROM company ORDER BY name')):
            h.update(f"company\x1f{name}\x1f{month}\x1e".encode())
    return h.hexdigest()[:16]


def current(engine: Engine) -> dict[str, Any] | None:
    """The snapshot of the latest successful import ({"data", "lineage", "import_id"}), or None if unknown."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.IMPORTS.c.report).where(db.IMPORTS.c.status == "success")
                           .order_by(db.IMPORTS.c.finished_at.desc()).limit(1)).first()
    if row is None:
        return None
    try:
        snap = json.loads(row.report or "{}").get("snapshot")
    except (ValueError, AttributeError):
        return None
    return snap if isinstance(snap, dict) and snap.get("data") else None


def state(version_fingerprint: str | dict | None, now: dict[str, Any] | None) -> str:
    """"current", "outdated" (same lineage, other data), "foreign" (other lineage), "independent" (a model of
    a table outside the contract) or "unknown" (no snapshot recorded yet)."""
    if now is None:
        return "unknown"  # a database loaded before snapshots were recorded: nothing to compare with
    fp = version_fingerprint
    if isinstance(fp, str):
        try:
            fp = json.loads(fp)
        except ValueError:
            fp = None
    if isinstance(fp, dict) and "hash" not in fp and "data" not in fp:
        return "independent"  # not built from the contract tables (`churn-fit` on a bring-your-own table)
    if not isinstance(fp, dict) or not fp.get("data"):
        return "foreign"  # trained before fingerprints carried the data: cannot be tied to this data
    if fp["data"] == now["data"]:
        return "current"
    return "outdated" if fp.get("lineage") == now.get("lineage") else "foreign"
