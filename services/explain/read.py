"""Read side of the explanation layer for the workbench: subjects, stored explanations, what-if, suggestions.

Stored explanations come from `services.explain.job` (active `explain` version). A what-if recomputes a
single row on demand with the active model (churn: probability, tier and TreeSHAP; adoption: cluster
and margin decomposition), milliseconds per call. Churn what-if edits keep the account consistent:
changing a usage level (`use_*_now`) by d moves its 3- and 6-month trends by d and its 3-month mean by
d/3, and the renewal-anchored window with them when that window is the latest 3 months (renewal 6 or
more months away). Suggestions search the actionable signals for the smallest change that lowers the risk tier (churn)
or moves the account into a healthy cluster (adoption).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models import explain
from models.adoption import SIGNALS, AdoptionClusters
from services import feature_catalog, registry
from services.adoption import tables as adoption_tables
from services.churn import tables as churn_tables
from services.churn.features import PRE_RENEWAL_LAG
from services.db import read_table
from services.explain import tables as T
from services.forecast import tables as forecast_tables
from services.hierarchy import Scope, resolve_scope

MODELS = {"churn": "Churn risk (accounts)", "adoption_margin": "Adoption cluster (accounts)",
          "winprob": "Win probability (opportunities)", "forecast_node": "Forecast (people)"}
HEALTHY = ("Healthy", "Expansion-ready")
# what the customer does (never CSM actions: they are the treatment, not a feature of the risk)
ACTIONABLE = re.compile(r"use_.+_now|breadth_3m|jobs_3m")
STEPS_SHARE = np.round(np.arange(0.05, 0.55, 0.05), 2)


def available(engine: Engine) -> list[str]:
    """Models with stored explanations (plus the forecast decomposition when a forecast is active)."""
    version = registry.shown_version(engine, T.MODEL)
    have: list[str] = []
    if version is not None:
        with engine.connect() as conn:
            got = {r[0] for r in conn.execute(sa.text(
                f'SELECT DISTINCT model FROM "{T.SAMPLE}" WHERE model_version = :v'), {"v": version})}
        have = [m for m in ("churn", "adoption_margin", "winprob") if m in got]
    if registry.shown_version(engine, "forecast"):
        have.append("forecast_node")
    return have


def stored(engine: Engine, model: str, subject_id: str | None = None) -> pd.DataFrame:
    """Stored explanation rows of one model (one subject, or all)."""
    where, params = "model = :m", {"m": model}
    if subject_id is not None:
        where += " AND subject_id = :s"
        params["s"] = subject_id
    return registry.read_results(engine, T.EXPLANATIONS, where=where, params=params)


def sample(engine: Engine, model: str) -> pd.DataFrame:
    """All features for a sample of subjects (global importance, beeswarm, dependence)."""
    return registry.read_results(engine, T.SAMPLE, where="model = :m",
                                 params={"m": model})


def explained_as_of(engine: Engine, model: str) -> pd.Timestamp | None:
    """The one date a model's stored explanations are for: the as-of of the version that wrote them."""
    owner = "forecast" if model == "forecast_node" else T.MODEL
    v = registry.versions(engine, owner)
    v = v[v.status == "active"]
    return None if v.empty else pd.Timestamp(v.iloc[0]["as_of"])


