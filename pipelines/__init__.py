"""pandas time series and text into validated, leak-free windows.

Series: `validate` checks a long-format frame, `time_split` splits it
chronologically without leakage, `SeriesWindows` turns it into scaled windows
(`Windows`) with past, future-known and static covariates and calendar
features. Text: `TextWindows` turns documents into next-token windows.

The names are resolved on first use (PEP 562), so importing a light module of the package
(`pipelines.settings`, for a command line's `--help`) does not load pandas or scikit-learn.
"""

from importlib import import_module

_EXPORTS = {
    "SeriesWindows": "pipelines.windows",
    "TextWindows": "pipelines.text",
    "TimeSplit": "pipelines.split",
    "TokenWindows": "pipelines.text",
    "ValidationError": "pipelines.validation",
    "Windows": "pipelines.windows",
    "time_split": "pipelines.split",
    "validate": "pipelines.validation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")
