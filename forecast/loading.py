"""Loading a saved forecaster of any class: the Forecaster, its ensembles or a baseline."""

from __future__ import annotations

from pathlib import Path

from forecast.base import BaseForecaster


def load_forecaster(path: str | Path) -> BaseForecaster:
    """The forecaster saved at `path` by `save`, whichever class (and format version) saved it.

    `fitted.json` names the class and its module; the module is imported on demand, so no list of
    forecaster classes is kept anywhere (`forecast.saved_format`).
    """
    return BaseForecaster.load(path)
