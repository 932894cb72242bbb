"""Tests of layers.elman: ElmanCell, Elman and IRNN.

References are independent of the code under test: keras.layers.SimpleRNN
with copied weights, a NumPy re-implementation of the Elman equations, and
central finite differences for the gradients.
"""

import keras
import numpy as np
import pytest

from layers.elman import IRNN, Elman, ElmanCell

BATCH, TIME, FEATURES, UNITS, OUTPUTS = 3, 6, 4, 5, 2


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def identity(a):
    return a


def relu(a):
    return np.maximum(a, 0.0)


def numpy_elman(
    x,
    kernel,
    recurrent_kernel,
    bias,
    activation,
    output_kernel=None,
    output_bias=None,
    output_activation=identity,
    mask=None,
    h0=None,
):
    """Elman 1990 from the equations, step by step.

    h_t = σ(x_t W_hx + h_{t-1} W_hh + b_h), y_t = f_o(h_t W_yh + b_y); a
    masked step keeps h and repeats the previous output (zeros before the
    first unmasked step, as in keras.layers.RNN, whatever h0 is).
    Returns (outputs (batch, time, out), last state (batch, units)).
    """
    batch, time, _ = x.shape
    h = np.zeros((batch, kernel.shape[1])) if h0 is None else h0
    readout = kernel if output_kernel is None else output_kernel
    y = np.zeros((batch, readout.shape[1]))
    mask = np.ones((batch, time), bool) if mask is None else mask
    outputs = []
    for t in range(time):
        h_new = activation(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        y_new = h_new
        if output_kernel is not None:
            y_new = output_activation(h_new @ output_kernel + output_bias)
        keep = mask[:, t : t + 1]
        h = np.where(keep, h_new, h)
        y = np.where(keep, y_new, y)
        outputs.append(y)
    return np.stack(outputs, axis=1), h


# --- equivalence with Keras -------------------------------------------------


@pytest.mark.parametrize("go_backwards", [False, True])
def test_tanh_elman_equals_keras_simple_rnn(rng, inputs, go_backwards, random_mask, random_weights):
    mask = random_mask(rng, BATCH, TIME)
    kwargs = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    reference = keras.layers.SimpleRNN(UNITS, **kwargs)
    reference.build(inputs.shape)
    random_weights(reference, rng)
    layer = Elman(UNITS, activation="tanh", **kwargs)
    layer.build(inputs.shape)
    layer.set_weights(reference.get_weights())

    expected_sequence, expected_state = reference(inputs, mask=mask)
    sequence, state = layer(inputs, mask=mask)

    np.testing.assert_allclose(sequence, expected_sequence, atol=1e-5)
    np.testing.assert_allclose(state, expected_state, atol=1e-5)


def test_layer_equals_plain_keras_rnn_over_the_cell(rng, inputs, random_mask, random_weights):
    layer = Elman(UNITS, output_units=OUTPUTS, return_sequences=True)
    layer.build(inputs.shape)
    weights = random_weights(layer, rng)
    plain = keras.layers.RNN(ElmanCell(UNITS, output_units=OUTPUTS), return_sequences=True)
    plain.build(inputs.shape)
    plain.set_weights(weights)
    mask = random_mask(rng, BATCH, TIME)

    np.testing.assert_allclose(layer(inputs, mask=mask), plain(inputs, mask=mask), atol=1e-6)


# --- NumPy re-implementation ------------------------------------------------


def test_cell_one_step_matches_equations(rng, random_weights):
    cell = ElmanCell(UNITS, output_units=OUTPUTS, output_activation="tanh")
    cell.build((BATCH, FEATURES))
    kernel, recurrent, bias, out_kernel, out_bias = random_weights(cell, rng)
    x = rng.normal(size=(BATCH, FEATURES)).astype("float32")
    h_tm1 = rng.normal(size=(BATCH, UNITS)).astype("float32")

    output, (h,) = cell(x, [h_tm1])

    expected_h = sigmoid(x @ kernel + h_tm1 @ recurrent + bias)
    expected_y = np.tanh(expected_h @ out_kernel + out_bias)
    np.testing.assert_allclose(h, expected_h, atol=1e-5)
    np.testing.assert_allclose(output, expected_y, atol=1e-5)


def test_sigmoid_elman_with_readout_sequence_matches_equations(rng, inputs, random_mask, random_weights):
    mask = random_mask(rng, BATCH, TIME)
    layer = Elman(UNITS, output_units=OUTPUTS, return_sequences=True, return_state=True)
    layer.build(inputs.shape)
    weights = random_weights(layer, rng)

    sequence, state = layer(inputs, mask=mask)

    expected_sequence, expected_state = numpy_elman(inputs, *weights[:3], sigmoid, *weights[3:], mask=mask)
    assert sequence.shape == (BATCH, TIME, OUTPUTS)
    assert state.shape == (BATCH, UNITS)
    np.testing.assert_allclose(sequence, expected_sequence, atol=1e-5)
    np.testing.assert_allclose(state, expected_state, atol=1e-5)


def test_default_activation_is_sigmoid_without_readout(rng, inputs, random_weights):
    layer = Elman(UNITS)
    layer.build(inputs.shape)
    weights = random_weights(layer, rng)

    expected_sequence, _ = numpy_elman(inputs, *weights, sigmoid)
    np.testing.assert_allclose(layer(inputs), expected_sequence[:, -1], atol=1e-5)


def test_initial_state_and_go_backwards_match_equations(rng, inputs, random_weights):
    h0 = rng.normal(size=(BATCH, UNITS)).astype("float32")
    layer = Elman(UNITS, go_backwards=True)
    layer.build(inputs.shape)
    weights = random_weights(layer, rng)

    output = layer(inputs, initial_state=[h0])

    expected_sequence, _ = numpy_elman(inputs[:, ::-1], *weights, sigmoid, h0=h0)
    np.testing.assert_allclose(output, expected_sequence[:, -1], atol=1e-5)


def test_irnn_initialisation_follows_le_et_al():
    layer = IRNN(64, recurrent_scale=0.5)
    layer.build((None, None, 200))
    kernel, recurrent, bias = layer.get_weights()

    np.testing.assert_array_equal(recurrent, 0.5 * np.eye(64))
    np.testing.assert_array_equal(bias, np.zeros(64))
    assert abs(kernel.mean()) < 1e-4
    assert 0.0009 < kernel.std() < 0.0011
    assert layer.activation is keras.activations.relu


def test_irnn_sequence_matches_relu_equations(rng, inputs, random_mask, random_weights):
    mask = random_mask(rng, BATCH, TIME)
    layer = IRNN(UNITS, return_sequences=True)
    layer.build(inputs.shape)
    weights = random_weights(layer, rng)

    expected_sequence, _ = numpy_elman(inputs, *weights, relu, mask=mask)
    np.testing.assert_allclose(layer(inputs, mask=mask), expected_sequence, atol=1e-5)


def test_irnn_at_initialisation_carries_the_state_unchanged():
    layer = IRNN(UNITS)
    zero_inputs = np.zeros((BATCH, TIME, FEATURES), "float32")
    h0 = np.abs(np.random.default_rng(1).normal(size=(BATCH, UNITS)))

    output = layer(zero_inputs, initial_state=[h0.astype("float32")])

    np.testing.assert_allclose(output, h0, atol=1e-6)


def test_irnn_rejects_the_arguments_it_fixes():
    with pytest.raises(ValueError, match="activation"):
        IRNN(UNITS, activation="tanh")
    with pytest.raises(ValueError, match="input_stddev"):
        IRNN(UNITS, input_stddev=0.0)


@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_invalid_units_are_rejected(units):
    with pytest.raises(ValueError, match="units"):
        ElmanCell(units)
    with pytest.raises(ValueError, match="output_units"):
        ElmanCell(UNITS, output_units=units)


# --- BPTT vs finite differences ---------------------------------------------


def test_bptt_matches_finite_differences(rng, random_weights, assert_bptt_matches_finite_differences):
    x = rng.normal(size=(2, 4, 3))
    mask = np.array([[True] * 4, [True, True, False, True]])
    layer = Elman(
        3,
        output_units=2,
        output_activation="tanh",
        return_sequences=True,
        dtype="float64",
    )
    layer.build(x.shape)
    random_weights(layer, rng, scale=0.8)
    readout = np.random.default_rng(2).normal(size=layer.compute_output_shape(x.shape))
    assert_bptt_matches_finite_differences(layer, x, readout, mask)


# --- layer behaviour --------------------------------------------------------


def test_shapes_with_return_sequences_and_state(inputs):
    sequence, state = Elman(UNITS, output_units=OUTPUTS, return_sequences=True, return_state=True)(inputs)
    last, last_state = Elman(UNITS, return_state=True)(inputs)

    assert sequence.shape == (BATCH, TIME, OUTPUTS)
    assert state.shape == (BATCH, UNITS)
    assert last.shape == (BATCH, UNITS)
    assert last_state.shape == (BATCH, UNITS)


def test_masked_steps_keep_the_state(rng, inputs):
    mask = np.ones((BATCH, TIME), bool)
    mask[:, 3:] = False
    layer = Elman(UNITS, return_state=True)

    _, state_full_mask = layer(inputs, mask=mask)
    _, state_truncated = layer(inputs[:, :3])

    np.testing.assert_allclose(state_full_mask, state_truncated, atol=1e-6)


def test_stateful_continues_from_the_last_batch(rng, inputs, random_weights):
    stateful = Elman(UNITS, stateful=True, return_sequences=True)
    stateful.build(inputs.shape)
    weights = random_weights(stateful, rng)
    whole = Elman(UNITS, return_sequences=True)
    whole.build(inputs.shape)
    whole.set_weights(weights)

    first = stateful(inputs[:, :3])
    second = stateful(inputs[:, 3:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole(inputs), atol=1e-6)

    stateful.reset_state()
    np.testing.assert_allclose(stateful(inputs[:, :3]), first, atol=1e-6)


@pytest.mark.parametrize("rates", [{"dropout": 0.5}, {"recurrent_dropout": 0.5}])
def test_dropout_acts_only_in_training(inputs, rates):
    layer = Elman(UNITS, return_sequences=True, seed=1, **rates)
    inference = layer(inputs, training=False)

    np.testing.assert_array_equal(layer(inputs, training=False), inference)
    assert not np.allclose(layer(inputs, training=True), inference)


def test_mixed_float16_runs_close_to_float32(inputs):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = Elman(UNITS, output_units=OUTPUTS, return_sequences=True)
        output = layer(inputs, training=True)
    finally:
        keras.config.set_dtype_policy(previous)
    full_precision = Elman(UNITS, output_units=OUTPUTS, return_sequences=True)
    full_precision.build(inputs.shape)
    full_precision.set_weights(layer.get_weights())

    assert output.dtype == "float16"
    assert layer.cell.kernel.dtype == "float32"
    np.testing.assert_allclose(np.asarray(output, "float32"), full_precision(inputs), atol=1e-2)


def make_model(layer):
    inputs = keras.Input((TIME, FEATURES))
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize(
    "layer",
    [
        lambda: Elman(UNITS, output_units=OUTPUTS, return_sequences=True),
        lambda: IRNN(UNITS, recurrent_scale=0.9, go_backwards=True),
    ],
    ids=["elman", "irnn"],
)
def test_keras_file_round_trip(rng, inputs, layer, random_weights, save_and_load):
    model = make_model(layer())
    random_weights(model, rng)

    loaded = save_and_load(model)

    assert type(loaded.layers[-1]) is type(model.layers[-1])
    np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0))


