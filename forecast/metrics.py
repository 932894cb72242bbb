"""Point and probabilistic forecast accuracy measures, and a per-series evaluation table.

Every measure takes array-likes of equal shape and averages over all their elements.
Percentage measures (MAPE, sMAPE) are in percent. Quantile forecasts live in columns
named by :func:`quantile_column` (``0.1 -> "y_hat_q10"``), the one place that defines
that naming.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipelines.checks import check_integer
from pipelines.columns import ID, TARGET, TIME

QUANTILE_PREFIX = "y_hat_q"
OVERALL = "overall"
"""The ``unique_id`` of the row of :func:`evaluate` that averages all other rows."""


def quantile_column(q: float) -> str:
    """Name of the forecast column of quantile ``q``: ``y_hat_q`` + ``100*q`` without trailing zeros.

    ``0.1 -> "y_hat_q10"``, ``0.5 -> "y_hat_q50"``, ``0.025 -> "y_hat_q2.5"``.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"a quantile must lie strictly between 0 and 1; got {q!r}")
    return f"{QUANTILE_PREFIX}{round(100.0 * q, 10):g}"


def column_quantile(column: str) -> float:
    """Inverse of :func:`quantile_column`: ``"y_hat_q10" -> 0.1``."""
    if not column.startswith(QUANTILE_PREFIX):
        raise ValueError(f"expected a column named '{QUANTILE_PREFIX}<percent>'; got {column!r}")
    return round(float(column[len(QUANTILE_PREFIX) :]) / 100.0, 12)


def quantile_columns(columns: Sequence[str]) -> dict[float, str]:
    """The quantile forecast columns among ``columns``, as ``{q: column}`` sorted by ``q``."""
    found = {column_quantile(c): c for c in columns if str(c).startswith(QUANTILE_PREFIX)}
    return dict(sorted(found.items()))


def _pair(y, y_hat) -> tuple[np.ndarray, np.ndarray]:
    actual = np.asarray(y, dtype=float)
    forecast = np.asarray(y_hat, dtype=float)
    if actual.shape != forecast.shape:
        raise ValueError(f"actuals and forecasts must have the same shape; got {actual.shape} and {forecast.shape}")
    if actual.size == 0:
        raise ValueError("cannot score an empty forecast: got 0 values")
    return actual, forecast


def mae(y, y_hat) -> float:
    """Mean absolute error: ``mean(|y - ŷ|)``."""
    actual, forecast = _pair(y, y_hat)
    return float(np.mean(np.abs(actual - forecast)))


def rmse(y, y_hat) -> float:
    """Root mean squared error: ``sqrt(mean((y - ŷ)^2))``."""
    actual, forecast = _pair(y, y_hat)
    return float(np.sqrt(np.mean((actual - forecast) ** 2)))


def mape(y, y_hat) -> float:
    """Mean absolute percentage error in percent: ``100 * mean(|y - ŷ| / |y|)``.

    Undefined where ``y = 0``: such a term is ``inf`` (``nan`` if the forecast is also 0),
    and so is the mean.
    """
    actual, forecast = _pair(y, y_hat)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(100.0 * np.mean(np.abs(actual - forecast) / np.abs(actual)))


def smape(y, y_hat) -> float:
    """Symmetric MAPE of the M3 competition, in percent: ``mean(200 |y - ŷ| / (|y| + |ŷ|))``.

    Makridakis & Hibon (2000), "The M3-Competition: results, conclusions and implications".
    A term with ``y = ŷ = 0`` is a perfect forecast and counts as 0. The range is [0, 200].
    """
    actual, forecast = _pair(y, y_hat)
    error = np.abs(actual - forecast)
    denominator = np.abs(actual) + np.abs(forecast)
    terms = np.divide(200.0 * error, denominator, out=np.zeros_like(error), where=denominator > 0)
    return float(np.mean(terms))


def seasonal_naive_scale(y_insample, season_length: int = 1) -> float:
    """In-sample MAE of the seasonal naive forecast: ``mean_{t>m} |y_t - y_{t-m}|`` (the MASE denominator)."""
    history = np.asarray(y_insample, dtype=float).ravel()
    check_integer("season_length", season_length)
    if history.size <= season_length:
        raise ValueError(f"MASE needs more than season_length={season_length} in-sample values; got {history.size}")
    return float(np.mean(np.abs(history[season_length:] - history[:-season_length])))


