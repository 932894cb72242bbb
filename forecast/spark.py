"""Batch forecasting and backtesting of very many series on Apache Spark.

A Spark DataFrame in long format (`unique_id`, `ds`, `y` plus covariate columns) is
repartitioned by `unique_id`, so that every series lies whole in one partition, and sorted by
`unique_id, ds` within each partition. `mapInPandas` then runs one Python function per
partition that

1. loads the model once, on the partition's first rows (not per series, not per Arrow batch),
2. streams through the partition's Arrow batches, cutting them into chunks of about
   `series_per_chunk` whole series (a series split across two batches is held back until it is
   complete), so a partition never holds more than one chunk of series in memory,
3. calls the estimator's own `predict` (or `backtest`) on each chunk, the same code path, and
   the same validation, as a local run.

Every series is forecast from its own rows only, so the union of the chunks' forecasts is the local
forecast of the whole frame, row for row. Future-known covariates come as a second DataFrame; both
are unioned with a marker column before the shuffle and split again inside each chunk.

The model (a saved forecaster directory, an MLflow model URI or a fitted forecaster) is resolved
once on the driver: an alias such as `models:/name@champion` is pinned to one version for the
whole job, the forecaster is loaded there (its quantiles give the output schema) and its saved
directory is shipped to the executors with `SparkContext.addFile`. Executors need this package
installed in their Python (`spark.pyspark.python`), nothing else; they never reach MLflow.

Errors raised inside an executor (a `ValidationError` naming a series, a corrupt model) are
carried back in the task's failure message; `executor_errors` re-raises them on the driver
with their own type and one-line message instead of Spark's Python and JVM tracebacks. The
functions of this module that run Spark actions (`write_forecasts`) use it already; wrap your
own actions (`collect`, `toPandas`, `write`) on the DataFrames they return in it.

Example:

```
from forecast import spark as fs

history = fs.read_table(session, path="data/history/")
forecasts = fs.predict(history, "models:/m3-monthly@champion")
fs.write_forecasts(forecasts, "out/forecasts", as_of="2026-11-22T02:00")
```

This module imports `pyspark` (the `spark` extra: `pip install lstm-forecast[spark]`); nothing
else in the package imports it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from pyspark import Accumulator, SparkFiles, StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from sklearn.utils.validation import check_is_fitted

from forecast.base import BaseForecaster
from forecast.loading import load_forecaster
from forecast.metrics import OVERALL, QUANTILE_PREFIX, evaluate, quantile_column
from forecast.run_columns import AS_OF_COLUMN, format_as_of, normalise_as_of
from pipelines.checks import check_integer
from pipelines.columns import ID, TARGET, TIME
from pipelines.validation import ValidationError

DEFAULT_SERIES_PER_CHUNK = 2000
"""Series per `predict`/`backtest` call inside a partition: large enough to batch the network calls,
small enough that a partition's working set stays bounded."""

_PART = "__lstm_forecast_part"  # 0: history rows, 1: future covariate rows (before the shuffle)
_KIND = "__lstm_forecast_kind"  # 0: forecast rows, 1: per-series score rows (in a backtest's output)
_STEP = "__lstm_forecast_step"
_HISTORY, _FUTURE = 0, 1
_FORECAST_ROW, _SCORE_ROW = 0, 1
_INTEGER_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_TIMESTAMP_TYPES = (T.TimestampType, T.TimestampNTZType)
_ERROR_TAG = "lstm-forecast-error:"
_ERROR_PAYLOAD = re.compile(re.escape(_ERROR_TAG) + r"([A-Za-z0-9+/=]+):end")
_STAGING = "lstm-forecast-staging"


class ExecutorError(RuntimeError):
    """An error raised in a Spark executor whose exception type cannot be rebuilt on the driver.

    The message is `"<TypeName>: <original message>"`.
    """


class SparkBacktest(NamedTuple):
    """A backtest computed on Spark: the counterparts of `forecast.backtesting.Backtest`.

    forecasts: `unique_id, ds, cutoff, y, y_hat[, y_hat_qXX...]`, one row per series, origin and step.
    metrics: `unique_id` (text), `cutoff` and one column per score, one row per series and origin,
        plus the row `unique_id == "overall"` (null `cutoff`) holding the mean of each column
        over the other rows, computed by Spark.

    Both are read from one cached computation (the model runs once for the two); call
    `unpersist` when done with them.
    """

    forecasts: DataFrame
    metrics: DataFrame
    cached: DataFrame

    def unpersist(self) -> None:
        """Drop the cached computation the two DataFrames read from."""
        self.cached.unpersist()


