"""Read side of the outcomes report: flagged renewals of the active outcomes version with their actions."""
from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from services import db, registry
from services.outcomes import report as outcomes
from services.outcomes import tables as T


def report_frame(engine: Engine, flagged: pd.DataFrame | None = None,
                 as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Flagged (account, renewal) pairs of the active outcomes version with live actions and outcomes."""
    if flagged is None:
        flagged = registry.read_results(engine, T.FLAG_HISTORY)
    if flagged.empty:
        return pd.DataFrame()
    as_of = pd.Timestamp(as_of if as_of is not None else flagged.as_of.iloc[0])
    ids = flagged.account_id.unique().tolist()
    actions = db.read_table("csm_actions", engine)
    subs = db.read_table("subscriptions", engine, columns=["account_id", "start_date", "end_date", "arr_usd"])
    subs = subs[subs.account_id.isin(ids)]
    with_actions = outcomes.attach_actions(flagged.drop(columns=["model_version", "as_of"], errors="ignore"),
                                           actions[actions.account_id.isin(ids)])
    return outcomes.renewal_outcomes(with_actions, subs, as_of)


def task_frame(engine: Engine, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The outcome frame with the task side (services.outcomes.tasks_report.attach_tasks)."""
    from services.alerts.events import fired_events
    from services.alerts.tasks import all_tasks
    from services.outcomes.tasks_report import attach_tasks

    frame = report_frame(engine) if frame is None else frame
    if frame.empty:
        return frame
    return attach_tasks(frame, all_tasks(engine), fired_events(engine))
def latest_feedback(engine: Engine, account_id: str) -> dict | None:
    """The newest playbook verdict on an account (playbook, decision, person_id, created_at), or None."""
    from services.outcomes.actions import FEEDBACK

    FEEDBACK.create(engine, checkfirst=True)
    import sqlalchemy as sa

    with engine.connect() as conn:
        row = conn.execute(sa.select(FEEDBACK).where(FEEDBACK.c.account_id == account_id)
                           .order_by(FEEDBACK.c.created_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None
