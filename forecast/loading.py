"""Loading a saved forecaster of any class: the Forecaster, its ensembles or a baseline."""

from __future__ import annotations

from pathlib import Path

import forecast.baselines
import forecast.forecaster
from forecast.base import BaseForecaster

# The classes `BaseForecaster.load` can return: every forecaster defined in these modules.
FORECASTER_MODULES = (forecast.baselines, forecast.forecaster)


def load_forecaster(path: str | Path) -> BaseForecaster:
    """The forecaster saved at ``path`` by ``save``, whichever class saved it."""
    return BaseForecaster.load(path)