@pytest.mark.parametrize("cls", [Elman, IRNN])
def test_config_round_trip(rng, inputs, cls, random_weights):
    layer = cls(
        UNITS,
        output_units=OUTPUTS,
        output_activation="tanh",
        recurrent_dropout=0.1,
        return_sequences=True,
        kernel_regularizer="l2",
    )
    layer.build(inputs.shape)
    random_weights(layer, rng)

    clone = cls.from_config(layer.get_config())
    clone.build(inputs.shape)
    clone.set_weights(layer.get_weights())

    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone(inputs), layer(inputs))


def test_cell_config_round_trip():
    cell = ElmanCell(UNITS, activation="tanh", output_units=OUTPUTS, seed=3)
    clone = ElmanCell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()


# --- training smoke tests ---------------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [lambda: Elman(8, output_units=1), lambda: IRNN(8, output_units=1)],
    ids=["elman", "irnn"],
)
def test_training_fits_a_tiny_task(layer, running_mean_task, fit_repeated):
    keras.utils.set_random_seed(0)
    x, y = running_mean_task
    model = keras.Sequential([keras.Input((8, 1)), layer()])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    steps = 300

    fit_repeated(model, x, y, steps)

    assert model.evaluate(x, y, verbose=0) < 0.1 * y.var()
