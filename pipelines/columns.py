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

ID = "unique_id"
TIME = "ds"
TARGET = "y"
