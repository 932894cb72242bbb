"""The tracking side of a forecaster: MLflow runs around `fit` and `backtest`, and what they log.

An estimator knows nothing of MLflow. When its `tracking` parameter is true, its `fit` and
`backtest` hand the validated frame to `tracked_fit` or `tracked_backtest`, which open
a run (`forecast.tracking.tracking_run`; the estimator's `tracking` setting, a
`forecast.settings.Tracking`, names its experiment, run and registered model), run the estimator's own fit or backtest inside it, and log:

- a fit: the parameters, a summary of the data, the epoch losses (`epoch_metrics_logger`), the final and
  validation metrics, the forecast-vs-actual plot of the validation windows, the learning curve,
  the gradient-flow plot of the encoder, and the model as an MLflow pyfunc model
  (`forecast.pyfunc`), registered under `register_as` when given;
- a backtest: the parameters, the backtest settings, the overall scores, a forecast plot and the
  score table.

The fitted estimator gets `run_id_`, `model_uri_` and `registered_model_version_`.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.backtesting import Backtest
from forecast.metrics import OVERALL, mae, smape
from forecast.plots import plot_forecasts, plot_learning_curve
from forecast.pyfunc import log_forecaster, quiet_mlflow
from forecast.settings import tracking_settings
from forecast.tracking import Tracker, tracking_run
from pipelines.columns import ID, TARGET, TIME
from pipelines.frequency import frequency_to_json
from pipelines.settings import settings_to_json
from pipelines.validation import CheckedFrame


def epoch_metrics_logger(tracker: Tracker) -> Callable[[int, Mapping[str, Any] | None], None]:
    """`on_epoch_end(epoch, logs)` logging every epoch's logs (`loss`, `val_loss`, ...) with `step=epoch`: a
    listener the estimator calls after each training epoch (a Keras `LambdaCallback`'s `on_epoch_end`), so that
    tracking a fit that trains no network never loads TensorFlow."""

    def on_epoch_end(epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        scalars = {key: float(value) for key, value in (logs or {}).items() if _is_scalar(value)}
        tracker.log_metrics(scalars, step=epoch)

    return on_epoch_end


GRADIENT_FLOW_WINDOWS = 64
"""Training windows the gradient-flow plot averages over."""


def tracked_fit(estimator: Any, checked: CheckedFrame) -> Any:
    """Fit `estimator` on a validated frame inside an MLflow run and log the fitted model.

    Returns the estimator's fit report. A fit that raises marks the run FAILED and logs no model.
    """
    settings = tracking_settings(estimator.tracking)
    with tracking_run(
        enabled=True, experiment=settings.experiment, run_name=settings.run_name, on_error=settings.errors
    ) as tracker:
        listeners = [epoch_metrics_logger(tracker)] if tracker.active else []
        report = estimator._fit_checked(checked, listeners)
        estimator.run_id_ = tracker.run_id
        if tracker.active:
            with quiet_mlflow(verbose=estimator.verbose):
                logged = log_fit(tracker, estimator, report)
            if logged is not None:
                estimator.model_uri_ = logged.model_uri
                estimator.registered_model_version_ = logged.registered_model_version
    return report


def tracked_backtest(
    estimator: Any,
    checked: CheckedFrame,
    cutoffs: pd.DataFrame,
    step: int,
    refit: bool | int,
    season_length: int | None,
    metrics: Sequence[str] | None,
) -> Backtest:
    """Run `estimator`'s backtest at `cutoffs` inside an MLflow run and log its scores."""
    settings = tracking_settings(estimator.tracking)
    run_name = f"{settings.run_name}-backtest" if settings.run_name else "backtest"
    with tracking_run(
        enabled=True, experiment=settings.experiment, run_name=run_name, on_error=settings.errors
    ) as tracker:
        result = estimator._backtest_checked(checked, cutoffs, refit, season_length, metrics)
        if tracker.active:
            log_backtest(tracker, estimator, checked.frame, result, cutoffs, step, refit)
    return result


def _is_scalar(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return getattr(value, "ndim", 0) == 0


def log_fit(tracker: Tracker, estimator: Any, report: Any):
    """Log a fitted forecaster to the tracker's run; returns MLflow's `ModelInfo` (None when logging failed)."""
    data = estimator.train_df_
    lengths = data.groupby(ID, sort=True).size()
    tracker.log_params(logged_settings(estimator))
    tracker.log_params(
        {
            "data.n_series": len(lengths),
            "data.n_observations": len(data),
            "data.min_length": int(lengths.min()),
            "data.median_length": float(lengths.median()),
            "data.max_length": int(lengths.max()),
            "data.freq": str(frequency_to_json(estimator.freq_)),
        }
    )
    final = final_metrics(estimator.history_)
    forecasts = getattr(report, "validation_forecasts", None)
    if forecasts is not None:
        scored = forecasts.merge(data[[ID, TIME, TARGET]], on=[ID, TIME], how="left")
        final["val_mae"] = mae(scored[TARGET], scored["y_hat"])
        final["val_smape"] = smape(scored[TARGET], scored["y_hat"])
        final["val_mase"] = estimator.validation_mase_
        tracker.log_figure(plot_forecasts(data, forecasts, actual_df=data), "forecast_vs_actual.png")
    log_combination(tracker, estimator)
    # The model and the metrics it is known by go at the step after the last epoch: MLflow gives a logged
    # model the run's metrics of its step, and those of the epochs (steps 0 .. epochs - 1) are not the model's.
    step = final["epochs_trained"]
    tracker.log_metrics(final, step=step)
    if estimator.model_ is not None:
        tracker.log_figure(plot_learning_curve(estimator.history_), "learning_curve.png")
        log_gradient_flow(tracker, estimator, report.training)
    return tracker.call(
        "log_model",
        lambda: log_forecaster(
            estimator,
            input_example=input_example(estimator),
            register_as=tracking_settings(estimator.tracking).register_as,
            step=step,
        ),
    )


def logged_settings(estimator: Any) -> dict[str, Any]:
    """The estimator's settings as its run records them: their saved form, but a strategy object by its repr
    (a saved model keeps only a strategy's name; the run should say which devices trained it)."""
    settings = settings_to_json(estimator)
    distribution = getattr(estimator, "distribution", None)
    if distribution is not None and not isinstance(distribution, str):
        settings["distribution"] = repr(distribution)
    return settings


def final_metrics(history: dict[str, list[float]]) -> dict[str, float]:
    """The metrics a fitted model is known by: epochs, last training loss, best validation loss (no losses when
    no network was trained)."""
    final = {"epochs_trained": len(history["loss"])}
    if history["loss"]:
        final["final_loss"] = history["loss"][-1]
    if history.get("val_loss"):
        final["best_val_loss"] = min(history["val_loss"])
    return final


def log_combination(tracker: Tracker, estimator: Any) -> None:
    """The weight on the network of every series, and why (`forecast.combination`): parameters and a table; the
    weight on Theta in the statistical half, and why (`forecast.theta`)."""
    combination = getattr(estimator, "combination_", None)
    if combination is None:
        return
    weights = pd.Series(combination.weights, dtype=np.float64)
    tracker.log_params(
        {
            "combination.rule": combination.rule,
            "combination.default_weight": combination.default_weight,
            "combination.summary": combination.summary(),
            "network_skipped": estimator.network_skipped_ or "",
            "statistical.theta_weight": estimator.theta_weight_,
            "statistical.theta_rule": estimator.theta_rule_,
        }
    )
    if len(weights):
        tracker.log_metrics({"combination.mean_weight": float(weights.mean())})
    with tempfile.TemporaryDirectory() as directory:
        table = Path(directory) / "combination.csv"
        combination.table.to_csv(table, index=False)
        tracker.log_artifact(table)


def log_gradient_flow(tracker: Tracker, estimator: Any, training) -> None:
    """Per-lag gradient norms of the encoder (`layers.gradient_flow`) over the first training windows (a fit that
    trained a network: TensorFlow is loaded then)."""
    import keras

    from layers.gradient_flow import gradient_flow, plot_gradient_flow

    network = estimator.model_
    # An ensemble's members share the input; the first member's encoder stands for all of them.
    names = {layer.name for layer in network.layers}
    encoding = "encoding" if "encoding" in names else "encoding_0"
    encoder = keras.Model(network.get_layer("past").output, network.get_layer(encoding).output)
    sample = training.batch(np.arange(min(GRADIENT_FLOW_WINDOWS, len(training))))[0]["past"]
    norms = gradient_flow(encoder, np.asarray(sample))
    with tempfile.TemporaryDirectory() as directory:
        tracker.log_artifact(plot_gradient_flow({estimator.cell: norms}, Path(directory) / "gradient_flow.png"))


def input_example(estimator: Any) -> pd.DataFrame:
    """A pyfunc input: the last `lookback` rows of the first two series.

    With future covariates the history ends `horizon` steps early and those steps follow as
    future rows (empty `y`, known covariates).
    """
    data = estimator.train_df_[estimator.train_df_[ID].isin(estimator.series_ids_[:2])]
    from_end = data.groupby(ID, sort=False).cumcount(ascending=False).to_numpy()
    if not estimator.future_covariates:
        return data[from_end < estimator.lookback].reset_index(drop=True)
    kept = from_end < estimator.lookback + estimator.horizon
    example = data[kept].reset_index(drop=True)
    example[TARGET] = example[TARGET].astype(float).where(from_end[kept] >= estimator.horizon)
    return example


def log_backtest(
    tracker: Tracker,
    estimator: Any,
    df: pd.DataFrame,
    result: Backtest,
    cutoffs: pd.DataFrame,
    step: int,
    refit: bool | int,
) -> None:
    """Log a backtest's settings, overall scores, forecast plot and score table."""
    n_windows = int(cutoffs["window"].max()) + 1
    tracker.log_params(logged_settings(estimator))
    tracker.log_params({"backtest.n_windows": n_windows, "backtest.step": step, "backtest.refit": refit})
    overall = result.metrics[result.metrics[ID] == OVERALL]
    numeric = overall.select_dtypes("number").iloc[0] if len(overall) else pd.Series(dtype=float)
    tracker.log_metrics({f"backtest_{name}": float(value) for name, value in numeric.items() if math.isfinite(value)})
    tracker.log_figure(plot_forecasts(df, result.forecasts, actual_df=df), "backtest_forecasts.png")
    with tempfile.TemporaryDirectory() as directory:
        table = Path(directory) / "backtest_metrics.csv"
        result.metrics.to_csv(table, index=False)
        tracker.log_artifact(table)
