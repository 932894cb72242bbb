"""The Forecaster's training loop: a whole epoch in one compiled call, Keras's callbacks at the epoch hooks.

Keras's `fit` costs about 1.4 ms a batch on a 2-core CPU whatever the network (its input pipeline, a Python
call and the callbacks per batch or per `steps_per_execution` batches), about as much as the whole training
step of a 32-unit LSTM at batch 64, and it gives the layers a batch known only at run time. Here the training
windows stay on the device as tensors and one `tf.function` call runs an epoch:

```
order     = stateless_shuffle(0..N-1, seed = (s, epoch))          (0..N-1 with shuffle=False)
rows_b    = order[b B : (b+1) B],  b = 0..ceil(N / B) - 1          (the last batch partial, as in fit)
L_b       = loss(model(x[rows_b]), y[rows_b], w[rows_b])           (the compiled loss, sample weights included)
theta    <- optimizer(theta, grad_theta L_b)                       (the compiled optimizer: Adam with clipnorm)
loss      = sum_b |rows_b| L_b / N                                 (fit's epoch loss)
val_loss  = sum_v |rows_v| L_v / N_val,  validation in batches of B, without dropout
```

Every full batch has the static shape `(B, ...)`, so the recurrent layers trace with a known batch (the fused
LSTM picks its parts at trace time instead of switching on the batch at run time); the last partial batch is a
second trace of the step. `python -m benchmarks.layers_speed --loop-options` and `--forecaster` compare it
with `fit`. The loop over batches stops at the first non-finite batch loss, which makes the epoch
loss non-finite: `forecast.training.NonFiniteLossGuard` raises at the end of that epoch.

Callbacks: `on_train_begin/end` and `on_epoch_begin/end` are called as `fit` calls them, with the logs
`{"loss", "val_loss"}` (`val_loss` with validation data; callbacks add their own keys, such as
`learning_rate`), and `model.stop_training` ends training after the epoch. So `EarlyStopping` (with
`restore_best_weights`), `ReduceLROnPlateau`, `LearningRateScheduler`, `History`, `CSVLogger` and any
callback working at the epoch level behave as under `fit`. Batch hooks (`on_train_batch_*`,
`on_test_batch_*`) are not called: a callback that acts per batch (`TerminateOnNaN`, a batch-frequency
`TensorBoard`) does nothing. Compiled metrics are not computed; the Forecaster compiles none.

Distribution: under a `tf.distribute` strategy the data are copied to every replica's device once; each
optimizer step runs `strategy.run` on every replica, each takes its share of the global batch (an uneven last
batch as `fit` splits it: `ceil(m / n)` rows to each replica but the last), computes Keras's per-replica loss
(its mean over the replica's rows divided by the replicas) and the compiled optimizer sums the replicas'
gradients. The losses are then summed across replicas as `fit`'s loss tracker sums them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from forecast.training import steps_per_epoch

Arrays = tuple[Mapping[str, np.ndarray], np.ndarray, np.ndarray | None]


def train_network(
    model: keras.Model,
    inputs: Mapping[str, np.ndarray],
    target: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    validation: tuple | None = None,
    epochs: int,
    batch_size: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    seed: int | None = None,
    shuffle: bool = True,
    strategy: tf.distribute.Strategy | None = None,
    verbose: int = 0,
) -> keras.callbacks.History:
    """Train the compiled `model` on in-memory arrays, one compiled call per epoch (see the module docstring): the
    Forecaster's replacement for `model.fit(inputs, target, sample_weight=..., validation_data=validation,
    epochs=..., batch_size=..., shuffle=True, callbacks=..., verbose=...)`.

    Args:
        model: a compiled Keras model (its optimizer and loss are used), built in `strategy`'s scope.
        inputs: the model's inputs by name, each with the windows on axis 0.
        target: the targets, windows on axis 0.
        sample_weight: one weight per window, or None.
        validation: `(inputs, target)` or `(inputs, target, sample_weight)` scored after every epoch as
            `val_loss`, or None.
        epochs: the most epochs to train (callbacks may stop earlier through `model.stop_training`).
        batch_size: windows per optimizer step (the global batch under a strategy).
        callbacks: Keras callbacks, called at the train and epoch hooks.
        seed: seed of the per-epoch shuffles; None draws one from NumPy's global generator (which
            `keras.utils.set_random_seed` seeds).
        shuffle: whether each epoch visits the windows in a new random order.
        strategy: the `tf.distribute` strategy `model` was built under; None for the current one.
        verbose: 0 silent, 1 or 2 one progress line per epoch (Keras's `ProgbarLogger`).

    Returns:
        The `History` callback, whose `history` holds the epoch logs (`loss`, `val_loss` and the keys that
        callbacks add, such as `learning_rate`), as `fit` returns it.
    """
    loop = EpochLoop(
        model=model,
        inputs=inputs,
        target=target,
        sample_weight=sample_weight,
        validation=validation,
        batch_size=batch_size,
        seed=seed,
        shuffle=shuffle,
        strategy=strategy,
    )
    return loop.train(epochs, callbacks, verbose)


class EpochLoop:
    """A model and its training data on the device, with the compiled epoch of the module docstring.

    Args: as `train_network`'s, which builds one and calls `train` once. Built once and trained several times,
    the epoch is traced once (benchmarks time it so); the shuffles go on from epoch to epoch.
    """

    def __init__(
        self,
        *,
        model: keras.Model,
        inputs: Mapping[str, np.ndarray],
        target: np.ndarray,
        sample_weight: np.ndarray | None = None,
        validation: tuple | None = None,
        batch_size: int,
        seed: int | None = None,
        shuffle: bool = True,
        strategy: tf.distribute.Strategy | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
        self.model = model
        self.batch_size = int(batch_size)
        self.strategy = strategy or tf.distribute.get_strategy()
        training = _checked_arrays(inputs, target, sample_weight, "training")
        held_out = None
        if validation is not None:
            validation_inputs, validation_target, *validation_weights = validation
            weights = validation_weights[0] if validation_weights else None
            held_out = _checked_arrays(validation_inputs, validation_target, weights, "validation")
        self.windows = len(training[1])
        self.has_validation = held_out is not None
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        seed = _first_replica_seed(self.strategy, seed)
        _build_training_state(model, self.strategy, training)
        self._run_epoch = _epoch_function(model, self.strategy, training, held_out, self.batch_size, shuffle, seed)
        self._training_data = _on_replicas(self.strategy, training)
        self._validation_data = None if held_out is None else _on_replicas(self.strategy, held_out)
        self._epochs_run = 0

    def train(
        self, epochs: int, callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int = 0
    ) -> keras.callbacks.History:
        """Train for at most `epochs` epochs with `callbacks`, as `fit` would; returns the `History`."""
        callback_list = keras.callbacks.CallbackList(
            list(callbacks),
            add_history=True,
            add_progbar=verbose != 0,
            model=self.model,
            verbose=verbose,
            epochs=epochs,
            steps=steps_per_epoch(self.windows, self.batch_size),
        )
        self.model.stop_training = False
        callback_list.on_train_begin()
        logs: dict[str, float] = {}
        for epoch in range(epochs):
            callback_list.on_epoch_begin(epoch)
            logs = self.epoch()
            callback_list.on_epoch_end(epoch, logs)
            if self.model.stop_training:
                break
        callback_list.on_train_end(logs)
        return self.model.history

    def epoch(self) -> dict[str, float]:
        """One epoch, without callbacks: its logs `{"loss"[, "val_loss"]}`."""
        loss, validation_loss = self._run_epoch(
            tf.constant(self._epochs_run, tf.int64), self._training_data, self._validation_data
        )
        self._epochs_run += 1
        logs = {"loss": float(loss)}
        if self.has_validation:
            logs["val_loss"] = float(validation_loss)
        return logs


def _checked_arrays(
    inputs: Mapping[str, np.ndarray], target: np.ndarray, sample_weight: np.ndarray | None, part: str
) -> Arrays:
    """The arrays with floating ones in Keras's float type, all with the same number of windows."""
    arrays = {name: _as_floatx(values) for name, values in inputs.items()}
    target = _as_floatx(target)
    weights = None if sample_weight is None else _as_floatx(sample_weight)
    counts = {len(values) for values in (*arrays.values(), target, *([] if weights is None else [weights]))}
    if len(counts) != 1 or 0 in counts:
        raise ValueError(f"{part} inputs, target and weights must hold the same number (> 0) of windows; got {counts}")
    return arrays, target, weights


def _as_floatx(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(keras.backend.floatx()) if np.issubdtype(values.dtype, np.floating) else values


def _build_training_state(model: keras.Model, strategy: tf.distribute.Strategy, training: Arrays) -> None:
    """Create the optimizer's slots and the compiled loss before tracing: no variable may be created in a loop."""
    inputs, target, weights = training
    with strategy.scope():
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        first = {name: values[:1] for name, values in inputs.items()}
        model.compute_loss(
            x=first,
            y=target[:1],
            y_pred=model(first, training=False),
            sample_weight=None if weights is None else weights[:1],
            training=False,
        )


def _first_replica_seed(strategy: tf.distribute.Strategy, seed: int) -> int:
    """The first replica's `seed` on every replica: each worker of a multi-worker strategy draws its own, and the
    replicas must split the same shuffled order."""
    if strategy.num_replicas_in_sync == 1:
        return seed

    @tf.function
    def first_seed():
        context = tf.distribute.get_replica_context()
        is_first = tf.cast(tf.equal(context.replica_id_in_sync_group, 0), tf.int32)
        return context.all_reduce("SUM", tf.constant(seed, tf.int32) * is_first)

    return int(strategy.experimental_local_results(strategy.run(first_seed))[0])


def _on_replicas(strategy: tf.distribute.Strategy, arrays: Arrays) -> Any:
    """The arrays as tensors on every replica's device, copied there once (one value per replica, passed to
    `strategy.run`, which hands each replica its own)."""
    inputs, target, weights = arrays

    def copy(context) -> dict[str, Any]:
        return {
            "inputs": {name: tf.identity(values) for name, values in inputs.items()},
            "target": tf.identity(target),
            "weights": None if weights is None else tf.identity(weights),
        }

    return strategy.experimental_distribute_values_from_function(copy)


def _epoch_function(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    training: Arrays,
    validation: Arrays | None,
    batch_size: int,
    shuffle: bool,
    seed: int,
):
    """`run_epoch(epoch, training_data, validation_data) -> (loss, val_loss)`: one epoch in one compiled call."""
    replicas = strategy.num_replicas_in_sync
    variables = model.trainable_variables
    windows = len(training[1])

    def train_rows(data, rows):
        """One optimizer step on `rows` of `data`; the sum of the windows' losses over the replicas."""

        def replica_step(data, rows):
            local = _replica_rows(rows, replicas)
            x, y, w = _take(data, local)
            with tf.GradientTape() as tape:
                loss = _replica_loss(model, x, y, w, training=True)
                scaled = model.optimizer.scale_loss(loss)
            if rows.shape[0] % replicas == 0:
                gradients = tape.gradient(scaled, variables)
            else:
                # A replica may get no rows of an uneven last batch: its share is zero, but the fused LSTM's
                # gradient of an empty batch is not (TensorFlow leaves it uninitialised).
                gradients = tape.gradient(scaled, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
                has_rows = tf.size(local) > 0
                gradients = [tf.where(has_rows, g, tf.zeros_like(g)) for g in gradients]
            model.optimizer.apply_gradients(zip(gradients, variables))
            return loss * replicas * tf.cast(tf.size(local), loss.dtype)

        return strategy.reduce("SUM", strategy.run(replica_step, args=(data, rows)), axis=None)

    def validation_rows(data, rows):
        """The sum of the windows' validation losses (no dropout) over the replicas."""

        def replica_loss(data, rows):
            local = _replica_rows(rows, replicas)
            x, y, w = _take(data, local)
            loss = _replica_loss(model, x, y, w, training=False)
            return loss * replicas * tf.cast(tf.size(local), loss.dtype)

        return strategy.reduce("SUM", strategy.run(replica_loss, args=(data, rows)), axis=None)

    @tf.function(jit_compile=False)
    def run_epoch(epoch, training_data, validation_data):
        order = tf.range(windows, dtype=tf.int32)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        loss = _sum_over_batches(train_rows, training_data, order, batch_size) / windows
        if validation is None:
            return loss, tf.constant(math.nan)
        held_out = len(validation[1])
        validation_order = tf.range(held_out, dtype=tf.int32)
        return loss, _sum_over_batches(validation_rows, validation_data, validation_order, batch_size) / held_out

    return run_epoch


def _sum_over_batches(step, data, order: tf.Tensor, batch_size: int) -> tf.Tensor:
    """`sum_b step(data, rows_b)` over the batches of `order` in sequence (full batches of a static size, then
    the partial one), stopping at the first non-finite term."""
    full, remainder = divmod(int(order.shape[0]), batch_size)
    total = tf.constant(0.0, keras.backend.floatx())
    if full:
        batches = tf.reshape(order[: full * batch_size], (full, batch_size))
        _, total = tf.while_loop(
            lambda batch, total: (batch < full) & tf.math.is_finite(total),
            lambda batch, total: (batch + 1, total + step(data, batches[batch])),
            (tf.constant(0), total),
        )
    if remainder:
        rows = order[full * batch_size :]
        total = tf.cond(tf.math.is_finite(total), lambda: total + step(data, rows), lambda: total)
    return total


def _replica_rows(rows: tf.Tensor, replicas: int) -> tf.Tensor:
    """This replica's part of a global batch: equal parts, or for an uneven batch of m rows `ceil(m / n)` to every
    replica but the last (which may get fewer or none), as `fit` splits it."""
    if replicas == 1:
        return rows
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    count = int(rows.shape[0])
    if count % replicas == 0:
        return tf.reshape(rows, (replicas, count // replicas))[replica]
    share = -(-count // replicas)
    start = tf.minimum(replica * share, count)
    return rows[start : tf.minimum(start + share, count)]


def _replica_loss(model: keras.Model, x, y, weights, training: bool) -> tf.Tensor:
    """Keras's loss of one replica's rows as a scalar (Keras leaves a replica's empty part an empty vector)."""
    loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=training), sample_weight=weights, training=training)
    return tf.reduce_sum(loss)


def _take(data: Mapping[str, Any], rows: tf.Tensor) -> tuple:
    """`(inputs, target, weights)` of the windows `rows`."""
    inputs = {name: tf.gather(values, rows) for name, values in data["inputs"].items()}
    weights = None if data["weights"] is None else tf.gather(data["weights"], rows)
    return inputs, tf.gather(data["target"], rows), weights
