"""Expansion benchmark: over several seeds, seed a demo company, train adoption + expansion, print the table.

    python bench/bench_expansion.py                                   # seeds 1-5, 2,000 accounts, 36 months
    python bench/bench_expansion.py --seeds 1 2 --accounts 5000 --as-of 2026-10-31

Per seed: out-of-time AUC of the model, of the planted oracle (`truth_expansion.p_180d`), of the product
base rate and of a plain logistic regression on the same test rows; ECE; top-decile lift, pooled (against
the overall rate) and by product (within each product against that product's own rate, weighted by rows:
the lift the bar uses), of the model and of the planted oracle on the same rows; planted drivers among the
top ten explanation groups; train seconds; the Where to grow read of one rep (the largest book) in seconds.
Then the bars. Each seed uses its own SQLite file under /tmp (`--db-dir` for another folder).
`--backtest-only` runs the job's backtest (`services.expansion.job.fit_and_backtest`: the same model,
rows and metrics) without scoring, explaining and writing, and measures it against the same planted truth
(train s is then the backtest's seconds; no read is timed).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score

from services import db, jobs
from services.churn import features as cf
from services.cli import main as cli
from services.expansion import features as xf
from services.expansion import job as xj
from services.expansion import prospects, read
from services.expansion.scorecard import BARS, lifts, oracle_probability, prospect_oracle, recovered, section
from services.hierarchy import Scope


def backtest_only(engine, as_of: str) -> tuple[dict, float]:
    """The scorecard's figures from the job's backtest alone (no scores, contributions or writes)."""
    t0 = time.perf_counter()
    inputs = xf.load_inputs(engine, cf.load_inputs(engine))
    _, metrics, bt, _ = xj.fit_and_backtest(inputs, pd.Timestamp(as_of))
    seconds = time.perf_counter() - t0
    truth = db.truth_params(engine)
    with engine.connect() as conn:
        te = pd.read_sql(sa.text("SELECT account_id, product_id, month, p_180d FROM truth_expansion"), conn)
    drivers = sorted(set(truth.get("expansion_drivers", {})) | set(truth.get("cross_sell_drivers", {})))
    po = oracle_probability(bt, te)
    card = {**metrics, "auc_oracle": float(roc_auc_score(bt.label, po)), **lifts(bt, po),
            **recovered(metrics, drivers)}
    parts = xj.split_dates(pd.Timestamp(as_of), inputs.churn.month0.to_timestamp())
    _, pm, pbt = prospects.fit_and_backtest(prospects.load(engine), parts)
    card["prospects"] = pm
    if pm.get("status") == "fitted":
        with engine.connect() as conn:
            tp = pd.read_sql(sa.text("SELECT account_id, month, p_180d FROM truth_prospects"), conn)
        pm["auc_oracle"] = float(roc_auc_score(pbt.label, prospect_oracle(pbt, tp)))
    return card, seconds


def run_seed(seed: int, accounts: int, months: int, as_of: str, reuse: bool = False,
             backtest: bool = False, db_dir: str = "/tmp") -> dict:
    url = f"sqlite:///{Path(db_dir).resolve()}/bench_expansion_{accounts}_{months}_{as_of}_{seed}.db"
    path = Path(url.removeprefix("sqlite:///"))
    if not (reuse and path.exists()):  # --reuse: the same seed, size and as-of seeded and adoption trained
        path.unlink(missing_ok=True)
        cli(["--database-url", url, "seed", "--accounts", str(accounts), "--months", str(months), "--seed",
             str(seed), "--as-of", as_of])
        jobs.train_all(db.get_engine(url), only=["adoption"], force=True)
    engine = db.get_engine(url)
    if backtest:
        card, train_s = backtest_only(engine, as_of)
        result, read_s, rows = {"status": "backtest only"}, float("nan"), []
    else:
        t0 = time.perf_counter()
        result = jobs.train_all(engine, only=["expansion"], force=True)["expansion"]
        train_s = time.perf_counter() - t0
        card = section(engine)
        owners = db.read_table("accounts", engine, columns=["owner_id"]).owner_id.value_counts()
        t1 = time.perf_counter()
        rows = read.where_to_grow(engine, Scope(rep_id=owners.index[0]))
        read_s = time.perf_counter() - t1
    return {"seed": seed, "status": result["status"], "auc": card["auc"], "oracle": card["auc_oracle"],
            "base_rate": card["auc_baseline_base_rate"], "logreg": card["auc_baseline_logreg"], "ece": card["ece"],
            "lift": card["lift_top_decile"], "lift_oracle": card.get("lift_top_decile_oracle", float("nan")),
            "lift_p": card.get("lift_top_decile_by_product", float("nan")),
            "lift_p_oracle": card.get("lift_top_decile_by_product_oracle", float("nan")),
            "per_product": card.get("lift_top_decile_per_product", {}),
            "per_product_oracle": card.get("lift_top_decile_per_product_oracle", {}),
            "drivers": card["planted_drivers_recovered"],
            "found": ",".join(card["planted_drivers_found"]), "ranks": card.get("planted_driver_ranks", {}),
            "n_groups": card.get("n_groups"), "by_feature": card.get("planted_drivers_recovered_by_feature"), "train_s": train_s, "read_s": read_s,
            "rep_rows": len(rows), "prospects": card.get("prospects", {})}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--as-of", default="2026-10-31")
    ap.add_argument("--reuse", action="store_true", help="reuse a seed's database from an earlier run")
    ap.add_argument("--db-dir", default="/tmp", help="folder of the seeds' SQLite files (default /tmp)")
    ap.add_argument("--backtest-only", action="store_true", help="the job's backtest only (no scoring or writes)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"accounts={args.accounts} months={args.months} as_of={args.as_of}")
    print(f"command: python bench/bench_expansion.py --seeds {' '.join(map(str, args.seeds))} "
          f"--accounts {args.accounts} --months {args.months} --as-of {args.as_of}"
          + (" --reuse" if args.reuse else "") + (" --backtest-only" if args.backtest_only else "")
          + (f" --db-dir {args.db_dir}" if args.db_dir != "/tmp" else ""))
    rows = []
    for s in args.seeds:  # each seed's row as soon as it is measured
        rows.append(run_seed(s, args.accounts, args.months, args.as_of, args.reuse, args.backtest_only, args.db_dir))
        r = rows[-1]
        print(f"seed {r['seed']}: auc {r['auc']:.4f} oracle {r['oracle']:.4f} gap {r['oracle'] - r['auc']:+.4f} "
              f"base rate {r['base_rate']:.4f} logreg {r['logreg']:.4f} ece {r['ece']:.4f} lift {r['lift']:.2f} "
              f"(oracle {r['lift_oracle']:.2f}) lift by product {r['lift_p']:.2f} (oracle {r['lift_p_oracle']:.2f}) drivers {r['drivers']:.2f} ({r['found']}) train {r['train_s']:.1f}s read {r['read_s']:.2f}s",
              flush=True)
    out = rows
    head = (f"{'seed':>4} {'auc':>6} {'oracle':>6} {'gap':>6} {'base':>6} {'logreg':>6} {'ece':>6} {'lift':>5} "
            f"{'lift_o':>6} {'by_pr':>5} {'by_pr_o':>7} {'drivers':>7} {'train_s':>7} {'read_s':>6}  found")
    print(head)
    for r in out:
        print(f"{r['seed']:>4} {r['auc']:.4f} {r['oracle']:.4f} {r['oracle'] - r['auc']:+.4f} {r['base_rate']:.4f} "
              f"{r['logreg']:.4f} {r['ece']:.4f} {r['lift']:5.2f} {r['lift_oracle']:6.2f} {r['lift_p']:5.2f} "
              f"{r['lift_p_oracle']:7.2f} {r['drivers']:7.2f} {r['train_s']:7.1f} "
              f"{r['read_s']:6.2f}  {r['found']}")
    mean = {k: sum(r[k] for r in out) / len(out) for k in ("auc", "oracle", "base_rate", "logreg", "ece", "lift",
                                                          "lift_oracle", "lift_p", "lift_p_oracle", "drivers")}
    print(f"mean {mean['auc']:.4f} {mean['oracle']:.4f} {mean['oracle'] - mean['auc']:+.4f} {mean['base_rate']:.4f} "
          f"{mean['logreg']:.4f} {mean['ece']:.4f} {mean['lift']:5.2f} {mean['lift_oracle']:6.2f} {mean['lift_p']:5.2f} "
          f"{mean['lift_p_oracle']:7.2f} {mean['drivers']:7.2f}")
    print("top-decile lift within each product over its base rate (model / planted oracle, same rows):")
    for r in out:
        print(f"{r['seed']:>4} " + ", ".join(f"{k} {v:.2f} / {r['per_product_oracle'].get(k, float('nan')):.2f}"
                                            for k, v in r["per_product"].items()))
    print("planted drivers: rank of each among the explanation groups (grouped importance), and the older count "
          "over the top ten single features")
    for r in out:
        print(f"{r['seed']:>4} of {r['n_groups']} groups: " + ", ".join(f"{d} {k}" for d, k in r["ranks"].items())
              + f"; by feature {r['by_feature']:.2f}")
    print("prospects (lead score of lost prospects, out of time):")
    print(f"{'seed':>4} {'auc':>6} {'oracle':>6} {'gap':>6} {'logreg':>6} {'recency':>7} {'ece':>6} {'ece_lr':>6} "
          f"{'lift':>5} {'n_test':>6} {'rate':>5}")
    for r in out:
        p = r["prospects"]
        if p.get("status") != "fitted":
            print(f"{r['seed']:>4} {p.get('status', 'not run')}")
            continue
        print(f"{r['seed']:>4} {p['auc']:.4f} {p.get('auc_oracle', float('nan')):.4f} "
              f"{p.get('auc_oracle', float('nan')) - p['auc']:+.4f} {p['auc_baseline_logreg']:.4f} "
              f"{p['auc_baseline_recency']:7.4f} {p['ece']:.4f} {p['ece_baseline_logreg']:.4f} "
              f"{p['lift_top_decile']:5.2f} {p['n_test']:>6} {p['rate_test']:.3f}")
    print("bars (every seed): auc within 0.02 of oracle "
          f"{all(r['oracle'] - r['auc'] <= BARS['auc_gap_to_oracle'] for r in out)}; "
          f"ece <= 0.02 {all(r['ece'] <= BARS['ece'] for r in out)}; "
          f"lift by product >= 3 {all(r['lift_p'] >= BARS['lift_top_decile'] for r in out)} "
          f"(pooled lift >= 3 {all(r['lift'] >= BARS['lift_top_decile'] for r in out)}; the planted oracle's by "
          f"product >= 3 {all(r['lift_p_oracle'] >= BARS['lift_top_decile'] for r in out)}); "
          f"all planted drivers in top ten {all(r['drivers'] == 1.0 for r in out)}")


if __name__ == "__main__":
    main()
