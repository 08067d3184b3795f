"""Two generated companies that share nothing with the demo but the contract (tests/fixtures/companies.py):
their own stage picklists, products and pricing models, segments and regions; a two-level
hierarchy; 18 and 24 months of history; no commits; one without support cases, one without quotas; one
(Ledgerly) with a fiscal year starting in February. Each imports, every model trains, every scorecard
section is filled, every page renders, and the forecast follows the company's quarters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fixtures import companies
from streamlit.testing.v1 import AppTest

from services import db, fiscal, jobs, registry
from services.forecast import tables as forecast_tables
from services.importer import import_frames
from services.scorecard import MODEL_SECTIONS, scorecard
from ui.auth import DEMO_PERSON

APP = str(Path(__file__).resolve().parents[2] / "app.py")
# the Forecast page's quarters at each company's as-of: this quarter and the next two, in the company's words
QUARTER_LABELS = {"Ledgerly": ["FY2027 Q3", "FY2027 Q4", "FY2028 Q1"],  # Aug-Oct 2026, Nov-Jan, Feb-Apr 2027
                  "Fleetwise": ["2026Q3", "2026Q4", "2027Q1"]}
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
    assert fiscal.read(engine).start_month == spec.fiscal_year_start_month


def test_the_forecast_follows_the_fiscal_year(company: dict) -> None:
    """Backtest origins at week 0 fall on the first day of the company's quarters (February, May, August,
    November for a year starting in February) and the actual is what was won in the three months after."""
    engine, spec = company["engine"], company["spec"]
    rows = registry.read_results(engine, forecast_tables.NODES, forecast_tables.MODEL,
                                 "kind = 'backtest' AND product_id = 'ALL' AND week = 0 AND h = 0")
    rows = rows[rows.role == "cro"]
    origins = pd.to_datetime(rows.origin_date)
    first = spec.fiscal_year_start_month
    assert len(rows) >= 3 and (origins.dt.day == 1).all()
    assert set(origins.dt.month) <= {(first - 1 + 3 * k) % 12 + 1 for k in range(4)}, sorted(origins)
    opps = db.read_table("opportunities", engine)
    won = opps[opps.is_won & opps.type.isin(["new", "expansion"])]
    for origin, actual in zip(origins, rows.actual_usd):
        end = origin + pd.DateOffset(months=3) - pd.Timedelta(days=1)
        assert actual == pytest.approx(won.loc[won.close_date.between(origin, end), "amount_usd"].sum())


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
            spec = company["spec"]
            assert at.segmented_control(key="fc_quarter").options == QUARTER_LABELS[spec.name]
            if spec.fiscal_year_start_month != 1:
                assert f"{QUARTER_LABELS[spec.name][0]} (Aug-Oct 2026)" in captions
            assert "No commits imported or entered yet" in captions
            assert ("No quotas in the imported data" in captions) is not company["spec"].quotas
