"""The Forecaster's compiled training loop against Keras's `fit`, with the callbacks the Forecaster passes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from forecast.losses import PinballLoss
from forecast.network import build_network
from forecast.training import NonFiniteLossGuard
from forecast.training_loop import EpochLoop, train_network

WINDOWS, BATCH = 37, 8
"""Four full batches and a partial one of 5 windows."""


def windows(seed: int = 0, n: int = WINDOWS, quantiles: int | None = None):
    """Inputs, targets and sample weights of a tiny forecasting problem (lookback 5, horizon 2)."""
    rng = np.random.default_rng(seed)
    inputs = {
        "past": rng.normal(size=(n, 5, 2)).astype("float32"),
        "static": rng.normal(size=(n, 1)).astype("float32"),
    }
    target = (inputs["past"][:, -2:, 0] + rng.normal(scale=0.1, size=(n, 2)) + 1.0).astype("float32")
    return inputs, target, rng.uniform(0.5, 2.0, n).astype("float32")


def network(loss="mae", quantiles: list[float] | None = None, learning_rate: float = 0.01, clipnorm=1.0):
    keras.utils.set_random_seed(3)
    model = build_network(
        "lstm", 4, 1, lookback=5, horizon=2, n_past_features=2, n_static_features=1,
        n_quantiles=len(quantiles) if quantiles else None,
    )  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm), loss=loss, jit_compile=False)
    return model


def assert_same_weights(found: keras.Model, expected: keras.Model, tolerance: float = 2e-5) -> None:
    for got, want in zip(found.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize(
    "loss, quantiles, weighted",
    [("mae", None, True), pytest.param(PinballLoss([0.1, 0.5]), [0.1, 0.5], False, marks=pytest.mark.slow)],
    ids=["mae-sample-weights", "pinball-quantiles"],
)
def test_two_epochs_without_shuffling_equal_keras_fit(loss, quantiles, weighted):
    inputs, target, weights = windows()
    validation = windows(seed=1, n=11)[: 2 if not weighted else 3]
    weights = weights if weighted else None
    reference, ours = network(loss, quantiles), network(loss, quantiles)
    expected = reference.fit(
        inputs, target, sample_weight=weights, validation_data=validation, epochs=2, batch_size=BATCH,
        shuffle=False, verbose=0,
    )  # fmt: skip
    found = train_network(
        ours, inputs, target, weights, validation=validation, epochs=2, batch_size=BATCH, shuffle=False
    )
    assert_same_weights(ours, reference)
    assert set(found.history) == set(expected.history) == {"loss", "val_loss"}
    for name in ("loss", "val_loss"):
        np.testing.assert_allclose(found.history[name], expected.history[name], rtol=1e-5)
    assert int(ours.optimizer.iterations) == int(reference.optimizer.iterations) == 2 * 5


def test_a_shuffled_epoch_visits_every_window_once():
    """With a zero learning rate the weights stay put, so the epoch loss is the loss of every window once, in any
    order: Keras's `evaluate`, whatever the shuffle."""
    inputs, target, weights = windows()
    model = network(learning_rate=0.0)
    loop = EpochLoop(model=model, inputs=inputs, target=target, sample_weight=weights, batch_size=BATCH, seed=5)
    losses = [loop.epoch()["loss"] for _ in range(2)]
    expected = model.evaluate(inputs, target, sample_weight=weights, batch_size=WINDOWS, verbose=0)
    np.testing.assert_allclose(losses, [expected, expected], rtol=1e-5)


def test_the_same_seed_repeats_training_and_another_seed_shuffles_differently():
    inputs, target, _ = windows()
    runs = {}
    for name, seed in (("first", 1), ("again", 1), ("other", 2)):
        model = network()
        train_network(model, inputs, target, epochs=2, batch_size=BATCH, seed=seed)
        runs[name] = model
    assert_same_weights(runs["again"], runs["first"], tolerance=0.0)
    assert not np.allclose(runs["other"].get_weights()[0], runs["first"].get_weights()[0])


def plateau_callbacks():
    return [
        NonFiniteLossGuard(),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-4),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
    ]


