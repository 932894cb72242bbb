"""Tests of layers.gru: GRUCell and GRU in both reset_after modes.

References are independent of the code under test: keras.layers.GRU with
copied weights, a NumPy re-implementation of the GRU equations (Cho et al.
2014), and central finite differences for the gradients.
"""

import keras
import numpy as np
import pytest

from layers.gru import GRU, GRUCell

BATCH, TIME, FEATURES, UNITS = 3, 6, 4, 5
RESET_MODES = pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_gru_step(x, h, kernel, recurrent_kernel, bias, reset_after):
    """One GRU step from the equations, gate blocks ordered [z, r, h].

    z = σ(W_z x + U_z h + b_z), r = σ(W_r x + U_r h + b_r),
    h~ = tanh(W_h x + U_h (r ⊙ h) + b_h)          (reset before U_h), or
    h~ = tanh(W_h x + b_h + r ⊙ (U_h h + b'_h))   (reset after, own biases),
    h_new = z ⊙ h + (1 - z) ⊙ h~.
    """
    W_z, W_r, W_h = np.split(kernel, 3, axis=1)
    U_z, U_r, U_h = np.split(recurrent_kernel, 3, axis=1)
    if reset_after:
        input_bias, recurrent_bias = bias
    else:
        input_bias, recurrent_bias = bias, np.zeros_like(bias)
    b_z, b_r, b_h = np.split(input_bias, 3)
    rb_z, rb_r, rb_h = np.split(recurrent_bias, 3)
    z = sigmoid(x @ W_z + b_z + h @ U_z + rb_z)
    r = sigmoid(x @ W_r + b_r + h @ U_r + rb_r)
    if reset_after:
        candidate = np.tanh(x @ W_h + b_h + r * (h @ U_h + rb_h))
    else:
        candidate = np.tanh(x @ W_h + (r * h) @ U_h + b_h)
    return z * h + (1.0 - z) * candidate


def numpy_gru(x, weights, reset_after, mask=None, h0=None):
    """Runs `numpy_gru_step` over time.

    A masked step keeps h and repeats the previous output (zeros before the
    first unmasked step, as in keras.layers.RNN, whatever h0 is).
    Returns (outputs (batch, time, units), last state (batch, units)).
    """
    batch, time, _ = x.shape
    units = weights[1].shape[0]
    h = np.zeros((batch, units)) if h0 is None else h0
    y = np.zeros((batch, units))
    mask = np.ones((batch, time), bool) if mask is None else mask
    outputs = []
    for t in range(time):
        h_new = numpy_gru_step(x[:, t], h, *weights, reset_after)
        keep = mask[:, t : t + 1]
        h = np.where(keep, h_new, h)
        y = np.where(keep, h_new, y)
        outputs.append(y)
    return np.stack(outputs, axis=1), h


# --- equivalence with Keras -------------------------------------------------


@RESET_MODES
@pytest.mark.parametrize("go_backwards", [False, True])
def test_gru_equals_keras_gru(rng, inputs, reset_after, go_backwards, random_mask, random_weights):
    mask = random_mask(rng, BATCH, TIME)
    kwargs = dict(
        reset_after=reset_after,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
    )
    reference = keras.layers.GRU(UNITS, **kwargs)
    reference.build(inputs.shape)
    random_weights(reference, rng)
    layer = GRU(UNITS, **kwargs)
    layer.build(inputs.shape)
    layer.set_weights(reference.get_weights())

    expected_sequence, expected_state = reference(inputs, mask=mask)
    sequence, state = layer(inputs, mask=mask)

    np.testing.assert_allclose(sequence, expected_sequence, atol=1e-5)
    np.testing.assert_allclose(state, expected_state, atol=1e-5)


@RESET_MODES
def test_layer_equals_plain_keras_rnn_over_the_cell(rng, inputs, reset_after, random_mask, random_weights):
    layer = GRU(UNITS, reset_after=reset_after, return_sequences=True)
    layer.build(inputs.shape)
    weights = random_weights(layer, rng)
    plain = keras.layers.RNN(GRUCell(UNITS, reset_after=reset_after), return_sequences=True)
    plain.build(inputs.shape)
    plain.set_weights(weights)
    mask = random_mask(rng, BATCH, TIME)

    np.testing.assert_allclose(layer(inputs, mask=mask), plain(inputs, mask=mask), atol=1e-6)


# --- NumPy re-implementation ------------------------------------------------


@RESET_MODES
def test_cell_one_step_matches_equations(rng, reset_after, random_weights):
    cell = GRUCell(UNITS, reset_after=reset_after)
    cell.build((BATCH, FEATURES))
    weights = random_weights(cell, rng)
    x = rng.normal(size=(BATCH, FEATURES)).astype("float32")
    h_tm1 = rng.normal(size=(BATCH, UNITS)).astype("float32")

    output, (h,) = cell(x, [h_tm1])

    expected = numpy_gru_step(x, h_tm1, *weights, reset_after)
    np.testing.assert_allclose(h, expected, atol=1e-5)
    np.testing.assert_allclose(output, expected, atol=1e-5)


