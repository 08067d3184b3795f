"""The action loop on a small hand-made company: the golden events of two snapshots, no repeat on a third
refresh of the same data, the month merge of an append import, the outbox's idempotency keys and the scope
of a rep's digest."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa
from sample_data import write_csvs

from services import db, jobs, registry
from services.alerts import outbox, subscriptions, tasks
from services.alerts import tables as T
from services.churn import tables as churn_tables
from services.importer import import_frames
from services.refresh import refresh

SCORE_COLUMNS = {"arr_usd": 10000.0, "arr_renewing_usd": 10000.0, "log_odds_raw": 0.0}


def _scores(rows: list[tuple[str, str, float, str, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["account_id", "score_date", "probability", "tier", "days_to_renewal"])
    df["score_date"] = pd.to_datetime(df.score_date)
    df["renewal_date"] = df.score_date + pd.to_timedelta(df.days_to_renewal, unit="D")
    df["expected_arr_at_risk_usd"] = df.probability * 10000
    return df.assign(**SCORE_COLUMNS)


def stub_train(scores: pd.DataFrame):
    """A `train` for refresh that 'fits' churn by writing the given scores under a new active version."""
    def train(engine, only=None, force=False):
        as_of = jobs.data_as_of(engine)
        out = {}
        for model in only or [j.model for j in jobs.JOBS]:  # the other models: a version without results
            v = registry.new_version(model, as_of)
            registry.start(engine, v)
            if model == "churn":
                registry.write_results(engine, churn_tables.SCORES, scores, v)
            registry.record(engine, v, {}, jobs.fingerprint(engine, as_of), "active")
            out[model] = {"version": v.version, "status": "active"}
        return out
    return train


SNAPSHOT_1 = _scores([("A000001", "2024-05-31", 0.05, "low", 230), ("A000001", "2024-06-30", 0.30, "high", 200),
                      ("A000002", "2024-05-31", 0.12, "medium", 90), ("A000002", "2024-06-30", 0.15, "medium", 60),
                      ("A000003", "2024-05-31", 0.02, "low", 400), ("A000003", "2024-06-30", 0.03, "low", 370)])
SNAPSHOT_2 = _scores([("A000001", "2024-06-30", 0.30, "high", 200), ("A000001", "2024-07-31", 0.32, "high", 170),
                      ("A000002", "2024-06-30", 0.15, "medium", 60), ("A000002", "2024-07-31", 0.08, "low", 30),
                      ("A000003", "2024-06-30", 0.03, "low", 370), ("A000003", "2024-07-31", 0.27, "high", 80)])


@pytest.fixture()
def company(engine, valid_frames):
    f = valid_frames
    f["opportunity_history"].loc[f["opportunity_history"].opportunity_id == "O000002",
                                 ["stage", "forecast_category"]] = ["Propose", "commit"]
    f["opportunities"].loc[f["opportunities"].opportunity_id == "O000002", "forecast_category"] = "commit"
    f["people"]["email"] = [f"{p.lower()}@example.com" for p in f["people"].person_id]
    import_frames(f, "golden snapshot 1", engine)
    return engine


def _next_month(tmp_path, valid_frames):
    """Snapshot 2's files: the commit deal's close date moved out of Q3 on 2024-07-10."""
    hist = pd.DataFrame([["O000002", "2024-07-10", "Propose", "9000", "2024-10-15", "commit"]],
                        columns=valid_frames["opportunity_history"].columns)
    opp = valid_frames["opportunities"]
    opp = opp[opp.opportunity_id == "O000002"].copy()
    opp[["close_date", "stage", "forecast_category"]] = ["2024-10-15", "Propose", "commit"]
    return write_csvs({"opportunity_history": hist, "opportunities": opp}, tmp_path / "next")


def _events(engine, run_id):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T.EVENTS.c.action, T.EVENTS.c.event_type, T.EVENTS.c.subject_id)
                            .where(T.EVENTS.c.run_id == run_id)).all()
    return {tuple(r) for r in rows}


def test_two_snapshots_give_exactly_the_expected_events_and_a_third_refresh_nothing(company, tmp_path,
                                                                                 valid_frames):
    engine = company
    first = refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False)
    assert _events(engine, first["run_id"]) == {
        ("fired", "high_risk", "A000001"), ("fired", "risk_up", "A000001"),
        ("fired", "renewal_at_risk", "A000002"), ("fired", "commit_missing", "P0003:2024Q3")}

    second = refresh(engine, _next_month(tmp_path, valid_frames), train=stub_train(SNAPSHOT_2), deliver=False)
    assert set(second["steps"]["train"]) == {j.model for j in jobs.JOBS}  # the data changed: all retrained
    assert _events(engine, second["run_id"]) == {
        ("fired", "high_risk", "A000003"), ("fired", "risk_up", "A000003"), ("fired", "renewal_at_risk", "A000003"),
        ("fired", "commit_slipped", "O000002"),
        ("cleared", "risk_up", "A000001"), ("cleared", "renewal_at_risk", "A000002"),
        ("cleared", "commit_missing", "P0003:2024Q3")}
    history = db.read_table("opportunity_history", engine)
    assert len(history[history.opportunity_id == "O000002"]) == 2  # appended, the old row kept

    outboxed = len(outbox.pending(engine))
    third = refresh(engine, _next_month(tmp_path, valid_frames), train=stub_train(SNAPSHOT_2), deliver=False)
    assert third["steps"]["train"] == "every model is up to date with the data"
    assert _events(engine, third["run_id"]) == set()
    assert third["steps"]["outbox"] == 0 and len(outbox.pending(engine)) == outboxed
    assert len(db.read_table("opportunity_history", engine)) == len(history)  # nothing duplicated


def test_a_month_already_loaded_is_replaced_not_duplicated(company, tmp_path, valid_frames):
    engine = company
    usage = valid_frames["usage_monthly"]
    april = usage[usage.month == "2024-04-01"].copy()
    april["value"] = "11"
    folder = write_csvs({"usage_monthly": april}, tmp_path / "april")
    refresh(engine, folder, train=lambda engine, only=None, force=False: {}, deliver=False)
    stored = db.read_table("usage_monthly", engine)
    assert len(stored) == len(usage)
    assert stored[stored.month == "2024-04-01"].value.tolist() == [11.0]


def test_the_outbox_enqueues_each_delivery_once(company):
    engine = company
    refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False)
    now = dt.datetime(2024, 7, 2, 6, 0)
    before = len(outbox.pending(engine))
    assert outbox.enqueue(engine, now=now) == 0  # refresh already enqueued the immediate ones
    assert outbox.enqueue(engine, now=now + dt.timedelta(days=2)) == 0  # digests carry nothing new
    assert len(outbox.pending(engine)) == before > 0
    keys = outbox.pending(engine).key
    assert keys.is_unique


def test_a_reps_digest_holds_nothing_outside_their_book(company):
    engine = company
    refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False)
    accounts = db.read_table("accounts", engine)
    rep = "P0005"  # owns A000002 only
    book = set(accounts[accounts.owner_id == rep].account_id)
    # the rep asks for everything, in every scope: the role bound still applies
    subscriptions.save(engine, rep, pd.DataFrame(
        [(rep, t, "email", "all", "daily", True) for t in subscriptions.ACCOUNT_EVENTS + ("commit_missing",)],
        columns=subscriptions.COLUMNS))
    outbox.enqueue(engine, now=dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=2))
    rows = outbox.pending(engine)
    mine = rows[(rows.person_id == rep) & (rows.channel == "email")]
    assert len(mine) == 1 and mine.kind.iloc[0] == "digest_daily"
    carried = json.loads(mine.payload.iloc[0])["events"]
    assert carried and {e["account_id"] for e in carried} <= book
    others = set(accounts.account_id) - book
    assert not any(a in mine.body_text.iloc[0] or a in mine.body_html.iloc[0] for a in others)
    names = set(accounts[~accounts.account_id.isin(book)].name)
    assert not any(n in mine.body_html.iloc[0] for n in names)


def test_default_subscriptions_follow_the_role(company):
    d = subscriptions.defaults("P0004", "rep")
    assert set(d.scope) == {"mine"} and set(d.channel) == {"inbox", "email"}
    assert "drift" not in set(d.event_type)
    assert "drift" in set(subscriptions.defaults("X", "data_scientist").event_type)
    with pytest.raises(ValueError, match="unknown channel"):
        subscriptions.save(company, "P0004", pd.DataFrame([("P0004", "high_risk", "pigeon", "mine", "daily", True)],
                                                          columns=subscriptions.COLUMNS))


def test_tasks_are_scoped_and_close_once(company):
    engine = company
    from services.hierarchy import Scope
    rep_scope = Scope(within="P0005")
    with pytest.raises(PermissionError):
        tasks.create(engine, "A000001", "call", "risk", "P0005", "P0005", dt.date(2024, 8, 1), scope=rep_scope)
    tid = tasks.create(engine, "A000002", "call", "Renewal at risk", "P0005", "P0005", dt.date(2024, 8, 1),
                       scope=rep_scope)
    assert tasks.listing(engine, "P0005", "mine", rep_scope).task_id.tolist() == [tid]
    assert tasks.listing(engine, "P0003", "team").task_id.tolist() == [tid]  # the manager's team
    tasks.close(engine, tid, "customer_saved", "P0005", "renewed after a call", scope=rep_scope)
    with pytest.raises(ValueError, match="already closed"):
        tasks.close(engine, tid, "resolved", "P0005")
    assert tasks.all_tasks(engine).outcome.tolist() == ["customer_saved"]


def _version(engine, model: str, writes: list, status: str = "active", note: str = "") -> None:
    as_of = jobs.data_as_of(engine)
    v = registry.new_version(model, as_of)
    registry.start(engine, v)
    for table, frame in writes:
        registry.write_results(engine, table, frame, v)
    registry.record(engine, v, {}, jobs.fingerprint(engine, as_of), status, note)


def test_adoption_forecast_and_gate_conditions(company):
    from services.adoption import tables as A
    from services.alerts.events import conditions
    from services.forecast import tables as F

    engine = company
    months = [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-01")]
    membership = pd.DataFrame({"account_id": ["A000001", "A000002"] * 2, "month": months[:1] * 2 + months[1:] * 2,
                               "cluster_id": [0, 0, 1, 2], "cluster_name": ["Healthy", "Healthy", "Declining",
                                                                              "Expansion-ready"]})
    clusters = pd.DataFrame({"cluster_id": [0, 1, 2], "name": ["Healthy", "Declining", "Expansion-ready"],
                             "description": "", "seat_use": 0.0, "volume_use": 0.0, "breadth": 0.0,
                             "job_completion": 0.0, "use_trend": 0.0, "n_accounts": 1, "arr_usd": 1.0,
                             "score": [70.0, 30.0, 85.0]})
    _version(engine, "adoption", [(A.MEMBERSHIP, membership), (A.CLUSTERS, clusters)])
    origin = pd.Timestamp("2024-07-01")
    nodes = pd.DataFrame({"person_id": ["P0003", "P0003", "P0002", "P0002"], "product_id": "ALL", "role": "manager",
                          "parent_id": None, "quarter": "2024Q3",
                          "origin_date": [origin - pd.Timedelta(days=7), origin] * 2,
                          "p50_usd": [100_000.0, 80_000.0, 200_000.0, 195_000.0], "kind": "live", "week": 1, "h": 0,
                          "band": "simulated"})
    for c in F.NODES.column_names:
        if c not in nodes:
            nodes[c] = 0.0
    _version(engine, "forecast", [(F.NODES, nodes)])
    _version(engine, "churn", [], status="rejected", note="auc fell; stored but not activated")

    found = conditions(engine)
    got = {(r.event_type, r.subject_id): r for r in found.itertuples()}
    assert ("adoption_worse", "A000001") in got  # Healthy (70) to Declining (30)
    name = db.read_table("accounts", engine).set_index("account_id").name["A000001"]
    assert got[("adoption_worse", "A000001")].title.startswith(f"{name} moved from Healthy")  # the name, not the id
    assert ("adoption_worse", "A000002") not in got  # Healthy to Expansion-ready is better
    assert got[("forecast_drop", "P0003:2024Q3")].value == pytest.approx(20.0)  # 100k to 80k
    assert ("forecast_drop", "P0002:2024Q3") not in got  # 2.5% is under the threshold
    rejected = [k for k in got if k[0] == "model_rejected"]
    assert len(rejected) == 1 and "auc fell" in got[rejected[0]].title


def test_an_inbox_holds_only_its_owners_messages(company):
    from services.alerts import read, send

    engine = company
    refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False)
    send.send_pending(engine)  # the inbox rows land (e-mail has no server here)
    mine, other = read.inbox(engine, "P0005"), read.inbox(engine, "P0004")
    assert not mine.empty and not other.empty
    assert set(mine.account_id.dropna()) <= {"A000002"}  # Lou Chen's book
    assert read.mark_read(engine, "P0005", other.message_id.tolist()) == 0  # someone else's: ignored
    assert read.unread_count(engine, "P0004") == len(other)
    assert read.mark_read(engine, "P0005", mine.message_id.tolist()) == len(mine)
    assert read.unread_count(engine, "P0005") == 0


def test_a_daily_digest_waits_for_its_day_and_carries_only_new_events(company):
    from services.alerts import events

    engine = company
    t0 = dt.datetime(2024, 7, 2, 2, 30)
    refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False, now=t0)
    first = outbox.pending(engine)
    csm = first[(first.person_id == "P0006") & (first.channel == "email")]
    assert csm.kind.tolist() == ["digest_daily"]
    carried = set(json.loads(csm.payload.iloc[0])["event_ids"])
    standing = events.conditions(engine)
    new = pd.DataFrame([{"event_type": "high_risk", "subject_id": "A000003", "account_id": "A000003",
                         "person_id": "P0004", "title": "Initech is at high churn risk", "value": 0.3, "detail": "{}"}])
    events.evaluate(engine, "R-later", found=pd.concat([standing, new], ignore_index=True), at=t0)
    outbox.enqueue(engine, now=t0 + dt.timedelta(hours=12))  # too early for the next daily digest
    digests = lambda: outbox.pending(engine).query("person_id == 'P0004' and kind == 'digest_daily'")
    assert len(digests()) == 1
    outbox.enqueue(engine, now=t0 + dt.timedelta(hours=23, minutes=55))  # the next night, a little earlier
    later = digests().sort_values("created_at")
    assert len(later) == 2
    ids = json.loads(later.payload.iloc[1])["event_ids"]
    assert len(ids) == 1 and not set(ids) & carried  # only the new event


def test_a_new_subscription_gets_no_backlog(company):
    engine = company
    t0 = dt.datetime(2024, 7, 2, 2, 30)
    refresh(engine, train=stub_train(SNAPSHOT_1), deliver=False, now=t0)
    subscriptions.save(engine, "P0004", pd.DataFrame([("P0004", "high_risk", "inbox", "mine", "daily", True)],
                                                     columns=subscriptions.COLUMNS))
    assert outbox.enqueue(engine, now=t0 + dt.timedelta(days=30)) == 0  # the month-old alert is not sent now


def _expansion_scores(rows: list[tuple]) -> pd.DataFrame:
    """Expansion scores (account, product, probability, expected ARR, open opportunity) at one score date."""
    df = pd.DataFrame(rows, columns=["account_id", "product_id", "probability", "expected_arr_usd",
                                     "open_opportunity_id"])
    return df.assign(score_date=pd.Timestamp("2024-06-30"), kind="cross_sell", product_arr_usd=0.0,
                     expected_deal_usd=df.expected_arr_usd / df.probability)


def _expansion_events(engine, run_id: str) -> set:
    from services.alerts import events

    return {(e.action, e.subject_id) for e in events.evaluate(engine, run_id).itertuples()
            if e.event_type == "expansion_ready"}


def test_expansion_ready_fires_on_entry_clears_on_exit_and_never_repeats(company, monkeypatch):
    from services.alerts import events
    from services.expansion import tables as X

    engine = company
    _version(engine, "expansion", [(X.SCORES, _expansion_scores([
        ("A000001", "CRM", 0.40, 20_000.0, None), ("A000001", "MKT", 0.60, 40_000.0, "O000001"),  # open: not it
        ("A000002", "CRM", 0.10, 9_000.0, None),  # probability under the threshold
        ("A000003", "MKT", 0.30, 500.0, None)]))])  # expected ARR under the threshold
    found = events.conditions(engine)
    ready = found[found.event_type == "expansion_ready"]
    assert ready.subject_id.tolist() == ["A000001"]
    row = ready.iloc[0]
    assert row.value == pytest.approx(20_000.0) and row.person_id == "P0004"  # the owner, not the open deal's
    assert "Pipeline CRM" in row.title and "40%" in row.title and "Campaigns" not in row.title
    assert _expansion_events(engine, "R1") == {("fired", "A000001")}
    assert _expansion_events(engine, "R2") == set()  # still standing: not repeated
    _version(engine, "expansion", [(X.SCORES, _expansion_scores([  # a new version: A000002 enters,
        ("A000001", "CRM", 0.45, 25_000.0, None), ("A000002", "CRM", 0.30, 9_000.0, None),  # A000001 stays
        ("A000003", "MKT", 0.30, 500.0, None)]))])
    assert _expansion_events(engine, "R3") == {("fired", "A000002")}
    _version(engine, "expansion", [(X.SCORES, _expansion_scores([
        ("A000001", "CRM", 0.10, 6_000.0, None), ("A000002", "CRM", 0.30, 9_000.0, "O000009")]))])
    assert _expansion_events(engine, "R4") == {("cleared", "A000001"), ("cleared", "A000002")}  # fell / opened
    monkeypatch.setenv("FORESIGHT_ALERT_EXPANSION_READY_PROBABILITY", "0.05")
    assert _expansion_events(engine, "R5") == {("fired", "A000001")}  # a lower threshold from the environment
    assert "expansion_ready" in set(subscriptions.defaults("P0004", "rep").event_type)
    assert "expansion_ready" in set(subscriptions.defaults("P0006", "csm").event_type)
