"""Data page through AppTest: contract, import log, and uploads that pass or fail validation."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pandas as pd
import pytest
from fixtures.app_session import as_person

from services.contract import TABLES
from services.db import get_engine, read_table

PAGE = "pages/data.py"
JOB = "upload_job"


def _zip_of(frames: dict[str, pd.DataFrame], suffix: str = ".csv") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, frame in frames.items():
            zf.writestr(f"{name}{suffix}", frame.to_csv(index=False))
    return buf.getvalue()


def _contract_frames(url: str) -> dict[str, pd.DataFrame]:
    engine = get_engine(url)
    return {spec.name: read_table(spec.name, engine) for spec in TABLES if not spec.optional}


@pytest.fixture(autouse=True)
def _uploads(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORESIGHT_UPLOAD_DIR", str(tmp_path / "uploads"))


def _wait(at, timeout_s: float = 120):
    """Rerun the page (as the progress fragment does every second) until its upload worker has ended."""
    deadline = time.monotonic() + timeout_s
    while JOB in at.session_state and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    assert JOB not in at.session_state, "the upload worker did not end"
    assert not at.exception, [e.value for e in at.exception]
    return at


def _upload(at, name: str, payload: bytes):
    at.file_uploader(key="upload_zip").set_value((name, payload, "application/zip")).run()
    at.button(key="upload_import").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return _wait(at)


def _confirm(at):
    at.button(key="upload_confirm").click().run()
    return _wait(at)


def _account_ids(url: str) -> set[str]:
    return set(read_table("accounts", get_engine(url))["account_id"])


def test_data_page_shows_contract_and_imports(demo_db_url, run_app) -> None:
    at = run_app(PAGE)
    assert at.title[0].value == "Data"
    assert [t.label for t in at.tabs] == ["Imports", "Upload", "Data contract"]
    contract = "\n".join(m.value for m in at.markdown)
    assert "# Data contract" in contract and "`subscriptions`" in contract
    assert at.expander, "the seed should appear in the import log"


@pytest.mark.parametrize(
    "payload",
    [b"account_id,name\nA1,x\n", _zip_of({"notes": pd.DataFrame()}, suffix=".txt")],
    ids=["not-a-zip", "zip-without-csv"],
)
def test_unreadable_upload_is_rejected_and_logged(demo_db_url, run_app, payload: bytes) -> None:
    before = _account_ids(demo_db_url)
    at = _upload(run_app(PAGE), "upload.zip", payload)
    assert "Could not read the upload" in at.error[0].value
    assert _account_ids(demo_db_url) == before
    assert any("failed" in e.label for e in at.expander), "the failed upload should appear in the log"


def test_upload_breaking_the_contract_lists_failed_rules(demo_db_url, run_app) -> None:
    before = _account_ids(demo_db_url)
    frames = _contract_frames(demo_db_url)
    frames["accounts"] = frames["accounts"].drop(columns=["segment"])
    dup = frames["subscriptions"].iloc[[0]]
    frames["subscriptions"] = pd.concat([frames["subscriptions"], dup])
    at = _upload(run_app(PAGE), "broken.zip", _zip_of(frames))
    assert "nothing was changed" in at.error[0].value
    rules = pd.concat([d.value for d in at.dataframe if "rule" in d.value.columns])
    assert (rules["table"] == "accounts").any() and rules["rule"].str.contains("segment").any()
    assert rules["rule"].str.contains("subscription_id").any()
    assert _account_ids(demo_db_url) == before


def test_clean_upload_loads_and_reports_row_counts(demo_db_url, run_app) -> None:
    frames = _contract_frames(demo_db_url)
    # the stored stage picklist too: without it the import derives one from the deals (no default probabilities),
    # which the preview rightly counts as changed rows
    frames["stages"] = read_table("stages", get_engine(demo_db_url))
    frames["accounts"].loc[0, "name"] = "Renamed by upload"
    at = _upload(run_app(PAGE), "clean.zip", _zip_of(frames))
    assert not at.error, [e.value for e in at.error]
    assert "Renamed by upload" not in set(read_table("accounts", get_engine(demo_db_url))["name"])  # not yet
    changes = next(d.value for d in at.dataframe if "removed" in d.value.columns).set_index("table")
    assert changes.loc["accounts", "changed"] == 1 and changes.loc["accounts", ["added", "removed"]].sum() == 0
    assert changes.drop(index="accounts")["changed"].sum() == 0
    assert changes.loc["accounts", "incoming"] == len(frames["accounts"])
    _confirm(at)
    assert not at.exception and at.success, [e.value for e in at.error]
    assert any(s.value.startswith("Imported clean") for s in at.success)
    accounts = read_table("accounts", get_engine(demo_db_url))
    assert "Renamed by upload" in set(accounts["name"])
    assert set(accounts["account_id"]) == set(frames["accounts"]["account_id"])




APP = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "app.py")


def test_a_failed_upload_warns_the_data_owner_only(demo_db_url, run_app) -> None:
    from services import auth

    _upload(run_app(PAGE), "upload.zip", b"not a zip")
    personas = auth.personas(read_table("people", get_engine(demo_db_url)))
    owner = personas.loc[personas.role == auth.DATA_OWNER, "person_id"].iloc[0]
    csm = personas.loc[personas.role == auth.CSM, "person_id"].iloc[0]
    banner = lambda at: " ".join(w.value for w in at.warning if "Data health" in w.value)
    assert "latest import" in banner(as_person(owner, PAGE))
    assert "latest import" not in banner(as_person(csm, "pages/overview.py"))


def test_an_import_after_training_says_the_models_are_older(trained_db_url, run_app) -> None:
    engine = get_engine(trained_db_url)
    frames = {spec.name: read_table(spec.name, engine) for spec in TABLES}  # optional tables too: the same data
    at = _upload(run_app(PAGE), "same.zip", _zip_of(frames))
    assert any("changes nothing" in i.value for i in at.info)
    _confirm(at)
    assert not at.exception
    assert any("models are older than the data" in w.value for w in at.warning)


def _gate(monkeypatch: pytest.MonkeyPatch, tmp_path) -> object:
    """Workers started from now on wait before validating while the returned file exists."""
    from fixtures import worker_hooks

    gate = tmp_path / "gate"
    for k, v in worker_hooks.env(f"gate:{gate}").items():
        monkeypatch.setenv(k, v)
    return gate


def _plain(text: str) -> str:
    """Text as the reader sees it (the page escapes company-supplied names, ui.text.md)."""
    return re.sub(r"\\(.)", r"\1", text)


def _progress(at) -> list[str]:
    return [_plain(p.proto.text) for p in at.get("progress")]


def _errors(at) -> str:
    return " ".join(_plain(e.value) for e in at.error)


def _same_data(demo_db_url: str) -> dict[str, pd.DataFrame]:
    return {n: f.sort_values(f.columns[0], ignore_index=True) for n, f in _contract_frames(demo_db_url).items()}


def test_the_upload_runs_in_a_worker_with_progress_then_shows_the_result(demo_db_url, run_app, monkeypatch,
                                                                          tmp_path) -> None:
    import os

    gate = _gate(monkeypatch, tmp_path)
    gate.touch()
    frames = _contract_frames(demo_db_url)
    frames["stages"] = read_table("stages", get_engine(demo_db_url))
    frames["accounts"].loc[0, "name"] = "Renamed by upload"
    at = run_app(PAGE)
    at.file_uploader(key="upload_zip").set_value(("clean.zip", _zip_of(frames), "application/zip")).run()
    at.button(key="upload_import").click().run()
    job = at.session_state[JOB]
    assert job["owner"]["pid"] != os.getpid()  # not inside the server
    deadline = time.monotonic() + 60
    while not any("Reading" in t for t in _progress(at)) and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    assert any(t.startswith("Checking clean.zip: Reading ") and " MB of the upload read" in t
               for t in _progress(at)), _progress(at)
    assert not [b for b in at.button if b.key in ("upload_import", "upload_confirm")]  # one job at a time
    gate.unlink()
    _wait(at)
    assert not _progress(at)
    changes = next(d.value for d in at.dataframe if "removed" in d.value.columns).set_index("table")
    assert changes.loc["accounts", "changed"] == 1
    gate.touch()
    at.button(key="upload_confirm").click().run()
    deadline = time.monotonic() + 60
    while not any(t.startswith("Importing clean.zip") for t in _progress(at)) and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    assert any(t.startswith("Importing clean.zip") for t in _progress(at)), _progress(at)
    assert "Renamed by upload" not in set(read_table("accounts", get_engine(demo_db_url))["name"])
    gate.unlink()
    _wait(at)
    assert any(s.value.startswith("Imported clean") for s in at.success), [e.value for e in at.error]
    assert "Renamed by upload" in set(read_table("accounts", get_engine(demo_db_url))["name"])
    assert not list((tmp_path / "uploads").iterdir())  # the upload is deleted once imported


def test_a_second_import_while_one_runs_is_refused_and_changes_nothing(demo_db_url, run_app, monkeypatch,
                                                                       tmp_path) -> None:
    frames = _contract_frames(demo_db_url)
    frames["stages"] = read_table("stages", get_engine(demo_db_url))
    first, second = ({k: v.copy() for k, v in frames.items()} for _ in range(2))
    first["accounts"].loc[0, "name"] = "From the first upload"
    second["accounts"].loc[0, "name"] = "From the second upload"
    a, b = run_app(PAGE), run_app(PAGE)  # two sessions of one server: two threads of one process
    _upload(a, "first.zip", _zip_of(first))
    _upload(b, "second.zip", _zip_of(second))
    gate = _gate(monkeypatch, tmp_path)
    gate.touch()
    a.button(key="upload_confirm").click().run()
    deadline = time.monotonic() + 60
    while not any("Reading" in t for t in _progress(a)) and time.monotonic() < deadline:
        time.sleep(0.3)
        a.run()
    before = _same_data(demo_db_url)
    b.button(key="upload_confirm").click().run()
    assert JOB not in b.session_state, "the second import must not start"
    refused = _errors(b)
    assert "The import was refused: an import run of upload: first.zip (process" in refused, refused
    assert "Nothing was changed" in refused
    b.button(key="upload_import").click().run()  # nor a check while the first import runs
    assert "The check was refused: an import run of upload: first.zip" in _errors(b) and JOB not in b.session_state
    for name, frame in _same_data(demo_db_url).items():
        pd.testing.assert_frame_equal(frame, before[name], obj=name)
    gate.unlink()
    _wait(a)
    assert any(s.value.startswith("Imported first") for s in a.success)
    names = set(read_table("accounts", get_engine(demo_db_url))["name"])
    assert "From the first upload" in names and "From the second upload" not in names
    log = read_table("imports", get_engine(demo_db_url)).sort_values("started_at").groupby("source")["status"].last()
    assert log["upload: first.zip"] == "success" and log["upload: second.zip"] == "failed"  # the refusal is logged


def test_a_killed_worker_says_the_import_was_interrupted(demo_db_url, run_app, monkeypatch, tmp_path) -> None:
    import os
    import signal

    frames = _contract_frames(demo_db_url)
    frames["stages"] = read_table("stages", get_engine(demo_db_url))
    frames["accounts"].loc[0, "name"] = "Never stored"
    at = _upload(run_app(PAGE), "doomed.zip", _zip_of(frames))
    gate = _gate(monkeypatch, tmp_path)
    gate.touch()
    at.button(key="upload_confirm").click().run()
    os.kill(at.session_state[JOB]["owner"]["pid"], signal.SIGKILL)
    _wait(at)
    text = _errors(at)
    assert "The import was interrupted" in text and "killed" in text and "nothing was changed" in text
    assert "Never stored" not in set(read_table("accounts", get_engine(demo_db_url))["name"])
    assert any("interrupted" in e.label for e in at.expander)  # in the import log


def test_an_upload_that_removes_most_rows_is_shown_before_it_is_confirmed(demo_db_url, run_app) -> None:
    frames = _contract_frames(demo_db_url)
    frames["stages"] = read_table("stages", get_engine(demo_db_url))
    frames["usage_monthly"] = frames["usage_monthly"].iloc[:10]
    at = _upload(run_app(PAGE), "small.zip", _zip_of(frames))
    assert any("far fewer rows than the stored data" in w.value for w in at.warning)
    assert len(read_table("usage_monthly", get_engine(demo_db_url))) > 10  # nothing yet
    _confirm(at)  # the person saw it and confirmed: the page imports with the shrink allowed
    assert any(s.value.startswith("Imported small") for s in at.success), _errors(at)
    assert len(read_table("usage_monthly", get_engine(demo_db_url))) == 10
