"""Figures logged with training runs: forecasts against actuals, and learning curves.

Figures are built with `matplotlib.figure.Figure` directly (rendered by the Agg canvas on save),
so nothing touches pyplot's global figure registry or needs a display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecast.metrics import column_quantile, quantile_columns
from pipelines.checks import check_integer
from pipelines.columns import ID, TARGET, TIME


def plot_forecasts(
    history_df: pd.DataFrame,
    forecasts_df: pd.DataFrame,
    actual_df: pd.DataFrame | None = None,
    n_series: int = 4,
    history_length: int | None = None,
) -> Figure:
    """One panel per series: the history, the point forecast, the widest quantile band and the actuals.

    Args:
        history_df: long frame `unique_id, ds, y` with the observed past.
        forecasts_df: long frame `unique_id, ds, y_hat[, y_hat_qXX...]`; with a `cutoff` column
            (a backtest) each origin is drawn as its own line.
        actual_df: long frame `unique_id, ds, y` with the values over the forecast period.
        n_series: panels drawn, for the first series in sorted id order that have forecasts.
        history_length: the last observations of each series to show before its first forecast
            (`None`: all).
    """
    check_integer("n_series", n_series)
    for name, frame, columns in (
        ("history_df", history_df, (ID, TIME, TARGET)),
        ("forecasts_df", forecasts_df, (ID, TIME, "y_hat")),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} must have columns {list(columns)}; missing {missing}")
    series = sorted(pd.unique(forecasts_df[ID]), key=str)[:n_series]
    if not series:
        raise ValueError("forecasts_df has no rows to plot")
    quantiles = quantile_columns(list(forecasts_df.columns))
    band = (quantiles[min(quantiles)], quantiles[max(quantiles)]) if len(quantiles) >= 2 else None

    figure = Figure(figsize=(9.0, 2.4 * len(series)), layout="constrained")
    axes = figure.subplots(len(series), 1, squeeze=False)[:, 0]
    for axis, series_id in zip(axes, series):
        forecast = forecasts_df[forecasts_df[ID] == series_id].sort_values(TIME)
        past = history_df[(history_df[ID] == series_id) & (history_df[TIME] < forecast[TIME].min())].sort_values(TIME)
        if history_length is not None:
            past = past.tail(history_length)
        axis.plot(past[TIME], past[TARGET], color="black", linewidth=1.0, label="history")
        if actual_df is not None:
            actual = actual_df[(actual_df[ID] == series_id) & (actual_df[TIME] >= forecast[TIME].min())].sort_values(
                TIME
            )
            axis.plot(actual[TIME], actual[TARGET], color="black", linestyle="--", linewidth=1.0, label="actual")
        origins = forecast.groupby("cutoff", sort=True) if "cutoff" in forecast.columns else [(None, forecast)]
        for number, (_, part) in enumerate(origins):
            label = "forecast" if number == 0 else None
            axis.plot(part[TIME], part["y_hat"], color="tab:blue", linewidth=1.4, label=label)
            if band is not None:
                lower, upper = band
                level = round(100 * (column_quantile(upper) - column_quantile(lower)))
                axis.fill_between(
                    part[TIME],
                    part[lower],
                    part[upper],
                    color="tab:blue",
                    alpha=0.2,
                    label=f"{level}% interval" if number == 0 else None,
                )
        axis.set_title(str(series_id), fontsize=9, loc="left")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    return figure


def plot_learning_curve(history: Mapping[str, Sequence[float]]) -> Figure:
    """Training curves from a Keras `History.history` dict: one panel per quantity, `val_` beside it.

    A panel uses a log scale when all its values are positive and span more than a factor of 10.
    """
    names = [name for name in history if not name.startswith("val_")]
    names += [name[4:] for name in history if name.startswith("val_") and name[4:] not in history]
    if not names:
        raise ValueError("history has no series to plot (expected keys like 'loss' and 'val_loss')")
    figure = Figure(figsize=(6.0, 2.6 * len(names)), layout="constrained")
    axes = figure.subplots(len(names), 1, squeeze=False)[:, 0]
    for axis, name in zip(axes, names):
        values = []
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            if key in history:
                curve = np.asarray(history[key], dtype=float)
                axis.plot(np.arange(1, curve.size + 1), curve, marker="o", markersize=3, label=label)
                values.append(curve)
        finite = np.concatenate(values)
        finite = finite[np.isfinite(finite)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
            axis.set_yscale("log")
        axis.set_title(name, fontsize=9, loc="left")
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return figure
