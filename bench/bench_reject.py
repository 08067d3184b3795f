"""Peak memory and time of rejecting hostile imports: a 100 MB malformed table and a zip bomb.

    nice -n 10 .venv/bin/python bench/bench_reject.py [--mb 100] [--bomb-mb 1024] [--worker]

A small demo (200 accounts) is exported as CSV; then
- `malformed`: its usage_monthly.csv appended to itself until it reaches `--mb` MB (every key duplicated),
- `bomb`: a zip whose usage_monthly.csv is `--bomb-mb` MB of one repeated row (deflate, ~1000:1),
are each imported into a fresh SQLite database in a child process, which reports its own wall time and
peak resident memory. With `--worker` each is also checked as the Data page does it: zipped, saved in a job
folder and run by the upload worker (`python -m services.import_worker`, with its limits), timed from outside.
Bars (issue 16): each rejection under 60 s and under 1 GB; nothing loaded.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import json, resource, sys, time
from services import db, importer
engine = db.get_engine(sys.argv[1])
t0 = time.perf_counter()
try:
    importer.import_source(sys.argv[2], engine)
    outcome = "ACCEPTED"
except (importer.ImportFileError, importer.ContractViolation) as exc:
    outcome = str(exc).splitlines()[0] if not isinstance(exc, importer.ContractViolation) else str(exc).splitlines()[1]
seconds = time.perf_counter() - t0
rows = sum(db.read_table(t, engine).shape[0] for t in ("accounts", "usage_monthly"))
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "outcome": outcome[:160], "rows_loaded": rows}))
"""


def run_child(url: str, source: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, url, str(source)], cwd=REPO, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_worker(url: str, source: Path, tmp: Path) -> dict:
    """The upload worker's check of `source` (a folder is zipped first), in a fresh child: seconds, peak, outcome."""
    folder = tmp / f"job_{source.name}"
    folder.mkdir()
    if source.is_dir():
        with zipfile.ZipFile(folder / "upload.zip", "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(source.glob("*.csv")):
                z.write(f, f.name)
    else:
        (folder / "upload.zip").write_bytes(source.read_bytes())
    (folder / "request.json").write_text(json.dumps({"mode": "check", "label": f"bench: {source.name}"}))
    t0 = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", sys.executable, "-m", "services.import_worker",
                          str(folder)], cwd=REPO, check=True, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "FORESIGHT_DATABASE_URL": url})
    seconds = time.perf_counter() - t0
    result = json.loads((folder / "result.json").read_text())
    peak = int(out.stderr.rsplit("maxrss_kb=", 1)[1].split()[0]) / 1024  # the worker's own peak
    return {"seconds": seconds, "peak_mb": peak, "status": result.get("status"),
            "outcome": (result.get("error") or json.dumps(result.get("report", {}).get("failures", [{}])[0]))[:160]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--bomb-mb", type=float, default=1024)
    ap.add_argument("--worker", action="store_true", help="also reject each through the upload worker")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_reject_"))
    url = f"sqlite:///{tmp / 'seed.db'}"
    cli = [sys.executable, "-m", "services.cli", "--database-url", url]
    subprocess.run([*cli, "seed", "--accounts", "200", "--months", "30", "--seed", "3"], cwd=REPO, check=True,
                   capture_output=True)
    export = tmp / "export"
    subprocess.run([*cli, "export", str(export)], cwd=REPO, check=True, capture_output=True)
    usage = export / "usage_monthly.csv"
    header, body = usage.read_text().split("\n", 1)

    malformed = tmp / "malformed"
    malformed.mkdir()
    for f in export.glob("*.csv"):
        (malformed / f.name).write_bytes(f.read_bytes())
    with (malformed / usage.name).open("a") as fh:
        while fh.tell() < args.mb * 1024 * 1024:
            fh.write(body)

    bomb = tmp / "bomb.zip"
    row = body.split("\n", 1)[0] + "\n"
    chunk = (row * (1024 * 1024 // len(row))).encode()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for f in export.glob("*.csv"):
            if f.name != usage.name:
                z.write(f, f.name)
        with z.open(usage.name, "w", force_zip64=True) as member:
            member.write((header + "\n").encode())
            for _ in range(int(args.bomb_mb)):
                member.write(chunk)

    cases = {"malformed": (malformed, (malformed / usage.name).stat().st_size),
             "bomb": (bomb, bomb.stat().st_size)}
    ok = True
    for name, (source, size) in cases.items():
        r = run_child(f"sqlite:///{tmp / (name + '.db')}", source)
        within = r["seconds"] < 60 and r["peak_mb"] < 1024 and r["outcome"] != "ACCEPTED" and r["rows_loaded"] == 0
        ok &= within
        print(f"{name:10s} input {size / 1024 / 1024:8.1f} MB on disk  rejected in {r['seconds']:6.2f} s  "
              f"peak {r['peak_mb']:7.1f} MB  rows loaded {r['rows_loaded']}  {'ok' if within else 'OVER THE BAR'}")
        print(f"           -> {r['outcome']}")
    if args.worker:
        for name, (source, _) in cases.items():
            w = run_worker(f"sqlite:///{tmp / (name + '-worker.db')}", source, tmp)
            within = w["seconds"] < 60 and w["peak_mb"] < 1024 and w["status"] in ("refused", "unreadable")
            ok &= within
            print(f"{name:10s} through the upload worker: {w['status']} in {w['seconds']:6.2f} s (start included)  "
                  f"peak {w['peak_mb']:7.1f} MB  {'ok' if within else 'OVER THE BAR'}")
            print(f"           -> {w['outcome']}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
