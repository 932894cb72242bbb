"""Point and probabilistic forecast accuracy measures, the MASE scale, and a per-series evaluation table.

Each measure is written once, as its per-element terms (`absolute_errors`, `smape_terms`,
...) and a reduction: the mean of the terms, then `finish` (`sqrt` for RMSE). The registry
`METRICS` holds every definition; the scalar functions (`mae`, ...) reduce over one
forecast and `evaluate` over each series (and cutoff), so both give the same numbers.

Every measure takes array-likes of equal shape. Percentage measures (MAPE, sMAPE) are in percent.
The MASE scale follows one rule, `mase_scales`. Quantile forecasts live in columns named by
`quantile_column` (`0.1 -> "y_hat_q10"`), the one place that defines that naming.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from pipelines.checks import check_integer, check_number
from pipelines.columns import ID, TARGET, TIME, series_names
from pipelines.settings import level_percent

QUANTILE_PREFIX = "y_hat_q"
OVERALL = "overall"
"""The `unique_id` of the row of `evaluate` that averages all other rows."""
CUTOFF = "cutoff"


def _check_quantile(q: float) -> None:
    check_number("q", q, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)


def quantile_column(q: float) -> str:
    """Name of the forecast column of quantile `q`: `y_hat_q` + `100*q` without trailing zeros.

    `0.1 -> "y_hat_q10"`, `0.5 -> "y_hat_q50"`, `0.025 -> "y_hat_q2.5"`, `0.1000001 -> "y_hat_q10.00001"`.
    """
    _check_quantile(q)
    return f"{QUANTILE_PREFIX}{level_percent(q)}"


def column_quantile(column: str) -> float:
    """Inverse of `quantile_column`: `"y_hat_q10" -> 0.1`."""
    if not column.startswith(QUANTILE_PREFIX):
        raise ValueError(f"expected a column named '{QUANTILE_PREFIX}<percent>'; got {column!r}")
    return round(float(column[len(QUANTILE_PREFIX) :]) / 100.0, 12)


def quantile_columns(columns: Sequence[str]) -> dict[float, str]:
    """The quantile forecast columns among `columns`, as `{q: column}` sorted by `q`."""
    found = {column_quantile(c): c for c in columns if str(c).startswith(QUANTILE_PREFIX)}
    return dict(sorted(found.items()))


# --------------------------------------------------------------------------- per-element terms


def absolute_errors(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """`|y - ŷ|`, the terms of MAE."""
    return np.abs(y - y_hat)


def squared_errors(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """`(y - ŷ)^2`, the terms of RMSE (before its square root)."""
    return (y - y_hat) ** 2


def absolute_percentage_errors(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """`100 |y - ŷ| / |y|`, the terms of MAPE: `inf` where `y = 0` (`nan` if also `ŷ = 0`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * absolute_errors(y, y_hat) / np.abs(y)


def smape_terms(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """`200 |y - ŷ| / (|y| + |ŷ|)`, the terms of sMAPE, in [0, 200]; a term with `y = ŷ = 0` is 0 (perfect)."""
    error = absolute_errors(y, y_hat)
    denominator = np.abs(y) + np.abs(y_hat)
    return np.divide(200.0 * error, denominator, out=np.zeros_like(error), where=denominator > 0)


def scaled_absolute_errors(y: np.ndarray, y_hat: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    """`|y - ŷ| / s`, the terms of MASE (Hyndman & Koehler's scaled errors); `s` is the `mase_scales` scale."""
    return absolute_errors(y, y_hat) / scale


def pinball_terms(y: np.ndarray, y_q: np.ndarray, q: float) -> np.ndarray:
    """`max(q (y - y_q), (q - 1)(y - y_q))`, the pinball terms of the forecast `y_q` of quantile `q`."""
    residual = y - y_q
    return np.maximum(q * residual, (q - 1.0) * residual)


def inside_interval(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """`lower <= y <= upper` (bounds inside), the terms of coverage."""
    return (lower <= y) & (y <= upper)


# --------------------------------------------------------------------------- the MASE scale


def mase_scales(history: pd.DataFrame, season_length: int, cutoffs: pd.DataFrame | None = None) -> pd.Series:
    """The MASE scale `s` of each series: the in-sample MAE of a naive forecast, the package's one scale rule.

    With in-sample values `y_1 .. y_n`, the period `m = season_length` and `D_k` the defined lag-`k`
    differences `|y_t - y_{t-k}|` (`t = k+1 .. n`, neither value NaN):

    ```
    s = mean(D_m)    if D_m is not empty                 (the seasonal naive forecast: n > m without NaN)
    s = mean(D_1)    if D_m is empty and D_1 is not      (the naive forecast: no full season yet)
    s = NaN          otherwise (n < 2), or where s above is 0 (e.g. a constant history)
    ```

    A NaN in the history drops the differences it takes part in, from the sum and from the count.
    Hyndman & Koehler (2006), "Another look at measures of forecast accuracy". `mase` and
    `evaluate` divide by it (NaN where it is undefined); `positive_mase_scales` fills the
    undefined ones for those that must divide (calibration, loss weights).

    Args:
        history: long frame with `unique_id` and `y`, sorted here by `ds` within each series when that
            column exists (otherwise taken in its row order).
        season_length: the period `m`.
        cutoffs: `unique_id, cutoff` pairs: the scale of each uses its series' rows up to and including
            `ds == cutoff`. `None` uses each series' whole history.

    Returns:
        The scales indexed by `unique_id`, or with `cutoffs` by `(unique_id, cutoff)`, sorted.
    """
    check_integer("season_length", season_length)
    needed = [ID, TARGET] if cutoffs is None else [ID, TIME, TARGET]
    missing = [c for c in needed if c not in history.columns]
    if missing:
        raise ValueError(f"the history must have columns {needed}; missing {missing}")
    ordered = history.sort_values([ID, TIME], kind="stable") if TIME in history.columns else history
    series = ordered[ID]
    y = ordered[TARGET].astype(float)

    def running_sums(lag: int) -> dict[str, pd.Series]:
        differences = y.groupby(series, sort=False).diff(lag).abs()
        return {
            f"total_{lag}": differences.fillna(0.0).groupby(series, sort=False).cumsum(),
            f"count_{lag}": differences.notna().groupby(series, sort=False).cumsum(),
        }

    # Running sums and counts of the defined differences up to each row: the scale of any prefix of a
    # series is read off its last row.
    prefix = pd.DataFrame({ID: series, **running_sums(season_length), **running_sums(1)})
    if cutoffs is None:
        ends = prefix.groupby(ID, sort=True).last()
    else:
        prefix[TIME] = ordered[TIME]
        ends = pd.merge_asof(
            cutoffs[[ID, CUTOFF]].drop_duplicates().sort_values(CUTOFF, kind="stable"),
            prefix.sort_values(TIME, kind="stable"),
            left_on=CUTOFF,
            right_on=TIME,
            by=ID,
        )
        ends = ends.set_index([ID, CUTOFF]).sort_index()
    seasonal_count = ends[f"count_{season_length}"].to_numpy(dtype=float)
    naive_count = ends["count_1"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        seasonal = ends[f"total_{season_length}"].to_numpy(dtype=float) / seasonal_count
        naive = ends["total_1"].to_numpy(dtype=float) / naive_count
    scale = np.where(seasonal_count > 0, seasonal, np.where(naive_count > 0, naive, np.nan))
    return pd.Series(np.where(scale > 0, scale, np.nan), index=ends.index, name="scale")


def positive_mase_scales(history: pd.DataFrame, season_length: int) -> pd.Series:
    """Each series' `mase_scales` scale, made positive for consumers that divide by it.

    Where the scale is undefined (fewer than 2 values, or no change over the lag, as in a constant
    history) it becomes the series' mean absolute value `mean_t |y_t|`, or 1 for a series of zeros.
    The Forecaster's conformal offsets (`forecast.calibration`) and its `loss="mase"` weights
    are in these units.

    Returns:
        The scales indexed by `unique_id`, sorted.
    """
    scales = mase_scales(history, season_length)
    levels = history[TARGET].astype(float).abs().groupby(history[ID], sort=True).mean()
    return scales.fillna(levels.where(levels > 0, 1.0))


def seasonal_naive_scale(y_insample, season_length: int = 1) -> float:
    """The `mase_scales` scale of one series given as an array of its in-sample values (NaN where undefined)."""
    values = np.asarray(y_insample, dtype=float).ravel()
    history = pd.DataFrame({ID: np.zeros(values.size, dtype=int), TARGET: values})
    return float(mase_scales(history, season_length).reindex([0]).iloc[0])


# --------------------------------------------------------------------------- one forecast


def _pair(y, y_hat) -> tuple[np.ndarray, np.ndarray]:
    actual = np.asarray(y, dtype=float)
    forecast = np.asarray(y_hat, dtype=float)
    if actual.shape != forecast.shape:
        raise ValueError(f"actuals and forecasts must have the same shape; got {actual.shape} and {forecast.shape}")
    if actual.size == 0:
        raise ValueError("cannot score an empty forecast: got 0 values")
    return actual, forecast


def _score(name: str, *arrays) -> float:
    metric = METRICS[name]
    return float(metric.finish(np.mean(metric.terms(*arrays))))


def mae(y, y_hat) -> float:
    """Mean absolute error: `mean(|y - ŷ|)`."""
    return _score("mae", *_pair(y, y_hat))


def rmse(y, y_hat) -> float:
    """Root mean squared error: `sqrt(mean((y - ŷ)^2))`."""
    return _score("rmse", *_pair(y, y_hat))


def mape(y, y_hat) -> float:
    """Mean absolute percentage error in percent: `100 * mean(|y - ŷ| / |y|)`.

    Undefined where `y = 0`: such a term is `inf` (`nan` if the forecast is also 0),
    and so is the mean.
    """
    return _score("mape", *_pair(y, y_hat))


def smape(y, y_hat) -> float:
    """Symmetric MAPE of the M3 competition, in percent: `mean(200 |y - ŷ| / (|y| + |ŷ|))`.

    Makridakis & Hibon (2000), "The M3-Competition: results, conclusions and implications".
    A term with `y = ŷ = 0` is a perfect forecast and counts as 0. The range is [0, 200].
    """
    return _score("smape", *_pair(y, y_hat))


def mase(y, y_hat, y_insample, season_length: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006): `mean(|y - ŷ|) / s`.

    `s` is the in-sample naive MAE of `mase_scales` (period `m = season_length`, or 1 for a
    history of at most `m` values; NaN values are skipped); the MASE is NaN where `s` is undefined
    (fewer than 2 in-sample values, or a constant history).
    """
    return _score("mase", *_pair(y, y_hat), seasonal_naive_scale(y_insample, season_length))


def pinball_loss(y, y_q, q: float) -> float:
    """Pinball (quantile) loss of the forecast `y_q` of quantile `q`.

    `mean(max(q (y - y_q), (q - 1)(y - y_q)))`; Koenker & Bassett (1978).
    """
    _check_quantile(q)
    return _score("pinball", *_pair(y, y_q), q)


def coverage(y, lower, upper) -> float:
    """Share (between 0 and 1) of actuals inside their interval: `mean(lower <= y <= upper)`."""
    actual, low = _pair(y, lower)
    _, high = _pair(y, upper)
    return _score("coverage", actual, low, high)


# --------------------------------------------------------------------------- per series and cutoff


class _GroupedForecasts:
    """The forecasts `evaluate` scores, sorted by group (series[, cutoff]) and time, with their history."""

    def __init__(
        self,
        forecasts: pd.DataFrame,
        keys: list[str],
        quantiles: dict[float, str],
        history: pd.DataFrame | None,
        season_length: int,
    ):
        self.keys = keys
        self.frame = forecasts.sort_values([*keys, TIME], kind="stable")
        groups = self.frame.groupby(keys, sort=True, dropna=False)
        self.groups = groups.size().index
        self.group_of_row = groups.ngroup().to_numpy()
        self.rows_per_group = np.bincount(self.group_of_row, minlength=len(self.groups))
        self.actual = self.values(TARGET)
        self.point = self.values("y_hat")
        self.quantiles = quantiles
        self.history = history
        self.season_length = season_length

    def values(self, column: str) -> np.ndarray:
        return self.frame[column].to_numpy(dtype=float)

    def score(self, name: str, *arrays) -> pd.Series:
        """Metric `name` of each group: `finish` of the mean of its terms (a NaN or inf term carries, as in `np.mean`)."""
        metric = METRICS[name]
        terms = np.asarray(metric.terms(*arrays), dtype=float)
        totals = np.bincount(self.group_of_row, weights=terms, minlength=len(self.groups))
        return metric.finish(pd.Series(totals / self.rows_per_group, index=self.groups))

    def row_scales(self) -> np.ndarray:
        """The `mase_scales` scale of every row's history, warning where it is undefined."""
        history = self.history
        missing = [c for c in (ID, TIME, TARGET) if c not in history.columns]
        if missing:
            raise ValueError(f"train_df must have columns {[ID, TIME, TARGET]}; missing {missing}")
        history = history.assign(**{ID: series_names(history[ID])})
        compared = CUTOFF if CUTOFF in self.keys else TIME
        history[TIME] = _history_times_like(self.frame[compared], history[TIME], compared)
        unknown = sorted(set(self.frame[ID]) - set(history[ID]), key=str)
        if unknown:
            raise ValueError(f"train_df has no history for series {unknown[:5]} needed by MASE")
        if CUTOFF in self.keys:
            scales = mase_scales(history, self.season_length, cutoffs=self.frame[self.keys])
        else:
            first_forecast = self.frame.groupby(ID, sort=True)[TIME].min()
            before = history[history[TIME] < history[ID].map(first_forecast)]
            scales = mase_scales(before, self.season_length)
        scales = scales.reindex(self.groups)
        undefined = scales[scales.isna()]
        if len(undefined):
            warnings.warn(
                f"MASE is NaN for {len(undefined)} row(s) of the table whose history has fewer than 2 values or is "
                f"constant, so it has no naive error to scale by (first: {undefined.index[0]!r}); "
                "the overall row averages the others",
                RuntimeWarning,
                stacklevel=4,
            )
        return scales.to_numpy(dtype=float)[self.group_of_row]


def _time_kind(times: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(times.dtype):
        zone = getattr(times.dtype, "tz", None)
        return "datetimes without a time zone" if zone is None else f"datetimes in time zone {zone}"
    return "integers" if pd.api.types.is_integer_dtype(times.dtype) else f"values of dtype {times.dtype}"


def _history_times_like(forecast_times: pd.Series, history_times: pd.Series, column: str) -> pd.Series:
    """The history's `ds` in the dtype of the forecasts' `column` (datetimes of another unit, such as pandas 3's
    microseconds against the forecasts' nanoseconds, converted), or a ValueError where the kinds or zones differ."""
    forecast_kind, history_kind = _time_kind(forecast_times), _time_kind(history_times)
    if forecast_kind != history_kind:
        raise ValueError(
            f"forecasts column {column!r} holds {forecast_kind} but train_df column {TIME!r} holds {history_kind}; "
            "expected the same kind of time stamps (and time zone) in both"
        )
    return history_times.astype(forecast_times.dtype)


def _check_forecast_rows(forecasts: pd.DataFrame, keys: list[str]) -> None:
    """Raise where a series is named like the summary row, or has two forecasts for one (cutoff and) time."""
    reserved = (forecasts[ID] == OVERALL).to_numpy()
    if reserved.any():
        row = forecasts.index[reserved].tolist()[0]
        raise ValueError(
            f"column {ID!r} has the series id {OVERALL!r} (row {row!r}), which is reserved for the summary row "
            "of evaluate; expected another id"
        )
    key = [*keys, TIME]
    repeated = forecasts.duplicated(key).to_numpy()
    if repeated.any():
        first = forecasts[repeated].iloc[0]
        row = forecasts.index[repeated].tolist()[0]  # a Python value: its repr names no NumPy type
        where = ", ".join(f"{column} {first[column]}" for column in key[1:])
        raise ValueError(
            f"forecasts have two rows for series {first[ID]!r} at {where} (row {row!r}); "
            f"expected one row per {tuple(key)}"
        )


def _point_columns(forecasts: _GroupedForecasts, name: str) -> dict[str, pd.Series]:
    return {name: forecasts.score(name, forecasts.actual, forecasts.point)}


def _mase_columns(forecasts: _GroupedForecasts, name: str) -> dict[str, pd.Series]:
    return {name: forecasts.score(name, forecasts.actual, forecasts.point, forecasts.row_scales())}


def _pinball_columns(forecasts: _GroupedForecasts, name: str) -> dict[str, pd.Series]:
    columns = {
        f"{name}_q{column[len(QUANTILE_PREFIX) :]}": forecasts.score(
            name, forecasts.actual, forecasts.values(column), q
        )
        for q, column in forecasts.quantiles.items()
    }
    return {**columns, name: sum(columns.values()) / len(columns)}


def _coverage_columns(forecasts: _GroupedForecasts, name: str) -> dict[str, pd.Series]:
    columns = {}
    for q, lower in forecasts.quantiles.items():
        upper = forecasts.quantiles.get(round(1.0 - q, 12))
        if q < 0.5 and upper is not None:
            inside = forecasts.score(name, forecasts.actual, forecasts.values(lower), forecasts.values(upper))
            columns[f"{name}_{level_percent(1.0 - 2.0 * q)}"] = inside
    return columns


def _unchanged(mean: Any) -> Any:
    return mean


class Metric(NamedTuple):
    """One accuracy measure: `finish(mean(terms(...)))` over one forecast or over each group of `evaluate`.

    `columns` builds the measure's columns of the `evaluate` table from the grouped forecasts.
    """

    terms: Callable[..., np.ndarray]
    columns: Callable[[_GroupedForecasts, str], dict[str, pd.Series]]
    finish: Callable[[Any], Any] = _unchanged


METRICS: dict[str, Metric] = {
    "mae": Metric(absolute_errors, _point_columns),
    "rmse": Metric(squared_errors, _point_columns, finish=np.sqrt),
    "mape": Metric(absolute_percentage_errors, _point_columns),
    "smape": Metric(smape_terms, _point_columns),
    "mase": Metric(scaled_absolute_errors, _mase_columns),
    "pinball": Metric(pinball_terms, _pinball_columns),
    "coverage": Metric(inside_interval, _coverage_columns),
}
"""Every measure by name: its per-element terms, its reduction and its `evaluate` columns."""
METRIC_NAMES = tuple(METRICS)


def evaluate(
    forecasts: pd.DataFrame,
    train_df: pd.DataFrame | None = None,
    season_length: int = 1,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Score forecasts per series (and per `cutoff` when that column exists), plus an overall row.

    Args:
        forecasts: long frame with `unique_id`, `ds`, `y` (actuals), `y_hat` and optionally
            `cutoff` and quantile columns `y_hat_qXX`; one row per `(unique_id, ds)`, or per
            `(unique_id, cutoff, ds)`. The id `"overall"` is reserved for the summary row.
        train_df: long frame with the in-sample history (`unique_id`, `ds`, `y`), needed for
            MASE. The history of a forecast is the rows up to and including its `cutoff`, or, without
            a `cutoff` column, the rows before the series' first forecast timestamp; its `ds` must be in
            the time zone of that `cutoff` or `ds` (or naive like it).
        season_length: MASE period `m`.
        metrics: names among `mae, rmse, mape, smape, mase, pinball, coverage`. `None` scores
            `mae, rmse, smape`, plus `mase` when `train_df` is given and `pinball`/`coverage`
            when quantile columns exist. `pinball` adds one column `pinball_q<percent>` per quantile
            and `pinball` (their mean); `coverage` adds `coverage_<level>` for each central
            interval formed by quantiles `q` and `1 - q`.

    Series ids are compared and returned as the estimators write them (`pipelines.columns.series_names`):
    numeric ids as text, so `7` and `"7"` name one series.

    Each score of a row is the scalar function of the same name (`mae`, ...) applied to the
    row's forecasts. A forecast whose history has fewer than 2 values or is constant gets a NaN MASE
    (its `mase_scales` scale is undefined), with a warning.

    Returns:
        One row per series (and cutoff) with one column per score, sorted by series (and cutoff),
        followed by a row with `unique_id == "overall"` holding the mean of each column over the
        rows above (the M3 convention: sMAPE averaged over series). Only the scale-free scores
        (`smape`, `mape`, `mase`, `coverage`) are comparable across series of different
        scales; the overall `mae`, `rmse` and `pinball` mix the units of every series.
    """
    required = [ID, TIME, TARGET, "y_hat"]
    missing = [c for c in required if c not in forecasts.columns]
    if missing:
        raise ValueError(f"forecasts must have columns {required}; missing {missing}")
    if forecasts.empty:
        raise ValueError("cannot evaluate an empty forecast frame")
    quantiles = quantile_columns(list(forecasts.columns))
    names = _resolve_metric_names(metrics, train_df is not None, bool(quantiles))
    if "mase" in names and train_df is None:
        raise ValueError("MASE needs the in-sample history: pass train_df")
    if {"pinball", "coverage"} & set(names) and not quantiles:
        raise ValueError(f"pinball/coverage need quantile columns '{QUANTILE_PREFIX}<percent>'; found none")
    for column in (TARGET, "y_hat", *quantiles.values()):
        if forecasts[column].isna().any():
            row = forecasts.index[forecasts[column].isna()].tolist()[0]
            raise ValueError(f"column {column!r} has a missing value (row {row!r}); every forecast needs an actual")

    keys = [ID, CUTOFF] if CUTOFF in forecasts.columns else [ID]
    forecasts = forecasts.assign(**{ID: series_names(forecasts[ID])})
    _check_forecast_rows(forecasts, keys)
    grouped = _GroupedForecasts(forecasts, keys, quantiles, train_df, season_length)
    columns: dict[str, pd.Series] = {}
    for name in names:
        columns.update(METRICS[name].columns(grouped, name))
    table = pd.DataFrame(columns).reset_index()
    overall = table[list(columns)].mean().to_frame().T
    overall.insert(0, ID, OVERALL)
    if CUTOFF in keys:
        overall.insert(1, CUTOFF, pd.NaT if pd.api.types.is_datetime64_any_dtype(table[CUTOFF]) else np.nan)
    return pd.concat([table.astype({ID: object}), overall], ignore_index=True)


def _resolve_metric_names(metrics: Sequence[str] | None, has_history: bool, has_quantiles: bool) -> list[str]:
    if metrics is None:
        chosen = ["mae", "rmse", "smape"]
        chosen += ["mase"] if has_history else []
        chosen += ["pinball", "coverage"] if has_quantiles else []
        return chosen
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; expected names among {list(METRIC_NAMES)}")
    return list(dict.fromkeys(metrics))
