"""The fast paths of layers.tensorflow_kernels against the generic loop, and how they are chosen.

Every equality check builds two layers with the same random weights, one forced onto the fast path
(`implementation="fused"`: BlockLSTMV2 for the LSTM, the lean loop for the GRU) and one onto the generic
`keras.ops` loop (`implementation="loop"`, itself checked against NumPy, keras.layers.LSTM and keras.layers.GRU in
test_lstm.py and test_gru.py), and compares outputs, final states and the gradients of a random weighting of all
of them with respect to the inputs, the initial states and every weight.
"""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import layers
from layers import tensorflow_kernels
from layers.gru import GRU
from layers.lstm import LSTM

UNITS, FEATURES, BATCH, TIME = 4, 3, 6, 7

VARIANTS = {
    "default": {},
    "peepholes": {"peepholes": True},
    "lstm1997": {"forget_gate": False},
    "lstm1997_peepholes": {"forget_gate": False, "peepholes": True},
    "no_input_gate": {"input_gate": False, "peepholes": True},
    "no_output_gate": {"output_gate": False},
    "cifg": {"coupled": True},
    "cifg_peepholes": {"coupled": True, "peepholes": True},
}

# Right padding of every kind: whole, partly padded, a single step, fully masked.
LENGTHS = np.array([TIME, 5, 1, 0, 3, TIME - 1])
RIGHT_PADDED = np.arange(TIME)[None, :] < LENGTHS[:, None]


def twin_layers(flags, implementations=("fused", "loop"), layer_class=LSTM, **kwargs):
    """Two LSTM (or `layer_class`) layers, by default a fused and a loop one, with the same random weights, built
    for (BATCH, TIME, FEATURES)."""
    fused, loop = (
        layer_class(UNITS, implementation=implementation, **flags, **kwargs) for implementation in implementations
    )
    for layer in (fused, loop):
        layer.build((BATCH, TIME, FEATURES))
    rng = np.random.default_rng(1)
    weights = [rng.uniform(-0.7, 0.7, size=w.shape).astype("float32") for w in fused.get_weights()]
    fused.set_weights(weights)
    loop.set_weights(weights)
    return fused, loop


def outputs_and_gradients(layer, x, mask=None, initial_state=None, seed=2):
    """All outputs of the layer and the gradients of a random weighting of them with respect to the inputs,
    the initial states (if given) and every trainable weight."""
    x = tf.constant(x)
    initial_state = None if initial_state is None else [tf.constant(s) for s in initial_state]
    with tf.GradientTape() as tape:
        tape.watch(x)
        if initial_state is not None:
            tape.watch(initial_state)
        outputs = keras.tree.flatten(layer(x, mask=mask, initial_state=initial_state, training=True))
        rng = np.random.default_rng(seed)
        loss = sum(tf.reduce_sum(o * rng.normal(size=o.shape).astype("float32")) for o in outputs)
    sources = [x, *(initial_state or []), *layer.trainable_weights]
    gradients = tape.gradient(loss, sources)
    names = ["inputs", *[f"initial_state[{k}]" for k in range(len(initial_state or []))]]
    names += [w.path for w in layer.trainable_weights]
    return [np.asarray(o) for o in outputs], dict(zip(names, (np.asarray(g) for g in gradients)))


def assert_fused_equals_loop(fused, loop, x, mask=None, initial_state=None):
    fused_outputs, fused_gradients = outputs_and_gradients(fused, x, mask, initial_state)
    loop_outputs, loop_gradients = outputs_and_gradients(loop, x, mask, initial_state)
    assert len(fused_outputs) == len(loop_outputs)
    for a, b in zip(fused_outputs, loop_outputs):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert len(fused_gradients) == len(loop_gradients)
    for (name, a), b in zip(fused_gradients.items(), loop_gradients.values()):
        relative_error = np.linalg.norm(a - b) / np.linalg.norm(b)
        assert relative_error < 1e-4, (name, relative_error)


def random_inputs(seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, TIME, FEATURES)).astype("float32")


def random_state(seed=3, states=2):
    return list(np.random.default_rng(seed).normal(scale=0.5, size=(states, BATCH, UNITS)).astype("float32"))


