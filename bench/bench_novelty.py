"""Novelty and interval benchmark: seed demos with planted novel accounts, train churn, print one table.

    python bench/bench_novelty.py --seeds 0 1 2 3 4 --accounts 2000 --novel 60 --as-of 2026-10-31
    python bench/bench_novelty.py --seeds 0 --reuse          # the seeded databases as they are
    python bench/bench_novelty.py --seeds 0 1 2 3 4 --reuse --expansion   # and expansion's flags

Per seed, on the churn scores at the as-of (`churn_confidence` joined with the simulator's `truth_novel`,
`truth_renewals`):
- catch: share of the planted novel accounts flagged (by kind too); flag rate on ordinary accounts;
- the hidden future (each account's next renewal after the as-of, within a year): log loss, Brier, AUC and
  calibration gap (mean probability - churn rate) of flagged vs not flagged rows, planted accounts included
  (they are what a flag is for), and of ordinary flagged rows alone;
- coverage of the planted churn probability (`truth_renewals.p_churn` of that renewal) by the interval on
  ordinary rows whose renewal is within 180 days (its drivers are observed by the as-of), and on all rows;
- the share of abstaining (`uncertain`) tiers. Bars: catch >= 0.90, ordinary flags <= 0.02, coverage >= 0.85.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro import command
from sklearn.metrics import roc_auc_score

from models import intervals
from services import db, jobs, registry
from services.churn import tables as T
from services.cli import iso_date
from services.cli import main as cli

BARS = {"catch": 0.90, "ordinary_flags": 0.02, "coverage": 0.85}


def _future(engine, as_of: pd.Timestamp) -> pd.DataFrame:
    """Churn scores and confidence at the as-of with the outcome and planted p of the next renewal."""
    scores = registry.read_results(engine, T.SCORES)
    conf = registry.read_results(engine, T.CONFIDENCE)
    scores, conf = scores[scores.score_date == as_of], conf[conf.score_date == as_of]
    df = scores.merge(conf.drop(columns=["model_version", "as_of"], errors="ignore"), on=["account_id", "score_date"])
    truth = db.read_table("truth_renewals", engine)
    truth["renewal_date"] = pd.to_datetime(truth.renewal_date)
    df["renewal_date"] = pd.to_datetime(df.renewal_date)
    df = df.merge(truth[["account_id", "renewal_date", "p_churn", "churned"]], on=["account_id", "renewal_date"],
                  how="left")
    planted = db.read_table("truth_novel", engine) if db.table_exists("truth_novel", engine) else pd.DataFrame(
        {"account_id": [], "kind": []})
    df["novel"] = df.novel.astype(bool)
    return df.merge(planted, on="account_id", how="left")


def _quality(d: pd.DataFrame) -> dict:
    d = d[d.churned.notna()]
    if len(d) < 5:
        return {"n": len(d)}
    y, p = d.churned.astype(float).to_numpy(), np.clip(d.probability.to_numpy(float), 1e-6, 1 - 1e-6)
    out = {"n": len(d), "log_loss": float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))),
           "brier": float(np.mean((y - p) ** 2)), "gap": float(p.mean() - y.mean())}
    out["auc"] = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return out


def _row_log_loss(d: pd.DataFrame) -> np.ndarray:
    y, p = d.churned.astype(float).to_numpy(), np.clip(d.probability.to_numpy(float), 1e-6, 1 - 1e-6)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _difference_ci(a: pd.DataFrame, b: pd.DataFrame, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """90% bootstrap interval of mean log loss of `a` minus that of `b` (rows with a known outcome)."""
    la, lb = _row_log_loss(a[a.churned.notna()]), _row_log_loss(b[b.churned.notna()])
    if len(la) < 5 or len(lb) < 5:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    d = [rng.choice(la, len(la)).mean() - rng.choice(lb, len(lb)).mean() for _ in range(n)]
    return float(np.quantile(d, 0.05)), float(np.quantile(d, 0.95))


def evaluate(engine, as_of: pd.Timestamp) -> dict:
    df = _future(engine, as_of)
    r = _evaluate(df)
    r["_rows"] = df[["novel", "kind", "churned", "probability"]]
    return r


def _evaluate(df: pd.DataFrame) -> dict:
    planted, ordinary = df[df.kind.notna()], df[df.kind.isna()]
    r = {"n_scored": len(df), "n_planted": len(planted), "catch": float(planted.novel.mean()),
         "ordinary_flags": float(ordinary.novel.mean()),
         "uncertain": float((df.tier_confident == intervals.UNCERTAIN).mean())}
    r.update({f"catch_{k}": float(g.novel.mean()) for k, g in planted.groupby("kind")})
    r["flagged"], r["not_flagged"] = _quality(df[df.novel]), _quality(df[~df.novel])
    r["ordinary_flagged"] = _quality(ordinary[ordinary.novel])
    r["log_loss_diff_ci"] = _difference_ci(df[df.novel], df[~df.novel])
    r["ordinary_log_loss_diff_ci"] = _difference_ci(ordinary[ordinary.novel], ordinary[~ordinary.novel])
    known = ordinary[ordinary.p_churn.notna() & ~ordinary.novel]
    window = known[known.days_to_renewal <= 180]
    r["coverage_window"] = intervals.coverage(window.probability_low, window.probability_high, window.p_churn)
    r["coverage_all"] = intervals.coverage(known.probability_low, known.probability_high, known.p_churn)
    r["n_coverage_window"] = len(window)
    r["abs_error_window"] = float((window.probability - window.p_churn).abs().median())
    r["width_window"] = float((window.probability_high - window.probability_low).median())
    return r


def evaluate_expansion(engine, as_of: pd.Timestamp) -> dict:
    """Catch and ordinary flag rates on the expansion rows (account x product) at the as-of."""
    from services.expansion import tables as XT

    conf = registry.read_results(engine, XT.CONFIDENCE)
    conf = conf[pd.to_datetime(conf.score_date) == as_of]
    conf["novel"] = conf.novel.astype(bool)
    planted = set(db.read_table("truth_novel", engine).account_id) if db.table_exists("truth_novel", engine) else set()
    is_planted = conf.account_id.isin(planted)
    return {"x_catch": float(conf.novel[is_planted].mean()), "x_ordinary_flags": float(conf.novel[~is_planted].mean()),
            "x_rows": len(conf)}


def run_seed(args: argparse.Namespace, seed: int) -> dict:
    url = f"sqlite:////tmp/bench_novelty_{args.accounts}_{args.months}m_{args.as_of}_n{args.novel}_s{seed}.db"
    path = Path(url.removeprefix("sqlite:///"))
    if not (args.reuse and path.exists()):
        path.unlink(missing_ok=True)
        cli(["--database-url", url, "seed", "--accounts", str(args.accounts), "--months", str(args.months),
             "--seed", str(seed), "--as-of", args.as_of.isoformat(), "--novel", str(args.novel)])
    engine = db.get_engine(url)
    t0, c0 = time.perf_counter(), time.process_time()
    if not (args.reuse and registry.active_version(engine, T.MODEL) is not None):
        jobs.train_all(engine, only=["churn"], force=True)
    out = {"seed": seed, "train_s": time.perf_counter() - t0, "train_cpu_s": time.process_time() - c0,
           **evaluate(engine, pd.Timestamp(args.as_of))}
    if args.expansion:
        if not (args.reuse and registry.active_version(engine, "expansion") is not None):
            jobs.train_all(engine, only=["adoption", "expansion"], force=True)
        out.update(evaluate_expansion(engine, pd.Timestamp(args.as_of)))
    return out


def f(x, spec: str = ".3f") -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def table(results: list[dict]) -> str:
    head = ("| seed | planted | catch | new market | ARR | usage | ordinary flags | uncertain | log loss flagged (n) "
            "| not flagged | diff 90% CI | AUC flagged | not | gap flagged | not | ordinary flagged log loss (n) "
            "| ordinary diff 90% CI "
            "| coverage 0-6m (n) | all | median abs err | median width | train s (CPU) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        fl, nf, of = r["flagged"], r["not_flagged"], r["ordinary_flagged"]
        lines.append(
            f"| {r['seed']} | {r['n_planted']} | {f(r['catch'])} | {f(r.get('catch_new_market'))} "
            f"| {f(r.get('catch_arr_out_of_range'))} | {f(r.get('catch_new_usage'))} | {f(r['ordinary_flags'])} "
            f"| {f(r['uncertain'])} | {f(fl.get('log_loss'))} ({fl['n']}) | {f(nf.get('log_loss'))} "
            f"| {f(r['log_loss_diff_ci'][0], '+.3f')}..{f(r['log_loss_diff_ci'][1], '+.3f')} "
            f"| {f(fl.get('auc'))} | {f(nf.get('auc'))} | {f(fl.get('gap'), '+.3f')} | {f(nf.get('gap'), '+.3f')} "
            f"| {f(of.get('log_loss'))} ({of['n']}) "
            f"| {f(r['ordinary_log_loss_diff_ci'][0], '+.3f')}..{f(r['ordinary_log_loss_diff_ci'][1], '+.3f')} "
            f"| {f(r['coverage_window'])} ({r['n_coverage_window']}) "
            f"| {f(r['coverage_all'])} | {f(r['abs_error_window'])} | {f(r['width_window'])} | {r['train_s']:.0f} "
            f"({r['train_cpu_s']:.0f}) |")
    return "\n".join(lines)


def pooled(results: list[dict]) -> str:
    """Flagged against not flagged rows of every seed together (each seed's rows on its own demo)."""
    df = pd.concat([r["_rows"] for r in results], ignore_index=True)
    out = []
    for name, d in (("all rows", df), ("ordinary rows", df[df.kind.isna()])):
        fl, nf = _quality(d[d.novel]), _quality(d[~d.novel])
        lo, hi = _difference_ci(d[d.novel], d[~d.novel])
        out.append(f"pooled over seeds {[r['seed'] for r in results]}, {name}: log loss flagged {f(fl.get('log_loss'))} "
                   f"(n {fl['n']}) vs not {f(nf.get('log_loss'))} (n {nf['n']}), difference 90% CI {f(lo, '+.3f')}.."
                   f"{f(hi, '+.3f')}; AUC flagged {f(fl.get('auc'))} vs not {f(nf.get('auc'))}")
    return "\n".join(out)


def bars(results: list[dict]) -> str:
    ok = {"catch": all(r["catch"] >= BARS["catch"] for r in results),
          "ordinary_flags": all(r["ordinary_flags"] <= BARS["ordinary_flags"] for r in results),
          "coverage": all(r["coverage_window"] >= BARS["coverage"] for r in results),
          "flagged_worse_log_loss": all(r["log_loss_diff_ci"][0] > 0 for r in results)}
    return ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in ok.items())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--novel", type=int, default=60, help="planted novel accounts per demo")
    ap.add_argument("--as-of", type=iso_date, default=iso_date("2026-10-31"))
    ap.add_argument("--reuse", action="store_true", help="reuse seeded and trained databases")
    ap.add_argument("--expansion", action="store_true", help="also train adoption + expansion and report its flags")
    args = ap.parse_args()
    print(f"Reproduce: {command(ap, args)}", flush=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    results = []
    for seed in args.seeds:
        results.append(run_seed(args, seed))
        print(f"seed {seed}: catch {results[-1]['catch']:.3f}, ordinary flags {results[-1]['ordinary_flags']:.3f}",
              flush=True)
    print(f"\naccounts={args.accounts} months={args.months} novel={args.novel} as_of={args.as_of}; bars: catch >= "
          f"{BARS['catch']}, ordinary flags <= {BARS['ordinary_flags']}, coverage 0-6m >= {BARS['coverage']}")
    print(table(results))
    print("bars:", bars(results))
    if len(results) > 1:
        print(pooled(results))
    if args.expansion:
        print("\n| seed | expansion rows | catch (planted accounts' rows) | ordinary flags |\n|---|---|---|---|")
        for r in results:
            print(f"| {r['seed']} | {r['x_rows']} | {f(r['x_catch'])} | {f(r['x_ordinary_flags'])} |")


if __name__ == "__main__":
    main()
