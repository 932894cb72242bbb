"""The Forecaster's network builder, the ordered-quantile layer and the pinball loss."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from forecast.losses import PinballLoss
from forecast.network import OrderedQuantiles, build_network
from layers.registry import available


@pytest.mark.parametrize("cell", available())
def test_every_registered_cell_builds_a_forecasting_network(cell, network_inputs):
    network = build_network(cell, units=4, num_layers=2, lookback=6, horizon=4, n_past_features=2)
    outputs = np.asarray(network(network_inputs()))
    assert outputs.shape == (3, 4)
    assert np.isfinite(outputs).all()


def test_inputs_and_output_shapes_follow_the_covariates_and_quantiles(network_inputs):
    network = build_network(
        "lstm", 4, 1, lookback=6, horizon=4, n_past_features=2, n_future_features=3, n_static_features=1, n_quantiles=3
    )
    assert sorted(network.input.keys()) == ["future", "past", "static"]
    outputs = np.asarray(network(network_inputs(n_future=3, n_static=1)))
    assert outputs.shape == (3, 4, 3)
    assert (np.diff(outputs, axis=-1) >= 0).all()


def test_future_covariates_change_only_through_the_future_input(network_inputs):
    network = build_network("gru", 4, 1, lookback=6, horizon=4, n_past_features=2, n_future_features=1)
    inputs = network_inputs(n_future=1)
    changed = {**inputs, "future": inputs["future"] + 1.0}
    assert not np.allclose(network(inputs), network(changed))


def test_ordered_quantiles_match_a_cumulative_softplus():
    raw = np.random.default_rng(1).normal(scale=3.0, size=(5, 4, 3)).astype("float32")
    softplus = np.log1p(np.exp(raw[..., 1:]))
    expected = np.concatenate([raw[..., :1], raw[..., :1] + np.cumsum(softplus, axis=-1)], axis=-1)
    np.testing.assert_allclose(OrderedQuantiles()(raw), expected, rtol=1e-5, atol=1e-5)


def test_pinball_loss_matches_its_definition():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(4, 3)).astype("float32")
    y_q = rng.normal(size=(4, 3, 2)).astype("float32")
    levels = [0.1, 0.9]
    expected = np.mean(
        [
            np.mean(np.where(y - y_q[..., j] >= 0, q * (y - y_q[..., j]), (q - 1) * (y - y_q[..., j])))
            for j, q in enumerate(levels)
        ]
    )
    assert float(PinballLoss(levels)(y, y_q)) == pytest.approx(expected, rel=1e-5)
    # Hand value: zero target, forecasts of one: (0.9 + 0.1) / 2.
    assert float(PinballLoss(levels)(np.zeros((1, 1)), np.ones((1, 1, 2)))) == pytest.approx(0.5)


def test_pinball_loss_rejects_levels_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        PinballLoss([0.5, 1.0])


def test_network_round_trips_through_a_keras_file_in_safe_mode(tmp_path, network_inputs):
    network = build_network(
        "cifg_lstm", 4, 1, lookback=6, horizon=4, n_past_features=2, n_static_features=1, n_quantiles=2
    )
    network.compile(optimizer="adam", loss=PinballLoss([0.25, 0.75]))
    inputs = network_inputs(n_static=1)
    network.save(tmp_path / "network.keras")
    restored = keras.saving.load_model(tmp_path / "network.keras", safe_mode=True)
    np.testing.assert_array_equal(restored(inputs), network(inputs))
    assert restored.loss.quantiles == [0.25, 0.75]