# ------------------------------------------------------------------------------------------ fused == loop


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "right_padded"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_block_lstm_equals_the_loop_in_values_and_gradients(variant, masked, go_backwards):
    fused, loop = twin_layers(VARIANTS[variant], return_sequences=True, return_state=True, go_backwards=go_backwards)
    mask = RIGHT_PADDED if masked else None
    assert_fused_equals_loop(fused, loop, random_inputs(), mask, initial_state=random_state())


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
def test_block_lstm_fills_masked_outputs_as_the_loop(return_sequences, go_backwards, zero_output_for_mask):
    fused, loop = twin_layers(
        VARIANTS["peepholes"],
        return_sequences=return_sequences,
        return_state=True,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
    )
    assert_fused_equals_loop(fused, loop, random_inputs(), RIGHT_PADDED)


@pytest.mark.parametrize("variant", ["default", "peepholes"])
def test_block_lstm_equals_the_loop_without_initial_state_or_sequences(variant):
    fused, loop = twin_layers(VARIANTS[variant])
    assert_fused_equals_loop(fused, loop, random_inputs())


def test_block_lstm_inside_a_compiled_function_equals_the_loop():
    fused, loop = twin_layers(VARIANTS["peepholes"], return_sequences=True, return_state=True)
    x = random_inputs()
    compiled = {layer: tf.function(lambda x, mask, layer=layer: layer(x, mask=mask)) for layer in (fused, loop)}
    for mask in (None, RIGHT_PADDED):
        for a, b in zip(compiled[fused](x, mask), compiled[loop](x, mask)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_auto_runs_other_masks_through_the_loop_in_a_graph():
    # The mask is known only when the batch arrives: tf.cond must send a mask with a hole to the loop.
    auto, loop = twin_layers({}, ("auto", "loop"), return_sequences=True)
    holes = RIGHT_PADDED.copy()
    holes[0, 2] = False
    for mask in (holes, RIGHT_PADDED):
        compiled = tf.function(lambda x, mask: auto(x, mask=mask))
        np.testing.assert_allclose(
            np.asarray(compiled(random_inputs(), mask)), np.asarray(loop(random_inputs(), mask=mask)), atol=1e-5
        )


@pytest.mark.parametrize("variant", ["default", "peepholes"])
def test_auto_with_a_mask_trains_on_a_batch_known_only_at_run_time(variant):
    # Keras's fit traces its last, smaller batch as (None, ...). The kernel's tf.switch_case over batch parts inside
    # auto's tf.cond had no gradient (AssertionError in tape.gradient): there the kernel runs in one part.
    auto, loop = twin_layers(VARIANTS[variant], ("auto", "loop"), return_sequences=True)
    signature = [tf.TensorSpec((None, TIME, FEATURES)), tf.TensorSpec((None, TIME), tf.bool)]
    results = {}
    for layer in (auto, loop):

        @tf.function(input_signature=signature)
        def outputs_and_gradients(x, mask, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.sin(3.0 * layer(x, mask=mask, training=True)))
            return tape.gradient(loss, [x, *layer.trainable_weights])

        results[layer] = outputs_and_gradients(random_inputs(), RIGHT_PADDED)
    for a, b in zip(results[auto], results[loop], strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-4)


def test_gradients_of_gradients_on_the_fused_kernel_are_refused_in_one_clear_error():
    fused, loop = twin_layers({})
    x = tf.constant(random_inputs())

    def penalty(layer):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.reduce_sum(layer(x) ** 2)
            gradient_penalty = tf.reduce_sum(inner.gradient(y, x) ** 2)
        return outer.gradient(gradient_penalty, layer.trainable_weights)

    assert all(np.all(np.isfinite(g)) for g in penalty(loop))
    with pytest.raises(NotImplementedError, match="first-order gradients only.*implementation='loop'"):
        penalty(fused)


@pytest.mark.parametrize("steps", [TIME - 1, TIME + 2], ids=["shorter", "longer"])
def test_a_mask_of_other_time_steps_than_the_inputs_is_refused(steps):
    fused, _ = twin_layers({})
    with pytest.raises(ValueError, match=r"the mask's shape \(6, \d+\) does not match the inputs' batch and time"):
        fused(random_inputs(), mask=np.ones((BATCH, steps), bool))


# A batch of 130 runs in 4 parts (33 + 33 + 32 + 32 sequences); every length of LENGTHS appears in every part.
SPLIT_BATCH = 130
SPLIT_LENGTHS = np.resize(LENGTHS, SPLIT_BATCH)


@pytest.mark.parametrize(
    "batch_known",
    [True, pytest.param(False, marks=pytest.mark.slow)],  # a run-time batch traces every part count: slow
    ids=["static_batch", "dynamic_batch"],
)
@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last_output"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("variant", ["default", "peepholes"])
def test_block_lstm_in_batch_parts_equals_the_loop(variant, go_backwards, return_sequences, batch_known):
    assert tensorflow_kernels.block_lstm_part_count(SPLIT_BATCH) == 4
    fused, loop = twin_layers(
        VARIANTS[variant], return_sequences=return_sequences, return_state=True, go_backwards=go_backwards
    )
    rng = np.random.default_rng(4)
    x = rng.normal(size=(SPLIT_BATCH, TIME, FEATURES)).astype("float32")
    mask = np.arange(TIME)[None, :] < SPLIT_LENGTHS[:, None]
    state = list(rng.normal(scale=0.5, size=(2, SPLIT_BATCH, UNITS)).astype("float32"))
    if batch_known:
        assert_fused_equals_loop(fused, loop, x, mask, initial_state=state)
        return
    # Inside a function traced for any batch size, as Keras's fit traces its last, smaller batch.
    signature = [tf.TensorSpec((None, TIME, FEATURES)), tf.TensorSpec((None, TIME), tf.bool)]
    signature += [tf.TensorSpec((None, UNITS))] * 2
    for padded in (None, mask):
        results = {}
        for layer in (fused, loop):

            @tf.function(input_signature=signature)
            def outputs_and_gradients(x, mask, h0, c0, layer=layer, padded=padded):
                with tf.GradientTape() as tape:
                    tape.watch([x, h0, c0])
                    outputs = layer(x, mask=None if padded is None else mask, initial_state=[h0, c0], training=True)
                    # A nonlinear readout, so that every output's gradient depends on its value.
                    loss = sum(tf.reduce_sum(tf.sin(3.0 * o)) for o in keras.tree.flatten(outputs))
                return outputs, tape.gradient(loss, [x, h0, c0, *layer.trainable_weights])

            results[layer] = outputs_and_gradients(x, mask, *state)
        for a, b in zip(keras.tree.flatten(results[fused]), keras.tree.flatten(results[loop])):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("masked", [True, False], ids=["lengths", "full_length"])
@pytest.mark.parametrize("sequences", [True, False], ids=["sequences", "last_states"])
@pytest.mark.parametrize(
    "batch", [8, pytest.param(130, marks=pytest.mark.slow), 600], ids=["one_part", "4_parts", "8_parts"]
)
def test_block_lstm_in_parts_is_the_one_call_kernel_split_by_sequence(batch, sequences, masked):
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(size=(TIME, batch, FEATURES)).astype("float32"))
    h0, c0 = (tf.constant(s) for s in rng.normal(scale=0.5, size=(2, batch, UNITS)).astype("float32"))
    lengths = tf.constant(np.resize(LENGTHS, batch) if masked else np.full(batch, TIME), tf.int32)
    parameters = [tf.constant(rng.normal(scale=0.5, size=(FEATURES + UNITS, 4 * UNITS)).astype("float32"))]
    parameters += [tf.constant(rng.normal(scale=0.5, size=(k * UNITS,)).astype("float32")) for k in (4, 1, 1, 1)]
    readouts = [
        tf.constant(rng.normal(size=shape).astype("float32")) for shape in ((TIME, batch, UNITS), (2, batch, UNITS))
    ]

    def one_call(x, h0, c0, lengths, *parameters):
        """The whole batch in one kernel call, each sequence's last state picked in NumPy."""
        h, c = tensorflow_kernels.block_lstm(
            x, h0, c0, *parameters, seq_len_max=tf.constant(TIME, tf.int64), use_peephole=True
        )
        pick = np.stack([np.maximum(lengths.numpy() - 1, 0), np.arange(batch)], axis=1)
        started = (lengths.numpy() > 0)[:, None]
        last = [tf.where(started, tf.gather_nd(s, pick), s0) for s, s0 in ((h, h0), (c, c0))]
        return (h if sequences else None), *last

    def in_parts(x, h0, c0, lengths, *parameters):
        return tensorflow_kernels.block_lstm_in_parts(
            x,
            h0,
            c0,
            *parameters,
            seq_len_max=tf.constant(TIME, tf.int64),
            use_peephole=True,
            lengths=lengths if masked else None,
            sequences=sequences,
        )

    def outputs_and_gradients(kernel, *arguments):
        inputs = [arguments[k] for k in (0, 1, 2)] + list(arguments[4:])
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            h, last_h, last_c = kernel(*arguments)
            loss = tf.reduce_sum(tf.stack([last_h, last_c]) * readouts[1])
            if sequences:
                loss += tf.reduce_sum(h * readouts[0])
        assert (h is None) is not sequences
        return [o for o in (h, last_h, last_c) if o is not None] + tape.gradient(loss, inputs)

    expected = outputs_and_gradients(one_call, x, h0, c0, lengths, *parameters)
    any_batch = tf.function(functools.partial(outputs_and_gradients, in_parts)).get_concrete_function(
        tf.TensorSpec((TIME, None, FEATURES)),
        *[tf.TensorSpec((None, UNITS))] * 2,
        tf.TensorSpec((None,), tf.int32),
        *[tf.TensorSpec(p.shape) for p in parameters],
    )
    for result in (
        outputs_and_gradients(in_parts, x, h0, c0, lengths, *parameters),
        any_batch(x, h0, c0, lengths, *parameters),
    ):
        assert len(result) == len(expected)
        for a, b in zip(result, expected):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-5)


