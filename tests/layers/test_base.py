"""Mechanics of layers.base: the cell contract, both input projections and the scalar checks.

A minimal cell defined here (h_t = tanh(x_t W + h_{t-1} U + b)) exercises
the base classes independently of the package's own cells; every check is
against `keras.layers.RNN` running the same cell with the same weights.
"""

import keras
import numpy as np
import pytest
from keras import ops

import layers
from layers.base import RecurrentCell, RecurrentCellLayer, RecurrentLayer, check_scalar

UNITS, FEATURES, BATCH, TIME = 3, 2, 4, 5


@keras.saving.register_keras_serializable(package="test_base")
class TanhCell(RecurrentCell):
    def __init__(self, units, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="random_normal")

    def project_inputs(self, inputs):
        return ops.matmul(inputs, self.kernel) + self.bias

    def recurrent_step(self, projected_inputs, states, training=None):
        h_tm1 = self.dropped_recurrent_state(states[0], training)
        recurrent = ops.matmul(h_tm1, self.recurrent_kernel)
        h = ops.tanh(projected_inputs + recurrent)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="test_base")
class Tanh(RecurrentCellLayer):
    cell_class = TanhCell


@pytest.fixture
def sequences():
    rng = np.random.default_rng(0)
    return rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")


@pytest.fixture
def mask():
    return np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 1, 1, 0, 1], [1, 0, 1, 1, 1]], dtype=bool)


def reference_and_layer(input_projection, **rnn_kwargs):
    """keras.layers.RNN(cell) and our layer with identical weights."""
    layer = Tanh(UNITS, input_projection=input_projection, **rnn_kwargs)
    layer.build((BATCH, TIME, FEATURES))
    reference = keras.layers.RNN(TanhCell(UNITS), **rnn_kwargs)
    reference.build((BATCH, TIME, FEATURES))
    reference.set_weights(layer.get_weights())
    return reference, layer


def assert_outputs_close(actual, expected):
    actual, expected = keras.tree.flatten(actual), keras.tree.flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=1e-6)


@pytest.mark.parametrize("input_projection", ["step", "sequence"])
@pytest.mark.parametrize(
    "rnn_kwargs",
    [
        {},
        {"return_sequences": True, "return_state": True},
        {"return_sequences": True, "go_backwards": True},
        {"return_sequences": True, "zero_output_for_mask": True},
        {"return_sequences": True, "unroll": True},
    ],
    ids=["last", "sequences+state", "backwards", "zero_masked", "unroll"],
)
def test_matches_keras_rnn_with_mask(input_projection, rnn_kwargs, sequences, mask):
    reference, layer = reference_and_layer(input_projection, **rnn_kwargs)
    assert_outputs_close(layer(sequences, mask=mask), reference(sequences, mask=mask))


@pytest.mark.parametrize("input_projection", ["step", "sequence"])
def test_initial_state_matches_keras_rnn(input_projection, sequences):
    reference, layer = reference_and_layer(input_projection)
    initial_state = np.full((BATCH, UNITS), 0.5, dtype="float32")
    assert_outputs_close(
        layer(sequences, initial_state=[initial_state]), reference(sequences, initial_state=[initial_state])
    )


@pytest.mark.parametrize("input_projection", ["step", "sequence"])
def test_stateful_continues_across_calls(input_projection, sequences):
    whole = Tanh(UNITS, return_sequences=True)
    whole.build(sequences.shape)
    split = Tanh(UNITS, return_sequences=True, stateful=True, input_projection=input_projection)
    split.build(sequences.shape)
    split.set_weights(whole.get_weights())
    halves = [split(sequences[:, :2]), split(sequences[:, 2:])]
    assert_outputs_close(np.concatenate(halves, axis=1), whole(sequences))
    split.reset_state()
    assert_outputs_close(split(sequences[:, :2]), whole(sequences[:, :2]))


def test_input_dropout_is_one_mask_per_sequence_in_both_projections(sequences):
    # Same seed -> same masks; the "sequence" path must drop the inputs
    # exactly as the per-step cell call does.
    layers_by_mode = {
        mode: Tanh(UNITS, dropout=0.5, recurrent_dropout=0.3, seed=7, return_sequences=True, input_projection=mode)
        for mode in ("step", "sequence")
    }
    step_layer = layers_by_mode["step"]
    sequence_layer = layers_by_mode["sequence"]
    step_layer.build(sequences.shape)
    sequence_layer.build(sequences.shape)
    sequence_layer.set_weights(step_layer.get_weights())
    step_out = step_layer(sequences, training=True)
    sequence_out = sequence_layer(sequences, training=True)
    assert_outputs_close(sequence_out, step_out)
    inference = sequence_layer(sequences, training=False)
    assert not np.allclose(np.asarray(sequence_out), np.asarray(inference))


