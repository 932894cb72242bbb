"""SCRN: NumPy re-derivation, SimpleRNN reduction, finite differences, layer behaviour."""

import keras
import numpy as np
import pytest

from layers.scrn import SCRN, SCRNCell

rng = np.random.default_rng(1412)

WEIGHT_NAMES = ("kernel", "context_kernel", "context_recurrent_kernel", "recurrent_kernel", "bias")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def scrn_reference(x, weights, alpha, h0=None, s0=None):
    """Mikolov et al. 2015, eqs. (4)-(5), row-vector form:
    s_t = (1 - alpha) x_t B + alpha s_{t-1};  h_t = sigmoid(s_t P + x_t A + h_{t-1} R + b)."""
    A, B, P, R, b = (weights[name] for name in WEIGHT_NAMES)
    batch, steps, _ = x.shape
    h = np.zeros((batch, A.shape[1])) if h0 is None else h0
    s = np.zeros((batch, B.shape[1])) if s0 is None else s0
    outputs = []
    for t in range(steps):
        s = (1 - alpha) * x[:, t] @ B + alpha * s
        h = sigmoid(s @ P + x[:, t] @ A + h @ R + b)
        outputs.append(np.concatenate([h, s], axis=-1))
    return np.stack(outputs, axis=1)


def set_random_weights(layer, input_dim, dtype="float32", batch_size=None, **overrides):
    layer.build((batch_size, None, input_dim))
    cell = layer.cell
    weights = {
        "kernel": rng.normal(size=(input_dim, cell.units)),
        "context_kernel": rng.normal(size=(input_dim, cell.context_units)),
        "context_recurrent_kernel": rng.normal(size=(cell.context_units, cell.units)),
        "recurrent_kernel": rng.normal(scale=0.5, size=(cell.units, cell.units)),
        "bias": rng.normal(size=(cell.units,)),
        **overrides,
    }
    for name, value in weights.items():
        getattr(cell, name).assign(value.astype(dtype))
    return weights


def test_full_sequence_matches_numpy_reference():
    x = rng.normal(size=(3, 9, 4)).astype("float32")
    layer = SCRN(5, context_units=3, alpha=0.9, return_sequences=True)
    weights = set_random_weights(layer, 4)
    outputs = layer(x).numpy()
    assert outputs.shape == (3, 9, 8)
    expected = scrn_reference(x.astype("float64"), weights, 0.9)
    np.testing.assert_allclose(outputs, expected, atol=1e-5)


