"""Layer registry: every name builds the right configured layer; stacking helper."""

import keras
import numpy as np
import pytest

from layers.clockwork import Clockwork
from layers.elman import IRNN, Elman
from layers.gru import GRU
from layers.lstm import LSTM
from layers.registry import available, get, stack
from layers.scrn import SCRN

NAMES = (
    "cifg_lstm",
    "clockwork",
    "elman",
    "gru",
    "irnn",
    "lstm",
    "lstm1997",
    "peephole_lstm",
    "scrn",
)

EXPECTED = {
    "elman": (Elman, {"activation": keras.activations.sigmoid}),
    "irnn": (IRNN, {"activation": keras.activations.relu}),
    "lstm": (LSTM, {"forget_gate": True, "peepholes": False, "coupled": False}),
    "lstm1997": (LSTM, {"forget_gate": False, "peepholes": False, "coupled": False}),
    "peephole_lstm": (LSTM, {"forget_gate": True, "peepholes": True, "coupled": False}),
    "cifg_lstm": (LSTM, {"forget_gate": True, "peepholes": False, "coupled": True}),
    "gru": (GRU, {}),
    "clockwork": (Clockwork, {"periods": (1, 2, 4, 8)}),
    "scrn": (SCRN, {"alpha": 0.95, "context_units": 8}),
}


def test_available_is_the_sorted_tuple_of_names():
    assert available() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_name_builds_a_configured_layer_that_runs(name):
    layer_class, attributes = EXPECTED[name]
    layer = get(name, 8)
    assert type(layer) is layer_class
    assert layer.units == 8 and not layer.built
    for attribute, value in attributes.items():
        assert getattr(layer.cell, attribute) == value, attribute
    outputs = layer(np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32"))
    assert outputs.shape == (2, layer.cell.output_size)
    assert np.all(np.isfinite(outputs.numpy()))


def test_each_call_returns_a_fresh_layer_and_kwargs_override_defaults():
    first, second = get("elman", 4), get("elman", 4)
    assert first is not second
    tanh_elman = get("elman", 4, activation="tanh", return_sequences=True)
    assert tanh_elman.cell.activation is keras.activations.tanh and tanh_elman.return_sequences


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="'transformer'") as error:
        get("transformer", 8)
    assert ", ".join(NAMES) in str(error.value)


def test_stack_returns_sequences_from_all_but_the_last_layer():
    layers = stack("gru", 6, num_layers=3, dropout=0.1)
    assert [layer.return_sequences for layer in layers] == [True, True, False]
    assert all(isinstance(layer, GRU) and layer.dropout == 0.1 for layer in layers)
    assert len({id(layer) for layer in layers}) == 3

    model = keras.Sequential([keras.Input((5, 2)), *layers, keras.layers.Dense(1)])
    assert model(np.zeros((3, 5, 2), "float32")).shape == (3, 1)


def test_stack_can_return_the_whole_sequence_from_the_top_layer():
    layers = stack("scrn", 4, num_layers=2, return_sequences=True, context_units=2)
    assert [layer.return_sequences for layer in layers] == [True, True]
    model = keras.Sequential([keras.Input((5, 2)), *layers])
    assert model(np.zeros((3, 5, 2), "float32")).shape == (3, 5, 6)


@pytest.mark.parametrize("num_layers", [0, -1, 1.5, True])
def test_stack_rejects_a_non_positive_number_of_layers(num_layers):
    with pytest.raises(ValueError, match="num_layers must be a positive integer"):
        stack("lstm", 4, num_layers=num_layers)
