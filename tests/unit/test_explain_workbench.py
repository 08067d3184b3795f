"""Explain job results and the workbench services on a small trained demo (planted churn hazard, k-means)."""
from __future__ import annotations

import numpy as np
import pytest

from models import explain
from services import db, registry
from services.churn import tables as churn_tables
from services.explain import read as svc


@pytest.fixture(scope="module")
def engine(trained_db_file):
    return db.get_engine(f"sqlite:///{trained_db_file}")


def test_stored_churn_contributions_add_up_to_the_scores(engine):
    stored = svc.stored(engine, "churn")
    scores = registry.read_results(engine, churn_tables.SCORES)
    latest = scores[scores.score_date == scores.score_date.max()].set_index("account_id")
    recon = explain.prediction(stored)
    assert set(recon.index) == set(latest.index)  # every scored account is explained
    # float32 storage: 1e-5 on the log-odds scale; the job's float64 error is below 1e-6
    assert np.abs(recon - latest.log_odds_raw.reindex(recon.index)).max() < 1e-5
    assert stored.groupby("subject_id").size().max() == 9  # top 8 + other
    m = registry.active_metrics(engine, "explain")
    assert m["additivity_max_abs_err"] < 1e-6
    assert 0 < m["shap_rows_per_s"] and 0 <= m["reason_coverage"] <= 1


def test_adoption_margin_is_exact_and_surrogate_agrees(engine):
    margin = svc.stored(engine, "adoption_margin")
    km = registry.load_artifact(engine, "adoption")
    sid = margin.subject_id.iloc[0]
    w = svc.adoption_whatif(km, svc.adoption_signals(engine, sid), sid)
    stored = margin[margin.subject_id == sid].contribution.sum()
    assert stored == pytest.approx(w["margin"], abs=1e-4) and w["margin"] >= 0
    assert w["cluster"] != w["runner_up"]
    assert registry.active_metrics(engine, "explain")["surrogate_fidelity"] >= 0.8


def test_whatif_moves_probability_and_suggestion_lowers_risk(engine):
    art = registry.load_artifact(engine, "churn")
    model, tiers = art["model"], dict(art["tiers"])
    subj = svc.subjects(engine, "churn")
    acc = subj.subject_id.iloc[0]  # the riskiest account
    row = svc.churn_row(engine, acc).values
    p0 = svc.churn_predict(model, [row])[0][0]
    assert p0 == pytest.approx(subj.prediction.iloc[0], abs=1e-9)
    f = next(f for f in svc.actionable(model.feature_names_) if f.startswith("use_") and not np.isnan(row[f]))
    edited = svc.apply_edits(row, {f: 1.0})
    assert edited[f"{f[:-4]}_trend_3m"] == pytest.approx(row[f"{f[:-4]}_trend_3m"] + 1.0 - row[f])
    x = svc.churn_explain(model, edited, acc)
    _p1, raw1 = svc.churn_predict(model, [edited])
    assert explain.prediction(x).iloc[0] == pytest.approx(raw1[0], abs=1e-5)
    s = svc.suggest_churn(model, row, tiers)
    assert s["probability"] <= p0
    if s["edits"]:
        assert all(s["edits"][k] > row[k] for k in s["edits"])  # more use, more actions: never less


def test_suggest_adoption_reaches_a_healthy_cluster(engine):
    km = registry.load_artifact(engine, "adoption")
    subj = svc.subjects(engine, "adoption_margin")
    unhealthy = subj[~subj.label.str.contains("Healthy|Expansion")].subject_id
    s = svc.suggest_adoption(km, svc.adoption_signals(engine, unhealthy.iloc[0]))
    assert s["cluster"].startswith(svc.HEALTHY) and s["edits"]


def test_bad_input_is_refused(engine):
    with pytest.raises(LookupError):
        svc.churn_row(engine, "NO-SUCH-ACCOUNT")
    with pytest.raises(ValueError, match="unknown model"):
        svc.subjects(engine, "nope")
    with pytest.raises(ValueError, match="unknown feature"):
        svc.apply_edits({"a": 1.0}, {"b": 2.0})
