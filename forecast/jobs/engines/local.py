"""Engine `local`: pandas in this process, the model's own `predict`, retraining when the policy says so.

This module is imported whenever a spec is loaded (`forecast.jobs.registry.discover`), so the
model code (TensorFlow, MLflow) is imported only when a run needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from forecast.jobs.engine import Engine
from forecast.jobs.realized import RealizedAccuracy, realized_accuracy
from forecast.jobs.registry import register_engine
from forecast.metrics import QUANTILE_PREFIX, quantile_column
from pipelines.columns import ID, TARGET, TIME

if TYPE_CHECKING:
    from forecast.jobs.models import Retrained
    from forecast.jobs.spec import JobSpec
    from forecast.model_uri import ResolvedModel


@register_engine
class LocalEngine(Engine):
    """Reads into pandas, forecasts with `forecaster.predict` on the whole frame, writes from pandas."""

    name = "local"
    can_retrain = True

    def load_model(self, uri: str) -> ResolvedModel:
        from forecast.model_uri import resolve_model  # loading models needs TensorFlow: not before a run

        return resolve_model(uri)

    def retrain(self, spec: JobSpec, model: ResolvedModel, data: pd.DataFrame, as_of: pd.Timestamp) -> Retrained:
        from forecast.jobs.models import retrain_model

        return retrain_model(spec, model, data, as_of)

    def until(self, frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        ds = frame[TIME]
        if pd.api.types.is_object_dtype(ds) or pd.api.types.is_string_dtype(ds):
            ds = pd.to_datetime(ds, format="ISO8601")  # e.g. SQLite gives its timestamps back as text
        if not pd.api.types.is_datetime64_any_dtype(ds):
            raise ValueError(f"data.until_as_of needs timestamps in {TIME}; found {ds.dtype}")
        limit = as_of.tz_localize("UTC") if ds.dt.tz is not None else as_of
        return frame.loc[(ds <= limit).to_numpy()].reset_index(drop=True)

    def earliest(self, frame: pd.DataFrame) -> pd.Timestamp | None:
        first = frame[TIME].min()
        return None if pd.isna(first) else pd.Timestamp(first)

    def forecast(
        self, data: pd.DataFrame, model: ResolvedModel, horizon: int, quantiles: tuple[float, ...] | None
    ) -> pd.DataFrame:
        return keep_requested(model.forecaster.predict(data), horizon, quantiles)

    def rows(self, frame: pd.DataFrame) -> int:
        return len(frame)

    def score(
        self,
        forecasts: pd.DataFrame,
        actuals: pd.DataFrame,
        *,
        season_length: int = 1,
        before: pd.Timestamp | None = None,
    ) -> RealizedAccuracy:
        return realized_accuracy(forecasts, actuals, season_length=season_length, before=before)


def keep_requested(forecasts: pd.DataFrame, horizon: int, quantiles: tuple[float, ...] | None) -> pd.DataFrame:
    """Forecasts cut to the first `horizon` steps of every series and to the `quantiles` asked for.

    The pandas twin of `forecast.spark.keep_requested`: a row's step is its position within its
    series (the forecaster returns each series' steps in time order); the `y_hat_qXX` columns of
    levels not in `quantiles` are dropped (`None`: every one of them, so that `y_hat` alone is written).
    """
    step = forecasts.groupby(ID, sort=False).cumcount()
    wanted = {quantile_column(float(level)) for level in quantiles or ()}
    unwanted = [name for name in forecasts.columns if name.startswith(QUANTILE_PREFIX) and name not in wanted]
    return forecasts.loc[step < horizon].drop(columns=unwanted).reset_index(drop=True)


def long_format(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """`frame` with its id, time and target columns (source names in `columns`) renamed to `unique_id, ds, y`."""
    names = {columns["unique_id"]: ID, columns["ds"]: TIME, columns["y"]: TARGET}
    missing = [source for source in names if source not in frame.columns]
    if missing:
        raise ValueError(f"job data lacks column(s) {missing}; found {list(frame.columns)}")
    return frame.rename(columns=names)
