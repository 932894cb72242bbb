"""Per-series affine scaling of the target, with an exact inverse.

Every method maps a target value `y` of a series (or, for `"last"` and `"window_mean"`, of a
window) to

    y_scaled = (y - offset) / scale,        y = y_scaled * scale + offset

with `offset` and `scale` computed from the data given to `fit` (the training part):

==============  ==========================  ===========================================
method          offset                      scale
==============  ==========================  ===========================================
`standard`    mean                        standard deviation (ddof=0), as sklearn StandardScaler
`minmax`      minimum                     maximum - minimum, as sklearn MinMaxScaler (range 0..1)
`robust`      median                      75th - 25th percentile, as sklearn RobustScaler
`mean`        0                           mean of `|y|` over the series
`last`        0                           `|y|` of the window's last past value
`window_mean` 0                           mean of `|y|` over the window's observed past values
`None`        0                           1
==============  ==========================  ===========================================

A scale of (numerically) zero is replaced by 1, as scikit-learn does for constant features,
so a constant series maps to 0 (or to itself for `mean`/`last` scaling of zeros). A window scaled by
its own past (`last`, `window_mean`) forecasts `scale * f(past / scale)`, which tends to 0 with its
scale: a window whose observed past is all zero forecasts 0 (`pipelines.windows.Windows.zero_past`).
"`mean`" is the mean absolute scaling and "`last`" the last-value scaling used for
global forecasting models (Salinas et al. 2020, DeepAR; Smyl 2020); "`window_mean`" is DeepAR's
scaling, computed from each window's own past, so a global model sees every window at the level of
its recent values and a single seasonal peak or trough at the origin cannot distort it.
Statistics of all series are computed at once (`np.add.reduceat`, grouped quantiles),
not by fitting one scikit-learn object per series.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipelines.window_settings import COVARIATE_SCALERS, SCALERS

WINDOW_SCALERS = ("last", "window_mean")
_EPS = np.finfo(np.float64).eps


def series_statistics(
    values: np.ndarray, series_starts: np.ndarray, method: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """`(offset, scale)` per series for a series-level method (all but `WINDOW_SCALERS`).

    Args:
        values: float64 targets of all series, concatenated, each series contiguous.
        series_starts: row offset of each series plus the total length (length n_series + 1).
        method: one of `SCALERS` except `WINDOW_SCALERS`.
    """
    lengths = np.diff(series_starts).astype(np.float64)
    starts = series_starts[:-1]
    if method is None:
        return np.zeros(lengths.size), np.ones(lengths.size)
    if method == "standard":
        mean = np.add.reduceat(values, starts) / lengths
        variance = np.add.reduceat((values - np.repeat(mean, np.diff(series_starts))) ** 2, starts) / lengths
        # scikit-learn's test for a constant feature (sklearn.preprocessing._data._is_constant_feature).
        constant = variance <= lengths * _EPS * variance + (lengths * mean * _EPS) ** 2
        return mean, _guard_zero(np.sqrt(variance), constant)
    if method == "minmax":
        minimum = np.minimum.reduceat(values, starts)
        return minimum, _guard_zero(np.maximum.reduceat(values, starts) - minimum)
    if method == "robust":
        codes = np.repeat(np.arange(lengths.size), np.diff(series_starts))
        quantiles = pd.Series(values).groupby(codes).quantile([0.25, 0.5, 0.75]).unstack().to_numpy()
        return quantiles[:, 1], _guard_zero(quantiles[:, 2] - quantiles[:, 0])
    if method == "mean":
        return np.zeros(lengths.size), _guard_zero(np.add.reduceat(np.abs(values), starts) / lengths)
    raise ValueError(f"Expected a series-level scaler {SCALERS[:-1]}, found {method!r}.")


def window_scale(method: str, past: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Scale of each window for a window-level method, 0 where its past is all zero (`usable_scale` makes it 1
    for dividing by it; `is_zero_scale` finds it).

    Args:
        method: `"last"` (`|y|` of the last past value) or `"window_mean"` (mean `|y|` over
            the observed past values).
        past: `(n, lookback)` past target values of the windows (any value where not observed).
        observed: `(n, lookback)` booleans, False for left padding.
    """
    past = np.asarray(past, dtype=np.float64)
    if method == "last":
        return np.abs(past[:, -1])
    count = observed.sum(axis=1)
    total = np.where(observed, np.abs(past), 0.0).sum(axis=1)
    return total / np.maximum(count, 1)


def usable_scale(scale: np.ndarray) -> np.ndarray:
    """`scale` with its (numerically) zero entries replaced by 1, so that values can be divided by it."""
    return _guard_zero(scale)


def is_zero_scale(scale: np.ndarray) -> np.ndarray:
    """Where `scale` is (numerically) zero: the entries `usable_scale` replaces."""
    return scale < 10 * _EPS


def _guard_zero(scale: np.ndarray, constant: np.ndarray | None = None) -> np.ndarray:
    """Replace zero (or constant-feature) scales by 1, as sklearn's `_handle_zeros_in_scale`."""
    zero = is_zero_scale(scale)
    if constant is not None:
        zero |= constant
    return np.where(zero, 1.0, scale)


