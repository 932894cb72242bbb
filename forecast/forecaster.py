"""The Forecaster: one global recurrent network over many series.

A single network is trained on the windows of all series at once (a global
model, Salinas et al. 2020; Montero-Manso & Hyndman 2021). Each window holds
`lookback` past steps (the scaled target, past and future-known covariates,
calendar features), the future-known covariates of the `horizon` steps that
follow, and the static covariates of its series; the network forecasts all
`horizon` steps at once (direct strategy, MQ-RNN) or one step that is fed back
`horizon` times (recursive strategy). With `quantiles` it is trained with the
pinball loss and returns ordered quantile forecasts beside the median, their
intervals calibrated on held-out windows (`forecast.calibration`).

The defaults come from measurements on series nobody tuned for (the M1, M3
and Tourism competitions, single short series; the validation tables are in
docs/benchmarks/validation.md): every window is scaled by the mean absolute value of its own
past (`scaler="window_mean"`, as DeepAR), seasonal series are divided by their
multiplicative seasonal indices first (`deseasonalize=True`; Hewamalage,
Bergmeir & Bandara 2021), histories shorter than `lookback` are left-padded
with an "observed" flag (`min_past=1`), the number of optimizer steps is
planned from the number of windows (`forecast.training`), and the forecast of
every series blends the network's with a statistical forecast: exponential
smoothing's (`forecast.exponential_smoothing`), for series without a season
averaged with the optimised Theta model's (`forecast.theta`: in the
proportion the held-out windows choose, equal parts where they are too few).
The blend's proportion is chosen on held-out validation origins
(`combine_with="auto"`, `forecast.combination`): the statistical forecast
alone where nothing can be held out, and no network trained where it already
wins.
`ensemble_size > 1` trains several members in one wider network and combines
them by the median.

Training follows the usual safeguards for recurrent networks: the gradient of
every weight is clipped to a largest norm (Keras's `clipnorm`; Pascanu,
Mikolov & Bengio, "On the difficulty of training recurrent neural networks",
ICML 2013), early stopping watches the
loss on the chronologically last windows of every series, the learning rate
halves when that loss stalls, and a non-finite loss stops training with an
error. With `refit_on_all_windows=True`, once early stopping has chosen the
number of epochs, a fresh network is trained on every window, the held-out
ones included, for that many epochs, so that the most recent values of every
series are learned from too (the refit of a model selected on a validation
split, as scikit-learn's `GridSearchCV(refit=True)`); it is off by default
because its gain was within the spread between seeds (docs/benchmarks/validation.md).
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import warnings
import zipfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from forecast.base import (
    PARAMS_FILE,
    PIPELINE_FILE,
    STATE_FILE,
    BaseForecaster,
    EpochListener,
    SavedModelError,
    _json_scalar,
)
from forecast.calibration import ConformalIntervals
from forecast.combination import (
    Combination,
    blend,
    choose,
    evidence,
    no_evidence,
    too_little_evidence,
)
from forecast.exponential_smoothing import (
    EtsModels,
    ets_continued_forecasts,
    ets_point_forecasts,
    ets_rolling_forecasts,
    fit_ets,
)
from forecast.holdout import validation_split
from forecast.metrics import positive_mase_scales, quantile_column
from forecast.sanity import SANE_BAND, history_range, within_sane_band
from forecast.settings import ForecasterSettings
from forecast.theta import choose_theta_weight, prior_theta_weight
from pipelines.columns import ID, TARGET, TIME
from pipelines.rows import last_values, rows_in_series, sorted_positions, time_values, values_differ
from pipelines.validation import CheckedFrame, ValidationError, shown_ids
from pipelines.windows import OBSERVED, SeriesWindows, Windows

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

MEDIAN = 0.5
MODEL_FILE = "model.keras"


class Forecaster(ForecasterSettings, BaseForecaster):
    """Global recurrent forecaster for many series in long format.

    Settings (keyword-only): the windowing settings of `SeriesWindows` (`lookback`, `horizon`, covariates,
    calendar, scaling, `min_past`, `season_length`, `deseasonalize`, `fill`, `short_series`; passed on to the
    pipeline it fits) and the network, training, combination and tracking settings, each declared once with its
    default and help in `forecast.settings` (also `forecast train --help` and the docs' settings reference).
    The defaults come from the benchmarks on data nobody tuned for.

    The `tracking` setting (`True`, `False` or `forecast.settings.Tracking(...)`) configures `forecast.tracked`,
    which runs `fit` and `backtest` inside an MLflow run; the estimator itself never imports MLflow.

    Fitted attributes: `pipeline_` (the fitted `SeriesWindows`), `model_` (the
    Keras network), `history_` (per-epoch losses), `epochs_trained_`,
    `batch_size_` and `epochs_planned_` (the training plan), `refit_epochs_`
    (epochs of the refit on every window, None without one), `combine_with_`
    (the combination the model was fitted and calibrated with), `output_quantiles_`
    (quantile levels of the network output, None for a point network),
    `series_scale_` (each series' MASE scale), `series_low_` and `series_high_` (each series'
    smallest and largest value in the fit, read by `nonnegative="auto"` and the sane band), `intervals_` (the conformal
    offsets, or None), `ets_` (the ETS models kept for every series, continued by `predict`), `ets_ends_` and
    `ets_last_values_` (each series' last time stamp and last `lookback` values in the fit: a history whose values
    differ gets ETS fitted anew), `theta_weight_` and `theta_rule_` (the weight on the Theta method in the statistical half,
    and why; `forecast.theta`), plus those of `BaseForecaster` (`run_id_`, `model_uri_`
    and `registered_model_version_` are set by a tracked fit).

    Example:

    ```python
    model = Forecaster(cell="gru", units=32, lookback=24, horizon=12, quantiles=[0.1, 0.9])
    forecasts = model.fit(train_df).predict()   # unique_id, ds, y_hat, y_hat_q10, y_hat_q90
    ```
    """

    fit_only_settings = BaseForecaster.fit_only_settings | {
        "batch_size",
        "clipnorm",
        "distribution",
        "dropout",
        "epochs",
        "learning_rate",
        "loss",
        "min_steps",
        "patience",
        "refit_on_all_windows",
        "seed",
        "validation_windows",
    }

    # ------------------------------------------------------------------ fit

    def fit(self, df: pd.DataFrame | pd.Series) -> Forecaster:
        """Train the network on every series of `df` (an MLflow run unless `tracking=False`).

        Args:
            df: long frame `unique_id, ds, y` plus the covariate columns, or
                one series with a `DatetimeIndex`.

        Returns:
            self, fitted.

        Raises:
            ValueError: for invalid settings, missing columns, or series too
                short for `lookback + horizon` (`pipelines.ValidationError`
                names the series, column and time stamp).
            FloatingPointError: when the training loss becomes NaN or infinite
                (the MLflow run is then marked FAILED and no model is logged).
        """
        return super().fit(df)

    def _fit(self, checked: CheckedFrame, listeners: Sequence[EpochListener | keras.callbacks.Callback]) -> FitReport:
        if self.seed is not None:  # TensorFlow's and Keras's seeds are set where a network trains (`_train`)
            random.seed(self.seed)
            np.random.seed(self.seed)
        pipeline = self._new_pipeline().fit(checked)
        windows = pipeline.transform(checked)
        training, validation = validation_split(windows, self.validation_windows, self.horizon)
        if self.strategy == "recursive":
            _check_recursive_features(windows)
        frame = checked.frame
        self.pipeline_ = pipeline
        self.combine_with_ = self.combine_with
        self.output_quantiles_ = self._output_quantiles()
        scales = positive_mase_scales(frame, pipeline.season_length_)
        self.series_scale_ = _series_table(scales.index, scales.to_numpy())
        target, starts, fitted_ids = checked.values(TARGET), checked.series_starts[:-1], checked.series_ids
        self.series_low_ = _series_table(fitted_ids, np.minimum.reduceat(target, starts))
        self.series_high_ = _series_table(fitted_ids, np.maximum.reduceat(target, starts))
        # ETS runs in a thread (Numba releases the GIL) while the network trains: first the forecasts from the
        # validation origins (the abandon check reads them during training), then the models of the whole
        # histories (only predict needs them).
        background = ThreadPoolExecutor(max_workers=1)
        try:
            held_out_future = background.submit(self._rolling_statistical, validation, checked)
            whole_ets = background.submit(self._fit_ets, checked) if self.combine_with is not None else None
            self.network_skipped_ = self._network_not_needed(training, validation)
            self.model_ = None
            self.history_, self.epochs_trained_, self.refit_epochs_ = {"loss": []}, 0, None
            self.batch_size_, self.epochs_planned_ = None, 0
            if self.network_skipped_ is None:
                self._train(training, validation, windows, held_out_future, listeners)
            held_out_statistical = held_out_future.result()
            self.theta_weight_, self.theta_rule_ = held_out_statistical.theta_weight, held_out_statistical.rule
            ets_validation = held_out_statistical.forecasts
            self.ets_, self.ets_ends_, self.ets_last_values_ = (None,) * 3 if whole_ets is None else whole_ets.result()
        finally:
            background.shutdown(wait=True, cancel_futures=True)
        # The network forecasts the held-out windows once: for the choice, the offsets and the validation MASE.
        network = None if validation is None or self.model_ is None else self._network_values(validation)
        self.combination_ = self._choose_combination(validation, ets_validation, network, checked.series_ids)
        self._warn_of_unused_inputs()
        self.intervals_, held_out = None, None
        if validation is not None:
            values, history_low = self._forecast_values(
                validation, checked, ets=ets_validation, network=network, with_fit_history=False
            )
            if self.quantiles and self.calibration == "conformal":
                self.intervals_ = self._calibrate(validation, values)
            held_out = self._forecasts_as_frame(validation, values, history_low, with_fit_history=False)
        self.validation_mase_ = None if held_out is None else self._scaled_error(held_out, frame)
        return FitReport(training=training, validation=validation, validation_forecasts=held_out)

    def _warn_of_unused_inputs(self) -> None:
        """Warn when the covariates or calendar features the user declared reach no forecast: only the network
        reads them, and none was trained or the combination gives it no weight and no interval needs it (e.g. a
        single series: too little evidence)."""
        declared = [*map(repr, [*self.past_covariates, *self.future_covariates, *self.static_covariates])]
        declared += [f"calendar {field!r}" for field in self.pipeline_.calendar_fields_]
        # With quantiles the network's spread around its median shapes every interval, whatever its weight.
        network_read = self.model_ is not None and (self.combination_.uses_network or bool(self.quantiles))
        if not declared or network_read:
            return
        warnings.warn(
            f"the network gets no weight in the forecast ({self.combination_.rule}), so the forecast does not read "
            f"{', '.join(declared)}: only the network reads them; combine_with=None forecasts with the network alone",
            UserWarning,
            stacklevel=6,  # the user's fit call (Forecaster.fit, BaseForecaster.fit, _fit_checked, _fit)
        )

    def _scaled_error(self, forecasts: pd.DataFrame, frame: pd.DataFrame) -> float:
        """The mean of `|y - y_hat| / s_i` over the forecasts' rows: their MASE with the fit's scales."""
        scored = forecasts.merge(frame[[ID, TIME, TARGET]], on=[ID, TIME], how="left")
        scales = self._series_scales(scored[ID])
        return float(np.mean(np.abs(scored[TARGET] - scored["y_hat"]).to_numpy(np.float64) / scales))

    def _network_not_needed(self, training: Windows, validation: Windows | None) -> str | None:
        """Why no network is trained (None: it is): no training window, or no evidence it could ever be chosen."""
        if len(training) == 0:
            if self.combine_with != "auto":
                raise ValueError(
                    f"no training windows: every series needs more than min_past + horizon = "
                    f"{self.pipeline_._min_past() + self.horizon} observations"
                )
            return "no training window"
        if validation is None and self.validation_windows and self.combine_with == "auto" and not self.quantiles:
            warnings.warn(
                "no series is long enough to hold out a validation window after its training windows: there is "
                "no evidence for the network, so the forecast is the statistical one alone: exponential smoothing, "
                "averaged with Theta for series without a season (combine_with='auto')",
                stacklevel=6,  # the user's fit call
            )
            return "no validation window"
        if validation is None and self.validation_windows:
            warnings.warn(
                f"no series is long enough to hold out a validation window after its training windows; training "
                f"without early stopping{' and ETS alone' if self.combine_with == 'auto' else ''}",
                stacklevel=6,  # the user's fit call
            )
        # With quantiles too: the intervals are then the statistical forecast widened by the conformal offsets of
        # its own held-out errors. Shaped by a network trained for them instead, their scaled pinball loss was 5-10%
        # worse on the single series of benchmarks/accuracy.py and 8.5% on benchmarks/public_series.py, at 100
        # times the cost (2 s a single series, 34 s for 22 daily series of two years).
        return self._too_little_evidence(validation)

    def _too_little_evidence(self, validation: Windows | None) -> str | None:
        """Under `combine_with="auto"`, why the validation windows are too few to judge the network (None: enough,
        or another rule decides); `forecast.combination.MIN_EVIDENCE_WINDOWS`."""
        if self.combine_with != "auto" or validation is None:
            return None
        return too_little_evidence(len(validation))

    def _train(
        self,
        training: Windows,
        validation: Windows | None,
        windows: Windows,
        held_out_future: Future,
        listeners: Sequence[EpochListener | keras.callbacks.Callback],
    ) -> None:
        """Plan and train the network (and refit it on every window when asked); `held_out_future`: the future of
        the statistical forecasts from the validation origins (`_rolling_statistical`), computed meanwhile;
        `listeners`: called as `listener(epoch, logs)` after every epoch (the tracking side's), or Keras callbacks
        (`forecast tune`'s pruning).

        TensorFlow is imported here, where a network trains, not with this module: a fit that trains none (too
        few windows) and the forecasts of a model without one never load it."""
        import keras

        from forecast.distribution import even_batch_size, resolve_strategy
        from forecast.training import AbandonWhenEtsWins, patience_in_epochs, training_plan

        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        self.batch_size_, self.epochs_planned_ = training_plan(
            len(training), self.batch_size, self.epochs, self.min_steps, early_stopping=validation is not None
        )
        strategy = resolve_strategy(self.distribution)
        if self.distribution is not None:
            self.batch_size_ = even_batch_size(strategy, self.batch_size_)
        patience = patience_in_epochs(self.patience, len(training), self.batch_size_, self.min_steps)
        own = self._callbacks(validation is not None, patience)
        if self.combine_with == "auto" and validation is not None:
            own.append(AbandonWhenEtsWins(self, validation, held_out_future, patience))
        listened = [
            listener
            if isinstance(listener, keras.callbacks.Callback)
            else keras.callbacks.LambdaCallback(on_epoch_end=listener)
            for listener in listeners
        ]
        history = self._train_new_network(training, validation, self.epochs_planned_, [*own, *listened], strategy)
        self.history_ = {name: [float(v) for v in values] for name, values in history.history.items()}
        self.epochs_trained_ = len(self.history_["loss"])
        if self.network_skipped_ is not None:  # abandoned: exponential smoothing alone forecasts every series
            self.model_ = None
            return
        if self.refit_on_all_windows and validation is not None:
            self.refit_epochs_ = self._refit(windows, strategy)

    def _fit_ets(self, checked: CheckedFrame) -> tuple[EtsModels, pd.Series, np.ndarray]:
        """ETS fitted to every series' whole history (kept: `predict` continues it), each series' last `ds`, and
        its last `lookback` values (`last_values`: those the saved history keeps)."""
        y = checked.values(TARGET)
        starts = checked.series_starts
        histories = [y[begin:end] for begin, end in itertools.pairwise(starts)]
        models = fit_ets(histories, self.horizon, self.pipeline_.season_length_).models
        ends = checked.frame[TIME].iloc[starts[1:] - 1].reset_index(drop=True)
        ends.index = pd.Index(checked.series_ids)
        return models, ends, last_values(y, starts, self.lookback)

    def _rolling_statistical(self, validation: Windows | None, checked: CheckedFrame) -> HeldOutStatistical:
        """The statistical half's forecasts from the validation origins (ETS fitted once per series at its first
        origin and continued), with the weight on Theta chosen on them (`forecast.theta`)."""
        if self.combine_with is None:
            return HeldOutStatistical(None, 0.0, "ETS alone: the network alone forecasts")
        if validation is None:
            return HeldOutStatistical(None, *prior_theta_weight(self.pipeline_.season_length_ > 1, 0))
        found = ets_rolling_forecasts(
            checked.values(TARGET),
            validation.origin_rows,
            validation.first_rows,
            self.horizon,
            self.pipeline_.season_length_,
        ).forecasts
        actual = validation.inverse_target(validation.target)
        weight, rule = choose_theta_weight(found.ets, found.theta, actual, self._series_scales(validation.origin_ids))
        return HeldOutStatistical(found.blended(weight), weight, rule)

    def _choose_combination(
        self,
        validation: Windows | None,
        ets_validation: np.ndarray | None,
        network_validation: np.ndarray | None,
        ids: np.ndarray,
    ) -> Combination:
        """The weight on the network of every series: fixed by `combine_with`, or chosen on the validation windows
        from the network's and ETS's forecasts of them (`_forecast_values`' `network` and `ets`)."""
        if self.combine_with is None:
            return Combination.fixed(1.0, ids, rule="network alone")
        if self.combine_with == "ets":
            return Combination.fixed(0.5, ids, rule="equal weights")
        if self.network_skipped_ is not None:
            return Combination.fixed(0.0, ids, rule=f"ETS alone: {self.network_skipped_}")
        if self.validation_windows == 0:
            return Combination.fixed(0.5, ids, rule="equal weights: validation_windows=0 holds nothing out")
        if validation is None or ets_validation is None:
            return no_evidence(ids)
        if (reason := self._too_little_evidence(validation)) is not None:
            return Combination.fixed(0.0, ids, rule=f"ETS alone: {reason}")
        network = self._median(network_validation)
        actual = validation.inverse_target(validation.target)
        scales = self._series_scales(validation.origin_ids)
        found = evidence(network, ets_validation, actual, scales, validation.origin_ids)
        return choose(found, ids)

    def _median(self, outputs: np.ndarray) -> np.ndarray:
        return outputs if self.output_quantiles_ is None else outputs[..., self.output_quantiles_.index(MEDIAN)]

    def _refit(self, windows: Windows, strategy: tf.distribute.Strategy) -> int:
        """Train a fresh network on every window for the best number of epochs of the first pass; returns it.

        The first pass held out the windows of every series' validation origins and those in between
        (`forecast.holdout`), whose targets are the series' most recent values. Training again on all windows,
        for the epochs that scored best and with the same learning rate in every epoch, learns from them too.
        Measured over three seeds with one validation origin (docs/benchmarks/validation.md; the test MASE in
        docs/benchmarks/accuracy.md): validation MASE 1.538 -> 1.520 on M1 quarterly, 1.157 -> 1.154 on M3
        quarterly, 1.834 -> 1.801 on Tourism quarterly, 1.320 -> 1.311 on M1 monthly, but test MASE 1.182 ->
        1.236 on M3 quarterly and 1.180 -> 1.135 on M1 monthly: within the spread between seeds, so it is an
        option, not the default.
        """
        import keras

        from forecast.training import NonFiniteLossGuard, best_epoch_count, replayed_learning_rates

        epochs = best_epoch_count(self.history_["val_loss"])
        rates = replayed_learning_rates(self.history_, epochs, self.learning_rate)
        schedule = keras.callbacks.LearningRateScheduler(lambda epoch: rates[epoch])
        self._train_new_network(windows, None, epochs, [NonFiniteLossGuard(), schedule], strategy)
        return epochs

    def _train_new_network(
        self,
        training: Windows,
        validation: Windows | None,
        epochs: int,
        callbacks: Sequence[keras.callbacks.Callback],
        strategy: tf.distribute.Strategy,
    ) -> keras.callbacks.History:
        """Build a fresh network in `strategy`'s scope as `model_` and train it on `training` (shuffled, in
        batches of `batch_size_`; `forecast.training_loop`), with `validation` scored after every epoch when given."""
        from forecast.training_loop import train_network

        with strategy.scope():
            self.model_ = self._build_model(training)
        inputs, target, *weights = self._training_arrays(training)
        return train_network(
            self.model_,
            inputs,
            target,
            weights[0] if weights else None,
            validation=None if validation is None else self._training_arrays(validation),
            epochs=epochs,
            batch_size=self.batch_size_,
            callbacks=list(callbacks),
            strategy=strategy,
            verbose=self.verbose,
        )

    def _output_quantiles(self) -> list[float] | None:
        """The quantile levels of the network's output (None: one point output per step)."""
        return sorted({*map(float, self.quantiles), MEDIAN}) if self.quantiles else None

    def _build_model(self, windows: Windows) -> keras.Model:
        import keras

        from forecast.losses import PinballLoss, SMAPELoss
        from forecast.network import build_network

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
            member_lookbacks=self._member_lookbacks(),
        )
        if self.output_quantiles_:
            loss = PinballLoss(self.output_quantiles_)
        else:
            loss = {"smape": SMAPELoss(), "mase": "mae"}.get(self.loss, self.loss)
        # No XLA: it costs seconds per model and would take the LSTM off its fused kernel; the network trains in
        # forecast.training_loop, one compiled call per epoch.
        network.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate, clipnorm=self.clipnorm), loss=loss, jit_compile=False
        )
        return network

    def _member_lookbacks(self) -> list[int] | None:
        if self.ensemble_size == 1 and self.ensemble_lookbacks is None:
            return None
        return list(self.ensemble_lookbacks) if self.ensemble_lookbacks else [self.lookback] * self.ensemble_size

    def _callbacks(self, has_validation: bool, patience: int) -> list[keras.callbacks.Callback]:
        """NaN guard, learning rate halved after `patience // 2` epochs without improvement, early stopping
        after `patience` (`forecast.training.patience_in_epochs`)."""
        import keras

        from forecast.training import NonFiniteLossGuard

        callbacks: list[keras.callbacks.Callback] = [NonFiniteLossGuard()]
        monitor = "val_loss" if has_validation else "loss"
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, factor=0.5, patience=max(1, patience // 2), min_lr=self.learning_rate / 64
            )
        )
        if has_validation:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
            )
        return callbacks

    def _training_arrays(self, windows: Windows) -> tuple:
        """`(inputs, target[, sample_weight])` for Keras: the target repeated per ensemble member."""
        inputs = windows.as_inputs()
        target = windows.target
        if self.strategy == "recursive":
            if "future" in inputs:
                inputs["future"] = inputs["future"][:, :1]
            target = target[:, :1]
        members = self._member_lookbacks()
        if members is not None:
            target = np.repeat(target[:, None, :], len(members), axis=1)
        if self.loss == "mase" and not self.output_quantiles_:
            return inputs, target, self._mase_weights(windows)
        return inputs, target

    def _mase_weights(self, windows: Windows) -> np.ndarray:
        """Per window `scale_w / s_i`: the MAE of scaled values times it is the MAE in units of the series' MASE."""
        series_scale = self._series_scales(windows.origin_ids)
        return (windows.scale / series_scale).astype(np.float32)

    def _series_scales(self, ids: np.ndarray, history: CheckedFrame | None = None) -> np.ndarray:
        """The MASE scale (`series_scale_`) of each of `ids`; for a series `fit` did not see, that of its rows of
        `history` (the frame given to `predict`)."""
        scales = _per_series(self.series_scale_, ids)
        unseen = np.isnan(scales)
        if history is not None and unseen.any():
            frame = history.frame
            own = positive_mase_scales(frame[frame[ID].isin(ids[unseen])], self.pipeline_.season_length_)
            scales[unseen] = own.reindex(pd.Index(ids[unseen], dtype=object)).to_numpy(np.float64)
        return scales

    def _calibrate(self, validation: Windows, forecasts: np.ndarray) -> ConformalIntervals:
        """Conformal offsets from `forecasts` of the held-out windows, combined as predictions are
        (`_forecast_values`; `forecast.calibration`)."""
        actuals = validation.inverse_target(validation.target)
        scales = self._series_scales(validation.origin_ids)
        return ConformalIntervals.fit(forecasts, actuals, scales, self.output_quantiles_)

    def _network_horizon(self) -> int:
        return 1 if self.strategy == "recursive" else self.horizon

    def _new_pipeline(self) -> SeriesWindows:
        return SeriesWindows(**self.window_settings())

    # -------------------------------------------------------------- predict

    def predict(self, df: pd.DataFrame | None = None, future_df: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast the `horizon` steps after each series' last timestamp.

        Args:
            df: history of the series to forecast (None: the fitted data), with
                at least `min_past` rows per series (left-padded up to `lookback`)
                and the covariate columns;
                the exponential smoothing fitted in `fit` is continued over the
                values after its fitted end (fitted anew where the history ends
                before that end, and for a series `fit` did not see, which is
                forecast from this history alone).
            future_df: `unique_id, ds` and the future covariate columns for the
                `horizon` steps after each series' end (needed only with
                `future_covariates`).

        Returns:
            `unique_id, ds, y_hat[, y_hat_qXX...]`, `horizon` rows per series
            with the real future timestamps, sorted by series and time.

        Raises:
            ValueError: for a history shorter than `min_past`, missing covariate
                columns, missing future covariate rows, or a series `fit` did not
                see under a per-series `scaler` or with a static covariate category
                `fit` did not see.
        """
        if self.__sklearn_is_fitted__() and self.future_covariates:
            if future_df is None:
                raise ValidationError(
                    f"future_df is required: the model uses future covariates {list(self.future_covariates)} "
                    f"and needs their values for the {self.horizon} steps after each series' last timestamp "
                    "(rows of the history after a series' last observed y are dropped, not read as those values: "
                    "pass them as future_df)"
                )
            self._check_columns(future_df, "future_df", time_varying_only=True)
        return super().predict(df, future_df)

    def _predict_origins(
        self, checked: CheckedFrame, origin_rows: np.ndarray, future_df: pd.DataFrame | None
    ) -> pd.DataFrame:
        """Forecasts from every origin row of `checked`, all windows predicted in one batched call."""
        windows = self.pipeline_.windows_at(checked, origin_rows, future_df)
        return self._forecasts_as_frame(windows, *self._forecast_values(windows, checked), history=checked)

    def _forecasts_as_frame(
        self,
        windows: Windows,
        outputs: np.ndarray,
        history_low: np.ndarray,
        with_fit_history: bool = True,
        history: CheckedFrame | None = None,
    ) -> pd.DataFrame:
        """`_forecast_values`' outputs of `windows` as the long frame, intervals and `nonnegative` applied
        (`with_fit_history=False`, for the held-out windows of `fit`: judged on the history up to the origin only,
        which does not include the held-out values that `series_low_` has seen; `history`: the frame the windows
        were cut from, which scales the intervals of a series `fit` did not see)."""
        origin_ids = windows.origin_ids
        levels = self.output_quantiles_ or [MEDIAN]
        values = outputs.reshape(-1, len(levels)).astype(np.float64)
        if self.intervals_ is not None:
            steps = np.tile(np.arange(self.horizon), len(windows))
            scales = np.repeat(self._series_scales(origin_ids, history), self.horizon)
            values = self.intervals_.apply(values, levels, steps, scales)
        covered = self._covered_by_nonnegative(origin_ids if with_fit_history else None, history_low)
        covered = np.repeat(covered, self.horizon)
        values[covered] = np.maximum(values[covered], 0.0)
        columns = {
            ID: np.repeat(origin_ids, self.horizon),
            TIME: windows.forecast_times,
            "y_hat": values[:, levels.index(MEDIAN)],
        }
        for level in sorted(map(float, self.quantiles or ())):
            columns[quantile_column(level)] = values[:, levels.index(level)]
        return pd.DataFrame(columns, copy=False)  # every column is a new array: copying them again is waste

    def _covered_by_nonnegative(self, ids: np.ndarray | None, history_low: np.ndarray) -> np.ndarray:
        """`(n,)`: the windows whose forecasts `nonnegative` keeps at or above 0 (`"auto"`: those of series never
        negative, neither in the history `fit` saw, of minimum `series_low_`, nor in the window's history up to
        its origin, of minimum `history_low`; the latter alone with `ids=None` or for a model saved before
        `series_low_` existed)."""
        if self.nonnegative != "auto":
            return np.full(len(history_low), bool(self.nonnegative))
        covered = history_low >= 0
        if ids is not None and self.series_low_ is not None:
            covered &= ~(_per_series(self.series_low_, ids) < 0)  # a series `fit` never saw: NaN, not negative
        return covered

    def _forecast_values(
        self,
        windows: Windows,
        checked: CheckedFrame,
        ets: np.ndarray | None = None,
        network: np.ndarray | None = None,
        with_fit_history: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Forecasts `(n, horizon[, n_quantiles])` in the series' units, the network and ETS blended per series,
        and `(n,)` the minimum of each window's history up to its origin.

        ```
        y_hat = w y_net + (1 - w) y_ets,      q_hat = q_net + (1 - w) (y_ets - y_net)   for every quantile q
        ```

        `checked` is the validated frame the windows were cut from (their `origin_rows` are its rows). With
        `w` the series' weight on the network (`combination_`, `forecast.combination`), `y_net` the
        network's point forecast (its median with quantiles; `network`: its outputs of `windows`, or computed here)
        and `y_ets` the Akaike-weighted ETS forecast from the same origin (`ets`, or the kept models continued over
        the frame). A series whose network forecast leaves the sane band of its history (`sane_band`) is forecast
        by ETS alone, with a warning naming it; a series whose history is never negative gets no negative value
        (`nonnegative`, applied by `_forecasts_as_frame`). The band's history is the window's up to its origin and,
        with `with_fit_history` (not for the held-out windows of `fit`), the values `fit` saw (`series_low_`,
        `series_high_`): a `predict()` that reads only the last `lookback` rows judges as one given the whole history.
        """
        ids = windows.origin_ids
        weights = self.combination_.weight_of(ids)
        origin_rows, first_rows = windows.origin_rows, windows.first_rows
        low, high = history_range(checked.values(TARGET), origin_rows, first_rows)
        if ets is None and (weights < 1).any():
            ets = self._ets_values(ids, checked, origin_rows, first_rows)
        if self.model_ is None:
            if self.output_quantiles_ is not None:
                ets = np.repeat(ets[..., None], len(self.output_quantiles_), -1)
            return ets, low
        outputs = self._network_values(windows) if network is None else network
        if ets is not None:
            band_low, band_high = low, high
            if with_fit_history and self.series_high_ is not None:
                band_low = np.fmin(low, _per_series(self.series_low_, ids))  # NaN for a series fit did not see
                band_high = np.fmax(high, _per_series(self.series_high_, ids))
            failed = ~within_sane_band(self._median(outputs), band_low, band_high) & (weights > 0)
            if failed.any():
                named = shown_ids([str(series) for series in ids[failed]])
                warnings.warn(
                    f"the network's forecast of series {named} leaves the sane band of the series' history "
                    f"(beyond {SANE_BAND:g} times its range from its minimum or maximum): those series are forecast "
                    "by the statistical forecast alone (exponential smoothing, with Theta where fit chose it)",
                    UserWarning,
                    stacklevel=5,  # the user's predict call (in fit, Forecaster.fit)
                )
                weights = np.where(failed, 0.0, weights)
            median = None if self.output_quantiles_ is None else self.output_quantiles_.index(MEDIAN)
            outputs = blend(outputs, ets, weights, median)
        return outputs, low

    def _network_values(self, windows: Windows) -> np.ndarray:
        """The network's forecasts of `windows` in the series' units: `(n, horizon[, n_quantiles])`; 0 from a window
        whose past is all 0 under a window scaler (`Windows.zero_past`)."""
        values = windows.inverse_target(self._predict_scaled(windows))
        values[windows.zero_past] = 0.0
        return values

    def _ets_values(
        self, ids: np.ndarray, checked: CheckedFrame, origin_rows: np.ndarray, first_rows: np.ndarray
    ) -> np.ndarray:
        """The statistical half from every origin (ETS, with Theta by `theta_weight_`): the kept models continued
        over the values after their fitted end, fitted anew for a series the model never saw, an origin before
        that end, or a history whose values up to that end differ from those the models were fitted on (as far as
        the saved history's last `lookback` values show; `forecast.exponential_smoothing`, `forecast.theta`)."""
        y = checked.values(TARGET)
        season_length = self.pipeline_.season_length_
        if self.ets_ is None:
            found = ets_point_forecasts(y, origin_rows, first_rows, self.horizon, season_length)
            return found.blended(self.theta_weight_)
        model_rows = sorted_positions(self.ets_ends_.index.to_numpy(), ids)
        end_times = time_values(self.ets_ends_.array)[np.maximum(model_rows, 0)]
        end_rows = rows_in_series(time_values(checked.times()), first_rows, origin_rows, end_times)
        end_rows[model_rows < 0] = -1
        kept = getattr(self, "ets_last_values_", None)  # None: unpickled from a version that did not keep them
        if kept is not None:  # models fitted on other values than those given are fitted anew, as for a new series
            model_rows[values_differ(y, first_rows, end_rows, kept, model_rows)] = -1
        found = ets_continued_forecasts(self.ets_, model_rows, end_rows, y, origin_rows, first_rows, self.horizon)
        return found.blended(self.theta_weight_)

    def _predict_scaled(self, windows: Windows) -> np.ndarray:
        """Network outputs in the scaled space, ensemble members combined: `(n, horizon[, n_quantiles])`."""
        inputs = windows.as_inputs()
        if self.strategy == "direct":
            return self._combined(self._call_network(inputs))
        return self._recursive_forecast(inputs)

    def _combined(self, outputs: np.ndarray) -> np.ndarray:
        """The median over the members axis of an ensemble's outputs (a single network's outputs unchanged)."""
        return outputs if self._member_lookbacks() is None else np.median(outputs, axis=1)

    def _recursive_forecast(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Feed the one-step median forecast back `horizon` times.

        ```
        y_hat_{T+k} = f(x_{T+k-L+1..T+k-1}, [y_hat_{T+k}-1; future_{T+k-1}], future_{T+k}, s)
        ```

        (with left padding the fed-back row also carries the "observed" flag 1). Quantiles of later
        steps are conditional on the median path (a plug-in approximation, not the quantiles of the
        multi-step distribution).
        """
        past = inputs["past"]
        future = inputs.get("future")
        flag = [np.ones((len(past), 1), past.dtype)] if OBSERVED in self.pipeline_.past_feature_names_ else []
        steps = []
        for step in range(self.horizon):
            step_inputs = {**inputs, "past": past}
            if future is not None:
                step_inputs["future"] = future[:, step : step + 1]
            output = self._combined(self._call_network(step_inputs))[:, 0]
            steps.append(output)
            median = output if self.output_quantiles_ is None else output[:, self.output_quantiles_.index(MEDIAN)]
            known = [] if future is None else [future[:, step]]
            next_row = np.concatenate([median[:, None], *flag, *known], axis=-1)
            past = np.concatenate([past[:, 1:], next_row[:, None, :].astype(past.dtype)], axis=1)
        return np.stack(steps, axis=1)

    def __getstate__(self) -> dict:
        # The compiled predictor is a cache of `model_` (a tf.function cannot be pickled); it is rebuilt on use.
        state = super().__getstate__()
        state.pop("_predictor", None)
        return state

    def _call_network(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        # One XLA-compiled function per trained model, built on first use (see forecast.inference).
        from forecast.inference import CompiledPredictor

        predictor = getattr(self, "_predictor", None)
        if predictor is None or predictor.model is not self.model_:
            predictor = self._predictor = CompiledPredictor(self.model_)
        return predictor(inputs)

    # ------------------------------------------------------------ save/load

    def __sklearn_clone__(self) -> Forecaster:
        # A tf.distribute.Strategy names this machine's devices: clones share it rather than deep-copy it.
        params = {name: copy.deepcopy(value) for name, value in self.get_params().items() if name != "distribution"}
        return type(self)(**params, distribution=self.distribution)

    def _fitted_state(self) -> dict:
        return {
            "output_quantiles": self.output_quantiles_,
            "history": self.history_,
            "epochs_trained": self.epochs_trained_,
            "refit_epochs": self.refit_epochs_,
            "combine_with": self.combine_with_,
            "epochs_planned": self.epochs_planned_,
            "batch_size": self.batch_size_,
            "series_scale": _series_values_to_json(self.series_scale_),
            "series_low": None if self.series_low_ is None else _series_values_to_json(self.series_low_),
            "series_high": None if self.series_high_ is None else _series_values_to_json(self.series_high_),
            "intervals": None if self.intervals_ is None else self.intervals_.get_config(),
            "combination": self.combination_.get_config(),
            "validation_mase": self.validation_mase_,
            "network": self.model_ is not None,
            "network_skipped": self.network_skipped_,
            "ets": None if self.ets_ is None else self.ets_.get_config(),
            "ets_ends": None if self.ets_ends_ is None else _times_to_json(self.ets_ends_),
            "theta_weight": self.theta_weight_,
            "theta_rule": self.theta_rule_,
        }

    def _history_last_values(self) -> np.ndarray:
        """`ets_last_values_` of a loaded model, from its saved history (which keeps at least those values)."""
        history = self._training_frame()
        return last_values(history.values(TARGET), history.series_starts, self.lookback)

    def _saved_history(self) -> pd.DataFrame:
        # `predict()` without a frame reads the last `lookback` rows of every series; kept ETS models continue from
        # the last of them. A model loaded from a format without kept models refits ETS on the whole history.
        uses_ets = self.combination_.default_weight < 1 or any(w < 1 for w in self.combination_.weights.values())
        if self.ets_ is None and uses_ets:
            return self.train_df_
        return self.train_df_.groupby(ID, sort=False).tail(self.lookback)

    def _save_model(self, directory: Path) -> None:
        if self.model_ is not None:
            self.model_.save(directory / MODEL_FILE)
        (directory / PIPELINE_FILE).write_text(json.dumps(self.pipeline_.get_config(), indent=2))

    def _load_model(self, directory: Path, state: dict, documents: dict[str, dict]) -> None:
        pipeline_path = directory / PIPELINE_FILE
        if PIPELINE_FILE not in documents:
            raise SavedModelError(f"{directory} is not a saved Forecaster: {PIPELINE_FILE} is missing")
        try:
            self.pipeline_ = SeriesWindows.from_config(documents[PIPELINE_FILE])
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise SavedModelError(f"{pipeline_path} is corrupt ({type(error).__name__}: {error})") from None
        if not hasattr(self.pipeline_, "freq_"):
            raise SavedModelError(f"{pipeline_path} is corrupt: it holds no fitted state ('fitted' is missing)")
        try:
            self.output_quantiles_ = state["output_quantiles"]
            self.history_ = state["history"]
            self.epochs_trained_ = state["epochs_trained"]
            self.refit_epochs_ = state["refit_epochs"]
            self.combine_with_ = state["combine_with"]
            self.epochs_planned_ = state["epochs_planned"]
            self.batch_size_ = state["batch_size"]
            self.series_scale_ = _series_values_from_json(state["series_scale"])
            low, high = state["series_low"], state["series_high"]
            self.series_low_ = None if low is None else _series_values_from_json(low)
            self.series_high_ = None if high is None else _series_values_from_json(high)
            intervals = state["intervals"]
            self.intervals_ = None if intervals is None else ConformalIntervals.from_config(intervals)
            self.combination_ = Combination.from_config(state["combination"])
            self.validation_mase_ = state["validation_mase"]
            self.network_skipped_ = state["network_skipped"]
            self.ets_ = None if state["ets"] is None else EtsModels.from_config(state["ets"])
            ends = state["ets_ends"]
            self.ets_ends_ = None if ends is None else _times_from_json(ends, self.pipeline_)
            self.ets_last_values_ = None if ends is None else self._history_last_values()
            self.theta_weight_, self.theta_rule_ = float(state["theta_weight"]), state["theta_rule"]
            has_network = state["network"]
        except (KeyError, TypeError, ValueError) as error:
            raise SavedModelError(f"{directory / STATE_FILE} lacks the Forecaster's {error.args[0]!r}") from None
        self.model_ = None
        if not has_network:
            return
        model_path = directory / MODEL_FILE
        if not model_path.is_file():
            raise SavedModelError(f"{directory} is not a saved Forecaster: {MODEL_FILE} is missing")
        if not zipfile.is_zipfile(model_path):  # Keras reports a truncated archive as "File not found"
            raise SavedModelError(f"{model_path} is corrupt or truncated: not a whole .keras archive")
        # A model with a network: TensorFlow is loaded now, not for one without. `forecast.network` imports the
        # layers, whose classes the saved network names (a fresh process, a Spark executor, has not imported them).
        import keras

        import forecast.network  # noqa: F401

        try:
            self.model_ = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        except Exception as error:
            raise SavedModelError(f"{model_path} cannot be loaded: {type(error).__name__}: {error}") from None
        self._check_saved_network(directory)

    def _check_saved_network(self, directory: Path) -> None:
        """The network, the pipeline and `params.json` must describe the same model."""
        past = next((tensor for tensor in self.model_.inputs if tensor.name == "past"), None)
        features = len(self.pipeline_.past_feature_names_)
        expected = (self.lookback, features)
        found = None if past is None else tuple(past.shape[1:])
        members = self._member_lookbacks()
        outputs = self.model_.outputs[0].shape[1 if members is None else 2]
        if found != expected or outputs != self._network_horizon():
            raise SavedModelError(
                f"{directory}: {PARAMS_FILE} and {PIPELINE_FILE} describe lookback={self.lookback}, {features} past "
                f"features and horizon={self._network_horizon()}, but {MODEL_FILE} takes {found} past inputs and "
                f"forecasts {outputs} steps"
            )

    # ------------------------------------------------------------- checks

    def _check_frame(self, df: pd.DataFrame, purpose: str) -> CheckedFrame:
        """Validate `df` once: the Forecaster's columns, then the pipeline's checks (grid, values, lengths)."""
        self._check_columns(df, purpose)
        if purpose == "fit":
            return self._new_pipeline().check(df)
        if self.__sklearn_is_fitted__():
            return self.pipeline_.check_history(df)
        return self._new_pipeline().check(df, min_length=1)

    def _check_columns(self, df: pd.DataFrame, where: str, time_varying_only: bool = False) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{where} expects a pandas DataFrame in long format; got {type(df).__name__}")
        required = (
            [ID, TIME] if time_varying_only else [ID, TIME, TARGET, *self.past_covariates, *self.static_covariates]
        )
        required += list(self.future_covariates)
        missing = [column for column in required if column not in df.columns]
        if missing:
            raise ValidationError(
                f"{where}: missing column(s) {missing}; expected {required}, found {list(df.columns)}"
            )


@dataclass(frozen=True)
class FitReport:
    """What a fit leaves for the tracking side: the training windows, the held-out validation windows and their
    forecasts (`unique_id, ds, y_hat[, ...]`, as `predict` makes them)."""

    training: Windows
    validation: Windows | None
    validation_forecasts: pd.DataFrame | None = None


def _check_recursive_features(windows: Windows) -> None:
    """The recursive strategy builds the next past row as `[y_hat; observed flag; future features]`."""
    future_names = [] if windows.future is None else list(windows.future_feature_names)
    names = [name for name in windows.past_feature_names[1:] if name != OBSERVED]
    if names != future_names:
        raise ValueError(
            "strategy='recursive' needs the past features to be the target followed by the future features "
            f"{future_names}; found past features {list(windows.past_feature_names)}"
        )


class HeldOutStatistical(NamedTuple):
    """The statistical half's forecasts of the validation windows (None: none), the weight on Theta chosen on
    them, and why (`forecast.theta.choose_theta_weight`)."""

    forecasts: np.ndarray | None
    theta_weight: float
    rule: str


def _per_series(table: pd.Series, ids: np.ndarray) -> np.ndarray:
    """`table`'s value (a float per fitted series, indexed by the series ids in sorted order) for each of `ids`,
    NaN for a series it does not hold."""
    positions = sorted_positions(table.index.to_numpy(), np.asarray(ids))
    return np.where(positions >= 0, table.to_numpy(np.float64)[np.maximum(positions, 0)], np.nan)


def _series_table(ids, values: np.ndarray) -> pd.Series:
    """A float per series, indexed by the series ids (sorted) as Python objects: `_per_series` reads the index as an
    array on every predict, which costs a conversion per call for an Arrow-backed text index (pandas 3's `str`)."""
    return pd.Series(np.asarray(values, dtype=np.float64), index=pd.Index(ids, dtype=object))


def _series_values_to_json(values: pd.Series) -> list:
    """`[[series id, value], ...]` of a float per series (read back by `_series_values_from_json`)."""
    return [[_json_scalar(key), float(value)] for key, value in values.items()]


def _series_values_from_json(pairs: list) -> pd.Series:
    """The inverse of `_series_values_to_json`."""
    return _series_table([key for key, _ in pairs], [value for _, value in pairs])


def _times_to_json(times: pd.Series) -> list:
    """`[[series id, ds], ...]` with datetimes as ISO 8601 text (their offset included) and integers as they are."""
    values = times.map(lambda stamp: stamp.isoformat()) if pd.api.types.is_datetime64_any_dtype(times) else times
    return [[str(key), value.item() if isinstance(value, np.generic) else value] for key, value in values.items()]


def _times_from_json(pairs: list, pipeline: SeriesWindows) -> pd.Series:
    """The inverse of `_times_to_json`, in the time zone the pipeline was fitted with."""
    keys = pd.Index([str(key) for key, _ in pairs], dtype=object)
    values = [value for _, value in pairs]
    if pipeline.time_kind_ == "integer":
        return pd.Series(np.asarray(values, dtype=np.int64), index=keys)
    parsed = pd.to_datetime(pd.Series(values), utc=pipeline.timezone_ is not None)
    if pipeline.timezone_ is not None:
        parsed = parsed.dt.tz_convert(pipeline.timezone_)
    parsed.index = keys
    return parsed
