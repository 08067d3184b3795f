"""The quality gate, rollback and failed runs, with stand-in jobs (no real model is fitted)."""

from __future__ import annotations

import types

import pandas as pd
import pytest

from services import cli, jobs, registry
from services.gates import Gate, first_failure

AS_OF = pd.Timestamp("2025-06-30")


def fake_job(auc: float, score: float, fail_after_write: bool = False) -> types.SimpleNamespace:
    """A churn-like job that writes one score per account and reports `auc`."""

    def run(engine, version, run_inputs=None):
        frame = pd.DataFrame({"account_id": ["A1", "A2"], "probability": [score, score]})
        registry.write_results(engine, "churn_scores_test", frame, version)
        if fail_after_write:
            raise RuntimeError("boom after writing half the results")
        return {"auc": auc}, None

    return types.SimpleNamespace(MODEL="churn", run=run, GATES=(Gate("auc", higher_is_better=True, max_worse=0.01),))


@pytest.fixture()
def stand_in(monkeypatch: pytest.MonkeyPatch):
    """`stand_in.set(job)` makes `train_all` run only that job."""
    holder: list = []
    monkeypatch.setattr(jobs, "available_jobs", lambda: list(holder))

    def set_job(job: types.SimpleNamespace) -> None:
        holder[:] = [job]

    return types.SimpleNamespace(set=set_job)


def scores(engine) -> list[float]:
    return registry.read_results(engine, "churn_scores_test", "churn").probability.tolist()


def test_worse_model_is_stored_not_activated_unless_forced(engine, stand_in) -> None:
    stand_in.set(fake_job(auc=0.80, score=0.1))
    first = jobs.train_all(engine, as_of=AS_OF)["churn"]
    assert first["status"] == "active"

    stand_in.set(fake_job(auc=0.75, score=0.9))
    second = jobs.train_all(engine, as_of=AS_OF)["churn"]
    assert second["status"] == "rejected"
    assert "auc dropped" in second["note"] and "--force" in second["note"]
    assert registry.active_version(engine, "churn") == first["version"]
    assert scores(engine) == [0.1, 0.1]

    # within tolerance (0.01) passes without force
    stand_in.set(fake_job(auc=0.795, score=0.2))
    assert jobs.train_all(engine, as_of=AS_OF)["churn"]["status"] == "active"

    stand_in.set(fake_job(auc=0.60, score=0.9))
    forced = jobs.train_all(engine, as_of=AS_OF, force=True)["churn"]
    assert forced["status"] == "active" and "forced" in forced["note"]
    assert scores(engine) == [0.9, 0.9]


def test_rollback_restores_previous_scores(engine, stand_in) -> None:
    stand_in.set(fake_job(auc=0.80, score=0.1))
    v1 = jobs.train_all(engine, as_of=AS_OF)["churn"]["version"]
    stand_in.set(fake_job(auc=0.81, score=0.3))
    v2 = jobs.train_all(engine, as_of=AS_OF)["churn"]["version"]
    assert scores(engine) == [0.3, 0.3]

    assert registry.rollback(engine, "churn") == v1
    assert scores(engine) == [0.1, 0.1]
    status = registry.versions(engine, "churn").set_index("version").status
    assert status[v2] == "rolled_back" and status[v1] == "active"
    with pytest.raises(LookupError, match="nothing to roll back"):
        registry.rollback(engine, "churn")
    assert registry.activate(engine, v2) == "churn"
    assert scores(engine) == [0.3, 0.3]


def test_failed_run_leaves_active_version_untouched(engine, stand_in) -> None:
    stand_in.set(fake_job(auc=0.80, score=0.1))
    v1 = jobs.train_all(engine, as_of=AS_OF)["churn"]["version"]
    stand_in.set(fake_job(auc=0.90, score=0.7, fail_after_write=True))
    failed = jobs.train_all(engine, as_of=AS_OF)["churn"]
    assert failed["status"] == "failed" and "boom" in failed["note"]
    assert registry.active_version(engine, "churn") == v1
    assert scores(engine) == [0.1, 0.1]
    # the half-written rows are gone, not just hidden
    all_rows = pd.read_sql("SELECT model_version FROM churn_scores_test", engine)
    assert set(all_rows.model_version) == {v1}
    with pytest.raises(ValueError, match="failed"):
        registry.activate(engine, failed["version"])


