"""Retraining a job's model: whether the spec's policy asks for it on this run, the fit, and what replaces what.

The model is found by `forecast.model_uri.resolve_model`. A retrained model (the challenger)
is fitted with the current model's settings on all the job's data, logged and registered as a new
version of the same registered model (or `retrain.register_as`), tagged with the job and the
run's `as_of` (`job.name`, `job.as_of`: how a later run, even after a restart, knows when the
job last retrained) and with the last `ds` of the data it was fitted on (`job.data_end`: where the
`data_growth` policy counts the next growth from, since rows stamped before a run's `as_of` may arrive after
it). Without `retrain.alias` the run goes on with it. With an alias, it takes the alias only if it beats
the current model on a backtest (`forecast.jobs.promotion`); otherwise the run goes on with the current
model. When the job run fails after the retrain (writing its outputs), `withdraw` undoes it: the alias
goes back, the version and the retrain's runs are deleted, so every registered version belongs to a run
that succeeded and a rerun retrains afresh.

A run killed outright (SIGKILL, a power cut) after its retrain registered a version cannot withdraw it.
Every version a retrain registers is therefore tagged with the job run that made it (`job.run_id`) and
`job.status = running`, which the run sets to `success` once it is recorded as a success. The next run of
the job (`abandon_orphans`, before it loads the model) looks at the versions of the model whose status is
not settled: one registered by a run of this job that has ended without success (KILLED by
`forecast.jobs.stale_runs`, FAILED, ...) is tagged `job.status = abandoned` with the reason
(`job.abandoned`), and an alias the dead run had moved to it goes back to the version it pointed at before
(`job.alias_before`; removed when it pointed at none). Abandoned versions are kept for inspection, never
promoted by a job and not counted as the job's retrains (`data_growth`, `on_degradation`). Versions not
registered by a retrain of this job (by hand, by another job) and versions a person promoted by hand are
left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast.jobs.backtests import model_season_length
from forecast.model_uri import ResolvedModel, registered_name
from pipelines.columns import ID, TIME
from pipelines.validation import parse_time_column

if TYPE_CHECKING:
    from forecast.base import BaseForecaster
    from forecast.jobs.promotion import Decision
    from forecast.jobs.realized import RealizedAccuracy
    from forecast.jobs.spec import JobSpec
    from forecast.settings import Tracking

logger = logging.getLogger(__name__)

JOB_NAME_TAG = "job.name"
JOB_AS_OF_TAG = "job.as_of"
JOB_DATA_END_TAG = "job.data_end"
"""The last `ds` of the data a retrain was fitted on (ISO text for timestamps, in UTC; an integer for integer `ds`)."""
JOB_RUN_TAG = "job.run_id"
"""The MLflow run of the job run whose retrain registered the version."""
JOB_STATUS_TAG = "job.status"
"""`running` until the job run that registered the version is recorded, then `success`; `abandoned` when it ended
without success and could not withdraw the version (killed)."""
JOB_ALIAS_BEFORE_TAG = "job.alias_before"
"""The version the job's alias pointed at before the retrain's decision (empty: none)."""
ABANDONED_TAG = "job.abandoned"
"""Why a version was abandoned: the run that registered it and how that run ended."""
RUNNING, SUCCESS, ABANDONED = "running", "success", "abandoned"


@dataclass(frozen=True, kw_only=True)
class RetrainCheck:
    """Whether the policy asks for a fresh model on this run, why (one line), and the numbers it went by."""

    due: bool
    reason: str
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Retrained:
    """A retrain's outcome: the model the run goes on with, the version registered, and the decision (with an alias)."""

    model: ResolvedModel
    name: str
    version: str
    decision: Decision | None
    alias: str | None = None
    alias_before: str | None = None
    """The version `alias` pointed at before the retrain (None: none)."""
    runs: tuple[str, ...] = ()
    """The MLflow runs the retrain made: the fit's and the decision's."""