def mase(y, y_hat, y_insample, season_length: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006): ``MAE(y, ŷ) / mean_{t>m} |y_t - y_{t-m}|``.

    The scale is the in-sample MAE of the seasonal naive forecast with period ``m = season_length``.
    A constant history gives scale 0 and MASE ``inf`` (``nan`` for a perfect forecast).
    """
    scale = seasonal_naive_scale(y_insample, season_length)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(mae(y, y_hat)) / scale)


def pinball_loss(y, y_q, q: float) -> float:
    """Pinball (quantile) loss of the forecast ``y_q`` of quantile ``q``.

    ``mean(max(q (y - y_q), (q - 1)(y - y_q)))``; Koenker & Bassett (1978).
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"a quantile must lie strictly between 0 and 1; got {q!r}")
    actual, forecast = _pair(y, y_q)
    residual = actual - forecast
    return float(np.mean(np.maximum(q * residual, (q - 1.0) * residual)))


def coverage(y, lower, upper) -> float:
    """Share (between 0 and 1) of actuals inside their interval: ``mean(lower <= y <= upper)``."""
    actual, low = _pair(y, lower)
    _, high = _pair(y, upper)
    return float(np.mean((low <= actual) & (actual <= high)))


METRIC_NAMES = ("mae", "rmse", "mape", "smape", "mase", "pinball", "coverage")


def evaluate(
    forecasts: pd.DataFrame,
    train_df: pd.DataFrame | None = None,
    season_length: int = 1,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Score forecasts per series (and per ``cutoff`` when that column exists), plus an overall row.

    Args:
        forecasts: long frame with ``unique_id``, ``ds``, ``y`` (actuals), ``y_hat`` and optionally
            ``cutoff`` and quantile columns ``y_hat_qXX``.
        train_df: long frame with the in-sample history (``unique_id``, ``ds``, ``y``), needed for
            MASE. The history of a forecast is the rows up to and including its ``cutoff``, or, without
            a ``cutoff`` column, the rows before the series' first forecast timestamp.
        season_length: MASE period ``m``.
        metrics: names among ``mae, rmse, mape, smape, mase, pinball, coverage``. ``None`` scores
            ``mae, rmse, smape``, plus ``mase`` when ``train_df`` is given and ``pinball``/``coverage``
            when quantile columns exist. ``pinball`` adds one column ``pinball_q<percent>`` per quantile
            and ``pinball`` (their mean); ``coverage`` adds ``coverage_<level>`` for each central
            interval formed by quantiles ``q`` and ``1 - q``.

    A forecast whose history has at most ``season_length`` values gets a NaN MASE, with a warning.

    Returns:
        One row per series (and cutoff) with one column per score, sorted by series (and cutoff),
        followed by a row with ``unique_id == "overall"`` holding the mean of each column over the
        rows above (the M3 convention: sMAPE averaged over series). Only the scale-free scores
        (``smape``, ``mape``, ``mase``, ``coverage``) are comparable across series of different
        scales; the overall ``mae``, ``rmse`` and ``pinball`` mix the units of every series.
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
            row = forecasts.index[forecasts[column].isna()][0]
            raise ValueError(f"column {column!r} has a missing value (row {row!r}); every forecast needs an actual")

    keys = [ID, "cutoff"] if "cutoff" in forecasts.columns else [ID]
    frame = forecasts.sort_values([*keys, TIME], kind="stable")
    group_keys = [frame[k] for k in keys]

    def group_mean(values: np.ndarray) -> pd.Series:
        return pd.Series(values.astype(float), index=frame.index).groupby(group_keys, sort=True).mean()

    actual, point = frame[TARGET].to_numpy(float), frame["y_hat"].to_numpy(float)
    error = actual - point
    columns: dict[str, pd.Series] = {}
    for name in names:
        if name == "mae":
            columns["mae"] = group_mean(np.abs(error))
        elif name == "rmse":
            columns["rmse"] = np.sqrt(group_mean(error**2))
        elif name == "mape":
            with np.errstate(divide="ignore", invalid="ignore"):
                columns["mape"] = 100.0 * group_mean(np.abs(error) / np.abs(actual))
        elif name == "smape":
            denominator = np.abs(actual) + np.abs(point)
            terms = np.divide(200.0 * np.abs(error), denominator, out=np.zeros_like(error), where=denominator > 0)
            columns["smape"] = group_mean(terms)
        elif name == "mase":
            scale = _mase_scales(frame, keys, train_df, season_length)
            with np.errstate(divide="ignore", invalid="ignore"):
                columns["mase"] = group_mean(np.abs(error)) / scale
        elif name == "pinball":
            losses = []
            for q, column in quantiles.items():
                residual = actual - frame[column].to_numpy(float)
                loss = group_mean(np.maximum(q * residual, (q - 1.0) * residual))
                columns[f"pinball_q{column[len(QUANTILE_PREFIX) :]}"] = loss
                losses.append(loss)
            columns["pinball"] = sum(losses) / len(losses)
        elif name == "coverage":
            for q, lower in quantiles.items():
                upper = quantiles.get(round(1.0 - q, 12))
                if q < 0.5 and upper is not None:
                    inside = (frame[lower].to_numpy(float) <= actual) & (actual <= frame[upper].to_numpy(float))
                    columns[f"coverage_{round(100.0 * (1.0 - 2.0 * q), 10):g}"] = group_mean(inside)
    table = pd.DataFrame(columns).reset_index()
    overall = table[list(columns)].mean().to_frame().T
    overall.insert(0, ID, OVERALL)
    if "cutoff" in keys:
        overall.insert(1, "cutoff", pd.NaT if pd.api.types.is_datetime64_any_dtype(table["cutoff"]) else np.nan)
    return pd.concat([table.astype({ID: object}), overall], ignore_index=True)


def _resolve_metric_names(metrics: Sequence[str] | None, has_history: bool, has_quantiles: bool) -> list[str]:
    if metrics is None:
        chosen = ["mae", "rmse", "smape"]
        chosen += ["mase"] if has_history else []
        chosen += ["pinball", "coverage"] if has_quantiles else []
        return chosen
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in METRIC_NAMES]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; expected names among {list(METRIC_NAMES)}")
    return list(dict.fromkeys(metrics))


