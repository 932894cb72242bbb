"""The bridge between a network's training and an Optuna trial: each epoch's validation loss reported, pruning obeyed.

At the end of every epoch `t` the callback reports `val_loss_t` to the trial (`trial.report(val_loss_t,
step=t)`) and asks the trial's pruner whether to go on (`trial.should_prune()`). When the pruner says stop, it
sets `model.stop_training`: training ends cleanly after that epoch, as under early stopping, and the caller marks
the trial pruned (`forecast.tuning`). It works at the epoch hooks only, so it behaves the same under Keras's
`fit` and under the Forecaster's compiled loop (`forecast.training_loop`).

Only finite losses are reported: a non-finite loss is `forecast.training.NonFiniteLossGuard`'s to stop with an
error (the trial then fails, it is not pruned).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import keras

MONITOR = "val_loss"


class PruningCallback(keras.callbacks.Callback):
    """Reports each epoch's `val_loss` to an Optuna trial and stops training when the trial's pruner says so.

    Args:
        trial: an `optuna.trial.Trial` (anything with `report(value, step)` and `should_prune()`).

    Attributes:
        reported: the values reported, one per epoch from epoch 0.
        pruned_at: the epoch after which the pruner stopped training (None: it never did).
    """

    def __init__(self, trial: Any):
        super().__init__()
        self.trial = trial
        self.reported: list[float] = []
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        value = (logs or {}).get(MONITOR)
        if value is None or not math.isfinite(float(value)):
            return
        self.trial.report(float(value), step=epoch)
        self.reported.append(float(value))
        if self.trial.should_prune():
            self.pruned_at = epoch
            self.model.stop_training = True
