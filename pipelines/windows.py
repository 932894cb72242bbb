"""Sliding windows over many time series: ``SeriesWindows`` (the fitted transform) and ``Windows`` (its output).

Window rule. For a series y_0 .. y_{n-1} (after validation: sorted, regular, filled), window j
(j = 0, 1, ...) starts at row s_j = j * stride and holds

    past   = rows s_j .. s_j + lookback - 1            (lookback steps up to the forecast origin)
    target = y at rows s_j + lookback .. s_j + lookback + horizon - 1
    origin = ds at row s_j + lookback - 1

for every j with s_j + lookback + horizon <= n, oldest window first; series come in sorted id order.

Features. ``past`` has, per step: the (scaled) target, the past-observed covariates, the
future-known covariates, then the calendar features. Past-observed covariates enter only
through ``past``, i.e. only their values up to the origin. Future-known covariates and
calendar features also fill ``future`` for the ``horizon`` steps after the origin. Static
covariates (one row per series) fill ``static``; a non-numeric static column is coded as the
position of its value in the vocabulary learned by ``fit``.

Memory. ``Windows`` keeps one contiguous array of all rows (``n_rows x n_features``) and the
start row of each window; a batch is gathered by indexing a ``sliding_window_view`` of that
array with the batch's start rows (each window is one contiguous block, copied once). So
windowing costs about one copy of the numeric columns whatever the lookback; only the
properties ``past``/``target``/``future`` materialise every window at once.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator

from pipelines.calendar import CALENDAR_FIELDS, calendar_feature_names, calendar_features, calendar_fields_for
from pipelines.frequency import Frequency, frequency_to_json, future_timestamps, horizon_timestamps, parse_frequency
from pipelines.scaling import TargetScaler, last_value_scale
from pipelines.validation import CheckedFrame, ValidationError, check_frame, check_numeric, parse_time_column, shown

ORIGIN_COLUMN = "ds"


class Windows:
    """Windows of several series: lazily gathered model inputs plus what is needed to undo the scaling.

    Attributes (arrays gathered on access):
        past: ``(n, lookback, n_past_features)``, the scaled target first.
        target: ``(n, horizon)`` scaled target, or None for prediction windows.
        future: ``(n, horizon, n_future_features)`` future covariates and calendar features, or None.
        static: ``(n, n_static)``, or None.
        index: DataFrame with the series id column and ``"ds"``, the forecast origin of each window.
        forecast_times: the ``horizon`` timestamps after each origin (``n * horizon``, window-major).
        offset, scale: ``(n,)``; ``y = y_scaled * scale + offset``.
        past_feature_names, future_feature_names, static_feature_names: lists of str.

    Built by ``SeriesWindows``; not meant to be constructed directly.
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
        last_value_scaling: bool,
        id_col: str,
        past_feature_names: list[str],
        future_feature_names: list[str],
        static_feature_names: list[str],
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
        self._last_value_scaling = last_value_scaling
        self.id_col = id_col
        self.past_feature_names = past_feature_names
        self.future_feature_names = future_feature_names
        self.static_feature_names = static_feature_names

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
        origins = self._times[self._starts + self.lookback - 1]
        return pd.DataFrame({self.id_col: self._series_ids[self._series_index], ORIGIN_COLUMN: origins})

    @property
    def forecast_times(self) -> pd.DatetimeIndex | np.ndarray:
        """The ``horizon`` timestamps after each window's origin, window-major (``n * horizon`` values)."""
        rows = (self._starts[:, None] + self.lookback + np.arange(self.horizon)).ravel()
        return self._times[rows]

    @property
    def offset(self) -> np.ndarray:
        return self._series_offset[self._series_index]

    @property
    def scale(self) -> np.ndarray:
        return self._window_scale(np.arange(len(self)))

    def batch(self, indices: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Inputs dict (``"past"``, and ``"future"``/``"static"`` when present) and scaled target of some windows."""
        indices = np.asarray(indices, dtype=np.int64)
        starts = self._starts[indices]
        scale = self._window_scale(indices) if self._last_value_scaling else None
        past = self._row_windows(self.lookback)[starts]
        if self._last_value_scaling:
            past[:, :, 0] /= scale[:, None].astype(past.dtype)
        inputs = {"past": past}
        if self._n_future_features:
            inputs["future"] = self._gather_future(indices)
        if self._static_table is not None:
            inputs["static"] = self._static_table[self._series_index[indices]]
        target = self._gather_target(indices, scale) if self._has_target else None
        return inputs, target

    def as_inputs(self) -> dict[str, np.ndarray]:
        """All windows as the dict of NumPy arrays a model takes (``"past"``, ``"future"``, ``"static"``)."""
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
        return selected

    def inverse_target(self, values: np.ndarray) -> np.ndarray:
        """Undo the target scaling: ``values * scale + offset`` for values ``(n, horizon)`` or ``(n, horizon, k)``."""
        values = np.asarray(values)
        if values.ndim not in (2, 3) or values.shape[0] != len(self):
            raise ValueError(
                f"Expected values of shape ({len(self)}, horizon) or ({len(self)}, horizon, k), found {values.shape}."
            )
        expand = (slice(None),) + (None,) * (values.ndim - 1)
        return values * self.scale[expand] + self.offset[expand]

    def to_dataset(self, batch_size: int = 32, shuffle: bool = False, seed: int | None = None, prefetch: bool = True):
        """A ``tf.data.Dataset`` of ``(inputs_dict, target)`` batches (inputs only for prediction windows),
        gathered batch by batch; with ``shuffle`` each pass draws a new permutation from ``seed``."""
        from pipelines.dataset import windows_to_tf_dataset

        return windows_to_tf_dataset(self, batch_size=batch_size, shuffle=shuffle, seed=seed, prefetch=prefetch)

    def to_py_dataset(self, batch_size: int = 32, shuffle: bool = False, seed: int | None = None, **kwargs):
        """A ``keras.utils.PyDataset`` of the same batches as ``to_dataset``."""
        from pipelines.dataset import WindowsPyDataset

        return WindowsPyDataset(self, batch_size=batch_size, shuffle=shuffle, seed=seed, **kwargs)

    def _window_scale(self, indices: np.ndarray) -> np.ndarray:
        if self._last_value_scaling:
            return last_value_scale(self._values[self._starts[indices] + self.lookback - 1, 0])
        return self._series_scale[self._series_index[indices]]

    def _row_windows(self, length: int) -> np.ndarray:
        """Read-only view ``(n_rows - length + 1, length, n_features)``: entry s holds rows s .. s + length - 1."""
        return sliding_window_view(self._values, (length, self._values.shape[1]))[:, 0]

    def _gather_target(self, indices: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
        target = self._row_windows(self.horizon)[self._starts[indices] + self.lookback, :, 0]
        if self._last_value_scaling:
            scale = self._window_scale(indices) if scale is None else scale
            target /= scale[:, None].astype(target.dtype)
        return target

    def _gather_future(self, indices: np.ndarray) -> np.ndarray:
        first_column = self._values.shape[1] - self._n_future_features
        return self._row_windows(self.horizon)[self._starts[indices] + self.lookback, :, first_column:]


class SeriesWindows(BaseEstimator):
    """Turn long-format series into ``Windows`` of ``lookback`` past steps and ``horizon`` target steps.

    A scikit-learn estimator (``get_params``/``set_params``/``clone``): ``__init__`` stores the
    arguments; ``fit`` validates the frame (see
    ``pipelines.validation.validate``) and learns ``freq_``, ``series_ids_``, ``calendar_fields_``,
    ``target_scaler_``, ``static_vocabularies_`` and the feature names; ``transform`` windows a
    frame with what was learned. ``get_config``/``from_config`` save and restore all of it as JSON.
    The target scaling is fitted on the frame given to ``fit`` (the training part) and applied
    unchanged by ``transform`` and ``predict_windows``; covariates enter as given (unscaled).
    The module docstring gives the window rule; ``pipelines.split.time_split`` cuts frames whose
    windows do not leak targets across train / validation / test.

    Args:
        lookback: past steps per window (>= 1).
        horizon: target steps per window (>= 1).
        stride: steps between the starts of consecutive windows of a series (>= 1).
        id_col, time_col, target_col: column names of the long-format frame.
        freq: pandas offset alias or integer step; None infers it per series (they must agree).
        past_covariates: numeric columns observed only up to the forecast origin.
        future_covariates: numeric columns known for the horizon too.
        static_covariates: columns constant per series (non-numeric ones are integer-coded).
        calendar: calendar fields (see ``pipelines.calendar``), ``"auto"`` to pick them from the
            frequency, or None.
        scaler: target scaling per series: ``"standard"``, ``"minmax"``, ``"robust"``, ``"mean"``,
            ``"last"`` or None (see ``pipelines.scaling``).
        fill: missing value and gap policy: None (error), ``"ffill"``, ``"interpolate"``, ``"zero"``,
            ``"drop_series"``.
        short_series: ``"error"`` or ``"drop"`` (with a warning) for series shorter than
            ``lookback + horizon`` (``lookback`` for ``predict_windows``).
        dtype: dtype of the window arrays.

    Example:
        >>> sw = SeriesWindows(lookback=24, horizon=6, calendar="auto")
        >>> train = sw.fit_transform(train_df)
        >>> model.fit(train.to_dataset(batch_size=64, shuffle=True, seed=0))
        >>> query = sw.predict_windows(history_df)
        >>> y_hat = query.inverse_target(model.predict(query.as_inputs()))
    """

    def __init__(
        self,
        lookback: int,
        horizon: int,
        stride: int = 1,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
        freq: str | int | None = None,
        past_covariates: Sequence[str] = (),
        future_covariates: Sequence[str] = (),
        static_covariates: Sequence[str] = (),
        calendar: Sequence[str] | str | None = None,
        scaler: str | None = "standard",
        fill: str | None = None,
        short_series: str = "error",
        dtype: str = "float32",
    ):
        self.lookback = lookback
        self.horizon = horizon
        self.stride = stride
        self.id_col = id_col
        self.time_col = time_col
        self.target_col = target_col
        self.freq = freq
        self.past_covariates = past_covariates
        self.future_covariates = future_covariates
        self.static_covariates = static_covariates
        self.calendar = calendar
        self.scaler = scaler
        self.fill = fill
        self.short_series = short_series
        self.dtype = dtype

    def fit(self, df: pd.DataFrame | pd.Series) -> SeriesWindows:
        """Validate ``df`` and learn frequency, series, calendar fields, target scaling and static vocabularies."""
        self._check_parameters()
        checked = self._check(df, min_length=self.lookback + self.horizon, freq=self.freq)
        frame = checked.frame
        self.freq_ = checked.freq
        self.time_kind_ = "integer" if isinstance(checked.freq, int) else "datetime"
        times = frame[self.time_col]
        self.timezone_ = str(times.dt.tz) if self.time_kind_ == "datetime" and times.dt.tz is not None else None
        self.calendar_fields_ = self._resolve_calendar(checked.freq)
        self.series_ids_ = checked.series_ids
        self.target_scaler_ = TargetScaler(self.scaler).fit(
            frame[self.target_col].to_numpy(dtype=np.float64), checked.series_starts, checked.series_ids
        )
        self.static_vocabularies_ = {column: _vocabulary(frame[column]) for column in self.static_covariates}
        calendar_names = calendar_feature_names(self.calendar_fields_)
        self.past_feature_names_ = [self.target_col, *self.past_covariates, *self.future_covariates, *calendar_names]
        self.future_feature_names_ = [*self.future_covariates, *calendar_names]
        self.static_feature_names_ = list(self.static_covariates)
        return self

    def transform(self, df: pd.DataFrame | pd.Series) -> Windows:
        """Every complete window (full past and target) of every series in ``df``."""
        self._check_fitted()
        checked = self._check(df, min_length=self.lookback + self.horizon, freq=self.freq_)
        lengths = np.diff(checked.series_starts)
        counts = (lengths - self.lookback - self.horizon) // self.stride + 1
        series_index = np.repeat(np.arange(lengths.size, dtype=np.int32), counts)
        first_window = np.concatenate([[0], np.cumsum(counts)[:-1]])
        position_in_series = np.arange(series_index.size, dtype=np.int64) - np.repeat(first_window, counts)
        starts = np.repeat(checked.series_starts[:-1], counts) + position_in_series * self.stride
        frame = checked.frame
        return self._windows(
            target=frame[self.target_col].to_numpy(dtype=np.float64),
            covariates=self._covariate_matrix(frame),
            times=self._times(frame),
            series_starts=checked.series_starts,
            starts=starts,
            series_index=series_index,
            has_target=True,
            source=checked,
        )

    def fit_transform(self, df: pd.DataFrame | pd.Series) -> Windows:
        """``fit(df)`` then ``transform(df)``."""
        return self.fit(df).transform(df)

    def predict_windows(self, df: pd.DataFrame | pd.Series, future_df: pd.DataFrame | None = None) -> Windows:
        """One window per series whose origin is the series' last timestamp, with no target.

        The past part is the last ``lookback`` rows of each series in ``df``. Future covariates
        for the ``horizon`` timestamps after the origin come from ``future_df`` (long format,
        same id/time/covariate columns); calendar features are computed for those timestamps.
        """
        self._check_fitted()
        checked = self._check(df, min_length=self.lookback, freq=self.freq_)
        frame, series_starts, series_ids = checked.frame, checked.series_starts, checked.series_ids
        n_series, lookback, horizon = series_ids.size, self.lookback, self.horizon
        # Each series becomes one segment of rows: its last `lookback` rows, then `horizon` future rows
        # whose target (and past covariates) are missing.
        history_rows = (series_starts[1:, None] - lookback + np.arange(lookback)).ravel()
        times = self._times(frame)
        future_times = horizon_timestamps(times[series_starts[1:] - 1], self.freq_, horizon)
        target = np.full((n_series, lookback + horizon), np.nan)
        target[:, :lookback] = (
            frame[self.target_col].to_numpy(dtype=np.float64)[history_rows].reshape(n_series, lookback)
        )
        history_covariates = self._covariate_matrix(frame)[history_rows]
        n_covariates = history_covariates.shape[1]
        covariates = np.full((n_series, lookback + horizon, n_covariates), np.nan, dtype=self.dtype)
        covariates[:, :lookback] = history_covariates.reshape(n_series, lookback, n_covariates)
        if self.future_covariates:
            known = self._future_covariates(series_ids, future_times, future_df)
            covariates[:, lookback:, len(self.past_covariates) :] = known.reshape(
                n_series, horizon, len(self.future_covariates)
            )
        segment_starts = np.arange(n_series + 1, dtype=np.int64) * (lookback + horizon)
        return self._windows(
            target=target.ravel(),
            covariates=covariates.reshape(n_series * (lookback + horizon), n_covariates),
            times=_segment_times(times[history_rows], future_times, n_series),
            series_starts=segment_starts,
            starts=segment_starts[:-1],
            series_index=np.arange(n_series, dtype=np.int32),
            has_target=False,
            source=checked,
        )

    def future_timestamps(self, last_ds, n: int):
        """The ``n`` timestamps after ``last_ds`` at the learned frequency ``freq_``."""
        self._check_fitted()
        return future_timestamps(last_ds, n, self.freq_)

    def get_config(self) -> dict:
        """JSON-serializable arguments and, once fitted, everything learned."""
        config = {
            "lookback": self.lookback,
            "horizon": self.horizon,
            "stride": self.stride,
            "id_col": self.id_col,
            "time_col": self.time_col,
            "target_col": self.target_col,
            "freq": None if self.freq is None else frequency_to_json(parse_frequency(self.freq)),
            "past_covariates": list(self.past_covariates),
            "future_covariates": list(self.future_covariates),
            "static_covariates": list(self.static_covariates),
            "calendar": self.calendar
            if self.calendar is None or isinstance(self.calendar, str)
            else list(self.calendar),
            "scaler": self.scaler,
            "fill": self.fill,
            "short_series": self.short_series,
            "dtype": str(np.dtype(self.dtype)),
        }
        if hasattr(self, "freq_"):
            config["fitted"] = {
                "freq": frequency_to_json(self.freq_),
                "time_kind": self.time_kind_,
                "timezone": self.timezone_,
                "calendar_fields": list(self.calendar_fields_),
                "series_ids": self.series_ids_.tolist(),
                "target_scaler": self.target_scaler_.get_config(),
                "static_vocabularies": self.static_vocabularies_,
                "past_feature_names": self.past_feature_names_,
                "future_feature_names": self.future_feature_names_,
                "static_feature_names": self.static_feature_names_,
            }
        return config

    @classmethod
    def from_config(cls, config: dict) -> SeriesWindows:
        """The instance (fitted when ``config`` holds a fitted state) described by ``get_config``."""
        arguments = {key: value for key, value in config.items() if key != "fitted"}
        instance = cls(**arguments)
        fitted = config.get("fitted")
        if fitted is not None:
            instance.freq_ = parse_frequency(fitted["freq"])
            instance.time_kind_ = fitted["time_kind"]
            instance.timezone_ = fitted["timezone"]
            instance.calendar_fields_ = tuple(fitted["calendar_fields"])
            instance.series_ids_ = np.asarray(fitted["series_ids"])
            instance.target_scaler_ = TargetScaler.from_config(fitted["target_scaler"])
            instance.static_vocabularies_ = dict(fitted["static_vocabularies"])
            instance.past_feature_names_ = list(fitted["past_feature_names"])
            instance.future_feature_names_ = list(fitted["future_feature_names"])
            instance.static_feature_names_ = list(fitted["static_feature_names"])
        return instance

    def _check_parameters(self) -> None:
        for name in ("lookback", "horizon", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Expected {name} to be a positive integer, found {value!r}.")
        TargetScaler(self.scaler)
        columns = [*self.past_covariates, *self.future_covariates, *self.static_covariates]
        reserved = {self.id_col, self.time_col, self.target_col}
        clashes = sorted({column for column in columns if column in reserved or columns.count(column) > 1})
        if clashes:
            raise ValueError(
                f"Covariate columns must be distinct from each other and from {sorted(reserved)}; found {clashes} repeated."
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "freq_"):
            raise RuntimeError("This SeriesWindows is not fitted yet; call fit(df) first.")

    def _check(self, df, *, min_length: int, freq) -> CheckedFrame:
        """Validated copy of the columns the windows need."""
        covariates = [*self.past_covariates, *self.future_covariates]
        selected = self._select_columns(df)
        checked = check_frame(
            selected,
            id_col=self.id_col,
            time_col=self.time_col,
            target_col=self.target_col,
            covariates=covariates,
            static_covariates=self.static_covariates,
            freq=freq,
            fill=self.fill,
            min_length=min_length,
            short_series=self.short_series,
            copy=selected is df,
        )
        if hasattr(self, "freq_"):
            self._check_time_kind(checked.frame[self.time_col])
        return checked

    def _select_columns(self, df):
        """A new frame of the needed columns (long format), or ``df`` itself (single-series forms)."""
        if not isinstance(df, pd.DataFrame) or self.time_col not in df.columns:
            return df
        wanted = [
            self.id_col,
            self.time_col,
            self.target_col,
            *self.past_covariates,
            *self.future_covariates,
            *self.static_covariates,
        ]
        return df.reindex(columns=[column for column in wanted if column in df.columns])

    def _check_time_kind(self, times: pd.Series) -> None:
        kind = "datetime" if pd.api.types.is_datetime64_any_dtype(times.dtype) else "integer"
        timezone = str(times.dt.tz) if kind == "datetime" and times.dt.tz is not None else None
        if kind != self.time_kind_ or timezone != self.timezone_:
            raise ValidationError(
                f"Column {self.time_col!r} holds {kind} times (time zone {timezone}); fit saw {self.time_kind_} "
                f"times (time zone {self.timezone_})."
            )

    def _resolve_calendar(self, freq: Frequency) -> tuple[str, ...]:
        if self.calendar is None:
            return ()
        if isinstance(self.calendar, str):
            if self.calendar != "auto":
                raise ValueError(
                    f"Expected calendar to be 'auto', None or a sequence of {list(CALENDAR_FIELDS)}, found {self.calendar!r}."
                )
            return calendar_fields_for(freq)
        fields = tuple(self.calendar)
        unknown = [field for field in fields if field not in CALENDAR_FIELDS]
        if unknown:
            raise ValueError(f"Unknown calendar fields {unknown}; expected some of {list(CALENDAR_FIELDS)}.")
        if fields and isinstance(freq, int):
            raise ValidationError(
                f"Calendar features {list(fields)} need datetime times in {self.time_col!r}; found integers."
            )
        return fields

    def _future_covariates(self, series_ids: np.ndarray, future_times, future_df: pd.DataFrame | None) -> np.ndarray:
        """``(n_series * horizon, n_future_covariates)``: the future covariates at ``future_times`` (series-major)."""
        if future_df is None:
            raise ValidationError(
                f"Future covariates {list(self.future_covariates)} need values for the {self.horizon} steps after "
                f"each series' last timestamp; pass them as future_df."
            )
        missing_columns = [
            c for c in [self.id_col, self.time_col, *self.future_covariates] if c not in future_df.columns
        ]
        if missing_columns:
            raise ValidationError(f"future_df is missing columns {missing_columns}; it has {list(future_df.columns)}.")
        keys = pd.DataFrame({self.id_col: np.repeat(series_ids, self.horizon), self.time_col: future_times})
        known = future_df[[self.id_col, self.time_col, *self.future_covariates]].copy()
        check_numeric(known, self.id_col, self.time_col, self.future_covariates)
        known[self.time_col] = parse_time_column(known, self.id_col, self.time_col)
        merged = keys.merge(known, on=[self.id_col, self.time_col], how="left", validate="one_to_one")
        values = merged[list(self.future_covariates)].to_numpy(dtype=np.float64)
        absent = ~np.isfinite(values).all(axis=1)
        if absent.any():
            row = int(np.flatnonzero(absent)[0])
            raise ValidationError(
                f"future_df has no (finite) future covariates {list(self.future_covariates)} for series "
                f"{shown(merged[self.id_col].iloc[row])} at {self.time_col}={merged[self.time_col].iloc[row]}; "
                f"{int(absent.sum())} of the {len(merged)} needed rows are missing."
            )
        return values.astype(self.dtype)

    def _times(self, frame: pd.DataFrame) -> pd.DatetimeIndex | np.ndarray:
        column = frame[self.time_col]
        return column.to_numpy() if self.time_kind_ == "integer" else pd.DatetimeIndex(column)

    def _covariate_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """``(n_rows, n_covariates)``: the past then the future covariates, as ``dtype``."""
        names = [*self.past_covariates, *self.future_covariates]
        matrix = np.empty((len(frame), len(names)), dtype=self.dtype)
        for position, column in enumerate(names):
            matrix[:, position] = frame[column].to_numpy(dtype=self.dtype)
        return matrix

    def _windows(
        self, *, target, covariates, times, series_starts, starts, series_index, has_target, source: CheckedFrame
    ) -> Windows:
        """Windows over rows given column-wise: unscaled ``target`` (float64), ``covariates`` and ``times``,
        where series k holds rows ``series_starts[k]`` to ``series_starts[k + 1] - 1``.

        ``source`` is the validated frame of the same series the rows come from; the series ids and
        the static covariates are read from it.
        """
        series_ids = source.series_ids
        offset, scale = self.target_scaler_.series_parameters(series_ids)
        static_table = self._static_table(source.frame, source.series_starts, source.series_ids)
        lengths = np.diff(series_starts)
        scaled_target = (target - np.repeat(offset, lengths)) / np.repeat(scale, lengths)
        columns = [scaled_target.astype(self.dtype)[:, None]]
        if covariates.shape[1]:
            columns.append(covariates)
        if self.calendar_fields_:
            columns.append(calendar_features(pd.DatetimeIndex(times), self.calendar_fields_, dtype=self.dtype))
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
            last_value_scaling=self.target_scaler_.per_window,
            id_col=self.id_col,
            past_feature_names=list(self.past_feature_names_),
            future_feature_names=list(self.future_feature_names_),
            static_feature_names=list(self.static_feature_names_),
        )

    def _static_table(self, frame, series_starts, series_ids) -> np.ndarray | None:
        if not self.static_covariates:
            return None
        first_rows = frame.iloc[series_starts[:-1]]
        table = np.empty((series_ids.size, len(self.static_covariates)), dtype=self.dtype)
        for position, column in enumerate(self.static_covariates):
            vocabulary = self.static_vocabularies_[column]
            values = first_rows[column]
            if vocabulary is None:
                if not pd.api.types.is_numeric_dtype(values.dtype):
                    raise ValidationError(
                        f"Static covariate {column!r} was numeric in fit; found dtype {values.dtype}."
                    )
                table[:, position] = values.to_numpy(dtype=self.dtype)
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
    """Per series, its ``lookback`` history times then its ``horizon`` future times (both given series-major)."""
    if isinstance(history, np.ndarray):
        return np.concatenate([history.reshape(n_series, -1), future.reshape(n_series, -1)], axis=1).ravel()
    nanoseconds = np.concatenate(
        [history.as_unit("ns").asi8.reshape(n_series, -1), future.as_unit("ns").asi8.reshape(n_series, -1)], axis=1
    )
    times = pd.DatetimeIndex(nanoseconds.ravel().view("datetime64[ns]"))
    return times if history.tz is None else times.tz_localize("UTC").tz_convert(history.tz)
