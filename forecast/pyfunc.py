"""A saved forecaster as an MLflow pyfunc model: `mlflow.pyfunc.load_model(uri).predict(frame)`.

The model's input is one long frame per call: the history of each series
(`unique_id, ds, y` and the covariate columns) followed, when the model uses
future-known covariates, by the `horizon` rows after each series' end with an
empty `y` and the covariates filled in. Rows with a missing `y` after a
series' last observed value are those future rows. The output is the frame of
`predict`: `unique_id, ds, y_hat[, y_hat_qXX...]`.

The input schema names the columns and leaves their types to the forecaster, whose validation
accepts what the Python API accepts and names the series, column and time of a bad value. MLflow's
type enforcement would refuse much of that: `ds` as text (what `pd.read_csv` gives under pandas 3)
or with a time zone, where the schema says datetime; an integer `y` from a file, where it says
double (MLflow casts int64 to float64 only for 0/1 values); a `y` with the empty future rows, where
it says long. So every input column is declared with MLflow's `Any` type: `ds` may be datetimes,
text dates or integers, the values integers or floats. The columns are declared optional, so that a
missing one reaches the forecaster's own check, which names it in one line (MLflow's enforcement
would print the whole frame). The output schema has the forecast's types.

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
import re
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import ModelInfo
from mlflow.types.schema import AnyType, ColSpec, DataType, Schema

from pipelines.columns import ID, TARGET, TIME
from pipelines.validation import parse_time_column

ARTIFACT_KEY = "forecaster"
MODEL_CODE = Path(__file__).with_name("serving_model.py")
"""The models-from-code file MLflow runs to load a logged forecaster."""
_REQUIREMENTS = ("mlflow", "tensorflow", "keras", "numpy", "pandas", "scikit-learn", "pyarrow")


FUTURE_ROWS = "the input's future rows (after each series' history, y empty)"
INPUT_TERMS = (
    (re.compile(r" \(rows of the history after .* pass them as future_df\)$"), ""),  # the input's are read
    (re.compile(r"^future_df is required: "), "the input has no future rows (after each series' history, y empty): "),
    (re.compile(r"^future_df: missing column"), "the input: missing column"),
    (re.compile(r"^future_df has (no|more)"), f"{FUTURE_ROWS} have \\1"),
    (re.compile(r"^future_df"), FUTURE_ROWS),
    (
        re.compile(r"fill them: this model was fitted without a fill policy \(.*\)\."),
        "fill the gaps of the input: this model was fitted without a fill policy.",
    ),
)
"""What the forecaster's messages say of `predict`'s arguments, said of the one frame a pyfunc model takes."""


def in_input_terms(message: str) -> str:
    """`message` as a pyfunc model's caller reads it: the future rows of its input, not `future_df`; no `fill=`
    remedy (a logged model's settings are fixed)."""
    for pattern, said in INPUT_TERMS:
        message = pattern.sub(said, message)
    return message


def split_history_and_future(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Split a pyfunc input frame into the observed history and the future covariate rows.

    A row is a future row when its `y` is missing and it comes after the last
    observed `y` of its series. Text time stamps are parsed first (see
    `pipelines.validation.parse_time_column`), so that "after" compares times, not text.

    Returns:
        `(history, future)`; `future` is None when there are no future rows.
    """
    missing = [column for column in (ID, TIME, TARGET) if column not in frame.columns]
    if missing:
        raise ValueError(
            f"expected columns {[ID, TIME, TARGET]} in the model input; missing {missing} (found {list(frame.columns)})"
        )
    if frame.empty:
        raise ValueError(
            "the model input has no rows; expected each series' history (and, for future covariates, rows after it "
            "with an empty y)"
        )
    frame = frame.assign(**{TIME: parse_time_column(frame)})
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
    step: int = 0,
) -> ModelInfo:
    """Log a fitted forecaster as a pyfunc model (models from code) in the active MLflow run.

    Args:
        forecaster: a fitted forecaster (anything with `save` and `predict`).
        input_example: a small model input (see the module docstring); its
            forecast gives the output part of the signature.
        register_as: also register a new version of this registered model.
        name: the model's name within the run.
        step: the run's step the model belongs to; MLflow links the run's metrics logged at this
            step to the logged model (its `metrics`).

    Returns:
        MLflow's `ModelInfo` (`model_uri`, `model_id`, and `registered_model_version` when registered).
    """
    history, future = split_history_and_future(input_example)
    signature = forecaster_signature(input_example, forecaster.predict(history, future))
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
            step=step,
        )


def forecaster_signature(model_input: pd.DataFrame, forecasts: pd.DataFrame) -> ModelSignature:
    """The model's signature: each input column of MLflow's `Any` type (module docstring), the forecast's types out.

    The output's `ds` is declared by hand (datetime, or long for integer times) rather than inferred,
    since inferring an integer column makes MLflow print a hint about missing values.
    """
    inputs = Schema([ColSpec(AnyType(), column, required=False) for column in model_input.columns])
    values = infer_signature(forecasts.drop(columns=TIME)).inputs.inputs
    time_type = DataType.long if pd.api.types.is_integer_dtype(forecasts[TIME].dtype) else DataType.datetime
    position = forecasts.columns.get_loc(TIME)
    outputs = Schema([*values[:position], ColSpec(time_type, TIME), *values[position:]])
    return ModelSignature(inputs=inputs, outputs=outputs)


@contextmanager
def quiet_mlflow(verbose: int) -> Iterator[None]:
    """Silence what MLflow prints while a fit logs its model.

    Its artifact progress bars and INFO lines are noise beside the fit's own output at any
    verbosity; at `verbose=0` its warnings are silenced too.
    """
    previous_bar = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            if not verbose:
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
