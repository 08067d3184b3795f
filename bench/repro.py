"""What every benchmark shares: the demo's seed and as-of date as arguments, and the one command that
reproduces its figures (printed first, so a figure copied from the output names its command)."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.engine import Engine

from services import db
from services.cli import iso_date, seed_command
from services.simulator import default_as_of


def add_demo_args(ap: argparse.ArgumentParser) -> None:
    """--seed and --as-of of the demo company a benchmark seeds (default: the last month-end before today)."""
    ap.add_argument("--seed", type=int, default=0, help="simulator seed")
    ap.add_argument("--as-of", type=iso_date, default=None,
                    help="YYYY-MM-DD the demo runs to; default: the last month-end before today")


def parse(ap: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse, pin the as-of date (so the printed command does not depend on the day) and print the command."""
    args = ap.parse_args(argv)
    if getattr(args, "as_of", "missing") is None:
        args.as_of = default_as_of()
    print(f"seed {args.seed}, as of {args.as_of}")
    print(f"Reproduce: {command(ap, args)}", flush=True)
    return args


def command(ap: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """`python bench/NAME.py ...` with every argument spelled out, defaults included."""
    parts = ["python", f"bench/{Path(sys.argv[0]).name}"]
    for action in ap._actions:
        if isinstance(action, argparse._HelpAction) or action.dest not in vars(args):
            continue
        value = getattr(args, action.dest)
        if not action.option_strings:
            parts.append(str(value))
        elif isinstance(action, argparse._StoreTrueAction):
            parts += [action.option_strings[0]] if value else []
        elif isinstance(value, list | tuple):
            parts += [action.option_strings[0], *map(str, value)]
        elif value is not None:
            parts += [action.option_strings[0], value.isoformat() if isinstance(value, dt.date) else str(value)]
    return shlex.join(parts)


def describe_database(engine: Engine) -> str:
    """The seed command of a demo database (from its truth_params), or what is known of other data."""
    if not db.table_exists("truth_params", engine):
        return "not a demo database (no truth_params): figures depend on the imported data"
    p = {k: json.loads(v) for k, v in db.read_table("truth_params", engine).set_index("key").value.items()}
    cmd = seed_command(p["accounts"], p["months"], p["seed"], dt.date.fromisoformat(p["as_of"]), p.get("drift_group"),
                       p.get("novel", 0), p.get("fiscal_start", 1))
    return f"demo seeded with: {cmd}"
