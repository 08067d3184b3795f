"""The explanation job (last in the training run): contributions for every scored row of each active model.

Writes (through `registry.write_results`, stamped with model_version and as_of), all in the one
explanation shape plus a `model` column:
- `explanations`: churn (every account scored at as_of; top `TOP_K` features + `other`, float32),
  `adoption_margin` (exact per-signal decomposition of the k-means distance margin, base 0),
  `adoption_surrogate` (TreeSHAP of a LightGBM classifier that predicts the cluster, the assigned
  cluster's raw score), `winprob` (open deals at as_of, current quarter, raw log-odds);
- `explanation_sample`: every feature for up to `SAMPLE` subjects per model (global views);
- `explain_churn_rows`: the churn feature row of every account at as_of (what-if input).
Metrics: additivity per model, surrogate fidelity on held-out accounts, SHAP throughput, reason coverage.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from models import explain
from models.adoption import SIGNALS
from services import feature_catalog, registry
from services.adoption import tables as adoption_tables
from services.churn import features as cf
from services.explain import tables as T
from services.gates import Gate

log = logging.getLogger(__name__)
MODEL = T.MODEL
TOP_K = 8
SAMPLE = 2_000
N_REASONS = 3
HOLDOUT = 0.25


def _sample(expl: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    ids = expl["subject_id"].unique()
    if len(ids) > SAMPLE:
        ids = np.random.default_rng(seed).choice(ids, SAMPLE, replace=False)
    return expl[expl["subject_id"].isin(ids)]


def reason_renders(feature: str, row: dict[str, Any]) -> bool:
    """True when the feature's reason is a real sentence (catalogued, measured, template filled)."""
    info = feature_catalog.describe(feature)
    return info.group != "Other" and not feature_catalog.reason(feature, row).startswith(f"{info.label}:")


def reason_coverage(expl: pd.DataFrame, rows: pd.DataFrame, at_risk: np.ndarray) -> float:
    """Share of at-risk accounts whose top `N_REASONS` risk-raising reasons all render as sentences."""
    risky = set(rows.loc[at_risk, "account_id"])
    if not risky:
        return float("nan")
    top = expl[expl.subject_id.isin(risky) & (expl.feature != explain.OTHER) & (expl.contribution > 0)]
    top = top.sort_values(["subject_id", "contribution"], ascending=[True, False]).groupby("subject_id").head(N_REASONS)
    records = rows.set_index("account_id").to_dict("index")
    ok = top.assign(ok=[reason_renders(f, records[a]) for a, f in zip(top.subject_id, top.feature)])
    good = ok.groupby("subject_id")["ok"].all()
    return float(good.reindex(list(risky), fill_value=False).mean())


def explain_churn(engine: Engine, as_of: pd.Timestamp,
                  run_inputs: Any = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    art = registry.load_artifact(engine, "churn")
    model, tiers = art["model"], dict(art.get("tiers", ()))
    cols = model.feature_names_
    rows = cf.build(cf.shared_inputs(engine, run_inputs), [as_of]).reset_index(drop=True)
    t0 = time.perf_counter()
    contrib = explain.model_contributions(model, rows[cols])
    seconds = time.perf_counter() - t0
    raw = model.decision_function(rows[cols])
    expl = explain.explanation_frame(rows.account_id, cols, explain.numeric_values(rows[cols]), contrib,
                                     feature_catalog.groups(cols), top_k=TOP_K)
    full = explain.explanation_frame(rows.account_id, cols, explain.numeric_values(rows[cols]), contrib,
                                     feature_catalog.groups(cols))
    p = 1 / (1 + np.exp(-model.calibrated_logit(raw)))
    at_risk = p >= tiers.get("medium", 0.10)
    m = {"rows": len(rows), "features": len(cols), "shap_seconds": round(seconds, 3),
         "shap_rows_per_s": round(len(rows) / max(seconds, 1e-9), 1),
         "additivity_max_abs_err": explain.additivity_error(contrib, raw),
         "stored_additivity_max_abs_err": float(np.max(np.abs(explain.prediction(expl).to_numpy() - raw)))
         if len(rows) else 0.0,
         "reason_coverage": reason_coverage(expl, rows, at_risk), "at_risk_accounts": int(at_risk.sum())}
    wide = rows[["account_id", *cols]].copy()
    for c in cols:
        if not pd.api.types.is_numeric_dtype(wide[c]):
            wide[c] = wide[c].astype("string").astype(object)
    return pd.concat([expl.assign(model="churn")]), pd.concat([_sample(full).assign(model="churn")]), \
        {**m, "wide": wide}


def explain_adoption(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], Any]:
    km = registry.load_artifact(engine, "adoption")
    sig = registry.read_results(engine, adoption_tables.SIGNALS)
    latest = sig[sig["month"] == sig["month"].max()].reset_index(drop=True)
    X = latest[SIGNALS].astype(float)
    groups = feature_catalog.groups(SIGNALS)
    dec = km.margin_decomposition(X)
    Z = km.transform(X)
    d2 = ((Z[:, None, :] - km.kmeans_.cluster_centers_[None]) ** 2).sum(axis=2)
    d2.sort(axis=1)
    terms = dec[SIGNALS].to_numpy()
    margin = explain.margin_frame(latest.account_id, SIGNALS, X.to_numpy(), terms, groups)
    labels = dec["cluster_id"].to_numpy()
    rng = np.random.default_rng(0)
    hold = rng.random(len(X)) < HOLDOUT
    t0 = time.perf_counter()
    sur = explain.fit_surrogate(X[~hold], labels[~hold])
    fit_s = time.perf_counter() - t0
    classes = list(sur.classes_)
    known = np.isin(labels, classes)
    cls = np.array([classes.index(c) if c in classes else 0 for c in labels])
    contrib = explain.class_contributions(sur.booster_, X, cls)
    raw = sur.booster_.predict(X, raw_score=True).reshape(len(X), -1)[np.arange(len(X)), cls]
    sur_expl = explain.explanation_frame(latest.account_id, SIGNALS, X.to_numpy(), contrib, groups)
    m = {"rows": len(X), "margin_additivity_max_abs_err":
         float(np.max(np.abs(terms.sum(axis=1) - (d2[:, 1] - d2[:, 0])))) if len(X) else 0.0,
         "surrogate_additivity_max_abs_err": explain.additivity_error(contrib[known], raw[known]),
         "surrogate_fidelity": explain.fidelity(sur, X[hold], labels[hold]),
         "surrogate_fidelity_train": explain.fidelity(sur, X[~hold], labels[~hold]),
         "surrogate_holdout_rows": int(hold.sum()), "surrogate_fit_seconds": round(fit_s, 2)}
    frames = [margin.assign(model="adoption_margin"), sur_expl.assign(model="adoption_surrogate")]
    return pd.concat(frames), pd.concat([_sample(f) for f in frames]), m, sur


