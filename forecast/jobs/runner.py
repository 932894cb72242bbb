"""One run of a forecast job: read, (re)train if due, forecast, write, record.

The order matters for what a failure leaves behind: everything that can fail
(tracking when required, reading, validating, loading the model, retraining,
forecasting) happens before the single atomic write, so a failed run leaves
the previous outputs exactly as they were.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from forecast.jobs.io import AS_OF_COLUMN, JOB_COLUMN, MODEL_VERSION_COLUMN, read_source, write_forecasts
from forecast.jobs.models import ResolvedModel, resolve_model, retrain_due, retrain_model
from forecast.jobs.spec import JobSpec, SparkSpec
from forecast.jobs.stale_runs import PROCESS_TAG, mark_stale_runs, process_identity
from forecast.redaction import redact
from forecast.tracking import tracking_run

logger = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """A job run failed; its previous outputs are untouched."""


@dataclass(frozen=True)
class JobResult:
    job: str
    as_of: pd.Timestamp
    model_uri: str
    model_version: str | None
    rows_read: int
    rows_written: int
    output: str
    duration_s: float
    retrained: bool
    run_id: str | None


def redacted_spec(spec: JobSpec) -> dict:
    """The spec as flat parameters with credentials in URLs masked (userinfo passwords, secret query keys)."""
    params = {}

    def flatten(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                flatten(f"{prefix}.{key}" if prefix else key, item)
        else:
            params[prefix] = redact(value) if isinstance(value, str) else value

    flatten("", spec.model_dump(mode="json"))
    return params


def normalise_as_of(as_of: str | pd.Timestamp | None) -> pd.Timestamp:
    """``as_of`` as a naive UTC timestamp to the second; ``None`` means now."""
    stamp = pd.Timestamp.now(tz="UTC") if as_of is None else pd.Timestamp(as_of)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.floor("s")


def run_job(spec: JobSpec, as_of: str | pd.Timestamp | None = None) -> JobResult:
    """Perform one run of the job for ``as_of``; raise :class:`JobFailed` on any failure.

    Running the same ``as_of`` twice replaces that run's rows (idempotent).
    """
    as_of = normalise_as_of(as_of)
    started = time.monotonic()
    on_error = "raise" if spec.tracking.required else "warn"
    try:
        # The process tag goes in with the run, so a run killed at any point can be told stale later.
        tags = {"job": spec.name, "as_of": as_of.isoformat(), PROCESS_TAG: process_identity()}
        with tracking_run(
            True, spec.tracking.experiment, f"{spec.name}@{as_of.isoformat()}", on_error, tags
        ) as tracker:
            _close_stale_runs(tracker, spec.name)
            tracker.log_params({**redacted_spec(spec), "as_of": as_of.isoformat()})
            result = _run(spec, as_of, started)
            tracker.log_params({"model_version": result.model_version or "", "resolved_model_uri": result.model_uri})
            tracker.log_metrics(
                {"rows_read": result.rows_read, "rows_written": result.rows_written, "duration_s": result.duration_s}
            )
            tracker.set_tags({"status": "success"})
            return replace(result, run_id=tracker.run_id)
    except JobFailed:
        raise
    except Exception as error:
        raise JobFailed(f"job {spec.name} (as_of {as_of.isoformat()}) failed: {redact(str(error))}") from error


def _close_stale_runs(tracker, job: str) -> None:
    """Mark KILLED the job's runs left RUNNING by killed processes (a courtesy: never fails the run)."""
    if not tracker.active:
        return
    from mlflow import MlflowClient

    try:
        mark_stale_runs(MlflowClient(tracking_uri=tracker.tracking_uri), tracker.run_id, job)
    except Exception as error:
        logger.warning("job %s: could not look for runs left RUNNING by killed processes (%s)", job, error)


