"""Clockwork RNN: NumPy re-derivation, Elman equivalence, finite differences, layer behaviour."""

import keras
import numpy as np
import pytest

from layers.clockwork import Clockwork, ClockworkCell
from layers.elman import Elman

rng = np.random.default_rng(1402)


def clockwork_reference(x, kernel, recurrent_kernel, bias, periods, h0=None, t0=0):
    """Loops over modules as in the paper: module i updates iff t mod T_i == 0,
    hearing only modules j with T_j >= T_i (no mask matrix involved)."""
    batch, steps, _ = x.shape
    units = kernel.shape[1]
    size = units // len(periods)
    h = np.zeros((batch, units)) if h0 is None else h0.copy()
    outputs = []
    for step in range(steps):
        t = t0 + step
        h_new = h.copy()
        for i, period_i in enumerate(periods):
            if t % period_i != 0:
                continue
            receiving = slice(i * size, (i + 1) * size)
            preactivation = x[:, step] @ kernel[:, receiving] + bias[receiving]
            for j, period_j in enumerate(periods):
                if period_j >= period_i:
                    sending = slice(j * size, (j + 1) * size)
                    preactivation += h[:, sending] @ recurrent_kernel[sending, receiving]
            h_new[:, receiving] = np.tanh(preactivation)
        h = h_new
        outputs.append(h)
    return np.stack(outputs, axis=1)


def set_random_weights(layer, input_dim, dtype="float32", batch_size=None):
    """Builds `layer` and fills every weight, masked blocks included, with noise."""
    layer.build((batch_size, None, input_dim))
    cell = layer.cell
    weights = {
        "kernel": rng.normal(size=(input_dim, cell.units)),
        "recurrent_kernel": rng.normal(scale=0.5, size=(cell.units, cell.units)),
        "bias": rng.normal(size=(cell.units,)),
    }
    for name, value in weights.items():
        getattr(cell, name).assign(value.astype(dtype))
    return weights


def test_full_sequence_matches_numpy_reference_with_noisy_masked_blocks():
    periods = (1, 2, 4)
    x = rng.normal(size=(3, 11, 5)).astype("float32")
    layer = Clockwork(6, periods=periods, return_sequences=True)
    weights = set_random_weights(layer, 5)

    expected = clockwork_reference(x.astype("float64"), *weights.values(), periods)
    np.testing.assert_allclose(layer(x).numpy(), expected, atol=1e-5)


def test_single_step_updates_only_modules_whose_period_divides_t():
    periods = (1, 2, 4)
    cell = ClockworkCell(6, periods=periods)
    cell.build((None, 4))
    h_tm1 = rng.normal(size=(2, 6)).astype("float32")
    x = rng.normal(size=(2, 4)).astype("float32")
    for t in range(6):
        clock = np.full((2, 1), t, dtype="float32")
        output, (h, next_clock) = cell(x, [h_tm1, clock])
        expected = clockwork_reference(
            x[:, None].astype("float64"),
            cell.kernel.numpy(),
            cell.recurrent_kernel.numpy(),
            cell.bias.numpy(),
            periods,
            h0=h_tm1.astype("float64"),
            t0=t,
        )[:, 0]
        np.testing.assert_allclose(output.numpy(), expected, atol=1e-6)
        np.testing.assert_array_equal(next_clock.numpy(), np.full((2, 1), (t + 1) % 4))
        for module, period in enumerate(periods):
            block = slice(2 * module, 2 * module + 2)
            unchanged = np.array_equal(h.numpy()[:, block], h_tm1[:, block])
            assert unchanged == (t % period != 0), (t, period)


def test_period_four_module_holds_its_state_exactly_between_ticks():
    x = rng.normal(size=(2, 9, 3)).astype("float32")
    outputs = Clockwork(4, periods=(1, 4), return_sequences=True)(x).numpy()
    slow = outputs[:, :, 2:]
    for t in (1, 2, 3):
        np.testing.assert_array_equal(slow[:, t], slow[:, 0])
    for t in (5, 6, 7):
        np.testing.assert_array_equal(slow[:, t], slow[:, 4])
    assert not np.allclose(slow[:, 4], slow[:, 0])


