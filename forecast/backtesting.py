"""Rolling-origin evaluation: forecast origins (cutoffs), training histories and the refit schedule.

A backtest with `n_windows` windows, a `step` between origins and a `horizon` places the
origins of each series at the end, so that the last window's horizon ends with the series:

```
cutoff_k = ds[n - horizon - (n_windows - 1 - k) * step - 1],   k = 0 .. n_windows - 1
```

(oldest first; `n` is the length of the series, `ds` its sorted timestamps; Tashman 2000,
"Out-of-sample tests of forecasting accuracy"). The model sees only rows up to its cutoff when it
is (re)fitted inside the backtest.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from forecast.settings import unregistered
from pipelines.checks import check_integer
from pipelines.columns import ID, TARGET, TIME
from pipelines.rows import locate_rows
from pipelines.validation import CheckedFrame, shown_ids


class Backtest(NamedTuple):
    """Result of a backtest: the forecasts with actuals, and their scores.

    forecasts: `unique_id, ds, cutoff, y, y_hat[, y_hat_qXX...]`, one row per series, origin and step.
    metrics: the `forecast.metrics.evaluate` table (per series and cutoff, plus `overall`).
    """

    forecasts: pd.DataFrame
    metrics: pd.DataFrame


def series_cutoffs(
    df: pd.DataFrame,
    n_windows: int,
    step: int,
    horizon: int,
    drop_short: bool = False,
) -> pd.DataFrame:
    """Forecast origins of a rolling-origin backtest, per series.

    Args:
        df: long frame sorted by series and time (one row per series and timestamp).
        n_windows: number of origins per series.
        step: rows between consecutive origins.
        horizon: steps forecast from each origin.
        drop_short: leave out the series too short for the windows, with a warning naming them (an estimator's
            `short_series="drop"`), instead of raising; raises still when no series is long enough.

    Returns:
        `unique_id, window, cutoff` with `window = 0 .. n_windows - 1` (oldest first) and
        `cutoff = ds[n - horizon - (n_windows - 1 - window) * step - 1]`, sorted by series and window.

    Raises:
        ValueError: for non-positive arguments, or a series too short to hold every window plus at
            least one observation before the first origin (`horizon + (n_windows - 1) * step + 1` rows).
    """
    for name, value in (("n_windows", n_windows), ("step", step), ("horizon", horizon)):
        check_integer(name, value)
    if df.empty:
        raise ValueError("cannot backtest an empty frame")
    lengths = df.groupby(ID, sort=True).size()
    needed = horizon + (n_windows - 1) * step + 1
    short = lengths[lengths < needed]
    if len(short) and (not drop_short or len(short) == len(lengths)):
        raise ValueError(
            f"series {short.index[0]!r} has {short.iloc[0]} observations; a backtest with n_windows={n_windows}, "
            f"step={step}, horizon={horizon} needs at least {needed} "
            f"({len(short)} series too short)"
        )
    if len(short):
        warnings.warn(
            f"the backtest leaves out {len(short)} series shorter than the {needed} values that n_windows="
            f"{n_windows}, step={step} and horizon={horizon} need (short_series='drop'): "
            f"{shown_ids([str(series) for series in short.index])}",
            UserWarning,
            stacklevel=3,
        )
    starts = np.concatenate([[0], np.cumsum(lengths.to_numpy())[:-1]])
    long_enough = (lengths >= needed).to_numpy()
    lengths, starts = lengths[long_enough], starts[long_enough]
    window = np.arange(n_windows)
    positions = lengths.to_numpy()[:, None] - horizon - (n_windows - 1 - window[None, :]) * step - 1
    rows = (starts[:, None] + positions).ravel()
    return pd.DataFrame(
        {
            ID: np.repeat(lengths.index.to_numpy(), n_windows),
            "window": np.tile(window, len(lengths)),
            "cutoff": df[TIME].to_numpy()[rows],
        }
    )


def history_until(df: pd.DataFrame, cutoffs: pd.DataFrame) -> pd.DataFrame:
    """Rows of each series up to and including its cutoff (`cutoffs`: one `cutoff` per series)."""
    per_series = cutoffs.set_index(ID)["cutoff"]
    if per_series.index.has_duplicates:
        raise ValueError("history_until expects one cutoff per series")
    limit = df[ID].map(per_series)
    return df[limit.notna().to_numpy() & (df[TIME] <= limit).to_numpy()].reset_index(drop=True)


def refit_schedule(n_windows: int, refit: bool | int) -> list[np.ndarray]:
    """Windows predicted by each fitted model: one block of all windows without refit, else blocks of `refit`."""
    if isinstance(refit, (bool, np.bool_)):
        every = 1 if refit else n_windows
    elif isinstance(refit, (int, np.integer)) and refit >= 1:
        every = int(refit)
    else:
        raise ValueError(f"refit must be False, True or a positive integer (refit every k windows); got {refit!r}")
    return [np.arange(start, min(start + every, n_windows)) for start in range(0, n_windows, every)]


def rolling_origin(model, checked: CheckedFrame, cutoffs: pd.DataFrame, refit: bool | int) -> pd.DataFrame:
    """Forecasts of `model` from every cutoff, with the actual `y` of each forecast step.

    Without refit, one model predicts all windows through a single batched
    `model._predict_origins(checked, origin_rows, None)` call: `model` itself when it is fitted,
    otherwise a clone fitted on each series' history up to its first cutoff. With `refit=k`, a
    fresh clone is fitted on the history up to the first cutoff of every block of `k` windows and
    predicts that block. `checked` is the validated full history.

    A fitted `model` forecasts the series it was not fitted on window by window, each from its history up
    to the cutoff (`forecast_from_history`): what it learns of a new series (seasonal indices, the scale of
    its interval, ETS) must not read the values it is scored on.
    """
    df = checked.frame
    origin_rows, _ = locate_rows(df, cutoffs[ID].to_numpy(), cutoffs["cutoff"].to_numpy())
    if (origin_rows < 0).any():
        bad = cutoffs.iloc[int(np.flatnonzero(origin_rows < 0)[0])]
        raise ValueError(f"cutoff {bad['cutoff']} is not a timestamp of series {bad[ID]!r}")
    times = checked.times()
    windows = cutoffs["window"].to_numpy()
    blocks = refit_schedule(int(windows.max()) + 1, refit)
    reuse_model = not refit and _is_fitted(model)
    series_ids = cutoffs[ID].to_numpy()
    unseen = ~np.isin(series_ids, np.asarray(model.series_ids_)) if reuse_model else None
    pieces, dropped = [], set()
    for block in blocks:
        in_block = np.isin(windows, block)
        if reuse_model:
            fitted = model
            for window in np.unique(windows[unseen]):
                pieces.append(forecast_from_history(model, checked, origin_rows[unseen & (windows == window)]))
            in_block &= ~unseen
        else:
            fitted = clone(model)
            if hasattr(fitted, "tracking"):  # its run is nested in the backtest's; its model is not registered
                fitted.set_params(tracking=unregistered(fitted.tracking))
            fitted.fit(history_until(df, cutoffs[in_block & (windows == block[0])]))
            left_out = in_block & ~kept_by_fit(fitted, series_ids)  # what the fit left out is not scored either
            dropped.update(series_ids[left_out].tolist())
            in_block &= ~left_out
        rows = origin_rows[in_block]
        if rows.size:
            piece = fitted._predict_origins(checked, rows, None)
            check_forecasts(piece, rows.size, model.horizon)
            piece.insert(2, "cutoff", times[np.repeat(rows, model.horizon)])
            pieces.append(piece)
    if dropped:
        warnings.warn(
            f"the backtest leaves out {len(dropped)} series that the fit dropped as too short at an origin "
            f"(short_series='drop'): {shown_ids(sorted(dropped))}",
            UserWarning,
            stacklevel=3,
        )
    if not pieces:
        raise ValueError("no series is left to backtest: the fit dropped every series as too short at its origin")
    forecasts = pd.concat(pieces, ignore_index=True)
    actuals = df[[ID, TIME, TARGET]]
    merged = forecasts.merge(actuals, on=[ID, TIME], how="left", validate="many_to_one")
    missing = merged[TARGET].isna()
    if missing.any():
        row = merged[missing].iloc[0]
        raise ValueError(
            f"no actual value for series {row[ID]!r} at {row[TIME]} (forecast from cutoff {row['cutoff']}); "
            "the forecast timestamps must be timestamps of the series"
        )
    value_columns = [c for c in forecasts.columns if c not in (ID, TIME, "cutoff")]
    ordered = merged[[ID, TIME, "cutoff", TARGET, *value_columns]]
    return ordered.sort_values([ID, "cutoff", TIME], kind="stable").reset_index(drop=True)


def drops_short_series(estimator) -> bool:
    """Whether `estimator` leaves out series too short for it (`short_series="drop"`) instead of refusing them."""
    return getattr(estimator, "short_series", None) == "drop"


def kept_by_fit(fitted, series_ids: np.ndarray) -> np.ndarray:
    """Which of `series_ids` a fitted model's backtest scores: all of them, except under `short_series="drop"` the
    series its fit dropped as too short (forecast from a few rows, they would be scored as if never seen)."""
    if not drops_short_series(fitted):
        return np.ones(len(series_ids), dtype=bool)
    return np.isin(series_ids, np.asarray(fitted.series_ids_))


def forecast_from_history(model, checked: CheckedFrame, origin_rows: np.ndarray) -> pd.DataFrame:
    """The forecasts of fitted `model` from `origin_rows` (one per series) of `checked`, as `predict` makes them from
    each series' rows up to its origin: a series the model never saw is learned from those rows alone. The future
    covariates of the forecast steps come from the rows after the origin, given as `future_df`."""
    series = checked.series_of_rows(origin_rows)
    first_rows = checked.series_starts[series]
    kept = np.concatenate([np.arange(first, origin + 1) for first, origin in zip(first_rows, origin_rows)])
    history = CheckedFrame.of_sorted(checked.frame.iloc[kept].reset_index(drop=True), checked.freq)
    after = (origin_rows[:, None] + 1 + np.arange(model.horizon)).ravel()  # inside the series: `series_cutoffs`
    future_df = checked.frame.iloc[after].drop(columns=TARGET).reset_index(drop=True)
    origins = history.series_starts[1:] - 1
    piece = model._predict_origins(history, origins, future_df)
    check_forecasts(piece, origins.size, model.horizon)
    piece.insert(2, "cutoff", history.times()[np.repeat(origins, model.horizon)])
    return piece


def check_forecasts(forecasts: pd.DataFrame, n_origins: int, horizon: int) -> None:
    """Check that a `_predict_origins` result has the required columns and `horizon` rows per origin."""
    columns = set(forecasts.columns)
    missing = [c for c in (ID, TIME, "y_hat") if c not in columns]
    if missing:
        raise ValueError(f"_predict_origins must return columns {[ID, TIME, 'y_hat']}; missing {missing}")
    if len(forecasts) != horizon * n_origins:
        raise ValueError(
            f"_predict_origins must return horizon={horizon} rows per origin ({horizon * n_origins} rows "
            f"for {n_origins} origins); got {len(forecasts)}"
        )


def _is_fitted(model) -> bool:
    try:
        check_is_fitted(model)
    except NotFittedError:
        return False
    return True
