"""CSM actions and playbooks: log an action with a note, suggest a playbook, keep the CSM's feedback.

Actions go to `csm_actions` (the outcome report reads them). A playbook is suggested from the
account's adoption cluster name and its top churn reason's group; the CSM accepts or dismisses it,
optionally saying "this reason is wrong" - that feedback is kept in `playbook_feedback`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import audit, db

log = logging.getLogger(__name__)

ACTION_TYPES = ("call", "executive_meeting", "training", "success_plan", "commercial_concession", "escalation")
ACTION_LABELS = {t: t.replace("_", " ").capitalize() for t in ACTION_TYPES}
MAX_NOTE = 2000
UNATTRIBUTED = "unattributed"  # who, in the audit log, when a caller names no author
DECISIONS = ("accepted", "dismissed")

FEEDBACK = sa.Table(
    "playbook_feedback", sa.MetaData(),
    sa.Column("feedback_id", sa.String, primary_key=True),
    sa.Column("account_id", sa.String, nullable=False, index=True),
    sa.Column("playbook", sa.String, nullable=False),
    sa.Column("risk_reason", sa.Text),
    sa.Column("decision", sa.String, nullable=False),
    sa.Column("reason_wrong", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("person_id", sa.String),
    sa.Column("created_at", sa.DateTime, nullable=False),
)


@dataclass(frozen=True)
class Playbook:
    name: str
    action_type: str
    steps: tuple[str, ...]


# by the first word of the adoption cluster name (the vocabulary names clusters in plain words)
CLUSTER_PLAYBOOKS = {
    "unused": Playbook("Seat activation drive", "training",
                       ("Find the unactivated users with the admin", "Run a role-based training session",
                        "Agree a seat activation target for the next 60 days")),
    "under": Playbook("Allowance consumption plan", "success_plan",
                      ("Review which use cases the allowance was bought for", "Set up the missing workflows",
                       "Check consumption monthly until renewal")),
    "shallow": Playbook("Complete the jobs", "training",
                        ("Show the features of the jobs they only half use", "Share a best-practice setup")),
    "declining": Playbook("Executive re-engagement", "executive_meeting",
                          ("Meet the sponsor: what changed?", "Rebuild a success plan with dated goals")),
    "expansion": Playbook("Expansion conversation", "call",
                          ("Confirm capacity needs with the rep", "Offer the right-size upgrade")),
}
# by the business group of the top churn reason
REASON_PLAYBOOKS = {
    "support": Playbook("Support recovery", "escalation",
                        ("Review the open severe cases with support", "Agree a fix plan and a weekly check-in")),
    "price": Playbook("Commercial review", "commercial_concession",
                      ("Review the last uplift against the value delivered", "Prepare a renewal offer")),
    "tenure": Playbook("New customer onboarding check", "success_plan",
                       ("Check onboarding milestones", "Name a champion and a second contact")),
    "seat": CLUSTER_PLAYBOOKS["unused"],
    "trend": CLUSTER_PLAYBOOKS["declining"],
    "breadth": CLUSTER_PLAYBOOKS["shallow"],
}
DEFAULT_PLAYBOOK = Playbook("Health check call", "call",
                            ("Call the main contact", "Confirm goals and risks before the renewal"))


def suggest_playbook(cluster_name: str | None, risk_reason_group: str | None) -> Playbook:
    """The playbook for the risk reason's group when one matches, else for the adoption cluster."""
    for text, table in ((risk_reason_group, REASON_PLAYBOOKS), (cluster_name, CLUSTER_PLAYBOOKS)):
        words = (text or "").lower()
        for key, playbook in table.items():
            if key in words:
                return playbook
    return DEFAULT_PLAYBOOK


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _check_account(engine: Engine, account_id: str) -> None:
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT 1 FROM accounts WHERE account_id = :a"), {"a": account_id}).first()
    if found is None:
        raise ValueError(f"unknown account {account_id!r}")


def log_action(engine: Engine, account_id: str, action_type: str, note: str = "",
               person_id: str | None = None, at: dt.datetime | None = None) -> str:
    """Record a CSM action; returns its id. Raises ValueError on an unknown account or action type."""
    if action_type not in ACTION_TYPES:
        raise ValueError(f"unknown action type {action_type!r}; choose one of {', '.join(ACTION_TYPES)}")
    if len(note) > MAX_NOTE:
        raise ValueError(f"the note is {len(note)} characters; keep it under {MAX_NOTE}")
    _check_account(engine, account_id)
    action_id = f"ACT-{uuid.uuid4().hex[:12]}"
    db.insert_rows("csm_actions", [{"action_id": action_id, "account_id": account_id, "person_id": person_id,
                                    "action_type": action_type, "created_at": at or _now(),
                                    "note": note.strip()}], engine)
    audit.record(engine, person_id or UNATTRIBUTED, "log_action", account_id=account_id, action_id=action_id,
                 action_type=action_type)
    log.info("logged %s on %s (%s)", action_type, account_id, action_id)
    return action_id


def account_actions(engine: Engine, account_id: str) -> pd.DataFrame:
    """The account's logged actions, newest first."""
    df = db.read_table("csm_actions", engine, where="account_id = :a", params={"a": account_id})
    return df.sort_values("created_at", ascending=False, ignore_index=True)


def record_feedback(engine: Engine, account_id: str, playbook: str, decision: str, reason_wrong: bool = False,
                    risk_reason: str | None = None, note: str = "", person_id: str | None = None) -> str:
    """Keep the CSM's verdict on a suggested playbook (and whether the risk reason was wrong)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    _check_account(engine, account_id)
    FEEDBACK.create(engine, checkfirst=True)
    fid = uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(FEEDBACK.insert().values(
            feedback_id=fid, account_id=account_id, playbook=playbook, risk_reason=risk_reason, decision=decision,
            reason_wrong=bool(reason_wrong), note=note[:MAX_NOTE], person_id=person_id, created_at=_now()))
        audit.record(conn, person_id or UNATTRIBUTED, "playbook_feedback", account_id=account_id, playbook=playbook,
                     decision=decision, reason_wrong=bool(reason_wrong))
    return fid


def feedback(engine: Engine) -> pd.DataFrame:
    """All playbook feedback, newest first."""
    FEEDBACK.create(engine, checkfirst=True)
    with engine.connect() as conn:
        return pd.read_sql(sa.select(FEEDBACK).order_by(FEEDBACK.c.created_at.desc()), conn)
