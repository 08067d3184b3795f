"""PSI drift: a planted shift (simulator drift groups, last 2 complete months) is flagged, a clean seed is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services import registry
from services.monitoring import drift
from services.simulator import generate

ACCOUNTS, MONTHS, SEED = 400, 24, 5


def monitoring_features(frames: dict[str, pd.DataFrame], month: pd.Timestamp) -> pd.DataFrame:
    """Per account with usage in `month`: seat use, volume use, cases and severe cases opened that month."""
    cat = frames["metric_catalog"].merge(frames["products"][["product_id", "pricing_model"]], on="product_id")
    u = frames["usage_monthly"]
    u = u[u.month == month].merge(cat[["metric_id", "role", "pricing_model"]], on="metric_id")
    u = u[u.role.isin(["capacity", "consumption"])].astype({"account_id": str})
    wide = u.pivot_table(index=["account_id", "pricing_model"], columns="role", values="value", aggfunc="sum")
    wide["use"] = wide.consumption / wide.capacity.clip(lower=1)
    wide = wide.reset_index()
    seat = wide[wide.pricing_model == "per_seat"].groupby("account_id").use.mean().rename("seat_use")
    vol = wide[wide.pricing_model != "per_seat"].groupby("account_id").use.mean().rename("volume_use")
    out = pd.DataFrame(index=pd.Index(wide.account_id.unique(), name="account_id")).join(seat).join(vol)
    c = frames["support_cases"]
    c = c[c.opened_date.dt.to_period("M") == month.to_period("M")]
    out["cases"] = c.groupby("account_id").size().reindex(out.index).fillna(0)
    out["severe_cases"] = c[c.severity <= 2].groupby("account_id").size().reindex(out.index).fillna(0)
    return out.reset_index(drop=True)


def reference_and_current(drift_group: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = generate(accounts=ACCOUNTS, months=MONTHS, seed=SEED, drift=drift_group)
    months = sorted(frames["usage_monthly"].month.unique())
    reference = pd.concat([monitoring_features(frames, pd.Timestamp(m)) for m in months[-14:-3]])
    return reference, monitoring_features(frames, pd.Timestamp(months[-1]))


@pytest.mark.parametrize(("group", "expected"), [
    (None, set()),
    ("support_load", {"cases"}),
    ("seat_activation", {"seat_use"}),
    ("consumption", {"volume_use"}),
])
def test_planted_shift_is_flagged_and_clean_seed_is_not(group: str | None, expected: set[str]) -> None:
    reference, current = reference_and_current(group)
    out = drift.summary(drift.drift_table(reference, current))
    flagged = set(out.feature[out.flagged])
    assert expected <= flagged
    assert flagged <= expected | ({"severe_cases"} if group == "support_load" else set()), out


def test_psi_basics() -> None:
    rng = np.random.default_rng(0)
    same = drift.binned(pd.Series(rng.normal(size=5000)), pd.Series(rng.normal(size=5000)))
    assert drift.psi(same.reference_share, same.current_share) < 0.02
    shifted = drift.binned(pd.Series(rng.normal(size=5000)), pd.Series(rng.normal(0.8, 1, size=5000)))
    assert drift.psi(shifted.reference_share, shifted.current_share) > drift.THRESHOLD
    assert shifted.reference_share.sum() == pytest.approx(1.0)
    with_missing = drift.binned(pd.Series([1.0, 2.0, 3.0]), pd.Series([1.0, None, None]))
    assert with_missing.set_index("bin_label").loc["missing", "current_share"] == pytest.approx(2 / 3)
    gone = drift.summary(drift.drift_table(pd.DataFrame({"x": rng.normal(size=500)}),
                                           pd.DataFrame({"x": np.where(rng.random(500) < 0.3, np.nan, 1.0)})))
    assert gone.flagged.iloc[0] and gone.missing_rise.iloc[0] == pytest.approx(0.3, abs=0.06)
    back = np.where(rng.random(2000) < 0.1, np.nan, rng.normal(size=2000))  # missing early in history only
    filled = drift.summary(drift.drift_table(pd.DataFrame({"x": back}), pd.DataFrame({"x": rng.normal(size=500)})))
    assert not filled.flagged.iloc[0]
    with pytest.raises(ValueError, match="non-empty"):
        drift.drift_table(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": []}))
    with pytest.raises(ValueError, match="no numeric feature"):
        drift.drift_table(pd.DataFrame({"x": ["a"]}), pd.DataFrame({"y": [1.0]}))


def test_store_drift_is_read_back_for_the_active_version(engine) -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.poisson(1.0, 2000)})
    cur = pd.DataFrame({"a": rng.normal(size=500), "b": rng.poisson(2.5, 500)})
    version = registry.new_version("churn", pd.Timestamp("2025-06-30"))
    out = drift.store_drift(engine, version, ref, cur)
    assert out.feature.tolist()[0] == "b" and out.flagged.tolist() == [True, False]
    assert drift.read_drift(engine, "churn").empty  # not active yet: nothing shows
    registry.record(engine, version, {"auc": 0.8}, {}, "active")
    stored = drift.read_drift(engine, "churn")
    assert set(stored.feature) == {"a", "b"} and (stored.model_version == version.version).all()
