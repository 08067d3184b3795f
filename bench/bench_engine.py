"""Analytical engine against the previous path: wall time, CPU time and peak memory of each ported step.

Steps, each run twice (previous path, then the engine) in a fresh subprocess so that neither warms the
other's caches and each reports its own peak memory:

- `churn_usage`: the usage aggregate behind the churn and expansion inputs. Previous: two aggregate
  queries in the SQL database (the project's USAGE_SQL and JOBS_SQL until the engine) and the pandas merges
  after them. Engine: `services.churn.features.read_usage_aggregate` (raw tables to Arrow, DuckDB).
- `adoption_signals`: previous: SELECT DISTINCT month, the usage window read with `read_table`, the pandas
  signals (tests/engine_reference.py); engine: `services.adoption.signals.load_signals`.
- `write_results`: the adoption signals frame written to a scratch table: `DataFrame.to_sql` (previous)
  against `registry.bulk_insert`.
- `usage_months`: the sidebar's month list: SELECT DISTINCT month against the loose index scan.
- `parquet_usage` (engine only): the churn usage aggregate with usage_monthly read from Parquet.
Both paths' results are compared (max absolute difference printed). With `--train`, `train` (all models)
is timed too, on a copy of the database.

    python bench/bench_engine.py --accounts 20000 --db /tmp/bench_engine_20k.db
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np
import pandas as pd
import sqlalchemy as sa
from repro import add_demo_args, parse

OLD_USAGE_SQL = """
SELECT u.account_id, u.product_id, u.month,
       SUM(CASE WHEN c.role = 'capacity' THEN u.value END) AS capacity,
       SUM(CASE WHEN c.role = 'consumption' THEN u.value END) AS consumption,
       SUM(CASE WHEN c.role = 'feature' AND u.value > 0 THEN 1 ELSE 0 END) AS features_used
FROM usage_monthly u JOIN metric_catalog c ON c.metric_id = u.metric_id
GROUP BY u.account_id, u.product_id, u.month
"""
OLD_JOBS_SQL = """
SELECT j.account_id, j.product_id, j.month, SUM(CASE WHEN j.used = j.n THEN 1 ELSE 0 END) AS jobs_done
FROM (SELECT u.account_id, u.product_id, u.month, c.job, COUNT(*) AS used, MAX(jn.n) AS n
      FROM usage_monthly u JOIN metric_catalog c ON c.metric_id = u.metric_id
      JOIN (SELECT job, product_id, COUNT(*) AS n FROM metric_catalog WHERE role = 'feature'
            GROUP BY job, product_id) jn ON jn.job = c.job AND jn.product_id = c.product_id
      WHERE c.role = 'feature' AND u.value > 0
      GROUP BY u.account_id, u.product_id, u.month, c.job) j