def test_single_step_matches_numpy_reference():
    cell = SCRNCell(4, context_units=2)
    cell.build((None, 3))
    weights = {name: getattr(cell, name).numpy().astype("float64") for name in WEIGHT_NAMES}
    x = rng.normal(size=(2, 3)).astype("float32")
    h0 = rng.normal(size=(2, 4)).astype("float32")
    s0 = rng.normal(size=(2, 2)).astype("float32")
    output, (h, s) = cell(x, [h0, s0])
    expected = scrn_reference(x[:, None].astype("float64"), weights, 0.95, h0, s0)[:, 0]
    np.testing.assert_allclose(output.numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(output.numpy(), np.concatenate([h.numpy(), s.numpy()], axis=-1))


def test_context_is_an_exponential_moving_average_of_the_projected_inputs():
    x = rng.normal(size=(2, 30, 3)).astype("float64")
    layer = SCRN(2, context_units=4, alpha=0.8, return_sequences=True, dtype="float64")
    weights = set_random_weights(layer, 3, dtype="float64")
    context = layer(x).numpy()[:, :, 2:]
    decay = 0.8 ** np.arange(29, -1, -1)  # alpha^(T-1-k) for k = 0..T-1
    closed_form = 0.2 * np.einsum("k,bkf,fc->bc", decay, x, weights["context_kernel"])
    np.testing.assert_allclose(context[:, -1], closed_form, rtol=1e-10)


def test_zero_context_weights_reduce_to_sigmoid_simple_rnn():
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    scrn = SCRN(5, context_units=2, return_sequences=True)
    weights = set_random_weights(scrn, 3, context_kernel=np.zeros((3, 2)), context_recurrent_kernel=np.zeros((2, 5)))
    simple = keras.layers.SimpleRNN(5, activation="sigmoid", return_sequences=True)
    simple.build((None, None, 3))
    simple.set_weights([weights["kernel"], weights["recurrent_kernel"], weights["bias"]])
    np.testing.assert_allclose(scrn(x).numpy()[:, :, :5], simple(x).numpy(), atol=1e-5)


def test_alpha_is_fixed_not_a_trained_weight():
    layer = SCRN(3, context_units=2, alpha=0.7)
    layer.build((None, None, 2))
    names = sorted(variable.name for variable in layer.trainable_variables)
    assert names == sorted(WEIGHT_NAMES)
    assert layer.alpha == 0.7


def test_bptt_gradients_match_central_finite_differences_in_float64(
    assert_weight_gradients_match_finite_differences,
):
    x = rng.normal(size=(2, 5, 2))
    layer = SCRN(3, context_units=2, alpha=0.9, return_sequences=True, unroll=True, dtype="float64")
    set_random_weights(layer, 2, dtype="float64")
    readout = rng.normal(size=(2, 5, 5))
    assert_weight_gradients_match_finite_differences(layer, x, readout)


def test_return_state_initial_state_and_go_backwards():
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    h0 = rng.normal(size=(2, 4)).astype("float32")
    s0 = rng.normal(size=(2, 2)).astype("float32")
    layer = SCRN(4, context_units=2, return_state=True, go_backwards=True)
    weights = set_random_weights(layer, 3)
    output, h, s = layer(x, initial_state=[h0, s0])
    expected = scrn_reference(x[:, ::-1].astype("float64"), weights, 0.95, h0, s0)[:, -1]
    assert output.shape == (2, 6) and h.shape == (2, 4) and s.shape == (2, 2)
    np.testing.assert_allclose(output.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(np.concatenate([h, s], axis=-1), expected, atol=1e-5)


def test_stateful_layer_continues_from_the_previous_batch():
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    layer = SCRN(4, context_units=2, stateful=True, return_sequences=True)
    weights = set_random_weights(layer, 3, batch_size=2)
    halves = [layer(x[:, :3]).numpy(), layer(x[:, 3:]).numpy()]
    expected = scrn_reference(x.astype("float64"), weights, 0.95)
    np.testing.assert_allclose(np.concatenate(halves, axis=1), expected, atol=1e-5)
    layer.reset_state()
    np.testing.assert_allclose(layer(x[:, :3]).numpy(), expected[:, :3], atol=1e-5)


def test_masked_steps_keep_both_states():
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    mask = np.ones((2, 6), dtype=bool)
    mask[0, [1, 4]] = False
    layer = SCRN(4, context_units=2, return_state=True)
    weights = set_random_weights(layer, 3)
    _, h, s = layer(x, mask=mask)
    for sample in range(2):
        kept = x[sample : sample + 1, mask[sample]].astype("float64")
        expected = scrn_reference(kept, weights, 0.95)[0, -1]
        np.testing.assert_allclose(np.concatenate([h[sample], s[sample]]), expected, atol=1e-5)


def test_get_config_round_trip_and_keras_file_give_identical_outputs(save_and_load):
    x = rng.normal(size=(2, 8, 3)).astype("float32")
    layer = SCRN(4, context_units=3, alpha=0.5, use_bias=False)
    model = keras.Sequential([keras.Input((8, 3)), layer, keras.layers.Dense(1)])
    clone = SCRN.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert (clone.context_units, clone.alpha, clone.use_bias) == (3, 0.5, False)

    loaded = save_and_load(model, "scrn.keras")
    assert isinstance(loaded.layers[0], SCRN)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


def test_runs_under_mixed_float16(mixed_precision):
    output = SCRN(4, context_units=2)(rng.normal(size=(2, 10, 3)).astype("float32"))
    assert output.dtype == "float16" and output.shape == (2, 6)
    assert np.all(np.isfinite(output.numpy()))


def test_context_units_default_to_units():
    assert SCRNCell(6).context_units == 6 and SCRNCell(6).output_size == 12


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"units": 4, "alpha": 1.5}, "alpha"),
        ({"units": 0}, "units"),
        ({"units": 4, "context_units": -1}, "context_units"),
    ],
)
def test_invalid_arguments_say_what_was_expected(arguments, message):
    with pytest.raises(ValueError, match=message):
        SCRNCell(**arguments)


def test_tiny_training_run_lowers_the_loss():
    keras.utils.set_random_seed(0)
    x = rng.normal(size=(16, 8, 2)).astype("float32")
    y = x[:, :4, 0].sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((8, 2)), SCRN(8, context_units=4), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", jit_compile=False)
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0]