def data_growth(forecaster: BaseForecaster, data: pd.DataFrame, since: pd.Timestamp | int | None = None) -> int:
    """The most steps any series has gained since the model was trained, and since `since` (the last `ds` of the data
    the job's last retrain was fitted on, whose model the job may not use: a refused challenger), so that one growth
    asks for one retrain. The retrain is taken to have seen each series up to its last row at or before `since` in
    `data` (a naive UTC timestamp, or an integer for integer `ds`; a timestamp with integer `ds`, the `as_of` of a
    retrain tagged before `job.data_end`, is not comparable and leaves the count since training)."""
    trained_end = forecaster.train_df_.groupby(ID)[TIME].max()
    end = data[ID].map(trained_end)
    times = pd.Series(parse_time_column(data), index=data.index)  # e.g. text from a SQLite source
    new = end.notna() & (times > end)
    datetimes = pd.api.types.is_datetime64_any_dtype(times)
    if since is not None and datetimes == isinstance(since, datetime | np.datetime64):
        if datetimes:
            since = pd.Timestamp(since)
            seen = times <= (since.tz_localize("UTC") if times.dt.tz is not None else since)
        else:
            seen = times <= int(since)
        retrained_end = data[ID].map(times[seen].groupby(data.loc[seen, ID]).max())
        new &= retrained_end.isna() | (times > retrained_end)
    new_rows = data.loc[new]
    return int(new_rows.groupby(ID).size().max()) if len(new_rows) else 0


def data_end(data: pd.DataFrame) -> str:
    """The `job.data_end` tag of a retrain fitted on `data`: its last `ds` (naive UTC ISO text, or an integer)."""
    times = pd.Series(parse_time_column(data))
    last = times.max()
    if not isinstance(last, pd.Timestamp):
        return str(int(last))
    return (last.tz_convert("UTC").tz_localize(None) if last.tz is not None else last).isoformat()


def _tagged_end(text: str) -> pd.Timestamp | int:
    """A `job.data_end` tag's value back: an integer `ds`, or a timestamp."""
    return int(text) if text.lstrip("-").isdigit() else pd.Timestamp(text)


def successful_runs(experiment: str, job: str, as_of: pd.Timestamp) -> int | None:
    """How many `as_of`s before `as_of` the tracking store holds a successful run of `job` for (None when it cannot
    tell): a rerun or a replay of one `as_of` counts once, so it decides as the first run for it did."""
    import mlflow

    try:
        runs = mlflow.search_runs(
            experiment_names=[experiment],
            filter_string=f"tags.job = '{job}' and tags.status = 'success'",
            output_format="list",
        )
    except Exception as error:
        logger.warning("cannot count earlier runs of job %s (%s); not retraining", job, error)
        return None
    stamps = {pd.Timestamp(run.data.tags["as_of"]) for run in runs if "as_of" in run.data.tags}
    return sum(stamp < as_of for stamp in stamps)


def retrain_check(
    spec: JobSpec, model: ResolvedModel, data: pd.DataFrame, accuracy: RealizedAccuracy, as_of: pd.Timestamp
) -> RetrainCheck:
    """Whether the spec's retrain policy asks for a fresh model on the run for `as_of` (`accuracy`: the realized
    scores)."""
    policy = spec.model.retrain
    if policy.policy == "never":
        return RetrainCheck(due=False, reason="policy never")
    if policy.policy == "every_n_runs":
        earlier = successful_runs(spec.tracking.experiment, spec.name, as_of)
        if earlier is None:
            return RetrainCheck(due=False, reason="every_n_runs: the earlier runs cannot be counted")
        due = (earlier + 1) % policy.n == 0
        return RetrainCheck(due=due, reason=f"every_n_runs: run {earlier + 1}, retrain every {policy.n}")
    if policy.policy == "data_growth":
        latest = _latest_retrain_of(spec)
        since = None if latest is None else _tagged_end(latest.tags.get(JOB_DATA_END_TAG, latest.tags[JOB_AS_OF_TAG]))
        growth = data_growth(model.forecaster, data, since)
        after = "training" if since is None else "training and the last retrain"
        return RetrainCheck(
            due=growth >= policy.n, reason=f"data_growth: {growth} new steps since {after}, retrain at {policy.n}"
        )
    return _degradation_check(spec, model, data, accuracy)