def test_fused_rejects_a_mask_that_is_not_right_padded():
    fused, _ = twin_layers({})
    mask = np.ones((BATCH, TIME), dtype=bool)
    mask[:, 0] = False  # left padding
    with pytest.raises(tf.errors.InvalidArgumentError, match="right-padded mask"):
        fused(random_inputs(), mask=mask)


def test_input_dropout_draws_the_same_mask_on_both_paths():
    fused, loop = twin_layers({}, dropout=0.4, seed=5, return_sequences=True)
    x = random_inputs()
    np.testing.assert_allclose(np.asarray(fused(x, training=True)), np.asarray(loop(x, training=True)), atol=1e-5)
    assert not np.allclose(np.asarray(fused(x, training=True)), np.asarray(fused(x, training=False)))


def test_stateful_fused_layer_carries_h_and_c_between_batches():
    fused, loop = twin_layers(VARIANTS["peepholes"], stateful=True, return_sequences=True)
    x = random_inputs()
    halves = np.concatenate([np.asarray(fused(x[:, :3])), np.asarray(fused(x[:, 3:]))], axis=1)
    loop.reset_state()
    np.testing.assert_allclose(halves, np.asarray(loop(x)), atol=1e-5)


def test_mixed_precision_fused_layer_runs_in_float16_with_float32_weights(mixed_precision):
    fused, loop = twin_layers(VARIANTS["peepholes"], return_sequences=True)
    x = random_inputs()
    outputs = fused(x)
    assert outputs.dtype == "float16"
    assert all(w.dtype == "float32" for w in fused.weights)
    np.testing.assert_allclose(np.asarray(outputs, "float32"), np.asarray(loop(x), "float32"), atol=1e-2)


