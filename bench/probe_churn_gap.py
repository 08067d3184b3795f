"""Probe: why the churn model's renewal-window AUC stays 0.015-0.022 below the planted oracle (issue 12).

    python bench/probe_churn_gap.py --database-url sqlite:////tmp/h12/s2.db --as-of 2026-11-30
    (database seeded with `python -m services.cli seed --accounts 5000 --months 36 --seed 2 --as-of 2026-11-30`)

Same train/test rows as the churn backtest (`services.churn.job.plan`, `features.build`, `features.labelled`),
evaluated on the renewal window (next renewal within 6 months), every AUC against the same label as the
scorecard (`label_churn`), the oracle as the scorecard computes it (`scorecard.oracle_probability`: the planted
p_churn x 0.6 when a CSM acted before that renewal). Scores compared:

- pipeline logistic: `models.churn.logistic_baseline` on the pipeline's features (within 0.003 of the model);
- planted form, fitted: logistic regression on EXACTLY the planted hazard's observable inputs (`CHURN_DRIVERS`:
  capacity use months -8..-6 before the renewal, its change -9 -> -6, severity 1-2 cases months -11..-6, tenure
  at month -6, unit-price change over 12 months = the uplift at the previous renewal), all computed from the
  contract tables by the pipeline's own features, in the planted functional form (the hinge at activation
  0.35-0.55, severe cases x weak adoption, exp(-tenure/1.5), price x young account), coefficients fitted on the
  training rows' labels (no truth read at fit time);
- pipeline + planted form: the pipeline's features plus those planted-form terms;
- planted logit on observed inputs (diagnostic, NOT a model: the true coefficients applied to the observed
  inputs): how closely the contract tables reproduce the planted probability;
- oracle untreated: the planted p_churn without the action effect (what an untreated score can at best reach).

The gaps come with a paired bootstrap over accounts (200 draws) of oracle AUC - score AUC on the test rows.

ECE column: uncalibrated (the logistic fits' own probabilities; no Platt step), for comparing shapes only.

Measured (2026-12-02, seeds 2 and 3, --as-of 2026-11-30): README, section "Churn risk".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.churn import as_baseline_input, logistic_baseline
from models.churn_metrics import RENEWAL_WINDOW_DAYS, ece
from services import db
from services.churn import features as cf
from services.churn import job
from services.churn.scorecard import oracle_probability
from services.simulator.lifecycle import ACTION_EFFECT, churn_logit


def planted_inputs(rows: pd.DataFrame) -> pd.DataFrame:
    """The planted hazard's inputs from the pipeline's (contract-table) features, as the hazard reads them."""
    seat = "use_per_seat_pre_renewal"
    has_seat = rows[seat].notna() if seat in rows else pd.Series(False, index=rows.index)
    act = rows[seat].where(has_seat, rows.get("use_volume_pre_renewal"))
    trend = rows[f"{seat}_trend"].where(has_seat, rows.get("use_volume_pre_renewal_trend"))
    ren_m = pd.PeriodIndex(rows.renewal_date, freq="M").asi8
    mon = pd.PeriodIndex(rows.as_of + pd.Timedelta(days=1), freq="M").asi8 - 1
    anchor = np.minimum(ren_m - cf.PRE_RENEWAL_LAG, mon)
    tenure = rows.tenure_years + (anchor - mon) / 12.0
    return pd.DataFrame({"act": act.to_numpy(), "trend": trend.to_numpy(), "sev": rows.severe_pre_renewal.to_numpy(),
                         "tenure": tenure.to_numpy(), "price": rows.price_change_12m.to_numpy()}, index=rows.index)


def planted_design(x: pd.DataFrame, fill: pd.Series) -> pd.DataFrame:
    x = x.fillna(fill)
    weak = (x.act < 0.55).astype(float)
    young = (x.tenure < 3).astype(float)
    return pd.DataFrame({"act": x.act, "act_hinge": np.clip((0.55 - x.act) / 0.2, 0, 1), "trend": x.trend,
                         "sev_weak": x.sev * weak, "sev_strong": x.sev * (1 - weak),
                         "tenure_exp": np.exp(-x.tenure / 1.5), "price_young": x.price * young,
                         "price_old": x.price * (1 - young)}, index=x.index)


def paired_gap(y, oracle, score, accounts, draws=200, seed=0):
    uniq = pd.unique(accounts)
    pos = pd.Series(np.arange(len(uniq)), index=uniq).reindex(accounts).to_numpy()
    groups = [np.flatnonzero(pos == i) for i in range(len(uniq))]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        pick = np.concatenate([groups[i] for i in rng.integers(0, len(uniq), len(uniq))])
        if len(np.unique(y[pick])) < 2:
            continue
        out.append(roc_auc_score(y[pick], oracle[pick]) - roc_auc_score(y[pick], score[pick]))
    return np.percentile(out, [5, 95])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--as-of", required=True)
    args = ap.parse_args()
    engine = db.get_engine(args.database_url)
    as_of = pd.Timestamp(args.as_of)
    inputs = cf.load_inputs(engine)
    p = job.plan(as_of, inputs.month0)
    rows = cf.build(inputs, cf.month_ends(p.first, as_of), labels=True)
    fit = cf.labelled(rows[rows.as_of < p.test[0]], p.test[0])
    cols, _ = job.select_features(fit, p.mode)
    test = cf.labelled(rows[rows.as_of.isin(p.test)], as_of)
    test = test[test.days_to_renewal <= p.eval_months * 31]
    win = ((test.days_to_renewal >= 0) & (test.days_to_renewal <= RENEWAL_WINDOW_DAYS)).to_numpy()
    fit_win = (fit.days_to_renewal <= RENEWAL_WINDOW_DAYS).to_numpy()

    with engine.connect() as conn:
        ren = pd.read_sql(sa.text("SELECT account_id, renewal_date, p_churn, churned, acted FROM truth_renewals"), conn)
    ren["renewal_date"] = pd.to_datetime(ren["renewal_date"])
    bt = test.rename(columns={"as_of": "score_date"})
    oracle = oracle_probability(bt, ren, ACTION_EFFECT)
    untreated = oracle_probability(bt, ren, 0.0)

    scores: dict[str, np.ndarray] = {}
    plain = logistic_baseline(fit[cols]).fit(as_baseline_input(fit[cols]), fit.label_churn)
    scores["pipeline logistic (all fit rows)"] = plain.predict_proba(as_baseline_input(test[cols]))[:, 1]
    plain_w = logistic_baseline(fit[cols]).fit(as_baseline_input(fit[cols][fit_win]), fit.label_churn[fit_win])
    scores["pipeline logistic (fit window rows)"] = plain_w.predict_proba(as_baseline_input(test[cols]))[:, 1]

    x_fit, x_test = planted_inputs(fit), planted_inputs(test)
    fill = x_fit.median()
    d_fit, d_test = planted_design(x_fit, fill), planted_design(x_test, fill)
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=5000))
    lr.fit(d_fit[fit_win], fit.label_churn[fit_win])
    scores["planted form, fitted (fit window rows)"] = lr.predict_proba(d_test)[:, 1]
    lr_lin = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=5000))
    lin_cols = ["act", "trend", "sev", "tenure", "price"]
    lr_lin.fit(x_fit[lin_cols].fillna(fill)[fit_win], fit.label_churn[fit_win])
    scores["planted inputs, linear (fit window rows)"] = lr_lin.predict_proba(x_test[lin_cols].fillna(fill))[:, 1]
    both_fit = pd.concat([as_baseline_input(fit[cols]), d_fit.add_prefix("pf_")], axis=1)
    both_test = pd.concat([as_baseline_input(test[cols]), d_test.add_prefix("pf_")], axis=1)
    lb = logistic_baseline(both_fit).fit(both_fit[fit_win], fit.label_churn[fit_win])
    scores["pipeline + planted form (fit window rows)"] = lb.predict_proba(both_test)[:, 1]
    # the pipeline's features plus ONE planted-form term at a time (which missing form costs the AUC)
    base_fit, base_test = as_baseline_input(fit[cols]), as_baseline_input(test[cols])
    for term in ("act_hinge", "sev_weak", "price_young"):
        t_fit = pd.concat([base_fit, d_fit[[term]].add_prefix("pf_")], axis=1)
        t_test = pd.concat([base_test, d_test[[term]].add_prefix("pf_")], axis=1)
        m = logistic_baseline(t_fit).fit(t_fit[fit_win], fit.label_churn[fit_win])
        scores[f"pipeline + {term} (fit window rows)"] = m.predict_proba(t_test)[:, 1]
    three = ["act_hinge", "sev_weak", "price_young"]
    t_fit = pd.concat([base_fit, d_fit[three].add_prefix("pf_")], axis=1)
    t_test = pd.concat([base_test, d_test[three].add_prefix("pf_")], axis=1)
    m = logistic_baseline(t_fit).fit(t_fit[fit_win], fit.label_churn[fit_win])
    scores["pipeline + act_hinge, sev_weak, price_young (fit window rows)"] = m.predict_proba(t_test)[:, 1]
    print(f"pipeline features: {len(cols)}")
    for drop in d_fit.columns:
        keep = [c for c in d_fit.columns if c != drop]
        m = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=5000))
        m.fit(d_fit.loc[fit_win, keep], fit.label_churn[fit_win])
        scores[f"planted form without {drop}"] = m.predict_proba(d_test[keep])[:, 1]
    # generic (no planted knot): hinges of the pre-renewal capacity use at its 10th and 25th training percentiles
    knots = np.nanpercentile(x_fit.act[fit_win], [10, 25])
    print(f"planted knots 0.35/0.55 sit at training percentiles "
          f"{[round(float((x_fit.act[fit_win] < k).mean() * 100), 1) for k in (0.35, 0.55)]}; "
          f"generic knots (10th, 25th) = {np.round(knots, 3).tolist()}")
    def low_hinges(x):
        a = x.act.fillna(fill.act)
        return pd.DataFrame({f"act_below_{i}": np.maximum(0, k - a) for i, k in enumerate(knots)}, index=x.index)
    g_fit = pd.concat([as_baseline_input(fit[cols]), low_hinges(x_fit)], axis=1)
    g_test = pd.concat([as_baseline_input(test[cols]), low_hinges(x_test)], axis=1)
    lg = logistic_baseline(g_fit).fit(g_fit, fit.label_churn)
    scores["pipeline + 2 low hinges of pre-renewal use (all fit rows)"] = lg.predict_proba(g_test)[:, 1]
    # generic forms, no planted constant: hinges at the 10th and 20th percentiles of the window rows' pre-renewal
    # use, price change x 1/(1 + tenure), severe cases x (pre-renewal use below its window median)
    wk = np.nanpercentile(x_fit.act[fit_win], [10, 20])
    med = float(np.nanmedian(x_fit.act[fit_win]))
    def generic(x):
        a = x.act.fillna(fill.act)
        g = {f"act_below_p{q}": np.maximum(0, k - a) for q, k in zip((10, 20), wk)}
        g["price_by_young"] = x.price.fillna(0) / (1 + x.tenure.fillna(fill.tenure).clip(lower=0))
        g["sev_low_use"] = x.sev.fillna(0) * (a < med)
        return pd.DataFrame(g, index=x.index)
    g_fit = pd.concat([base_fit, generic(x_fit)], axis=1)
    g_test = pd.concat([base_test, generic(x_test)], axis=1)
    m = logistic_baseline(g_fit).fit(g_fit[fit_win], fit.label_churn[fit_win])
    scores["pipeline + generic forms (p10/p20 hinges, price/(1+tenure), severe x below-median use; window rows)"] = (
        m.predict_proba(g_test)[:, 1])
    h_fit = pd.concat([base_fit, generic(x_fit).iloc[:, :2]], axis=1)
    h_test = pd.concat([base_test, generic(x_test).iloc[:, :2]], axis=1)
    m = logistic_baseline(h_fit).fit(h_fit[fit_win], fit.label_churn[fit_win])
    scores["pipeline + p10/p20 hinges of pre-renewal use (window rows)"] = m.predict_proba(h_test)[:, 1]
    xt = x_test.fillna(fill)
    scores["planted logit on observed inputs (diagnostic)"] = churn_logit(
        xt.act.to_numpy(), xt.trend.to_numpy(), xt.sev.to_numpy(), xt.tenure.to_numpy(), xt.price.to_numpy())
    scores["oracle untreated (planted p, no action effect)"] = untreated

    y = test.label_churn.to_numpy()[win]
    acc = test.account_id.to_numpy()[win]
    o = oracle[win]
    auc_o = roc_auc_score(y, o)
    n_ren = test[win][["account_id", "renewal_date"]].drop_duplicates().shape[0]
    print(f"{args.database_url}  as of {as_of.date()}: fit rows {len(fit)} ({fit_win.sum()} in window), "
          f"test window rows {win.sum()} ({n_ren} renewals, {int(y.sum())} churned rows, "
          f"acted share {float(ren.acted.mean()):.3f} of planted renewals)")
    ow = untreated[win]
    planted_logit = np.log(ow / (1 - ow))
    obs_logit = scores["planted logit on observed inputs (diagnostic)"][win]
    print(f"corr(planted logit, planted logit on observed inputs) on test window rows: "
          f"{np.corrcoef(planted_logit, obs_logit)[0, 1]:.4f}; "
          f"share of rows with |diff| > 0.05: {float((np.abs(planted_logit - obs_logit) > 0.05).mean()):.3f}")
    print("| score | AUC window | gap to oracle | gap 90% interval (paired bootstrap, accounts) | ECE window |")
    print("|---|---|---|---|---|")
    print(f"| oracle (scorecard: p_churn x 0.6 if acted) | {auc_o:.3f} | - | - | {ece(y, o):.4f} |")
    for name, s in scores.items():
        s = np.asarray(s, float)[win]
        auc = roc_auc_score(y, s)
        lo, hi = paired_gap(y, o, s, acc)
        cal = ece(y, s) if np.all((s >= 0) & (s <= 1)) else float("nan")  # the diagnostic logit is not a probability
        print(f"| {name} | {auc:.3f} | {auc_o - auc:.3f} | {lo:.3f} .. {hi:.3f} | {cal:.4f} |")
    print("coefficients, planted form fitted (standardised):",
          dict(zip(d_fit.columns, np.round(lr[-1].coef_[0], 3))))


if __name__ == "__main__":
    main()
