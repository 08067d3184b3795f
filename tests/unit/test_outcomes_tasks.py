"""The outcome report's task side on a hand-made frame: who had a task, first flag and lead time, save rate
with and without a task, per playbook, and the ledger of churned accounts."""
from __future__ import annotations

import pandas as pd

from services.outcomes.tasks_report import NO_TASK, attach_tasks, by_playbook, churn_ledger, task_summary

R = pd.Timestamp("2026-06-30")


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["A", "B", "C", "D"], "renewal_date": [R, R, R, R + pd.Timedelta(days=200)],
        "first_score": [R - pd.Timedelta(days=180)] * 4, "p_start": [0.3, 0.2, 0.4, 0.1],
        "tier": ["high", "medium", "high", "medium"], "acted": [True, False, False, False],
        "action_type": ["call", "no action", "no action", "no action"],
        "arr_before_usd": [100.0, 200.0, 300.0, 50.0], "arr_after_usd": [0.0, 200.0, 0.0, float("nan")],
        "outcome": ["churned", "renewed", "churned", "pending"]})


def test_tasks_first_flags_and_the_ledger() -> None:
    tasks = pd.DataFrame({"account_id": ["A", "B", "B", "C"],
                          "created_at": [R - pd.Timedelta(days=50), R - pd.Timedelta(days=40),
                                         R - pd.Timedelta(days=10), R + pd.Timedelta(days=5)],  # C: after renewal
                          "playbook": ["Support recovery", None, "Commercial review", "x"],
                          "task_type": ["escalation", "call", "call", "call"],
                          "outcome": ["lost", "customer_saved", None, None]})
    events = pd.DataFrame({"event_type": ["high_risk", "drift", "high_risk"], "action": ["fired"] * 3,
                           "account_id": ["A", "A", "A"],
                           "at": [R - pd.Timedelta(days=60), R - pd.Timedelta(days=90), R + pd.Timedelta(days=1)]})
    f = attach_tasks(_frame(), tasks, events)
    assert f.has_task.tolist() == [True, True, False, False]
    assert f.playbook.tolist() == ["Support recovery", "call", NO_TASK, NO_TASK]  # B's first task had none
    assert f.lead_time_days.tolist() == [60, 180, 180, 380]  # A from its alert, the others from the window
    s = task_summary(f).set_index("task")
    assert s.loc["with a task", "renewals_due"] == 2 and s.loc["with a task", "save_rate"] == 0.5
    assert s.loc["without a task", "save_rate"] == 0.0 and s.loc["without a task", "pending"] == 1
    assert s.loc["with a task", "arr_retained"] == 200 / 300
    assert set(by_playbook(f).playbook) == {"Support recovery", "call", NO_TASK}
    ledger = churn_ledger(f)
    assert ledger.account_id.tolist() == ["A", "C"]
    assert ledger[["has_task", "acted"]].values.tolist() == [[True, True], [False, False]]


def test_no_flagged_renewals_give_an_empty_frame() -> None:
    f = attach_tasks(_frame().iloc[0:0], pd.DataFrame(), pd.DataFrame())
    assert f.empty and "has_task" in f
