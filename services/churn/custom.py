"""Bring your own feature table: the churn pipeline on any account-level table with a binary label.

`fit_table(frame, id_col, label_col)` runs 5-fold stratified out-of-fold ChurnClassifier next to a plain
logistic regression on the same folds, then fits the final model on all rows and scores them. In each
training fold the classifier's logistic part is fitted on all the fold's rows and LightGBM boosts from its
logit on 80% of them, the tree count early-stopped on the other 20%; the trees are kept only when they
lower that slice's log loss by more than one standard error (else the model is the logistic part alone).
No Platt step: the folds are exchangeable and both parts are fitted by log loss, and Platt on a fifth of
a fold only added variance (lower out-of-fold AUC on 5 of 8 look-alike tables, ECE no better). `run_custom(engine, source, ...)` stores it as registry
model `churn_custom` (scores in `churn_custom_scores`, reasons in `churn_custom_contributions`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.model_selection import StratifiedKFold, train_test_split
from sqlalchemy.engine import Engine

from models import explain
from models.churn import ChurnClassifier, as_baseline_input, logistic_baseline
from models.churn_metrics import classification_report
from services import registry
from services.churn import tables as T
from services.churn.job import tier

log = logging.getLogger(__name__)
MODEL = T.CUSTOM_MODEL
POSITIVE = {"1", "true", "yes", "y", "churn", "churned", "t"}
NEGATIVE = {"0", "false", "no", "n", "stay", "retained", "f"}


class TableError(ValueError):
    """The table cannot be used: the message says why."""


def read_source(source: str, engine: Engine) -> pd.DataFrame:
    """A local `.csv` file, or the name of a table in the database. Nothing else is read (no other file, no
    URL), and a file that fails to parse is reported without quoting any of its content."""
    path = Path(source)
    if source.lower().endswith(".csv") or path.exists() or "://" in source:
        if "://" in source or path.suffix.lower() != ".csv":
            raise TableError(f"{source}: only local CSV files (ending .csv) or database tables are read")
        if not path.is_file():
            raise TableError(f"file not found: {source}")
        try:
            with path.open("rb") as handle:
                return pd.read_csv(handle)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
            raise TableError(f"{source}: cannot be read as a CSV file ({type(exc).__name__})") from None
    if not sa.inspect(engine).has_table(source):
        raise TableError(f"{source!r} is neither a CSV file nor a table in the database")
    with engine.connect() as conn:
        return pd.read_sql(sa.text(f'SELECT * FROM "{source}"'), conn)


def binary_label(s: pd.Series, name: str) -> np.ndarray:
    if s.isna().any():
        raise TableError(f"label column {name!r} has {int(s.isna().sum())} missing values")
    values = s.astype(str).str.strip().str.lower()
    uniq = set(values.unique())
    if len(uniq) < 2:
        raise TableError(f"label column {name!r} is constant ({next(iter(uniq))!r}): nothing to learn")
    if len(uniq) > 2:
        raise TableError(f"label column {name!r} is not binary: {len(uniq)} distinct values "
                         f"(e.g. {', '.join(sorted(uniq)[:5])})")
    if uniq <= POSITIVE | NEGATIVE and uniq & POSITIVE and uniq & NEGATIVE:
        return values.isin(POSITIVE).to_numpy(int)
    try:
        num = pd.to_numeric(s)
        return (num == num.max()).to_numpy(int)
    except (ValueError, TypeError):
        raise TableError(f"label column {name!r} has two values {sorted(uniq)} but neither reads as "
                         "churn (1/true/yes/churn)") from None


def validate(frame: pd.DataFrame, id_col: str, label_col: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(feature frame, 0/1 label) or a TableError saying what is wrong."""
    missing = [c for c in (id_col, label_col) if c not in frame.columns]
    if missing:
        raise TableError(f"missing column(s): {', '.join(missing)}; the table has: {', '.join(map(str, frame.columns))}")
    if id_col == label_col:
        raise TableError("--id and --label must be different columns")
    dup = frame[id_col].duplicated()
    if dup.any():
        raise TableError(f"{int(dup.sum())} duplicate ids in {id_col!r} (e.g. {frame[id_col][dup].iloc[0]!r}); "
                         "one row per account is expected")
    y = binary_label(frame[label_col], label_col)
    X = frame.drop(columns=[id_col, label_col])
    # numeric-looking text (e.g. " " for missing) becomes numeric
    for c in X.columns:
        if X[c].dtype == object:
            num = pd.to_numeric(X[c].astype(str).str.strip().replace("", np.nan), errors="coerce")
            if num.notna().sum() >= 0.95 * X[c].notna().sum() and num.notna().any():
                X[c] = num
    X = X.loc[:, X.nunique(dropna=True) > 1]
    if X.shape[1] == 0:
        raise TableError("no usable feature columns (all constant or empty)")
    if min(y.sum(), len(y) - y.sum()) < 10:
        raise TableError("each label class needs at least 10 rows for 5-fold validation")
    return X, y