def test_cli_models_list_activate_rollback(db_url, engine, stand_in, capsys) -> None:
    stand_in.set(fake_job(auc=0.80, score=0.1))
    v1 = jobs.train_all(engine, as_of=AS_OF)["churn"]["version"]
    stand_in.set(fake_job(auc=0.70, score=0.5))
    assert cli.main(["--database-url", db_url, "train", "--as-of", "2025-06-30"]) == 0
    err = capsys.readouterr().err
    assert "churn: rejected: auc dropped" in err
    assert cli.main(["--database-url", db_url, "models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "rejected" in listing and "auc=0.8" in listing
    rejected = registry.versions(engine, "churn").query("status == 'rejected'").version.iloc[0]
    assert cli.main(["--database-url", db_url, "models", "activate", rejected]) == 0
    assert scores(engine) == [0.5, 0.5]
    assert cli.main(["--database-url", db_url, "models", "rollback", "--model", "churn"]) == 0
    assert v1 in capsys.readouterr().out
    assert scores(engine) == [0.1, 0.1]
    assert cli.main(["--database-url", db_url, "models", "activate", "nope"]) == 1
    assert "no model version" in capsys.readouterr().err


def test_gate_rules() -> None:
    wape = Gate("wape", higher_is_better=False, max_worse_relative=0.05)
    assert wape.check({"wape": 0.209}, {"wape": 0.20}) is None  # +4.5% relative
    assert "wape rose" in wape.check({"wape": 0.211}, {"wape": 0.20})
    floor = Gate("stability", higher_is_better=True, limit=0.6)
    assert floor.check({"stability": 0.59}, {}) is not None and floor.check({"stability": 0.61}, {}) is None
    assert floor.check({}, {"stability": 0.9}) is None  # a metric the run did not report is skipped


def test_every_job_declares_gates_on_metrics_it_reports() -> None:
    """One mechanism: each job's GATES are Gate rules (no job keeps its own gate function)."""
    for job in jobs.available_jobs():
        assert not hasattr(job, "gate"), job.MODEL
        assert all(isinstance(g, Gate) for g in getattr(job, "GATES", ())), job.MODEL
        for g in getattr(job, "GATES", ()):
            if g.limit is not None:  # just past the limit fails, just inside passes
                step = abs(g.limit) * 0.01 + 1e-9
                past = g.limit - step if g.higher_is_better else g.limit + step
                inside = g.limit + step if g.higher_is_better else g.limit - step
                assert g.metric in first_failure(job.GATES, {g.metric: past}, {}), (job.MODEL, g)
                assert g.check({g.metric: inside}, {}) is None, (job.MODEL, g)
    churn = next(j for j in jobs.available_jobs() if j.MODEL == "churn")
    assert first_failure(churn.GATES, {"auc": 0.80}, {"auc": 0.84}) is not None
    assert first_failure(churn.GATES, {"auc": 0.82}, {"auc": 0.84}) is None


def test_jobs_listed_after_what_they_read() -> None:
    jobs.check_order()
    bad = (jobs.Job(jobs.churn_job, after=("adoption",)), jobs.Job(jobs.adoption_job))
    with pytest.raises(ValueError, match="listed before adoption"):
        jobs.check_order(bad)


def test_churn_inputs_read_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.churn import features as cf

    calls: list[int] = []
    monkeypatch.setattr(cf, "load_inputs", lambda engine: calls.append(1) or object())
    run = jobs.RunInputs()
    first = cf.shared_inputs(None, run)
    assert cf.shared_inputs(None, run) is first and len(calls) == 1
    cf.shared_inputs(None)  # outside a run: read afresh
    assert len(calls) == 2


def test_activation_and_rollback_by_role_are_audited(db_url, engine, stand_in) -> None:
    from services import audit, auth, model_control

    stand_in.set(fake_job(auc=0.80, score=0.1))
    v1 = jobs.train_all(engine, as_of=AS_OF)["churn"]["version"]
    stand_in.set(fake_job(auc=0.81, score=0.3))
    v2 = jobs.train_all(engine, as_of=AS_OF)["churn"]["version"]
    rep = auth.Principal("P1", "Rex", None, auth.REP)
    owner = auth.Principal("P2", "Dee", None, auth.DATA_OWNER)
    with pytest.raises(PermissionError, match="may not manage models"):
        model_control.rollback(engine, rep, "churn")
    assert registry.active_version(engine, "churn") == v2
    assert model_control.rollback(engine, owner, "churn") == v1
    assert model_control.activate(engine, owner, v2) == "churn"
    log = audit.entries(engine)
    assert list(log.action[:2]) == ["activate", "rollback"] and set(log.who[:2]) == {"P2"}
    assert cli.main(["--database-url", db_url, "--as", "E0105", "models", "rollback", "--model", "churn"]) == 0
    assert cli.main(["--database-url", db_url, "train", "--as-of", "2025-06-30"]) == 0
    log = audit.entries(engine)
    assert (log.who.iloc[1], log.action.iloc[1]) == ("E0105", "rollback")
    assert log.action.iloc[0] == "train" and log.who.iloc[0].startswith("os:")