def test_dropout_in_training_keeps_inactive_modules_exactly():
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = Clockwork(4, periods=(1, 4), dropout=0.5, recurrent_dropout=0.5, seed=7, return_sequences=True)
    slow = layer(x, training=True).numpy()[:, :, 2:]
    for t in (1, 2, 3):
        np.testing.assert_array_equal(slow[:, t], slow[:, 0])
    assert not np.allclose(layer(x, training=True).numpy(), layer(x).numpy())


def test_single_period_one_module_equals_tanh_elman_with_copied_weights():
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    clockwork = Clockwork(5, periods=(1,), return_sequences=True)
    weights = set_random_weights(clockwork, 3)
    elman = Elman(5, activation="tanh", return_sequences=True)
    elman.build((None, None, 3))
    for name, value in weights.items():
        getattr(elman.cell, name).assign(value.astype("float32"))
    np.testing.assert_allclose(clockwork(x).numpy(), elman(x).numpy(), atol=1e-5)


def test_training_lowers_the_loss_and_keeps_masked_blocks_zero():
    keras.utils.set_random_seed(3)
    layer = Clockwork(8, periods=(1, 2, 4, 8))
    model = keras.Sequential([keras.Input((6, 2)), layer, keras.layers.Dense(1)])
    mask = layer.cell.recurrent_mask == 0
    assert mask.sum() == 6 * 4  # the 6 slow-to-fast-forbidden blocks of 2 x 2
    assert np.all(layer.cell.recurrent_kernel.numpy()[mask] == 0)
    initial = layer.cell.recurrent_kernel.numpy()

    x = rng.normal(size=(16, 6, 2)).astype("float32")
    y = x[:, :3, 0].sum(axis=1, keepdims=True)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", jit_compile=False)
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history["loss"]

    assert history[-1] < history[0]
    trained = layer.cell.recurrent_kernel.numpy()
    assert not np.allclose(trained[~mask], initial[~mask])
    assert np.all(trained[mask] == 0)


def test_masked_blocks_have_no_effect_whatever_their_value():
    x = rng.normal(size=(2, 9, 3)).astype("float32")
    layer = Clockwork(6, periods=(1, 2, 4), return_sequences=True)
    layer.build((None, None, 3))
    before = layer(x).numpy()
    mask = layer.cell.recurrent_mask == 0
    kernel = layer.cell.recurrent_kernel.numpy()
    kernel[mask] = 100.0
    layer.cell.recurrent_kernel.assign(kernel)
    np.testing.assert_array_equal(layer(x).numpy(), before)


def test_bptt_gradients_match_central_finite_differences_in_float64(
    assert_weight_gradients_match_finite_differences,
):
    x = rng.normal(size=(2, 6, 3))
    layer = Clockwork(4, periods=(1, 3), return_sequences=True, unroll=True, dtype="float64")
    set_random_weights(layer, 3, dtype="float64")
    readout = rng.normal(size=(2, 6, 4))
    assert_weight_gradients_match_finite_differences(layer, x, readout)


def test_return_state_gives_hidden_state_and_clock_modulo_cycle():
    x = rng.normal(size=(3, 10, 2)).astype("float32")
    output, h, clock = Clockwork(8, periods=(1, 2, 4, 8), return_state=True)(x)
    assert output.shape == (3, 8) and h.shape == (3, 8) and clock.shape == (3, 1)
    np.testing.assert_array_equal(output.numpy(), h.numpy())
    np.testing.assert_array_equal(clock.numpy(), np.full((3, 1), 10 % 8))


def test_initial_state_sets_hidden_state_and_clock_phase():
    periods = (1, 2, 4)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    h0 = rng.normal(size=(2, 6)).astype("float32")
    layer = Clockwork(6, periods=periods, return_sequences=True)
    weights = set_random_weights(layer, 3)
    outputs = layer(x, initial_state=[h0, np.full((2, 1), 3.0, "float32")])
    expected = clockwork_reference(x.astype("float64"), *weights.values(), periods, h0=h0.astype("float64"), t0=3)
    np.testing.assert_allclose(outputs.numpy(), expected, atol=1e-5)