def test_pinned_gates_are_exactly_open():
    # forget_gate=False and output_gate=False pin f_t and o_t at sigmoid(bias) == 1.0 exactly.
    for dtype in ("float32", "float16"):
        layer = LSTM(UNITS, forget_gate=False, output_gate=False, dtype=dtype)
        layer.build((BATCH, TIME, FEATURES))
        w, b, wci, wcf, wco = tensorflow_kernels._block_lstm_parameters(layer.cell, dtype)
        x = tf.constant(random_inputs() * 50, dtype)
        _, _, f, o, _, _, _ = tf.raw_ops.BlockLSTMV2(
            seq_len_max=tf.constant(TIME, tf.int64),
            x=tf.transpose(x, (1, 0, 2)),
            cs_prev=tf.zeros((BATCH, UNITS), dtype),
            h_prev=tf.zeros((BATCH, UNITS), dtype),
            w=w,
            wci=wci,
            wcf=wcf,
            wco=wco,
            b=b,
            cell_clip=0.0,
            use_peephole=False,
        )
        assert np.all(np.asarray(f) == 1.0) and np.all(np.asarray(o) == 1.0), dtype


def test_fused_layer_round_trips_through_a_keras_file(save_and_load):
    inputs = keras.Input((TIME, FEATURES))
    hidden = LSTM(UNITS, peepholes=True, return_sequences=True, implementation="fused")(inputs)
    outputs = LSTM(UNITS, forget_gate=False)(hidden)
    model = keras.Model(inputs, outputs)
    loaded = save_and_load(model, "fused.keras")
    assert [layer.implementation for layer in loaded.layers[1:]] == ["fused", "auto"]
    np.testing.assert_allclose(np.asarray(loaded(random_inputs())), np.asarray(model(random_inputs())), atol=1e-6)


def test_a_model_with_fused_layers_trains_when_compiled_with_xla(fit_repeated, running_mean_task):
    x, y = running_mean_task
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 1)), LSTM(8, implementation="fused"), keras.layers.Dense(1)])
    with pytest.warns(UserWarning, match="jit_compile"):
        model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", jit_compile=True)
    assert model.jit_compile is False  # Keras falls back to no XLA, as for keras.layers.LSTM on cuDNN
    before = model.evaluate(x, y, verbose=0)
    fit_repeated(model, x, y, steps=20)
    assert model.evaluate(x, y, verbose=0) < before / 2