def explain_winprob(engine: Engine, as_of: pd.Timestamp) -> tuple[pd.DataFrame, dict[str, Any]]:
    from services.forecast import data as fd  # only when a forecast model is active

    wp = registry.load_artifact(engine, "forecast")["winprob"]
    data = fd.load(engine)
    snap = fd.expand_horizons(fd.state_at(data, [as_of], fd._history_features(data.hist)), 1, cal=data.cal)
    snap = snap[snap["h"] == 0].reset_index(drop=True)
    X = wp._prepare(snap[fd.FEATURES])
    contrib = explain.tree_shap(wp.booster_.booster_, X)
    raw = wp.booster_.booster_.predict(X, raw_score=True)
    cols = list(fd.FEATURES)
    expl = explain.explanation_frame(snap.opportunity_id, cols, explain.numeric_values(snap[cols]), contrib,
                                     feature_catalog.groups(cols))
    return expl.assign(model="winprob"), {"rows": len(snap),
                                          "additivity_max_abs_err": explain.additivity_error(contrib, raw)}


def run(engine: Engine, version: registry.Version, run_inputs: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    as_of = pd.Timestamp(version.as_of).normalize()
    active = {m for m in ("churn", "adoption", "forecast") if registry.active_version(engine, m)}
    if not active:
        raise LookupError("no model has an active version to explain: train churn, adoption or forecast first")
    frames, samples, metrics, artifact = [], [], {"models": {}}, {}
    if "churn" in active:
        expl, sample, m = explain_churn(engine, as_of, run_inputs)
        registry.write_results(engine, T.CHURN_ROWS, m.pop("wide"), version)
        frames.append(expl)
        samples.append(sample)
        metrics["models"]["churn"] = m
        artifact["churn_version"] = registry.active_version(engine, "churn")
    if "adoption" in active:
        expl, sample, m, sur = explain_adoption(engine)
        frames.append(expl)
        samples.append(sample)
        metrics["models"]["adoption"] = m
        artifact.update(surrogate=sur, adoption_version=registry.active_version(engine, "adoption"))
    if "forecast" in active:
        try:
            expl, m = explain_winprob(engine, as_of)
            frames.append(expl)
            samples.append(_sample(expl))
            metrics["models"]["winprob"] = m
        except (KeyError, LookupError, ValueError) as exc:  # recorded in the metrics, shown on the scorecard
            log.warning("win probability not explained: %s", exc)
            metrics["models"]["winprob"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    registry.write_results(engine, T.EXPLANATIONS, pd.concat(frames, ignore_index=True), version)
    registry.write_results(engine, T.SAMPLE, pd.concat(samples, ignore_index=True), version)
    mm = metrics["models"]
    log_odds = [mm[k]["additivity_max_abs_err"] for k in ("churn", "winprob") if "additivity_max_abs_err" in mm.get(k, {})]
    if "adoption" in mm:
        log_odds.append(mm["adoption"]["surrogate_additivity_max_abs_err"])
        metrics["surrogate_fidelity"] = mm["adoption"]["surrogate_fidelity"]
        metrics["margin_additivity_max_abs_err"] = mm["adoption"]["margin_additivity_max_abs_err"]
    metrics["additivity_max_abs_err"] = max(log_odds) if log_odds else None
    if "churn" in mm:
        metrics["shap_rows_per_s"] = mm["churn"]["shap_rows_per_s"]
        metrics["reason_coverage"] = mm["churn"]["reason_coverage"]
    log.info("explain: %s", {k: v for k, v in metrics.items() if k != "models"})
    return metrics, artifact


# the quality gate: contributions add up to the model output; the k-means surrogate agrees with it
GATES = (Gate("additivity_max_abs_err", higher_is_better=False, limit=1e-6),
         Gate("surrogate_fidelity", higher_is_better=True, limit=0.9))