@dataclass(frozen=True)
class ShippedModel:
    """A model resolved on the driver and shipped to the executors.

    file: the directory's name under `SparkFiles` (`lstm-forecast-model-<content hash>`).
    forecaster: the driver's copy of the forecaster.
    uri: what the caller gave (a directory, an MLflow URI, or `"<in-memory forecaster>"`).
    version: the registered model version an MLflow URI resolved to (None otherwise).
    """

    file: str
    forecaster: BaseForecaster
    uri: str
    version: str | None = None


# --------------------------------------------------------------------------- public functions


def predict(
    df: DataFrame,
    model: ShippedModel | BaseForecaster | str | os.PathLike,
    future_df: DataFrame | None = None,
    *,
    num_partitions: int | None = None,
    series_per_chunk: int = DEFAULT_SERIES_PER_CHUNK,
    model_loads: Accumulator | None = None,
) -> DataFrame:
    """Forecast every series of a Spark DataFrame with the forecaster's own `predict`.

    Args:
        df: history in long format: `unique_id`, `ds` (timestamps or integers), `y` and the
            model's covariate columns.
        model: a saved forecaster directory, an MLflow model URI (`models:/name@alias`,
            `models:/name/3`, `runs:/<id>/model`), a fitted forecaster, or a `ship_model`
            result (to ship once and forecast several DataFrames).
        future_df: `unique_id`, `ds` and the future covariate columns for the `horizon` steps
            after each series' end (models with future covariates only).
        num_partitions: partitions of the shuffle by `unique_id` (None: `spark.sql.shuffle.partitions`).
        series_per_chunk: series per `predict` call inside a partition (memory bound, not results).
        model_loads: an integer accumulator incremented once per model load (one per non-empty
            partition; a re-executed task adds again).

    Returns:
        A lazy DataFrame `unique_id, ds, y_hat[, y_hat_qXX...]`: `unique_id` of the input's type,
        `ds` a timestamp of the input's kind or a long, forecasts as doubles; the rows of the local
        `predict` on the same data. Run actions on it inside `executor_errors`.
    """
    check_integer("series_per_chunk", series_per_chunk)
    history = _prepared(df, "df")
    time_type = history.schema[TIME].dataType
    future = None if future_df is None else _prepared(future_df, "future_df", time_type)
    shipped = _shipped(df.sparkSession, model)
    if future is not None and not getattr(shipped.forecaster, "future_covariates", ()):
        warnings.warn("future_df is not read: the model uses no future covariates", UserWarning, stacklevel=2)
        future = None
    output = T.StructType(
        [
            T.StructField(ID, history.schema[ID].dataType),
            T.StructField(TIME, time_type),
            *[
                T.StructField(name, T.DoubleType())
                for name in ("y_hat", *forecast_quantile_columns(shipped.forecaster))
            ],
        ]
    )
    task = _Task(
        model_file=shipped.file,
        history=_columns_of(history),
        future=None if future is None else _columns_of(future),
        output=tuple(output.names),
        series_per_chunk=series_per_chunk,
        model_loads=model_loads,
    )
    combined = _partitioned(history, future, num_partitions)
    return combined.mapInPandas(functools.partial(_run_partition, task=task), output)


