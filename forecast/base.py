"""The estimator contract shared by the Forecaster and the baselines.

Frames are in long format: ``unique_id``, ``ds`` (datetimes or integers), ``y``. A subclass
implements two hooks:

- ``_fit(df)``: learn from a validated frame (sorted by series and time);
- ``_predict_cutoffs(df, cutoffs)``: forecast the ``horizon`` steps after each origin in
  ``cutoffs`` (columns ``unique_id, cutoff``) from the rows of ``df`` up to that origin, returning
  ``unique_id, ds, cutoff, y_hat[, y_hat_qXX...]``. It receives every origin of a call at once, so
  a model can batch them.

``predict`` is ``_predict_cutoffs`` at each series' last timestamp; ``backtest`` is it at the
rolling origins of :func:`forecast.backtesting.series_cutoffs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from forecast.backtesting import Backtest, rolling_origin, series_cutoffs
from forecast.metrics import evaluate
from pipelines.frequency import Frequency, horizon_timestamps
from pipelines.validation import CheckedFrame, check_frame

ID, TIME, TARGET = "unique_id", "ds", "y"


class BaseForecaster(BaseEstimator):
    """Base class of forecasters: ``fit``, ``predict`` and ``backtest`` on long-format frames.

    Subclasses store their constructor arguments unchanged (scikit-learn convention), including
    ``horizon`` (steps forecast from each origin) and optionally ``freq`` (pandas offset alias or
    integer step; ``None`` infers it from the series, which must agree), and implement ``_fit`` and
    ``_predict_cutoffs``.

    Fitted attributes: ``freq_`` (pandas offset, or integer step for integer ``ds``),
    ``series_ids_`` (sorted ids seen in fit), ``train_df_`` (the validated training frame, used by
    ``predict()`` without a frame).
    """

    horizon: int

    def fit(self, df: pd.DataFrame | pd.Series) -> BaseForecaster:
        """Validate ``df``, learn its series and frequency, and fit the model."""
        self._check_horizon()
        checked = checked_frame(df, getattr(self, "freq", None))
        self.freq_ = checked.freq
        self.series_ids_ = checked.series_ids
        self._fit(checked.frame)
        self.train_df_ = checked.frame
        return self

    def predict(
        self, df: pd.DataFrame | pd.Series | None = None, future_df: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after each series' last timestamp in ``df``.

        Args:
            df: history of series seen in ``fit`` (``None``: the frame given to ``fit``).
            future_df: future-known covariates for the horizon steps; models without covariates
                (the baselines) ignore it.

        Returns:
            ``unique_id, ds, y_hat[, y_hat_qXX...]``, ``horizon`` rows per series with the real future
            timestamps, sorted by series and time.
        """
        check_is_fitted(self)
        data = self.train_df_ if df is None else validate_frame(df, self.freq_)
        self._check_known_series(data)
        cutoffs = data.groupby(ID, sort=True)[TIME].max().rename("cutoff").reset_index()
        forecasts = self._predict_cutoffs(data, cutoffs)
        check_forecasts(forecasts, cutoffs, self.horizon)
        return forecasts.drop(columns="cutoff").sort_values([ID, TIME], kind="stable").reset_index(drop=True)

    def backtest(
        self,
        df: pd.DataFrame | pd.Series,
        n_windows: int = 1,
        step: int | None = None,
        refit: bool | int = False,
        season_length: int | None = None,
        metrics: Sequence[str] | None = None,
    ) -> Backtest:
        """Rolling-origin evaluation on the last ``n_windows`` origins of every series.

        Args:
            df: full history (the actuals of every window come from it).
            n_windows: origins per series, placed by :func:`forecast.backtesting.series_cutoffs`.
            step: rows between origins (``None``: ``horizon``, non-overlapping windows).
            refit: ``False`` predicts every origin in one batched call with one model (this fitted
                estimator, or a clone fitted on the history up to each series' first origin when it is
                not fitted); ``True`` or ``k`` refits a clone on the history up to the first origin of
                every block of ``k`` windows (``True`` = every window).
            season_length: MASE period (``None``: the estimator's ``season_length`` if it has one,
                else the seasonal period of the frequency, see :func:`seasonal_period`).
            metrics: metric names for :func:`forecast.metrics.evaluate` (``None``: its default).

        Returns:
            ``Backtest(forecasts, metrics)``: forecasts ``unique_id, ds, cutoff, y, y_hat[, ...]`` and
            the per-series/per-cutoff score table.
        """
        self._check_horizon()
        fitted = self.__sklearn_is_fitted__()
        checked = checked_frame(df, self.freq_ if fitted else getattr(self, "freq", None))
        data = checked.frame
        if fitted:
            self._check_known_series(data)
        cutoffs = series_cutoffs(data, n_windows, self.horizon if step is None else step, self.horizon)
        forecasts = rolling_origin(self, data, cutoffs, refit)
        check_forecasts(forecasts, cutoffs, self.horizon)
        if season_length is None:
            season_length = getattr(self, "season_length", None) or seasonal_period(checked.freq)
        scores = evaluate(forecasts, train_df=data, season_length=season_length, metrics=metrics)
        return Backtest(forecasts=forecasts, metrics=scores)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "freq_")

    def _fit(self, df: pd.DataFrame) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _fit(df)")

    def _predict_cutoffs(self, df: pd.DataFrame, cutoffs: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError(f"{type(self).__name__} must implement _predict_cutoffs(df, cutoffs)")

    def _check_horizon(self) -> None:
        horizon = self.horizon
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ValueError(f"horizon must be a positive integer; got {horizon!r}")

    def _check_known_series(self, df: pd.DataFrame) -> None:
        unknown = pd.Index(df[ID].unique()).difference(pd.Index(self.series_ids_))
        if len(unknown):
            raise ValueError(
                f"unknown series {list(unknown[:5])}{' ...' if len(unknown) > 5 else ''}: "
                f"{type(self).__name__} was fitted on {len(self.series_ids_)} series "
                f"(e.g. {list(self.series_ids_[:3])})"
            )

    def _future_index(self, cutoffs: pd.DataFrame) -> pd.DataFrame:
        """``unique_id, cutoff, ds, step``: the ``horizon`` timestamps after each cutoff (step = 1..horizon)."""
        return future_index(cutoffs, self.freq_, self.horizon)


def validate_frame(df: pd.DataFrame | pd.Series, freq: str | int | Frequency | None = None) -> pd.DataFrame:
    """A checked, sorted copy of a long frame (see :func:`checked_frame`)."""
    return checked_frame(df, freq).frame


def checked_frame(df: pd.DataFrame | pd.Series, freq: str | int | Frequency | None = None) -> CheckedFrame:
    """Check a long frame with :func:`pipelines.validation.check_frame`: sorted copy, its frequency and series.

    The frequency is ``freq`` or inferred from every series (they must agree); integer ``ds`` steps by
    the series' common step. Raises ``pipelines.validation.ValidationError`` (a ``ValueError``) naming
    the series, column and timestamp at fault.
    """
    return check_frame(df, id_col=ID, time_col=TIME, target_col=TARGET, freq=freq)


def future_index(cutoffs: pd.DataFrame, freq: Frequency, horizon: int) -> pd.DataFrame:
    """``unique_id, cutoff, ds, step``: the ``horizon`` timestamps after each cutoff (step = 1 .. horizon)."""
    origins = cutoffs[[ID, "cutoff"]].reset_index(drop=True)
    index = origins.take(np.repeat(np.arange(len(origins)), horizon)).reset_index(drop=True)
    index[TIME] = horizon_timestamps(origins["cutoff"], freq, horizon)
    index["step"] = np.tile(np.arange(1, horizon + 1), len(origins))
    return index


def check_forecasts(forecasts: pd.DataFrame, cutoffs: pd.DataFrame, horizon: int) -> None:
    """Check that a ``_predict_cutoffs`` result has the required columns and ``horizon`` rows per origin."""
    missing = [c for c in (ID, TIME, "cutoff", "y_hat") if c not in forecasts.columns]
    if missing:
        raise ValueError(f"_predict_cutoffs must return columns {[ID, TIME, 'cutoff', 'y_hat']}; missing {missing}")
    if len(forecasts) != horizon * len(cutoffs):
        raise ValueError(
            f"_predict_cutoffs must return horizon={horizon} rows per origin ({horizon * len(cutoffs)} rows "
            f"for {len(cutoffs)} origins); got {len(forecasts)}"
        )


def seasonal_period(freq: Frequency | None) -> int:
    """Steps in one cycle of the next coarser calendar unit, the usual MASE/seasonal-naive period.

    Hourly -> 24 (a day), daily -> 7 (a week), business daily -> 5, weekly -> 52, monthly -> 12,
    quarterly -> 4, minutely and secondly -> 60; multiples (``"2h"``), yearly, integer steps and
    ``None`` -> 1.
    """
    if freq is None or isinstance(freq, int) or freq.n != 1:
        return 1
    offsets = pd.offsets
    periods = (
        ((offsets.Hour,), 24),
        ((offsets.Day,), 7),
        ((offsets.BusinessDay,), 5),
        ((offsets.Week,), 52),
        ((offsets.MonthBegin, offsets.MonthEnd, offsets.BusinessMonthBegin, offsets.BusinessMonthEnd), 12),
        ((offsets.QuarterBegin, offsets.QuarterEnd, offsets.BQuarterBegin, offsets.BQuarterEnd), 4),
        ((offsets.Minute, offsets.Second), 60),
    )
    for kinds, period in periods:
        if isinstance(freq, kinds):
            return period
    return 1
