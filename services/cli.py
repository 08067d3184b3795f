"""Command line: `python -m services.cli {seed,import,export,train,refresh,models,churn-fit,explanation,scorecard}`.

Progress goes to stderr (logging), results to stdout. Exit codes: 0 success, 1 rejected input
(contract violation, unreadable files) or a failed step, 2 database unavailable or bad usage, 3 another
import, train or refresh holds the data lock (nothing was changed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from services import audit, contract, db, joblock
from services.csv_out import safe_frame
from services.fiscal import COLUMN, check_start_month
from services.importer import (
    ContractViolation,
    ImportFileError,
    import_frames,
    import_source,
)

log = logging.getLogger("services.cli")


def _print_counts(counts: dict[str, int]) -> None:
    width = max((len(t) for t in counts), default=0)
    for table, n in counts.items():
        print(f"  {table:<{width}}  {n:>12,}")


def _audit(args: argparse.Namespace, engine: Engine, action: str, **details: object) -> None:
    """Record a command in the audit log: who is --as PERSON_ID, else the operating-system user."""
    audit.record(engine, args.as_person or audit.os_user(), action, **details)


def cmd_seed(args: argparse.Namespace, engine: Engine) -> int:
    if args.if_empty and db.read_table("accounts", engine, columns=["account_id"]).shape[0]:
        print("The database already holds accounts; not seeding (drop --if-empty to replace them).")
        return 0
    from services.simulator import default_as_of, generate  # lazy: the simulator is heavy and optional

    as_of = args.as_of or default_as_of()
    log.info("Generating the demo company: %s accounts, %s months, seed %s, as of %s...",
             f"{args.accounts:,}", args.months, args.seed, as_of)
    t0 = time.perf_counter()
    try:
        frames = generate(accounts=args.accounts, months=args.months, seed=args.seed, as_of=as_of,
                          drift=args.drift, novel=args.novel, fiscal_start=args.fiscal_start)
    except ValueError as exc:  # the simulator rejects its arguments
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log.info("Generated in %.1fs", time.perf_counter() - t0)
    source = f"demo seed: accounts={args.accounts} months={args.months} seed={args.seed} as_of={as_of}" + (
        f" drift={args.drift}" if args.drift else "") + (f" novel={args.novel}" if args.novel else "") + (
        f" fiscal_start={args.fiscal_start}" if args.fiscal_start != 1 else "")
    data = {k: v for k, v in frames.items() if k in contract.SPECS}
    extra = {k: v for k, v in frames.items() if k not in contract.SPECS}
    report = import_frames(data, source, engine, extra_tables=extra)
    _audit(args, engine, "import", source=source, row_counts=report.row_counts)
    print(f"Seeded the demo company into {db.mask_url(engine.url)}:")
    _print_counts(report.row_counts)
    print(f"Reproduce: {seed_command(args.accounts, args.months, args.seed, as_of, args.drift, args.novel, args.fiscal_start)}")
    return 0


def seed_command(accounts: int, months: int, seed: int, as_of: dt.date, drift: str | None = None,
                 novel: int = 0, fiscal_start: int = 1) -> str:
    """The one command that seeds exactly this demo company again, on any day."""
    return (f"python -m services.cli seed --accounts {accounts} --months {months} --seed {seed} "
            f"--as-of {as_of.isoformat()}" + (f" --drift {drift}" if drift else "")
            + (f" --novel {novel}" if novel else "") + (f" --fiscal-start {fiscal_start}" if fiscal_start != 1 else ""))


def fiscal_month(text: str) -> int:
    """argparse type: a month number 1-12 (the first month of the fiscal year), or a clear error."""
    try:
        return check_start_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace(COLUMN, "--fiscal-start")) from None


def iso_date(text: str) -> dt.date:
    """argparse type: a YYYY-MM-DD date, or a clear error."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-06-30") from None


def cmd_import(args: argparse.Namespace, engine: Engine) -> int:
    report = import_source(args.source, engine, allow_shrink=args.allow_shrink, mapping_file=args.mapping)
    _audit(args, engine, "import", source=str(args.source), row_counts=report.row_counts)
    print(f"Imported {args.source} into {db.mask_url(engine.url)}:")
    _print_counts(report.row_counts)
    return 0


def cmd_export(args: argparse.Namespace, engine: Engine) -> int:
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    for spec in contract.TABLES:
        df = db.read_table(spec.name, engine)
        for col in spec.columns:
            if col.kind == "date":
                df[col.name] = df[col.name].dt.strftime("%Y-%m-%d")
            elif col.kind == "datetime":
                df[col.name] = df[col.name].dt.strftime("%Y-%m-%dT%H:%M:%S")
            elif col.kind == "bool":
                df[col.name] = df[col.name].map({True: "true", False: "false"})
        safe_frame(df).to_csv(folder / f"{spec.name}.csv", index=False)  # no cell runs as a formula
        log.info("wrote %s (%s rows)", folder / f"{spec.name}.csv", f"{len(df):,}")
    print(f"Exported {len(contract.TABLES)} tables to {folder}")
    return 0