def test_auto_uses_the_loop_inside_xla():
    auto, loop = twin_layers(VARIANTS["peepholes"], ("auto", "loop"), return_sequences=True)
    x = random_inputs()
    compiled = tf.function(lambda x: auto(x), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(x)), np.asarray(loop(x)), atol=1e-5)
    fused, _ = twin_layers({})
    with pytest.raises(ValueError, match="XLA"):
        tf.function(lambda x: fused(x), jit_compile=True)(x)


# ---------------------------------------------------------------------------------------- GRU: fused == loop

RESET_MODES = pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])


def twin_grus(reset_after=True, implementations=("fused", "loop"), **kwargs):
    """Two GRU layers (by default a fused and a loop one) with the same random weights."""
    return twin_layers({"reset_after": reset_after}, implementations, layer_class=GRU, **kwargs)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "right_padded"])
@RESET_MODES
def test_lean_gru_equals_the_loop_in_values_and_gradients(reset_after, masked, go_backwards, use_bias):
    fused, loop = twin_grus(
        reset_after, return_sequences=True, return_state=True, go_backwards=go_backwards, use_bias=use_bias
    )
    mask = RIGHT_PADDED if masked else None
    assert_fused_equals_loop(fused, loop, random_inputs(), mask, initial_state=random_state(states=1))


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@RESET_MODES
def test_lean_gru_fills_masked_outputs_as_the_loop(reset_after, return_sequences, go_backwards, zero_output_for_mask):
    fused, loop = twin_grus(
        reset_after,
        return_sequences=return_sequences,
        return_state=True,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
    )
    assert_fused_equals_loop(fused, loop, random_inputs(), RIGHT_PADDED)


@RESET_MODES
def test_lean_gru_equals_the_loop_without_initial_state_or_sequences(reset_after):
    fused, loop = twin_grus(reset_after)
    assert_fused_equals_loop(fused, loop, random_inputs())


@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last_output"])
@RESET_MODES
def test_lean_gru_equals_the_loop_for_a_batch_known_only_when_it_arrives(reset_after, return_sequences):
    # Inside a function traced for any batch size, as Keras's fit traces it, with and without a right-padded mask.
    fused, loop = twin_grus(reset_after, return_sequences=return_sequences, return_state=True)
    rng = np.random.default_rng(4)
    batch = 2 * BATCH + 1
    x = rng.normal(size=(batch, TIME, FEATURES)).astype("float32")
    mask = np.arange(TIME)[None, :] < np.resize(LENGTHS, batch)[:, None]
    h0 = rng.normal(scale=0.5, size=(batch, UNITS)).astype("float32")
    signature = [
        tf.TensorSpec((None, TIME, FEATURES)),
        tf.TensorSpec((None, TIME), tf.bool),
        tf.TensorSpec((None, UNITS)),
    ]
    for padded in (None, mask):
        results = {}
        for layer in (fused, loop):

            @tf.function(input_signature=signature)
            def outputs_and_gradients(x, mask, h0, layer=layer, padded=padded):
                with tf.GradientTape() as tape:
                    tape.watch([x, h0])
                    outputs = layer(x, mask=None if padded is None else mask, initial_state=[h0], training=True)
                    loss = sum(tf.reduce_sum(tf.sin(3.0 * o)) for o in keras.tree.flatten(outputs))
                return outputs, tape.gradient(loss, [x, h0, *layer.trainable_weights])

            results[layer] = outputs_and_gradients(x, mask, h0)
        for a, b in zip(keras.tree.flatten(results[fused]), keras.tree.flatten(results[loop])):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last_output"])
