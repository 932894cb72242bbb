"""Retraining a job's model: whether the spec's policy asks for it on this run, and the fit itself.

The model is found by :func:`forecast.model_uri.resolve_model`; a retrained model is logged and
registered as a new version of the same registered model (or ``retrain.register_as``), and the
policy's alias, if any, moves to it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd

from forecast.model_uri import ResolvedModel

if TYPE_CHECKING:
    from forecast.base import BaseForecaster
    from forecast.jobs.spec import JobSpec

logger = logging.getLogger(__name__)


def data_growth(forecaster: BaseForecaster, data: pd.DataFrame) -> int:
    """The most steps any series has gained since the model was trained."""
    trained_end = forecaster.train_df_.groupby("unique_id")["ds"].max()
    end = data["unique_id"].map(trained_end)
    new_rows = data.loc[end.notna() & (pd.Series(data["ds"]) > end)]
    return int(new_rows.groupby("unique_id").size().max()) if len(new_rows) else 0


def successful_runs(experiment: str, job: str) -> int | None:
    """How many successful runs of ``job`` the tracking store holds (None when it cannot tell)."""
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
    return len(runs)


def retrain_due(spec: JobSpec, model: ResolvedModel, data: pd.DataFrame) -> bool:
    """Whether the spec's retrain policy asks for a fresh model on this run."""
    policy = spec.model.retrain
    if policy.policy == "never":
        return False
    if policy.policy == "every_n_runs":
        earlier = successful_runs(spec.tracking.experiment, spec.name)
        return earlier is not None and (earlier + 1) % policy.n == 0
    return data_growth(model.forecaster, data) >= policy.n


def retrain_model(spec: JobSpec, model: ResolvedModel, data: pd.DataFrame) -> ResolvedModel:
    """Fit a fresh forecaster with the current model's parameters, log and register it."""
    from sklearn.base import clone

    from forecast.settings import Tracking

    policy = spec.model.retrain
    name = policy.register_as or model.name
    if name is None:
        raise ValueError(
            f"retraining the model at {model.uri} needs model.retrain.register_as: "
            "a directory model has no registered name to add a version to"
        )
    tracking = Tracking(experiment=spec.tracking.experiment, register_as=name, errors="raise")
    fresh = clone(model.forecaster).set_params(tracking=tracking, verbose=0)
    fresh.fit(data)
    version = str(fresh.registered_model_version_)
    if policy.alias:
        from mlflow import MlflowClient

        MlflowClient().set_registered_model_alias(name, policy.alias, version)
    logger.info("job %s: retrained the model as %s version %s", spec.name, name, version)
    return ResolvedModel(uri=f"models:/{name}/{version}", forecaster=fresh, name=name, version=version)
