"""Data page through AppTest: contract, import log, and uploads that pass or fail validation."""

from __future__ import annotations

import io
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
