"""Run-rate model for bookings from pipeline not yet created, and the naive baselines.

`RunRateModel` is a global LightGBM model over many monthly series (Nixtla mlforecast: lags, rolling
means, fiscal-calendar features, the product and the horizon family as static features). Series come
in long format (`unique_id, ds, y` plus static columns). Baselines use statsforecast's SeasonalNaive.
"""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from mlforecast import MLForecast
from mlforecast.lag_transforms import RollingMean
from statsforecast import StatsForecast
from statsforecast.models import SeasonalNaive


def month_of_quarter(dates: pd.DatetimeIndex) -> np.ndarray:
    return (np.asarray(dates.month) - 1) % 3


def is_q4(dates: pd.DatetimeIndex) -> np.ndarray:
    return (np.asarray(dates.month) >= 10).astype(int)


class RunRateModel:
    """Recursive global LightGBM forecaster of monthly series (`fit(df)`, `predict(horizon)`)."""

    def __init__(self, n_estimators: int = 200, learning_rate: float = 0.05, num_leaves: int = 15,
                 lags: tuple[int, ...] = (1, 2, 3, 6), static: tuple[str, ...] = ("h", "product_id"),
                 random_state: int = 0, n_jobs: int = 1):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.lags = lags
        self.static = static
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, df: pd.DataFrame) -> RunRateModel:
        need = {"unique_id", "ds", "y", *self.static}
        if missing := need - set(df.columns):
            raise ValueError(f"series frame lacks columns {sorted(missing)}")
        if df.empty:
            raise ValueError("no history to fit the run-rate model on")
        df = df[["unique_id", "ds", "y", *self.static]].copy()
        for c in self.static:
            if df[c].dtype == object:
                df[c] = df[c].astype("category")
        booster = lgb.LGBMRegressor(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                                    num_leaves=self.num_leaves, min_child_samples=20, subsample=0.8,
                                    subsample_freq=1, random_state=self.random_state, n_jobs=self.n_jobs,
                                    verbose=-1)
        self.mlf_ = MLForecast(models={"lgbm": booster}, freq="MS", lags=list(self.lags),
                               lag_transforms={1: [RollingMean(window_size=3), RollingMean(window_size=6)]},
                               date_features=["month", month_of_quarter, is_q4], num_threads=1)
        self.mlf_.fit(df, static_features=list(self.static), dropna=True)
        self.last_ds_ = df["ds"].max()
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        """`unique_id, ds, y_hat` for the next `horizon` months (negative values clipped to 0)."""
        out = self.mlf_.predict(horizon).rename(columns={"lgbm": "y_hat"})
        out["y_hat"] = out["y_hat"].clip(lower=0.0)
        return out


def seasonal_naive(df: pd.DataFrame, horizon: int, season_length: int) -> pd.DataFrame:
    """statsforecast SeasonalNaive over `unique_id, ds, y` monthly series: `unique_id, ds, y_hat`."""
    sf = StatsForecast(models=[SeasonalNaive(season_length=season_length)], freq="MS", n_jobs=1)
    out = sf.forecast(df=df[["unique_id", "ds", "y"]], h=horizon)
    return out.rename(columns={"SeasonalNaive": "y_hat"}).reset_index(drop=("unique_id" in out.columns))


def wape(actual, forecast) -> float:
    """Weighted absolute percentage error: sum |forecast - actual| / sum |actual|."""
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    denom = np.abs(a).sum()
    if denom == 0:
        return float("nan")
    return float(np.abs(f - a).sum() / denom)