def _run(spec: JobSpec, as_of: pd.Timestamp, started: float) -> JobResult:
    if spec.engine == "spark":
        return _run_on_spark(spec, as_of, started)
    data = read_source(spec.data)
    model: ResolvedModel = resolve_model(spec.model.uri)
    retrained = retrain_due(spec, model, data)
    if retrained:
        model = retrain_model(spec, model, data)
    forecaster = model.forecaster
    _check_model_covers(spec, forecaster, model.uri)
    forecasts = forecaster.predict(data)
    forecasts = _keep_requested(forecasts, spec, forecaster)
    forecasts[JOB_COLUMN] = spec.name
    forecasts[AS_OF_COLUMN] = as_of
    forecasts[MODEL_VERSION_COLUMN] = model.version or ""
    output = write_forecasts(forecasts, spec.output, spec.name, as_of)
    logger.info("job %s: wrote %d rows to %s", spec.name, len(forecasts), output)
    return JobResult(
        job=spec.name,
        as_of=as_of,
        model_uri=model.uri,
        model_version=model.version,
        rows_read=len(data),
        rows_written=len(forecasts),
        output=output,
        duration_s=time.monotonic() - started,
        retrained=retrained,
        run_id=None,
    )


def _run_on_spark(spec: JobSpec, as_of: pd.Timestamp, started: float) -> JobResult:
    """The same run on Spark: read with Spark, forecast per partition, write this as_of's partition."""
    from pyspark.sql import functions as F

    from forecast import spark as fs
    from pipelines.validation import ValidationError

    settings = spec.spark or SparkSpec()
    session = fs.spark_session(settings.master, settings.conf)
    data = fs.read_table(session, path=spec.data.path, table=spec.data.table, columns=spec.data.columns.model_dump())
    if data.isEmpty():
        raise ValidationError("Expected at least one row, found an empty frame.")
    shipped = fs.ship_model(session, spec.model.uri)
    _check_model_covers(spec, shipped.forecaster, shipped.uri)
    forecasts = fs.predict(
        data, shipped, num_partitions=settings.num_partitions, series_per_chunk=settings.series_per_chunk
    )
    forecasts = fs.keep_requested(forecasts, spec.horizon, spec.quantiles).withColumns(
        {JOB_COLUMN: F.lit(spec.name), MODEL_VERSION_COLUMN: F.lit(shipped.version or "")}
    )
    output = fs.write_forecasts(forecasts, spec.output.path, as_of)
    rows_written = session.read.parquet(output).count()
    logger.info("job %s: wrote %d rows to %s with Spark", spec.name, rows_written, output)
    return JobResult(
        job=spec.name,
        as_of=as_of,
        model_uri=shipped.uri,
        model_version=shipped.version,
        rows_read=data.count(),
        rows_written=rows_written,
        output=output,
        duration_s=time.monotonic() - started,
        retrained=False,
        run_id=None,
    )


def _check_model_covers(spec: JobSpec, forecaster, uri: str) -> None:
    """The model must forecast at least the spec's horizon and every quantile it asks for."""
    if spec.horizon > forecaster.horizon:
        raise ValueError(
            f"the spec asks for horizon {spec.horizon} but model {uri} forecasts {forecaster.horizon} steps"
        )
    trained = getattr(forecaster, "quantiles", None) or ()
    missing = sorted(set(spec.quantiles or ()) - set(trained))
    if missing:
        raise ValueError(f"the spec asks for quantiles {missing} that model {uri} was not trained for")


def _keep_requested(forecasts: pd.DataFrame, spec: JobSpec, forecaster) -> pd.DataFrame:
    """Cut the forecasts to the spec's horizon and quantiles."""
    from forecast.metrics import quantile_column

    step = forecasts.groupby("unique_id", sort=False).cumcount()
    forecasts = forecasts.loc[step < spec.horizon]
    unwanted = [quantile_column(q) for q in (forecaster.quantiles or ()) if q not in (spec.quantiles or ())]
    return forecasts.drop(columns=unwanted).reset_index(drop=True)


def job_state_path(spec_path: str | Path, spec: JobSpec) -> Path:
    """Where the scheduler remembers the last fire time it ran: beside the spec."""
    spec_path = Path(spec_path)
    return spec_path.parent / f".{spec.name}.schedule-state.json"
