"""The Forecaster: one global recurrent network over many series.

A single network is trained on the windows of all series at once (a global
model, Salinas et al. 2020; Montero-Manso & Hyndman 2021). Each window holds
`lookback` past steps (the scaled target, past and future-known covariates,
calendar features), the future-known covariates of the `horizon` steps that
follow, and the static covariates of its series; the network forecasts all
`horizon` steps at once (direct strategy, MQ-RNN) or one step that is fed back
`horizon` times (recursive strategy). With `quantiles` it is trained with the
pinball loss and returns ordered quantile forecasts beside the median.

Training follows the usual safeguards for recurrent networks: gradients are
clipped by their global norm (Pascanu, Mikolov & Bengio, "On the difficulty of
training recurrent neural networks", ICML 2013), early stopping watches the
loss on the chronologically last windows of every series, and a non-finite
loss stops training with an error.
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from mlflow.models.model import ModelInfo
from sklearn.utils.validation import check_is_fitted

from forecast.backtesting import Backtest
from forecast.base import ID, TARGET, TIME, BaseForecaster
from forecast.inference import CompiledPredictor
from forecast.losses import PinballLoss
from forecast.metrics import OVERALL, mae, quantile_column, smape
from forecast.network import build_network
from forecast.tracking import EpochMetricsCallback, Tracker, tracking_run
from layers.registry import available
from pipelines.frequency import frequency_to_json, parse_frequency
from pipelines.validation import to_long_format
from pipelines.windows import SeriesWindows, Windows

STRATEGIES = ("direct", "recursive")
POINT_LOSSES = ("mae", "mse")
MEDIAN = 0.5
_MODEL_FILE = "model.keras"
_PIPELINE_FILE = "pipeline.json"
_PARAMS_FILE = "params.json"
_STATE_FILE = "fitted.json"
_HISTORY_FILE = "history.parquet"
_TUPLE_PARAMS = ("quantiles", "past_covariates", "future_covariates", "static_covariates", "calendar")


class Forecaster(BaseForecaster):
    """Global recurrent forecaster for many series in long format.

    Args:
        cell: recurrent layer name, one of `layers.registry.available()`
            (`"lstm"`, `"gru"`, `"cifg_lstm"`, ...).
        units: hidden units of every recurrent layer and of the decoder.
        num_layers: stacked recurrent layers.
        lookback: past steps the network reads before each forecast origin.
        horizon: steps forecast after each origin.
        quantiles: quantile levels in (0, 1) to forecast (columns `y_hat_q10`,
            ...) with the pinball loss; `y_hat` is then the median. None
            trains a point forecast with `loss`.
        strategy: `"direct"` (all `horizon` steps in one output) or
            `"recursive"` (a one-step network fed back `horizon` times;
            past-only covariates are not allowed, their future is unknown).
        loss: point-forecast loss, `"mae"` or `"mse"` (ignored with quantiles).
        dropout: input dropout of the recurrent layers.
        freq: pandas offset alias or integer step of `ds`; None infers it.
        past_covariates: columns observed only up to the origin.
        future_covariates: columns known for the horizon too (given for the
            future in `predict(..., future_df=...)`).
        static_covariates: numeric columns constant within each series.
        calendar: calendar features from `ds` (`("month", ...)`, `"auto"` or None).
        scaler: target scaling of the pipeline (`"standard"`, `"mean"`,
            `"last"` per window, ...; see `pipelines.scaling`).
        epochs: most passes over the training windows.
        batch_size: windows per gradient step.
        learning_rate: Adam step size.
        clipnorm: global gradient-norm clipping threshold (None: off).
        validation_windows: the last windows of every series held out for
            early stopping (0: no validation, train all `epochs`).
        patience: epochs without a better validation loss before stopping.
        seed: seeds Python, NumPy and the backend (`keras.utils.set_random_seed`)
            so that runs repeat exactly; None leaves the global state alone.
        verbose: Keras progress output (1: bar, 2: one line per epoch, 0: silent).
        tracking: log every `fit` and `backtest` as an MLflow run.
        experiment: MLflow experiment name.
        run_name: MLflow run name (None: MLflow picks one).
        register_as: also register the logged model under this name.
        tracking_errors: `"warn"` (train without tracking when the store is
            unreachable) or `"raise"`.

    Fitted attributes: `pipeline_` (the fitted `SeriesWindows`), `model_` (the
    Keras network), `history_` (per-epoch losses), `epochs_trained_`,
    `output_quantiles_` (quantile levels of the network output, None for a
    point network), `run_id_`, `model_uri_` and `registered_model_version_`
    (MLflow, None without tracking or registration), plus those of
    `BaseForecaster`.

    Example:

    ```python
    model = Forecaster(cell="gru", units=32, lookback=24, horizon=12, quantiles=[0.1, 0.9])
    forecasts = model.fit(train_df).predict()   # unique_id, ds, y_hat, y_hat_q10, y_hat_q90
    ```
    """

    def __init__(
        self,
        cell: str = "lstm",
        units: int = 32,
        num_layers: int = 1,
        lookback: int = 24,
        horizon: int = 12,
        quantiles: Sequence[float] | None = None,
        strategy: str = "direct",
        loss: str = "mae",
        dropout: float = 0.0,
        freq: str | int | None = None,
        past_covariates: Sequence[str] = (),
        future_covariates: Sequence[str] = (),
        static_covariates: Sequence[str] = (),
        calendar: Sequence[str] | str | None = None,
        scaler: str | None = "standard",
        epochs: int = 100,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        clipnorm: float | None = 1.0,
        validation_windows: int = 1,
        patience: int = 10,
        seed: int | None = 0,
        verbose: int = 1,
        tracking: bool = True,
        experiment: str = "forecast",
        run_name: str | None = None,
        register_as: str | None = None,
        tracking_errors: str = "warn",
    ):
        self.cell = cell
        self.units = units
        self.num_layers = num_layers
        self.lookback = lookback
        self.horizon = horizon
        self.quantiles = quantiles
        self.strategy = strategy
        self.loss = loss
        self.dropout = dropout
        self.freq = freq
        self.past_covariates = past_covariates
        self.future_covariates = future_covariates
        self.static_covariates = static_covariates
        self.calendar = calendar
        self.scaler = scaler
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.clipnorm = clipnorm
        self.validation_windows = validation_windows
        self.patience = patience
        self.seed = seed
        self.verbose = verbose
        self.tracking = tracking
        self.experiment = experiment
        self.run_name = run_name
        self.register_as = register_as
        self.tracking_errors = tracking_errors

    # ------------------------------------------------------------------ fit

    def fit(self, df: pd.DataFrame) -> Forecaster:
        """Train the network on every series of `df` (an MLflow run unless `tracking=False`).

        Args:
            df: long frame `unique_id, ds, y` plus the covariate columns.

        Returns:
            self, fitted.

        Raises:
            ValueError: for invalid settings, missing columns, or series too
                short for `lookback + horizon`.
            FloatingPointError: when the training loss becomes NaN or infinite
                (the MLflow run is then marked FAILED and no model is logged).
        """
        self._check_settings()
        df = to_long_format(df)
        self._check_columns(df, "fit")
        with tracking_run(
            enabled=self.tracking, experiment=self.experiment, run_name=self.run_name, on_error=self.tracking_errors
        ) as tracker:
            self._tracker = tracker
            try:
                super().fit(df)
            except BaseException:
                # A failed fit leaves no half-trained model behind.
                for name in [name for name in vars(self) if name.endswith("_") and not name.startswith("_")]:
                    delattr(self, name)
                raise
            finally:
                del self._tracker
            self.run_id_ = tracker.run_id
            self.model_uri_ = self.registered_model_version_ = None
            try:
                if tracker.run_id is not None:
                    logged = self._log_fit(tracker)
                    self.model_uri_, self.registered_model_version_ = logged.model_uri, logged.registered_model_version
            finally:
                del self._validation
        return self

    def _fit(self, df: pd.DataFrame) -> None:
        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        pipeline = self._new_pipeline().fit(df)
        windows = pipeline.transform(df)
        training, validation = chronological_split(windows, self.validation_windows, self.horizon)
        if len(training) == 0:
            raise ValueError(
                f"no training windows: every series needs more than lookback + horizon = "
                f"{self.lookback + self.horizon} observations"
            )
        if self.validation_windows and validation is None:
            warnings.warn(
                f"no series is long enough to hold out {self.validation_windows} validation window(s) after "
                f"its training windows (needs {self.lookback + 2 * self.horizon + self.validation_windows - 1} "
                f"observations); training all {self.epochs} epochs without early stopping",
                stacklevel=3,
            )
        if self.strategy == "recursive":
            _check_recursive_features(windows)
        self.pipeline_ = pipeline
        self.output_quantiles_ = sorted({*map(float, self.quantiles), MEDIAN}) if self.quantiles else None
        self.model_ = self._build_model(windows)
        history = self.model_.fit(
            *self._training_arrays(training),
            validation_data=None if validation is None else self._training_arrays(validation),
            epochs=self.epochs,
            batch_size=self.batch_size,
            shuffle=True,
            callbacks=self._callbacks(validation is not None),
            verbose=self.verbose,
        )
        self.history_ = {name: [float(v) for v in values] for name, values in history.history.items()}
        self.epochs_trained_ = len(self.history_["loss"])
        self._validation = validation

    def _build_model(self, windows: Windows) -> keras.Model:
        network = build_network(
            cell=self.cell,
            units=self.units,
            num_layers=self.num_layers,
            lookback=self.lookback,
            horizon=self._network_horizon(),
            n_past_features=len(windows.past_feature_names),
            n_future_features=len(windows.future_feature_names),
            n_static_features=len(windows.static_feature_names),
            n_quantiles=len(self.output_quantiles_) if self.output_quantiles_ else None,
            dropout=self.dropout,
        )
        loss = PinballLoss(self.output_quantiles_) if self.output_quantiles_ else self.loss
        # No XLA: compiling costs tens of seconds per model and gains little for these small networks.
        network.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate, clipnorm=self.clipnorm), loss=loss, jit_compile=False
        )
        return network

    def _callbacks(self, has_validation: bool) -> list[keras.callbacks.Callback]:
        callbacks: list[keras.callbacks.Callback] = [NonFiniteLossGuard()]
        if has_validation:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience, restore_best_weights=True)
            )
        if self._tracker.run_id is not None:
            callbacks.append(EpochMetricsCallback(self._tracker))
        return callbacks

    def _training_arrays(self, windows: Windows) -> tuple[dict[str, np.ndarray], np.ndarray]:
        inputs = windows.as_inputs()
        target = windows.target
        if self.strategy == "recursive":
            if "future" in inputs:
                inputs["future"] = inputs["future"][:, :1]
            target = target[:, :1]
        return inputs, target

    def _network_horizon(self) -> int:
        return 1 if self.strategy == "recursive" else self.horizon

    def _new_pipeline(self) -> SeriesWindows:
        return SeriesWindows(
            lookback=self.lookback,
            horizon=self.horizon,
            freq=self.freq,
            past_covariates=tuple(self.past_covariates),
            future_covariates=tuple(self.future_covariates),
            static_covariates=tuple(self.static_covariates),
            calendar=self.calendar,
            scaler=self.scaler,
        )

    # -------------------------------------------------------------- predict

    def predict(self, df: pd.DataFrame | None = None, future_df: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast the `horizon` steps after each series' last timestamp.

        Args:
            df: history of series seen in `fit` (None: the fitted data), with
                at least `lookback` rows per series and the covariate columns.
            future_df: `unique_id, ds` and the future covariate columns for the
                `horizon` steps after each series' end (needed only with
                `future_covariates`).

        Returns:
            `unique_id, ds, y_hat[, y_hat_qXX...]`, `horizon` rows per series
            with the real future timestamps, sorted by series and time.

        Raises:
            ValueError: for unknown series, a history shorter than `lookback`,
                missing covariate columns, or missing future covariate rows.
        """
        check_is_fitted(self)
        if df is None:
            data = self.train_df_
        else:
            data = to_long_format(df)
            self._check_columns(data, "predict")
            self._check_known_series(data)
        if self.future_covariates:
            if future_df is None:
                raise ValueError(
                    f"future_df is required: the model uses future covariates {list(self.future_covariates)} "
                    f"and needs their values for the {self.horizon} steps after each series' last timestamp"
                )
            self._check_columns(future_df, "future_df", time_varying_only=True)
        # The pipeline validates the frame once (grid, types, finite values, at least `lookback` rows).
        return self._forecast_frame(self.pipeline_.predict_windows(data, future_df))

    def _predict_cutoffs(self, df: pd.DataFrame, cutoffs: pd.DataFrame) -> pd.DataFrame:
        """Forecasts from every origin in `cutoffs`, from windows cut once out of `df`.

        `df` holds each series past its cutoffs (a backtest), so every origin
        is the origin of a complete window of `pipeline_.transform(df)`; the
        windows of all origins are predicted in one batched call.
        """
        self._check_columns(df, "backtest")
        windows = self.pipeline_.transform(df)
        origins = windows.index.rename(columns={TIME: "cutoff"}).reset_index().rename(columns={"index": "window"})
        wanted = cutoffs[[ID, "cutoff"]].merge(origins, on=[ID, "cutoff"], how="left")
        if wanted["window"].isna().any():
            bad = wanted[wanted["window"].isna()].iloc[0]
            raise ValueError(
                f"series {bad[ID]!r} has no complete window with origin {bad['cutoff']}: a forecast origin needs "
                f"lookback={self.lookback} observations up to it and horizon={self.horizon} after it"
            )
        windows = windows.select(wanted["window"].to_numpy(np.int64))
        forecasts = self._forecast_frame(windows)
        forecasts.insert(2, "cutoff", pd.Index(windows.index[TIME]).repeat(self.horizon))
        return forecasts

    def _forecast_frame(self, windows: Windows) -> pd.DataFrame:
        """Long frame `unique_id, ds, y_hat[, y_hat_qXX]`: one row per window and step, in window order."""
        outputs = windows.inverse_target(self._predict_scaled(windows))
        columns = {ID: np.repeat(windows.index[ID].to_numpy(), self.horizon), TIME: windows.forecast_times}
        if self.output_quantiles_ is None:
            columns["y_hat"] = outputs.reshape(-1)
        else:
            by_level = outputs.reshape(-1, len(self.output_quantiles_))
            columns["y_hat"] = by_level[:, self.output_quantiles_.index(MEDIAN)]
            for level in sorted(map(float, self.quantiles)):
                columns[quantile_column(level)] = by_level[:, self.output_quantiles_.index(level)]
        return pd.DataFrame(columns)

    def _predict_scaled(self, windows: Windows) -> np.ndarray:
        """Network outputs in the scaled space: `(n, horizon)` or `(n, horizon, n_quantiles)`."""
        inputs = windows.as_inputs()
        if self.strategy == "direct":
            return self._call_network(inputs)
        return self._recursive_forecast(inputs)

    def _recursive_forecast(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Feed the one-step median forecast back `horizon` times.

        ```
        y_hat_{T+k} = f(x_{T+k-L+1..T+k-1}, [y_hat_{T+k}-1; future_{T+k-1}], future_{T+k}, s)
        ```

        Quantiles of later steps are conditional on the median path (a plug-in
        approximation, not the quantiles of the multi-step distribution).
        """
        past = inputs["past"]
        future = inputs.get("future")
        steps = []
        for step in range(self.horizon):
            step_inputs = {**inputs, "past": past}
            if future is not None:
                step_inputs["future"] = future[:, step : step + 1]
            output = self._call_network(step_inputs)[:, 0]
            steps.append(output)
            median = output if self.output_quantiles_ is None else output[:, self.output_quantiles_.index(MEDIAN)]
            next_row = (
                median[:, None] if future is None else np.concatenate([median[:, None], future[:, step]], axis=-1)
            )
            past = np.concatenate([past[:, 1:], next_row[:, None, :].astype(past.dtype)], axis=1)
        return np.stack(steps, axis=1)

    def __getstate__(self) -> dict:
        # The compiled predictor is a cache of `model_` (a tf.function cannot be pickled); it is rebuilt on use.
        state = super().__getstate__()
        state.pop("_predictor", None)
        return state

    def _call_network(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        # One XLA-compiled function per trained model, built on first use (see forecast.inference).
        predictor = getattr(self, "_predictor", None)
        if predictor is None or predictor.model is not self.model_:
            predictor = self._predictor = CompiledPredictor(self.model_)
        return predictor(inputs)

    # ------------------------------------------------------------- backtest

    def backtest(
        self,
        df: pd.DataFrame,
        n_windows: int = 1,
        step: int | None = None,
        refit: bool | int = False,
        season_length: int | None = None,
        metrics: tuple[str, ...] | None = None,
    ) -> Backtest:
        """Rolling-origin evaluation (see `BaseForecaster.backtest`), logged as an MLflow run.

        Without refit and unfitted, a clone is fitted on each series' history up
        to its first origin; all origins are then predicted in one batched call.
        """
        df = to_long_format(df)
        run_name = _backtest_run_name(self.run_name)
        with tracking_run(
            enabled=self.tracking, experiment=self.experiment, run_name=run_name, on_error=self.tracking_errors
        ) as tracker:
            result = super().backtest(df, n_windows, step, refit, season_length, metrics)
            if tracker.run_id is not None:
                self._log_backtest(tracker, df, result, n_windows, step, refit)
        return result

    # ----------------------------------------------------------- save/load

    def save(self, path: str | Path) -> Path:
        """Write the fitted forecaster to the directory `path`.

        The directory holds `model.keras` (the network), `pipeline.json`
        (`SeriesWindows.get_config()`), `params.json` (constructor arguments),
        `fitted.json` (the learned series frequencies and training history)
        and `history.parquet` (the last `lookback` rows of every series, so
        `predict()` without a frame works after loading).
        """
        check_is_fitted(self)
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        self.model_.save(directory / _MODEL_FILE)
        _write_json(directory / _PIPELINE_FILE, self.pipeline_.get_config())
        _write_json(directory / _PARAMS_FILE, self.get_params())
        _write_json(
            directory / _STATE_FILE,
            {
                "series_ids": [_json_scalar(i) for i in self.series_ids_],
                "freq": frequency_to_json(self.freq_),
                "output_quantiles": self.output_quantiles_,
                "history": self.history_,
                "epochs_trained": self.epochs_trained_,
                "run_id": self.run_id_,
                "model_uri": self.model_uri_,
                "registered_model_version": self.registered_model_version_,
            },
        )
        self.train_df_.groupby(ID, sort=False).tail(self.lookback).to_parquet(directory / _HISTORY_FILE, index=False)
        return directory

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        """Read a forecaster written by `save` (the Keras model is loaded with `safe_mode=True`)."""
        directory = Path(path)
        expected = (_MODEL_FILE, _PIPELINE_FILE, _PARAMS_FILE, _STATE_FILE, _HISTORY_FILE)
        missing = [name for name in expected if not (directory / name).exists()]
        if missing:
            raise FileNotFoundError(f"{directory} is not a saved Forecaster: missing {missing}")
        params = _read_json(directory / _PARAMS_FILE)
        for name in _TUPLE_PARAMS:
            if isinstance(params.get(name), list):
                params[name] = tuple(params[name])
        forecaster = cls(**params)
        state = _read_json(directory / _STATE_FILE)
        forecaster.model_ = keras.saving.load_model(directory / _MODEL_FILE, safe_mode=True, compile=False)
        forecaster.pipeline_ = SeriesWindows.from_config(_read_json(directory / _PIPELINE_FILE))
        forecaster.series_ids_ = np.asarray(state["series_ids"])
        forecaster.freq_ = parse_frequency(state["freq"])
        forecaster.output_quantiles_ = state["output_quantiles"]
        forecaster.history_ = state["history"]
        forecaster.epochs_trained_ = state["epochs_trained"]
        forecaster.run_id_ = state["run_id"]
        forecaster.model_uri_ = state["model_uri"]
        forecaster.registered_model_version_ = state["registered_model_version"]
        forecaster.train_df_ = pd.read_parquet(directory / _HISTORY_FILE)
        return forecaster

    # ------------------------------------------------------------- checks

    def _check_settings(self) -> None:
        names = available()
        if self.cell not in names:
            raise ValueError(f"cell must be one of {list(names)}; got {self.cell!r}")
        for name in ("units", "num_layers", "lookback", "horizon", "epochs", "batch_size", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        windows = self.validation_windows
        if isinstance(windows, bool) or not isinstance(windows, (int, np.integer)) or windows < 0:
            raise ValueError(f"validation_windows must be a non-negative integer; got {self.validation_windows!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {list(STRATEGIES)}; got {self.strategy!r}")
        if self.loss not in POINT_LOSSES:
            raise ValueError(f"loss must be one of {list(POINT_LOSSES)}; got {self.loss!r}")
        if self.quantiles is not None:
            levels = list(self.quantiles)
            if not levels or any(not isinstance(q, (float, int, np.floating)) or not 0.0 < q < 1.0 for q in levels):
                raise ValueError(
                    f"quantiles must be a non-empty list of levels strictly between 0 and 1; got {self.quantiles!r}"
                )
            if len(set(levels)) != len(levels):
                raise ValueError(f"quantiles must not repeat a level; got {self.quantiles!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number; got {self.learning_rate!r}")
        if self.clipnorm is not None and not (isinstance(self.clipnorm, (int, float)) and self.clipnorm > 0):
            raise ValueError(f"clipnorm must be a positive number or None; got {self.clipnorm!r}")
        if self.strategy == "recursive" and self.past_covariates:
            raise ValueError(
                f"strategy='recursive' cannot use past_covariates {list(self.past_covariates)}: their values after "
                "the origin are unknown; use strategy='direct' or pass them as future_covariates"
            )
        if self.tracking_errors not in ("warn", "raise"):
            raise ValueError(f"tracking_errors must be 'warn' or 'raise'; got {self.tracking_errors!r}")

    def _check_columns(self, df: pd.DataFrame, where: str, time_varying_only: bool = False) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{where} expects a pandas DataFrame in long format; got {type(df).__name__}")
        required = (
            [ID, TIME] if time_varying_only else [ID, TIME, TARGET, *self.past_covariates, *self.static_covariates]
        )
        required += list(self.future_covariates)
        missing = [column for column in required if column not in df.columns]
        if missing:
            raise ValueError(f"{where}: missing column(s) {missing}; expected {required}, found {list(df.columns)}")

    # ------------------------------------------------------------- MLflow

    def _log_fit(self, tracker: Tracker) -> ModelInfo:
        from forecast.plots import plot_forecasts, plot_learning_curve
        from forecast.pyfunc import log_forecaster

        data = self.train_df_
        lengths = data.groupby(ID, sort=True).size()
        tracker.log_params(self.get_params())
        tracker.log_params(
            {
                "data.n_series": len(lengths),
                "data.n_observations": len(data),
                "data.min_length": int(lengths.min()),
                "data.median_length": float(lengths.median()),
                "data.max_length": int(lengths.max()),
                "data.freq": str(frequency_to_json(self.freq_)),
            }
        )
        final = {"epochs_trained": self.epochs_trained_, "final_loss": self.history_["loss"][-1]}
        if "val_loss" in self.history_:
            final["best_val_loss"] = min(self.history_["val_loss"])
        validation = self._validation
        if validation is not None:
            forecasts = self._forecast_frame(validation)
            scored = forecasts.merge(data[[ID, TIME, TARGET]], on=[ID, TIME], how="left")
            final["val_mae"] = mae(scored[TARGET], scored["y_hat"])
            final["val_smape"] = smape(scored[TARGET], scored["y_hat"])
            figure = plot_forecasts(data, forecasts, actual_df=data)
            tracker.log_figure(figure, "forecast_vs_actual.png")
        tracker.log_metrics(final)
        tracker.log_figure(plot_learning_curve(self.history_), "learning_curve.png")
        self._log_gradient_flow(tracker)
        return log_forecaster(self, input_example=self._input_example(), register_as=self.register_as)

    def _log_gradient_flow(self, tracker: Tracker) -> None:
        from layers.gradient_flow import gradient_flow, plot_gradient_flow

        encoder = keras.Model(self.model_.get_layer("past").output, self.model_.get_layer("encoding").output)
        sample = self.pipeline_.transform(self.train_df_).past[:64]
        norms = gradient_flow(encoder, np.asarray(sample))
        with tempfile.TemporaryDirectory() as directory:
            tracker.log_artifact(plot_gradient_flow({self.cell: norms}, Path(directory) / "gradient_flow.png"))

    def _input_example(self) -> pd.DataFrame:
        """A pyfunc input: the last `lookback` rows of the first two series.

        With future covariates the history ends `horizon` steps early and
        those steps follow as future rows (empty `y`, known covariates).
        """
        data = self.train_df_[self.train_df_[ID].isin(self.series_ids_[:2])]
        from_end = data.groupby(ID, sort=False).cumcount(ascending=False).to_numpy()
        if not self.future_covariates:
            return data[from_end < self.lookback].reset_index(drop=True)
        kept = from_end < self.lookback + self.horizon
        example = data[kept].reset_index(drop=True)
        example[TARGET] = example[TARGET].astype(float).where(from_end[kept] >= self.horizon)
        return example

    def _log_backtest(
        self, tracker: Tracker, df: pd.DataFrame, result: Backtest, n_windows: int, step: int | None, refit: bool | int
    ) -> None:
        from forecast.plots import plot_forecasts

        tracker.log_params(self.get_params())
        tracker.log_params(
            {"backtest.n_windows": n_windows, "backtest.step": step or self.horizon, "backtest.refit": refit}
        )
        overall = result.metrics[result.metrics[ID] == OVERALL]
        numeric = overall.select_dtypes("number").iloc[0] if len(overall) else pd.Series(dtype=float)
        tracker.log_metrics(
            {f"backtest_{name}": float(value) for name, value in numeric.items() if math.isfinite(value)}
        )
        tracker.log_figure(plot_forecasts(df, result.forecasts, actual_df=df), "backtest_forecasts.png")
        with tempfile.TemporaryDirectory() as directory:
            table = Path(directory) / "backtest_metrics.csv"
            result.metrics.to_csv(table, index=False)
            tracker.log_artifact(table)


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stops training with `FloatingPointError` as soon as the loss is NaN or infinite.

    Unlike `keras.callbacks.TerminateOnNaN`, which ends training quietly, this
    raises, so the model is neither saved nor logged as a success.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, "loss", f"epoch {self._epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, "val_loss", f"epoch {epoch + 1} (validation)")

    @staticmethod
    def _check(logs, name: str, where: str) -> None:
        value = (logs or {}).get(name)
        if value is not None and not math.isfinite(float(value)):
            raise FloatingPointError(
                f"training stopped: the {name} became {float(value)} at {where}. Lower learning_rate, keep "
                "gradient clipping on (clipnorm), or check the data for extreme values."
            )


def chronological_split(windows: Windows, validation_windows: int, horizon: int) -> tuple[Windows, Windows | None]:
    """Training and validation windows, validation strictly after training in every series.

    Windows of a series are consecutive origins (stride 1), oldest first. With
    `r` the rank of a window from the series' end (0 = last window) and
    `V = validation_windows`:

    ```
    validation:  r <  V
    training:    r >= V + horizon - 1   (its targets end before the first validation target)
    ```

    Windows in between would share target steps with the validation windows
    and are dropped. A series with too few windows for both parts (at most
    `V + horizon - 1`) gives all its windows to training.

    Returns:
        `(training, validation)`; validation is None when no series has one.
    """
    series = windows.index[ID].to_numpy()
    rank_from_end = windows.index.groupby(ID, sort=False).cumcount(ascending=False).to_numpy()
    count = pd.Series(series).map(pd.Series(series).value_counts()).to_numpy()
    if validation_windows == 0:
        return windows, None
    has_validation = count > validation_windows + horizon - 1
    is_validation = has_validation & (rank_from_end < validation_windows)
    is_training = ~has_validation | (rank_from_end >= validation_windows + horizon - 1)
    validation = windows.select(np.flatnonzero(is_validation)) if is_validation.any() else None
    return windows.select(np.flatnonzero(is_training)), validation


def _check_recursive_features(windows: Windows) -> None:
    """The recursive strategy builds the next past row as `[y_hat; future features]`."""
    future_names = [] if windows.future is None else list(windows.future_feature_names)
    if list(windows.past_feature_names[1:]) != future_names:
        raise ValueError(
            "strategy='recursive' needs the past features to be the target followed by the future features "
            f"{future_names}; found past features {list(windows.past_feature_names)}"
        )


def _backtest_run_name(run_name: str | None) -> str:
    return f"{run_name}-backtest" if run_name else "backtest"


def _json_scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _write_json(path: Path, payload) -> None:
    path.write_text(json.dumps(payload, indent=2, default=_json_scalar))


def _read_json(path: Path):
    return json.loads(path.read_text())
