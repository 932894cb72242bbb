"""Finding a saved forecaster by URI: a registry alias or version, a run's artifact, or a directory.

`models:/name@alias` is pinned to the version the alias points at when it is resolved, so a job (or
a Spark run) that resolves once uses one version throughout. Models are loaded from the saved
forecaster directory the pyfunc model carries, with Keras safe mode
(`forecast.loading.load_forecaster`); the pyfunc model's code is never run, so a model artifact
cannot run code in the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from forecast.base import BaseForecaster
from forecast.loading import load_forecaster
from forecast.pyfunc import ARTIFACT_KEY
from forecast.redaction import redact

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_LOGGED_MODEL_URI = re.compile(r"^models:/(?P<model_id>m-[0-9a-f]+)$")
"""MLflow 3's logged models by id (`models:/m-<hex>`): what a tracked fit reports as `model_uri_`."""


class ModelNotFound(LookupError):
    """The model URI names nothing; the message lists what the registry holds."""


@dataclass(frozen=True)
class ResolvedModel:
    """A loaded forecaster and where it came from.

    uri: what the caller gave. name, version: the registered model and the version the URI resolved
    to (None for a run's artifact or a directory).
    """

    uri: str
    forecaster: BaseForecaster
    name: str | None = None
    version: str | None = None


def registered_name(uri: str) -> str | None:
    """The registered model a `models:/name@alias` or `models:/name/version` URI names; None for a logged model's
    `models:/m-<id>`, a `runs:/` URI or a directory."""
    match = _ALIAS_URI.match(uri) or _VERSION_URI.match(uri)
    return match["name"] if match else None


def resolve_model(uri: str) -> ResolvedModel:
    """Load the forecaster behind `uri`: `models:/name@alias`, `models:/name/3`, a logged model's `models:/m-<id>`
    (a tracked fit's `model_uri_`), `runs:/id/path` or a directory."""
    if not uri.startswith(("models:/", "runs:/")):
        if not Path(uri).is_dir():
            raise ModelNotFound(f"model directory {redact(uri)} does not exist")
        return ResolvedModel(uri=uri, forecaster=load_forecaster(uri))

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from forecast.tracking import existing_store

    existing_store()  # a server that does not answer is named within seconds, not reported as a missing model
    client = MlflowClient()
    name = version = None
    try:
        if match := _ALIAS_URI.match(uri):
            name = match["name"]
            version = client.get_model_version_by_alias(name, match["alias"]).version
        elif match := _VERSION_URI.match(uri):
            name, version = match["name"], match["version"]
            client.get_model_version(name, version)
        elif match := _LOGGED_MODEL_URI.match(uri):
            client.get_logged_model(match["model_id"])
        elif not uri.startswith("runs:/"):
            raise ModelNotFound(
                f"cannot parse model URI {redact(uri)!r}; expected models:/name@alias, models:/name/version or a "
                "logged model's models:/m-<id>"
            )
        source = f"models:/{name}/{version}" if name else uri
        forecaster = load_forecaster(_download_forecaster(source))
    except MlflowException as error:
        raise ModelNotFound(redact(f"model {uri} not found ({error.message}). {registry_contents(client)}")) from None
    return ResolvedModel(uri=uri, forecaster=forecaster, name=name, version=str(version) if version else None)


def _download_forecaster(model_uri: str) -> Path:
    """Download a logged pyfunc model and return the saved-forecaster directory inside it."""
    import mlflow

    from forecast.pyfunc import quiet_mlflow

    with quiet_mlflow(verbose=0):
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
