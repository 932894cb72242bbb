"""`output.path` on engine `spark`: a Parquet dataset partitioned by `as_of`.

Each run writes the partition `as_of=<its as_of text>` with Spark's dynamic partition overwrite
(`forecast.spark.write_forecasts`): a rerun of the same `as_of` replaces its rows, every
other partition stays, and a failed run leaves the partition as it was.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecast.jobs.engine import RunLabel, Written
from forecast.jobs.references import relative_to_spec
from forecast.jobs.registry import Sink, register_sink
from forecast.run_columns import AS_OF_COLUMN, JOB_COLUMN, MODEL_VERSION_COLUMN

_SPARK_AS_OF_FORMAT = "yyyyMMdd'T'HHmmss"
"""`forecast.run_columns.AS_OF_FORMAT` in Spark's datetime pattern language."""


@register_sink
class ParquetDatasetSink(Sink):
    """One partition per run under a Parquet dataset directory."""

    key = "path"
    spec = str
    engine = "spark"
    description = "a Parquet dataset directory partitioned by as_of"

    def check(self, value: str) -> None:
        if "{as_of}" in value:
            raise ValueError("with engine: spark, output.path is a dataset partitioned by as_of: drop '{as_of}'")

    def relative_to(self, value: str, directory: Path) -> str:
        return relative_to_spec(value, directory)

    def paths(self, value: str, as_of: pd.Timestamp | None) -> list[str]:
        return [value]

    def write(self, engine, forecasts, value: str, run: RunLabel) -> Written:
        from pyspark.sql import functions as F

        from forecast import spark as fs

        tagged = forecasts.withColumns(
            {JOB_COLUMN: F.lit(run.job), MODEL_VERSION_COLUMN: F.lit(run.model_version or "")}
        )
        partition = fs.write_forecasts(tagged, value, run.as_of)
        return Written(location=partition, rows=engine.session.read.parquet(partition).count())

    def read_forecasts(self, engine, value: str, job: str):
        from pyspark.errors import AnalysisException
        from pyspark.sql import functions as F

        try:
            stored = engine.session.read.parquet(value)
        except AnalysisException as error:
            if "PATH_NOT_FOUND" not in str(error):
                raise
            schema = (
                f"unique_id string, ds timestamp_ntz, y_hat double, {JOB_COLUMN} string, {AS_OF_COLUMN} timestamp_ntz"
            )
            return engine.session.createDataFrame([], schema)
        as_of = F.to_timestamp_ntz(F.col(AS_OF_COLUMN).cast("string"), F.lit(_SPARK_AS_OF_FORMAT))
        return stored.where(F.col(JOB_COLUMN) == job).withColumn(AS_OF_COLUMN, as_of)
