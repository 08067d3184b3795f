"""The bad-input matrix (issue 16), on every backend: each hostile or broken import is refused with a message
naming the problem, is logged as a failed import, and leaves every stored table exactly as it was; each
tricky but valid input is stored exactly as given."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from services import contract, db
from services.importer import ContractViolation, ImportFileError, import_source

Frames = dict[str, pd.DataFrame]
Source = Path | bytes


def snapshot(engine: Engine) -> dict[str, pd.DataFrame]:
    return {s.name: db.read_table(s.name, engine).sort_values(s.column_names[0], ignore_index=True)
            for s in contract.TABLES}


def _set(table: str, row: int, col: str, value: str) -> Callable[[Frames], None]:
    return lambda f: f[table].loc.__setitem__((row, col), value)


def _csv(frames: Frames, folder: Path, raw: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True)
    for name, df in frames.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    for name, data in (raw or {}).items():
        (folder / name).write_bytes(data)
    return folder


def _zip(frames: Frames, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, df in frames.items():
            zf.writestr(f"{name}.csv", df.to_csv(index=False))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _header_only(table: str) -> Callable[[Frames], None]:
    return lambda f: f.__setitem__(table, f[table].iloc[:0])


def _dup_header(f: Frames, folder: Path) -> Path:
    text = f["accounts"].to_csv(index=False).splitlines()
    text = [text[0] + ",name"] + [line + ",Other name" for line in text[1:]]
    return _csv({k: v for k, v in f.items() if k != "accounts"}, folder,
                {"accounts.csv": ("\n".join(text) + "\n").encode()})


def _raw_accounts(data: bytes) -> Callable[[Frames, Path], Path]:
    return lambda f, folder: _csv({k: v for k, v in f.items() if k != "accounts"}, folder, {"accounts.csv": data})


def _bomb(f: Frames, folder: Path) -> bytes:
    row = f["usage_monthly"].to_csv(index=False).splitlines()
    return _zip({k: v for k, v in f.items() if k != "usage_monthly"},
                {"usage_monthly.csv": ("\n".join([row[0]] + [row[1]] * 200_000) + "\n").encode()})


def _many_files(f: Frames, folder: Path) -> bytes:
    return _zip(f, {f"__MACOSX/._{i}": b"" for i in range(150)})


# name -> (edit of the valid frames, or a builder (frames, folder) -> source; the rule the message names)
REFUSED: dict[str, tuple[Callable, str]] = {
    "support case in 2099": (_set("support_cases", 0, "opened_date", "2099-01-01"),
                             "opened_date must not be later than"),
    "usage month in 2099": (_set("usage_monthly", 0, "month", "2099-01-01"), "month must not be later than"),
    "end date 9999-12-31": (_set("subscriptions", 0, "end_date", "9999-12-31"), "end_date must not be later than"),
    "snapshot in 2200": (_set("opportunity_history", 0, "snapshot_date", "2200-05-01"),
                         "snapshot_date must not be later than"),
    "value inf": (_set("usage_monthly", 0, "value", "inf"), "value must be a number"),
    "arr -inf": (_set("subscriptions", 0, "arr_usd", "-inf"), "arr_usd must be a number"),
    "quantity NaN": (_set("subscriptions", 0, "quantity", "NaN"), "quantity must be a number"),
    "amount Infinity": (_set("opportunities", 0, "amount_usd", "Infinity"), "amount_usd must be a number"),
    "severity text": (_set("support_cases", 0, "severity", "high"), "severity must be an integer"),
    "severity 2.5": (_set("support_cases", 0, "severity", "2.5"), "severity must be an integer"),
    "date 2024-13-45": (_set("accounts", 0, "created_date", "2024-13-45"), "created_date must be a date"),
    "timestamp yesterday": (_set("commits", 0, "submitted_at", "yesterday"), "submitted_at must be a timestamp"),
    "NUL in a name": (_set("accounts", 0, "name", "Acme\x00 Evil"), "accounts.csv: holds a NUL character"),
    "NUL in an id": (_set("people", 5, "person_id", "P00\x0006"), "people.csv: holds a NUL character"),
    "pricing model unknown": (_set("products", 0, "pricing_model", "Galaxy"), "pricing_model in {"),
    "negative arr": (_set("subscriptions", 0, "arr_usd", "-5"), "arr_usd >= 0"),
    "duplicate id": (_set("people", 5, "person_id", "P0001"), "person_id unique"),
    "duplicate key": (lambda f: f.__setitem__("usage_monthly", pd.concat([f["usage_monthly"]] * 2)),
                      "(account_id, product_id, metric_id, month) unique"),
    "dangling foreign key": (_set("usage_monthly", 0, "account_id", "A404"),
                             "account_id references accounts.account_id"),
    "end before start": (_set("subscriptions", 0, "end_date", "2020-01-01"), "end_date >= start_date"),
    "missing column": (lambda f: f.__setitem__("accounts", f["accounts"].drop(columns="segment")),
                       "required column segment missing"),
    "missing table": (lambda f: f.pop("subscriptions"), "required table missing"),
    "empty accounts": (_header_only("accounts"), "accounts: required table is empty"),
    "empty usage": (_header_only("usage_monthly"), "usage_monthly: required table is empty"),
    "unknown table": (lambda f: f.__setitem__("hack", f["people"]), "unknown table"),
    "duplicated header column": (_dup_header, "duplicate column(s): name"),
    "not UTF-8": (_raw_accounts("account_id,name\nA1,caf\xe9\n".encode("latin-1")),
                  "accounts.csv: cannot be read as a UTF-8 CSV file"),
    "UTF-16 file": (_raw_accounts("account_id,name\nA1,x\n".encode("utf-16")), "accounts.csv"),
    "more cells than the header": (_raw_accounts(b"account_id,name\nA1,x,y,z\n"),
                                   "accounts.csv: a row has more cells than the header"),
    "one long row later": (_raw_accounts(b"account_id,name\nA1,x\nA2,y,z\n"), "accounts.csv"),
    "header only file": (_raw_accounts(b""), "accounts.csv: the file is empty"),
    "binary garbage": (_raw_accounts(b"\xff\xfe\x00\x81binary\x00"), "accounts.csv"),
    "not a CSV file": (lambda f, folder: _csv(f, folder, {"notes.txt": b"hi"}), "notes.txt: not a CSV file"),
    "not a zip": (lambda f, folder: b"PK\x03\x04 this is not a zip", "not a readable zip"),
    "zip path traversal": (lambda f, folder: _zip(f, {"../../evil.csv": b"a\n1\n"}), "a path outside the archive"),
    "zip absolute path": (lambda f, folder: _zip(f, {"/etc/evil.csv": b"a\n1\n"}), "a path outside the archive"),
    "zip bomb (ratio)": (_bomb, "over the limit of 200:1"),
    "zip with 150 entries": (_many_files, "more than the limit of 100"),
}
# refusals that need a tighter limit from the environment (name -> (env, edit, rule))
LIMITED: dict[str, tuple[dict[str, str], Callable, str]] = {
    "rows over the limit": ({"FORESIGHT_IMPORT_MAX_ROWS": "5"}, lambda f: None, "more than 5 rows"),
    "file over the size limit": ({"FORESIGHT_IMPORT_MAX_FILE_MB": "0.0002"}, lambda f: None, "over the limit of"),
    "total over the size limit": ({"FORESIGHT_IMPORT_MAX_TOTAL_MB": "0.001"}, lambda f: None, "in all, over"),
    "import removes most rows": ({"FORESIGHT_IMPORT_MAX_SHRINK": "0.1"},
                                 lambda f: f.__setitem__("usage_monthly", f["usage_monthly"].iloc[:1]),
                                 "--allow-shrink"),
}


def _source(make: Callable, frames: Frames, folder: Path) -> Source:
    try:
        return make(frames, folder)
    except TypeError:  # an edit of the frames
        make(frames)
        return _csv(frames, folder)


def _assert_refused(engine: Engine, source: Source, rule: str, label: str) -> None:
    before = snapshot(engine)
    n_imports = len(db.read_table("imports", engine))
    with pytest.raises((ContractViolation, ImportFileError)) as err:
        import_source(source, engine, label=label)
    assert rule in str(err.value), str(err.value)[:2000]
    after = snapshot(engine)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[name], obj=name)
    log = db.read_table("imports", engine)
    assert len(log) == n_imports + 1 and log.sort_values("started_at").iloc[-1]["status"] == "failed"


@pytest.fixture()
def loaded(engine: Engine, valid_frames: Frames, tmp_path: Path) -> Engine:
    import_source(_csv(valid_frames, tmp_path / "good"), engine)
    return engine


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_input_is_refused_and_changes_nothing(case: str, loaded: Engine, valid_frames: Frames,
                                                  tmp_path: Path) -> None:
    make, rule = REFUSED[case]
    _assert_refused(loaded, _source(make, valid_frames, tmp_path / "bad"), rule, case)


@pytest.mark.parametrize("case", list(LIMITED))
def test_input_over_a_limit_is_refused_and_changes_nothing(case: str, loaded: Engine, valid_frames: Frames,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env, make, rule = LIMITED[case]
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    _assert_refused(loaded, _source(make, valid_frames, tmp_path / "bad"), rule, case)


def test_an_allowed_shrink_is_loaded(loaded: Engine, valid_frames: Frames, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORESIGHT_IMPORT_MAX_SHRINK", "0.1")
    valid_frames["usage_monthly"] = valid_frames["usage_monthly"].iloc[:1]
    import_source(_csv(valid_frames, tmp_path / "small"), loaded, allow_shrink=True)
    assert len(db.read_table("usage_monthly", loaded)) == 1


# tricky values that are valid: each stored exactly (name -> (table, row, column, cell, stored value))
ACCEPTED: dict[str, tuple[str, int, str, str, object]] = {
    "literal \\N in a name": ("accounts", 0, "name", "\\N", "\\N"),
    "literal \\N in an optional id": ("accounts", 1, "csm_id", "\\N", None),  # refused below: no such person
    "formula-looking name": ("accounts", 0, "name", "=HYPERLINK(\"http://x\",\"y\")", "=HYPERLINK(\"http://x\",\"y\")"),
    "markdown name": ("accounts", 0, "name", "[Click to re-login](https://evil.example)",
                      "[Click to re-login](https://evil.example)"),
    "quotes, commas, newline": ("accounts", 0, "name", 'A "B", C\nD', 'A "B", C\nD'),
    "timestamp with +02:00": ("commits", 0, "submitted_at", "2024-07-02T11:30:00+02:00",
                              pd.Timestamp("2024-07-02 09:30:00")),
    "timestamp with Z": ("commits", 0, "submitted_at", "2024-07-02T09:30:00Z", pd.Timestamp("2024-07-02 09:30:00")),
    "close date 10 years ahead": ("opportunities", 1, "close_date", str((pd.Timestamp.today() + pd.DateOffset(
        years=10)).date()), (pd.Timestamp.today() + pd.DateOffset(years=10)).normalize()),
}


@pytest.mark.parametrize("case", [c for c in ACCEPTED if "optional id" not in c])
def test_tricky_valid_input_is_stored_exactly(case: str, engine: Engine, valid_frames: Frames,
                                              tmp_path: Path) -> None:
    table, row, col, cell, stored = ACCEPTED[case]
    key = contract.SPECS[table].column_names[0]
    valid_frames[table].loc[row, col] = cell
    if table == "commits":  # both commits in one quarter by different people: keys stay unique
        pass
    import_source(_csv(valid_frames, tmp_path / "ok"), engine)
    got = db.read_table(table, engine).set_index(key).loc[valid_frames[table].loc[row, key], col]
    got = got.iloc[0] if isinstance(got, pd.Series) else got
    assert got == stored, (got, stored)


def test_a_literal_null_marker_in_a_reference_is_a_dangling_key(loaded: Engine, valid_frames: Frames,
                                                                tmp_path: Path) -> None:
    """`\\N` is text, never NULL: in a foreign key it names no person, and is refused as such."""
    table, row, col, cell, _ = ACCEPTED["literal \\N in an optional id"]
    valid_frames[table].loc[row, col] = cell
    _assert_refused(loaded, _csv(valid_frames, tmp_path / "bad"), "csm_id references people.person_id", "\\N fk")



def test_the_command_line_refuses_a_shrink_without_allow_shrink(db_url: str, loaded: Engine, valid_frames: Frames,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from services import cli

    monkeypatch.setenv("FORESIGHT_IMPORT_MAX_SHRINK", "0.1")
    valid_frames["usage_monthly"] = valid_frames["usage_monthly"].iloc[:1]
    folder = _csv(valid_frames, tmp_path / "small")
    before = snapshot(loaded)
    assert cli.main(["--database-url", db_url, "import", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "fewer" in err and "--allow-shrink" in err and "nothing was changed" in err
    for name, frame in snapshot(loaded).items():
        pd.testing.assert_frame_equal(frame, before[name], obj=name)
    assert cli.main(["--database-url", db_url, "import", str(folder), "--allow-shrink"]) == 0
    assert len(db.read_table("usage_monthly", loaded)) == 1