def backtest(
    df: DataFrame,
    model: ShippedModel | BaseForecaster | str | os.PathLike,
    n_windows: int = 1,
    step: int | None = None,
    *,
    season_length: int | None = None,
    metrics: Sequence[str] | None = None,
    num_partitions: int | None = None,
    series_per_chunk: int = DEFAULT_SERIES_PER_CHUNK,
    model_loads: Accumulator | None = None,
) -> SparkBacktest:
    """Rolling-origin backtest of a fitted model on every series, with the estimator's own `backtest`.

    Each chunk of whole series runs `forecaster.backtest(chunk, n_windows, step, refit=False,
    season_length, metrics)`: origins and scores are per series, so the chunks' forecasts and
    per-series score rows are those of a local backtest of the whole frame. The `overall` row
    (the mean of every score column over the per-series rows, NaN scores left out as pandas does)
    is a Spark aggregation. Refitting inside the backtest is not offered: a global model refitted
    per chunk would not be the model a local backtest fits on all series.

    As locally, origins inside the data the model was fitted on give in-sample scores (the
    executors' `UserWarning` goes to their logs).

    Args:
        df: full history in long format (the actuals of every window come from it).
        model: as for `predict`.
        n_windows, step, season_length, metrics: as for `BaseForecaster.backtest`.
        num_partitions, series_per_chunk, model_loads: as for `predict`.

    Returns:
        `SparkBacktest` of lazy DataFrames; run actions on them inside `executor_errors`.
    """
    check_integer("series_per_chunk", series_per_chunk)
    check_integer("n_windows", n_windows)
    if step is not None:
        check_integer("step", step)
    if season_length is not None:
        check_integer("season_length", season_length)
    history = _prepared(df, "df")
    shipped = _shipped(df.sparkSession, model)
    id_type, time_type = history.schema[ID].dataType, history.schema[TIME].dataType
    quantiles = forecast_quantile_columns(shipped.forecaster)
    scores = score_columns(quantiles, metrics)
    forecast_fields = [
        T.StructField(ID, id_type),
        T.StructField(TIME, time_type),
        T.StructField("cutoff", time_type),
        *[T.StructField(name, T.DoubleType()) for name in (TARGET, "y_hat", *quantiles)],
    ]
    output = T.StructType(
        [
            *forecast_fields,
            *[T.StructField(name, T.DoubleType()) for name in scores],
            T.StructField(_KIND, T.IntegerType()),
        ]
    )
    task = _Task(
        model_file=shipped.file,
        history=_columns_of(history),
        future=None,
        output=tuple(output.names),
        series_per_chunk=series_per_chunk,
        model_loads=model_loads,
        backtest=_BacktestArgs(n_windows=n_windows, step=step, season_length=season_length, metrics=metrics),
    )
    cached = (
        _partitioned(history, None, num_partitions)
        .mapInPandas(functools.partial(_run_partition, task=task), output)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    forecasts = cached.where(F.col(_KIND) == _FORECAST_ROW).select(*[field.name for field in forecast_fields])
    per_series = cached.where(F.col(_KIND) == _SCORE_ROW).select(
        F.col(ID).cast(T.StringType()).alias(ID), "cutoff", *scores
    )
    overall = per_series.agg(*[F.avg(name).alias(name) for name in scores]).select(
        F.lit(OVERALL).alias(ID), F.lit(None).cast(time_type).alias("cutoff"), *scores
    )
    return SparkBacktest(forecasts=forecasts, metrics=per_series.unionByName(overall), cached=cached)


def ship_model(spark: SparkSession, model: BaseForecaster | str | os.PathLike) -> ShippedModel:
    """Resolve `model` on the driver and ship its saved directory to the executors (`addFile`).

    A directory is shipped as it is; an MLflow URI is resolved (an alias pinned to its current
    version) with `forecast.model_uri.resolve_model`; a fitted forecaster is saved. The
    shipped directory is named after a hash of its content, so the same model is added once per
    Spark application and two models never share a name.
    """
    if isinstance(model, BaseForecaster):
        check_is_fitted(model)
        forecaster, uri, version, source = model, "<in-memory forecaster>", None, None
    else:
        from forecast.model_uri import resolve_model  # MLflow on the driver only; executors never import it

        uri = os.fspath(model)
        resolved = resolve_model(uri)
        forecaster, version = resolved.forecaster, resolved.version
        source = None if uri.startswith(("models:/", "runs:/")) else Path(uri)
    staging = Path(SparkFiles.getRootDirectory()) / _STAGING
    staging.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=staging))
    try:
        directory = scratch / "model"
        if source is None:
            forecaster.save(directory)
        else:
            shutil.copytree(source, directory)
        name = f"lstm-forecast-model-{_content_hash(directory)}"
        shipped = staging / name
        try:
            directory.rename(shipped)
        except OSError:
            if not shipped.is_dir():  # else: the same content was staged before (by another thread)
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    context = spark.sparkContext
    if not any(added.rstrip("/").endswith(f"/{name}") for added in context.listFiles):
        context.addFile(str(shipped), recursive=True)
    return ShippedModel(file=name, forecaster=forecaster, uri=uri, version=version)


