"""Training on several devices with `tf.distribute`: the one place estimators turn a setting into a strategy.

A `distribution` setting is `None` (TensorFlow's default strategy: one device),
`"mirrored"` (`tf.distribute.MirroredStrategy()` over every local GPU, or the CPU when there is
none) or a `tf.distribute.Strategy` the caller built (e.g. `MirroredStrategy(["/gpu:0", "/gpu:1"])`).
The network, its optimizer and its metrics are created inside `strategy.scope()` and the Forecaster's
training loop (`forecast.training_loop`) runs every optimizer step with `strategy.run`: each step splits the
batch across the replicas and sums their gradients (all-reduce), so `batch_size` is the *global* batch size
(each of `n` replicas sees about `batch_size / n` windows per step; the Forecaster rounds it up to a multiple
of `n`) and the result matches one device up to the order of floating-point sums. A last, partial batch that
splits unevenly (7 windows as 4 + 3) weighs its windows as Keras's `fit` does, by each replica's mean; and
gradients are clipped (`clipnorm`) on each replica before they are summed, so while clipping is active the
steps differ from one device's.

`tf.distribute.MultiWorkerMirroredStrategy` (several machines, `TF_CONFIG` set on each worker) trains too,
the shuffle seed agreed from the first replica; Keras's own `fit` fails there on TensorFlow 2.21 / Keras 3.15
(keras-team/keras issue 20585), which the training loop does not use. `tests/forecast/test_distribution.py`
trains one model on two workers of one machine.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import Any

import tensorflow as tf

DISTRIBUTIONS = (None, "mirrored")


def check_distribution(distribution: Any) -> None:
    """Raise `ValueError` unless `distribution` is None, `"mirrored"` or a `tf.distribute.Strategy`."""
    if distribution in DISTRIBUTIONS or isinstance(distribution, tf.distribute.Strategy):
        return
    raise ValueError(f"distribution must be None, 'mirrored' or a tf.distribute.Strategy; got {distribution!r}")


def resolve_strategy(distribution: Any) -> tf.distribute.Strategy:
    """The strategy a `distribution` setting stands for."""
    check_distribution(distribution)
    if distribution is None:
        return tf.distribute.get_strategy()
    if distribution == "mirrored":
        return tf.distribute.MirroredStrategy()
    return distribution


def even_batch_size(strategy: tf.distribute.Strategy, batch_size: int) -> int:
    """`batch_size` rounded up to a multiple of the strategy's replicas: Keras splits a global batch across the
    replicas and fails when the parts differ in size."""
    replicas = strategy.num_replicas_in_sync
    return math.ceil(batch_size / replicas) * replicas


def strategy_scope(distribution: Any) -> AbstractContextManager:
    """`strategy.scope()` of the setting: build and compile the network inside it."""
    return resolve_strategy(distribution).scope()


def saved_distribution(distribution: Any) -> str | None:
    """The JSON form of the setting in a saved model: a strategy object is a machine's devices, not the model's.

    A loaded forecaster predicts on one device; refitting it on several takes a new setting.
    """
    return distribution if distribution in DISTRIBUTIONS else None
