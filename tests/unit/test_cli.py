"""The command line: exit codes, clean messages, import/export round trip, scorecard JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from services import db
from services.cli import main

MakeFolder = Callable[[dict[str, pd.DataFrame]], Path]


def test_import_prints_counts(db_url: str, valid_frames: dict, csv_folder: MakeFolder,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database-url", db_url, "import", str(csv_folder(valid_frames))]) == 0
    out = capsys.readouterr().out
    assert "accounts" in out and "usage_monthly" in out


def test_import_violation_exits_1_with_rules_and_samples(
        db_url: str, valid_frames: dict, csv_folder: MakeFolder,
        capsys: pytest.CaptureFixture[str]) -> None:
    valid_frames["accounts"].loc[1, "owner_id"] = "P0404"
    assert main(["--database-url", db_url, "import", str(csv_folder(valid_frames))]) == 1
    err = capsys.readouterr().err
    assert "nothing was changed" in err
    assert "accounts: owner_id references people.person_id -- 1 row(s)" in err
    assert '"owner_id": "P0404"' in err and "Traceback" not in err


def test_unreadable_input_exits_1(db_url: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "accounts.xlsx").write_bytes(b"PK")
    assert main(["--database-url", db_url, "import", str(tmp_path)]) == 1
    assert "accounts.xlsx: not a CSV file" in capsys.readouterr().err


def test_export_then_import_round_trips(db_url: str, valid_frames: dict, csv_folder: MakeFolder,
                                        tmp_path: Path) -> None:
    assert main(["--database-url", db_url, "import", str(csv_folder(valid_frames))]) == 0
    engine = db.get_engine(db_url)
    before = {t: db.read_table(t, engine) for t in valid_frames}
    assert main(["--database-url", db_url, "export", str(tmp_path / "out")]) == 0
    assert main(["--database-url", db_url, "import", str(tmp_path / "out")]) == 0
    for table, frame in before.items():
        pd.testing.assert_frame_equal(db.read_table(table, engine), frame, obj=table)


def test_scorecard_json(db_url: str, valid_frames: dict, csv_folder: MakeFolder,
                        capsys: pytest.CaptureFixture[str]) -> None:
    main(["--database-url", db_url, "import", str(csv_folder(valid_frames))])
    capsys.readouterr()
    assert main(["--database-url", db_url, "scorecard", "--json"]) in (0, 1)
    card = json.loads(capsys.readouterr().out)
    assert {"data", "churn", "adoption", "forecast", "explain"} <= card.keys()
    assert card["data"]["row_counts"]["accounts"] == 3
    assert card["data"]["as_of"] == "2024-04-01"
    assert card["data"]["last_import"]["status"] == "success"


def test_unavailable_database_exits_2_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg2://u:pw@127.0.0.1:1/x"
    assert main(["--database-url", url, "scorecard", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot reach database postgresql+psycopg2://u:***@127.0.0.1:1/x")
    assert "Traceback" not in err


def test_seed_loads_a_valid_demo_company(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--database-url", db_url, "seed", "--accounts", "60", "--months", "18", "--seed", "1"]
    assert main(args) == 0
    engine = db.get_engine(db_url)
    assert len(db.read_table("accounts", engine)) >= 60
    assert db.table_exists("truth_params", engine)
    assert main([*args, "--if-empty"]) == 0
    assert "not seeding" in capsys.readouterr().out
    log = db.read_table("imports", engine)
    assert list(log["status"]) == ["success"] and log["source"][0].startswith("demo seed")


def test_seed_prints_the_command_that_reproduces_it(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--database-url", db_url, "seed", "--accounts", "60", "--months", "18", "--seed", "2",
            "--as-of", "2025-09-30"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Reproduce: python -m services.cli seed --accounts 60 --months 18 --seed 2 --as-of 2025-09-30" in out
    engine = db.get_engine(db_url)
    params = db.read_table("truth_params", engine).set_index("key").value
    assert json.loads(params["as_of"]) == "2025-09-30"


def test_seed_rejects_a_bad_as_of_date(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--database-url", db_url, "seed", "--as-of", "30/09/2025"])
    assert exit_info.value.code == 2
    assert "'30/09/2025' is not a date: use YYYY-MM-DD" in capsys.readouterr().err


def test_explanation_hands_over_a_shap_explanation(trained_db_file: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import pickle

    import shap
    url = f"sqlite:///{trained_db_file}"
    from models.explain import prediction
    from services.explain import read as explain_read
    stored = explain_read.stored(db.get_engine(url), "churn")
    subject = stored.subject_id.iloc[0]
    out = tmp_path / "e.pkl"
    assert main(["--database-url", url, "explanation", "--model", "churn", "--subject", subject,
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"churn explanation of {subject} (log-odds of churn)" in text and f"Wrote a shap.Explanation to {out}" in text
    with open(out, "rb") as fh:
        e = pickle.load(fh)
    assert isinstance(e, shap.Explanation) and e.values.ndim == 1
    total = prediction(stored[stored.subject_id == subject]).iloc[0]
    assert float(e.base_values) + e.values.sum() == pytest.approx(total, abs=1e-5)
    assert f"{total:+.4f}" in text


def test_explanation_of_an_unknown_subject_says_so(trained_db_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{trained_db_file}"
    assert main(["--database-url", url, "explanation", "--model", "churn", "--subject", "NOPE"]) == 1
    assert "no stored churn explanation for subject 'NOPE'" in capsys.readouterr().err
    assert main(["--database-url", url, "explanation", "--model", "forecast_node", "--subject", "NOPE"]) == 1