@RESET_MODES
def test_sequence_matches_equations(rng, inputs, reset_after, random_mask, random_weights):
    mask = random_mask(rng, BATCH, TIME)
    h0 = rng.normal(size=(BATCH, UNITS)).astype("float32")
    layer = GRU(UNITS, reset_after=reset_after, return_sequences=True, return_state=True)
    layer.build(inputs.shape)
    weights = random_weights(layer, rng)

    sequence, state = layer(inputs, mask=mask, initial_state=[h0])

    expected_sequence, expected_state = numpy_gru(inputs, weights, reset_after, mask=mask, h0=h0)
    np.testing.assert_allclose(sequence, expected_sequence, atol=1e-5)
    np.testing.assert_allclose(state, expected_state, atol=1e-5)


def test_weight_layout_follows_keras():
    after = GRU(UNITS, reset_after=True)
    after.build((None, None, FEATURES))
    before = GRU(UNITS, reset_after=False)
    before.build((None, None, FEATURES))

    assert [tuple(w.shape) for w in after.weights] == [
        (4, 15),
        (5, 15),
        (2, 15),
    ]
    assert [tuple(w.shape) for w in before.weights] == [
        (4, 15),
        (5, 15),
        (15,),
    ]
    assert [w.name for w in after.weights] == [
        "kernel",
        "recurrent_kernel",
        "bias",
    ]


def test_update_gate_one_copies_the_previous_state(rng, inputs, random_weights):
    # z_t = 1 (a large z bias) keeps h_{t-1}: Keras's and Cho et al.'s
    # convention, h_t = z_t h_{t-1} + (1 - z_t) h~_t.
    layer = GRU(UNITS, reset_after=False)
    layer.build(inputs.shape)
    kernel, recurrent, bias = random_weights(layer, rng)
    bias[:UNITS] = 50.0
    layer.set_weights([kernel, recurrent, bias])
    h0 = rng.normal(size=(BATCH, UNITS)).astype("float32")

    np.testing.assert_allclose(layer(inputs, initial_state=[h0]), h0, atol=1e-6)


@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_invalid_units_are_rejected(units):
    with pytest.raises(ValueError, match="units"):
        GRUCell(units)


# --- BPTT vs finite differences ---------------------------------------------


@RESET_MODES
def test_bptt_matches_finite_differences(rng, reset_after, random_weights, assert_bptt_matches_finite_differences):
    x = rng.normal(size=(2, 4, 3))
    mask = np.array([[True] * 4, [True, True, False, True]])
    layer = GRU(3, reset_after=reset_after, return_sequences=True, dtype="float64")
    layer.build(x.shape)
    random_weights(layer, rng, scale=0.8)
    readout = rng.normal(size=(2, 4, 3))
    assert_bptt_matches_finite_differences(layer, x, readout, mask)


@RESET_MODES
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_fused_bptt_matches_finite_differences(
    rng, reset_after, go_backwards, random_weights, assert_bptt_matches_finite_differences
):
    # The lean loop of layers.tensorflow_kernels (its hand-written gradient), in float64, with a right-padded mask.
    x = rng.normal(size=(2, 4, 3))
    mask = np.array([[True] * 4, [True, True, False, False]])
    layer = GRU(
        3,
        reset_after=reset_after,
        go_backwards=go_backwards,
        return_sequences=True,
        dtype="float64",
        implementation="fused",
    )
    layer.build(x.shape)
    random_weights(layer, rng, scale=0.8)
    readout = rng.normal(size=(2, 4, 3))
    assert_bptt_matches_finite_differences(layer, x, readout, mask)


# --- layer behaviour --------------------------------------------------------


def test_shapes_with_return_sequences_and_state(inputs):
    sequence, state = GRU(UNITS, return_sequences=True, return_state=True)(inputs)
    last = GRU(UNITS)(inputs)

    assert sequence.shape == (BATCH, TIME, UNITS)
    assert state.shape == (BATCH, UNITS)
    assert last.shape == (BATCH, UNITS)


def test_go_backwards_reads_the_reversed_sequence(rng, inputs, random_weights):
    layer = GRU(UNITS, go_backwards=True)
    layer.build(inputs.shape)
    weights = random_weights(layer, rng)

    expected_sequence, _ = numpy_gru(inputs[:, ::-1], weights, True)
    np.testing.assert_allclose(layer(inputs), expected_sequence[:, -1], atol=1e-5)


def test_masked_steps_keep_the_state(inputs):
    mask = np.ones((BATCH, TIME), bool)
    mask[:, 3:] = False
    layer = GRU(UNITS, return_state=True)

    _, state_full_mask = layer(inputs, mask=mask)
    _, state_truncated = layer(inputs[:, :3])

    np.testing.assert_allclose(state_full_mask, state_truncated, atol=1e-6)