PARAMS = {"n_estimators": 600, "learning_rate": 0.02, "num_leaves": 3, "min_child_samples": 30, "colsample_bytree": 0.5,
          "calibrate": False}


def fit_table(frame: pd.DataFrame, id_col: str, label_col: str, folds: int = 5, seed: int = 0,
              params: dict[str, Any] | None = None) -> tuple[dict[str, Any], ChurnClassifier, pd.DataFrame, np.ndarray]:
    """Out-of-fold metrics of LightGBM vs logistic on the same folds; final model on all rows."""
    X, y = validate(frame, id_col, label_col)
    oof, oof_base = np.zeros(len(y)), np.zeros(len(y))
    skf = StratifiedKFold(folds, shuffle=True, random_state=seed)
    params = {**PARAMS, **(params or {})}
    for tr, te in skf.split(X, y):
        fit_i, cal_i = train_test_split(tr, test_size=0.2, stratify=y[tr], random_state=seed)
        m = ChurnClassifier(**params).fit(X.iloc[fit_i], y[fit_i], X.iloc[cal_i], y[cal_i])
        oof[te] = m.predict_proba(X.iloc[te])[:, 1]
        b = logistic_baseline(X).fit(as_baseline_input(X.iloc[tr]), y[tr])
        oof_base[te] = b.predict_proba(as_baseline_input(X.iloc[te]))[:, 1]
    metrics = classification_report(y, oof)
    base = classification_report(y, oof_base)
    metrics.update({f"{k}_baseline_logreg": v for k, v in base.items() if k in ("auc", "pr_auc", "brier")})
    metrics.update(n_rows=len(y), n_features=X.shape[1], churn_rate=float(y.mean()), folds=folds)
    fit_i, cal_i = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
    final = ChurnClassifier(**params).fit(X.iloc[fit_i], y[fit_i], X.iloc[cal_i], y[cal_i])
    return metrics, final, X, y


def _shown(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:,.4g}"
    return str(value)


def top_reasons(expl: pd.DataFrame, X: pd.DataFrame, ids: np.ndarray, model: ChurnClassifier, n: int = 3
                ) -> pd.DataFrame:
    """reason_1..n per id: the largest risk-raising contributions as "feature = value (raises the risk by
    x.x pts)", with the row's own value (category text included). The points are the row's calibrated churn
    probability less the one it would have without that contribution (the model's own scale, log-odds, stays
    in the stored contributions)."""
    top = expl[(expl.feature != explain.OTHER) & (expl.contribution > 0)].sort_values(
        ["subject_id", "contribution"], ascending=[True, False]).groupby("subject_id").head(n)
    row_of = dict(zip(ids, range(len(ids))))
    raw = model.decision_function(X)

    def prob(r: float) -> float:
        return float(1 / (1 + np.exp(-model.calibrated_logit(r))))

    text = []
    for sid, f, c in zip(top.subject_id, top.feature, top.contribution):
        i = row_of[sid]
        v = X[f].iloc[i]
        pts = 100 * (prob(raw[i]) - prob(raw[i] - c))
        text.append(f"{f} {'missing' if pd.isna(v) else '= ' + _shown(v)} (raises the risk by {pts:.1f} pts)")
    top = top.assign(rank=top.groupby("subject_id").cumcount() + 1, text=text)
    wide = top.pivot(index="subject_id", columns="rank", values="text").reindex(columns=range(1, n + 1))
    wide.columns = [f"reason_{r}" for r in wide.columns]
    return wide


def run_custom(engine: Engine, source: str, id_col: str, label_col: str) -> dict[str, Any]:
    """Fit, store as registry model `churn_custom` (active), write scores and contributions."""
    frame = read_source(source, engine)
    metrics, model, X, _ = fit_table(frame, id_col, label_col)
    version = registry.new_version(MODEL, pd.Timestamp.today().normalize(), {"source": source, "id": id_col,
                                                                            "label": label_col})
    p = model.predict_proba(X)[:, 1]
    ids = frame[id_col].astype(str).to_numpy()
    scores = pd.DataFrame({"account_id": ids, "probability": p, "tier": tier(p)})
    contrib = explain.model_contributions(model, X)
    groups = {c: "Custom features" for c in X.columns}
    expl = explain.explanation_frame(ids, list(X.columns), explain.numeric_values(X), contrib, groups, top_k=5)
    metrics["additivity_max_abs_err"] = explain.additivity_error(contrib, model.decision_function(X))
    scores = scores.join(top_reasons(expl, X, ids, model), on="account_id")
    registry.write_results(engine, T.CUSTOM_SCORES, scores, version)
    registry.write_results(engine, T.CUSTOM_CONTRIBUTIONS, expl, version)
    registry.save_artifact(version, {"model": model, "features": list(X.columns)})
    registry.record(engine, version, metrics, {"source": source, "rows": len(frame)}, "active")
    return {"version": version.version, **metrics}
