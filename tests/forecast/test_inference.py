"""CompiledPredictor: the XLA-compiled call equals the Keras model's own eager call."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from forecast.inference import CompiledPredictor
from forecast.network import build_network
from layers.registry import available


def _network(cell="lstm", n_quantiles=3):
    return build_network(
        cell,
        4,
        2,
        lookback=6,
        horizon=4,
        n_past_features=2,
        n_future_features=3,
        n_static_features=1,
        n_quantiles=n_quantiles,
    )


@pytest.mark.parametrize("cell", available())
def test_every_cell_compiles_and_matches_the_eager_model(cell, network_inputs):
    network = _network(cell, n_quantiles=None)
    inputs = network_inputs(3, n_future=3, n_static=1)
    expected = np.asarray(network(inputs, training=False))
    np.testing.assert_allclose(CompiledPredictor(network)(inputs), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rows", [1, 3, 4, 5, 9])
def test_chunks_and_padding_return_exactly_the_real_rows(rows, network_inputs):
    network = _network()
    inputs = network_inputs(rows, n_future=3, n_static=1, seed=rows)
    expected = np.asarray(network(inputs, training=False))
    outputs = CompiledPredictor(network, max_batch=4)(inputs)
    assert outputs.shape == expected.shape == (rows, 4, 3)
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-6)


def test_a_row_forecast_does_not_depend_on_the_other_rows_of_the_batch(network_inputs):
    predictor = CompiledPredictor(_network(), max_batch=8)
    inputs = network_inputs(7, n_future=3, n_static=1)
    together = predictor(inputs)
    alone = np.concatenate([predictor({name: array[i : i + 1] for name, array in inputs.items()}) for i in range(7)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_inputs_are_cast_to_the_model_dtype(network_inputs):
    network = _network()
    inputs = network_inputs(2, n_future=3, n_static=1)
    as_float64 = {name: array.astype("float64") for name, array in inputs.items()}
    predictor = CompiledPredictor(network)
    np.testing.assert_array_equal(predictor(as_float64), predictor(inputs))


def test_missing_inputs_empty_batches_and_bad_chunk_sizes_are_errors(network_inputs):
    network = _network()
    predictor = CompiledPredictor(network)
    with pytest.raises(ValueError, match=r"missing model inputs \['static'\]"):
        predictor(
            {name: array for name, array in network_inputs(2, n_future=3, n_static=1).items() if name != "static"}
        )
    with pytest.raises(ValueError, match="empty batch"):
        predictor(network_inputs(0, n_future=3, n_static=1))
    with pytest.raises(ValueError, match="power of two"):
        CompiledPredictor(network, max_batch=6)


def test_large_batches_take_the_graph_path_and_match_the_eager_model(network_inputs):
    network = _network()
    predictor = CompiledPredictor(network, max_batch=16, xla_rows=4)
    inputs = network_inputs(37, n_future=3, n_static=1, seed=3)
    expected = np.asarray(network(inputs, training=False))
    np.testing.assert_allclose(predictor(inputs), expected, rtol=1e-5, atol=1e-6)
    predictor({name: array[:11] for name, array in inputs.items()})
    assert predictor._graph_function.experimental_get_tracing_count() == 1  # one trace for every large size
    assert predictor._xla_function.experimental_get_tracing_count() == 0
    predictor({name: array[:3] for name, array in inputs.items()})
    assert predictor._xla_function.experimental_get_tracing_count() == 1


@pytest.mark.slow
def test_many_predictors_in_one_process_do_not_warn_of_retracing(network_inputs):
    """Each predictor traces once per path; TensorFlow must not count the traces of different predictors
    together (with one shared lambda, five predictors set off its "triggered tf.function retracing" warning)."""
    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    tensorflow_logger = logging.getLogger("tensorflow")
    tensorflow_logger.addHandler(handler)
    try:
        inputs = network_inputs(5, n_future=3, n_static=1, seed=4)
        for _ in range(7):
            predictor = CompiledPredictor(_network(), xla_rows=2)
            predictor({name: array[:1] for name, array in inputs.items()})
            predictor(inputs)
    finally:
        tensorflow_logger.removeHandler(handler)
    assert not [message for message in messages if "retracing" in message]
