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


def test_the_training_log_lines_say_what_they_mean() -> None:
    """The log lines `make run` prints while training: no bare "logit + 0 trees" or "raw -0.248"."""
    from models.churn import structure
    from services.outcomes.job import effect_words

    assert structure(0).startswith("a logistic model alone") and "none are used" in structure(0)
    assert structure(14) == "a logistic model plus 14 boosted trees that correct it"
    words = effect_words({"n_flagged_due": 1234, "action_effect_estimate": 0.3, "action_effect_raw": -0.248})
    assert words.startswith("1,234 flagged renewals came due; acting cut churn by an estimated 30%")
    assert "unadjusted, acted accounts churned 25% more" in words and "raw" not in words
    assert "raised churn by an estimated 10%" in effect_words({"action_effect_estimate": -0.1})
    assert "too few" in effect_words({"n_flagged_due": 3, "action_effect_estimate": None, "action_effect_raw": None})
