"""Accuracy of the backtest rows: WAPE and bias per horizon, week and level for the model, every
baseline and (on demo data) the oracle, the model's ratio to the best baseline on the same rows (and the
oracle's, `oracle.vs_best_baseline`: where it is not well under a bar, the bar cannot be met), and
P10-P90 coverage per horizon and level. Only `ALL`-product rows are scored."""
from __future__ import annotations

import numpy as np
import pandas as pd

METHODS = {"model": "p50_usd", "pipeline_method": "pipeline_method_usd", "last_quarter": "last_quarter_usd",
           "same_quarter_last_year": "same_quarter_last_year_usd", "commit": "commit_usd",
           "oracle": "oracle_usd"}
BASELINES = ("pipeline_method", "last_quarter", "same_quarter_last_year")
LEVELS = {"cro": "company", "regional_vp": "region", "manager": "manager", "rep": "rep"}
HORIZONS = {0: "current_quarter", 1: "next_quarter", 2: "quarter_after"}


def wape_bias(actual: pd.Series, forecast: pd.Series) -> dict:
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    denom = np.abs(a).sum()
    if denom == 0 or len(a) == 0:
        return {"wape": None, "bias": None, "n": len(a)}
    return {"wape": float(np.abs(f - a).sum() / denom), "bias": float((f - a).sum() / denom), "n": len(a)}


def cell(rows: pd.DataFrame) -> dict:
    """Every method on its own rows, and the model against the best baseline and the oracle on theirs."""
    out = {}
    for method, col in METHODS.items():
        if col not in rows or rows[col].notna().sum() == 0:
            continue
        r = rows[rows[col].notna()]
        out[method] = wape_bias(r.actual_usd, r[col])
        if method != "model":
            out[method]["model_wape_same_rows"] = wape_bias(r.actual_usd, r.p50_usd)["wape"]
    cands = [b for b in BASELINES if b in out and out[b]["wape"] is not None and out[b]["n"] >= len(rows) / 2]
    if cands:
        best = min(cands, key=lambda b: out[b]["wape"])
        out["best_baseline"] = {"method": best, "ratio": _ratio(out[best])}
    if "oracle" in out:
        out["oracle"]["ratio"] = _ratio(out["oracle"])
        if "best_baseline" in out:  # can the bar be met at all: the oracle over the best baseline, same rows
            col = METHODS[out["best_baseline"]["method"]]
            r = rows[rows.oracle_usd.notna() & rows[col].notna()]
            o, b = wape_bias(r.actual_usd, r.oracle_usd)["wape"], wape_bias(r.actual_usd, r[col])["wape"]
            out["oracle"]["vs_best_baseline"] = o / b if o is not None and b else None
    return out


def _ratio(m: dict) -> float | None:
    return None if not m["wape"] or m["model_wape_same_rows"] is None else m["model_wape_same_rows"] / m["wape"]


def report(rows: pd.DataFrame) -> dict:
    """`{horizon: {week_NN: {level: cell}}}`, plus `coverage_p10_p90` `{horizon: {level: ...}}`."""
    r = rows[rows.product_id == "ALL"]
    acc: dict = {}
    for (h, week, role), g in r.groupby(["h", "week", "role"]):
        if role in LEVELS:
            acc.setdefault(HORIZONS[int(h)], {}).setdefault(f"week_{int(week):02d}", {})[LEVELS[role]] = cell(g)
    inside = (r.actual_usd >= r.p10_usd) & (r.actual_usd <= r.p90_usd)
    cov: dict = {}
    for (h, role), g in r.groupby(["h", "role"]):
        if role in LEVELS:
            cal = g.band != "simulated"
            cov.setdefault(HORIZONS[int(h)], {})[LEVELS[role]] = {
                "all": float(inside[g.index].mean()), "n": len(g),
                "calibrated": float(inside[g.index[cal]].mean()) if cal.any() else None, "n_calibrated": int(cal.sum())}
    by_level = {LEVELS[role]: {"all": float(inside[g.index].mean()),
                               "calibrated": float(inside[g.index[g.band != "simulated"]].mean())
                               if (g.band != "simulated").any() else None}
                for role, g in r.groupby("role") if role in LEVELS}
    return {"accuracy": acc, "coverage_p10_p90": cov, "coverage_p10_p90_by_level": by_level}