def test_gru_auto_runs_other_masks_through_the_loop_in_a_graph(return_sequences):
    # The mask is known only when the batch arrives: tf.cond sends a right-padded mask to the lean loop and a mask
    # with a hole to the generic loop; both branches are differentiated.
    auto, loop = twin_grus(True, ("auto", "loop"), return_sequences=return_sequences)
    holes = RIGHT_PADDED.copy()
    holes[0, 2] = False
    results = {}
    for layer in (auto, loop):

        @tf.function
        def outputs_and_gradients(x, mask, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs = layer(x, mask=mask, training=True)
                loss = tf.reduce_sum(tf.sin(3.0 * outputs))
            return [outputs, *tape.gradient(loss, [x, *layer.trainable_weights])]

        results[layer] = [outputs_and_gradients(random_inputs(), mask) for mask in (RIGHT_PADDED, holes)]
    for fused_results, loop_results in zip(results[auto], results[loop]):
        for a, b in zip(fused_results, loop_results):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_fused_gru_rejects_a_mask_that_is_not_right_padded():
    fused, _ = twin_grus()
    mask = np.ones((BATCH, TIME), dtype=bool)
    mask[:, 0] = False  # left padding
    with pytest.raises(tf.errors.InvalidArgumentError, match="right-padded mask"):
        fused(random_inputs(), mask=mask)


@RESET_MODES
def test_gru_input_dropout_draws_the_same_mask_on_both_paths(reset_after):
    fused, loop = twin_grus(reset_after, dropout=0.4, seed=5, return_sequences=True)
    x = random_inputs()
    np.testing.assert_allclose(np.asarray(fused(x, training=True)), np.asarray(loop(x, training=True)), atol=1e-5)
    assert not np.allclose(np.asarray(fused(x, training=True)), np.asarray(fused(x, training=False)))


@RESET_MODES
def test_stateful_fused_gru_carries_h_between_batches(reset_after):
    fused, loop = twin_grus(reset_after, stateful=True, return_sequences=True)
    x = random_inputs()
    halves = np.concatenate([np.asarray(fused(x[:, :3])), np.asarray(fused(x[:, 3:]))], axis=1)
    loop.reset_state()
    np.testing.assert_allclose(halves, np.asarray(loop(x)), atol=1e-5)


@RESET_MODES
def test_mixed_precision_fused_gru_runs_the_lean_loop_in_float16(mixed_precision, reset_after):
    fused, loop = twin_grus(reset_after, return_sequences=True)
    x = random_inputs()
    outputs = fused(x)
    assert outputs.dtype == "float16"
    assert all(w.dtype == "float32" for w in fused.weights)
    np.testing.assert_allclose(np.asarray(outputs, "float32"), np.asarray(loop(x), "float32"), atol=1e-2)


def test_a_model_with_a_fused_gru_trains(fit_repeated, running_mean_task):
    x, y = running_mean_task
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 1)), GRU(8, implementation="fused"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    fit_repeated(model, x, y, steps=20)
    assert model.evaluate(x, y, verbose=0) < before / 2


def test_gru_auto_uses_the_loop_inside_xla():
    auto, loop = twin_grus(True, ("auto", "loop"), return_sequences=True)
    x = random_inputs()
    compiled = tf.function(lambda x: auto(x), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(x)), np.asarray(loop(x)), atol=1e-5)
    fused, _ = twin_grus()
    with pytest.raises(ValueError, match="XLA"):
        tf.function(lambda x: fused(x), jit_compile=True)(x)


# ------------------------------------------------------------------------------- the registered gradient