def _mase_scales(
    frame: pd.DataFrame,
    keys: list[str],
    train_df: pd.DataFrame,
    season_length: int,
) -> pd.Series:
    """Per (series[, cutoff]) in-sample seasonal naive MAE, from cumulative sums of |y_t - y_{t-m}|."""
    check_integer("season_length", season_length)
    missing = [c for c in (ID, TIME, TARGET) if c not in train_df.columns]
    if missing:
        raise ValueError(f"train_df must have columns {[ID, TIME, TARGET]}; missing {missing}")
    history = train_df[[ID, TIME, TARGET]].sort_values([ID, TIME], kind="stable")
    history = history.reset_index(drop=True)
    seasonal_error = (history[TARGET] - history.groupby(ID)[TARGET].shift(season_length)).abs()
    history["count"] = seasonal_error.notna().groupby(history[ID]).cumsum()
    history["total"] = seasonal_error.fillna(0.0).groupby(history[ID]).cumsum()

    if "cutoff" in keys:
        origins = frame[keys].drop_duplicates().rename(columns={"cutoff": "origin"})
        inclusive = True
    else:
        origins = frame.groupby(ID, sort=True)[TIME].min().rename("origin").reset_index()
        inclusive = False
    unknown = sorted(set(origins[ID]) - set(history[ID]), key=str)
    if unknown:
        raise ValueError(f"train_df has no history for series {unknown[:5]} needed by MASE")
    lookup = pd.merge_asof(
        origins.sort_values("origin", kind="stable"),
        history[[ID, TIME, "count", "total"]].sort_values(TIME, kind="stable"),
        left_on="origin",
        right_on=TIME,
        by=ID,
        allow_exact_matches=inclusive,
    )
    too_short = (lookup["count"].isna() | (lookup["count"] < 1)).to_numpy()
    if too_short.any():
        row = lookup[too_short].iloc[0]
        warnings.warn(
            f"MASE is NaN for {int(too_short.sum())} row(s) of the table whose history has at most season_length="
            f"{season_length} values (first: series {row[ID]!r}, origin {row['origin']}); "
            "the overall row averages the others",
            RuntimeWarning,
            stacklevel=3,
        )
    lookup["count"] = lookup["count"].where(~too_short)
    lookup = lookup.rename(columns={"origin": "cutoff"}) if "cutoff" in keys else lookup
    scale = (lookup["total"] / lookup["count"]).to_numpy()
    return pd.Series(scale, index=pd.MultiIndex.from_frame(lookup[keys]) if len(keys) > 1 else lookup[ID]).sort_index()
