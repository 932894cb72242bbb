"""Benchmark forecasts: naive, seasonal naive and drift (Hyndman & Athanasopoulos, FPP3, section 5.2),
and exponential smoothing (`forecast.exponential_smoothing`).

For a series `y_1 .. y_T` observed up to the origin `T` and steps `h = 1 .. H`:

```
Naive:          ŷ_{T+h} = y_T
SeasonalNaive:  ŷ_{T+h} = y_{T+h-m(k+1)},  k = floor((h-1)/m),  m = season_length
Drift:          ŷ_{T+h} = y_T + h (y_T - y_1) / (T - 1)
```

They share the Forecaster's API (`fit`, `predict`, `backtest`); every origin of every series
is computed at once with NumPy indexing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecast.base import BaseForecaster
from forecast.exponential_smoothing import ets_point_forecasts
from pipelines.columns import ID, TARGET
from pipelines.rows import locate_rows
from pipelines.seasonality import resolve_season_length
from pipelines.settings import declared, settings_dataclass
from pipelines.validation import CheckedFrame
from pipelines.window_settings import FREQ, HORIZON, SEASON_LENGTH


def locate_origins(df: pd.DataFrame, series_ids: np.ndarray, cutoffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every origin `(series_ids[k], cutoffs[k])`, the row of `df` (series-contiguous, in time order)
    holding it and the first row of its series: `y[first_rows[k] : origin_rows[k] + 1]` is the history."""
    origin_rows, first_rows = locate_rows(df, series_ids, cutoffs)
    if (origin_rows < 0).any():
        bad = int(np.flatnonzero(origin_rows < 0)[0])
        raise ValueError(f"cutoff {cutoffs[bad]} is not a timestamp of series {series_ids[bad]!r}")
    return origin_rows, first_rows


@settings_dataclass
class _HistoryBaseline(BaseForecaster):
    """A forecast computed from the observed values up to each origin (no parameters are learned)."""

    horizon: int = declared(HORIZON)
    freq: str | int | None = declared(FREQ)

    def _fit(self, checked: CheckedFrame, callbacks: Sequence[Any]) -> None:
        """Nothing to learn: the forecasts come from the observed values up to each origin."""

    def _min_history(self) -> int:
        return 1

    def _point_forecasts(self, y: np.ndarray, origin_rows: np.ndarray, first_rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _predict_cutoffs(
        self, checked: CheckedFrame, cutoffs: pd.DataFrame, future_df: pd.DataFrame | None
    ) -> pd.DataFrame:
        """Point forecasts from every origin at once (no covariates, so `future_df` is not used)."""
        self._check_params()
        df = checked.frame
        origins = cutoffs[[ID, "cutoff"]].sort_values([ID, "cutoff"], kind="stable").reset_index(drop=True)
        origin_rows, first_rows = locate_origins(df, origins[ID].to_numpy(), origins["cutoff"].to_numpy())
        observed = origin_rows - first_rows + 1
        short = observed < self._min_history()
        if short.any():
            bad = origins[short].iloc[0]
            raise ValueError(
                f"series {bad[ID]!r} has {observed[short][0]} observation(s) up to {bad['cutoff']}; "
                f"{type(self).__name__}({self._describe()}) needs at least {self._min_history()}"
            )
        values = self._point_forecasts(df[TARGET].to_numpy(float), origin_rows, first_rows)
        forecasts = self._future_index(origins)
        forecasts["y_hat"] = values.ravel()
        return forecasts.drop(columns="step")

    def _describe(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())


class Naive(_HistoryBaseline):
    """Naive forecast: every step repeats the last observation, `ŷ_{T+h} = y_T`.

    Args:
        horizon: steps forecast after each origin.
        freq: pandas offset alias or integer step of `ds`; `None` infers it per series.

    Example:
        >>> Naive(horizon=3).fit(train).predict()      # doctest: +SKIP
    """

    def _point_forecasts(self, y, origin_rows, first_rows):
        return np.repeat(y[origin_rows][:, None], self.horizon, axis=1)


@settings_dataclass
class _SeasonalBaseline(_HistoryBaseline):
    """A history baseline that knows the seasonal period: `season_length`, or (None) the calendar's period of
    the data's frequency (12 for monthly data) or, for integer time steps, the period most series show (as the
    Forecaster's pipeline: `pipelines.seasonality.resolve_season_length`), learned by `fit` as `season_length_`."""

    season_length: int | None = declared(SEASON_LENGTH)

    def _fit(self, checked: CheckedFrame, callbacks: Sequence[Any]) -> None:
        y = checked.frame[TARGET].to_numpy(np.float64)
        self.season_length_ = resolve_season_length(self.season_length, checked.freq, y, checked.series_starts)

    def _fitted_state(self) -> dict:
        return {"season_length": self.season_length_}

    def _load_model(self, directory, state: dict, documents: dict) -> None:
        self.season_length_ = int(state["season_length"])


class SeasonalNaive(_SeasonalBaseline):
    """Seasonal naive forecast: each step repeats the value one season earlier.

    `ŷ_{T+h} = y_{T+h-m(k+1)}` with `k = floor((h-1)/m)`, i.e. the last observed season
    `y_{T-m+1} .. y_T` repeated. Needs at least `m` observations up to the origin.

    Args:
        horizon: steps forecast after each origin.
        season_length: the period `m` in steps (12 for monthly data with a yearly cycle); None takes the
            period of the data's frequency.
        freq: pandas offset alias or integer step of `ds`; `None` infers it per series.
    """

    def _min_history(self) -> int:
        return self.season_length_

    def _point_forecasts(self, y, origin_rows, first_rows):
        m = self.season_length_
        lag_back = m - 1 - (np.arange(self.horizon) % m)
        return y[origin_rows[:, None] - lag_back[None, :]]


class Drift(_HistoryBaseline):
    """Drift forecast: the line through the first and last observations, extended.

    `ŷ_{T+h} = y_T + h (y_T - y_1) / (T - 1)`. Needs at least 2 observations up to the origin.

    Args:
        horizon: steps forecast after each origin.
        freq: pandas offset alias or integer step of `ds`; `None` infers it per series.
    """

    def _min_history(self) -> int:
        return 2

    def _point_forecasts(self, y, origin_rows, first_rows):
        last, first = y[origin_rows], y[first_rows]
        slope = (last - first) / (origin_rows - first_rows)
        steps = np.arange(1, self.horizon + 1)
        return last[:, None] + steps[None, :] * slope[:, None]


class ExponentialSmoothing(_SeasonalBaseline):
    """Exponential smoothing state space models (ETS) fitted per series, combined with Akaike weights.

    At every origin, each of the models ETS(E, T, S) with errors A/M, trends N/A/Ad and (for
    `season_length > 1`) seasons N/A/M is fitted to the series' history by maximum likelihood,
    and the forecasts are averaged with weights `exp(-ΔAICc / 2)` (Hyndman et al. 2008; Kolassa,
    IJF 27(2), 2011); see `forecast.exponential_smoothing`. A history too short for any model
    gets the naive forecast.

    Args:
        horizon: steps forecast after each origin.
        season_length: the period `m` in steps (1: no seasonal models); None takes the period of the data's
            frequency.
        freq: pandas offset alias or integer step of `ds`; `None` infers it per series.
    """

    def _point_forecasts(self, y, origin_rows, first_rows):
        return ets_point_forecasts(y, origin_rows, first_rows, self.horizon, self.season_length_)
