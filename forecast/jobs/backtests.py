"""Backtests of a job's models: the period their MASE uses, and their scores on chosen origins.

Both the retrain policy `on_degradation` (a model's validation MASE, `forecast.jobs.degradation`)
and the champion/challenger decision (`forecast.jobs.promotion`) score models with
`forecast.base.BaseForecaster.backtest`; this module runs those backtests without opening
MLflow runs of their own (the job's run records what they found) and reads the one score asked for.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pandas as pd

from forecast.metrics import OVERALL
from pipelines.columns import ID, TIME
from pipelines.frequency import seasonal_period

if TYPE_CHECKING:
    from forecast.backtesting import Backtest
    from forecast.base import BaseForecaster


def model_season_length(forecaster: BaseForecaster) -> int:
    """The MASE period of a fitted model: its `season_length` setting, else the period its fit found (a Forecaster's
    `pipeline_.season_length_`, a seasonal baseline's `season_length_`: those its validation MASE was scaled by),
    else its frequency's (`pipelines.frequency.seasonal_period`)."""
    found = getattr(forecaster, "season_length", None)
    found = found or getattr(getattr(forecaster, "pipeline_", None), "season_length_", None)
    found = found or getattr(forecaster, "season_length_", None)
    return int(found) if found else seasonal_period(forecaster.freq_)


@contextmanager
def untracked(forecaster: BaseForecaster) -> Iterator[BaseForecaster]:
    """`forecaster` with its `tracking` setting off (when it has one) inside the block, restored after."""
    params = forecaster.get_params()
    if not params.get("tracking"):
        yield forecaster
        return
    forecaster.set_params(tracking=False)
    try:
        yield forecaster
    finally:
        forecaster.set_params(tracking=params["tracking"])


def backtest(
    forecaster: BaseForecaster,
    data: pd.DataFrame,
    *,
    windows: int,
    step: int | None,
    metric: str,
    season_length: int,
) -> Backtest:
    """`forecaster.backtest` on the last `windows` origins of every series, scored with `metric`, untracked.

    A fitted `forecaster` forecasts every origin with its own weights (its warning about origins inside
    its training data is left to the caller, who knows whether they are); an unfitted one is fitted on
    each series' history up to its first origin (`refit=False`).
    """
    with untracked(forecaster), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*backtest origins lie inside the data", category=UserWarning)
        return forecaster.backtest(
            data, n_windows=windows, step=step, refit=False, season_length=season_length, metrics=[metric]
        )


def overall_score(result: Backtest, metric: str) -> float:
    """The backtest's `metric` averaged over series and origins (NaN when it is undefined everywhere)."""
    overall = result.metrics.loc[result.metrics[ID] == OVERALL, metric]
    value = float(overall.iloc[0]) if len(overall) else math.nan
    return value if math.isfinite(value) else math.nan


def origins_inside_training(forecaster: BaseForecaster, result: Backtest) -> int:
    """How many of the backtest's origins come before the end of the data `forecaster` was fitted on."""
    origins = result.forecasts[[ID, "cutoff"]].drop_duplicates()
    trained_end = forecaster.train_df_.groupby(ID, sort=False)[TIME].max()
    return int((origins["cutoff"] < origins[ID].map(trained_end)).sum())