def subjects(engine: Engine, model: str, scope: Scope | None = None) -> pd.DataFrame:
    """`subject_id, label, prediction` for the picker, highest risk / largest first: the accounts, deals or
    people within `scope` (None: everyone) at the date the explanations are for."""
    owners = resolve_scope(read_table("people", engine), scope or Scope())
    if model in ("churn", "adoption_margin") and owners is not None:
        accounts = read_table("accounts", engine, columns=["account_id", "owner_id"])
        keep = set(accounts.account_id[accounts.owner_id.isin(owners)])
    else:
        keep = owners
    none = pd.DataFrame(columns=["subject_id", "label", "prediction"])
    if model == "churn":
        s = registry.read_snapshot(engine, churn_tables.SCORES, "score_date")
        s = s[s.account_id.isin(keep)] if keep is not None and len(s) else s
        if s.empty:
            return none
        s = s.sort_values("probability", ascending=False)
        return pd.DataFrame({"subject_id": s.account_id, "label": s.account_id + " · " + s.tier + " risk",
                             "prediction": s.probability}).reset_index(drop=True)
    if model == "adoption_margin":
        m = registry.read_snapshot(engine, adoption_tables.MEMBERSHIP, "month")
        m = m[m.account_id.isin(keep)] if keep is not None and len(m) else m
        if m.empty:
            return none
        m = m.sort_values("account_id")
        return pd.DataFrame({"subject_id": m.account_id, "label": m.account_id + " · " + m.cluster_name,
                             "prediction": m.cluster_id}).reset_index(drop=True)
    if model == "winprob":
        d = registry.read_results(engine, forecast_tables.DEALS, where="h = 0")
        d = d[d.owner_id.isin(keep)] if keep is not None and len(d) else d
        if d.empty:
            return none
        d = d.sort_values("contribution_usd", ascending=False)
        return pd.DataFrame({"subject_id": d.opportunity_id, "prediction": d.p_win,
                             "label": d.opportunity_id + " · " + d.stage + " · $" + (d.amount_usd / 1e3).round(0)
                             .astype(int).astype(str) + "k"}).reset_index(drop=True)
    if model == "forecast_node":
        n = _live_nodes(engine)
        n = n[n.quarter == n.quarter.min()] if len(n) else n
        n = n[n.person_id.isin(keep)] if keep is not None and len(n) else n
        if n.empty:
            return none
        return pd.DataFrame({"subject_id": n.person_id, "label": n.person_id + " · " + n.role,
                             "prediction": n.p50_usd}).reset_index(drop=True)
    raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")


def _live_nodes(engine: Engine) -> pd.DataFrame:
    return registry.read_snapshot(engine, forecast_tables.NODES, "origin_date",
                                  where="kind = 'live' AND product_id = 'ALL'")


def forecast_node(engine: Engine, person_id: str) -> pd.DataFrame:
    """A forecast node's P50 for the current quarter as an additive decomposition (USD, base 0):
    bookings closed so far + expected value of open deals + run-rate from deals not yet created."""
    n = _live_nodes(engine)
    n = n[(n.person_id == person_id) & (n.quarter == n.quarter.min())]
    if n.empty:
        raise LookupError(f"no live forecast for {person_id!r}")
    r = n.iloc[0]
    parts = {"Closed won": r.closed_won_usd, "Open pipeline (expected)": r.pipeline_expected_usd,
             "Run-rate (deals not yet created)": r.runrate_usd}
    parts["Simulation difference"] = r.p50_usd - sum(parts.values())
    return pd.DataFrame({"subject_id": person_id, "feature": list(parts), "group": list(parts),
                         "value": np.nan, "contribution": list(parts.values()), "base_value": 0.0})


# ---------------------------------------------------------------- churn what-if
@dataclass
class ChurnRow:
    account_id: str
    values: dict[str, Any]


def churn_row(engine: Engine, account_id: str) -> ChurnRow:
    r = registry.read_results(engine, T.CHURN_ROWS, where="account_id = :a",
                              params={"a": account_id})
    if r.empty:
        raise LookupError(f"account {account_id!r} has no churn features at the as-of date")
    return ChurnRow(account_id, r.drop(columns=["model_version", "as_of"]).iloc[0].to_dict())


def actionable(features: list[str]) -> list[str]:
    return [f for f in features if ACTIONABLE.fullmatch(f)]