@RESET_MODES
def test_stateful_continues_from_the_last_batch(rng, inputs, reset_after, random_weights):
    stateful = GRU(UNITS, reset_after=reset_after, stateful=True, return_sequences=True)
    stateful.build(inputs.shape)
    weights = random_weights(stateful, rng)
    whole = GRU(UNITS, reset_after=reset_after, return_sequences=True)
    whole.build(inputs.shape)
    whole.set_weights(weights)

    first = stateful(inputs[:, :3])
    second = stateful(inputs[:, 3:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole(inputs), atol=1e-6)

    stateful.reset_state()
    np.testing.assert_allclose(stateful(inputs[:, :3]), first, atol=1e-6)


@RESET_MODES
@pytest.mark.parametrize("rates", [{"dropout": 0.5}, {"recurrent_dropout": 0.5}])
def test_dropout_acts_only_in_training(inputs, reset_after, rates):
    layer = GRU(UNITS, reset_after=reset_after, return_sequences=True, seed=1, **rates)
    inference = layer(inputs, training=False)

    np.testing.assert_array_equal(layer(inputs, training=False), inference)
    assert not np.allclose(layer(inputs, training=True), inference)


@RESET_MODES
def test_mixed_float16_runs_close_to_float32(inputs, reset_after):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = GRU(UNITS, reset_after=reset_after, return_sequences=True)
        output = layer(inputs, training=True)
    finally:
        keras.config.set_dtype_policy(previous)
    full_precision = GRU(UNITS, reset_after=reset_after, return_sequences=True)
    full_precision.build(inputs.shape)
    full_precision.set_weights(layer.get_weights())

    assert output.dtype == "float16"
    assert layer.cell.kernel.dtype == "float32"
    np.testing.assert_allclose(np.asarray(output, "float32"), full_precision(inputs), atol=1e-2)


@RESET_MODES
def test_keras_file_round_trip(rng, inputs, reset_after, random_weights, save_and_load):
    sequences = keras.Input((TIME, FEATURES))
    model = keras.Model(
        sequences,
        GRU(UNITS, reset_after=reset_after, return_sequences=True)(sequences),
    )
    random_weights(model, rng)

    loaded = save_and_load(model)

    assert type(loaded.layers[-1]) is GRU
    np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0))


def test_config_round_trip(rng, inputs, random_weights):
    layer = GRU(
        UNITS,
        reset_after=False,
        recurrent_activation="hard_sigmoid",
        recurrent_dropout=0.1,
        return_sequences=True,
        kernel_regularizer="l2",
    )
    layer.build(inputs.shape)
    random_weights(layer, rng)

    clone = GRU.from_config(layer.get_config())
    clone.build(inputs.shape)
    clone.set_weights(layer.get_weights())

    assert clone.get_config() == layer.get_config()
    assert clone.reset_after is False
    np.testing.assert_array_equal(clone(inputs), layer(inputs))


def test_cell_config_round_trip():
    cell = GRUCell(UNITS, reset_after=False, seed=3)
    clone = GRUCell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()


# --- training smoke test ----------------------------------------------------


def test_training_fits_a_tiny_task(running_mean_task, fit_repeated):
    keras.utils.set_random_seed(0)
    x, y = running_mean_task
    model = keras.Sequential([keras.Input((8, 1)), GRU(8), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    steps = 300

    fit_repeated(model, x, y, steps)

    assert model.evaluate(x, y, verbose=0) < 0.1 * y.var()


@pytest.mark.parametrize("reset_after", [True, False])
def test_chrono_initialization_sets_a_log_uniform_update_gate_bias(reset_after):
    timescale, units = 100, 64
    layer = GRU(units, chrono_timescale=timescale, reset_after=reset_after, bias_initializer="ones", seed=3)
    layer(np.zeros((1, 2, 3), dtype="float32"))
    bias = np.asarray(layer.cell.bias)
    input_bias = bias[0] if reset_after else bias
    # z_t = sigmoid(b_z) = u / (1 + u) keeps h_{t-1}: a memory time scale u between 1 and T - 1.
    u = np.exp(input_bias[:units])
    assert np.all(u >= 1.0 - 1e-5) and np.all(u <= timescale - 1 + 1e-3)
    assert u.std() > 5.0  # spread over the range, not a constant
    np.testing.assert_array_equal(input_bias[units:], 1.0)  # r and h keep bias_initializer
    if reset_after:
        np.testing.assert_array_equal(bias[1], 1.0)  # the recurrent biases too
    restored = GRU.from_config(layer.get_config())
    assert restored.cell.chrono_timescale == timescale
    with pytest.raises(ValueError, match="at least 3"):
        GRUCell(4, chrono_timescale=2)