def _degradation_check(
    spec: JobSpec, model: ResolvedModel, data: pd.DataFrame, accuracy: RealizedAccuracy
) -> RetrainCheck:
    from forecast.jobs.degradation import assess, scored_runs

    policy = spec.model.retrain
    runs = scored_runs(accuracy.overall, model.version, _last_retrain_of(spec))
    season_length = spec.accuracy.season_length or model_season_length(model.forecaster)
    found = assess(model.forecaster, runs, data, k=policy.k, season_length=season_length)
    if found is None:
        return RetrainCheck(
            due=False, reason=f"on_degradation: {len(runs)} scored run(s) of this model, {policy.k} needed"
        )
    due = found.realized_mase > policy.factor * found.reference_mase
    relation = ">" if due else "<="
    reason = (
        f"on_degradation: realized MASE {found.realized_mase:.4g} of the last {policy.k} scored run(s) {relation} "
        f"{policy.factor:g} x {found.reference} MASE {found.reference_mase:.4g}"
    )
    metrics = {
        "degradation/realized_mase": found.realized_mase,
        "degradation/reference_mase": found.reference_mase,
        "degradation/ratio": found.ratio,
    }
    return RetrainCheck(due=due, reason=reason, metrics=metrics)


def retrain_name(spec: JobSpec) -> str | None:
    """The registered model the job's retrains add versions to: `retrain.register_as`, else the one the spec's model
    URI names (None for a directory, a run or a logged model)."""
    return spec.model.retrain.register_as or registered_name(spec.model.uri)


def _last_retrain_of(spec: JobSpec) -> pd.Timestamp | None:
    """The `as_of` of the job's latest retrain, among the versions of the model its retrains register (None where
    it has none or no registered name)."""
    latest = _latest_retrain_of(spec)
    return None if latest is None else pd.Timestamp(latest.tags[JOB_AS_OF_TAG])


def _latest_retrain_of(spec: JobSpec):
    """The version (`mlflow.entities.model_registry.ModelVersion`) of the job's latest retrain, among the versions
    of the model its retrains register (None where it has none or no registered name)."""
    name = retrain_name(spec)
    return latest_retrain(name, spec.name) if name else None