def test_tensorflows_registered_block_lstm_v2_gradient_is_still_wrong():
    """The registered gradient of BlockLSTMV2 calls the V1 gradient op, whose gate order is [i, c, f, o]: for
    one step from h_0 = 0 the kernel's f and c gradient blocks come out swapped. If this test fails, TensorFlow
    fixed it; the custom gradient of tensorflow_kernels.block_lstm can then go."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(1, BATCH, FEATURES)).astype("float32"))
    w = tf.constant(rng.normal(scale=0.5, size=(FEATURES + UNITS, 4 * UNITS)).astype("float32"))
    b = tf.constant(rng.normal(scale=0.5, size=(4 * UNITS,)).astype("float32"))
    zeros, state = tf.zeros((UNITS,)), tf.zeros((BATCH, UNITS))
    readout = tf.constant(rng.normal(size=(1, BATCH, UNITS)).astype("float32"))

    def weight_gradient(kernel):
        with tf.GradientTape() as tape:
            tape.watch(w)
            h, _ = kernel(w)
            loss = tf.reduce_sum(h * readout)
        return np.asarray(tape.gradient(loss, w))

    def registered(w):
        outputs = tf.raw_ops.BlockLSTMV2(
            seq_len_max=tf.constant(1, tf.int64), x=x, cs_prev=state, h_prev=state, w=w, wci=zeros, wcf=zeros,
            wco=zeros, b=b, cell_clip=0.0, use_peephole=False,
        )  # fmt: skip
        return outputs[6], outputs[1]

    def custom(w):
        return tensorflow_kernels.block_lstm(
            x, state, state, w, b, zeros, zeros, zeros, seq_len_max=tf.constant(1, tf.int64), use_peephole=False
        )

    def reference(w):  # the generic loop with the same weights
        layer = LSTM(UNITS, implementation="loop", return_sequences=True)
        layer.build((BATCH, 1, FEATURES))
        layer.cell.kernel.assign(w[:FEATURES])
        layer.cell.recurrent_kernel.assign(w[FEATURES:])
        layer.cell.bias.assign(b)
        with tf.GradientTape() as tape:
            h = layer(tf.transpose(x, (1, 0, 2)))
            loss = tf.reduce_sum(tf.transpose(h, (1, 0, 2)) * readout)
        kernel, recurrent_kernel, _ = tape.gradient(loss, layer.trainable_weights)
        return np.concatenate([np.asarray(kernel), np.asarray(recurrent_kernel)])

    expected = reference(w)
    np.testing.assert_allclose(weight_gradient(custom), expected, rtol=1e-5, atol=1e-6)
    wrong = weight_gradient(registered)
    i, f, c, o = np.split(expected, 4, axis=1)
    assert np.abs(wrong - expected).max() > 0.1
    np.testing.assert_allclose(wrong, np.concatenate([i, c, f, o], axis=1), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------- the choice


def plan_of(layer, dtype="float32", gpu=False, xla=False):
    return tensorflow_kernels.plan(layer, dtype=dtype, gpu=gpu, xla=xla)


@pytest.mark.parametrize(
    ("layer_kwargs", "expected"),
    [
        ({}, "block_lstm"),
        ({"peepholes": True}, "block_lstm"),
        ({"forget_gate": False}, "block_lstm"),
        ({"input_gate": False, "output_gate": False}, "block_lstm"),
        ({"coupled": True}, "block_lstm"),
        ({"output_activation": None}, "loop"),
        ({"activation": "relu"}, "loop"),
        ({"recurrent_activation": "hard_sigmoid"}, "loop"),
        ({"recurrent_dropout": 0.1}, "loop"),
        ({"unroll": True}, "loop"),
        ({"implementation": "loop"}, "loop"),
        ({"dropout": 0.3, "use_bias": False}, "block_lstm"),
    ],
)
def test_auto_on_a_cpu_fuses_exactly_the_configurations_the_kernel_computes(layer_kwargs, expected):
    assert plan_of(LSTM(32, **layer_kwargs)).kernel == expected


def test_auto_on_a_cpu_follows_the_measured_unit_limit():
    for units in (8, 32, 48, 64):
        assert plan_of(LSTM(units)).kernel == "block_lstm"
    for units in (66, 128, 256):
        assert plan_of(LSTM(units)).kernel == "loop"
        assert plan_of(LSTM(units, implementation="fused")).kernel == "block_lstm"
    assert plan_of(LSTM(33)).kernel == "loop"  # odd units: TensorFlow warns of inefficiency with an odd batch
    assert plan_of(LSTM(33, implementation="fused")).kernel == "block_lstm"


@pytest.mark.parametrize("units", [16, 32, 64])
@pytest.mark.parametrize("name", ["lstm", "lstm1997", "peephole_lstm", "cifg_lstm", "gru"])
def test_every_gated_cell_the_forecaster_may_use_takes_a_fast_path_on_a_cpu(name, units):
    expected = "lean_gru" if name == "gru" else "block_lstm"
    assert plan_of(layers.get(name, units)).kernel == expected


def test_a_batch_splits_into_the_fewest_parts_of_at_most_64_sequences_from_16_sequences_on():
    expected = {1: 1, 15: 1, 16: 2, 64: 2, 128: 2, 129: 4, 256: 4, 257: 8, 512: 8, 4096: 8}
    assert {batch: tensorflow_kernels.block_lstm_part_count(batch) for batch in expected} == expected
    # The same choice for a batch known only at run time (the branch index of tf.switch_case).
    parts = [tensorflow_kernels.BLOCK_LSTM_PARTS[int(tensorflow_kernels._part_index(tf.constant(b)))] for b in expected]
    assert parts == list(expected.values())


def test_auto_on_a_cpu_keeps_other_dtypes_and_xla_on_the_loop():
    layer = LSTM(32)
    assert plan_of(layer, dtype="float16").kernel == "loop"
    assert plan_of(layer, dtype="float64").kernel == "loop"
    assert plan_of(layer, xla=True).kernel == "loop"
    fused = LSTM(32, implementation="fused")
    assert plan_of(fused, dtype="float16").kernel == "block_lstm"
    with pytest.raises(ValueError, match="float32 or float16, not float64"):
        plan_of(fused, dtype="float64")
    with pytest.raises(ValueError, match="XLA"):
        plan_of(fused, xla=True)


def test_on_a_gpu_standard_lstm_and_gru_use_cudnn_under_keras_conditions():
    assert plan_of(LSTM(32), gpu=True).kernel == "cudnn"
    assert plan_of(LSTM(32, dropout=0.2), gpu=True).kernel == "cudnn"
    assert plan_of(GRU(32), gpu=True).kernel == "cudnn"
    assert plan_of(GRU(32, implementation="fused"), gpu=True).kernel == "cudnn"
    for layer in (
        LSTM(32, peepholes=True),
        LSTM(32, forget_gate=False),
        LSTM(32, use_bias=False),
        LSTM(32, recurrent_dropout=0.1),
        GRU(32, reset_after=False),
        GRU(32, activation="relu"),
        GRU(32, use_bias=False),
        GRU(32, recurrent_dropout=0.1),
        GRU(32, unroll=True),
    ):
        assert plan_of(layer, gpu=True).kernel == "loop", layer.get_config()
    # Forced, a configuration cuDNN cannot compute runs BlockLSTMV2 (which has GPU kernels too).
    assert plan_of(LSTM(32, peepholes=True, implementation="fused"), gpu=True).kernel == "block_lstm"


@pytest.mark.parametrize(
    ("layer_kwargs", "expected"),
    [
        ({}, "lean_gru"),
        ({"reset_after": False}, "lean_gru"),
        ({"use_bias": False}, "lean_gru"),
        ({"dropout": 0.3, "chrono_timescale": 20}, "lean_gru"),
        ({"units": 256}, "lean_gru"),
        ({"units": 33}, "lean_gru"),
        ({"activation": "relu"}, "loop"),
        ({"recurrent_activation": "hard_sigmoid"}, "loop"),
        ({"recurrent_dropout": 0.1}, "loop"),
        ({"unroll": True}, "loop"),
        ({"implementation": "loop"}, "loop"),
    ],
)
def test_auto_on_a_cpu_runs_every_gru_the_lean_loop_computes_through_it(layer_kwargs, expected):
    layer_kwargs = {"units": 32, **layer_kwargs}
    assert plan_of(GRU(**layer_kwargs)).kernel == expected


def test_auto_keeps_a_gru_on_the_loop_in_other_dtypes_xla_and_on_a_gpu_without_cudnn():
    layer = GRU(32)
    assert plan_of(layer, dtype="float16").kernel == "loop"
    assert plan_of(layer, dtype="float64").kernel == "loop"
    assert plan_of(layer, xla=True).kernel == "loop"
    assert plan_of(GRU(32, reset_after=False), gpu=True).kernel == "loop"
    fused = GRU(32, implementation="fused")
    for dtype in ("float16", "float64"):
        assert plan_of(fused, dtype=dtype).kernel == "lean_gru"
    assert plan_of(GRU(32, reset_after=False, implementation="fused"), gpu=True).kernel == "lean_gru"
    with pytest.raises(ValueError, match="XLA"):
        plan_of(fused, xla=True)


@pytest.mark.parametrize(
    ("layer_class", "layer_kwargs", "message"),
    [
        (LSTM, {"activation": "relu"}, "tanh only"),
        (LSTM, {"recurrent_activation": "hard_sigmoid"}, "sigmoid only"),
        (LSTM, {"output_activation": None}, "output_activation"),
        (LSTM, {"recurrent_dropout": 0.2}, "recurrent_dropout"),
        (LSTM, {"unroll": True}, "unroll=True"),
        (GRU, {"activation": "relu"}, "tanh only"),
        (GRU, {"recurrent_activation": "hard_sigmoid"}, "sigmoid only"),
        (GRU, {"recurrent_dropout": 0.2}, "recurrent_dropout"),
        (GRU, {"unroll": True}, "unroll=True"),
    ],
)
def test_fused_raises_at_construction_where_no_kernel_applies(layer_class, layer_kwargs, message):
    with pytest.raises(ValueError, match=f"implementation='fused' cannot apply to this {layer_class.__name__}"):
        layer_class(UNITS, implementation="fused", **layer_kwargs)
    with pytest.raises(ValueError, match=message):
        layer_class(UNITS, implementation="fused", **layer_kwargs)
    layer_class(UNITS, **layer_kwargs)  # "auto" falls back to the loop


def test_implementation_must_be_one_of_three():
    with pytest.raises(ValueError, match='implementation must be "auto", "fused" or "loop"; got \'cudnn\''):
        LSTM(UNITS, implementation="cudnn")
    assert LSTM(UNITS).get_config()["implementation"] == "auto"
    assert LSTM.from_config(LSTM(UNITS, implementation="loop").get_config()).implementation == "loop"
