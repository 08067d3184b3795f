"""Two generated companies that share nothing with the demo but the contract (tests/fixtures/companies.py):
their own stage picklists, products and pricing models, segments and regions; a two-level
hierarchy; 18 and 24 months of history; no commits; one without support cases, one without quotas.
Each imports, every model trains, every scorecard section is filled, every page renders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fixtures import companies
from streamlit.testing.v1 import AppTest

from services import db, jobs
from services.importer import import_frames
from services.scorecard import MODEL_SECTIONS, scorecard
from ui.auth import DEMO_PERSON

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = {"cro": ["overview", "churn_risk", "account", "adoption", "forecast", "where_to_grow"],
         "data_scientist": ["workbench", "model_health"], "admin": ["data", "audit"]}


@pytest.fixture(scope="module", params=companies.COMPANIES, ids=lambda c: c.name)
def company(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    spec = request.param
    url = f"sqlite:///{tmp_path_factory.mktemp(spec.name) / 'company.db'}"
    engine = db.get_engine(url)
    db.ensure_schema(engine)
    frames = companies.generate(spec)
    truth = frames.pop("truth")
    report = import_frames(frames, f"generated company {spec.name}", engine, extra_tables={"truth_company": truth})
    results = jobs.train_all(engine, as_of=pd.Timestamp(spec.as_of), force=True)
    yield {"spec": spec, "url": url, "engine": engine, "report": report, "results": results}
    db.dispose_engine(url)


def test_imports_with_its_own_stages_and_without_commits(company: dict) -> None:
    engine, spec = company["engine"], company["spec"]
    assert company["report"].ok
    assert db.read_table("stages", engine).sort_values("stage_order")["stage"].tolist() == list(spec.stages)
    assert db.read_table("commits", engine).empty
    assert db.read_table("support_cases", engine).empty is not spec.support_cases


def test_every_model_trains_and_states_its_history(company: dict) -> None:
    results, spec = company["results"], company["spec"]
    assert sorted(results) == sorted(j.model for j in jobs.JOBS)
    assert all(r["status"] == "active" for r in results.values()), {m: r.get("note") for m, r in results.items()}
    for model, r in results.items():
        history = r["data_history"]
        assert history["usage_months"] == spec.months, model
        assert "commits" in history["tables_without_rows"], model
        assert ("support_cases" in history["tables_without_rows"]) is not spec.support_cases
    assert results["churn"]["history_mode"] == "short"
    assert results["expansion"]["history_mode"] == ("short" if spec.months < 24 else "full")


def test_every_scorecard_section_is_filled(company: dict) -> None:
    card = scorecard(company["engine"])
    assert all(card.get(section) for section in MODEL_SECTIONS), [s for s in MODEL_SECTIONS if not card.get(s)]


def test_forecast_beats_last_quarters_bookings(company: dict) -> None:
    """The company-level forecast at the start of the quarter against last quarter's bookings, same quarters."""
    acc = scorecard(company["engine"])["forecast"]["accuracy"]["current_quarter"]["week_00"]["company"]
    assert acc["model"]["wape"] is not None and acc["last_quarter"]["n"] >= 3
    assert acc["last_quarter"]["model_wape_same_rows"] <= acc["last_quarter"]["wape"], acc


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_renders(company: dict, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORESIGHT_DATABASE_URL", company["url"])
    people = db.read_table("people", company["engine"])
    person = people.loc[people.role == role, "person_id"].iloc[0]
    for page in PAGES[role]:
        at = AppTest.from_file(APP, default_timeout=120)
        at.session_state[DEMO_PERSON] = person
        at.run()
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not [e for e in at.error], (page, [e.value for e in at.error])
        if page == "forecast":
            captions = " ".join(c.value for c in at.caption)
            assert "No commits imported or entered yet" in captions
            assert ("No quotas in the imported data" in captions) is not company["spec"].quotas