def test_cell_call_is_step_of_projection(sequences):
    cell = TanhCell(UNITS)
    cell.build((BATCH, FEATURES))
    state = [np.ones((BATCH, UNITS), dtype="float32")]
    output, new_state = cell(sequences[:, 0], state)
    expected = np.tanh(
        sequences[:, 0] @ np.asarray(cell.kernel) + np.asarray(cell.bias) + state[0] @ np.asarray(cell.recurrent_kernel)
    )
    np.testing.assert_allclose(np.asarray(output), expected, atol=1e-6)
    np.testing.assert_allclose(np.asarray(new_state[0]), expected, atol=1e-6)


def test_cell_layer_takes_cell_arguments_and_exposes_them():
    layer = Tanh(5, dropout=0.25, return_sequences=True)
    assert isinstance(layer.cell, TanhCell)
    assert layer.cell.name == "tanh_cell"
    assert (layer.units, layer.dropout) == (5, 0.25)
    assert layer.return_sequences
    with pytest.raises(AttributeError, match="no attribute 'kernel_size'"):
        layer.kernel_size


def test_cell_layer_config_is_flat_and_round_trips(sequences):
    layer = Tanh(UNITS, dropout=0.1, seed=3, go_backwards=True, input_projection="sequence")
    config = layer.get_config()
    assert "cell" not in config
    assert config["units"] == UNITS and config["dropout"] == 0.1
    assert config["input_projection"] == "sequence"
    clone = Tanh.from_config(config)
    assert clone.get_config() == config
    clone.build(sequences.shape)
    layer.build(sequences.shape)
    clone.set_weights(layer.get_weights())
    assert_outputs_close(clone(sequences), layer(sequences))


def test_recurrent_layer_with_cell_object_round_trips_through_keras_file(save_and_load, sequences):
    inputs = keras.Input((TIME, FEATURES))
    outputs = RecurrentLayer(TanhCell(UNITS), input_projection="sequence")(inputs)
    model = keras.Model(inputs, outputs)
    loaded = save_and_load(model)
    assert_outputs_close(loaded(sequences), model(sequences))


def test_rejects_cells_without_the_contract():
    with pytest.raises(TypeError, match="RecurrentCell"):
        RecurrentLayer(keras.layers.SimpleRNNCell(2))


def test_rejects_unknown_input_projection():
    with pytest.raises(ValueError, match='"step" or "sequence"'):
        Tanh(UNITS, input_projection="batch")


@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout"])
def test_rejects_dropout_rates_outside_unit_interval(argument):
    with pytest.raises(ValueError, match=argument):
        TanhCell(UNITS, **{argument: 1.5})


# ------------------------------------------------------------------------------- scalar arguments


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("units", 0, {"integer": True, "minimum": 1}), "units must be a positive integer; got 0."),
        (("units", True, {"integer": True, "minimum": 1}), "units must be a positive integer; got True."),
        (("units", np.int64(3), {"integer": True, "minimum": 1}), "units must be a positive integer; got np.int64(3)."),
        (("rate", 1.5, {"minimum": 0.0, "maximum": 1.0}), "rate must be a number in [0, 1]; got 1.5."),
        (("rate", "0.5", {"minimum": 0.0, "maximum": 1.0}), "rate must be a number in [0, 1]; got '0.5'."),
        (("rate", float("nan"), {"minimum": 0.0, "maximum": 1.0}), "rate must be a number in [0, 1]; got nan."),
        (("scale", 0.0, {"minimum": 0.0, "exclusive_minimum": True}), "scale must be a positive number; got 0.0."),
        (
            ("lag", 2, {"integer": True, "minimum": 3, "note": "a reason"}),
            "lag must be an integer of at least 3 (a reason); got 2.",
        ),
    ],
)
def test_check_scalar_says_what_was_expected_and_what_came(arguments, message):
    name, value, bounds = arguments
    with pytest.raises(ValueError) as error:
        check_scalar(name, value, **bounds)
    assert str(error.value) == message


def test_check_scalar_accepts_numbers_in_range():
    check_scalar("units", 1, integer=True, minimum=1)
    check_scalar("rate", np.float32(0.5), minimum=0.0, maximum=1.0)
    check_scalar("rate", 1, minimum=0.0, maximum=1.0)
    check_scalar("scale", 1e-9, minimum=0.0, exclusive_minimum=True)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: layers.LSTM(0), "units"),
        (lambda: layers.GRU(-2), "units"),
        (lambda: layers.GRU(4, chrono_timescale=2), "chrono_timescale"),
        (lambda: layers.Elman(4, output_units=0), "output_units"),
        (lambda: layers.IRNN(4, input_stddev=0.0), "input_stddev"),
        (lambda: layers.SCRN(4, alpha=1.5), "alpha"),
        (lambda: layers.SCRN(4, context_units=0), "context_units"),
        (lambda: layers.Clockwork(8, num_modules=0), "num_modules"),
        (lambda: layers.LSTM(4, dropout=-0.1), "dropout"),
        (lambda: layers.stack("gru", 4, num_layers=0), "num_layers"),
    ],
)
def test_every_layer_module_reports_bad_scalars_in_one_style(build, name):
    with pytest.raises(ValueError, match=rf"^{name} must be (a|an) [^;]+; got [^;]+\.$"):
        build()
