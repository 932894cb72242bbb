"""A saved forecaster as an MLflow pyfunc model: `mlflow.pyfunc.load_model(uri).predict(frame)`.

The model's input is one long frame per call: the history of each series
(`unique_id, ds, y` and the covariate columns) followed, when the model uses
future-known covariates, by the `horizon` rows after each series' end with an
empty `y` and the covariates filled in. Rows with a missing `y` after a
series' last observed value are those future rows. The output is the frame of
`predict`: `unique_id, ds, y_hat[, y_hat_qXX...]`.

The model is logged as *models from code* (MLflow's recommended form): the
logged model holds the directory written by `save` and the short Python file
`forecast/serving_model.py`, which MLflow runs to load it; nothing is pickled.
Loading runs that file and reads the saved Keras network with safe mode, so
an artifact store is a trust boundary: load models only from stores whose
writers you trust, as you would install only trusted packages. Loading needs
this package (`lstm-forecast`) installed beside the listed requirements.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from pipelines.columns import ID, TARGET, TIME

ARTIFACT_KEY = "forecaster"
MODEL_CODE = Path(__file__).with_name("serving_model.py")
"""The models-from-code file MLflow runs to load a logged forecaster."""
_REQUIREMENTS = ("mlflow", "tensorflow", "keras", "numpy", "pandas", "scikit-learn", "pyarrow")


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
    forecaster: Any,
    input_example: pd.DataFrame,
    register_as: str | None = None,
    name: str = "model",
) -> ModelInfo:
    """Log a fitted forecaster as a pyfunc model (models from code) in the active MLflow run.

    Args:
        forecaster: a fitted forecaster (anything with `save` and `predict`).
        input_example: a small model input (see the module docstring); its
            forecast gives the output part of the signature.
        register_as: also register a new version of this registered model.
        name: the model's name within the run.

    Returns:
        MLflow's `ModelInfo` (`model_uri`, `model_id`, and `registered_model_version` when registered).
    """
    history, future = split_history_and_future(input_example)
    signature = infer_signature(input_example, forecaster.predict(history, future))
    with tempfile.TemporaryDirectory() as directory:
        saved = forecaster.save(Path(directory) / ARTIFACT_KEY)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(MODEL_CODE),
            artifacts={ARTIFACT_KEY: str(saved)},
            signature=signature,
            input_example=input_example,
            registered_model_name=register_as,
            pip_requirements=_pinned_requirements(),
        )


@contextmanager
def quiet_mlflow(verbose: int) -> Iterator[None]:
    """At ``verbose=0``, silence what MLflow prints while a model is logged (progress bars, INFO lines)."""
    if verbose:
        yield
        return
    previous_bar = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="mlflow")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if previous_bar is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = previous_bar


def _pinned_requirements() -> list[str]:
    # Listing them skips MLflow's requirement inference, which reloads the model in a subprocess.
    pinned = []
    for package in _REQUIREMENTS:
        try:
            pinned.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pinned.append(package)
    return pinned
