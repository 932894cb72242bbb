"""The code MLflow runs to load a logged forecaster (models from code: no pickle is involved).

`forecast.pyfunc.log_forecaster` logs this file as the model's code. MLflow executes it when the
model is loaded; it declares the pyfunc model, whose `load_context` reads the saved forecaster
directory logged beside it (`forecast.loading.load_forecaster`, Keras safe mode) and whose
`predict` splits the input frame into history and future rows and forecasts.
"""

from __future__ import annotations

import mlflow
import pandas as pd

from forecast.loading import load_forecaster
from forecast.pyfunc import ARTIFACT_KEY, in_input_terms, split_history_and_future


class ForecasterModel(mlflow.pyfunc.PythonModel):
    """MLflow `PythonModel` that loads a saved forecaster and forecasts from a long frame."""

    def load_context(self, context) -> None:
        self.forecaster = load_forecaster(context.artifacts[ARTIFACT_KEY])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        history, future = split_history_and_future(model_input)
        try:
            return self.forecaster.predict(history, future)
        except ValueError as error:  # ValidationError too: the same type, said of the input frame
            raise type(error)(in_input_terms(str(error))) from None


mlflow.models.set_model(ForecasterModel())