def apply_edits(values: dict[str, Any], edits: dict[str, float]) -> dict[str, Any]:
    """The row with `edits` applied (usage levels carry their trends and 3-month mean along, and the
    renewal-anchored window too when it is the latest 3 months: the renewal is 6 months away or more)."""
    out = dict(values)
    months = out.get("months_to_renewal")
    window_is_now = months is not None and not pd.isna(months) and float(months) >= PRE_RENEWAL_LAG
    for f, new in edits.items():
        if f not in out:
            raise ValueError(f"unknown feature {f!r}")
        old = out[f]
        out[f] = float(new)
        m = re.fullmatch(r"use_(.+)_now", f)
        if m and old is not None and not pd.isna(old):
            d = float(new) - float(old)
            deps = [(f"use_{m.group(1)}_trend_3m", 1.0), (f"use_{m.group(1)}_trend_6m", 1.0),
                    (f"use_{m.group(1)}_3m", 1 / 3)]
            if window_is_now:
                deps += [(f"use_{m.group(1)}_pre_renewal", 1 / 3), (f"use_{m.group(1)}_pre_renewal_trend", 1.0)]
            for dep, w in deps:
                if dep in out and out[dep] is not None and not pd.isna(out[dep]):
                    out[dep] = float(out[dep]) + w * d
    return out


