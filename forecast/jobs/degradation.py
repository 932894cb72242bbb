"""Retraining on evidence: the retrain policy `on_degradation`.

A model's *realized MASE* is the mean of the overall realized MASE (`forecast.jobs.realized`) of
its last `k` scored runs: the job's runs whose forecasts this model version made, at or after the
job's latest retrain (so that a challenger that was refused gets `k` fresh runs of evidence before
the next one), that have at least one scored step. The job retrains when

```
realized MASE > factor * reference MASE,       factor >= 1
```

The *reference* is the model's validation MASE: the MASE a `Forecaster` measured at fit time on the
windows it held out (`validation_mase_`, `forecast.holdout`); a baseline, which learns nothing, is
judged by its backtest on the last origin of the data it was fitted on, scored on the series long enough
(`2 * horizon + 1` observations). A model without held-out windows (`validation_windows=0`, or
`refit_on_all_windows=True`, which trains on them too) is compared with its own start instead: the mean
realized MASE of its first `k` scored runs.

A run is scored on the steps whose actuals have arrived, so the latest runs are judged on their
first steps, which are usually the most accurate: the comparison leans towards not retraining.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from forecast.backtesting import history_until
from forecast.jobs.backtests import backtest, overall_score
from forecast.run_columns import AS_OF_COLUMN, MODEL_VERSION_COLUMN
from pipelines.columns import ID, TIME
from pipelines.validation import parse_time_column

if TYPE_CHECKING:
    from forecast.base import BaseForecaster

VALIDATION = "validation"
FIRST_RUNS = "first runs"


@dataclass(frozen=True, kw_only=True)
class Degradation:
    """What `on_degradation` compared: the realized MASE of the last `k` runs and the reference it is held to.

    runs: the scored runs of the model since the latest retrain (the last `k` of them are averaged).
    reference: `"validation"` (the model's validation MASE) or `"first runs"` (its first `k` runs').
    """

    realized_mase: float
    reference_mase: float
    reference: str
    runs: int

    @property
    def ratio(self) -> float:
        """`realized_mase / reference_mase` (NaN when the reference is not positive)."""
        return self.realized_mase / self.reference_mase if self.reference_mase > 0 else math.nan


def scored_runs(overall: pd.DataFrame, version: str | None, since: pd.Timestamp | None) -> pd.DataFrame:
    """The rows of realized `overall` scores made by `version`, at or after `since`, with a MASE; oldest first."""
    runs = overall[(overall[MODEL_VERSION_COLUMN] == (version or "")) & overall["mase"].notna()]
    if since is not None:
        runs = runs[runs[AS_OF_COLUMN] >= since]
    return runs.sort_values(AS_OF_COLUMN, kind="stable")


def assess(
    forecaster: BaseForecaster,
    runs: pd.DataFrame,
    data: pd.DataFrame,
    *,
    k: int,
    season_length: int,
) -> Degradation | None:
    """The realized MASE of the last `k` of `runs` (`scored_runs`) against the model's reference.

    None while fewer than `k` runs are scored (no evidence yet).
    """
    if len(runs) < k:
        return None
    realized = float(runs["mase"].iloc[-k:].mean())
    validation = validation_mase(forecaster, data, season_length=season_length)
    if validation is not None:
        return Degradation(realized_mase=realized, reference_mase=validation, reference=VALIDATION, runs=len(runs))
    start = float(runs["mase"].iloc[:k].mean())
    return Degradation(realized_mase=realized, reference_mase=start, reference=FIRST_RUNS, runs=len(runs))


def validation_mase(forecaster: BaseForecaster, data: pd.DataFrame, *, season_length: int) -> float | None:
    """The fitted model's MASE on the windows its fit held out (see the module docstring); None without them.

    `data` is the job's data; the model is scored on its rows up to each series' last training timestamp.
    """
    if getattr(forecaster, "refit_on_all_windows", False):
        return None
    if hasattr(forecaster, "validation_mase_"):
        measured = forecaster.validation_mase_
        return None if measured is None or math.isnan(measured) else float(measured)
    windows = 1
    trained_end = forecaster.train_df_.groupby(ID, sort=True)[TIME].max()
    data = data.assign(**{TIME: parse_time_column(data)})  # e.g. text from a SQLite source
    history = history_until(data, trained_end.rename("cutoff").rename_axis(ID).reset_index())
    lengths = history.groupby(ID, sort=False).size()
    long_enough = lengths.index[lengths >= windows + 2 * forecaster.horizon]
    if long_enough.empty:
        return None
    result = backtest(
        forecaster,
        history[history[ID].isin(long_enough)],
        windows=windows,
        step=1,
        metric="mase",
        season_length=season_length,
    )
    score = overall_score(result, "mase")
    return None if math.isnan(score) else score