def test_plateau_halving_and_early_stopping_follow_fit_and_restore_the_best_weights():
    """The validation targets are the negated training targets, so the validation loss stops improving early: the
    rate halves after every epoch without improvement and early stopping ends training and restores the weights
    of the best epoch, epoch for epoch as under `fit`."""
    inputs, target, _ = windows()
    validation = (inputs, -target)
    reference, ours = network(learning_rate=0.05), network(learning_rate=0.05)
    expected = reference.fit(
        inputs, target, validation_data=validation, epochs=30, batch_size=BATCH, shuffle=False,
        callbacks=plateau_callbacks(), verbose=0,
    )  # fmt: skip
    found = train_network(
        ours, inputs, target, validation=validation, epochs=30, batch_size=BATCH, shuffle=False,
        callbacks=plateau_callbacks(),
    )  # fmt: skip
    rates = found.history["learning_rate"]
    assert len(rates) < 30, "early stopping never stopped training"
    assert 0.025 in [pytest.approx(rate) for rate in rates]
    assert all(
        later in (pytest.approx(earlier), pytest.approx(earlier / 2)) for earlier, later in itertools.pairwise(rates)
    )
    for name in ("loss", "val_loss", "learning_rate"):
        np.testing.assert_allclose(found.history[name], expected.history[name], rtol=1e-4)
    assert_same_weights(ours, reference, tolerance=1e-4)
    restored = ours.evaluate(*validation, batch_size=WINDOWS, verbose=0)
    assert restored == pytest.approx(min(found.history["val_loss"]), rel=1e-5)


def test_a_learning_rate_schedule_sets_each_epochs_rate():
    inputs, target, _ = windows()
    rates = [0.02, 0.01, 0.005]
    model = network()
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: rates[epoch])
    history = train_network(model, inputs, target, epochs=3, batch_size=BATCH, callbacks=[schedule])
    np.testing.assert_allclose(history.history["learning_rate"], rates, rtol=1e-6)
    assert float(model.optimizer.learning_rate) == pytest.approx(rates[-1])


def test_a_nan_loss_raises_from_the_guard_at_the_end_of_its_epoch():
    inputs, target, _ = windows()
    target[20] = np.nan  # in the third batch of the first epoch
    model = network()
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 1"):
        train_network(
            model, inputs, target, epochs=3, batch_size=BATCH, shuffle=False, callbacks=[NonFiniteLossGuard()]
        )
    # The epoch stopped at the bad batch: three optimizer steps, not five.
    assert int(model.optimizer.iterations) == 3


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls: list[tuple] = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))
        self.final_logs = dict(logs)


def test_a_user_callback_receives_the_epoch_hooks_and_logs_and_verbose_prints_a_line_per_epoch(capsys):
    inputs, target, _ = windows()
    validation = windows(seed=1, n=11)[:2]
    recorder = Recorder()
    history = train_network(
        network(), inputs, target, validation=validation, epochs=2, batch_size=BATCH, callbacks=[recorder], verbose=1
    )
    assert [call[:2] for call in recorder.calls] == [
        ("train_begin",), ("epoch_begin", 0), ("epoch_end", 0), ("epoch_begin", 1), ("epoch_end", 1), ("train_end",)
    ]  # fmt: skip
    epoch_logs = [call[2] for call in recorder.calls if call[0] == "epoch_end"]
    assert [logs["loss"] for logs in epoch_logs] == history.history["loss"]
    assert [logs["val_loss"] for logs in epoch_logs] == history.history["val_loss"]
    assert recorder.final_logs == epoch_logs[-1]
    printed = capsys.readouterr().out
    assert printed.count("5/5") == 2 and printed.count("val_loss:") == 2


def test_mismatched_arrays_are_refused():
    inputs, target, _ = windows()
    with pytest.raises(ValueError, match="training inputs, target and weights must hold the same number"):
        train_network(network(), inputs, target[:-1], epochs=1, batch_size=BATCH)


MIRRORED = """
import numpy as np, tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from forecast.network import build_network
from forecast.training_loop import train_network

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def network():
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = build_network("lstm", 4, 1, 5, 2, n_past_features=2, n_static_features=1)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", jit_compile=False)
    return model


n = 37  # four batches of 8 and one of 5
rng = np.random.default_rng(0)
inputs = {"past": rng.normal(size=(n, 5, 2)).astype("float32"), "static": rng.normal(size=(n, 1)).astype("float32")}
target = rng.normal(size=(n, 2)).astype("float32")
weights = rng.uniform(0.5, 2, n).astype("float32")
reference, ours = network(), network()
expected = reference.fit(inputs, target, sample_weight=weights, validation_data=(inputs, target), epochs=2,
                         batch_size=8, shuffle=False, verbose=0)
found = train_network(ours, inputs, target, weights, validation=(inputs, target), epochs=2, batch_size=8,
                      shuffle=False, strategy=strategy)
for name in ("loss", "val_loss"):
    np.testing.assert_allclose(found.history[name], expected.history[name], rtol=1e-5)
for got, want in zip(ours.get_weights(), reference.get_weights(), strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
print("ok", n, ours.distribute_strategy.num_replicas_in_sync)
"""


@pytest.mark.slow
def test_a_mirrored_strategy_on_two_cpus_trains_as_keras_fit_does(tmp_path):
    """Two replicas: 37 windows are four batches of 8 split 4 + 4 and a last batch of 5 split 3 + 2, as Keras
    splits it."""
    script = tmp_path / "mirrored.py"
    script.write_text(textwrap.dedent(MIRRORED))
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[-2:] == ["ok 37 2", ""]