def churn_predict(model: Any, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated probability, raw log-odds) for feature rows."""
    X = pd.DataFrame(rows)[model.feature_names_]
    raw = model.decision_function(X)
    return 1 / (1 + np.exp(-model.calibrated_logit(raw))), raw


def churn_explain(model: Any, values: dict[str, Any], subject_id: str = "what-if") -> pd.DataFrame:
    cols = model.feature_names_
    X = pd.DataFrame([values])[cols]
    contrib = explain.model_contributions(model, X)
    return explain.explanation_frame([subject_id], cols, explain.numeric_values(X), contrib,
                                     feature_catalog.groups(cols))


def tier_of(p: float, tiers: dict[str, float]) -> str:
    for name, cut in sorted(tiers.items(), key=lambda kv: -kv[1]):
        if p >= cut:
            return name
    return "low"


def _candidates(values: dict[str, Any], feature: str) -> np.ndarray:
    v = values.get(feature)
    if v is None or pd.isna(v):
        return np.zeros(0)
    steps = np.unique(np.clip(float(v) + STEPS_SHARE, 0, 1.0))
    return steps[steps > float(v)]


def suggest_churn(model: Any, values: dict[str, Any], tiers: dict[str, float], max_edits: int = 3) -> dict[str, Any]:
    """Smallest change of actionable signals that lowers the tier: all single-signal steps in one batch
    (smallest step that crosses wins); else the best step greedily, up to `max_edits` signals."""
    p0 = float(churn_predict(model, [values])[0][0])
    t0 = tier_of(p0, tiers)
    if t0 == "low":
        return {"edits": {}, "probability": p0, "tier": t0, "note": "already in the low-risk tier"}
    edits: dict[str, float] = {}
    cur, p_cur = dict(values), p0
    for _ in range(max_edits):
        cands = [(f, c) for f in actionable(model.feature_names_) if f not in edits for c in _candidates(cur, f)]
        if not cands:
            break
        rows = [apply_edits(cur, {f: c}) for f, c in cands]
        p = churn_predict(model, rows)[0]
        size = np.array([(c - float(cur[f])) / 0.5 for f, c in cands])
        crossed = np.array([tier_of(float(q), tiers) != t0 for q in p])
        if crossed.any():
            i = int(np.flatnonzero(crossed)[np.argmin(size[crossed])])
            edits[cands[i][0]] = float(cands[i][1])
            cur, p_cur = rows[i], float(p[i])
            break
        gain = (p_cur - p) / np.maximum(size, 1e-9)
        i = int(np.argmax(gain))
        if p[i] >= p_cur:
            break
        edits[cands[i][0]] = float(cands[i][1])
        cur, p_cur = rows[i], float(p[i])
    return {"edits": edits, "probability": p_cur, "tier": tier_of(p_cur, tiers),
            "note": "" if tier_of(p_cur, tiers) != t0 else "no change of up to 3 actionable signals lowers the tier"}


# ---------------------------------------------------------------- adoption what-if
def adoption_signals(engine: Engine, account_id: str) -> dict[str, float]:
    s = registry.read_results(engine, adoption_tables.SIGNALS, where="account_id = :a",
                              params={"a": account_id})
    if s.empty:
        raise LookupError(f"account {account_id!r} has no adoption signals")
    return {k: float(v) for k, v in s.sort_values("month").iloc[-1][SIGNALS].items()}


def adoption_whatif(km: AdoptionClusters, signals: dict[str, float], subject_id: str = "what-if"
                    ) -> dict[str, Any]:
    """Cluster, runner-up and the exact margin decomposition for one signal row."""
    X = pd.DataFrame([signals])[SIGNALS].astype(float)
    dec = km.margin_decomposition(X).iloc[0]
    frame = explain.margin_frame([subject_id], SIGNALS, X.to_numpy(), dec[SIGNALS].to_numpy(float)[None, :],
                                 feature_catalog.groups(SIGNALS))
    names = km.name_of_
    return {"cluster_id": int(dec.cluster_id), "cluster": names[int(dec.cluster_id)],
            "runner_up_id": int(dec.runner_up_id), "runner_up": names[int(dec.runner_up_id)],
            "margin": float(dec.margin), "explanation": frame}


def suggest_adoption(km: AdoptionClusters, signals: dict[str, float], steps: int = 200) -> dict[str, Any]:
    """Smallest move along the straight line (scaled space) to the nearest healthy centroid that lands the
    account in a healthy cluster; the edits are in signal units."""
    names = km.name_of_
    x = km.transform(pd.DataFrame([signals]))[0]
    own = int(km.predict(pd.DataFrame([signals]))[0])
    if names[own].startswith(HEALTHY):
        return {"edits": {}, "cluster": names[own], "note": "already in a healthy cluster"}
    healthy = [i for i, cid in enumerate(km.cluster_ids_) if names[int(cid)].startswith(HEALTHY)]
    if not healthy:
        return {"edits": {}, "cluster": names[own], "note": "no healthy cluster in this model"}
    centres = km.kmeans_.cluster_centers_
    target = min(healthy, key=lambda i: float(np.sum((centres[i] - x) ** 2)))
    ts = np.linspace(0, 1, steps + 1)[1:]
    path = x[None, :] + ts[:, None] * (centres[target] - x)[None, :]
    raw = km.scaler_.inverse_transform(path)
    labels = km.predict(pd.DataFrame(raw, columns=SIGNALS))
    ok = np.flatnonzero([names[int(c)].startswith(HEALTHY) for c in labels])
    i = int(ok[0]) if len(ok) else len(ts) - 1
    new = dict(zip(SIGNALS, raw[i].tolist()))
    edits = {s: new[s] for s in SIGNALS if abs(new[s] - signals[s]) > 1e-3}
    return {"edits": edits, "cluster": names[int(labels[i])], "note": ""}


# ---------------------------------------------------------------- global views and model card
def importance(sample_frame: pd.DataFrame, by: str = "group") -> pd.DataFrame:
    """Mean |contribution| per group or feature (largest first)."""
    per = sample_frame.groupby(["subject_id", by], sort=False)["contribution"].sum().abs()
    out = per.groupby(level=by).mean().rename("mean_abs_contribution").reset_index()
    return out.sort_values("mean_abs_contribution", ascending=False, ignore_index=True)


def cohort(sample_frame: pd.DataFrame, subject_ids: list[str]) -> pd.DataFrame:
    """Mean contribution per group: a cohort of subjects against all sampled subjects."""
    per = sample_frame.groupby(["subject_id", "group"], sort=False)["contribution"].sum().reset_index()
    everyone = per.groupby("group")["contribution"].mean().rename("all")
    chosen = per[per.subject_id.isin(subject_ids)].groupby("group")["contribution"].mean().rename("cohort")
    out = pd.concat([everyone, chosen], axis=1).fillna(0.0).reset_index()
    out["difference"] = out["cohort"] - out["all"]
    return out.sort_values("difference", key=np.abs, ascending=False, ignore_index=True)


def model_card(engine: Engine, model: str) -> dict[str, Any]:
    """Training window, data version, metrics against baselines, calibration and cut-offs of the model
    behind an explanation (read from the registry; nothing is refitted)."""
    owner = {"churn": "churn", "adoption_margin": "adoption", "winprob": "forecast",
             "forecast_node": "forecast"}[model]
    v = registry.versions(engine, owner)
    v = v[v.status == "active"]
    if v.empty:
        return {}
    row = v.iloc[0]
    m = registry.active_metrics(engine, owner)
    card: dict[str, Any] = {"model": owner, "version": row.version, "as_of": str(row.as_of),
                            "code_version": row.code_version, "data": row.data_fingerprint,
                            "metrics": {k: x for k, x in m.items() if isinstance(x, int | float)},
                            "data_history": m.get("data_history")}
    if owner == "churn":
        card.update(history={"mode": m.get("history_mode"), "months": m.get("history_months"),
                             "eval_months": m.get("eval_months"), "features_left_out": m.get("features_left_out", []),
                             "production_window": m.get("production_window")})
        card.update(training_window=m.get("train_window"), test_window=m.get("test_window"),
                    cut_offs=m.get("tiers"), baselines={"auc": m.get("auc"),
                                                        "auc_baseline_logreg": m.get("auc_baseline_logreg")})
        bt = registry.read_results(engine, churn_tables.BACKTEST)
        if len(bt):
            bins = pd.cut(bt.probability, np.linspace(0, 1, 11), include_lowest=True)
            cal = bt.groupby(bins, observed=True).agg(predicted=("probability", "mean"),
                                                      observed=("label_churn", "mean"), n=("probability", "size"))
            card["calibration"] = cal.reset_index(drop=True)
    elif owner == "forecast":
        card["baselines"] = {k: x for k, x in m.items() if k.startswith("wape_") and not isinstance(x, dict)}
    else:
        card["baselines"] = {k: m.get(k) for k in ("k", "stability", "silhouette")}
    ex = registry.active_metrics(engine, T.MODEL).get("models", {})
    card["explanation"] = ex.get({"adoption_margin": "adoption"}.get(model, model), {})
    return card


def adoption_sentences(km: AdoptionClusters, signals: dict[str, float], top: int = 3) -> list[str]:
    """Plain sentences for an account's adoption signals against the nearest healthy cluster's centre, the
    signals furthest from it first ("Seat use: 30% for this account; 82% in the nearest healthy cluster")."""
    names = km.name_of_
    x = km.transform(pd.DataFrame([signals]))[0]
    healthy = [i for i, cid in enumerate(km.cluster_ids_) if names[int(cid)].startswith(HEALTHY)]
    if not healthy:
        return []
    centres = km.kmeans_.cluster_centers_
    target = min(healthy, key=lambda i: float(np.sum((centres[i] - x) ** 2)))
    centre = km.scaler_.inverse_transform(centres[target][None, :])[0]
    gaps = sorted(range(len(SIGNALS)), key=lambda j: -abs(float(x[j] - centres[target][j])))
    out = []
    for j in gaps[:top]:
        s = SIGNALS[j]
        label = feature_catalog.describe(s).label
        unit = (lambda v: f"{v:+.0%} points") if s == "use_trend" else (lambda v: f"{v:.0%}")
        out.append(f"{label}: {unit(float(signals[s]))} for this account; {unit(float(centre[j]))} in the nearest "
                   f"healthy cluster ({names[int(km.cluster_ids_[target])]})")
    return out
