"""Engine `spark`: Apache Spark (`forecast.spark`), series forecast per partition, one model load each.

The session is the active one or a new one with the spec's `spark.master` and `spark.conf`. The
model is resolved once on the driver (an alias pinned to one version) and shipped to the executors.
Spark forecasts with a trained model; it does not retrain. Realized accuracy is computed on the
driver: the forecasts to score and the actuals of their series are collected to pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from forecast.jobs.engine import Engine
from forecast.jobs.realized import RealizedAccuracy, realized_accuracy
from forecast.jobs.registry import register_engine

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from forecast.jobs.spec import JobSpec, SparkSpec
    from forecast.spark import ShippedModel


@register_engine
class SparkEngine(Engine):
    """Reads, forecasts and writes Spark DataFrames; `forecast.spark` does the work."""

    name = "spark"
    can_retrain = False

    def __init__(self, *, settings: SparkSpec) -> None:
        self.settings = settings
        self._session: SparkSession | None = None

    @classmethod
    def from_spec(cls, spec: JobSpec) -> SparkEngine:
        from forecast.jobs.spec import SparkSpec

        return cls(settings=spec.spark or SparkSpec())

    @property
    def session(self) -> SparkSession:
        """The Spark session, started on first use."""
        if self._session is None:
            from forecast import spark as fs

            self._session = fs.spark_session(self.settings.master, self.settings.conf)
        return self._session

    def load_model(self, uri: str) -> ShippedModel:
        from forecast import spark as fs

        return fs.ship_model(self.session, uri)

    def forecast(
        self, data: DataFrame, model: ShippedModel, horizon: int, quantiles: tuple[float, ...] | None
    ) -> DataFrame:
        from forecast import spark as fs

        forecasts = fs.predict(
            data, model, num_partitions=self.settings.num_partitions, series_per_chunk=self.settings.series_per_chunk
        )
        return fs.keep_requested(forecasts, horizon, quantiles)

    def rows(self, frame: DataFrame) -> int:
        from forecast import spark as fs

        with fs.executor_errors():
            return frame.count()

    def until(self, frame: DataFrame, as_of: pd.Timestamp) -> DataFrame:
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        found = frame.schema["ds"].dataType
        if isinstance(found, T.TimestampNTZType):
            limit = F.lit(as_of.isoformat()).cast(T.TimestampNTZType())
        elif isinstance(found, T.TimestampType):  # an instant: as_of is UTC, whatever the session's time zone
            limit = F.lit(f"{as_of.isoformat()}Z").cast(T.TimestampType())
        else:
            raise ValueError(f"data.until_as_of needs timestamps in ds; found {found.simpleString()}")
        return frame.where(F.col("ds") <= limit)

    def earliest(self, frame: DataFrame) -> pd.Timestamp | None:
        from pyspark.sql import functions as F

        from forecast import spark as fs

        with fs.executor_errors():
            first = frame.agg(F.min("ds")).first()[0]
        return None if first is None else pd.Timestamp(first)

    def score(
        self,
        forecasts: DataFrame,
        actuals: DataFrame,
        *,
        season_length: int = 1,
        before: pd.Timestamp | None = None,
    ) -> RealizedAccuracy:
        from forecast import spark as fs

        series = forecasts.select("unique_id").distinct()
        with fs.executor_errors():
            earlier = forecasts.toPandas()
            history = actuals.join(series, on="unique_id", how="left_semi").select("unique_id", "ds", "y").toPandas()
        return realized_accuracy(earlier, history, season_length=season_length, before=before)