def test_go_backwards_runs_the_reversed_sequence():
    periods = (1, 2)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = Clockwork(4, periods=periods, go_backwards=True)
    weights = set_random_weights(layer, 3)
    expected = clockwork_reference(x[:, ::-1].astype("float64"), *weights.values(), periods)
    np.testing.assert_allclose(layer(x).numpy(), expected[:, -1], atol=1e-5)


def test_stateful_layer_keeps_counting_across_batches():
    periods = (1, 2, 4)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    layer = Clockwork(6, periods=periods, stateful=True, return_sequences=True)
    weights = set_random_weights(layer, 3, batch_size=2)
    first = layer(x[:, :3]).numpy()
    second = layer(x[:, 3:]).numpy()
    expected = clockwork_reference(x.astype("float64"), *weights.values(), periods)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), expected, atol=1e-5)
    np.testing.assert_array_equal(layer.states[1].numpy(), np.full((2, 1), 6 % 4))

    layer.reset_state()
    np.testing.assert_allclose(layer(x[:, :3]).numpy(), expected[:, :3], atol=1e-5)


def test_masked_steps_advance_neither_state_nor_clock():
    periods = (1, 2, 4)
    x = rng.normal(size=(2, 7, 3)).astype("float32")
    mask = np.ones((2, 7), dtype=bool)
    mask[0, [2, 3]] = False  # sample 0 skips two steps in the middle
    mask[1, 6] = False  # sample 1 skips the last step
    layer = Clockwork(6, periods=periods, return_sequences=True, return_state=True)
    weights = set_random_weights(layer, 3)
    outputs, h, clock = layer(x, mask=mask)

    for sample in range(2):
        kept = x[sample : sample + 1, mask[sample]].astype("float64")
        expected = clockwork_reference(kept, *weights.values(), periods)
        np.testing.assert_allclose(h.numpy()[sample], expected[0, -1], atol=1e-5)
        assert clock.numpy()[sample, 0] == mask[sample].sum() % 4
    # a masked step repeats the previous output
    np.testing.assert_array_equal(outputs.numpy()[0, 3], outputs.numpy()[0, 1])


def test_get_config_round_trip_and_keras_file_give_identical_outputs(save_and_load):
    x = rng.normal(size=(2, 8, 3)).astype("float32")
    layer = Clockwork(6, periods=(1, 3, 9), activation="relu", return_sequences=True)
    model = keras.Sequential([keras.Input((8, 3)), layer, keras.layers.Dense(2)])

    clone = Clockwork.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.cell.periods == (1, 3, 9) and clone.cell.cycle_length == 9

    loaded = save_and_load(model, "clockwork.keras")
    assert isinstance(loaded.layers[0], Clockwork)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


def test_runs_under_mixed_float16(mixed_precision):
    x = rng.normal(size=(2, 10, 3)).astype("float32")
    output, _h, clock = Clockwork(8, return_state=True)(x)
    assert output.dtype == "float16" and clock.dtype == "float16"
    assert np.all(np.isfinite(output.numpy()))
    np.testing.assert_array_equal(clock.numpy(), np.full((2, 1), 2))


def test_clock_cycle_too_long_for_float16_is_rejected(mixed_precision):
    layer = Clockwork(4, periods=(1, 4096))
    with pytest.raises(ValueError, match="lcm"):
        layer(np.zeros((1, 2, 3), "float32"))


def test_default_periods_are_powers_of_two():
    assert ClockworkCell(8).periods == (1, 2, 4, 8)
    assert ClockworkCell(6, num_modules=3).periods == (1, 2, 4)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"units": 10, "periods": (1, 2, 4)}, "multiple of 3"),
        ({"units": 8, "periods": (4, 1)}, "increasing order"),
        ({"units": 8, "periods": (1, 0)}, "positive integers"),
        ({"units": 8, "periods": (1, 2), "num_modules": 4}, "disagrees"),
        ({"units": 8, "num_modules": 0}, "num_modules"),
    ],
)
def test_invalid_arguments_say_what_was_expected(arguments, message):
    with pytest.raises(ValueError, match=message):
        ClockworkCell(**arguments)
