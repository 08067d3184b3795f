"""Imports: bad input fails clearly and changes nothing; good input loads in one go, idempotently."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from services import contract, db
from services.importer import (
    ContractViolation,
    ImportFileError,
    import_frames,
    import_source,
    read_csv_folder,
    read_zip,
)

Frames = dict[str, pd.DataFrame]
MakeFolder = Callable[[Frames], Path]


def snapshot(engine: Engine) -> dict[str, pd.DataFrame]:
    """Every contract table, sorted, for before/after comparisons."""
    return {s.name: db.read_table(s.name, engine).sort_values(s.column_names[0],
                                                              ignore_index=True)
            for s in contract.TABLES}


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name, frame in a.items():
        pd.testing.assert_frame_equal(frame, b[name], obj=name)


def imports_log(engine: Engine) -> pd.DataFrame:
    return db.read_table("imports", engine).sort_values("started_at", ignore_index=True)


def test_good_import_loads_every_table(engine: Engine, valid_frames: Frames,
                                       csv_folder: MakeFolder) -> None:
    folder = csv_folder(valid_frames)
    report = import_source(folder, engine)
    assert report.ok
    expected = {name: len(df) for name, df in valid_frames.items()}
    expected["stages"] = report.row_counts["stages"]  # the sample sends none: derived from its deals
    assert expected["stages"] == 4
    for spec in contract.TABLES:
        assert len(db.read_table(spec.name, engine)) == expected.get(spec.name, 0), spec.name
    accounts = db.read_table("accounts", engine)
    assert accounts["created_date"].dtype == "datetime64[ns]"
    assert db.read_table("opportunities", engine)["is_won"].dtype == bool
    log = imports_log(engine)
    assert list(log["status"]) == ["success"] and json.loads(log["n_rows"][0])["accounts"] == 3


def test_reimport_is_idempotent(engine: Engine, valid_frames: Frames,
                                csv_folder: MakeFolder) -> None:
    folder = csv_folder(valid_frames)
    import_source(folder, engine)
    first = snapshot(engine)
    import_source(folder, engine)
    assert_same(first, snapshot(engine))
    assert list(imports_log(engine)["status"]) == ["success", "success"]


def test_loaded_data_equals_validated_frames(engine: Engine, valid_frames: Frames) -> None:
    import_frames(valid_frames, "test", engine)
    for name, df in contract.validate(valid_frames).frames.items():
        pd.testing.assert_frame_equal(db.read_table(name, engine), df, obj=name)


BAD_EDITS: dict[str, tuple[Callable[[Frames], None], str]] = {
    "wrong type": (lambda f: f["support_cases"].loc.__setitem__((0, "severity"), "high"),
                   "severity must be an integer"),
    "missing column": (lambda f: f.__setitem__("accounts", f["accounts"].drop(columns="segment")),
                       "required column segment missing"),
    "duplicate id": (lambda f: f["people"].loc.__setitem__((5, "person_id"), "P0001"),
                     "person_id unique"),
    "dangling foreign key": (lambda f: f["usage_monthly"].loc.__setitem__((0, "account_id"), "A404"),
                             "account_id references accounts.account_id"),
    "missing table": (lambda f: f.pop("subscriptions"), "required table missing"),
}


@pytest.mark.parametrize("case", list(BAD_EDITS))
def test_bad_import_fails_clearly_and_changes_nothing(
        case: str, engine: Engine, valid_frames: Frames, csv_folder: MakeFolder) -> None:
    import_source(csv_folder(valid_frames), engine)
    before = snapshot(engine)
    edit, rule = BAD_EDITS[case]
    bad = {k: v.copy() for k, v in valid_frames.items()}
    bad["accounts"] = bad["accounts"].iloc[:2]  # would change the data if it were loaded
    edit(bad)
    with pytest.raises(ContractViolation) as err:
        import_source(csv_folder(bad), engine)
    assert rule in str(err.value)
    assert_same(before, snapshot(engine))
    log = imports_log(engine)
    assert list(log["status"]) == ["success", "failed"]
    results = db.read_table("validation_results", engine)
    assert (results["import_id"] == err.value.import_id).all()
    assert any(rule in r for r in results["rule"])


def test_non_csv_file_is_rejected_by_name(engine: Engine, valid_frames: Frames,
                                          csv_folder: MakeFolder) -> None:
    import_source(csv_folder(valid_frames), engine)
    before = snapshot(engine)
    folder = csv_folder(valid_frames)
    (folder / "notes.txt").write_text("hello")
    with pytest.raises(ImportFileError, match=r"notes\.txt: not a CSV file"):
        import_source(folder, engine)
    assert_same(before, snapshot(engine))
    assert list(imports_log(engine)["status"]) == ["success", "failed"]


def test_unreadable_csv_is_rejected_by_name(valid_frames: Frames, csv_folder: MakeFolder) -> None:
    folder = csv_folder(valid_frames)
    (folder / "accounts.csv").write_bytes(b"\xff\xfe\x00\x81binary\x00")
    with pytest.raises(ImportFileError, match=r"accounts\.csv"):
        read_csv_folder(folder)
    (folder / "accounts.csv").write_bytes(b"")
    with pytest.raises(ImportFileError, match=r"accounts\.csv: the file is empty"):
        read_csv_folder(folder)


def test_empty_or_missing_folder_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no CSV files"):
        read_csv_folder(tmp_path)
    with pytest.raises(ImportFileError, match="not a folder"):
        read_csv_folder(tmp_path / "nope")


def _zip(frames: Frames, prefix: str = "", extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, df in frames.items():
            zf.writestr(f"{prefix}{name}.csv", df.to_csv(index=False))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("prefix", ["", "export-2024/"])
def test_zip_with_or_without_top_folder(valid_frames: Frames, prefix: str) -> None:
    frames = read_zip(_zip(valid_frames, prefix, {"__MACOSX/._x": b"", f"{prefix}.DS_Store": b""}))
    assert frames.keys() == valid_frames.keys()
    assert contract.validate(frames).ok


def test_zip_with_non_csv_or_garbage_is_rejected(valid_frames: Frames) -> None:
    with pytest.raises(ImportFileError, match=r"readme\.md: not a CSV file"):
        read_zip(_zip(valid_frames, extra={"readme.md": b"#"}))
    with pytest.raises(ImportFileError, match="not a readable zip"):
        read_zip(b"this is not a zip")


def test_truth_tables_belong_to_their_dataset(engine: Engine, valid_frames: Frames) -> None:
    truth = {"truth_params": pd.DataFrame({"key": ["seed"], "value": ["1"]})}
    import_frames(valid_frames, "seed", engine, extra_tables=truth)
    assert db.table_exists("truth_params", engine)
    import_frames(valid_frames, "real data", engine)
    assert not db.table_exists("truth_params", engine)
