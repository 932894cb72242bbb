"""Sliding windows over many time series: `SeriesWindows` (the fitted transform) and `Windows` (its output).

Window rule. For a series y_0 .. y_{n-1} (after validation: sorted, regular, filled), window j
(j = 0, 1, ...) starts at row s_j = j * stride and holds

    past   = rows s_j .. s_j + lookback - 1            (lookback steps up to the forecast origin)
    target = y at rows s_j + lookback .. s_j + lookback + horizon - 1
    origin = ds at row s_j + lookback - 1

for every j with s_j + lookback + horizon <= n, oldest window first; series come in sorted id order.

Features. `past` has, per step: the (scaled) target, the past-observed covariates, the
future-known covariates, then the calendar features. Past-observed covariates enter only
through `past`, i.e. only their values up to the origin. Future-known covariates and
calendar features also fill `future` for the `horizon` steps after the origin. Static
covariates (one row per series) fill `static`; a non-numeric static column is coded as the
position of its value in the vocabulary learned by `fit`.

Memory. `Windows` keeps one contiguous array of all rows (`n_rows x n_features`) and the
start row of each window; a batch is gathered by indexing a `sliding_window_view` of that
array with the batch's start rows (each window is one contiguous block, copied once). So
windowing costs about one copy of the numeric columns whatever the lookback; only the
properties `past`/`target`/`future` materialise every window at once.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator

from pipelines.calendar import calendar_feature_names, calendar_features, calendar_fields_for
from pipelines.columns import ID, TARGET, TIME
from pipelines.frequency import (
    Frequency,
    frequency_to_json,
    future_timestamps,
    horizon_timestamps,
    parse_frequency,
)
from pipelines.rows import locate_rows, sorted_positions
from pipelines.scaling import CovariateScaling, TargetScaler, is_zero_scale, usable_scale, window_scale
from pipelines.seasonality import SeasonalAdjustment, resolve_season_length
from pipelines.settings import declared, settings_dataclass, settings_from_json, settings_to_json
from pipelines.validation import (
    CheckedFrame,
    ValidationError,
    check_frame,
    numeric_columns,
    parse_time_column,
    short_series_message,
    shown,
)
from pipelines.window_settings import DTYPE, STRIDE, WindowSettings

OBSERVED = "observed"
"""Name of the past feature that flags real rows (1) against left padding (0)."""


_SCALE_CHUNK = 65_536  # windows whose past a scale computation gathers at once


class Windows:
    """Windows of several series: lazily gathered model inputs plus what is needed to undo the scaling.

    Attributes (arrays gathered on access):
        past: `(n, lookback, n_past_features)`, the scaled target first.
        target: `(n, horizon)` scaled target, or None for prediction windows.
        future: `(n, horizon, n_future_features)` future covariates and calendar features, or None.
        static: `(n, n_static)`, or None.
        index: DataFrame with the series id column and `"ds"`, the forecast origin of each window.
        forecast_times: the `horizon` timestamps after each origin (`n * horizon`, window-major).
        offset, scale: `(n,)`; `y = (y_scaled * scale + offset) * s` with `s` the seasonal index of
            the step (1 without deseasonalisation; see `inverse_target`).
        past_feature_names, future_feature_names, static_feature_names: lists of str; with left padding
            the second past feature is `"observed"` (1 for a real row, 0 for padding).

    Built by `SeriesWindows`; not meant to be constructed directly.
    """

    def __init__(
        self,
        *,
        values: np.ndarray,
        times: pd.DatetimeIndex | np.ndarray,
        starts: np.ndarray,
        series_index: np.ndarray,
        series_ids: np.ndarray,
        series_offset: np.ndarray,
        series_scale: np.ndarray,
        static_table: np.ndarray | None,
        lookback: int,
        horizon: int,
        n_future_features: int,
        has_target: bool,
        window_scaler: str | None,
        season: np.ndarray | None,
        past_feature_names: list[str],
        future_feature_names: list[str],
        static_feature_names: list[str],
        origin_rows: np.ndarray,
        source_starts: np.ndarray,
    ):
        self._values = values
        self._times = times
        self._starts = starts
        self._series_index = series_index
        self._series_ids = series_ids
        self._series_offset = series_offset
        self._series_scale = series_scale
        self._static_table = static_table
        self.lookback = lookback
        self.horizon = horizon
        self._n_future_features = n_future_features
        self._has_target = has_target
        self._window_scaler = window_scaler
        self._season = season
        self.past_feature_names = past_feature_names
        self.future_feature_names = future_feature_names
        self.static_feature_names = static_feature_names
        self._origin_rows = origin_rows
        self._source_starts = source_starts
        self._scales: np.ndarray | None = None  # every window's scale, computed on first use (window scalers)

    def __len__(self) -> int:
        return int(self._starts.size)

    def __repr__(self) -> str:
        return (
            f"Windows(n={len(self)}, lookback={self.lookback}, horizon={self.horizon}, "
            f"past_features={len(self.past_feature_names)}, future_features={len(self.future_feature_names)}, "
            f"static_features={len(self.static_feature_names)}, target={'yes' if self._has_target else 'no'})"
        )

    @property
    def past(self) -> np.ndarray:
        return self.batch(np.arange(len(self)))[0]["past"]

    @property
    def target(self) -> np.ndarray | None:
        if not self._has_target:
            return None
        return self._gather_target(np.arange(len(self)))

    @property
    def future(self) -> np.ndarray | None:
        if self._n_future_features == 0:
            return None
        return self._gather_future(np.arange(len(self)))

    @property
    def static(self) -> np.ndarray | None:
        if self._static_table is None:
            return None
        return self._static_table[self._series_index]

    @property
    def index(self) -> pd.DataFrame:
        """`unique_id, ds`: each window's series and origin (its last observed timestamp)."""
        return pd.DataFrame({ID: self.origin_ids, TIME: self.origin_times})

    @property
    def origin_ids(self) -> np.ndarray:
        """The series of each window (the `unique_id` column of `index`, without building the frame)."""
        return self._series_ids[self._series_index]

    @property
    def origin_times(self) -> pd.DatetimeIndex | np.ndarray:
        """The origin of each window (the `ds` column of `index`, without building the frame)."""
        return self._times[self._starts + self.lookback - 1]

    @property
    def origin_rows(self) -> np.ndarray:
        """The row of each window's origin in the validated frame the windows were cut from (`CheckedFrame.frame`)."""
        return self._origin_rows

    @property
    def first_rows(self) -> np.ndarray:
        """The first row of each window's series in that frame: `y[first_rows[k] : origin_rows[k] + 1]` is the
        whole history of window `k` up to its origin."""
        return self._source_starts[self._series_index]

    @property
    def forecast_times(self) -> pd.DatetimeIndex | np.ndarray:
        """The `horizon` timestamps after each window's origin, window-major (`n * horizon` values)."""
        rows = (self._starts[:, None] + self.lookback + np.arange(self.horizon)).ravel()
        return self._times[rows]

    @property
    def offset(self) -> np.ndarray:
        return self._series_offset[self._series_index]

    @property
    def scale(self) -> np.ndarray:
        return self._window_scale(np.arange(len(self)))

    def batch(self, indices: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Inputs dict (`"past"`, and `"future"`/`"static"` when present) and scaled target of some windows."""
        indices = np.asarray(indices, dtype=np.int64)
        starts = self._starts[indices]
        scale = self._window_scale(indices) if self._window_scaler else None
        past = self._row_windows(self.lookback)[starts]
        if self._window_scaler:
            past[:, :, 0] /= scale[:, None].astype(past.dtype)
        inputs = {"past": past}
        if self._n_future_features:
            inputs["future"] = self._gather_future(indices)
        if self._static_table is not None:
            inputs["static"] = self._static_table[self._series_index[indices]]
        target = self._gather_target(indices, scale) if self._has_target else None
        return inputs, target

    def as_inputs(self) -> dict[str, np.ndarray]:
        """All windows as the dict of NumPy arrays a model takes (`"past"`, `"future"`, `"static"`)."""
        return self.batch(np.arange(len(self)))[0]

    def select(self, mask_or_indices: np.ndarray | Sequence[int] | Sequence[bool]) -> Windows:
        """The windows picked by a boolean mask or integer positions, sharing the underlying rows."""
        picked = np.asarray(mask_or_indices)
        if picked.dtype == bool:
            if picked.shape != (len(self),):
                raise ValueError(f"Expected a boolean mask of length {len(self)}, found shape {picked.shape}.")
            picked = np.flatnonzero(picked)
        selected = copy.copy(self)
        selected._starts = self._starts[picked]
        selected._series_index = self._series_index[picked]
        selected._origin_rows = self._origin_rows[picked]
        selected._scales = None if self._scales is None else self._scales[picked]
        return selected

    def inverse_target(self, values: np.ndarray) -> np.ndarray:
        """Undo the target scaling and deseasonalisation of values `(n, horizon)` or `(n, horizon, k)`.

        `(values * scale + offset) * s_{t}`, with `s_t` the seasonal index of each forecast step.
        """
        values = np.asarray(values)
        if values.ndim not in (2, 3) or values.shape[0] != len(self):
            raise ValueError(
                f"Expected values of shape ({len(self)}, horizon) or ({len(self)}, horizon, k), found {values.shape}."
            )
        expand = (slice(None),) + (None,) * (values.ndim - 1)
        unscaled = values * self.scale[expand] + self.offset[expand]
        return (
            unscaled
            if self._season is None
            else unscaled * self.seasonal_factors.reshape(unscaled.shape[:2] + (1,) * (values.ndim - 2))
        )

    @property
    def zero_past(self) -> np.ndarray:
        """`(n,)`: whether a window is scaled by its own past (`"last"`, `"window_mean"`) and that scale is 0: every
        observed past value it is taken from is 0. A forecast `scale * f(past / scale)` tends to 0 with its scale, so
        such a window forecasts 0 (its scale was replaced by 1 only to divide by it)."""
        if not self._window_scaler:
            return np.zeros(len(self), bool)
        return is_zero_scale(self._raw_window_scale(np.arange(len(self))))

    @property
    def seasonal_factors(self) -> np.ndarray:
        """`(n, horizon)`: the seasonal index of every forecast step (ones without deseasonalisation)."""
        if self._season is None:
            return np.ones((len(self), self.horizon))
        return self._season[self._starts[:, None] + self.lookback + np.arange(self.horizon)]

    def to_dataset(self, batch_size: int = 32, shuffle: bool = False, seed: int | None = None, prefetch: bool = True):
        """A `tf.data.Dataset` of `(inputs_dict, target)` batches (inputs only for prediction windows),
        gathered batch by batch; with `shuffle` each pass draws a new permutation from `seed`."""
        from pipelines.dataset import windows_to_tf_dataset

        return windows_to_tf_dataset(self, batch_size=batch_size, shuffle=shuffle, seed=seed, prefetch=prefetch)

    def to_py_dataset(self, batch_size: int = 32, shuffle: bool = False, seed: int | None = None, **kwargs):
        """A `keras.utils.PyDataset` of the same batches as `to_dataset`."""
        from pipelines.dataset import WindowsPyDataset

        return WindowsPyDataset(self, batch_size=batch_size, shuffle=shuffle, seed=seed, **kwargs)

    def _window_scale(self, indices: np.ndarray) -> np.ndarray:
        if not self._window_scaler:
            return self._series_scale[self._series_index[indices]]
        return usable_scale(self._raw_window_scale(indices))

    def _raw_window_scale(self, indices: np.ndarray) -> np.ndarray:
        """`window_scale` of the windows at `indices` (0 where a window's past is all zero), computed once."""
        if self._scales is None:  # in chunks, so that streaming batches (to_dataset) never hold every window
            rows = self._row_windows(self.lookback)
            has_flag = self.past_feature_names[1:2] == [OBSERVED]
            scales = []
            for first in range(0, len(self), _SCALE_CHUNK):
                past = rows[self._starts[first : first + _SCALE_CHUNK]]
                observed = past[:, :, 1] > 0.5 if has_flag else np.ones(past.shape[:2], bool)
                scales.append(window_scale(self._window_scaler, past[:, :, 0], observed))
            self._scales = np.concatenate(scales) if scales else np.ones(0)
        return self._scales[indices]

    def _row_windows(self, length: int) -> np.ndarray:
        """Read-only view `(n_rows - length + 1, length, n_features)`: entry s holds rows s .. s + length - 1."""
        return sliding_window_view(self._values, (length, self._values.shape[1]))[:, 0]

    def _gather_target(self, indices: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
        target = self._row_windows(self.horizon)[self._starts[indices] + self.lookback, :, 0]
        if self._window_scaler:
            scale = self._window_scale(indices) if scale is None else scale
            target /= scale[:, None].astype(target.dtype)
        return target

    def _gather_future(self, indices: np.ndarray) -> np.ndarray:
        first_column = self._values.shape[1] - self._n_future_features
        return self._row_windows(self.horizon)[self._starts[indices] + self.lookback, :, first_column:]


@settings_dataclass
class SeriesWindows(WindowSettings, BaseEstimator):
    """Turn long-format series into `Windows` of `lookback` past steps and `horizon` target steps.

    A scikit-learn estimator (`get_params`/`set_params`/`clone`): `__init__` stores the
    arguments; `fit` validates the frame (see
    `pipelines.validation.validate`) and learns `freq_`, `series_ids_`, `calendar_fields_`,
    `target_scaler_`, `static_vocabularies_` and the feature names; `transform` windows a
    frame with what was learned. `get_config`/`from_config` save and restore all of it as JSON.
    The target and covariate scalings are fitted on the frame given to `fit` (the training part)
    and applied unchanged by `transform`, `predict_windows` and `origin_windows`.
    `check` validates a frame once; its result (a `CheckedFrame`) is accepted by every method
    without a second validation.
    The module docstring gives the window rule; `pipelines.split.time_split` cuts frames whose
    windows do not leak targets across train / validation / test.

    Args (keyword-only; declared once in `pipelines.window_settings`, where each one's default and help live):
        lookback, horizon, freq, past_covariates, future_covariates, static_covariates, calendar, scaler,
        covariate_scaler, min_past, season_length, deseasonalize, fill, short_series: the windowing settings
        shared with the `Forecaster` (`WindowSettings`);
        stride: steps between the starts of consecutive windows of a series;
        dtype: dtype of the window arrays.

    Example:
        >>> sw = SeriesWindows(lookback=24, horizon=6, calendar="auto")
        >>> train = sw.fit_transform(train_df)
        >>> model.fit(train.to_dataset(batch_size=64, shuffle=True, seed=0))
        >>> query = sw.predict_windows(history_df)
        >>> y_hat = query.inverse_target(model.predict(query.as_inputs()))
    """

    stride: int = declared(STRIDE)
    dtype: str = declared(DTYPE)

    def check(
        self,
        df: pd.DataFrame | pd.Series | CheckedFrame,
        *,
        min_length: int | None = None,
        min_length_reason: str | None = None,
    ) -> CheckedFrame:
        """Validate a frame for this pipeline once: the columns it uses, its fill and short-series policies.

        Args:
            df: a long-format frame (or a single series, see `pipelines.validation.to_long_format`),
                or a `CheckedFrame` already validated by this method, which is returned after a
                cheap check of its columns and series lengths (so a caller validates once and hands
                the result to `fit`, `transform` and `origin_windows`).
            min_length: the fewest rows a series needs (default: a training window, `min_past + horizon`).
            min_length_reason: where a given `min_length` comes from, for the short-series error
                (e.g. `"lookback 24 rows of history for a forecast"`).

        Returns:
            The `CheckedFrame` (sorted copy, frequency, series layout); after `fit` its time kind
            and frequency must match what `fit` saw.
        """
        fitted = hasattr(self, "freq_")
        if not fitted:  # a fitted pipeline's settings were checked by fit
            self._check_parameters()
        if min_length is None:
            min_length = self._min_past() + self.horizon
            min_length_reason = f"{self._min_past_named()} + horizon {self.horizon} rows for one training window"
        if isinstance(df, CheckedFrame):
            checked = self._recheck(df, min_length, min_length_reason)
        else:
            selected = self._select_columns(df)
            checked = check_frame(
                selected,
                covariates=[*self.past_covariates, *self.future_covariates],
                static_covariates=self.static_covariates,
                freq=self.freq_ if fitted else self.freq,
                fill=self.fill,
                min_length=min_length,
                short_series=self.short_series,
                copy=selected is df,
                min_length_reason=min_length_reason,
                timezone=self.timezone_ if fitted else None,
                fill_fixed=fitted,  # gaps in a fitted model's history are not told to choose a fill policy
            )
        if fitted:
            self._check_time_kind(checked.times())
        self._check_representable(checked)
        return checked

    def _check_representable(self, checked: CheckedFrame) -> None:
        """Every value must fit the window dtype: beyond float32's ±3.4e38 it becomes inf inside the network."""
        limit = np.finfo(np.dtype(self.dtype)).max
        for column in [TARGET, *self.past_covariates, *self.future_covariates]:
            values = checked.values(column)
            too_large = np.abs(values) > limit
            if too_large.any():
                row = int(np.flatnonzero(too_large)[0])
                raise ValidationError(
                    f"Column {column!r} has {values[row]:g} in series {shown(checked.frame[ID].iloc[row])} at "
                    f"{TIME}={checked.frame[TIME].iloc[row]}: beyond the {np.dtype(self.dtype)} range (±{limit:.1e}) "
                    f"the network computes in; rescale the column. {int(too_large.sum())} such values in all."
                )

    def fit(self, df: pd.DataFrame | pd.Series | CheckedFrame) -> SeriesWindows:
        """Learn frequency, series, calendar fields, seasonality, target and covariate scaling, static vocabularies.

        `df` is validated with `check` (unless it is already a `CheckedFrame`); every statistic
        is computed from its rows only (the training part).
        """
        checked = self.check(df)
        frame = checked.frame
        self.freq_ = checked.freq
        self.time_kind_ = "integer" if isinstance(checked.freq, int) else "datetime"
        times = frame[TIME]
        self.timezone_ = str(times.dt.tz) if self.time_kind_ == "datetime" and times.dt.tz is not None else None
        self.calendar_fields_ = self._resolve_calendar(checked.freq)
        self.series_ids_ = checked.series_ids
        y = checked.values(TARGET)
        self.season_length_ = resolve_season_length(self.season_length, self.freq_, y, checked.series_starts)
        self.seasonal_adjustment_ = SeasonalAdjustment.fit(
            y,
            checked.times(),
            checked.series_starts,
            checked.series_ids,
            self.season_length_ if self.deseasonalize else 1,
            checked.freq,
        )
        factors = self.seasonal_adjustment_.factors(checked.series_ids, checked.times(), checked.series_starts)
        adjusted = y if factors is None else y / factors
        self.target_scaler_ = TargetScaler(self.scaler).fit(adjusted, checked.series_starts, checked.series_ids)
        self.static_vocabularies_ = {column: _vocabulary(frame[column]) for column in self.static_covariates}
        time_varying = [*self.past_covariates, *self.future_covariates]
        self.covariate_scaling_ = CovariateScaling.fit(
            {column: frame[column].to_numpy(dtype=np.float64) for column in time_varying}, self.covariate_scaler
        )
        first_rows = frame.iloc[checked.series_starts[:-1]]
        self.static_scaling_ = CovariateScaling.fit(
            {
                column: first_rows[column].to_numpy(dtype=np.float64)
                for column in self.static_covariates
                if self.static_vocabularies_[column] is None
            },
            self.covariate_scaler,
        )
        calendar_names = calendar_feature_names(self.calendar_fields_)
        flag = [OBSERVED] if self._padding() else []
        self.past_feature_names_ = [TARGET, *flag, *self.past_covariates, *self.future_covariates, *calendar_names]
        self.future_feature_names_ = [*self.future_covariates, *calendar_names]
        self.static_feature_names_ = list(self.static_covariates)
        return self

    def transform(self, df: pd.DataFrame | pd.Series | CheckedFrame) -> Windows:
        """Every complete window (full target; past left-padded below `lookback` rows) of every series in `df`."""
        self._check_fitted()
        checked = self.check(df)
        frame, padding = checked.frame, self._padding()
        lengths = np.diff(checked.series_starts)
        n_series = lengths.size
        # Series k becomes one segment: `padding` padded rows, then its rows.
        segment_starts = checked.series_starts + padding * np.arange(n_series + 1)
        rows = np.arange(len(frame)) + padding * (np.repeat(np.arange(n_series), lengths) + 1)
        counts = (lengths + padding - self.lookback - self.horizon) // self.stride + 1
        series_index = np.repeat(np.arange(n_series, dtype=np.int32), counts)
        first_window = np.concatenate([[0], np.cumsum(counts)[:-1]])
        position_in_series = np.arange(series_index.size, dtype=np.int64) - np.repeat(first_window, counts)
        starts = np.repeat(segment_starts[:-1], counts) + position_in_series * self.stride
        target, covariates, times = (
            checked.values(TARGET),
            self._covariate_matrix(checked),
            checked.times(),
        )
        observed = None
        if padding:
            source = np.repeat(checked.series_starts[:-1], padding + lengths)  # padded rows copy the first row
            source[rows] = np.arange(len(frame))
            target, covariates, times = target[source], covariates[source], times[source]
            observed = np.zeros(int(segment_starts[-1]), dtype=bool)
            observed[rows] = True
        return self._windows(
            target=target,
            covariates=covariates,
            times=times,
            observed=observed,
            segment_starts=segment_starts,
            segment_series=np.arange(n_series),
            starts=starts,
            series_index=series_index,
            origin_rows=starts + self.lookback - 1 - padding * (series_index.astype(np.int64) + 1),
            has_target=True,
            source=checked,
        )

    def fit_transform(self, df: pd.DataFrame | pd.Series | CheckedFrame) -> Windows:
        """`fit(df)` then `transform(df)`, validating `df` once."""
        checked = self.check(df)
        return self.fit(checked).transform(checked)

    def predict_windows(
        self, df: pd.DataFrame | pd.Series | CheckedFrame, future_df: pd.DataFrame | None = None
    ) -> Windows:
        """One window per series whose origin is the series' last timestamp, with no target.

        The past part is the last `lookback` rows of each series in `df` (left-padded when a
        series has fewer, down to `min_past`). Future covariates for the `horizon` timestamps after
        the origin come from `future_df` (long format, `unique_id`, `ds` and the future covariate
        columns); calendar features are computed for those timestamps.
        """
        self._check_fitted()
        checked = self.check_history(df)
        return self.windows_at(checked, checked.series_starts[1:] - 1, future_df)

    def check_history(self, df: pd.DataFrame | pd.Series | CheckedFrame) -> CheckedFrame:
        """`check` for a history to forecast from: every series needs `min_past` rows (left-padded up to `lookback`),
        or the whole `lookback` without padding."""
        return self.check(
            df,
            min_length=self._min_past(),
            min_length_reason=f"{self._min_past_named()} rows of history before a forecast origin",
        )

    def origin_windows(
        self,
        df: pd.DataFrame | pd.Series | CheckedFrame,
        origins: pd.DataFrame,
        future_df: pd.DataFrame | None = None,
    ) -> Windows:
        """One window per forecast origin: the `lookback` rows up to it and the `horizon` steps after it.

        Args:
            df: history of the series (long format or a `CheckedFrame`).
            origins: `unique_id` and `cutoff` (a timestamp of that series in `df`), one row per window,
                in the order the windows come out.
            future_df: future covariates for the steps after an origin that `df` does not hold
                (the steps after a series' last row); steps that `df` holds take its values.

        Returns:
            `Windows` in the order of `origins`; they carry a target when `df` holds every
            step after every origin (a backtest), none otherwise (a forecast).
        """
        self._check_fitted()
        checked = self.check_history(df)
        missing = [column for column in (ID, "cutoff") if column not in origins.columns]
        if missing:
            raise ValueError(f"origins must have columns {[ID, 'cutoff']}; missing {missing}")
        origin_rows = locate_rows(checked.frame, origins[ID].to_numpy(), origins["cutoff"])[0]
        if (origin_rows < 0).any():
            bad = origins.iloc[int(np.flatnonzero(origin_rows < 0)[0])]
            raise ValidationError(f"Origin {bad['cutoff']} is not a timestamp of series {shown(bad[ID])}.")
        return self.windows_at(checked, origin_rows, future_df)

    def windows_at(
        self, checked: CheckedFrame, origin_rows: np.ndarray, future_df: pd.DataFrame | None = None
    ) -> Windows:
        """One window per origin given as a row of a validated frame (`checked.frame`), in the order of `origin_rows`.

        Each window becomes one segment of `lookback + horizon` rows: the history up to the origin
        (left-padded where the series starts later), then the `horizon` steps after it, taken from
        `checked` where it holds them and otherwise missing (target, past covariates) or read from
        `future_df` (future covariates). `origin_windows` is this after finding the rows of
        `(unique_id, cutoff)` pairs; `predict_windows` is it at each series' last row.
        """
        self._check_fitted()
        origin_rows = np.asarray(origin_rows, dtype=np.int64)
        if origin_rows.size == 0:
            raise ValueError("origin_rows is empty: give at least one origin row of the frame")
        series = checked.series_of_rows(origin_rows)
        frame, series_starts = checked.frame, checked.series_starts
        lookback, horizon, n_windows = self.lookback, self.horizon, origin_rows.size
        first_rows = series_starts[series]
        observed_up_to_origin = origin_rows - first_rows + 1
        if (observed_up_to_origin < self._min_past()).any():
            bad = int(np.flatnonzero(observed_up_to_origin < self._min_past())[0])
            raise ValidationError(
                f"Series {shown(checked.series_ids[series[bad]])} has {observed_up_to_origin[bad]} rows up to "
                f"{TIME}={frame[TIME].iloc[origin_rows[bad]]}; a forecast origin needs "
                f"{self._min_past_named('=')}."
            )
        history_rows = origin_rows[:, None] - lookback + 1 + np.arange(lookback)
        in_series = (history_rows >= first_rows[:, None]).ravel()
        history_rows = np.maximum(history_rows, first_rows[:, None]).ravel()  # padded rows copy the first row
        after_rows = origin_rows[:, None] + 1 + np.arange(horizon)
        held = (after_rows < series_starts[series + 1][:, None]).ravel()
        after_rows = after_rows.ravel()[held]
        times = checked.times()
        future_times = horizon_timestamps(times[origin_rows], self.freq_, horizon)
        y = checked.values(TARGET)
        target = np.full((n_windows, lookback + horizon), np.nan)
        target[:, :lookback] = y[history_rows].reshape(n_windows, lookback)
        after_target = np.full(n_windows * horizon, np.nan)
        after_target[held] = y[after_rows]
        target[:, lookback:] = after_target.reshape(n_windows, horizon)
        all_covariates = self._covariate_matrix(checked)
        n_covariates = all_covariates.shape[1]
        covariates = np.full((n_windows, lookback + horizon, n_covariates), np.nan, dtype=self.dtype)
        covariates[:, :lookback] = all_covariates[history_rows].reshape(n_windows, lookback, n_covariates)
        after = covariates[:, lookback:].reshape(n_windows * horizon, n_covariates)
        after[held] = all_covariates[after_rows]
        if self.future_covariates and not held.all():
            ids = np.repeat(checked.series_ids[series], horizon)[~held]
            known = self._scale_covariates(self._future_covariates(ids, future_times[~held], future_df))
            after[~held, len(self.past_covariates) :] = known
        covariates[:, lookback:] = after.reshape(n_windows, horizon, n_covariates)
        observed = np.concatenate([in_series.reshape(n_windows, lookback), np.ones((n_windows, horizon), bool)], axis=1)
        segment_starts = np.arange(n_windows + 1, dtype=np.int64) * (lookback + horizon)
        return self._windows(
            target=target.ravel(),
            covariates=covariates.reshape(n_windows * (lookback + horizon), n_covariates),
            times=_segment_times(times[history_rows], future_times, n_windows),
            observed=None if observed.all() else observed.ravel(),
            segment_starts=segment_starts,
            segment_series=series,
            starts=segment_starts[:-1],
            series_index=series.astype(np.int32),
            origin_rows=origin_rows,
            has_target=bool(held.all()),
            source=checked,
        )

    def future_timestamps(self, last_ds, n: int):
        """The `n` timestamps after `last_ds` at the learned frequency `freq_`."""
        self._check_fitted()
        return future_timestamps(last_ds, n, self.freq_)

    def get_config(self) -> dict:
        """JSON-serializable arguments and, once fitted, everything learned."""
        config = settings_to_json(self)
        config["freq"] = None if self.freq is None else frequency_to_json(parse_frequency(self.freq))
        config["dtype"] = str(np.dtype(self.dtype))
        if hasattr(self, "freq_"):
            config["fitted"] = {
                "freq": frequency_to_json(self.freq_),
                "time_kind": self.time_kind_,
                "timezone": self.timezone_,
                "calendar_fields": list(self.calendar_fields_),
                "series_ids": self.series_ids_.tolist(),
                "target_scaler": self.target_scaler_.get_config(),
                "covariate_scaling": self.covariate_scaling_.get_config(),
                "season_length": self.season_length_,
                "seasonal_adjustment": self.seasonal_adjustment_.get_config(),
                "static_scaling": self.static_scaling_.get_config(),
                "static_vocabularies": self.static_vocabularies_,
                "past_feature_names": self.past_feature_names_,
                "future_feature_names": self.future_feature_names_,
                "static_feature_names": self.static_feature_names_,
            }
        return config

    @classmethod
    def from_config(cls, config: dict) -> SeriesWindows:
        """The instance (fitted when `config` holds a fitted state) described by `get_config`."""
        arguments = settings_from_json(cls, {key: value for key, value in config.items() if key != "fitted"})
        fitted = config.get("fitted")
        instance = cls(**arguments)
        if fitted is not None:
            instance.freq_ = parse_frequency(fitted["freq"])
            instance.time_kind_ = fitted["time_kind"]
            instance.timezone_ = fitted["timezone"]
            instance.calendar_fields_ = tuple(fitted["calendar_fields"])
            instance.series_ids_ = np.asarray(fitted["series_ids"])
            instance.target_scaler_ = TargetScaler.from_config(fitted["target_scaler"])
            instance.season_length_ = fitted["season_length"]
            instance.seasonal_adjustment_ = SeasonalAdjustment.from_config(
                fitted["seasonal_adjustment"], instance.freq_, instance.time_kind_, instance.timezone_
            )
            instance.covariate_scaling_ = CovariateScaling.from_config(fitted["covariate_scaling"])
            instance.static_scaling_ = CovariateScaling.from_config(fitted["static_scaling"])
            instance.static_vocabularies_ = dict(fitted["static_vocabularies"])
            instance.past_feature_names_ = list(fitted["past_feature_names"])
            instance.future_feature_names_ = list(fitted["future_feature_names"])
            instance.static_feature_names_ = list(fitted["static_feature_names"])
        return instance

    def _check_parameters(self) -> None:
        self.check_window_settings()
        columns = [*self.past_covariates, *self.future_covariates, *self.static_covariates]
        reserved = {ID, TIME, TARGET}
        clashes = sorted({column for column in columns if column in reserved or columns.count(column) > 1})
        if clashes:
            raise ValueError(
                f"Covariate columns must be distinct from each other and from {sorted(reserved)}; found {clashes} repeated."
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "freq_"):
            raise RuntimeError("This SeriesWindows is not fitted yet; call fit(df) first.")

    def _recheck(self, checked: CheckedFrame, min_length: int, min_length_reason: str | None) -> CheckedFrame:
        """The cheap part of `check` for a frame validated before: its columns and series lengths."""
        needed = [ID, TIME, TARGET, *self.past_covariates, *self.future_covariates, *self.static_covariates]
        missing = [column for column in needed if column not in checked.frame.columns]
        if missing:
            raise ValidationError(f"Missing columns {missing}; the frame has columns {list(checked.frame.columns)}.")
        lengths = np.diff(checked.series_starts)
        if (lengths < min_length).any():
            short = int(np.flatnonzero(lengths < min_length)[0])
            raise ValidationError(
                short_series_message(checked.series_ids[short], lengths[short], min_length, min_length_reason)
            )
        return checked

    def _select_columns(self, df):
        """A new frame of the needed columns (long format), or `df` itself (single-series forms)."""
        if not isinstance(df, pd.DataFrame) or TIME not in df.columns:
            return df
        wanted = [ID, TIME, TARGET, *self.past_covariates, *self.future_covariates, *self.static_covariates]
        absent = [column for column in wanted[3:] if column not in df.columns]
        if absent:  # named here, with the frame's own columns (those selected would hide a misspelt one's twin)
            raise ValidationError(f"Missing columns {absent}; the frame has columns {list(df.columns)}.")
        if list(df.columns) == wanted:
            return df.copy()
        return df.reindex(columns=[column for column in wanted if column in df.columns])

    def _check_time_kind(self, times: pd.DatetimeIndex | np.ndarray, where: str = "") -> None:
        """`times` (`CheckedFrame.times()`, or those of `future_df`) must be of the kind and time zone that fit saw."""
        kind = "integer" if isinstance(times, np.ndarray) else "datetime"
        timezone = str(times.tz) if kind == "datetime" and times.tz is not None else None
        if kind != self.time_kind_ or timezone != self.timezone_:
            raise ValidationError(
                f"{where}Column {TIME!r} holds {kind} times (time zone {timezone}); fit saw {self.time_kind_} "
                f"times (time zone {self.timezone_})."
            )

    def _resolve_calendar(self, freq: Frequency) -> tuple[str, ...]:
        if self.calendar is None:
            return ()
        fields = calendar_fields_for(freq) if self.calendar == "auto" else tuple(self.calendar)
        if fields and isinstance(freq, int) and self.calendar != "auto":
            raise ValidationError(f"Calendar features {list(fields)} need datetime times in {TIME!r}; found integers.")
        return fields

    def _future_covariates(self, series_ids: np.ndarray, times, future_df: pd.DataFrame | None) -> np.ndarray:
        """`(len(series_ids), n_future_covariates)`: the unscaled future covariates of each (series, time) row."""
        if future_df is None:
            raise ValidationError(
                f"Future covariates {list(self.future_covariates)} need values for the {self.horizon} steps after "
                f"each series' last timestamp; pass them as future_df."
            )
        missing_columns = [c for c in [ID, TIME, *self.future_covariates] if c not in future_df.columns]
        if missing_columns:
            raise ValidationError(f"future_df is missing columns {missing_columns}; it has {list(future_df.columns)}.")
        known = numeric_columns(future_df[[ID, TIME, *self.future_covariates]], self.future_covariates).copy()
        future_times = parse_time_column(known)
        if self.timezone_ is not None and getattr(future_times, "tz", None) is not None:
            future_times = future_times.tz_convert(self.timezone_)  # as the history: the same instants, fit's clock
        self._check_time_kind(future_times, where="future_df: ")
        known[TIME] = future_times
        repeated = known.duplicated([ID, TIME]).to_numpy()
        if repeated.any():
            row = int(np.flatnonzero(repeated)[0])
            raise ValidationError(
                f"future_df has more than one row for series {shown(known[ID].iloc[row])} at "
                f"{TIME}={known[TIME].iloc[row]} (row {row}); give one row per series and time step."
            )
        keys = pd.DataFrame({ID: series_ids, TIME: times})
        merged = keys.merge(known, on=[ID, TIME], how="left", validate="many_to_one")
        values = merged[list(self.future_covariates)].to_numpy(dtype=np.float64)
        absent = ~np.isfinite(values).all(axis=1)
        if absent.any():
            row = int(np.flatnonzero(absent)[0])
            raise ValidationError(
                f"future_df has no (finite) future covariates {list(self.future_covariates)} for series "
                f"{shown(merged[ID].iloc[row])} at {TIME}={merged[TIME].iloc[row]}; "
                f"{int(absent.sum())} of the {len(merged)} needed rows are missing."
            )
        return values.astype(self.dtype)

    def _covariate_matrix(self, checked: CheckedFrame) -> np.ndarray:
        """`(n_rows, n_covariates)`: the past then the future covariates, scaled, as `dtype`."""
        names = [*self.past_covariates, *self.future_covariates]
        matrix = np.empty((len(checked.frame), len(names)), dtype=self.dtype)
        for position, column in enumerate(names):
            matrix[:, position] = checked.values(column)
        return self.covariate_scaling_.transform(matrix)

    def _scale_covariates(self, future_values: np.ndarray) -> np.ndarray:
        """Scale future covariate values (the last columns of the covariate matrix) like the training rows."""
        future = slice(len(self.past_covariates), None)
        columns = self.covariate_scaling_
        return CovariateScaling(
            columns.method, columns.columns[future], columns.offset[future], columns.scale[future]
        ).transform(future_values)

    def _windows(
        self,
        *,
        target,
        covariates,
        times,
        observed,
        segment_starts,
        segment_series,
        starts,
        series_index,
        origin_rows,
        has_target,
        source: CheckedFrame,
    ) -> Windows:
        """Windows over rows given column-wise: unscaled `target` (float64), scaled `covariates`, `times`
        and `observed` (False for left padding, whose values are placeholders; None: every row is real).

        The rows are cut in segments: segment k holds rows `segment_starts[k]` to
        `segment_starts[k + 1] - 1` of series `segment_series[k]` (a position in
        `source.series_ids`). `source` is the validated frame the rows come from; the series ids
        and the static covariates are read from it, and `origin_rows` are the windows' origins in it.
        The target is divided by its seasonal index and scaled; padded rows hold 0 in every feature but
        the `"observed"` flag.
        """
        series_ids = source.series_ids
        offset, scale = self.target_scaler_.series_parameters(series_ids)
        static_table = self._static_table(source.frame, source.series_starts, source.series_ids)
        lengths = np.diff(segment_starts)
        season = self._seasonal_adjustment_of(source).factors(series_ids[segment_series], times, segment_starts)
        adjusted = target if season is None else target / season
        scaled_target = (adjusted - np.repeat(offset[segment_series], lengths)) / np.repeat(
            scale[segment_series], lengths
        )
        real = (lambda column: column) if observed is None else (lambda column: np.where(observed[:, None], column, 0))
        columns = [real(scaled_target.astype(self.dtype)[:, None])]
        if self._padding():
            flag = np.ones(len(target), self.dtype) if observed is None else observed.astype(self.dtype)
            columns.append(flag[:, None])
        if covariates.shape[1]:
            columns.append(real(covariates))
        if self.calendar_fields_:
            columns.append(real(calendar_features(pd.DatetimeIndex(times), self.calendar_fields_, dtype=self.dtype)))
        values = np.concatenate(columns, axis=1) if len(columns) > 1 else columns[0]
        values = np.ascontiguousarray(values, dtype=self.dtype)
        return Windows(
            values=values,
            times=times,
            starts=np.asarray(starts, dtype=np.int64),
            series_index=np.asarray(series_index),
            series_ids=np.asarray(series_ids),
            series_offset=offset,
            series_scale=scale,
            static_table=static_table,
            lookback=self.lookback,
            horizon=self.horizon,
            n_future_features=len(self.future_feature_names_),
            has_target=has_target,
            window_scaler=self.scaler if self.target_scaler_.per_window else None,
            season=season,
            past_feature_names=list(self.past_feature_names_),
            future_feature_names=list(self.future_feature_names_),
            static_feature_names=list(self.static_feature_names_),
            origin_rows=np.asarray(origin_rows, dtype=np.int64),
            source_starts=source.series_starts,
        )

    def _seasonal_adjustment_of(self, source: CheckedFrame) -> SeasonalAdjustment:
        """`seasonal_adjustment_`, with the series of `source` that `fit` did not see tested and indexed as `fit`
        does, on their rows of `source`: a global model forecasts a new series from its own history."""
        fitted = self.seasonal_adjustment_
        unseen = np.flatnonzero(sorted_positions(np.asarray(self.series_ids_), source.series_ids) < 0)
        if unseen.size == 0 or fitted.season_length <= 1:
            return fitted
        starts, stops = source.series_starts[unseen], source.series_starts[unseen + 1]
        rows = np.concatenate([np.arange(start, stop) for start, stop in zip(starts, stops)])
        new = SeasonalAdjustment.fit(
            source.values(TARGET)[rows],
            source.times()[rows],
            np.concatenate([[0], np.cumsum(stops - starts)]),
            source.series_ids[unseen],
            fitted.season_length,
            fitted.freq,
        )
        if not new.indices:
            return fitted
        return SeasonalAdjustment(
            fitted.season_length, {**fitted.indices, **new.indices}, {**fitted.anchors, **new.anchors}, fitted.freq
        )

    def _min_past(self) -> int:
        """Observed past rows a window needs: `min_past`, or the whole `lookback` when it is None."""
        return self.lookback if self.min_past is None else min(int(self.min_past), self.lookback)

    def _min_past_named(self, separator: str = " ") -> str:
        """`_min_past` with the setting it comes from, for messages: `min_past 1`, or `lookback 24` without padding."""
        setting = "lookback" if self._min_past() == self.lookback else "min_past"
        return f"{setting}{separator}{self._min_past()}"

    def _padding(self) -> int:
        """Rows of left padding in front of every series (0 when windows need a whole lookback)."""
        return self.lookback - self._min_past()

    def _static_table(self, frame, series_starts, series_ids) -> np.ndarray | None:
        """`(n_series, n_static)`: numeric static covariates scaled, non-numeric ones coded by their vocabulary."""
        if not self.static_covariates:
            return None
        first_rows = frame.iloc[series_starts[:-1]]
        table = np.empty((series_ids.size, len(self.static_covariates)), dtype=self.dtype)
        numeric = self.static_scaling_
        for position, column in enumerate(self.static_covariates):
            vocabulary = self.static_vocabularies_[column]
            values = first_rows[column]
            if vocabulary is None:
                if not pd.api.types.is_numeric_dtype(values.dtype):
                    raise ValidationError(
                        f"Static covariate {column!r} was numeric in fit; found dtype {values.dtype}."
                    )
                at = numeric.columns.index(column)
                table[:, position] = (values.to_numpy(dtype=np.float64) - numeric.offset[at]) / numeric.scale[at]
                continue
            codes = pd.Index(vocabulary).get_indexer(values.to_numpy())
            if (codes < 0).any():
                row = int(np.flatnonzero(codes < 0)[0])
                raise ValidationError(
                    f"Static covariate {column!r} of series {shown(series_ids[row])} has the value {shown(values.iloc[row])}, "
                    f"not in the vocabulary learned by fit ({vocabulary[:10]}{'...' if len(vocabulary) > 10 else ''})."
                )
            table[:, position] = codes
        return table


def _vocabulary(values: pd.Series) -> list | None:
    """Sorted distinct values of a non-numeric static column (their positions are the codes), None if numeric."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return None
    return sorted(pd.unique(values).tolist(), key=str)


def _segment_times(history, future, n_series: int) -> pd.DatetimeIndex | np.ndarray:
    """Per series, its `lookback` history times then its `horizon` future times (both given series-major)."""
    if isinstance(history, np.ndarray):
        return np.concatenate([history.reshape(n_series, -1), future.reshape(n_series, -1)], axis=1).ravel()
    nanoseconds = np.concatenate(
        [history.as_unit("ns").asi8.reshape(n_series, -1), future.as_unit("ns").asi8.reshape(n_series, -1)], axis=1
    )
    times = pd.DatetimeIndex(nanoseconds.ravel().view("datetime64[ns]"))
    return times if history.tz is None else times.tz_localize("UTC").tz_convert(history.tz)
