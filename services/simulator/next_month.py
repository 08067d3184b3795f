"""The demo's next month, for `refresh`: the company one month-end later, and the rows that month changed.

`generate(as_of=NEXT)` simulates the company up to NEXT; `cut(frames, PREV)` hides what happened after PREV
(usage months, deal changes and their current state, cases opened or closed, accounts, subscriptions and
commits that came later), so `cut(generate(NEXT), PREV)` is the same company one month earlier. `delta`
keeps the rows of NEXT that are new or changed since PREV: what a nightly export would hand `refresh`.

    python -m services.simulator.next_month --accounts 1500 --months 24 --seed 0 --as-of 2026-11-30 \\
        --seed-previous --out data/next-month
seeds the database with the company as of the month-end before 2026-11-30 and writes the next month's
files to data/next-month; then `python -m services.cli refresh data/next-month` appends them.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

from services.simulator import generate

CLOSED = ("Closed Won", "Closed Lost")
log = logging.getLogger(__name__)


def previous_month_end(as_of: pd.Timestamp) -> pd.Timestamp:
    return (pd.Timestamp(as_of).normalize().replace(day=1) - pd.Timedelta(days=1)).normalize()


def cut(frames: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The frames as they were at `as_of` (contract tables, csm_actions and truth_params; other truth kept)."""
    as_of = pd.Timestamp(as_of).normalize()
    f = {k: v.copy() for k, v in frames.items()}
    month_start = as_of.replace(day=1) if as_of.is_month_end else as_of.replace(day=1) - pd.DateOffset(months=1)
    f["usage_monthly"] = f["usage_monthly"][f["usage_monthly"].month <= month_start]
    hist = f["opportunity_history"]
    hist = hist[hist.snapshot_date <= as_of]
    f["opportunity_history"] = hist
    opp = f["opportunities"]
    opp = opp[opp.created_date <= as_of].copy()
    state = hist.sort_values("snapshot_date").groupby("opportunity_id", observed=True).last()
    state.index = state.index.astype(str)
    known = opp.opportunity_id.isin(state.index)
    opp = opp[known].copy()
    s = state.loc[opp.opportunity_id]
    for col in ("stage", "amount_usd", "close_date", "forecast_category"):
        opp[col] = s[col].to_numpy()
    opp["is_closed"] = opp.stage.isin(CLOSED)
    opp["is_won"] = opp.stage == "Closed Won"
    f["opportunities"] = opp.reset_index(drop=True)
    cases = f["support_cases"]
    cases = cases[cases.opened_date <= as_of].copy()
    later = cases.closed_date > as_of
    cases.loc[later, "closed_date"] = pd.NaT
    cases.loc[later, "csat"] = pd.NA
    f["support_cases"] = cases
    f["subscriptions"] = f["subscriptions"][f["subscriptions"].start_date <= as_of]
    if "commits" in f:
        f["commits"] = f["commits"][pd.to_datetime(f["commits"].submitted_at) <= as_of + pd.Timedelta(days=1)]
    if "csm_actions" in f:
        f["csm_actions"] = f["csm_actions"][pd.to_datetime(f["csm_actions"].created_at) <= as_of + pd.Timedelta(days=1)]
    used = set(f["opportunities"].account_id) | set(f["subscriptions"].account_id)
    acc = f["accounts"]
    f["accounts"] = acc[(acc.created_date <= as_of) | acc.account_id.isin(used)]
    keep = set(f["accounts"].account_id)
    for name in ("subscriptions", "usage_monthly", "support_cases", "opportunities", "csm_actions"):
        if name in f:
            f[name] = f[name][f[name].account_id.isin(keep)]
    f["opportunity_history"] = f["opportunity_history"][
        f["opportunity_history"].opportunity_id.astype(str).isin(set(f["opportunities"].opportunity_id))]
    if "truth_params" in f:
        tp = f["truth_params"].copy()
        tp.loc[tp.key == "as_of", "value"] = f'"{as_of.date()}"'
        f["truth_params"] = tp
    return {k: v.reset_index(drop=True) for k, v in f.items()}


def delta(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Rows of `after` not in `before` exactly (new or changed)."""
    a = after.astype(str)
    b = set(map(tuple, before[after.columns].astype(str).itertuples(index=False)))
    return after[[tuple(r) not in b for r in a.itertuples(index=False)]].reset_index(drop=True)


def write_csvs(frames: dict[str, pd.DataFrame], folder: Path) -> None:
    from services import contract
    from services.csv_out import safe_frame

    folder.mkdir(parents=True, exist_ok=True)
    for spec in contract.TABLES:
        if spec.name not in frames:
            continue
        df = frames[spec.name].copy()
        for col in spec.columns:
            if col.kind == "date" and col.name in df:
                df[col.name] = pd.to_datetime(df[col.name]).dt.strftime("%Y-%m-%d")
            elif col.kind == "datetime" and col.name in df:
                df[col.name] = pd.to_datetime(df[col.name]).dt.strftime("%Y-%m-%dT%H:%M:%S")
            elif col.kind == "bool" and col.name in df:
                df[col.name] = df[col.name].map({True: "true", False: "false"})
        safe_frame(df).to_csv(folder / f"{spec.name}.csv", index=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.simulator.next_month", description=__doc__.split("\n")[0])
    p.add_argument("--accounts", type=int, default=1500)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--as-of", required=True, help="the new month-end, YYYY-MM-DD")
    p.add_argument("--out", required=True, help="folder for the next month's CSV files")
    p.add_argument("--seed-previous", action="store_true",
                   help="also load the company as of the month-end before into the database (replaces the data)")
    p.add_argument("--database-url", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    nxt = pd.Timestamp(args.as_of)
    full = generate(accounts=args.accounts, months=args.months, seed=args.seed, as_of=nxt.date())
    prev = cut(full, previous_month_end(nxt))
    from services import contract

    write_csvs({s.name: delta(prev[s.name], full[s.name]) for s in contract.TABLES}, Path(args.out))
    print(f"Wrote the rows of {nxt.date()}'s month to {args.out}")
    if args.seed_previous:
        from services import db
        from services.importer import import_frames

        engine = db.get_engine(args.database_url)
        data = {k: v for k, v in prev.items() if k in contract.SPECS}
        extra = {k: v for k, v in prev.items() if k not in contract.SPECS}
        source = (f"demo next_month: accounts={args.accounts} months={args.months} seed={args.seed} "
                  f"as_of={previous_month_end(nxt).date()} (cut of {nxt.date()})")
        import_frames(data, source, engine, extra_tables=extra)
        print(f"Seeded the company as of {previous_month_end(nxt).date()} into {db.mask_url(engine.url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
