"""Counts for issue 16's closing note: the bad-input matrix and the faults, on SQLite and PostgreSQL.

    .venv/bin/python bench/probe_inputs.py [--pg-url postgresql+psycopg2://.../foresight_test_x] [--no-faults]

Bad inputs: every case of tests/unit/test_bad_inputs.py (hostile or broken inputs that must be refused, tricky
valid ones that must be stored exactly), each imported into a fresh database loaded with the small valid
dataset. A refused case is *refused cleanly* when the importer raised its own error naming the expected rule,
logged a failed import and left every table as it was; *accepted wrongly* when it loaded; *crashed* on any
other exception; *caused loss* when a table changed. A valid case is *stored exactly*, *refused wrongly* or
*altered* (loss). Faults: the kill, crash, limit and lock tests (test_interrupted, test_import_worker,
test_joblock, test_snapshot_lock, test_sqlite_and_errors), run by pytest per backend; survived = passed
(each checks the data is the old or the complete new state, the import log records it, the lock is free).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "unit")]

import pandas as pd
import sqlalchemy as sa
import test_bad_inputs as matrix
from sample_data import valid_frames, write_csvs

from services import contract, db
from services.importer import ContractViolation, ImportFileError, import_source

FAULT_TESTS = ["tests/unit/test_interrupted.py", "tests/unit/test_import_worker.py", "tests/unit/test_joblock.py",
               "tests/unit/test_snapshot_lock.py", "tests/unit/test_sqlite_and_errors.py"]


class Backend:
    """A fresh database per case: a SQLite file, or a PostgreSQL schema dropped afterwards."""

    def __init__(self, name: str, tmp: Path, pg_url: str | None = None) -> None:
        self.name, self.tmp, self.pg_url = name, tmp, pg_url

    def fresh(self) -> tuple[str, callable]:
        if self.name == "sqlite":
            url = f"sqlite:///{self.tmp / (uuid.uuid4().hex + '.db')}"
            return url, lambda: db.dispose_engine(url)
        schema = f"probe_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(self.pg_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = sa.make_url(self.pg_url).update_query_dict({"options": f"-csearch_path={schema}"}) \
            .render_as_string(hide_password=False)

        def drop() -> None:
            db.dispose_engine(url)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()
        return url, drop


def _tables(engine) -> dict[str, pd.DataFrame]:
    return {s.name: db.read_table(s.name, engine).sort_values(s.column_names[0], ignore_index=True)
            for s in contract.TABLES}


def _changed(before: dict[str, pd.DataFrame], engine) -> bool:
    after = _tables(engine)
    for name, frame in before.items():
        try:
            pd.testing.assert_frame_equal(frame, after[name])
        except AssertionError:
            return True
    return False


def _refused_case(backend: Backend, make, rule: str, env: dict[str, str]) -> str:
    url, drop = backend.fresh()
    old = {k: os.environ.get(k) for k in env}
    try:
        engine = db.get_engine(url)
        work = Path(tempfile.mkdtemp(dir=backend.tmp))
        import_source(write_csvs(valid_frames(), work / "good"), engine)
        before, n_log = _tables(engine), len(db.read_table("imports", engine))
        source = matrix._source(make, valid_frames(), work / "bad")
        os.environ.update(env)
        try:
            import_source(source, engine, label="probe")
            outcome = "accepted wrongly"
        except (ContractViolation, ImportFileError) as exc:
            log = db.read_table("imports", engine).sort_values("started_at")
            logged = len(log) == n_log + 1 and log.iloc[-1]["status"] == "failed"
            outcome = "refused cleanly" if rule in str(exc) and logged else "refused, wrong message or no log"
        except Exception as exc:  # noqa: BLE001 - a raw crash is what the probe counts
            outcome = f"crashed ({type(exc).__name__})"
        if _changed(before, engine):
            outcome = "caused loss"
        return outcome
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        drop()


def _valid_case(backend: Backend, table: str, row: int, col: str, cell: str, stored) -> str:
    url, drop = backend.fresh()
    try:
        engine = db.get_engine(url)
        frames = valid_frames()
        frames[table].loc[row, col] = cell
        key = contract.SPECS[table].column_names[0]
        try:
            import_source(write_csvs(frames, Path(tempfile.mkdtemp(dir=backend.tmp)) / "ok"), engine)
        except (ContractViolation, ImportFileError):
            return "refused wrongly"
        except Exception as exc:  # noqa: BLE001
            return f"crashed ({type(exc).__name__})"
        got = db.read_table(table, engine).set_index(key).loc[frames[table].loc[row, key], col]
        got = got.iloc[0] if isinstance(got, pd.Series) else got
        return "stored exactly" if got == stored else "caused loss"
    finally:
        drop()


def bad_inputs(backend: Backend) -> Counter:
    counts: Counter = Counter()
    cases = [(n, m, r, {}) for n, (m, r) in matrix.REFUSED.items()]
    cases += [(n, m, r, env) for n, (env, m, r) in matrix.LIMITED.items()]
    fk = matrix.ACCEPTED["literal \\N in an optional id"]
    cases.append(("\\N in a reference", matrix._set(fk[0], fk[1], fk[2], fk[3]), "csm_id references people.person_id",
                  {}))
    for name, make, rule, env in cases:
        outcome = _refused_case(backend, make, rule, env)
        counts[outcome] += 1
        if outcome != "refused cleanly":
            print(f"  {backend.name}: {name}: {outcome}")
    for name, case in matrix.ACCEPTED.items():
        if "optional id" in name:
            continue
        outcome = _valid_case(backend, *case)
        counts[outcome] += 1
        if outcome != "stored exactly":
            print(f"  {backend.name}: {name}: {outcome}")
    return counts


def faults(backend: str, pg_url: str | None, tmp: Path) -> Counter:
    xml = tmp / f"faults_{backend}.xml"
    env = {k: v for k, v in os.environ.items() if k != "FORESIGHT_TEST_PG_URL"}
    if pg_url:
        env["FORESIGHT_TEST_PG_URL"] = pg_url
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
                    "-k", backend, *FAULT_TESTS], cwd=REPO, env=env, capture_output=True, check=False)
    counts: Counter = Counter()
    for case in ET.parse(xml).getroot().iter("testcase"):
        if f"[{backend}" not in case.get("name", ""):
            continue
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        counts["skipped" if skipped else "not survived" if failed else "survived"] += 1
        if failed:
            print(f"  {backend}: fault {case.get('name')}: NOT survived")
    return counts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-url", default=os.environ.get("FORESIGHT_TEST_PG_URL"))
    ap.add_argument("--no-faults", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="probe_inputs_"))
    names = ["sqlite"] + (["postgresql"] if args.pg_url else [])
    rows = []
    for name in names:
        inputs = bad_inputs(Backend(name, tmp, args.pg_url))
        fault = Counter() if args.no_faults else faults(name, args.pg_url, tmp)
        wrong = inputs["accepted wrongly"] + inputs["refused wrongly"]
        other = sum(n for k, n in inputs.items() if k not in ("refused cleanly", "stored exactly", "accepted wrongly",
                                                                "refused wrongly", "caused loss"))
        rows.append((name, sum(inputs.values()), inputs["refused cleanly"], inputs["stored exactly"], wrong,
                     inputs["caused loss"], other, sum(fault.values()), fault["survived"]))
    print(f"{'backend':<11}{'inputs':>7}{'refused ok':>11}{'valid ok':>9}{'wrong':>6}{'loss':>5}{'other':>6}"
          f"{'faults':>7}{'survived':>9}")
    for r in rows:
        print(f"{r[0]:<11}{r[1]:>7}{r[2]:>11}{r[3]:>9}{r[4]:>6}{r[5]:>5}{r[6]:>6}{r[7]:>7}{r[8]:>9}")
    print("inputs = bad inputs tried; refused ok = refused cleanly (named rule, logged, nothing changed); valid ok = "
          "tricky valid input stored exactly; wrong = accepted or refused wrongly; loss = data lost or altered; "
          "other = crashed or refused without the rule or the log")
    return 0 if all(r[4] == r[5] == r[6] == 0 and r[7] == r[8] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
