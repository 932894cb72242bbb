"""The column names of long-format series, the one convention of the whole package.

Every frame of time series is in long format (the convention of statsforecast, NeuralForecast
and utilsforecast): one row per series and time step, with

- `unique_id`: the series id (text; numbers are accepted but not mixed with text),
- `ds`: the time stamp (datetimes, or integers for series without dates),
- `y`: the target,

plus optional covariate columns. Forecasts add `y_hat` and one column per quantile. A frame whose
columns are named differently is renamed by the caller at the edge (the job runner's
`columns:` mapping does that for data read from files and databases).
"""

from __future__ import annotations

import pandas as pd

ID = "unique_id"
TIME = "ds"
TARGET = "y"


def series_names(ids: pd.Series) -> pd.Series:
    """Series ids as names: numeric ids written as text (`7` -> `"7"`), categorical ones as their values; other ids
    unchanged. Files give ids back as text, so a model fitted on ids `1, 2` forecasts a CSV of the same series, and
    forecasts, scores and histories compare their ids in this form."""
    if isinstance(ids.dtype, pd.CategoricalDtype):  # the categories' values, not their order, name the series
        ids = ids.astype(ids.cat.categories.dtype)
    if pd.api.types.is_numeric_dtype(ids.dtype) and not pd.api.types.is_bool_dtype(ids.dtype):
        return ids.astype(str)
    return ids
