"""Benchmark: the generated companies that are not the demo (tests/fixtures/companies.py), imported into a
fresh SQLite file each and trained: each model's status and history layout, and the forecast at the start
of the quarter against last quarter's bookings on the same quarters (company and rep level; these companies
have one head of sales over reps, so no region level).

    .venv/bin/python bench/bench_companies.py [--only Ledgerly|Fleetwise] [--folder /tmp/companies]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import pandas as pd
from fixtures import companies

from services import db, jobs
from services.importer import import_frames
from services.scorecard import scorecard


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only")
    ap.add_argument("--folder", default=None)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print("Reproduce: python bench/bench_companies.py" + (f" --only {a.only}" if a.only else ""))
    folder = Path(a.folder or tempfile.mkdtemp(prefix="companies-"))
    for spec in companies.COMPANIES:
        if a.only and spec.name != a.only:
            continue
        path = folder / f"{spec.name}.db"
        path.unlink(missing_ok=True)
        engine = db.get_engine(f"sqlite:///{path}")
        db.ensure_schema(engine)
        frames = companies.generate(spec)
        frames.pop("truth")
        import_frames(frames, f"generated company {spec.name}", engine)
        results = jobs.train_all(engine, as_of=pd.Timestamp(spec.as_of), force=True)
        print(f"{spec.name}: {spec.months} months, stages {', '.join(spec.stages)}")
        for model, r in results.items():
            print(f"  {model}: {r['status']}" + (f" ({r['history_mode']} layout)" if r.get("history_mode") else "")
                  + (f" -- {r['note']}" if r.get("note") else ""))
        acc = scorecard(engine)["forecast"]["accuracy"]["current_quarter"]["week_00"]
        for level in ("company", "region", "rep"):
            lq = acc.get(level, {}).get("last_quarter")
            if not lq:
                print(f"  forecast, {level} level: none")
                continue
            print(f"  forecast, {level} level, start of quarter: WAPE {lq['model_wape_same_rows']:.3f} vs last "
                  f"quarter's bookings {lq['wape']:.3f} on the same {lq['n']} quarters x nodes")


if __name__ == "__main__":
    main()
