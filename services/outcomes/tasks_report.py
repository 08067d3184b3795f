"""The outcome report's task side: for every flagged (account, renewal), whether anyone opened a task before
the renewal, how long before it the account was first flagged, and what came of it.

`attach_tasks(frame, tasks, events)` adds to the outcome frame (`report.outcome_frame` / `read.report_frame`):
- `first_flag`: the first risk alert fired on the account (high risk, risk up, renewal at risk) within the
  window before the renewal, else the window's first score date; `lead_time_days`: renewal - first flag;
- `has_task`, `playbook` and `task_outcome` of the first task created in the window (WINDOW_MONTHS + a month,
  as for actions).
`task_summary` (with vs without a task), `by_playbook` and `churn_ledger` (every churned flagged renewal:
first flagged when, at which risk, whether anyone acted or opened a task) read it. Observational, like the
rest of the report (`report.CAVEAT`): people open tasks on the accounts they worry about most.
"""
from __future__ import annotations

import pandas as pd

from services.outcomes.report import WINDOW_MONTHS, _summary

RISK_EVENTS = ("high_risk", "risk_up", "renewal_at_risk")
NO_TASK = "no task"


def attach_tasks(frame: pd.DataFrame, tasks: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy().reset_index(drop=True)
    if out.empty:
        return out.assign(first_flag=pd.NaT, lead_time_days=pd.NA, has_task=False, playbook=NO_TASK,
                          task_outcome=None)
    lo = out.renewal_date - pd.DateOffset(months=WINDOW_MONTHS) - pd.Timedelta(days=31)
    pairs = out[["account_id", "renewal_date"]].assign(lo=lo).reset_index()
    first = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    if not events.empty:
        ev = events[(events.action == "fired") & events.event_type.isin(RISK_EVENTS)][["account_id", "at"]]
        m = pairs.merge(ev.assign(at=pd.to_datetime(ev["at"])), on="account_id")
        m = m[(m["at"] >= m.lo) & (m["at"] < m.renewal_date)]
        first = m.groupby("index")["at"].min().reindex(out.index)
    out["first_flag"] = first.fillna(pd.to_datetime(out["first_score"])) if "first_score" in out else first
    out["lead_time_days"] = (out.renewal_date - out.first_flag).dt.days
    t = tasks[["account_id", "created_at", "playbook", "outcome", "task_type"]] if not tasks.empty else \
        pd.DataFrame(columns=["account_id", "created_at", "playbook", "outcome", "task_type"])
    m = pairs.merge(t.assign(created_at=pd.to_datetime(t.created_at)), on="account_id")
    m = m[(m.created_at >= m.lo) & (m.created_at < m.renewal_date)].sort_values("created_at")
    firsts = m.drop_duplicates("index").set_index("index")
    out["has_task"] = out.index.isin(firsts.index)
    out["playbook"] = firsts.playbook.fillna(firsts.task_type).reindex(out.index).fillna(NO_TASK)
    out["task_outcome"] = firsts.outcome.reindex(out.index)
    return out


def task_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Flagged renewals due, with and without a task: counts, save rate, ARR retained, median lead time."""
    f = frame.assign(task=frame.has_task.map({True: "with a task", False: "without a task"}))
    out = _summary(f, ["task"])
    lead = f[f.outcome != "pending"].groupby("task").lead_time_days.median()
    out["median_lead_time_days"] = out.task.map(lead)
    return out


def share_with_task(frame: pd.DataFrame) -> float | None:
    return float(frame.has_task.mean()) if len(frame) else None


def by_playbook(frame: pd.DataFrame) -> pd.DataFrame:
    return _summary(frame, ["playbook"]).sort_values("renewals_due", ascending=False, ignore_index=True)


def churn_ledger(frame: pd.DataFrame) -> pd.DataFrame:
    """Every churned flagged renewal: when first flagged, at which risk, whether anyone acted or opened a task."""
    c = frame[frame.outcome == "churned"].copy()
    cols = ["account_id", "renewal_date", "first_flag", "lead_time_days", "p_start", "tier", "acted",
            "action_type", "has_task", "playbook", "task_outcome", "arr_before_usd"]
    return c[[k for k in cols if k in c]].sort_values("renewal_date", ignore_index=True)
