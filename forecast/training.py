"""How the Forecaster trains: the plan of optimizer steps that follows the data, and the safeguards.

The number of training windows `N` decides the batch size, the optimizer steps and the patience, so that a
single short series gets enough steps to learn, a handful of windows does not cost a thousand steps, and
thousands of series get large batches (the validation tables are in docs/benchmarks/validation.md; a fixed 15
epochs of batch 64 left single 60-month series at 1.5 times the MASE):

```
batch     = clip(2 ** round(log2(N / 50)), 16, 256)
steps     = min(min_steps, max(MIN_PLANNED_STEPS, STEPS_PER_WINDOW N))     the optimizer steps planned
epochs    = ceil(steps / ceil(N / batch)),  at least MIN_EPOCHS with early stopping    (at most MAX_EPOCHS)
patience  = max(patience, ceil(min(MIN_PATIENCE_STEPS, steps / 2) / ceil(N / batch)))   epochs, see below
```

With held-out windows early stopping (the Forecaster's `patience`, best weights restored) usually ends
training well before the plan's epochs, and the learning rate is halved when the validation loss stalls
(`ReduceLROnPlateau`); the floor of 100 epochs leaves that decision to early stopping: at 20, sets with many
windows ran out of epochs while their validation loss was still falling (M1 quarterly validation MASE 1.617 at
20 epochs, 1.509 when early stopping ended it at epoch 82). Without held-out windows nothing ends the plan
early, so it is the planned steps alone: five per window, so that the 33 windows of three 17-year annual series
cost 200 steps, not the 1,000 a larger data set is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Future

import keras
import numpy as np

from forecast.combination import ABANDON_MARGIN, ets_wins_by_margin, evidence

MIN_EPOCHS = 100
MAX_EPOCHS = 1000
MIN_BATCH, MAX_BATCH = 16, 256
WINDOWS_PER_STEP = 50
"""An automatic batch holds about 1/50 of the training windows (within MIN_BATCH..MAX_BATCH)."""
MIN_PATIENCE_STEPS = 200
"""Early stopping waits at least this many optimizer steps without improvement, or half the planned steps where
fewer are planned (`patience_in_epochs`)."""
STEPS_PER_WINDOW = 5
"""Optimizer steps planned per training window, up to the Forecaster's `min_steps`."""
MIN_PLANNED_STEPS = 200
"""The fewest optimizer steps a plan gives."""


def planned_steps(n_windows: int, min_steps: int) -> int:
    """`min(min_steps, max(MIN_PLANNED_STEPS, STEPS_PER_WINDOW N))`: the optimizer steps a plan gives at least."""
    return int(min(min_steps, max(MIN_PLANNED_STEPS, STEPS_PER_WINDOW * n_windows)))


def training_plan(
    n_windows: int, batch_size: int | str, epochs: int | str, min_steps: int, early_stopping: bool = True
) -> tuple[int, int]:
    """`(batch_size, epochs)`: a given integer is kept, `"auto"` follows the rule of the module docstring."""
    if batch_size == "auto":
        exponent = round(math.log2(max(n_windows / WINDOWS_PER_STEP, 1.0)))
        batch_size = int(min(MAX_BATCH, max(MIN_BATCH, 2**exponent)))
    if epochs == "auto":
        needed = math.ceil(planned_steps(n_windows, min_steps) / steps_per_epoch(n_windows, batch_size))
        epochs = int(min(MAX_EPOCHS, max(MIN_EPOCHS, needed) if early_stopping else needed))
    return int(batch_size), int(epochs)


def steps_per_epoch(n_windows: int, batch_size: int) -> int:
    """Optimizer steps in one pass over `n_windows` training windows (the last batch may be partial)."""
    return max(1, math.ceil(n_windows / batch_size))


