"""Forecasting with recurrent networks: the `Forecaster`, baselines, metrics, tracking, jobs, experiments.

`Forecaster` trains any cell of `layers` on windows from `pipelines`;
`Naive`, `SeasonalNaive` and `Drift` share its fit/predict/backtest API;
`forecast.metrics` scores forecasts; `LanguageModel` models text. The
`forecast` command line (`forecast --help`) runs training, prediction,
backtests, the M3 demo, scheduled jobs and the 1997 LSTM experiments.
"""

from forecast import metrics
from forecast.backtesting import Backtest
from forecast.baselines import Drift, Naive, SeasonalNaive
from forecast.forecaster import Forecaster
from forecast.language_model import LanguageModel

__all__ = ["Backtest", "Drift", "Forecaster", "LanguageModel", "Naive", "SeasonalNaive", "metrics"]