class TargetScaler:
    """Remembers the per-series `offset` and `scale` of the target learned by `fit`.

    Args:
        method: one of `SCALERS` (see the module docstring).
    """

    def __init__(self, method: str | None = "standard"):
        if method not in SCALERS:
            raise ValueError(f"scaler must be one of {list(SCALERS)}; got {method!r}")
        self.method = method

    @property
    def per_window(self) -> bool:
        """True for `WINDOW_SCALERS`: the scale depends on the window, not only on the series."""
        return self.method in WINDOW_SCALERS

    def fit(self, values: np.ndarray, series_starts: np.ndarray, series_ids: Sequence) -> TargetScaler:
        """Learn `series_ids_`, `offset_` and `scale_` (one entry per series)."""
        self._remember_series(series_ids)
        if self.per_window:
            self.offset_, self.scale_ = np.zeros(len(series_ids)), np.ones(len(series_ids))
        else:
            self.offset_, self.scale_ = series_statistics(
                np.asarray(values, dtype=np.float64), series_starts, self.method
            )
        return self

    def _remember_series(self, series_ids: Sequence) -> None:
        """`series_ids_`, and the index that `series_parameters` looks them up in, built once (with its hash table)
        rather than on every call, where it cost time in proportion to the fitted series."""
        self.series_ids_ = np.asarray(series_ids)
        self._series_index = pd.Index(self.series_ids_, dtype=object)

    def series_parameters(self, series_ids: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """`(offset, scale)` for the given series ids; an id unseen by `fit` is an error
        (except for `None` and the window-level methods, which need no statistics)."""
        series_ids = np.asarray(series_ids)
        if self.method is None or self.per_window:
            return np.zeros(series_ids.size), np.ones(series_ids.size)
        positions = self._series_index.get_indexer(pd.Index(series_ids, dtype=object))
        if (positions < 0).any():
            unseen = series_ids[positions < 0]
            raise ValueError(
                f"Series {unseen.tolist()[0]!r} was not seen by fit, so it has no {self.method!r} scaling statistics "
                f"({unseen.size} unseen series in all). Fit on a frame that contains every series, or scale per "
                f"window (scaler='window_mean', the default), which needs no statistics of a series."
            )
        return self.offset_[positions], self.scale_[positions]

    def get_config(self) -> dict:
        """JSON-serializable method and learned statistics."""
        return {
            "method": self.method,
            "series_ids": self.series_ids_.tolist(),
            "offset": self.offset_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def from_config(cls, config: dict) -> TargetScaler:
        """A fitted scaler equal to the one whose `get_config` gave `config`."""
        scaler = cls(config["method"])
        scaler._remember_series(config["series_ids"])
        scaler.offset_ = np.asarray(config["offset"], dtype=np.float64)
        scaler.scale_ = np.asarray(config["scale"], dtype=np.float64)
        return scaler


class CovariateScaling:
    """Per-column affine scaling of numeric covariates, fitted on training rows and never inverted.

    For each column `x` (all series' training rows together):

    ==============  ==========================  ===========================================
    method          offset                      scale
    ==============  ==========================  ===========================================
    `standard`    mean                        standard deviation (ddof=0)
    `robust`      median                      75th - 25th percentile
    `None`        0                           1
    ==============  ==========================  ===========================================

    `x_scaled = (x - offset) / scale`, a zero scale replaced by 1. A column whose training values
    are all 0 or 1 (a flag, e.g. a holiday or promotion indicator) keeps offset 0 and scale 1: it
    already has the scale of the network's inputs and stays readable. Calendar features are made
    in `[-1, 1]` by `pipelines.calendar` and are not scaled here.

    Covariates on very different scales (a year, 2004; a price, 1e5) otherwise dominate the first
    layer's pre-activations and saturate its gates; standardising inputs is the usual remedy
    (LeCun, Bottou, Orr & Müller, "Efficient BackProp", 1998).
    """

    def __init__(self, method: str | None, columns: Sequence[str], offset: np.ndarray, scale: np.ndarray):
        if method not in COVARIATE_SCALERS:
            raise ValueError(f"covariate_scaler must be one of {list(COVARIATE_SCALERS)}; got {method!r}")
        self.method = method
        self.columns = list(columns)
        self.offset = np.asarray(offset, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)

    @classmethod
    def fit(cls, columns: dict[str, np.ndarray], method: str | None) -> CovariateScaling:
        """Learn each column's `offset` and `scale` from its training values (a dict name -> values)."""
        offsets, scales = [], []
        for values in columns.values():
            is_flag = values.size > 0 and bool(np.isin(values, (0.0, 1.0)).all())
            if method is None or is_flag or values.size == 0:
                offsets.append(0.0)
                scales.append(1.0)
            elif method == "standard":
                offsets.append(float(values.mean()))
                scales.append(float(_guard_zero(np.array([values.std()]))[0]))
            else:
                low, median, high = np.quantile(values, [0.25, 0.5, 0.75])
                offsets.append(float(median))
                scales.append(float(_guard_zero(np.array([high - low]))[0]))
        return cls(method, list(columns), np.array(offsets), np.array(scales))

    @classmethod
    def identity(cls, columns: Sequence[str]) -> CovariateScaling:
        """No scaling (how models saved before covariate scaling existed keep their inputs)."""
        return cls(None, columns, np.zeros(len(columns)), np.ones(len(columns)))

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        """`(matrix - offset) / scale` column by column, for a `(n, len(columns))` matrix, in its dtype."""
        if matrix.shape[-1] != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} covariate columns {self.columns}; got {matrix.shape[-1]}")
        dtype = matrix.dtype
        return ((matrix - self.offset.astype(dtype)) / self.scale.astype(dtype)).astype(dtype, copy=False)

    def get_config(self) -> dict:
        """JSON-serializable method, columns and statistics."""
        return {
            "method": self.method,
            "columns": self.columns,
            "offset": self.offset.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_config(cls, config: dict) -> CovariateScaling:
        """The scaling whose `get_config` gave `config`."""
        return cls(config["method"], config["columns"], config["offset"], config["scale"])