@contextmanager
def executor_errors() -> Iterator[None]:
    """Re-raise an error from a Spark executor as the original exception, with its one-line message.

    Spark reports a failed task as a `PythonException` (or a job abort) whose text holds the Python
    traceback; the executors of this module put the original exception's type and arguments in
    that text. Inside this block such a failure is raised again as that exception (a
    `ValidationError` stays a `ValidationError` with the message a local run gives), or as
    `ExecutorError` when the type cannot be rebuilt. Other errors pass through unchanged.
    """
    try:
        yield
    except Exception as error:
        original = _original_error(str(error))
        if original is None:
            raise
        raise original from None


def spark_session(
    master: str | None = None, conf: Mapping[str, str] | None = None, app_name: str = "lstm-forecast"
) -> SparkSession:
    """The active SparkSession, or a new one with `master` and `conf` (e.g. a job spec's Spark settings).

    `master` None leaves it to `spark-submit` or `spark-defaults.conf`; `conf` entries go to the
    builder (settings read at start-up, such as `spark.driver.memory`, apply only to a new session).
    With a `local` master the Python workers are this interpreter unless `PYSPARK_PYTHON` says
    otherwise, so they import the same installed package; on a cluster, `PYSPARK_PYTHON` (or
    `spark.pyspark.python` with `spark-submit`) must name a Python with lstm-forecast installed.
    """
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
        if master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in (conf or {}).items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()


