"""Untreated risk: CSM actions are the treatment, never a churn input; monotone business directions; reasons."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures import demo_db

from services import feature_catalog, registry
from services.churn import features as cf
from services.churn import job as churn_job
from services.churn.tables import MODEL, REASONS
from services.db import get_engine
from services.explain import read as whatif
from services.outcomes.actions import ACTION_TYPES, log_action


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    return get_engine(demo_db.url_of(demo_db.built(tmp_path_factory, demo_db.CHURN_OUTCOMES)))


@pytest.fixture(scope="module")
def model(engine):
    return registry.load_artifact(engine, MODEL)["model"]


def _as_of(engine) -> pd.Timestamp:
    return pd.Timestamp(registry.versions(engine, MODEL).iloc[0]["as_of"]).normalize()


def test_logging_actions_leaves_every_score_unchanged(engine, model, tmp_path_factory, tmp_path) -> None:
    url = demo_db.private_copy(tmp_path_factory, demo_db.CHURN_OUTCOMES, tmp_path / "acted.db")
    mine = get_engine(url)
    as_of = _as_of(engine)
    before, _ = churn_job.score(model, cf.load_inputs(mine), as_of)
    top = before[before.score_date == as_of].nlargest(40, "probability").account_id
    for i, account in enumerate(top):  # every action type, dated inside every scored window
        log_action(mine, account, ACTION_TYPES[i % len(ACTION_TYPES)], "called the sponsor",
                   at=(as_of - pd.DateOffset(days=5 + 9 * i)).to_pydatetime())
    after, _ = churn_job.score(model, cf.load_inputs(mine), as_of)
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True))


def test_no_feature_reason_or_suggestion_mentions_actions_or_the_calendar(engine, model) -> None:
    assert not [f for f in model.feature_names_ if "action" in f or feature_catalog.describe(f).group ==
                "Customer success"]
    reasons = registry.read_results(engine, REASONS, MODEL)
    assert not reasons.empty
    assert not reasons.reason.str.contains(r"action|renewal due|days to renewal|months to renewal|Next renewal in",
                                           case=False).any()
    assert not reasons.feature.isin(feature_catalog.NEVER_REASONS).any()
    assert not [f for f in whatif.actionable(model.feature_names_) if "action" in f]
    rows = cf.build(cf.load_inputs(engine), [_as_of(engine)])
    p = model.predict_proba(rows[model.feature_names_])[:, 1]
    tiers = dict(churn_job.T.TIERS)
    for i in np.argsort(-p)[:15]:
        s = whatif.suggest_churn(model, rows.iloc[i][model.feature_names_].to_dict(), tiers)
        assert all("action" not in f and f not in feature_catalog.NEVER_REASONS for f in s["edits"])


def test_reasons_compare_with_typical_renewing_customer_and_point_the_business_way(engine, model) -> None:
    reasons = registry.read_results(engine, REASONS, MODEL)
    behaviour = reasons[reasons.feature.map(feature_catalog.direction) != 0]
    assert len(behaviour) > 10
    assert behaviour.reason.str.contains("typical renewing customer").all()
    # no reason cites rising seat activation as a risk
    assert not reasons.reason.str.contains(r"Seat activation rose", case=False).any()


def test_raising_activation_never_raises_risk(engine, model) -> None:
    """Monotone: a what-if raising seat activation from 30% to 70% cannot raise the risk, on any account."""
    rows = cf.build(cf.load_inputs(engine), [_as_of(engine)])
    rows = rows[rows.use_per_seat_now.notna()].head(200)
    assert len(rows) > 50
    values = rows[model.feature_names_].to_dict("records")
    low = [whatif.apply_edits(v, {"use_per_seat_now": 0.3}) for v in values]
    high = [whatif.apply_edits(v, {"use_per_seat_now": 0.7}) for v in values]
    p_low, p_high = whatif.churn_predict(model, low)[0], whatif.churn_predict(model, high)[0]
    assert (p_high <= p_low + 1e-12).all()
    # where the decision window is still ahead (renewal 6+ months away) activation now moves the risk down
    far = (rows.months_to_renewal >= 6).to_numpy()
    assert far.sum() > 20 and (p_high[far] < p_low[far] - 1e-6).mean() > 0.8
    # the same holds for each constrained signal moved alone on the model's raw output
    X = rows[model.feature_names_].reset_index(drop=True)
    for f, d in (model.monotone or {}).items():
        if X[f].notna().sum() == 0:
            continue
        up = X.copy()
        up[f] = up[f] + 0.2 * (np.nanstd(X[f]) + 1e-3)
        change = d * (model.decision_function(up) - model.decision_function(X))
        assert (change >= -1e-9).all(), f


def test_history_needs_18_months_and_says_why() -> None:
    month0 = pd.Period("2024-01", "M")
    with pytest.raises(ValueError, match=r"at least 18 months of usage history; found 17"):
        churn_job.plan(pd.Timestamp("2025-05-31"), month0)
    assert churn_job.plan(pd.Timestamp("2025-06-30"), month0).mode == "short"
    full = churn_job.plan(pd.Timestamp("2026-12-31"), month0)
    assert full.mode == "full" and full.eval_months == 12 and full.test[-1] <= pd.Timestamp("2025-11-30")
