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
from forecast.theta import theta_point_forecasts
from pipelines.columns import ID, TARGET, TIME
from pipelines.frequency import horizon_timestamps
from pipelines.seasonality import resolve_season_length
from pipelines.settings import declared, settings_dataclass
from pipelines.validation import CheckedFrame
from pipelines.window_settings import FREQ, HORIZON, SEASON_LENGTH


@settings_dataclass
class _HistoryBaseline(BaseForecaster):
    """A forecast computed from the observed values up to each origin (no parameters are learned)."""

    horizon: int = declared(HORIZON)
    freq: str | int | None = declared(FREQ)

    def _fit(self, checked: CheckedFrame, listeners: Sequence[Any]) -> None:
        """Nothing to learn: the forecasts come from the observed values up to each origin."""

    def _min_history(self) -> int:
        return 1

    def _point_forecasts(self, y: np.ndarray, origin_rows: np.ndarray, first_rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _predict_origins(
        self, checked: CheckedFrame, origin_rows: np.ndarray, future_df: pd.DataFrame | None
    ) -> pd.DataFrame:
        """Point forecasts from every origin at once (no covariates, so `future_df` is not used)."""
        self._check_params()
        df = checked.frame
        first_rows = checked.series_starts[checked.series_of_rows(origin_rows)]
        observed = origin_rows - first_rows + 1
        short = observed < self._min_history()
        if short.any():
            bad = origin_rows[short][0]
            raise ValueError(
                f"series {df[ID].iloc[bad]!r} has {observed[short][0]} observation(s) up to {df[TIME].iloc[bad]}; "
                f"{type(self).__name__}({self._describe()}) needs at least {self._min_history()}"
            )
        values = self._point_forecasts(checked.values(TARGET), origin_rows, first_rows)
        return pd.DataFrame(
            {
                ID: np.repeat(df[ID].to_numpy()[origin_rows], self.horizon),
                TIME: horizon_timestamps(checked.times()[origin_rows], self.freq_, self.horizon),
                "y_hat": values.ravel(),
            }
        )

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
    the data's frequency (12 for monthly data; for sub-daily data the day, or the week where the history
    follows a weekly cycle) or, for integer time steps, the period most series show (as the Forecaster's
    pipeline: `pipelines.seasonality.resolve_season_length`), learned by `fit` as `season_length_`."""

    season_length: int | None = declared(SEASON_LENGTH)

    def _fit(self, checked: CheckedFrame, listeners: Sequence[Any]) -> None:
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
            period the data show (`pipelines.seasonality.resolve_season_length`).
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
        season_length: the period `m` in steps (1: no seasonal models); None takes the period the data show
            (`pipelines.seasonality.resolve_season_length`).
        freq: pandas offset alias or integer step of `ds`; `None` infers it per series.
    """

    def _point_forecasts(self, y, origin_rows, first_rows):
        return ets_point_forecasts(y, origin_rows, first_rows, self.horizon, self.season_length_, False).ets


class Theta(_SeasonalBaseline):
    """The optimised Theta model (Fiorucci et al., IJF 32(4), 2016) fitted per series at every origin.

    Simple exponential smoothing with a drift from the series' least-squares line, its theta coefficient fitted
    with the level and the smoothing parameter (`forecast.theta`); the Forecaster averages it with ETS for
    series without a season. A seasonal series (`season_length > 1`) that passes the seasonality test is divided
    by its classical multiplicative indices before the fit and its forecasts multiplied back, as statsforecast's
    `OptimizedTheta` does. A history shorter than 3 values gets the naive forecast.

    Args:
        horizon: steps forecast after each origin.
        season_length: the period `m` in steps (1: no deseasonalisation); None takes the period the data show
            (`pipelines.seasonality.resolve_season_length`).
        freq: pandas offset alias or integer step of `ds`; `None` infers it per series.

    Example:
        >>> Theta(horizon=6).fit(train).predict()      # doctest: +SKIP
    """

    def _point_forecasts(self, y, origin_rows, first_rows):
        return theta_point_forecasts(y, origin_rows, first_rows, self.horizon, self.season_length_)
