"""Results tied to the data they describe (issue 16): the data lock taken by train, import and refresh, the
snapshot every version records, results of another dataset hidden, and a refresh killed mid-way."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa
from test_alerts import SNAPSHOT_1, SNAPSHOT_2, company, stub_train  # noqa: F401 - the fixture

from services import db, joblock, jobs, registry, snapshot
from services.alerts import tables as T
from services.churn import tables as churn_tables
from services.config import REPO_ROOT
from services.importer import ImportFileError, import_frames
from services.monitoring.health import snapshot_problems
from services.refresh import refresh


def _hold_as(engine, pid: int) -> None:
    joblock.LOCK.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(joblock.LOCK.insert().values(name=joblock.NAME, purpose="train", acquired_at=pd.Timestamp.now(),
                                                  owner=json.dumps({"pid": pid, "host": socket.gethostname()})))


def _imports(engine) -> list[str]:
    with engine.connect() as conn:
        return conn.execute(sa.select(db.IMPORTS.c.status).order_by(db.IMPORTS.c.started_at)).scalars().all()


def test_an_import_during_a_training_run_is_refused_and_changes_nothing(company, valid_frames):  # noqa: F811
    engine = company
    keeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a live 'train' process
    try:
        _hold_as(engine, keeper.pid)
        before = db.read_table("accounts", engine)
        valid_frames["accounts"].loc[0, "name"] = "Changed Co"
        with pytest.raises(ImportFileError, match="train run"):
            import_frames(valid_frames, "during train", engine)
        pd.testing.assert_frame_equal(db.read_table("accounts", engine), before)
        assert _imports(engine)[-1] == "failed"
        with pytest.raises(joblock.Busy):
            jobs.train_all(engine, only=["adoption"])
        with pytest.raises(joblock.Busy):
            refresh(engine, train=stub_train(SNAPSHOT_1))
    finally:
        keeper.kill()
        keeper.wait()
    # its process ended (killed): the next run takes the lock over
    import_frames(valid_frames, "after train", engine)
    assert _imports(engine)[-1] == "success" and joblock.holder(engine) is None


def test_results_of_another_dataset_are_not_shown_and_the_banner_says_retrain(company, valid_frames):  # noqa: F811
    engine = company
    stub_train(SNAPSHOT_1)(engine, only=["churn"])
    assert not registry.read_results(engine, churn_tables.SCORES).empty
    assert registry.data_states(engine) == {"churn": "current"} and snapshot_problems(engine) == []

    other = valid_frames
    other["accounts"]["name"] = ["Umbrella", "Cyberdyne", "Tyrell"]  # another company, the same row counts
    import_frames(other, "another company", engine)
    assert registry.data_states(engine) == {"churn": "foreign"}
    assert registry.read_results(engine, churn_tables.SCORES).empty
    assert registry.read_snapshot(engine, churn_tables.SCORES, "score_date").empty
    assert "must be retrained" in " ".join(snapshot_problems(engine))

    stub_train(SNAPSHOT_1)(engine, only=["churn"])  # retrained on the data now: shown again
    assert not registry.read_results(engine, churn_tables.SCORES).empty and snapshot_problems(engine) == []


def test_an_appended_month_keeps_results_shown_until_the_refresh_retrains(company, tmp_path, valid_frames):  # noqa: F811
    from test_alerts import _next_month

    engine = company
    refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False)
    versions = db.read_table("model_versions", engine)
    assert all(json.loads(fp)["data"] == snapshot.current(engine)["data"] for fp in versions.data_fingerprint)
    # an append import alone (no retrain): the same lineage, so the results stay, with a plain note
    from services.importer import read_source
    from services.refresh import merged_frames

    import_frames(merged_frames(engine, read_source(_next_month(tmp_path, valid_frames))), "append", engine,
                  append=True)
    assert registry.data_states(engine)["churn"] == "outdated"
    assert not registry.read_results(engine, churn_tables.SCORES).empty
    assert "new data arrived" in " ".join(snapshot_problems(engine))


KILLED_REFRESH = """
import sys, time
from services import db, jobs, registry
from services.churn import tables as T
from services.refresh import refresh
import pandas as pd