GROUP BY j.account_id, j.product_id, j.month
"""


def _old_churn_usage(engine: sa.Engine) -> pd.DataFrame:
    from services.db import read_table

    products, catalog = read_table("products", engine), read_table("metric_catalog", engine)
    with engine.connect() as conn:
        usage = pd.read_sql(sa.text(OLD_USAGE_SQL), conn)
        jobs = pd.read_sql(sa.text(OLD_JOBS_SQL), conn)
    usage = usage.merge(jobs, on=["account_id", "product_id", "month"], how="left")
    usage["month"] = pd.to_datetime(usage["month"])
    n_feat = catalog[catalog.role == "feature"].groupby("product_id").size()
    n_jobs = catalog[catalog.role == "feature"].groupby("product_id")["job"].nunique()
    usage = usage.merge(products[["product_id", "pricing_model"]], on="product_id", how="left")
    usage["use"] = usage["consumption"] / usage["capacity"].where(usage["capacity"] > 0)
    usage["breadth"] = usage["features_used"] / usage["product_id"].map(n_feat)
    usage["jobs"] = usage["jobs_done"].fillna(0) / usage["product_id"].map(n_jobs)
    usage["family"] = np.where(usage["pricing_model"] == "per_seat", "per_seat", "volume")
    return usage[["account_id", "product_id", "month", "family", "use", "breadth", "jobs"]]


def _old_signals(engine: sa.Engine, as_of: pd.Timestamp) -> pd.DataFrame:
    from engine_reference import signals_reference

    from services.adoption import signals as sig
    from services.db import read_table

    with engine.connect() as conn:
        seen = pd.read_sql(sa.text("SELECT DISTINCT month FROM usage_monthly WHERE month <= :d"), conn,
                           params={"d": as_of.date()})
    months = sig.month_starts(pd.to_datetime(seen["month"]), as_of)
    first = months[0] - pd.DateOffset(months=sig.TREND_MONTHS + sig.SMOOTH_MONTHS - 1)
    usage = read_table("usage_monthly", engine, where="month >= :a AND month <= :b",
                       params={"a": first.date(), "b": months[-1].date()})
    for c in ("account_id", "product_id", "metric_id"):
        usage[c] = usage[c].astype(str)
    return signals_reference(usage, read_table("metric_catalog", engine), read_table("products", engine),
                             read_table("subscriptions", engine), months)[0]


def run_step(step: str, path: str, url: str, as_of: pd.Timestamp, out: Path) -> dict:
    """One step on one path, in this process; its result frame is pickled to `out` for the comparison."""
    from services import db, registry
    from services.adoption.signals import load_signals
    from services.churn.features import read_usage_aggregate
    from services.engine import Analytics, analytics, read_arrow
    from services.overview import USAGE_MONTHS_SQL

    engine = db.get_engine(url)
    frame = None
    if step == "write_results":  # the frame to write is prepared outside the timing
        frame = load_signals(engine, as_of)[0]
    parquet_dir = None
    if step == "parquet_usage":
        import pyarrow.parquet as pq

        parquet_dir = Path(tempfile.mkdtemp(prefix="bench_engine_pq_"))
        pq.write_table(read_arrow("usage_monthly", engine), parquet_dir / "usage_monthly.parquet")
    t0, c0 = time.perf_counter(), time.process_time()
    if step == "churn_usage":
        result = _old_churn_usage(engine) if path == "previous" else read_usage_aggregate(engine)
    elif step == "adoption_signals":
        result = _old_signals(engine, as_of) if path == "previous" else load_signals(engine, as_of)[0]
    elif step == "write_results":
        with engine.begin() as conn:
            conn.exec_driver_sql('DROP TABLE IF EXISTS "bench_engine_write"')
            if path == "previous":
                frame.to_sql("bench_engine_write", conn, index=False, chunksize=20_000)
            else:
                frame.head(0).to_sql("bench_engine_write", conn, index=False)
                registry.bulk_insert(conn, "bench_engine_write", frame)
        with engine.connect() as conn:
            result = pd.read_sql(sa.text('SELECT * FROM "bench_engine_write"'), conn)
    elif step == "usage_months":
        sql = "SELECT DISTINCT month FROM usage_monthly" if path == "previous" else USAGE_MONTHS_SQL
        with engine.connect() as conn:
            result = pd.DataFrame({"month": sorted(map(str, conn.execute(sa.text(sql)).scalars().all()))})
    elif step == "parquet_usage":
        import services.churn.features as cf

        ax = Analytics("duckdb", analytics().backend, parquet_dir)
        cf.analytics = lambda: ax  # this process only: usage_monthly from Parquet
        result = read_usage_aggregate(engine)
    else:
        raise ValueError(step)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if step == "write_results":
        with engine.begin() as conn:
            conn.exec_driver_sql('DROP TABLE IF EXISTS "bench_engine_write"')
    if parquet_dir is not None:
        size = (parquet_dir / "usage_monthly.parquet").stat().st_size
        shutil.rmtree(parquet_dir)
    else:
        size = None
    result.to_pickle(out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    return {"wall_s": wall, "cpu_s": cpu, "peak_gb": peak, "rows": len(result), "parquet_bytes": size}


def _diff(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if len(a) != len(b):
        return f"rows differ: {len(a)} vs {len(b)}"
    keys = [c for c in a.columns if a[c].dtype == object and c in b.columns]
    a = a.sort_values(keys).reset_index(drop=True) if keys else a
    b = b.sort_values(keys).reset_index(drop=True) if keys else b
    num = [c for c in a.columns if pd.api.types.is_float_dtype(a[c])]
    if not num:
        return "equal" if a.astype(str).equals(b.astype(str)) else "differ"
    d = max(float(np.nanmax(np.abs(a[c].to_numpy(float) - b[c].to_numpy(float)), initial=0)) for c in num)
    same_nan = all(a[c].isna().equals(b[c].isna()) for c in num)
    return f"max |diff| {d:.2g}{'' if same_nan else ', NaN patterns differ'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--db", type=Path, default=None, help="SQLite file (seeded first when missing)")
    ap.add_argument("--steps", nargs="+", default=["churn_usage", "adoption_signals", "write_results",
                                                   "usage_months", "parquet_usage"])
    ap.add_argument("--train", action="store_true", help="also time `train` (all models) on a copy")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    add_demo_args(ap)
    if "--step" in sys.argv:  # a child: one step on one path
        args = ap.parse_args()
        res = run_step(args.step, args.path, f"sqlite:///{args.db}", pd.Timestamp(args.as_of), Path(args.out))
        print(json.dumps(res))
        return
    args = parse(ap)
    path = args.db or Path(f"/tmp/bench_engine_{args.accounts}_{args.months}m_s{args.seed}.db")
    if not path.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "services.cli", "--database-url", f"sqlite:///{path}", "seed",
                        "--accounts", str(args.accounts), "--months", str(args.months), "--seed", str(args.seed),
                        "--as-of", str(args.as_of)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        print(f"seeded {path} in {time.perf_counter() - t0:.0f} s")
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:
        n_usage = conn.execute(sa.text("SELECT COUNT(*) FROM usage_monthly")).scalar()
        last = conn.execute(sa.text("SELECT MAX(month) FROM usage_monthly")).scalar()
    as_of = pd.Timestamp(last) + pd.offsets.MonthEnd(0)
    print(f"database {path}: {n_usage:,} usage rows; signals as of {as_of.date()}; engine DuckDB "
          f"(SQLite read through ADBC)")
    print(f"{'step':18s} {'path':9s} {'wall s':>8s} {'CPU s':>8s} {'peak GB':>8s} {'rows':>11s}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_engine_"))
    for step in args.steps:
        got = {}
        for p in (["engine"] if step == "parquet_usage" else ["previous", "engine"]):
            out = tmp / f"{step}_{p}.pkl"
            proc = subprocess.run([sys.executable, __file__, "--step", step, "--path", p, "--db", str(path),
                                   "--as-of", str(as_of.date()), "--out", str(out)], cwd=ROOT, check=True,
                                  capture_output=True, text=True)
            got[p] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = got[p]
            extra = f"  (Parquet file {r['parquet_bytes'] / 1e6:.1f} MB)" if r["parquet_bytes"] else ""
            print(f"{step:18s} {p:9s} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_gb']:8.2f} {r['rows']:11,}"
                  + extra, flush=True)
        if "previous" in got:
            a, b = got["previous"], got["engine"]
            print(f"{'':18s} ratio     {a['wall_s'] / b['wall_s']:7.1f}x {a['cpu_s'] / max(b['cpu_s'], 1e-9):7.1f}x"
                  f"  less with the engine; results: "
                  f"{_diff(pd.read_pickle(tmp / f'{step}_previous.pkl'), pd.read_pickle(tmp / f'{step}_engine.pkl'))}",
                  flush=True)
    if args.train:
        copy = tmp / "train.db"
        shutil.copy(path, copy)
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "services.cli", "--database-url",
                               f"sqlite:///{copy}", "train"], cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        stats = dict(line.strip().split(": ", 1) for line in proc.stderr.splitlines()
                     if ": " in line and line.startswith("\t"))
        cpu = float(stats.get("User time (seconds)", "nan")) + float(stats.get("System time (seconds)", "nan"))
        peak = float(stats.get("Maximum resident set size (kbytes)", "nan")) / 1024 ** 2
        jobs = [line.split("] ", 1)[1] for line in proc.stderr.splitlines() if " active in " in line
                or " rejected in " in line or " failed" in line and "] " in line]
        print(f"train (all models): {wall:.0f} s wall, {cpu:.0f} s CPU, peak {peak:.1f} GB, exit {proc.returncode}")
        for j in jobs:
            print(f"  {j}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
