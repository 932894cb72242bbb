"""The Forecaster as an MLflow pyfunc model: `mlflow.pyfunc.load_model(uri).predict(frame)`.

The model's input is one long frame per call: the history of each series
(`unique_id, ds, y` and the covariate columns) followed, when the model uses
future-known covariates, by the `horizon` rows after each series' end with an
empty `y` and the covariates filled in. Rows with a missing `y` after a
series' last observed value are those future rows. The output is the frame of
`Forecaster.predict`: `unique_id, ds, y_hat[, y_hat_qXX...]`.

The logged model holds the directory written by `Forecaster.save`; loading it
needs this package (`lstm-forecast`) installed beside the listed requirements.
"""

from __future__ import annotations

import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from forecast.base import ID, TARGET, TIME

if TYPE_CHECKING:
    from forecast.forecaster import Forecaster

ARTIFACT_KEY = "forecaster"
_REQUIREMENTS = ("mlflow", "tensorflow", "keras", "numpy", "pandas", "scikit-learn", "pyarrow")


class ForecasterModel(mlflow.pyfunc.PythonModel):
    """MLflow `PythonModel` that loads a saved Forecaster and forecasts from a long frame."""

    def load_context(self, context) -> None:
        from forecast.forecaster import Forecaster

        self.forecaster = Forecaster.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        history, future = split_history_and_future(model_input)
        return self.forecaster.predict(history, future)


def split_history_and_future(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Split a pyfunc input frame into the observed history and the future covariate rows.

    A row is a future row when its `y` is missing and it comes after the last
    observed `y` of its series.

    Returns:
        `(history, future)`; `future` is None when there are no future rows.
    """
    missing = [column for column in (ID, TIME, TARGET) if column not in frame.columns]
    if missing:
        raise ValueError(
            f"expected columns {[ID, TIME, TARGET]} in the model input; missing {missing} (found {list(frame.columns)})"
        )
    observed = frame[TARGET].notna()
    last_observed = frame.loc[observed].groupby(ID)[TIME].max()
    after_history = (frame[TIME] > frame[ID].map(last_observed)).to_numpy()
    is_future = (~observed).to_numpy() & after_history
    if not is_future.any():
        return frame.reset_index(drop=True), None
    return frame.loc[~is_future].reset_index(drop=True), frame.loc[is_future].drop(columns=TARGET).reset_index(
        drop=True
    )


def log_forecaster(
    forecaster: Forecaster,
    input_example: pd.DataFrame,
    register_as: str | None = None,
    name: str = "model",
) -> ModelInfo:
    """Log a fitted Forecaster as a pyfunc model in the active MLflow run.

    Args:
        forecaster: a fitted Forecaster.
        input_example: a small model input (see the module docstring); its
            forecast gives the output part of the signature.
        register_as: also register a new version of this registered model.
        name: the model's name within the run.

    Returns:
        MLflow's `ModelInfo` (`model_uri`, and `registered_model_version` when registered).
    """
    history, future = split_history_and_future(input_example)
    signature = infer_signature(input_example, forecaster.predict(history, future))
    with tempfile.TemporaryDirectory() as directory:
        saved = forecaster.save(Path(directory) / ARTIFACT_KEY)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=ForecasterModel(),
            artifacts={ARTIFACT_KEY: str(saved)},
            signature=signature,
            input_example=input_example,
            registered_model_name=register_as,
            pip_requirements=_pinned_requirements(),
        )


def _pinned_requirements() -> list[str]:
    # Listing them skips MLflow's requirement inference, which reloads the model in a subprocess.
    pinned = []
    for package in _REQUIREMENTS:
        try:
            pinned.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pinned.append(package)
    return pinned