def patience_in_epochs(patience: int, n_windows: int, batch_size: int, min_steps: int = 1000) -> int:
    """Epochs without improvement before early stopping: `patience`, or more where an epoch is only a few
    optimizer steps, so that at least `min(MIN_PATIENCE_STEPS, planned steps / 2)` steps pass.

    Counted in epochs alone, a single short series (one or two steps an epoch) stopped after about 20 steps,
    long before its planned 1,000, and its learning rate was halved every 5 steps: ten single monthly series
    of 42 months (lookback 36, horizon 18) scored MASE 2.96 against seasonal naive's 0.78 on their last 18
    months. Sets of hundreds of series, with tens of steps an epoch or more, keep their `patience`.
    """
    steps = min(MIN_PATIENCE_STEPS, planned_steps(n_windows, min_steps) / 2)
    return max(patience, math.ceil(steps / steps_per_epoch(n_windows, batch_size)))


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stops training with `FloatingPointError` as soon as the loss is NaN or infinite.

    Unlike `keras.callbacks.TerminateOnNaN`, which ends training quietly, this
    raises, so the model is neither saved nor logged as a success. It checks the
    loss of every batch where the loop reports batches (Keras's `fit`), and the
    epoch's loss and validation loss at the end of every epoch: the Forecaster's
    loop (`forecast.training_loop`) calls epoch hooks only, stops its epoch at
    the first non-finite batch loss and reports a non-finite epoch loss then.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, "loss", f"epoch {self._epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, "loss", f"epoch {epoch + 1}")
        self._check(logs, "val_loss", f"epoch {epoch + 1} (validation)")

    @staticmethod
    def _check(logs, name: str, where: str) -> None:
        value = (logs or {}).get(name)
        if value is not None and not math.isfinite(float(value)):
            raise FloatingPointError(
                f"training stopped: the {name} became {float(value)} at {where}. Lower learning_rate, keep "
                "gradient clipping on (clipnorm), or check the data for extreme values."
            )


def best_epoch_count(validation_losses: Sequence[float]) -> int:
    """The number of epochs after which the validation loss was lowest (the first such epoch, 1-based)."""
    return int(np.argmin(validation_losses)) + 1


def replayed_learning_rates(history: dict[str, list[float]], epochs: int, initial: float) -> list[float]:
    """The learning rate of each of the first `epochs` epochs of a recorded fit.

    Keras's `ReduceLROnPlateau` logs the rate in force after each epoch (`history["learning_rate"][e]`), so
    epoch 0 ran at `initial` and epoch `e > 0` at the rate logged after epoch `e - 1`.
    """
    return [float(initial), *(float(rate) for rate in history["learning_rate"][: epochs - 1])]


class AbandonWhenEtsWins(keras.callbacks.Callback):
    """Stops training the network when exponential smoothing alone beats every blend with it on the validation
    windows by `forecast.combination.ABANDON_MARGIN`, at two checks in a row after a fair start.

    The checks come every `patience // 2` epochs from epoch `patience` on (at least 200 optimizer steps each, see
    `forecast.training.patience_in_epochs`): by then the network has had the chance early stopping gives it. The
    forecaster then drops the network (`network_skipped_` says why) and forecasts with ETS alone. `ets` is the
    future of the ETS forecasts from the validation origins, computed in a thread while the network trains.
    """

    def __init__(self, forecaster, validation, ets: Future, patience: int):
        super().__init__()
        self.forecaster = forecaster
        self.validation = validation
        self.ets = ets
        self.actual = validation.inverse_target(validation.target)
        self.scales = forecaster._series_scales(validation.origin_ids)
        self.ids = validation.origin_ids
        self.start = patience
        self.every = max(1, patience // 2)
        self.losing = 0

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch + 1 < self.start or (epoch + 1 - self.start) % self.every:
            return
        network = self.forecaster._median(self.forecaster._network_values(self.validation))
        found = evidence(network, self.ets.result().forecasts, self.actual, self.scales, self.ids)
        self.losing = self.losing + 1 if ets_wins_by_margin(found) else 0
        if self.losing >= 2:
            self.forecaster.network_skipped_ = (
                f"exponential smoothing alone beat every blend with the network on the validation windows by more "
                f"than {ABANDON_MARGIN:.0%} at epochs {epoch + 1 - self.every} and {epoch + 1}"
            )
            self.model.stop_training = True