def train(engine, only=None, force=False):
    v = registry.new_version("churn", jobs.data_as_of(engine))
    registry.start(engine, v)
    registry.write_results(engine, T.SCORES, pd.read_json(sys.argv[1]), v)  # half-way: rows written, not active
    print("writing", flush=True)
    time.sleep(120)

refresh(db.get_engine(), sys.argv[2], train=train, deliver=False)
"""


def test_a_refresh_killed_mid_way_leaves_the_previous_results_active_and_a_rerun_completes(
        company, db_url, tmp_path, valid_frames):  # noqa: F811
    from test_alerts import _next_month

    engine = company
    refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False)
    active = registry.active_version(engine, "churn")
    shown = registry.read_results(engine, churn_tables.SCORES)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_REFRESH, SNAPSHOT_2.to_json(date_format="iso"),
                             str(_next_month(tmp_path, valid_frames))], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "FORESIGHT_DATABASE_URL": db_url})
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)

    assert registry.active_version(engine, "churn") == active  # the previous results are the ones shown
    pd.testing.assert_frame_equal(registry.read_results(engine, churn_tables.SCORES), shown)
    assert len(db.read_table("opportunity_history", engine)) == 5  # the kill came after the (atomic) import

    result = refresh(engine, train=stub_train(SNAPSHOT_2), deliver=False)  # the rerun completes the work
    assert result["status"] == "success" and registry.active_version(engine, "churn") != active
    with engine.connect() as conn:
        runs = dict(conn.execute(sa.select(T.REFRESH_RUNS.c.run_id, T.REFRESH_RUNS.c.status)).all())
    assert sorted(runs.values()) == ["interrupted", "success", "success"]
    versions = db.read_table("model_versions", engine)
    assert "failed" in set(versions[versions.model == "churn"].status)  # the killed version, its rows deleted
    assert ("fired", "high_risk", "A000003") in {tuple(r) for r in db.read_table("alert_events", engine)[
        ["action", "event_type", "subject_id"]].itertuples(index=False)}


def test_a_changed_amount_alone_changes_the_snapshot(company, valid_frames):  # noqa: F811
    engine = company
    before = snapshot.data_fingerprint(engine)
    assert snapshot.data_fingerprint(engine) == before  # the same data reads the same
    valid_frames["usage_monthly"].loc[0, "value"] = "13"  # one month's value corrected, nothing else
    valid_frames["opportunity_history"].loc[valid_frames["opportunity_history"].opportunity_id == "O000002",
                                            ["stage", "forecast_category"]] = ["Propose", "commit"]
    valid_frames["opportunities"].loc[valid_frames["opportunities"].opportunity_id == "O000002",
                                      "forecast_category"] = "commit"
    valid_frames["people"]["email"] = [f"{p.lower()}@example.com" for p in valid_frames["people"].person_id]
    import_frames(valid_frames, "corrected", engine, append=True)
    assert snapshot.data_fingerprint(engine) != before
    assert snapshot.current(engine)["data"] == snapshot.data_fingerprint(engine)


def test_a_model_of_a_bring_your_own_table_is_not_tied_to_the_snapshot():
    now = {"data": "abc", "lineage": "L1"}
    assert snapshot.state(json.dumps({"source": "telco.csv", "rows": 600}), now) == "independent"
    assert snapshot.state(json.dumps({"as_of": "2026-01-31", "rows": {"accounts": 3}, "hash": "x"}), now) == "foreign"
    assert snapshot.state(json.dumps({"hash": "x", "data": "abc", "lineage": "L0"}), now) == "current"
    assert snapshot.state(json.dumps({"hash": "x", "data": "old", "lineage": "L1"}), now) == "outdated"
    assert snapshot.state(json.dumps({"hash": "x", "data": "old", "lineage": "L0"}), now) == "foreign"
    assert snapshot.state(json.dumps({"hash": "x", "data": "old", "lineage": "L0"}), None) == "unknown"
