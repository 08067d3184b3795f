"""Bring your own feature table: clear errors, and out-of-fold quality on a Telco look-alike."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from telco_like import telco_like

from services.churn.custom import TableError, fit_table, validate
from services.cli import main


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return telco_like(7043, seed=1)  # the size of the public IBM Telco table


@pytest.mark.parametrize("change, message", [
    (lambda d: pd.concat([d, d.head(1)]), "duplicate ids"),
    (lambda d: d.assign(Churn="No"), "constant"),
    (lambda d: d.assign(Churn=d.Churn.where(d.index > 5)), "missing values"),
    (lambda d: d.assign(Churn=np.arange(len(d)) % 3), "not binary"),
    (lambda d: d.drop(columns=["Churn"]), "missing column"),
])
def test_bad_tables_are_rejected_with_reasons(telco: pd.DataFrame, change, message: str) -> None:
    with pytest.raises(TableError, match=message):
        validate(change(telco), "customerID", "Churn")


def test_cli_rejects_a_bad_table(tmp_path, db_url: str, telco: pd.DataFrame, capsys) -> None:
    path = tmp_path / "t.csv"
    pd.concat([telco, telco.head(2)]).to_csv(path, index=False)
    assert main(["churn-fit", "--table", str(path), "--id", "customerID", "--label", "Churn"]) == 1
    assert "duplicate ids" in capsys.readouterr().err


def test_blank_total_charges_read_as_numbers(telco: pd.DataFrame) -> None:
    X, y = validate(telco, "customerID", "Churn")
    assert pd.api.types.is_numeric_dtype(X["TotalCharges"]) and X["TotalCharges"].isna().any()
    assert set(np.unique(y)) == {0, 1} and y.mean() == pytest.approx((telco.Churn == "Yes").mean())


def test_out_of_fold_auc_at_least_logistic(telco: pd.DataFrame) -> None:
    metrics, *_ = fit_table(telco, "customerID", "Churn")
    assert metrics["auc"] >= metrics["auc_baseline_logreg"]  # the bar, on the same folds
    assert metrics["auc"] > 0.8
    assert metrics["ece"] < 0.05


def test_trees_are_kept_where_the_signal_is_not_additive() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    frame = pd.DataFrame({"id": np.arange(n), "a": rng.normal(size=n), "b": rng.normal(size=n),
                          "plan": rng.choice(["basic", "pro", "max"], n)})
    logit = 2.5 * (np.abs(frame.a) > 1) - 1.5 * (frame.b * frame.a > 0.5) + 0.3 * (frame.plan == "max") - 1
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    metrics, model, *_ = fit_table(frame, "id", "churned")
    assert model.n_trees_ > 0
    assert metrics["auc"] > metrics["auc_baseline_logreg"] + 0.1
