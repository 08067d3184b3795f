"""A mapping file loads a CRM export as it comes: the shipped Salesforce mapping on a generated export of
that shape (standard objects and field names, Salesforce picklist values and timestamps, daily usage)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures import companies, salesforce_export

from services import contract, mapping
from services.config import REPO_ROOT
from services.import_files import read_source

SALESFORCE = REPO_ROOT / "mappings" / "salesforce.toml"


@pytest.fixture(params=companies.COMPANIES, ids=lambda c: c.name)
def mapped(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict, dict]:
    spec = request.param
    folder = salesforce_export.write(spec, tmp_path / "export")
    frames = mapping.apply(read_source(folder), mapping.load(SALESFORCE))
    return frames, contract.validate({k: v for k, v in companies.generate(spec).items() if k != "truth"}).frames


def test_the_salesforce_export_passes_the_contract_and_equals_the_company(mapped: tuple[dict, dict]) -> None:
    frames, direct = mapped
    report = contract.validate(frames)
    assert report.ok, report.format()
    got = report.frames
    assert sorted(got) == sorted(direct)
    for table, want in direct.items():
        assert len(got[table]) == len(want), table
    assert got["people"].set_index("person_id")["role"].equals(direct["people"].set_index("person_id")["role"])
    assert got["stages"]["stage"].tolist() == direct["stages"]["stage"].tolist()
    if "company" in direct:  # the org's fiscal year, from Organization.FiscalYearStartMonth
        assert got["company"].to_dict("records") == direct["company"].to_dict("records")
    assert np.allclose(got["stages"]["default_probability"], direct["stages"]["default_probability"])
    key = ["opportunity_id"]
    for col in ("type", "forecast_category", "stage", "is_won", "created_date", "close_date"):
        assert got["opportunities"].set_index(key)[col].equals(direct["opportunities"].set_index(key)[col]), col
    hist_key = ["opportunity_id", "snapshot_date"]
    h_got = got["opportunity_history"].set_index(hist_key).sort_index()
    h_want = direct["opportunity_history"].set_index(hist_key).sort_index()
    assert np.allclose(h_got["amount_usd"], h_want["amount_usd"])  # the day's last change, not the earlier one
    assert h_got["forecast_category"].equals(h_want["forecast_category"])


def test_daily_usage_is_aggregated_to_months(mapped: tuple[dict, dict]) -> None:
    frames, direct = mapped
    got = contract.validate(frames).frames["usage_monthly"]
    key = ["account_id", "product_id", "metric_id", "month"]
    both = got.merge(direct["usage_monthly"], on=key, suffixes=("", "_want"), how="outer", indicator=True)
    assert (both["_merge"] == "both").all()
    assert np.allclose(both["value"], both["value_want"])


def test_a_value_map_and_a_constant_and_a_missing_source(tmp_path: Path) -> None:
    raw = {"crm_products": pd.DataFrame({"code": ["a", "b"], "label": ["A", "B"], "model": ["Seats", "Flat"]})}
    m = {"tables": {"products": {"from": "CRM_Products", "columns": {
        "product_id": "code", "name": "label",
        "pricing_model": {"column": "model", "values": {"Seats": "per_seat", "Flat": "flat"}}}}}}
    out = mapping.apply(raw, m)
    assert out["products"]["pricing_model"].tolist() == ["per_seat", "flat"]
    m["tables"]["products"]["columns"]["name"] = {"value": "Same"}
    assert mapping.apply(raw, m)["products"]["name"].tolist() == ["Same", "Same"]
    m["tables"]["products"]["columns"]["name"] = "Title"
    with pytest.raises(mapping.MappingError, match="source column 'Title' not found"):
        mapping.apply(raw, m)
    m["tables"]["products"]["from"] = "Nowhere"
    with pytest.raises(mapping.MappingError, match="source table 'Nowhere' not found"):
        mapping.apply(raw, m)
    bad = tmp_path / "bad.toml"
    bad.write_text('[tables.deals]\nfrom = "Opportunity"\n')
    with pytest.raises(mapping.MappingError, match="unknown contract table"):
        mapping.load(bad)


def test_an_unmapped_title_is_reported_by_the_contract(tmp_path: Path) -> None:
    folder = salesforce_export.write(companies.LEDGERLY, tmp_path / "export")
    user = pd.read_csv(folder / "User.csv", dtype=str)
    user.loc[1, "Title"] = "Growth Hacker"
    user.to_csv(folder / "User.csv", index=False)
    report = contract.validate(mapping.apply(read_source(folder), mapping.load(SALESFORCE)))
    assert any(f.table == "people" and f.rule.startswith("role in") for f in report.failures), report.format()


def test_import_through_the_mapping_file(engine, tmp_path: Path) -> None:
    from services import db
    from services.importer import import_source

    folder = salesforce_export.write(companies.FLEETWISE, tmp_path / "export")
    report = import_source(folder, engine, mapping_file=SALESFORCE)
    assert report.ok
    assert db.read_table("stages", engine)["stage"].tolist() == list(companies.FLEETWISE.stages)
    assert db.read_table("support_cases", engine).empty and db.read_table("commits", engine).empty


def test_cli_import_takes_a_mapping_file(db_url: str, tmp_path: Path) -> None:
    from services.cli import main

    folder = salesforce_export.write(companies.LEDGERLY, tmp_path / "export")
    assert main(["--database-url", db_url, "import", str(folder), "--mapping", str(SALESFORCE)]) == 0
    assert main(["--database-url", db_url, "import", str(folder), "--mapping", str(tmp_path / "none.toml")]) == 1