def latest_retrain(name: str, job: str):
    """The version of registered model `name` that `job`'s latest retrain registered (greatest `job.as_of`), or
    None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        versions = MlflowClient().search_model_versions(f"name = '{name}'")
    except MlflowException:
        return None
    retrains = [
        version
        for version in versions
        if version.tags.get(JOB_NAME_TAG) == job
        and JOB_AS_OF_TAG in version.tags
        and version.tags.get(JOB_STATUS_TAG) != ABANDONED
    ]
    return max(retrains, key=lambda version: pd.Timestamp(version.tags[JOB_AS_OF_TAG]), default=None)


def retrain_model(spec: JobSpec, model: ResolvedModel, data: pd.DataFrame, as_of: pd.Timestamp) -> Retrained:
    """Fit a fresh forecaster with the current model's settings, register it, and decide which model goes on."""
    import mlflow
    from mlflow import MlflowClient

    from forecast.jobs import promotion
    from forecast.settings import Tracking

    policy = spec.model.retrain
    name = retrain_name(spec)
    if name is None:
        raise ValueError(
            f"retraining the model at {model.uri} needs model.retrain.register_as: "
            "a directory model has no registered name to add a version to"
        )
    promote = policy.promotion
    comparison = None
    if promote is not None:  # before the fit on all the data: a comparison that fails registers nothing
        season_length = spec.accuracy.season_length or model_season_length(model.forecaster)
        challenger = _fresh(model.forecaster, tracking=False)
        comparison = promotion.compare(model.forecaster, challenger, data, promote, season_length=season_length)
    tracking = Tracking(
        experiment=spec.tracking.experiment,
        run_name=f"{spec.name} retrain {as_of.isoformat()}",
        register_as=name,
        errors="raise",
    )
    fresh = _fresh(model.forecaster, tracking=tracking).fit(data)
    version = fresh.registered_model_version_
    if version is None:
        raise ValueError(f"retraining {type(fresh).__name__} registered no version of {name}")
    version = str(version)
    client = MlflowClient()
    job_run = mlflow.active_run()  # the job's run: the fit's run is nested in it
    tags = {
        JOB_NAME_TAG: spec.name,
        JOB_AS_OF_TAG: as_of.isoformat(),
        JOB_DATA_END_TAG: data_end(data),
        JOB_STATUS_TAG: RUNNING,
        **({JOB_RUN_TAG: job_run.info.run_id} if job_run is not None else {}),
        **({} if comparison is None else {JOB_ALIAS_BEFORE_TAG: promotion.alias_version(client, name, policy.alias)}),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value or "")
    fit_run = client.get_model_version(name, version).run_id
    retrained = ResolvedModel(uri=f"models:/{name}/{version}", forecaster=fresh, name=name, version=version)
    logger.info("job %s: retrained the model as %s version %s", spec.name, name, version)
    if comparison is None:
        return Retrained(model=retrained, name=name, version=version, decision=None, runs=(fit_run,))
    decision = comparison.decide(promote.margin)
    alias_before = promotion.alias_version(client, name, policy.alias)
    decision_run = promotion.record(
        decision,
        job=spec.name,
        as_of=as_of,
        experiment=spec.tracking.experiment,
        name=name,
        alias=policy.alias,
        champion_version=model.version,
        challenger_version=version,
    )
    logger.info("job %s: challenger %s version %s %s: %s", spec.name, name, version, decision.outcome, decision.reason)
    return Retrained(
        model=retrained if decision.accepted else model,
        name=name,
        version=version,
        decision=decision,
        alias=policy.alias,
        alias_before=alias_before,
        runs=(fit_run, decision_run),
    )