def cmd_train(args: argparse.Namespace, engine: Engine) -> int:
    from services import jobs  # lazy: imports every model job
    kwargs = {"as_of": pd.Timestamp(args.as_of)} if args.as_of else {}
    result = jobs.train_all(engine, only=args.model or None, force=args.force, **kwargs)
    _audit(args, engine, "train", models=args.model or "all", force=bool(args.force),
           results={m: {"version": r.get("version"), "status": r["status"]} for m, r in result.items()})
    print(json.dumps(result, indent=2, default=str))
    for model, r in result.items():
        if r["status"] != "active":
            print(f"{model}: {r['status']}: {r['note']}", file=sys.stderr)
    return 1 if any(r["status"] == "failed" for r in result.values()) else 0


def cmd_refresh(args: argparse.Namespace, engine: Engine) -> int:
    from services.refresh import refresh  # lazy: imports every model job

    source = args.source_url or args.source
    try:
        result = refresh(engine, source, deliver=not args.no_send, force=args.force)
    except LookupError as exc:  # no data yet: nothing to train or alert on
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _audit(args, engine, "refresh", source=str(source) if source else None, run_id=result["run_id"],
           status=result["status"])
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["status"] == "success" else 1


def cmd_models(args: argparse.Namespace, engine: Engine) -> int:
    from services import registry  # lazy: joblib

    if args.action == "list":
        v = registry.versions(engine, args.model)
        if v.empty:
            print("No model versions yet: run `python -m services.cli train`.")
            return 0
        v["key_metrics"] = v.metrics.map(registry.metrics_summary)
        cols = ["model", "version", "status", "created_at", "as_of", "code_version", "key_metrics", "note"]
        print(v[cols].to_string(index=False, max_colwidth=70))
        return 0
    try:
        if args.action == "activate":
            if not args.version:
                print("error: models activate needs a VERSION (see `models list`)", file=sys.stderr)
                return 2
            model = registry.activate(engine, args.version)
            _audit(args, engine, "activate", version=args.version, model=model)
            print(f"Activated {args.version} ({model}).")
            return 0
        models = [args.model] if args.model else sorted(registry.versions(engine).model.unique())
        for model in models:
            back_to = registry.rollback(engine, model)
            _audit(args, engine, "rollback", model=model, version=back_to)
            print(f"{model}: rolled back to {back_to}")
    except (LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_scorecard(args: argparse.Namespace, engine: Engine) -> int:
    from services.scorecard import scorecard

    card = scorecard(engine)
    print(json.dumps(card, indent=2 if not args.json else None, default=str))
    return 1 if any(isinstance(v, dict) and "error" in v for v in card.values()) else 0


def cmd_churn_fit(args: argparse.Namespace, engine: Engine) -> int:
    from services.churn.custom import TableError, run_custom

    try:
        result = run_custom(engine, args.table, args.id, args.label)
    except TableError as exc:
        print(f"Rejected: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


SCALES = {"churn": "log-odds of churn", "winprob": "log-odds of winning", "adoption_margin":
          "squared-distance margin to the runner-up cluster", "forecast_node": "USD"}


def cmd_explanation(args: argparse.Namespace, engine: Engine) -> int:
    """A stored explanation as a `shap.Explanation`: a printed summary, and pickled to --out."""
    import pickle

    from models.explain import prediction, to_shap
    from services import feature_catalog
    from services.explain import read as explain_read

    missing = (f"error: no stored {args.model} explanation for subject {args.subject!r}; check the id, "
               "or run `python -m services.cli train`")
    try:
        expl = (explain_read.forecast_node(engine, args.subject) if args.model == "forecast_node"
                else explain_read.stored(engine, args.model, args.subject))
    except LookupError:
        expl = None
    if expl is None or expl.empty:
        print(missing, file=sys.stderr)
        return 1
    explanation = to_shap(expl)
    labels = feature_catalog.labels(list(expl.feature.unique())) if args.model != "forecast_node" else {}
    base, total = float(expl.base_value.iloc[0]), float(prediction(expl).iloc[0])
    print(f"{args.model} explanation of {args.subject} ({SCALES[args.model]}): "
          f"base {base:+.4f} + contributions {total - base:+.4f} = {total:+.4f}")
    order = expl.reindex(expl.contribution.abs().sort_values(ascending=False).index)
    for r in order.itertuples():
        value = "" if pd.isna(r.value) else f" (value {r.value:.4g})"
        print(f"  {r.contribution:+.4f}  {labels.get(r.feature, r.feature)} [{r.feature}]{value}")
    if args.out:
        with open(args.out, "wb") as fh:
            pickle.dump(explanation, fh)
        print(f"Wrote a shap.Explanation to {args.out}: `e = pickle.load(open('{args.out}', 'rb'))`, "
              "then e.g. `shap.plots.waterfall(e)` (shap's plots need matplotlib)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.cli", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="overrides FORESIGHT_DATABASE_URL")
    parser.add_argument("--as", dest="as_person", default=None, metavar="PERSON_ID",
                        help="who the audit log names for this command (default: the OS user)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed", help="generate the demo company and load it (replaces the data)")
    seed.add_argument("--accounts", type=int, default=5000)
    seed.add_argument("--months", type=int, default=36)
    seed.add_argument("--seed", type=int, default=0)
    seed.add_argument("--drift", default=None, help="plant drift in this feature group")
    seed.add_argument("--novel", type=int, default=0,
                      help="plant this many recent accounts unlike any training row (truth_novel)")
    seed.add_argument("--as-of", type=iso_date, default=None,
                      help="YYYY-MM-DD the data runs to; default: the last month-end before today")
    seed.add_argument("--if-empty", action="store_true", help="do nothing if accounts exist")
    seed.add_argument("--fiscal-start", type=fiscal_month, default=1, metavar="MONTH",
                      help="first month of the company's fiscal year, 1-12 (default 1: calendar quarters; "
                           "2: the year starts in February)")
    imp = sub.add_parser("import", help="validate a folder or zip of CSV files and load it")
    imp.add_argument("source", help="folder of <table>.csv files, or a .zip of them")
    imp.add_argument("--mapping", metavar="FILE.toml",
                     help="a mapping file from the source's tables and columns to the contract "
                          "(e.g. mappings/salesforce.toml)")
    imp.add_argument("--allow-shrink", action="store_true",
                     help="replace even if the import removes more than FORESIGHT_IMPORT_MAX_SHRINK (50%%) of the rows")
    exp = sub.add_parser("export", help="write the contract tables as CSV files")
    exp.add_argument("folder")
    train = sub.add_parser("train", help="fit, score and store every installed model")
    train.add_argument("--as-of", default=None)
    train.add_argument("--force", action="store_true", help="activate even if the quality gate rejects")
    train.add_argument("--model", action="append", help="train only this model (repeatable)")
    ref = sub.add_parser("refresh", help="append new data, retrain what changed, compute events, send alerts")
    ref.add_argument("source", nargs="?", default=None, help="folder or .zip of new CSV files (optional)")
    ref.add_argument("--source", dest="source_url", default=None, metavar="URL", help="fetch a .zip from an http(s) URL")
    ref.add_argument("--no-send", action="store_true", help="fill the outbox but send nothing")
    ref.add_argument("--force", action="store_true", help="activate retrained models even if the gate rejects")
    models = sub.add_parser("models", help="model versions: list, activate VERSION, rollback")
    models.add_argument("action", choices=["list", "activate", "rollback"])
    models.add_argument("version", nargs="?", help="the version to activate")
    models.add_argument("--model", default=None, help="only this model (list, rollback)")
    cfit = sub.add_parser("churn-fit", help="churn pipeline on your own feature table (5-fold out-of-fold)")
    cfit.add_argument("--table", required=True, help="a CSV file or a table in the database")
    cfit.add_argument("--id", required=True, help="the account id column (unique)")
    cfit.add_argument("--label", required=True, help="the binary churn label column")
    ex = sub.add_parser("explanation", help="a stored explanation as a shap.Explanation (summary; --out pickles it)")
    ex.add_argument("--model", required=True, choices=sorted(SCALES), help="the explained model")
    ex.add_argument("--subject", required=True, help="account, opportunity or person id")
    ex.add_argument("--out", default=None, help="write the shap.Explanation here (pickle)")
    card = sub.add_parser("scorecard", help="print the scorecard as JSON")
    card.add_argument("--json", action="store_true", help="compact one-line JSON")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace, Engine], int]] = {
    "seed": cmd_seed, "import": cmd_import, "export": cmd_export, "train": cmd_train, "refresh": cmd_refresh,
    "scorecard": cmd_scorecard, "models": cmd_models, "churn-fit": cmd_churn_fit, "explanation": cmd_explanation,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        engine = db.get_engine(args.database_url)
        return COMMANDS[args.command](args, engine)
    except db.DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ContractViolation as exc:
        print(f"Rejected: the data breaks the contract; nothing was changed.\n{exc.report.format()}",
              file=sys.stderr)
        return 1
    except ImportFileError as exc:
        print(f"Rejected: {exc}; nothing was changed.", file=sys.stderr)
        return 1
    except joblock.Busy as exc:
        print(f"Busy: {exc}; nothing was changed.", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
