"""LSTMCell / LSTM vs Keras, a NumPy re-derivation and finite differences."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from layers.lstm import LSTM, LSTMCell

UNITS, FEATURES, BATCH, TIME = 4, 3, 5, 6

VARIANTS = {
    "default": {},
    "lstm1997": {"forget_gate": False},
    "peepholes": {"peepholes": True},
    "cifg": {"coupled": True, "peepholes": True},
    "no_input_gate": {"input_gate": False, "peepholes": True},
    "no_output_gate": {"output_gate": False},
    "no_output_activation": {"output_activation": None},
    "no_forget_no_input_gate": {"forget_gate": False, "input_gate": False},
}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def weights_by_name(layer):
    cell = layer.cell if isinstance(layer, keras.layers.RNN) else layer
    return {w.name: np.asarray(w) for w in cell.weights}


def layer_parameters(layer, flags):
    return gate_parameters(weights_by_name(layer), flags)


def gate_parameters(weights, flags):
    """Per-gate W, R, b, p from `{weight name: array}`, by the documented
    block order [i, f, c, o] restricted to the gates that have weights."""
    forget = flags.get("forget_gate", True)
    coupled = flags.get("coupled", False)
    blocks = [
        name
        for name, present in (
            ("i", flags.get("input_gate", True)),
            ("f", forget and not coupled),
            ("c", True),
            ("o", flags.get("output_gate", True)),
        )
        if present
    ]
    params = {}
    for k, name in enumerate(blocks):
        columns = slice(k * UNITS, (k + 1) * UNITS)
        params[name] = {
            "W": weights["kernel"][:, columns],
            "R": weights["recurrent_kernel"][:, columns],
            "b": weights["bias"][columns],
            "p": np.zeros(UNITS),
        }
    for gate_name, block in (("input", "i"), ("forget", "f"), ("output", "o")):
        if f"{gate_name}_peephole" in weights:
            params[block]["p"] = weights[f"{gate_name}_peephole"]
    return params


def numpy_lstm(x, params, flags, h0=None, c0=None, mask=None):
    """The equations of the LSTMCell docstring, one time step at a time.

    Returns the outputs (batch, time, units) and the final h and c.
    """
    batch, time, _ = x.shape
    h = np.zeros((batch, UNITS)) if h0 is None else h0
    c = np.zeros((batch, UNITS)) if c0 is None else c0
    squash = np.tanh if flags.get("output_activation", "tanh") else np.asarray
    outputs = []
    for t in range(time):

        def pre(block):
            p = params[block]
            return x[:, t] @ p["W"] + h @ p["R"] + p["b"]

        i = sigmoid(pre("i") + params["i"]["p"] * c) if "i" in params else 1.0
        if flags.get("coupled", False):
            f = 1.0 - i
        elif flags.get("forget_gate", True):
            f = sigmoid(pre("f") + params["f"]["p"] * c)
        else:
            f = 1.0
        a = np.tanh(pre("c"))
        c_new = f * c + i * a
        o = 1.0
        if "o" in params:
            o = sigmoid(pre("o") + params["o"]["p"] * c_new)
        h_new = o * squash(c_new)
        if mask is not None:
            keep = mask[:, t : t + 1]
            h_new, c_new = np.where(keep, h_new, h), np.where(keep, c_new, c)
        h, c = h_new, c_new
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def random_inputs(seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, TIME, FEATURES)).astype(dtype)


MASK = np.array(
    [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 1, 1, 0, 1], [0, 1, 1, 1, 1, 1], [1, 1, 0, 0, 1, 1]], dtype=bool
)


def built_lstm(flags, dtype="float32", **layer_kwargs):
    """An LSTM with random (nonzero) weights everywhere, peepholes included."""
    layer = LSTM(UNITS, **flags, dtype=dtype, **layer_kwargs)
    layer.build((BATCH, TIME, FEATURES))
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()])
    return layer


# ---------------------------------------------------------------- Keras


@pytest.mark.parametrize("input_projection", ["step", "sequence"])
def test_default_matches_keras_lstm_with_mask(input_projection):
    x = random_inputs()
    ours = LSTM(UNITS, return_sequences=True, return_state=True, input_projection=input_projection)
    theirs = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True)
    ours.build(x.shape)
    theirs.build(x.shape)
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    for a, b in zip(ours(x, mask=MASK), theirs(x, mask=MASK)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_unit_forget_bias_matches_keras_initialisation():
    ours, theirs = LSTM(UNITS), keras.layers.LSTM(UNITS)
    ours.build((1, 1, FEATURES))
    theirs.build((1, 1, FEATURES))
    np.testing.assert_array_equal(np.asarray(ours.cell.bias), np.asarray(theirs.cell.bias))


def test_zero_peepholes_equal_default_lstm():
    x = random_inputs()
    default = built_lstm({}, return_sequences=True)
    peephole = LSTM(UNITS, peepholes=True, peephole_initializer="zeros", return_sequences=True)
    peephole.build(x.shape)
    peephole.set_weights(default.get_weights() + [np.zeros(UNITS)] * 3)
    np.testing.assert_allclose(np.asarray(peephole(x, mask=MASK)), np.asarray(default(x, mask=MASK)), atol=1e-5)


# ---------------------------------------------------------------- NumPy


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_step_matches_numpy_equations(variant):
    flags = VARIANTS[variant]
    cell = LSTMCell(UNITS, **flags)
    cell.build((BATCH, FEATURES))
    rng = np.random.default_rng(2)
    cell.set_weights([rng.normal(size=w.shape) for w in cell.get_weights()])
    x = random_inputs()[:, :1]
    h0, c0 = rng.normal(size=(2, BATCH, UNITS)).astype("float32")
    output, (h, c) = cell(x[:, 0], [h0, c0])
    _, h_ref, c_ref = numpy_lstm(x, layer_parameters(cell, flags), flags, h0, c0)
    np.testing.assert_allclose(np.asarray(output), h_ref, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h), h_ref, atol=1e-5)
    np.testing.assert_allclose(np.asarray(c), c_ref, atol=1e-5)


@pytest.mark.parametrize("input_projection", ["step", "sequence"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_with_mask_matches_numpy_equations(variant, input_projection):
    flags = VARIANTS[variant]
    layer = built_lstm(flags, return_sequences=True, return_state=True, input_projection=input_projection)
    x = random_inputs()
    outputs, h, c = layer(x, mask=MASK)
    ref_outputs, ref_h, ref_c = numpy_lstm(x, layer_parameters(layer, flags), flags, mask=MASK)
    np.testing.assert_allclose(np.asarray(outputs), ref_outputs, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h), ref_h, atol=1e-5)
    np.testing.assert_allclose(np.asarray(c), ref_c, atol=1e-5)


def test_weight_layout_per_variant():
    shapes = {}
    for variant, flags in VARIANTS.items():
        layer = LSTM(UNITS, **flags)
        layer.build((1, 1, FEATURES))
        shapes[variant] = {w.name: tuple(w.shape) for w in layer.weights}
    assert shapes["default"]["kernel"] == (FEATURES, 4 * UNITS)
    assert shapes["lstm1997"]["kernel"] == (FEATURES, 3 * UNITS)
    assert shapes["cifg"]["recurrent_kernel"] == (UNITS, 3 * UNITS)
    assert shapes["no_forget_no_input_gate"]["bias"] == (2 * UNITS,)
    assert {n for n in shapes["peepholes"] if "peephole" in n} == {
        "input_peephole",
        "forget_peephole",
        "output_peephole",
    }
    # A coupled forget gate follows i_t, so it has no peephole of its own.
    assert {n for n in shapes["cifg"] if "peephole" in n} == {"input_peephole", "output_peephole"}
    assert {n for n in shapes["no_input_gate"] if "peephole" in n} == {"forget_peephole", "output_peephole"}


def test_forget_gate_free_cell_state_is_a_running_sum():
    # 1997 LSTM with i_t = 1, a_t = W_c x_t (identity activation, no
    # recurrent weights, no bias): c_t = c_{t-1} + W_c x_t, the constant error
    # carousel, so c_T is the sum of the inputs times W_c.
    layer = LSTM(
        UNITS,
        forget_gate=False,
        input_gate=False,
        activation=None,
        recurrent_initializer="zeros",
        use_bias=False,
        return_state=True,
    )
    x = random_inputs()
    layer.build(x.shape)
    _, _, c = layer(x)
    kernel_c = np.asarray(layer.cell.kernel)[:, :UNITS]
    np.testing.assert_allclose(np.asarray(c), x.sum(axis=1) @ kernel_c, atol=1e-5)


# ---------------------------------------------------------------- BPTT


@pytest.mark.parametrize("input_projection", ["step", "sequence"])
@pytest.mark.parametrize("variant", ["default", "lstm1997", "cifg", "no_input_gate", "no_output_activation"])
def test_bptt_gradients_match_finite_differences(variant, input_projection, central_differences):
    flags = VARIANTS[variant]
    layer = built_lstm(flags, dtype="float64", return_sequences=True, input_projection=input_projection)
    x = random_inputs(dtype="float64")[:2, :3]
    readout = np.random.default_rng(3).normal(size=(2, 3, UNITS))

    with tf.GradientTape() as tape:
        inputs = tf.constant(x)
        tape.watch(inputs)
        loss = tf.reduce_sum(layer(inputs) * readout)
    weights = layer.trainable_weights
    autodiff = tape.gradient(loss, [*weights, inputs])

    names = [w.name for w in weights]
    values = [np.asarray(w) for w in weights] + [x]

    def loss_with(position, replaced):
        current = list(values)
        current[position] = replaced
        *weight_values, inputs_value = current
        params = gate_parameters(dict(zip(names, weight_values)), flags)
        outputs, _, _ = numpy_lstm(inputs_value, params, flags)
        return float(np.sum(outputs * readout))

    for position, (value, grad) in enumerate(zip(values, autodiff)):
        numeric = central_differences(lambda v, p=position: loss_with(p, v), value)
        grad = np.asarray(grad)
        relative_error = np.linalg.norm(grad - numeric) / np.linalg.norm(grad + numeric)
        assert relative_error < 1e-5, ([*names, "inputs"])[position]


# ---------------------------------------------------------------- behaviour


def test_return_sequences_and_state_shapes():
    x = random_inputs()
    assert LSTM(UNITS)(x).shape == (BATCH, UNITS)
    outputs, h, c = LSTM(UNITS, return_sequences=True, return_state=True)(x)
    assert outputs.shape == (BATCH, TIME, UNITS)
    assert h.shape == c.shape == (BATCH, UNITS)
    np.testing.assert_allclose(np.asarray(outputs[:, -1]), np.asarray(h))


@pytest.mark.parametrize("input_projection", ["step", "sequence"])
def test_go_backwards_reads_the_reversed_sequence(input_projection):
    x = random_inputs()
    flags = VARIANTS["peepholes"]
    layer = built_lstm(flags, go_backwards=True, input_projection=input_projection)
    _, h_ref, _ = numpy_lstm(x[:, ::-1], layer_parameters(layer, flags), flags)
    np.testing.assert_allclose(np.asarray(layer(x)), h_ref, atol=1e-5)


def test_initial_state_is_used():
    x = random_inputs()
    flags = VARIANTS["peepholes"]
    layer = built_lstm(flags)
    rng = np.random.default_rng(4)
    h0, c0 = rng.normal(size=(2, BATCH, UNITS)).astype("float32")
    _, h_ref, _ = numpy_lstm(x, layer_parameters(layer, flags), flags, h0, c0)
    np.testing.assert_allclose(np.asarray(layer(x, initial_state=[h0, c0])), h_ref, atol=1e-5)


def test_stateful_carries_h_and_c_between_batches():
    x = random_inputs()
    flags = VARIANTS["cifg"]
    layer = built_lstm(flags, stateful=True)
    layer(x[:, :3])
    second = layer(x[:, 3:])
    _, h_ref, _ = numpy_lstm(x, layer_parameters(layer, flags), flags)
    np.testing.assert_allclose(np.asarray(second), h_ref, atol=1e-5)


def test_masked_steps_leave_the_state_unchanged():
    x = random_inputs()
    layer = built_lstm({}, return_state=True)
    mask = np.ones((BATCH, TIME), dtype=bool)
    mask[:, 4:] = False
    masked = layer(x, mask=mask)
    truncated = layer(x[:, :4])
    for a, b in zip(masked, truncated):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


@pytest.mark.parametrize("rates", [{"dropout": 0.5}, {"recurrent_dropout": 0.5}])
def test_dropout_only_in_training(rates):
    x = random_inputs()
    layer = built_lstm({}, **rates, seed=0)
    inference = np.asarray(layer(x, training=False))
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), inference)
    assert not np.allclose(np.asarray(layer(x, training=True)), inference)


@pytest.mark.parametrize("input_projection", ["step", "sequence"])
def test_mixed_precision_runs_in_float16_with_float32_weights(mixed_precision, input_projection):
    layer = LSTM(UNITS, peepholes=True, input_projection=input_projection)
    outputs = layer(random_inputs())
    assert outputs.dtype == "float16"
    assert all(w.dtype == "float32" for w in layer.weights)
    assert np.all(np.isfinite(np.asarray(outputs, dtype="float32")))


def test_keras_file_round_trip_gives_identical_outputs(save_and_load):
    inputs = keras.Input((TIME, FEATURES))
    hidden = LSTM(UNITS, peepholes=True, return_sequences=True, input_projection="sequence")(inputs)
    outputs = LSTM(UNITS, coupled=True, output_activation=None)(hidden)
    model = keras.Model(inputs, outputs)
    loaded = save_and_load(model, "lstm.keras")
    x = random_inputs()
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert loaded.layers[1].get_config() == model.layers[1].get_config()


def test_config_round_trip_keeps_every_flag():
    layer = LSTM(
        UNITS,
        forget_gate=True,
        peepholes=True,
        coupled=True,
        output_gate=False,
        output_activation=None,
        recurrent_activation="hard_sigmoid",
        dropout=0.1,
        kernel_regularizer="l2",
        return_sequences=True,
    )
    config = layer.get_config()
    clone = LSTM.from_config(config)
    assert clone.get_config() == config
    assert clone.cell.blocks == ("i", "c")
    cell_clone = LSTMCell.from_config(layer.cell.get_config())
    assert cell_clone.get_config() == layer.cell.get_config()


@pytest.mark.parametrize("variant", ["default", "peepholes", "cifg"])
def test_sequence_projection_equals_plain_keras_rnn_of_the_cell(variant):
    flags = VARIANTS[variant]
    x = random_inputs()
    ours = built_lstm(flags, return_sequences=True, input_projection="sequence")
    plain = keras.layers.RNN(LSTMCell(UNITS, **flags), return_sequences=True)
    plain.build(x.shape)
    plain.set_weights(ours.get_weights())
    np.testing.assert_allclose(np.asarray(ours(x, mask=MASK)), np.asarray(plain(x, mask=MASK)), atol=1e-6)


def test_learns_to_remember_the_first_input(fit_repeated):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(64, 8, 1)).astype("float32")
    y = x[:, 0]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 1)), LSTM(8), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    fit_repeated(model, x, y, steps=150)  # one fit call, little overhead
    # The target variance is 1/3; a model that forgot x_0 stays near it.
    assert model.evaluate(x, y, verbose=0) < 0.02


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"coupled": True, "forget_gate": False}, "forget_gate=False"),
        ({"coupled": True, "input_gate": False}, "input_gate=False"),
        ({"peepholes": True, "forget_gate": False, "input_gate": False, "output_gate": False}, "at least one gate"),
        ({"units": 0}, "positive integer"),
    ],
)
def test_impossible_flag_combinations_raise(flags, message):
    arguments = {"units": UNITS, **flags}
    with pytest.raises(ValueError, match=message):
        LSTMCell(**arguments)
    with pytest.raises(ValueError, match=message):
        LSTM(**arguments)


@pytest.mark.parametrize("flags", [{}, {"peepholes": True}, {"coupled": True}, {"output_gate": False}])
def test_chrono_initialization_sets_log_uniform_forget_and_opposite_input_biases(flags):
    timescale, units = 100, 64
    layer = LSTM(units, chrono_timescale=timescale, seed=3, **flags)
    layer(np.zeros((1, 2, 3), dtype="float32"))
    blocks = layer.cell.blocks
    bias = dict(zip(blocks, np.split(np.asarray(layer.cell.bias), len(blocks))))
    # f_t = sigmoid(b_f) = u / (1 + u): a memory time scale u between 1 and T - 1.
    forget = bias["f"] if "f" in bias else -bias["i"]
    u = np.exp(forget)
    assert np.all(u >= 1.0 - 1e-5) and np.all(u <= timescale - 1 + 1e-3)
    assert u.std() > 5.0  # spread over the range, not a constant
    np.testing.assert_allclose(bias["i"], -forget, atol=1e-6)
    for block in set(blocks) - {"i", "f"}:
        np.testing.assert_array_equal(bias[block], 0.0)
    restored = LSTM.from_config(layer.get_config())
    assert restored.cell.chrono_timescale == timescale


def test_chrono_initialization_needs_a_forget_gate_and_a_real_lag():
    with pytest.raises(ValueError, match="forget_gate=False"):
        LSTMCell(4, forget_gate=False, chrono_timescale=100)
    with pytest.raises(ValueError, match="at least 3"):
        LSTMCell(4, chrono_timescale=2)