def read_table(
    spark: SparkSession,
    *,
    path: str | os.PathLike | None = None,
    table: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> DataFrame:
    """Read long-format history with Spark: a Parquet file or directory, or a table of the session's catalog.

    Args:
        spark: the session.
        path: a Parquet file or directory (partitioned directories included).
        table: a table or view name (`db.table`); give exactly one of `path` and `table`.
        columns: source column names of `unique_id`, `ds` and `y`, as the job spec's
            `data.columns` mapping (`{"unique_id": "series", "ds": "date", "y": "value"}`).

    Returns:
        A lazy DataFrame with the columns renamed to `unique_id, ds, y` (other columns kept),
        `unique_id` cast to text, as the local job reads series ids, and a `ds` of dates cast to
        timestamps (midnight, no time zone).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValidationError: a mapped column is missing (the message lists the columns found).
    """
    if (path is None) == (table is None):
        raise ValueError("give exactly one of path (a Parquet file or directory) or table (a table name)")
    from pyspark.errors import AnalysisException

    where = f"Parquet data {path}" if path is not None else f"table {table}"
    try:
        frame = spark.read.parquet(os.fspath(path)) if path is not None else spark.table(table)
    except AnalysisException as error:
        if path is not None and "PATH_NOT_FOUND" in str(error):
            raise FileNotFoundError(f"no Parquet data at {path}") from None
        if path is not None and "TIMESTAMP(NANOS" in str(error):
            raise ValidationError(
                f"Parquet data {path} holds nanosecond timestamps (INT64 TIMESTAMP(NANOS)), which Spark cannot read; "
                "write it with microseconds, e.g. pandas DataFrame.to_parquet(path, coerce_timestamps='us')"
            ) from None
        raise
    mapping = {ID: ID, TIME: TIME, TARGET: TARGET, **dict(columns or {})}
    unknown = sorted(set(mapping) - {ID, TIME, TARGET})
    if unknown:
        raise ValueError(f"columns maps only {[ID, TIME, TARGET]} to source columns; got {unknown}")
    missing = [source for source in mapping.values() if source not in frame.columns]
    if missing:
        raise ValidationError(f"{where} lacks column(s) {missing}; found {frame.columns}")
    renamed = frame.withColumnsRenamed({source: target for target, source in mapping.items() if source != target})
    renamed = renamed.withColumn(ID, F.col(ID).cast(T.StringType()))
    if isinstance(renamed.schema[TIME].dataType, T.DateType):
        renamed = renamed.withColumn(TIME, F.col(TIME).cast(T.TimestampNTZType()))
    return renamed


def write_forecasts(df: DataFrame, path: str | os.PathLike, as_of: pd.Timestamp | str) -> str:
    """Write one run's forecasts under `path`, replacing only the partition of this `as_of`.

    The rows go to the Parquet dataset `path` partitioned by the text column `as_of`
    (`as_of=20261122T020000`, the job's `{as_of}` text, UTC) with Spark's dynamic partition
    overwrite: running the same `as_of` again replaces its rows, every other `as_of` stays.
    Spark writes the new files to a staging directory and moves them into place when the job
    commits, so a failed run leaves the partition as it was. Executor errors come back through
    `executor_errors`. An empty `df` writes no partition (and leaves an earlier one of the
    same `as_of`): check the input for rows first.

    Returns:
        The partition's directory.
    """
    if AS_OF_COLUMN in df.columns:
        raise ValueError(f"df already has an {AS_OF_COLUMN!r} column; write_forecasts adds it from as_of")
    key = format_as_of(normalise_as_of(as_of))
    with executor_errors():
        (
            df.withColumn(AS_OF_COLUMN, F.lit(key))
            .write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .partitionBy(AS_OF_COLUMN)
            .parquet(os.fspath(path))
        )
    return f"{os.fspath(path).rstrip('/')}/{AS_OF_COLUMN}={key}"


def keep_requested(df: DataFrame, horizon: int, quantiles: Sequence[float] | None = None) -> DataFrame:
    """Forecasts cut to the first `horizon` steps of every series and to the `quantiles` asked for.

    The Spark side of the job's horizon and quantiles (a model may forecast more than a job asks
    for): a row's step is its rank by `ds` within its series; the `y_hat_qXX` columns of levels
    not in `quantiles` are dropped (`None`: all of them, as a job spec without quantiles).
    """
    check_integer("horizon", horizon)
    from pyspark.sql import Window

    wanted = {quantile_column(float(level)) for level in quantiles or ()}
    unwanted = [name for name in df.columns if name.startswith(QUANTILE_PREFIX) and name not in wanted]
    step = F.row_number().over(Window.partitionBy(ID).orderBy(TIME))
    return df.withColumn(_STEP, step).where(F.col(_STEP) <= horizon).drop(_STEP, *unwanted)


def forecast_quantile_columns(forecaster: BaseForecaster) -> list[str]:
    """The quantile columns `forecaster.predict` returns, in its order (`y_hat_q10`, `y_hat_q90`, ...)."""
    levels = getattr(forecaster, "quantiles", None) or ()
    return [quantile_column(level) for level in sorted(map(float, levels))]


def score_columns(quantile_columns: Sequence[str], metrics: Sequence[str] | None) -> list[str]:
    """The score columns `forecast.metrics.evaluate` gives a backtest with these quantile columns.

    Read off `evaluate` itself, on one made-up forecast with a history, so the Spark schema follows
    its naming; unknown metric names raise its error here, on the driver.
    """
    history = pd.DataFrame({ID: "s", TIME: np.arange(3), TARGET: [1.0, 2.0, 3.0]})
    forecasts = pd.DataFrame(
        {ID: ["s"], TIME: [3], "cutoff": [2], TARGET: [1.0], "y_hat": [1.0], **{c: [1.0] for c in quantile_columns}}
    )
    table = evaluate(forecasts, train_df=history, season_length=1, metrics=metrics)
    return [column for column in table.columns if column not in (ID, "cutoff")]


# --------------------------------------------------------------------------- driver-side helpers


def _shipped(spark: SparkSession, model: ShippedModel | BaseForecaster | str | os.PathLike) -> ShippedModel:
    return model if isinstance(model, ShippedModel) else ship_model(spark, model)


def _prepared(df: DataFrame, where: str, time_type: T.DataType | None = None) -> DataFrame:
    """`df` with `ds` as a timestamp or a long; errors for what Spark needs before any task runs."""
    missing = [column for column in (ID, TIME) if column not in df.columns]
    if missing:
        raise ValidationError(f"{where}: missing column(s) {missing}; found {df.columns}")
    for reserved in (_PART, _KIND):
        if reserved in df.columns:
            raise ValidationError(f"{where}: column {reserved!r} is reserved by forecast.spark")
    found = df.schema[TIME].dataType
    if isinstance(found, _INTEGER_TYPES):
        df = df.withColumn(TIME, F.col(TIME).cast(T.LongType()))
    elif not isinstance(found, _TIMESTAMP_TYPES):
        raise ValidationError(
            f"{where}: column {TIME!r} holds {found.simpleString()}; expected timestamps or integers "
            f"(cast dates with F.col('{TIME}').cast('timestamp'))"
        )
    decimals = [f.name for f in df.schema.fields if isinstance(f.dataType, T.DecimalType) and f.name != ID]
    for column in decimals:  # a warehouse's decimal(p, s) values arrive in pandas as Python Decimals
        df = df.withColumn(column, F.col(column).cast(T.DoubleType()))
    if time_type is not None and df.schema[TIME].dataType != time_type:
        raise ValidationError(
            f"{where}: column {TIME!r} holds {df.schema[TIME].dataType.simpleString()}, but the history's "
            f"{TIME!r} holds {time_type.simpleString()}"
        )
    return df


def _partitioned(history: DataFrame, future: DataFrame | None, num_partitions: int | None = None) -> DataFrame:
    """History (and future) rows, every series whole in one partition, sorted by series, part and time."""
    combined = history.withColumn(_PART, F.lit(_HISTORY))
    if future is not None:
        combined = combined.unionByName(future.withColumn(_PART, F.lit(_FUTURE)), allowMissingColumns=True)
    if num_partitions is None:
        combined = combined.repartition(ID)
    else:
        check_integer("num_partitions", num_partitions)
        combined = combined.repartition(num_partitions, ID)
    return combined.sortWithinPartitions(ID, _PART, TIME)


def _columns_of(df: DataFrame) -> _Columns:
    return _Columns(
        names=tuple(df.columns),
        integers=tuple(f.name for f in df.schema.fields if isinstance(f.dataType, _INTEGER_TYPES)),
        booleans=tuple(f.name for f in df.schema.fields if isinstance(f.dataType, T.BooleanType)),
    )


def _content_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(directory)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


def _original_error(text: str) -> Exception | None:
    """The exception an executor of this module encoded in `text` (the last one), or None."""
    payloads = _ERROR_PAYLOAD.findall(text)
    if not payloads:
        return None
    try:
        payload = json.loads(base64.b64decode(payloads[-1]))
        module, qualname, args, message = payload["module"], payload["type"], payload["args"], payload["message"]
    except (ValueError, KeyError, TypeError):
        return None
    # Only exception classes of modules the driver has already imported: nothing is imported or run.
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if isinstance(found, type) and issubclass(found, Exception):
        try:
            rebuilt = found(*args)
        except Exception:
            rebuilt = None
        if rebuilt is not None and str(rebuilt) == message:
            return rebuilt
    return ExecutorError(f"{qualname.rsplit('.', 1)[-1]}: {message}")


# --------------------------------------------------------------------------- executor side


@dataclass(frozen=True)
class _Columns:
    """A frame's columns and which of them Spark holds as integers or booleans."""

    names: tuple[str, ...]
    integers: tuple[str, ...]
    booleans: tuple[str, ...]


@dataclass(frozen=True)
class _BacktestArgs:
    n_windows: int
    step: int | None
    season_length: int | None
    metrics: Sequence[str] | None


@dataclass(frozen=True)
class _Task:
    """What the function run on every partition needs (pickled to the executors)."""

    model_file: str
    history: _Columns
    future: _Columns | None
    output: tuple[str, ...]
    series_per_chunk: int
    model_loads: Accumulator | None = None
    backtest: _BacktestArgs | None = None


def _run_partition(batches: Iterator[pd.DataFrame], task: _Task) -> Iterator[pd.DataFrame]:
    """One partition: load the model on the first rows, then forecast it chunk by chunk."""
    forecaster = None
    try:
        for chunk in _series_chunks(batches, task.series_per_chunk):
            if forecaster is None:
                forecaster = load_forecaster(SparkFiles.get(task.model_file))
                if "tracking" in forecaster.get_params():
                    forecaster.set_params(tracking=False)  # executors never open MLflow runs
                if task.model_loads is not None:
                    task.model_loads.add(1)
            history = _part(chunk, _HISTORY, task.history)
            if task.backtest is not None:
                yield _backtest_rows(forecaster, history, task)
            else:
                future = None if task.future is None else _part(chunk, _FUTURE, task.future)
                yield _conformed(forecaster.predict(history, future), task.output)
    except Exception as error:
        raise _portable(error) from None


def _series_chunks(batches: Iterator[pd.DataFrame], series_per_chunk: int) -> Iterator[pd.DataFrame]:
    """Frames of whole series, about `series_per_chunk` each, from batches sorted by series.

    The last series of the rows gathered so far may continue in the next batch, so it is held back
    until a chunk is cut; at the end of the partition everything left is one chunk.
    """
    pending: list[pd.DataFrame] = []
    series = 0
    for batch in batches:
        if batch.empty:
            continue
        pending.append(batch)
        series += batch[ID].nunique(dropna=False)
        if series <= series_per_chunk:
            continue
        rows = pd.concat(pending, ignore_index=True)
        ids = rows[ID].to_numpy()
        others = np.flatnonzero(ids != ids[-1])
        cut = int(others[-1]) + 1 if others.size else 0
        if cut:
            yield rows.iloc[:cut].reset_index(drop=True)
            rows = rows.iloc[cut:].reset_index(drop=True)
        pending, series = [rows], 1
    if pending:
        yield pd.concat(pending, ignore_index=True)


def _part(chunk: pd.DataFrame, part: int, columns: _Columns) -> pd.DataFrame:
    """The history or future rows of a chunk, with the columns and dtypes of their own DataFrame.

    After the union, a column missing from one side is null there, and Arrow hands an integer
    (boolean) column with nulls over as floats (objects); without nulls they are integers
    (booleans) again, as `toPandas` would give them.
    """
    rows = chunk.loc[chunk[_PART].to_numpy() == part, list(columns.names)].reset_index(drop=True)
    for name in columns.integers:
        if rows[name].notna().all():
            rows[name] = rows[name].astype(np.int64)
    for name in columns.booleans:
        if rows[name].notna().all():
            rows[name] = rows[name].astype(bool)
    return rows


def _conformed(frame: pd.DataFrame, output: Sequence[str]) -> pd.DataFrame:
    missing = [name for name in output if name not in frame.columns]
    if missing:
        raise ValueError(
            f"the forecaster returned columns {list(frame.columns)}; the Spark schema expects {list(output)} "
            f"(missing {missing})"
        )
    return frame[list(output)]


def _backtest_rows(forecaster: BaseForecaster, history: pd.DataFrame, task: _Task) -> pd.DataFrame:
    """A chunk's backtest forecasts and its per-series score rows (without `overall`) in one frame."""
    args = task.backtest
    result = forecaster.backtest(
        history,
        n_windows=args.n_windows,
        step=args.step,
        refit=False,
        season_length=args.season_length,
        metrics=args.metrics,
    )
    score_names = [name for name in task.output if name in result.metrics.columns and name not in (ID, "cutoff")]
    forecast_names = [name for name in task.output if name not in (*score_names, _KIND)]
    forecasts = _conformed(result.forecasts, forecast_names).assign(**{_KIND: _FORECAST_ROW})
    # evaluate() appends the overall row last; the overall row of the whole frame is computed by Spark.
    scores = result.metrics.iloc[:-1]
    scores = scores.assign(**{TIME: scores["cutoff"].to_numpy(), _KIND: _SCORE_ROW})
    combined = pd.concat([forecasts, scores], ignore_index=True)
    return combined.reindex(columns=list(task.output))


def _portable(error: Exception) -> RuntimeError:
    """A RuntimeError whose message carries `error`'s type and arguments for `executor_errors`."""
    kind = type(error)
    simple = all(isinstance(arg, (str, int, float, bool, type(None))) for arg in error.args)
    payload = {
        "module": kind.__module__,
        "type": kind.__qualname__,
        "args": list(error.args) if simple else [str(error)],
        "message": str(error),
    }
    encoded = base64.b64encode(json.dumps(payload).encode()).decode("ascii")
    return RuntimeError(f"{kind.__name__}: {error} [{_ERROR_TAG}{encoded}:end]")
