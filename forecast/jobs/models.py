"""Finding the job's model (registry alias, version, run, or directory) and retraining it.

Models are loaded from the saved forecaster directory the pyfunc model carries,
with Keras safe mode (``forecast.loading.load_forecaster``); the pyfunc model's code is
never run, so a model artifact cannot run code in the job.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from forecast.base import BaseForecaster
from forecast.jobs.spec import JobSpec
from forecast.loading import load_forecaster
from forecast.pyfunc import ARTIFACT_KEY
from forecast.redaction import redact

logger = logging.getLogger(__name__)

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


class ModelNotFound(LookupError):
    """The model URI names nothing; the message lists what the registry holds."""


@dataclass(frozen=True)
class ResolvedModel:
    uri: str
    forecaster: BaseForecaster
    name: str | None = None
    version: str | None = None


def resolve_model(uri: str) -> ResolvedModel:
    """Load the forecaster behind ``uri``: ``models:/name@alias``, ``models:/name/3``, ``runs:/id/path`` or a directory."""
    if not uri.startswith(("models:/", "runs:/")):
        if not Path(uri).is_dir():
            raise ModelNotFound(f"model directory {redact(uri)} does not exist")
        return ResolvedModel(uri=uri, forecaster=load_forecaster(uri))

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    name = version = None
    try:
        if match := _ALIAS_URI.match(uri):
            name = match["name"]
            version = client.get_model_version_by_alias(name, match["alias"]).version
        elif match := _VERSION_URI.match(uri):
            name, version = match["name"], match["version"]
            client.get_model_version(name, version)
        elif not uri.startswith("runs:/"):
            raise ModelNotFound(
                f"cannot parse model URI {redact(uri)!r}; expected models:/name@alias or models:/name/version"
            )
        source = f"models:/{name}/{version}" if name else uri
        forecaster = load_forecaster(_download_forecaster(source))
    except MlflowException as error:
        raise ModelNotFound(redact(f"model {uri} not found ({error.message}). {registry_contents(client)}")) from None
    return ResolvedModel(uri=uri, forecaster=forecaster, name=name, version=str(version) if version else None)


def _download_forecaster(model_uri: str) -> Path:
    """Download a logged pyfunc model and return the saved-forecaster directory inside it."""
    import mlflow

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    description = yaml.safe_load((local / "MLmodel").read_text())
    artifacts = description.get("flavors", {}).get("python_function", {}).get("artifacts", {})
    if ARTIFACT_KEY not in artifacts:
        raise ModelNotFound(
            f"{redact(model_uri)} is not a model logged by lstm-forecast (no '{ARTIFACT_KEY}' artifact)"
        )
    return local / artifacts[ARTIFACT_KEY]["path"]


def registry_contents(client) -> str:
    """One line naming every registered model with its versions and aliases."""
    try:
        models = client.search_registered_models()
    except Exception as error:  # listing is a courtesy inside an error message; never mask the original error
        return f"(could not list the registry: {error})"
    if not models:
        return "The model registry is empty."
    described = []
    for model in models:
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{model.name}'"))
        aliases = ", ".join(f"@{alias}->{version}" for alias, version in sorted(model.aliases.items()))
        described.append(f"{model.name} (versions {versions}{'; ' + aliases if aliases else ''})")
    return "The registry holds: " + "; ".join(described) + "."


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

    policy = spec.model.retrain
    name = policy.register_as or model.name
    if name is None:
        raise ValueError(
            f"retraining the model at {model.uri} needs model.retrain.register_as: "
            "a directory model has no registered name to add a version to"
        )
    fresh = clone(model.forecaster).set_params(
        tracking=True, tracking_errors="raise", experiment=spec.tracking.experiment, register_as=name, verbose=0
    )
    fresh.fit(data)
    version = str(fresh.registered_model_version_)
    if policy.alias:
        from mlflow import MlflowClient

        MlflowClient().set_registered_model_alias(name, policy.alias, version)
    logger.info("job %s: retrained the model as %s version %s", spec.name, name, version)
    return ResolvedModel(uri=f"models:/{name}/{version}", forecaster=fresh, name=name, version=version)
