"""`make run`'s one screen per training run (services/train_summary.py) instead of the JSON dump."""
from __future__ import annotations

from services.train_summary import summary


def test_one_line_per_model_in_words_and_the_reason_when_not_active() -> None:
    lines = summary({
        "churn": {"status": "active", "train_seconds": 8.8, "auc": 0.863, "auc_baseline_logreg": 0.852,
                  "ece": 0.038, "n_scored": 1461},
        "outcomes": {"status": "active", "action_effect_estimate": 0.34, "action_effect_interval_90": [0.21, 0.41],
                     "action_effect_raw": -0.42, "n_flagged_due": 678},
        "forecast": {"status": "failed", "note": "no opportunities"},
    })
    assert len(lines) == 3
    assert lines[0].startswith("churn") and "AUC 0.863" in lines[0] and "1,461 accounts" in lines[0]
    assert "cuts churn by an estimated 34%" in lines[1] and "churned 42% more" in lines[1]
    assert "failed" in lines[2] and "no opportunities" in lines[2]
    assert all(len(line) < 240 for line in lines)
