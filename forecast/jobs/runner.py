"""One run of a forecast job, on any engine: read, score earlier runs, (re)train if due, forecast, write, record.

Every run first scores the forecasts of the job's earlier runs (read back from the output sink)
against the actuals in the data it has just read (`forecast.jobs.realized`), logs what changed to
its MLflow run (`forecast.jobs.accuracy`), and gives the retrain policy those scores
(`forecast.jobs.models`). Nothing is kept between runs in memory: a run after a restart, or from
the scheduler, finds the same state in the sinks and in MLflow.

The order matters for what a failure leaves behind: everything that can fail (substituting the
spec's `${NAME}` references, checking `output.root`, tracking when required, reading, validating,
loading the model, checking that it covers the spec's horizon and quantiles and reads no future
covariates, scoring, retraining, forecasting) happens before the writes, and each write is atomic: first the accuracy
rows (`accuracy:`), then the forecasts. When the forecasts write fails or is stopped, the accuracy
sink is put back as it was (`forecast.jobs.accuracy.accuracy_written`), so a run that fails leaves
every sink as it was, and rerunning its `as_of` replaces whatever it wrote. A retrain registers its
model version (and may move an alias) before the writes, since the forecasts carry that version;
when the run then fails, the retrain is withdrawn (`forecast.jobs.models.withdraw`: the alias back,
the version deleted), so a failed run leaves no version behind. A run killed outright cannot withdraw
it: the next run, before it loads the model, tags such a version `job.status = abandoned`, moves back
an alias the dead run moved to it (`forecast.jobs.models.abandon_orphans`) and says so in its log.
The engine (`forecast.jobs.engine`) and the registered source and sinks do the work; this module only
orders it and records it in MLflow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from forecast.jobs import registry
from forecast.jobs.accuracy import accuracy_written, as_of_step, log_realized, runs_with_news
from forecast.jobs.backtests import model_season_length
from forecast.jobs.engine import Engine, JobModel, RunLabel
from forecast.jobs.errors import JobFailed, describe
from forecast.jobs.spec import JobSpec
from forecast.jobs.stale_runs import PROCESS_TAG, mark_stale_runs, process_identity
from forecast.redaction import redact
from forecast.run_columns import normalise_as_of
from forecast.tracking import Tracker, tracking_run
from pipelines.validation import ValidationError

logger = logging.getLogger(__name__)


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
    runs_scored: int = 0
    """Earlier runs whose realized accuracy changed and was recorded by this run."""
    promotion: str | None = None
    """`"accepted"` or `"refused"` when a retrained model was compared with the champion, else None."""
    registered: str | None = None
    """`models:/NAME/VERSION` of the version this run's retrain registered (the challenger), else None."""


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


def run_job(
    spec: JobSpec, as_of: str | pd.Timestamp | None = None, on_written: Callable[[], None] | None = None
) -> JobResult:
    """Perform one run of the job for `as_of`; raise `JobFailed` (one line) on any failure.

    Running the same `as_of` twice replaces that run's rows (idempotent). The run works on the spec
    with its `${NAME}` references substituted; the MLflow parameters show them as written. `on_written` is called
    once the outputs are written, before the run is recorded (the command line then stops unwinding on SIGTERM).
    """
    as_of = normalise_as_of(as_of)
    started = time.monotonic()
    try:
        resolved = spec.expanded()
        resolved.check_output_root(as_of)
        on_error = "raise" if resolved.tracking.required else "warn"
        # The process tag goes in with the run, so a run killed at any point can be told stale later.
        tags = {"job": spec.name, "as_of": as_of.isoformat(), PROCESS_TAG: process_identity()}
        with tracking_run(
            True, resolved.tracking.experiment, f"{spec.name}@{as_of.isoformat()}", on_error, tags
        ) as tracker:
            _close_stale_runs(tracker, spec.name)
            tracker.log_params({**redacted_spec(spec), "as_of": as_of.isoformat()})
            try:
                result = _run(resolved, as_of, started, tracker)
            except BaseException as error:  # the run says why it failed or stopped, not only stderr
                _record_end(tracker, error)
                raise
            if on_written is not None:
                on_written()
            tracker.log_params({"model_version": result.model_version or "", "resolved_model_uri": result.model_uri})
            tracker.log_metrics(
                {
                    "rows_read": result.rows_read,
                    "rows_written": result.rows_written,
                    "duration_s": result.duration_s,
                    "runs_scored": result.runs_scored,
                }
            )
            tracker.set_tags({"status": "success"})
            if result.registered is not None:
                from forecast.jobs.models import succeeded

                succeeded(*result.registered.removeprefix("models:/").rsplit("/", 1))
            return replace(result, run_id=tracker.run_id)
    except JobFailed:
        raise
    except Exception as error:
        raise JobFailed(f"job {spec.name} (as_of {as_of.isoformat()}) failed: {describe(error)}") from error


def engine_for(spec: JobSpec) -> Engine:
    """The engine the spec names, configured by it."""
    return registry.engine(spec.engine).from_spec(spec)


def _record_end(tracker: Tracker, error: BaseException) -> None:
    """Tag a run that failed (`status` failed, `error` its one-line message) or was stopped (`status` stopped)."""
    stopped = isinstance(error, KeyboardInterrupt)
    tags = {"status": "stopped"} if stopped else {"status": "failed", "error": describe(error)[:MAX_ERROR_TAG]}
    try:
        tracker.set_tags(tags)
    except Exception:  # a store that fails here must not hide the run's own error
        logger.warning("job run %s: could not record why it ended", tracker.run_id)


