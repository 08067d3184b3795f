"""CSM actions and playbooks: clear errors on bad input, feedback kept, playbook choice."""

from __future__ import annotations

import pytest

from services.importer import import_frames
from services.outcomes import actions


@pytest.fixture()
def loaded(engine, valid_frames):
    import_frames(valid_frames, "sample", engine)
    return engine, valid_frames["accounts"].account_id.iloc[0]


def test_log_action_validates_and_stores(loaded) -> None:
    engine, account = loaded
    with pytest.raises(ValueError, match="unknown action type 'lunch'"):
        actions.log_action(engine, account, "lunch")
    with pytest.raises(ValueError, match="unknown account 'NOPE'"):
        actions.log_action(engine, "NOPE", "call")
    with pytest.raises(ValueError, match="keep it under"):
        actions.log_action(engine, account, "call", "x" * (actions.MAX_NOTE + 1))
    action_id = actions.log_action(engine, account, "training", "  onboarding refresher ")
    logged = actions.account_actions(engine, account)
    assert logged.action_id.iloc[0] == action_id and logged.note.iloc[0] == "onboarding refresher"


def test_feedback_is_kept(loaded) -> None:
    engine, account = loaded
    with pytest.raises(ValueError, match="decision"):
        actions.record_feedback(engine, account, "Support recovery", "maybe")
    actions.record_feedback(engine, account, "Support recovery", "dismissed", reason_wrong=True,
                            risk_reason="3 severe cases")
    fb = actions.feedback(engine)
    assert fb.reason_wrong.tolist() == [True] and fb.risk_reason.tolist() == ["3 severe cases"]


def test_playbook_choice() -> None:
    assert actions.suggest_playbook("Unused seats", None).action_type == "training"
    assert actions.suggest_playbook("Unused seats", "Support load").name == "Support recovery"
    assert actions.suggest_playbook(None, None) == actions.DEFAULT_PLAYBOOK
    assert all(p.action_type in actions.ACTION_TYPES for p in
               [*actions.CLUSTER_PLAYBOOKS.values(), *actions.REASON_PLAYBOOKS.values()])
