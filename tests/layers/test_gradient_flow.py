"""gradient_flow: hand-computed linear case, the vanishing-gradient contrast, plot and demo."""

import keras
import numpy as np
import pytest
from keras import ops

from layers import demo
from layers.elman import Elman
from layers.gradient_flow import gradient_flow, plot_gradient_flow

rng = np.random.default_rng(1997)
BATCH, STEPS, FEATURES, UNITS = 4, 7, 2, 3


@pytest.fixture
def linear_elman_weights():
    return {
        "kernel": rng.normal(size=(FEATURES, UNITS)),
        "recurrent_kernel": rng.normal(scale=0.6, size=(UNITS, UNITS)),
        "bias": rng.normal(size=(UNITS,)),
    }


def linear_elman(weights, **kwargs):
    layer = Elman(UNITS, activation=None, dtype="float64", **kwargs)
    layer.build((None, None, FEATURES))
    for name, value in weights.items():
        getattr(layer.cell, name).assign(value)
    return layer


def expected_linear_norms(weights, readout):
    """h_T = sum_k x_{T-k} K R^k + ..., so dL_T/dx_{T-k} = K R^k w for every sample
    (L_T = sum over the batch of h_T . w); the Frobenius norm over a batch of B
    identical rows is sqrt(B) * ||K R^k w||."""
    K, R = weights["kernel"], weights["recurrent_kernel"]
    return np.array(
        [np.sqrt(BATCH) * np.linalg.norm(K @ np.linalg.matrix_power(R, lag) @ readout) for lag in range(STEPS)]
    )


@pytest.mark.parametrize(
    "layer_options",
    [{}, {"return_sequences": True}, {"return_state": True}],
    ids=["last_output", "sequences", "with_state"],
)
def test_linear_elman_norms_are_matrix_powers(linear_elman_weights, layer_options):
    layer = linear_elman(linear_elman_weights, **layer_options)
    x = rng.normal(size=(BATCH, STEPS, FEATURES))
    norms = gradient_flow(layer, x)
    assert norms.shape == (STEPS,)
    expected = expected_linear_norms(linear_elman_weights, np.ones(UNITS))
    np.testing.assert_allclose(norms, expected, rtol=1e-10)


def test_model_with_readout_and_custom_loss(linear_elman_weights):
    readout = rng.normal(size=(UNITS, 1))
    dense = keras.layers.Dense(1, use_bias=False, dtype="float64")
    model = keras.Sequential(
        [keras.Input((STEPS, FEATURES), dtype="float64"), linear_elman(linear_elman_weights), dense]
    )
    dense.kernel.assign(readout)
    x = rng.normal(size=(BATCH, STEPS, FEATURES))
    norms = gradient_flow(model, x, loss=lambda y: -3.0 * ops.sum(y))
    expected = 3.0 * expected_linear_norms(linear_elman_weights, readout[:, 0])
    np.testing.assert_allclose(norms, expected, rtol=1e-10)


def test_integer_inputs_are_measured_in_float32():
    norms = gradient_flow(keras.layers.SimpleRNN(2), np.ones((1, 4, 1), dtype="int64"))
    assert norms.dtype == np.float32 and norms.shape == (4,)


def test_inputs_without_time_axis_are_rejected():
    with pytest.raises(ValueError, match=r"\(batch, time, features\); found shape \(4, 3\)"):
        gradient_flow(keras.layers.SimpleRNN(2), np.ones((4, 3), "float32"))


@pytest.fixture(scope="module")
def demo_results():
    """The demo's measurement: T=100, 8 features, 32 units, batch 16, default init, seeded."""
    return demo.measure_all()


def test_elman_gradient_vanishes_while_the_1997_lstm_carries_it(demo_results):
    elman, lstm1997 = demo_results["elman"], demo_results["lstm1997"]
    assert elman.shape == lstm1997.shape == (demo.TIME_STEPS,)
    assert elman[1] > 0 and elman[50] < 1e-6 * elman[1]
    assert lstm1997[50] > 0.1 * lstm1997[1]


def test_demo_prints_every_cell_and_saves_the_plot(demo_results, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(demo, "measure_all", lambda: demo_results)
    demo.main(["--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    table_rows = {line.split()[0] for line in printed.splitlines() if line.strip()}
    assert set(demo_results) <= table_rows
    assert set(demo_results) == set(demo.available())
    path = tmp_path / "out" / "gradient_flow.png"
    assert f"Saved the log-scale plot to {path}" in printed
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_format_table_reports_lags_and_ratio():
    norms = 2.0 ** -np.arange(100.0)
    row = demo.format_table({"toy": norms}).splitlines()[2].split()
    assert row[0] == "toy"
    assert [float(value) for value in row[1:]] == pytest.approx(
        [*(2.0**-lag for lag in demo.REPORTED_LAGS), 2.0**-49], rel=1e-3
    )


def test_plot_rejects_empty_results(tmp_path):
    with pytest.raises(ValueError, match="at least one result"):
        plot_gradient_flow({}, tmp_path / "empty.png")