MAX_ERROR_TAG = 5000
"""Characters of an error message kept in a failed run's `error` tag (MLflow's limit on a tag value is 8,000)."""


def _close_stale_runs(tracker, job: str) -> None:
    """Mark KILLED the job's runs left RUNNING by killed processes (a courtesy: never fails the run)."""
    if not tracker.active:
        return
    from mlflow import MlflowClient

    try:
        mark_stale_runs(MlflowClient(tracking_uri=tracker.tracking_uri), tracker.run_id, job)
    except Exception as error:
        logger.warning("job %s: could not look for runs left RUNNING by killed processes (%s)", job, error)


def _run(spec: JobSpec, as_of: pd.Timestamp, started: float, tracker: Tracker) -> JobResult:
    from forecast.jobs.models import retrain_check, withdraw

    engine = engine_for(spec)
    data = engine.read(spec.data, as_of)
    rows_read = engine.rows(data)
    if rows_read == 0:
        raise ValidationError("Expected at least one row, found an empty frame.")
    if engine.capabilities().retrain and spec.model.retrain.policy != "never":
        _abandon_orphans(spec, tracker)  # before loading: an alias may point at a killed run's version
    model = engine.load_model(spec.model.uri)
    check_model_covers(spec, model)  # before scoring or fitting anything: a retrained model has the same settings
    season_length = spec.accuracy.season_length or model_season_length(model.forecaster)
    earlier = engine.read_forecasts(spec.output, spec.name)
    accuracy = engine.score(earlier, data, season_length=season_length, before=as_of)
    scored = runs_with_news(accuracy)
    log_realized(tracker, accuracy, scored)
    logger.info("job %s: scored %d earlier run(s) with new actuals", spec.name, len(scored))
    retrained = promotion = None
    if engine.capabilities().retrain:
        check = retrain_check(spec, model, data, accuracy, as_of)
        tracker.log_metrics(check.metrics, step=as_of_step(as_of))
        tracker.set_tags({"retrain": check.reason})
        logger.info("job %s: %s%s", spec.name, check.reason, "; retraining" if check.due else "")
        if check.due:
            retrained = engine.retrain(spec, model, data, as_of)
            model = retrained.model
            promotion = retrained.decision.outcome if retrained.decision else None
    try:
        forecasts = engine.forecast(data, model, spec.horizon, spec.quantiles)
        with accuracy_written(engine, spec.accuracy, accuracy.table(scored), spec.name, as_of) as stored:
            if stored is not None:
                logger.info("job %s: wrote %d accuracy rows to %s", spec.name, stored.rows, stored.location)
            label = RunLabel(job=spec.name, as_of=as_of, model_version=model.version)
            written = engine.write(forecasts, spec.output, label)
    except BaseException:
        if retrained is not None:
            withdraw(retrained)
        raise
    logger.info("job %s: wrote %d rows to %s (engine %s)", spec.name, written.rows, written.location, engine.name)
    return JobResult(
        job=spec.name,
        as_of=as_of,
        model_uri=model.uri,
        model_version=model.version,
        rows_read=rows_read,
        rows_written=written.rows,
        output=written.location,
        duration_s=time.monotonic() - started,
        retrained=retrained is not None,
        run_id=None,
        runs_scored=len(scored),
        promotion=promotion,
        registered=None if retrained is None else f"models:/{retrained.name}/{retrained.version}",
    )


def _abandon_orphans(spec: JobSpec, tracker: Tracker) -> None:
    """Settle the versions that killed runs of the job registered (`forecast.jobs.models.abandon_orphans`)."""
    from forecast.jobs.models import abandon_orphans

    try:
        abandoned = abandon_orphans(spec, tracker.run_id)
    except Exception as error:  # a courtesy, like closing stale runs: the run goes on
        logger.warning("job %s: could not look for versions left by killed runs (%s)", spec.name, describe(error))
        return
    for line in abandoned:
        logger.warning("job %s: %s", spec.name, line)
    if abandoned:
        tracker.set_tags({"abandoned_versions": "; ".join(abandoned)[:MAX_ERROR_TAG]})


def check_model_covers(spec: JobSpec, model: JobModel) -> None:
    """The model must forecast at least the spec's horizon and every quantile it asks for, from the data source
    alone: a model that reads future covariates needs their values over the horizon, which a job has no source for."""
    forecaster = model.forecaster
    future = list(getattr(forecaster, "future_covariates", None) or ())
    if future:
        raise ValueError(
            f"model {model.uri} reads future covariates {future}, whose values over the horizon a job cannot supply "
            "(it forecasts from its data source alone); train the job's model without future_covariates"
        )
    if spec.horizon > forecaster.horizon:
        raise ValueError(
            f"the spec asks for horizon {spec.horizon} but model {model.uri} forecasts {forecaster.horizon} steps"
        )
    trained = getattr(forecaster, "quantiles", None) or ()
    missing = sorted(set(spec.quantiles or ()) - set(trained))
    if missing:
        raise ValueError(f"the spec asks for quantiles {missing} that model {model.uri} was not trained for")


def job_state_path(spec_path: str | Path, spec: JobSpec) -> Path:
    """Where the scheduler remembers the last fire time it ran: beside the spec."""
    spec_path = Path(spec_path)
    return spec_path.parent / f".{spec.name}.schedule-state.json"