def withdraw(retrained: Retrained) -> None:
    """Undo a retrain whose job run failed after it: the alias back where it was, the version and its runs deleted.

    A failure here is logged, not raised: the run's own error is the one to report.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    try:
        if retrained.decision is not None and retrained.decision.accepted:
            if retrained.alias_before is None:
                client.delete_registered_model_alias(retrained.name, retrained.alias)
            else:
                client.set_registered_model_alias(retrained.name, retrained.alias, retrained.alias_before)
        client.delete_model_version(retrained.name, retrained.version)
        for run_id in retrained.runs:
            client.delete_run(run_id)
    except Exception as error:
        logger.error(
            "the run failed, but version %s of %s it registered could not be withdrawn: %s",
            retrained.version,
            retrained.name,
            error,
        )
        return
    logger.info("the run failed: withdrew version %s of %s it registered", retrained.version, retrained.name)


def succeeded(name: str, version: str) -> None:
    """Mark version `version` of `name` as registered by a job run recorded as a success (logged, not raised)."""
    from mlflow import MlflowClient

    try:
        MlflowClient().set_model_version_tag(name, version, JOB_STATUS_TAG, SUCCESS)
    except Exception as error:  # the next run settles it from the run's status
        logger.warning("could not tag version %s of %s %s=%s: %s", version, name, JOB_STATUS_TAG, SUCCESS, error)


def abandon_orphans(spec: JobSpec, current_run: str | None) -> list[str]:
    """Tag `abandoned` the versions registered by retrains of this job whose job run ended without success (module
    docstring), moving back an alias such a run moved to one; returns one line per version abandoned.

    `current_run`: this run's MLflow run id, never taken for a dead one. A version whose run succeeded (tagged
    `status = success`, or ended FINISHED where the store could not take that tag) gets `job.status = success` (a
    run killed between being recorded and tagging its version).
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from forecast.jobs.promotion import DECISION_TAG

    name = retrain_name(spec)
    if name is None:
        return []
    client = MlflowClient()
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:  # no such model yet
        return []
    runs: dict[str, object] = {}

    def run(run_id: str | None):
        if run_id and run_id not in runs:
            try:
                runs[run_id] = client.get_run(run_id)
            except MlflowException:  # deleted for good: nothing tells whose it was
                runs[run_id] = None
        return runs.get(run_id) if run_id else None

    said = []
    for version in versions:
        tags = version.tags
        if tags.get(JOB_STATUS_TAG) in (SUCCESS, ABANDONED) or tags.get(DECISION_TAG) == "manual":
            continue
        if tags.get(JOB_NAME_TAG, spec.name) != spec.name:
            continue  # another job's retrain: that job settles it
        job_run = run(tags.get(JOB_RUN_TAG))
        if job_run is None and JOB_RUN_TAG not in tags:  # killed before tagging it, or registered by hand
            fit = run(version.run_id)
            job_run = run(fit.data.tags.get("mlflow.parentRunId")) if fit is not None else None
        if job_run is None or job_run.data.tags.get("job") != spec.name or job_run.info.run_id == current_run:
            continue
        if job_run.info.status == "RUNNING":  # a live run (or one on another host): not ours to judge
            continue
        # FINISHED: the run's block returned (a store that failed it on the way would have raised, ending it FAILED)
        if job_run.data.tags.get("status") == "success" or job_run.info.status == "FINISHED":
            client.set_model_version_tag(name, version.version, JOB_STATUS_TAG, SUCCESS)
            continue
        said.append(_abandon(client, name, version, job_run, spec.model.retrain.alias))
    return said


def _abandon(client, name: str, version, job_run, alias: str | None) -> str:
    """Tag `version` abandoned, move back the job's `alias` where it points at it (the only alias a retrain moves:
    others were set by hand); the line that says so."""
    from mlflow.exceptions import MlflowException

    ended = job_run.info.status
    as_of = job_run.data.tags.get("as_of", "?")
    reason = (
        f"registered by run {job_run.info.run_id} (as_of {as_of}), which ended {ended} before recording its outputs"
    )
    before = version.tags.get(JOB_ALIAS_BEFORE_TAG) or None
    moved = []
    if alias is not None and alias in client.get_model_version(name, version.version).aliases:
        try:
            valid = before is not None and client.get_model_version(name, before).tags.get(JOB_STATUS_TAG) != ABANDONED
        except MlflowException:
            valid = False
        if valid:
            client.set_registered_model_alias(name, alias, before)
            moved.append(f"alias {alias} moved back to version {before}")
        else:
            client.delete_registered_model_alias(name, alias)
            why = "it pointed at no version before" if before is None else f"version {before} is abandoned or gone"
            moved.append(f"alias {alias} removed ({why})")
    client.set_model_version_tag(name, version.version, ABANDONED_TAG, reason)
    client.set_model_version_tag(name, version.version, JOB_STATUS_TAG, ABANDONED)
    effect = "; ".join([f"tagged {JOB_STATUS_TAG}={ABANDONED}, never promoted", *moved])
    return f"version {version.version} of {name} was {reason}: {effect}"


def _fresh(forecaster: BaseForecaster, *, tracking: bool | Tracking) -> BaseForecaster:
    """An unfitted copy of `forecaster` with its settings, silent, tracked as `tracking` says."""
    from sklearn.base import clone

    fresh = clone(forecaster)
    settings = fresh.get_params()
    if "tracking" not in settings:
        if tracking:
            raise ValueError(f"{type(fresh).__name__} has no tracking setting, so a retrained one cannot be registered")
        return fresh
    return fresh.set_params(tracking=tracking, **({"verbose": 0} if "verbose" in settings else {}))
