"""The company's own picklists, read from its data: opportunity stages (the `stages` table) and the
segments its accounts use. Nothing outside the simulator knows the demo's names; every consumer asks here.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from services import contract, db


def read_stages(engine: Engine) -> pd.DataFrame:
    """The `stages` table, in stage order; derived from the opportunities when a database predates it."""
    stages = db.read_table("stages", engine) if db.table_exists("stages", engine) else contract.empty_frame("stages")
    if stages.empty:
        opps = db.read_table("opportunities", engine, columns=["stage", "is_closed", "is_won"])
        if opps.empty:
            return contract.empty_frame("stages")
        hist = db.read_table("opportunity_history", engine, columns=["opportunity_id", "snapshot_date", "stage"])
        stages = contract.derive_stages(opps, hist)
    return stages.sort_values("stage_order", kind="stable").reset_index(drop=True)


def open_stage_rank(stages: pd.DataFrame) -> dict[str, int]:
    """Each open stage's position among the open stages (0 first), the deal-progress feature."""
    open_ = stages[~stages["is_closed"].astype(bool)].sort_values("stage_order", kind="stable")
    return {s: i for i, s in enumerate(open_["stage"])}


def closed_stages(stages: pd.DataFrame) -> list[str]:
    return stages.loc[stages["is_closed"].astype(bool), "stage"].tolist()


def won_stages(stages: pd.DataFrame) -> list[str]:
    return stages.loc[stages["is_won"].astype(bool), "stage"].tolist()


def lost_stages(stages: pd.DataFrame) -> list[str]:
    return stages.loc[stages["is_closed"].astype(bool) & ~stages["is_won"].astype(bool), "stage"].tolist()


def segments(engine: Engine) -> list[str]:
    """The segments the company's accounts use, largest first."""
    acc = db.read_table("accounts", engine, columns=["segment"])
    return acc["segment"].dropna().astype(str).value_counts().index.tolist()
