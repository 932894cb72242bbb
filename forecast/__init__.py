"""Forecasting with recurrent networks: the `Forecaster`, baselines, metrics, tracking, jobs, experiments.

`Forecaster` trains any cell of `layers` on windows from `pipelines`;
`Naive`, `SeasonalNaive`, `Drift`, `ExponentialSmoothing` (ETS) and `Theta` share its
fit/predict/backtest API; `forecast.metrics` scores forecasts; `LanguageModel` models text. The
`forecast` command line (`forecast --help`) runs training, prediction,
backtests, the M3 demo, scheduled jobs and the 1997 LSTM experiments.

The names are resolved on first use (PEP 562), so `import forecast` and the
command line's `--help` do not load TensorFlow.
"""

from importlib import import_module

_EXPORTS = {
    "Backtest": "forecast.backtesting",
    "Drift": "forecast.baselines",
    "ExponentialSmoothing": "forecast.baselines",
    "Forecaster": "forecast.forecaster",
    "LanguageModel": "forecast.text",
    "Naive": "forecast.baselines",
    "SeasonalNaive": "forecast.baselines",
    "Theta": "forecast.baselines",
}

__all__ = [*sorted(_EXPORTS), "metrics"]


def __getattr__(name: str):
    if name == "metrics":
        return import_module("forecast.metrics")
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'forecast' has no attribute {name!r}")
