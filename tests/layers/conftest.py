"""Shared fixtures and helpers of the layer tests.

pytest runs with `--import-mode=importlib` and `tests/` is not a package
(another installed distribution owns a top-level `tests`), so a test module
cannot import a helper module by name. Helpers are therefore fixtures here,
most of them returning a plain function that a test calls as it would an
imported one; shapes stay the test module's own (passed in, or read from the
module's BATCH, TIME and FEATURES).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf


@pytest.fixture
def rng():
    """A fresh generator per test, seed 0 (shared with `inputs`)."""
    return np.random.default_rng(0)


@pytest.fixture
def inputs(request, rng):
    """Float32 normal noise of the test module's (BATCH, TIME, FEATURES).

    Drawn from the test's `rng` before the test itself draws from it.
    """
    module = request.module
    shape = (module.BATCH, module.TIME, module.FEATURES)
    return rng.normal(size=shape).astype("float32")


def _random_weights(layer, rng, scale=0.5):
    """Sets every weight of `layer` to uniform noise; returns the arrays."""
    weights = [rng.uniform(-scale, scale, size=w.shape).astype(w.dtype) for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


@pytest.fixture
def random_weights():
    """random_weights(layer, rng, scale=0.5): uniform noise in every weight."""
    return _random_weights


def _random_mask(rng, batch, time):
    """A (batch, time) mask, batch >= 3: sample 0 whole, sample 1 right
    padded, sample 2 masked at its first step, the rest random."""
    mask = rng.random((batch, time)) > 0.3
    mask[0, :] = True
    mask[1, -2:] = False  # right padding
    mask[2, 0] = False  # a masked first step
    return mask


@pytest.fixture
def random_mask():
    """random_mask(rng, batch, time): a random mask with the edge cases."""
    return _random_mask


@pytest.fixture
def mixed_precision():
    """Runs the test under the "mixed_float16" global policy."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy(previous)


# --- finite differences -----------------------------------------------------


def _central_differences(loss, values, eps=1e-6):
    """The gradient of `loss(array)` at the array `values`, by central
    differences (one coordinate at a time)."""
    gradient = np.zeros_like(values)
    for index in np.ndindex(values.shape):
        shifted = values.copy()
        shifted[index] += eps
        plus = loss(shifted)
        shifted[index] -= 2 * eps
        gradient[index] = (plus - loss(shifted)) / (2 * eps)
    return gradient


@pytest.fixture
def central_differences():
    """central_differences(loss, values, eps=1e-6), `loss` taking an array."""
    return _central_differences


def _gradient_errors(loss, variables, error):
    """Yields (variable, error(autodiff gradient, central differences)) for
    each variable: the tape gradient of `loss()` against the central
    differences of `float(loss())` in the variable's values."""
    with tf.GradientTape() as tape:
        value = loss()
    analytic = tape.gradient(value, variables)
    for variable, gradient in zip(variables, analytic):
        original = variable.numpy()

        def loss_at(values, variable=variable):
            variable.assign(values)
            return float(loss())

        numeric = _central_differences(loss_at, original)
        variable.assign(original)
        yield variable, error(np.asarray(gradient), numeric)


def _relative_to_the_larger(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b))


def _assert_bptt_matches_finite_differences(layer, x, readout, mask=None):
    """BPTT gradients of sum(layer(x, mask) * readout) with respect to x and
    every trainable weight (compiled loss) match central differences:
    relative error, to the larger norm, below 1e-5."""
    x = tf.Variable(x)

    @tf.function
    def weighted_output():
        return tf.reduce_sum(layer(x, mask=mask) * readout)

    variables = [x, *layer.trainable_variables]
    for variable, error in _gradient_errors(weighted_output, variables, _relative_to_the_larger):
        assert error < 1e-5, (variable.name, error)


@pytest.fixture
def assert_bptt_matches_finite_differences():
    """assert_bptt_matches_finite_differences(layer, x, readout, mask=None)."""
    return _assert_bptt_matches_finite_differences


def _relative_to_the_numeric(analytic, numeric):
    return np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric)


def _assert_weight_gradients_match_finite_differences(layer, x, readout):
    """Gradients of sum(layer(x) * readout) (eager) with respect to every
    trainable weight match central differences: relative error, to the
    finite-difference norm, below 1e-5."""

    def weighted_output():
        return tf.reduce_sum(layer(x) * readout)

    for variable, error in _gradient_errors(weighted_output, layer.trainable_variables, _relative_to_the_numeric):
        assert error < 1e-5, (variable.path, error)


@pytest.fixture
def assert_weight_gradients_match_finite_differences():
    """assert_weight_gradients_match_finite_differences(layer, x, readout)."""
    return _assert_weight_gradients_match_finite_differences


# --- serialization and training ---------------------------------------------


@pytest.fixture
def save_and_load(tmp_path):
    """save_and_load(model, name="model.keras"): `model` saved to a .keras
    file under the test's tmp_path, then loaded back from it."""

    def save_and_load(model, name="model.keras"):
        path = tmp_path / name
        model.save(path)
        return keras.saving.load_model(path)

    return save_and_load


@pytest.fixture
def running_mean_task():
    """(x, y): x uniform in [-1, 1), shaped (64, 8, 1), seed 0; y the mean
    of x over time, shaped (64, 1)."""
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 8, 1))
    return x.astype("float32"), x.mean(axis=1).astype("float32")


def _fit_repeated(model, x, y, steps):
    """Trains `model` for one epoch of `steps` full batches (x, y), in order:
    a single fit call keeps it quick."""
    model.fit(
        np.tile(x, (steps, 1, 1)),
        np.tile(y, (steps, 1)),
        batch_size=len(x),
        shuffle=False,
        verbose=0,
    )


@pytest.fixture
def fit_repeated():
    """fit_repeated(model, x, y, steps): `steps` batches (x, y), one epoch."""
    return _fit_repeated
