"""TensorFlow's fast paths behind `layers.LSTM` and `layers.GRU`: the one TensorFlow-specific module.

Every cell of `layers` is written with `keras.ops` and runs on any Keras backend through the generic time loop
(`keras.layers.RNN`: one step of the cell per time step). On the TensorFlow backend `LSTM` and `GRU` can instead
run the whole sequence through a fused kernel, or (the GRU on a CPU) a leaner loop, that computes the same
equations with the same weights:

- **BlockLSTMV2** (`tf.raw_ops.BlockLSTMV2`, CPU): the LSTM over a time-major sequence `(time, batch, features)`
  with the weight `w = [kernel; recurrent_kernel]` of shape `(input_dim + units, 4 units)`, gate blocks in
  Keras's order `[i, f, c, o]`, optional peepholes (`i_t`, `f_t` see `c_{t-1}`, `o_t` sees `c_t`, as Gers &
  Schmidhuber 2000) and no cell clipping (`cell_clip=0`). A gate the cell does not have (`forget_gate=False`,
  the 1997 LSTM; `input_gate=False`; `output_gate=False`) is encoded exactly: its weights are zero and its bias
  is `_PINNED_GATE_BIAS`, where the kernel's sigmoid is exactly 1.0 in float32 and float16, so the gate is
  exactly 1 and its gradient exactly 0 (`test_tensorflow_kernels.py` checks both). A coupled forget gate
  (`coupled=True`, CIFG: `f_t = 1 - i_t`) is the input gate with its weights, bias and peephole negated, since
  `sigmoid(-z) = 1 - sigmoid(z)`; the two agree to float rounding, and the gradient reaches the input gate's
  weights through both blocks. Every LSTM of `layers.available()` (`lstm`, `lstm1997`, `peephole_lstm`,
  `cifg_lstm`) therefore runs on it, at the same sizes.
  **The gradient TensorFlow registers for BlockLSTMV2 is wrong**: it calls the V1 gradient op, which assumes the
  gate order `[i, c, f, o]`, so the gradients of `f_t` and `a_t` come out swapped. `block_lstm` therefore
  attaches its own gradient, `tf.raw_ops.BlockLSTMGradV2`, with `tf.custom_gradient`; a test fails if
  TensorFlow ever fixes the registered one (then the custom gradient can go).
- **The lean GRU loop** (`lean_gru`, CPU): TensorFlow has no fused kernel for Keras's GRU (`reset_after=True`)
  on a CPU, so the GRU runs a `tf.while_loop` of its own, in both `reset_after` modes: the inputs' products of
  all steps in one matrix product before the loop, each step only the recurrent product and the gate
  arithmetic, one sequence per column so that the gate blocks split without copies, and a hand-written
  gradient (a reverse loop that accumulates the recurrent kernel's gradient step by step) in place of
  TensorFlow's gradient of the loop. TensorFlow's one fused GRU step, `tf.raw_ops.GRUBlockCell`, computes only
  the paper's `reset_after=False` GRU (gates `[r, u]`, `u_t` our `z_t`); in a loop with its gradient op
  `GRUBlockCellGrad` it measured 0.95-1.2x the lean loop's speed at batch 16-64 and 32-64 units but 0.55-0.95x
  at batch 256 or from 128 units, so it is not used. Two batch parts in parallel (as BlockLSTMV2 runs) made the
  lean loop slower (0.65-0.9x): its steps are many small ops, whose cost is per op, not per sequence.
- **cuDNN** (GPU): the standard LSTM and the `reset_after=True` GRU through Keras's own cuDNN functions, under
  the conditions `keras.layers.LSTM`/`GRU` use them (tanh and sigmoid, a bias, no recurrent dropout, no
  unrolling, a visible GPU).

Masks: the fast paths take one length per sequence, so a right-padded mask (`True` then only `False`) is
computed exactly: the kernel runs to the batch's longest sequence (the lean GRU loop: to the last step) and each
sequence's state is taken at its own length; the outputs at masked steps are then filled exactly as the generic
loop fills them (the previous output, or zeros with `zero_output_for_mask=True` or before the first step of a
reversed sequence). Any other mask is only known when the batch arrives, so the layer traces both paths and
`tf.cond` picks the generic loop for it.

How `implementation="auto"` chooses (`plan`), from forward and backward of the layer alone measured against the
generic loop on 2-core x86 CPUs (the lean GRU loop on a 2-core Xeon shared with other jobs, CPU-time ratios,
50 steps, 8 features):

- cuDNN where Keras would use it (a GPU).
- The LSTM on a CPU: BlockLSTMV2 for float32 up to `BLOCK_LSTM_MAX_UNITS` units, with the batch split into parts
  that run in parallel (`block_lstm_in_parts`; the constants' comment has its measurements).
- The GRU on a CPU: the lean loop for float32 at every size: for `reset_after=True` 1.4-2.0x the generic loop's
  speed at batch 16-64 and 32-64 units, 1.2-1.4x at 128 units or batch 256 with up to 64 units, 1.0-1.2x at
  256 units or batch 256 with 128-256 units (where the products dominate both); for `reset_after=False`
  1.1-3.4x (its generic loop is slower).
- The generic loop otherwise, and always inside an XLA-compiled function (GRUBlockCell and BlockLSTMV2 have no
  XLA kernel, and XLA compiles the generic loop itself).

`implementation="fused"` insists on a fast path (any float dtype for the lean GRU loop) and raises `ValueError`
saying why where none applies.

This module imports TensorFlow and two private names (listed in `tests/layers/test_private_api.py`); the layers
import it only when the Keras backend is TensorFlow.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import keras
import tensorflow as tf

# Private names, kept in this one module on purpose:
# - Keras's cuDNN LSTM and GRU for the TensorFlow backend (`keras.layers.LSTM`/`GRU` call these same
#   functions): reusing them keeps the weight conversion and the conditions identical to Keras's.
# - TensorFlow's test for "inside an XLA-compiled function", where BlockLSTMV2 has no kernel.
from keras.src.backend.tensorflow import rnn as keras_tensorflow_rnn
from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext

__all__ = [
    "BLOCK_LSTM_MAX_UNITS",
    "BLOCK_LSTM_PARTS",
    "Plan",
    "block_lstm",
    "block_lstm_in_parts",
    "block_lstm_part_count",
    "fused_limitation",
    "inner_loop",
    "lean_gru",
    "plan",
]

# sigmoid(x) of the BlockLSTM kernel is exactly 1.0 from x = 17 on (float32 and float16); 100 leaves a margin
# and stays far inside float16's range.
_PINNED_GATE_BIAS = 100.0

# Where BlockLSTMV2 runs faster than the generic loop, and how a batch is split for it. Measured with forward and
# backward of the layer alone (`python -m benchmarks.layers_speed --kernel-grid`; sections 1-2 check the choice
# in `fit` and `predict`) on two 2-core x86 CPUs. In one call over the whole batch the kernel was 1.2-2.8x the
# loop's speed up to 32 units at batch 8-256 and up to 64 units at batch 8-64, but 0.7-0.95x at 64 units from
# batch 256 and at 128 and 256 units: the loop's matrix products use both cores, one kernel call mostly one.
# Split into parts that TensorFlow's executor runs in parallel, it was 1.4-2.0x at 64 units and batch 64-1024
# (64 x 100 x 64: 1.63x in 2 parts, 1.14x in one call; 256 x 100 x 64: 1.97x in 4 parts, 0.95x in one call) and
# 1.0-1.3x at 128 and 256 units, so `auto` stops at `BLOCK_LSTM_MAX_UNITS`. Parts of more than `BLOCK_LSTM_PART`
# sequences lose speed (512 x 50 x 64: 1.35x in 2 parts, 1.67x in 8) and a batch of a few sequences gains
# nothing from splitting. In float16 the kernel ran at 0.3-0.5x the loop's speed, so `auto` keeps float16 on the
# loop.
BLOCK_LSTM_MAX_UNITS = 64
BLOCK_LSTM_PART = 64
BLOCK_LSTM_PARTS = (1, 2, 4, 8)
BLOCK_LSTM_MIN_SPLIT = 16

_BLOCK_LSTM_DTYPES = ("float32", "float16")


class Plan(NamedTuple):
    """How one call computes the sequence.

    kernel: `"block_lstm"`, `"cudnn"`, `"lean_gru"` or `"loop"` (the generic `keras.ops` time loop).
    reason: why, in words (for errors, tests and curious users).
    """

    kernel: str
    reason: str


# ----------------------------------------------------------------------------------------------- the kernels


def no_second_order(*_):
    """The gradient of BlockLSTMV2's gradient, which TensorFlow does not have: a clear error instead of its
    `LookupError` (gradient penalties, Hessian-vector products and forward-mode derivatives need the loop)."""
    raise NotImplementedError(
        "the LSTM's fused CPU kernel (BlockLSTMV2) has first-order gradients only; for gradients of gradients "
        "(gradient penalties, Hessian-vector products, forward-mode derivatives) build the layer with "
        "implementation='loop'"
    )


def block_lstm(x, h0, c0, w, b, wci, wcf, wco, *, seq_len_max, use_peephole: bool):
    """BlockLSTMV2 over a time-major sequence, with the correct gradient.

    Args:
        x: inputs `(time, batch, input_dim)`.
        h0, c0: initial states `(batch, units)`.
        w: `(input_dim + units, 4 units)`, blocks `[i, f, c, o]`.
        b: `(4 units,)`.
        wci, wcf, wco: peephole vectors `(units,)` (zeros without peepholes).
        seq_len_max: int64 scalar; steps from this one on are not computed (their `h` and `c` are zeros).
        use_peephole: whether the peephole vectors are used.

    Returns:
        `(h, c)`, both `(time, batch, units)`: `h_t` and `c_t` of every step.
    """

    @tf.custom_gradient
    def forward(x, h0, c0, w, b, wci, wcf, wco):
        i, cs, f, o, ci, co, h = tf.raw_ops.BlockLSTMV2(
            seq_len_max=seq_len_max,
            x=x,
            cs_prev=c0,
            h_prev=h0,
            w=w,
            wci=wci,
            wcf=wcf,
            wco=wco,
            b=b,
            cell_clip=0.0,
            use_peephole=use_peephole,
        )

        def backward(h_grad, cs_grad):
            # An output nobody used arrives as None (eager) or zeros (graph).
            h_grad = tf.zeros_like(h) if h_grad is None else h_grad
            cs_grad = tf.zeros_like(cs) if cs_grad is None else cs_grad
            return first_order_gradient(h_grad, cs_grad)

        @tf.custom_gradient
        def first_order_gradient(h_grad, cs_grad):
            x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad, wcf_grad, wco_grad, b_grad = (
                tf.raw_ops.BlockLSTMGradV2(
                    seq_len_max=seq_len_max,
                    x=x,
                    cs_prev=c0,
                    h_prev=h0,
                    w=w,
                    wci=wci,
                    wcf=wcf,
                    wco=wco,
                    b=b,
                    i=i,
                    cs=cs,
                    f=f,
                    o=o,
                    ci=ci,
                    co=co,
                    h=h,
                    cs_grad=cs_grad,
                    h_grad=h_grad,
                    use_peephole=use_peephole,
                )
            )
            return (x_grad, h_prev_grad, cs_prev_grad, w_grad, b_grad, wci_grad, wcf_grad, wco_grad), no_second_order

        return (h, cs), backward

    return forward(x, h0, c0, w, b, wci, wcf, wco)


def _part_index(batch):
    """The index into `BLOCK_LSTM_PARTS` of the number of parts for `batch`: an int, or a scalar int tensor for
    a batch known only when it arrives (then a tensor, for `tf.switch_case`)."""
    thresholds = (BLOCK_LSTM_MIN_SPLIT - 1, *(BLOCK_LSTM_PART * parts for parts in BLOCK_LSTM_PARTS[1:-1]))
    if isinstance(batch, int):
        return sum(batch > threshold for threshold in thresholds)
    return tf.reduce_sum(tf.cast(batch > tf.constant(thresholds, batch.dtype), tf.int32))


def block_lstm_part_count(batch: int) -> int:
    """How many parts `block_lstm_in_parts` splits a batch into: 1 below `BLOCK_LSTM_MIN_SPLIT` sequences, else
    the fewest of `BLOCK_LSTM_PARTS` with at most `BLOCK_LSTM_PART` sequences each (the most beyond that)."""
    return BLOCK_LSTM_PARTS[_part_index(batch)]


def block_lstm_in_parts(
    x, h0, c0, *parameters, seq_len_max, use_peephole: bool, lengths=None, sequences: bool = True, switch: bool = True
):
    """`block_lstm` over a batch split into parts of consecutive sequences: the same numbers, as the sequences of
    a batch are independent, but faster: TensorFlow's executor runs the parts' kernels in parallel, and each
    kernel call is the size where BlockLSTMV2 is fast (`block_lstm_part_count`). A batch whose size is known only
    when it arrives (tf.data's, in Keras's `fit`) picks its number of parts with `tf.switch_case`, all of them
    traced; with `switch=False` it runs in one part instead (inside a `tf.cond`, whose gradient TensorFlow cannot
    take through a nested `tf.switch_case`: an `AssertionError` in `tape.gradient`).

    Each part keeps only what the caller asks for before the parts are joined: `h_t` of every step with
    `sequences=True`, and each sequence's `h` and `c` after its last step (step `length - 1` with `lengths`, the
    initial state where the length is 0; without `lengths` the last step, so `seq_len_max` must then cover every
    step). Joining whole `(time, batch, units)` sequences only to slice them afterwards cost about 8% of the
    layer's forward and backward at batch 64, 30 steps, 32 units, with a batch known only at run time.

    Returns:
        `(h, last_h, last_c)`: `h` of every step `(time, batch, units)`, None with `sequences=False`; `last_h`
        and `last_c` `(batch, units)`.
    """
    run = functools.partial(block_lstm, seq_len_max=seq_len_max, use_peephole=use_peephole)

    def part(x, h0, c0, lengths):
        # Without these identities TensorFlow cannot differentiate a one-part `tf.switch_case` branch that uses
        # its captured h0 both in the kernel and in `_state_at_lengths` ("You must feed a value for placeholder").
        h0, c0 = tf.identity(h0), tf.identity(c0)
        h, c = run(x, h0, c0, *parameters)
        if lengths is None:
            last = (h[-1], c[-1])
        else:
            last = (_state_at_lengths(h, lengths, h0), _state_at_lengths(c, lengths, c0))
        return (h, *last) if sequences else last

    def in_parts(parts):
        if parts == 1:
            return part(x, h0, c0, lengths)
        batch = x.shape[1]
        if batch is None:
            batch = tf.shape(x)[1]
            sizes = batch // parts + tf.cast(tf.range(parts) < batch % parts, batch.dtype)
        else:
            sizes = [batch // parts + (k < batch % parts) for k in range(parts)]
        split = functools.partial(tf.split, num_or_size_splits=sizes, num=parts)
        no_lengths = [None] * parts
        pieces = [
            part(*arguments)
            for arguments in zip(
                split(x, axis=1), split(h0), split(c0), no_lengths if lengths is None else split(lengths)
            )
        ]
        # h is time-major, so its sequences are joined on axis 1; the last states on axis 0.
        axes = (1, 0, 0) if sequences else (0, 0)
        return tuple(tf.concat([piece[k] for piece in pieces], axis=axis) for k, axis in enumerate(axes))

    if x.shape[1] is None and switch:
        branches = [functools.partial(in_parts, parts) for parts in BLOCK_LSTM_PARTS]
        joined = tuple(tf.switch_case(_part_index(tf.shape(x)[1]), branches))
    elif x.shape[1] is None:
        joined = in_parts(1)
    else:
        joined = in_parts(block_lstm_part_count(x.shape[1]))
    return joined if sequences else (None, *joined)


def _block_lstm_parameters(cell, dtype):
    """`w, b, wci, wcf, wco` of BlockLSTMV2 for an `LSTMCell`: missing gates pinned open, a coupled forget gate
    as the input gate's negated weights (`sigmoid(-z) = 1 - sigmoid(z)`, so `f_t = 1 - i_t`)."""
    units = cell.units
    blocks = cell.blocks
    w = tf.concat([tf.cast(cell.kernel, dtype), tf.cast(cell.recurrent_kernel, dtype)], axis=0)
    bias = tf.cast(cell.bias, dtype) if cell.use_bias else tf.zeros((len(blocks) * units,), dtype)
    zeros = tf.zeros((units,), dtype)
    wci, wcf, wco = (
        zeros if vector is None else tf.cast(vector, dtype)
        for vector in (cell.input_peephole, cell.forget_peephole, cell.output_peephole)
    )
    if blocks != ("i", "f", "c", "o"):
        w_blocks = dict(zip(blocks, tf.split(w, len(blocks), axis=1)))
        b_blocks = dict(zip(blocks, tf.split(bias, len(blocks))))
        if cell.coupled:
            w_blocks["f"], b_blocks["f"], wcf = -w_blocks["i"], -b_blocks["i"], -wci
        closed = tf.zeros((w.shape[0], units), dtype)
        pinned = tf.fill((units,), tf.constant(_PINNED_GATE_BIAS, dtype))
        w = tf.concat([w_blocks.get(gate, closed) for gate in "ifco"], axis=1)
        bias = tf.concat([b_blocks.get(gate, pinned) for gate in "ifco"], axis=0)
    return w, bias, wci, wcf, wco


def _state_at_lengths(sequence, lengths, initial):
    """Each sequence's entry at step `length - 1` of a time-major `sequence`; `initial` where the length is 0."""
    batch_index = tf.range(tf.shape(sequence)[1], dtype=lengths.dtype)
    last = tf.gather_nd(sequence, tf.stack([tf.maximum(lengths - 1, 0), batch_index], axis=1))
    return tf.where(lengths[:, None] > 0, last, initial)


def _time_major_inputs(layer, sequences, lengths):
    """`(batch, time, features)` -> `(time, batch, features)`, each sequence's own steps reversed for
    `go_backwards` (they then come first, as the loop processes them); `lengths` of a right-padded mask, or None."""
    x = tf.transpose(sequences, (1, 0, 2))
    if not layer.go_backwards:
        return x
    if lengths is None:
        return tf.reverse(x, [0])
    return tf.reverse_sequence(x, lengths, seq_axis=0, batch_axis=1)


def _layer_outputs(layer, h, last_h, states, time, lengths):
    """`(last_output, outputs, states)` of `inner_loop` from the time-major `h` of every step (None without
    `return_sequences` and `lengths`) and the last `h`, masked steps filled as the generic loop fills them."""
    if lengths is None:
        outputs, last_output = h, last_h
    else:
        outputs, last_output = _fill_masked_outputs(layer, h, time, lengths, last_h)
    if layer.return_sequences:
        outputs = tf.transpose(outputs, (1, 0, 2))
    else:
        outputs = last_output[:, None]
    return last_output, outputs, states


def _block_lstm_inner_loop(layer, sequences, initial_state, lengths, training, switch: bool = True):
    """`inner_loop` of an LSTM through BlockLSTMV2; `lengths` are those of a right-padded mask, or None; `switch`:
    `block_lstm_in_parts`'s (False inside `inner_loop`'s `tf.cond`)."""
    cell = layer.cell
    h0, c0 = initial_state
    x = _time_major_inputs(layer, cell.dropped_inputs(sequences, training), lengths)
    steps = tf.shape(x)[0] if lengths is None else tf.reduce_max(lengths)
    h, last_h, last_c = block_lstm_in_parts(
        x,
        h0,
        c0,
        *_block_lstm_parameters(cell, sequences.dtype),
        seq_len_max=tf.cast(steps, tf.int64),
        use_peephole=cell.peepholes,
        lengths=lengths,
        sequences=layer.return_sequences,
        switch=switch,
    )
    return _layer_outputs(layer, h, last_h, [last_h, last_c], tf.shape(x)[0], lengths)


def _fill_masked_outputs(layer, outputs, time, lengths, last_h):
    """The generic loop's outputs at masked steps, for time-major `outputs` (`time` steps, None without
    `return_sequences`) whose first `length` steps are valid.

    The loop outputs the previous output at a masked step (zeros before the first valid one) or zeros with
    `zero_output_for_mask=True`. Going forwards the masked steps follow the valid ones; going backwards the
    reversed mask puts them first, so the valid outputs move to the end. Returns `(outputs, last_output)`;
    `outputs` is None without `return_sequences`.
    """
    started = lengths > 0
    last_valid = tf.where(started[:, None], last_h, tf.zeros_like(last_h))
    if layer.go_backwards:
        last_output = last_valid
    elif layer.zero_output_for_mask:
        last_output = tf.where((lengths == time)[:, None], last_h, tf.zeros_like(last_h))
    else:
        last_output = last_valid
    if not layer.return_sequences:
        return None, last_output
    valid = tf.transpose(tf.sequence_mask(lengths, time), (1, 0))[:, :, None]
    if layer.go_backwards:
        front = tf.where(valid, outputs, tf.zeros_like(outputs))
        filled = tf.reverse(tf.reverse_sequence(front, lengths, seq_axis=0, batch_axis=1), [0])
    else:
        fill = tf.zeros_like(last_h) if layer.zero_output_for_mask else last_valid
        filled = tf.where(valid, outputs, fill[None])
    return filled, last_output


def _cudnn_inner_loop(layer, sequences, initial_state, mask, training):
    """`inner_loop` of an LSTM or GRU through Keras's cuDNN function; the mask (if any) is right-padded."""
    cell = layer.cell
    dtype = sequences.dtype
    arguments = dict(
        kernel=tf.cast(cell.kernel, dtype),
        recurrent_kernel=tf.cast(cell.recurrent_kernel, dtype),
        bias=tf.cast(cell.bias, dtype),
        activation=cell.activation,
        recurrent_activation=cell.recurrent_activation,
        return_sequences=layer.return_sequences or mask is not None,
        go_backwards=layer.go_backwards,
        unroll=False,
    )
    inputs = cell.dropped_inputs(sequences, training)
    if layer.kernel_name == "lstm":
        last_output, outputs, states = keras_tensorflow_rnn.lstm(inputs, *initial_state, mask, **arguments)
    else:
        last_output, outputs, states = keras_tensorflow_rnn.gru(
            inputs, initial_state[0], mask, reset_after=cell.reset_after, **arguments
        )
    states = list(states)
    if mask is None:
        return last_output, outputs, states
    # cuDNN outputs zeros past each length; the generic loop repeats the last output there (going forwards
    # without zero_output_for_mask), and Keras's function has already moved reversed outputs to the end.
    valid = tf.cast(mask, tf.bool)
    if layer.go_backwards:
        valid = tf.reverse(valid, [1])
    if not (layer.go_backwards or layer.zero_output_for_mask):
        outputs = tf.where(valid[:, :, None], outputs, states[0][:, None])
    last_output = outputs[:, -1]
    if not layer.return_sequences:
        outputs = last_output[:, None]
    return last_output, outputs, states


# -------------------------------------------------------------------------------------------- the GRU paths


def _tensor_array(dtype, size):
    # clear_after_read=False: an eager TensorArray forgets an element once it is read, and the backward loop reads
    # what the forward loop wrote (in a graph, TensorFlow ignores the flag).
    return tf.TensorArray(dtype, size=size, clear_after_read=False)


def lean_gru(projected, h0, recurrent_kernel, candidate_bias, *, reset_after: bool, sequences: bool):
    """The GRU over a time-major sequence in a lean `tf.while_loop`, with a hand-written gradient.

    TensorFlow has no fused kernel for the `reset_after=True` GRU on a CPU. This loop takes the inputs' part of
    every step, `p_t = W x_t + b`, computed before it in one matrix product, so that a step does only the
    recurrent product and the gate arithmetic (blocks `[z, r, h]` as `GRUCell`; `U` is `recurrent_kernel`,
    `Uᵀ = [U_z U_r U_h]ᵀ` in the column form used here):

    ```
    reset_after=True:   a_t = Uᵀ h_{t-1}
                        [z_t, r_t] = σ(p_zr + a_zr),   h~_t = tanh(p_h + r_t ⊙ (a_h + b'_h))
    reset_after=False:  [z_t, r_t] = σ(p_zr + U_zrᵀ h_{t-1}),   q_t = r_t ⊙ h_{t-1},   h~_t = tanh(p_h + U_hᵀ q_t)
    h_t = h~_t + z_t ⊙ (h_{t-1} - h~_t)          (= z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h~_t)
    ```

    Its gradient is a second loop over the steps in reverse, with `g = ∂L/∂h_t` (the step's own output gradient
    plus what step `t + 1` passed back), from what the forward loop kept (`[z, r]`, `h~`, `a_h + b'_h` or `q`,
    `h_{t-1}`):

    ```
    ∂h~ = g ⊙ (1 - z) ⊙ (1 - h~²)   ∂z = g ⊙ (h_{t-1} - h~) ⊙ z ⊙ (1 - z)
    reset_after=True:   ∂r = ∂h~ ⊙ (a_h + b'_h) ⊙ r ⊙ (1 - r),   ∂a = [∂z, ∂r, ∂h~ ⊙ r],   g_{t-1} = g ⊙ z + U ∂a
    reset_after=False:  ∂q = U_h ∂h~,   ∂r = ∂q ⊙ h_{t-1} ⊙ r ⊙ (1 - r),   g_{t-1} = g ⊙ z + ∂q ⊙ r + U_zr [∂z, ∂r]
    ∂p_t = [∂z, ∂r, ∂h~]
    ```

    and the same loop adds up the weights' gradients: `∂U = Σ_t h_{t-1} ∂a_tᵀ` and `∂b'_h = Σ_t ∂h~_t ⊙ r_t`
    (reset_after=True), `∂U = [Σ_t h_{t-1} [∂z, ∂r]_tᵀ, Σ_t q_t ∂h~_tᵀ]` (reset_after=False); `∂p` of all steps
    goes back to the product before the loop. TensorFlow's own gradient of the loop keeps more of every step and
    runs the gradient of each of its ops apart.

    Every tensor holds one sequence per column (`(units, batch)`; the transpose of the layer's layout): the
    gate blocks are then consecutive rows, which TensorFlow splits without copying, and each step copies about
    40% fewer numbers than with one sequence per row (the forward loop measured 20-25% faster). On a 2-core CPU a
    step's small ops cost more than their arithmetic, and operations over whole `(time, ., batch)` sequences
    are slow too (memory-bound), so what can be done inside the steps is (∂U: in one product over all steps it
    needed the steps' `h` and `∂a` stacked and transposed, which measured slower).

    Args:
        projected: `p`, `(time, 3 units, batch)`, the input bias included (and with `reset_after=True` the
            recurrent biases `b'_z`, `b'_r`, which add to it).
        h0: initial state `(units, batch)`.
        recurrent_kernel: `U`, `(units, 3 units)`, Keras's layout.
        candidate_bias: `b'_h`, `(units,)` with `reset_after=True` and a bias, else None.
        reset_after: which candidate, as `GRUCell`.
        sequences: whether to return `h_t` of every step.

    Returns:
        `(h, last_h)`: `h_t` of every step `(time, units, batch)` (None with `sequences=False`) and the last
        `h_t` `(units, batch)`.
    """
    units = recurrent_kernel.shape[0]
    dtype = projected.dtype
    blocks = functools.partial(tf.split, num_or_size_splits=[2 * units, units], axis=0)
    halves = functools.partial(tf.split, num_or_size_splits=2, axis=0)

    def forward_loop(projected, h0, kernel, bias):
        steps = tf.shape(projected)[0]
        kernel_t = tf.transpose(kernel)
        if not reset_after:
            kernel_zr_t, kernel_h_t = blocks(kernel_t)

        def step(t, h, outputs, gates, candidates, kept, previous):
            p_zr, p_h = blocks(projected[t])
            if reset_after:
                a_zr, a_h = blocks(tf.matmul(kernel_t, h))
                zr = tf.sigmoid(p_zr + a_zr)
                z, r = halves(zr)
                keep = a_h if bias is None else a_h + bias
                candidate = tf.tanh(p_h + r * keep)
            else:
                zr = tf.sigmoid(p_zr + tf.matmul(kernel_zr_t, h))
                z, r = halves(zr)
                keep = r * h
                candidate = tf.tanh(p_h + tf.matmul(kernel_h_t, keep))
            h_t = candidate + z * (h - candidate)
            if sequences:
                outputs = outputs.write(t, h_t)
            return (
                t + 1,
                h_t,
                outputs,
                gates.write(t, zr),
                candidates.write(t, candidate),
                kept.write(t, keep),
                previous.write(t, h),
            )

        arrays = [_tensor_array(dtype, steps) for _ in range(5)]
        _, last_h, *arrays = tf.while_loop(lambda t, *_: t < steps, step, (0, h0, *arrays))
        return last_h, arrays

    def backward_loop(d_outputs, d_last, kernel, has_bias, gates, candidates, kept, previous):
        steps = gates.size()
        if not reset_after:
            kernel_zr, kernel_h = tf.split(kernel, [2 * units, units], axis=1)

        def step(t, g, d_kernel, d_bias, d_projected):
            if d_outputs is not None:
                g = g + d_outputs[t]
            zr, candidate, keep, h = gates.read(t), candidates.read(t), kept.read(t), previous.read(t)
            z, r = halves(zr)
            g_z = g * z
            d_candidate = tf.raw_ops.TanhGrad(y=candidate, dy=g - g_z)
            if reset_after:
                d_zr = tf.raw_ops.SigmoidGrad(y=zr, dy=tf.concat([g * (h - candidate), d_candidate * keep], 0))
                d_recurrent_candidate = d_candidate * r
                d_a = tf.concat([d_zr, d_recurrent_candidate], 0)
                g_previous = g_z + tf.matmul(kernel, d_a)
                d_kernel += tf.matmul(h, d_a, transpose_b=True)
                if has_bias:
                    d_bias += tf.reduce_sum(d_recurrent_candidate, 1)
            else:
                d_keep = tf.matmul(kernel_h, d_candidate)
                d_zr = tf.raw_ops.SigmoidGrad(y=zr, dy=tf.concat([g * (h - candidate), d_keep * h], 0))
                g_previous = g_z + d_keep * r + tf.matmul(kernel_zr, d_zr)
                d_kernel += tf.concat(
                    [tf.matmul(h, d_zr, transpose_b=True), tf.matmul(keep, d_candidate, transpose_b=True)], 1
                )
            return t - 1, g_previous, d_kernel, d_bias, d_projected.write(t, tf.concat([d_zr, d_candidate], 0))

        _, d_h0, d_kernel, d_bias, d_projected = tf.while_loop(
            lambda t, *_: t >= 0,
            step,
            (steps - 1, d_last, tf.zeros_like(kernel), tf.zeros((units,), dtype), _tensor_array(dtype, steps)),
        )
        return d_projected.stack(), d_h0, d_kernel, d_bias

    @tf.custom_gradient
    def run(projected, h0, kernel, *bias):
        last_h, (outputs, *kept) = forward_loop(projected, h0, kernel, bias[0][:, None] if bias else None)

        def gradient(d_outputs, d_last):
            # An output nobody used arrives as None (eager) or zeros (graph).
            d_last = tf.zeros_like(last_h) if d_last is None else d_last
            d_projected, d_h0, d_kernel, d_bias = backward_loop(
                d_outputs if sequences else None, d_last, kernel, bool(bias), *kept
            )
            return (d_projected, d_h0, d_kernel, d_bias) if bias else (d_projected, d_h0, d_kernel)

        return (outputs.stack() if sequences else tf.zeros((0,), dtype), last_h), gradient

    bias = [] if candidate_bias is None else [tf.convert_to_tensor(candidate_bias)]
    h, last_h = run(projected, h0, tf.convert_to_tensor(recurrent_kernel), *bias)
    return (h if sequences else None), last_h


def _lean_gru_inner_loop(layer, sequences, initial_state, lengths, training):
    """`inner_loop` of a GRU through `lean_gru`; `lengths` are those of a right-padded mask, or None."""
    cell = layer.cell
    dtype = sequences.dtype
    units = cell.units
    (h0,) = initial_state
    x = _time_major_inputs(layer, cell.dropped_inputs(sequences, training), lengths)
    time = tf.shape(x)[0]
    x = tf.transpose(x, (0, 2, 1))  # lean_gru's layout: one sequence per column
    kernel = tf.cast(cell.kernel, dtype)
    candidate_bias = None
    if cell.use_bias:
        bias = tf.cast(cell.bias, dtype)
        if cell.reset_after:
            # b'_z and b'_r add to the gates as b_z and b_r do; only b'_h is multiplied by r_t.
            bias, candidate_bias = bias[0] + tf.pad(bias[1, : 2 * units], [[0, units]]), bias[1, 2 * units :]
        # A row of ones carries the bias through the product (and its gradient with the kernel's).
        x = tf.concat([x, tf.ones_like(x[:, :1])], axis=1)
        kernel = tf.concat([kernel, bias[None]], axis=0)
    h, last_h = lean_gru(
        tf.matmul(kernel, x, transpose_a=True),
        tf.transpose(h0),
        tf.cast(cell.recurrent_kernel, dtype),
        candidate_bias,
        reset_after=cell.reset_after,
        sequences=layer.return_sequences or lengths is not None,
    )
    if lengths is None:
        last_h = tf.transpose(last_h)
        outputs = tf.transpose(h, (2, 0, 1)) if layer.return_sequences else last_h[:, None]
        return last_h, outputs, [last_h]
    h = tf.transpose(h, (0, 2, 1))
    last_h = _state_at_lengths(h, lengths, h0)
    return _layer_outputs(layer, h, last_h, [last_h], time, lengths)


_KERNELS = {
    "block_lstm": _block_lstm_inner_loop,
    "cudnn": _cudnn_inner_loop,
    "lean_gru": _lean_gru_inner_loop,
}


# ------------------------------------------------------------------------------------------------ the choice


def _is(activation, *names: str) -> bool:
    return any(activation in (getattr(keras.activations, name), getattr(keras.ops, name)) for name in names)


def block_lstm_limitation(layer) -> str | None:
    """Why BlockLSTMV2 cannot compute this LSTM layer's equations exactly, or None if it can."""
    cell = layer.cell
    if not _is(cell.activation, "tanh"):
        return "BlockLSTMV2 computes the cell input with tanh only (activation is not tanh)"
    if not _is(cell.recurrent_activation, "sigmoid"):
        return "BlockLSTMV2 computes the gates with sigmoid only (recurrent_activation is not sigmoid)"
    if not _is(cell.output_activation, "tanh"):
        return "BlockLSTMV2 squashes c_t with tanh only (output_activation is not tanh)"
    return _loop_only_options(layer)


def cudnn_limitation(layer) -> str | None:
    """Why cuDNN cannot compute this LSTM or GRU layer's equations (Keras's conditions), or None if it can."""
    cell = layer.cell
    if layer.kernel_name == "lstm":
        standard = cell.forget_gate and cell.input_gate and cell.output_gate
        if not standard or cell.peepholes or cell.coupled or not _is(cell.output_activation, "tanh"):
            return "cuDNN computes only the standard LSTM (all three gates, no peepholes, tanh output)"
    elif not cell.reset_after:
        return "cuDNN computes only the reset_after=True GRU"
    if not (_is(cell.activation, "tanh") and _is(cell.recurrent_activation, "sigmoid")):
        return "cuDNN computes only tanh activations and sigmoid gates"
    if not cell.use_bias:
        return "cuDNN needs use_bias=True"
    return _loop_only_options(layer)


def _loop_only_options(layer) -> str | None:
    if layer.cell.recurrent_dropout:
        return "recurrent_dropout > 0 drops h_{t-1} inside each step, which the fast paths cannot do"
    if layer.unroll:
        return "unroll=True asks for the unrolled loop"
    return None


def gru_limitation(layer) -> str | None:
    """Why `lean_gru` cannot compute this GRU layer's equations exactly, or None if it can (cuDNN's conditions are
    narrower)."""
    cell = layer.cell
    if not _is(cell.activation, "tanh"):
        return "the GRU's fast paths compute the candidate with tanh only (activation is not tanh)"
    if not _is(cell.recurrent_activation, "sigmoid"):
        return "the GRU's fast paths compute the gates with sigmoid only (recurrent_activation is not sigmoid)"
    return _loop_only_options(layer)


def fused_limitation(layer) -> str | None:
    """Why no fast path can compute this layer's configuration on any device, or None if one can."""
    if layer.kernel_name == "gru":
        return gru_limitation(layer)
    block, cudnn = block_lstm_limitation(layer), cudnn_limitation(layer)
    return None if block is None or cudnn is None else block


def plan(
    layer,
    *,
    dtype: str,
    gpu: bool,
    xla: bool,
) -> Plan:
    """Which kernel computes one call of `layer` (an `LSTM` or `GRU`), and why.

    Args:
        layer: the layer; its `implementation`, `kernel_name`, cell and loop options decide with the rest.
        dtype: the compute dtype of the call.
        gpu: whether TensorFlow sees a GPU (Keras's condition for cuDNN).
        xla: whether the call is being compiled by XLA.

    Raises:
        ValueError: for `implementation="fused"` where no fast path applies, saying why.
    """
    forced = layer.implementation == "fused"

    def loop(reason: str) -> Plan:
        if forced:
            raise ValueError(
                f"implementation='fused' cannot apply to this {type(layer).__name__}: {reason}; "
                "use implementation='auto' or 'loop'."
            )
        return Plan("loop", reason)

    if layer.implementation == "loop":
        return Plan("loop", "implementation='loop'")
    if xla:
        return loop(
            "the call is compiled by XLA (jit_compile=True), where the fast paths do not run (BlockLSTMV2 has no XLA "
            "kernel; XLA compiles the generic loop itself)"
        )
    configuration = fused_limitation(layer)
    if configuration is not None:
        return loop(configuration)
    cudnn = cudnn_limitation(layer)
    if gpu and cudnn is None:
        return Plan("cudnn", "cuDNN on the GPU, as keras.layers.LSTM and GRU")
    if layer.kernel_name == "gru":
        return _gru_plan(dtype=dtype, gpu=gpu, forced=forced, cudnn=cudnn)
    if dtype not in _BLOCK_LSTM_DTYPES:
        return loop(f"BlockLSTMV2 computes in float32 or float16, not {dtype}")
    if forced:
        return Plan("block_lstm", "implementation='fused'")
    if gpu:
        return Plan("loop", f"{cudnn}; BlockLSTMV2 is not measured on GPUs")
    if dtype != "float32":
        return Plan("loop", "BlockLSTMV2 in float16 is slower than the loop on CPUs")
    units = layer.cell.units
    if units % 2:
        # TensorFlow logs a warning on every call whose batch and units are both odd.
        return Plan("loop", "BlockLSTMV2 is inefficient for odd units and an odd batch")
    if units > BLOCK_LSTM_MAX_UNITS:
        return Plan("loop", f"the loop is faster for more than {BLOCK_LSTM_MAX_UNITS} units ({units})")
    return Plan("block_lstm", f"BlockLSTMV2 is faster up to {BLOCK_LSTM_MAX_UNITS} units")


def _gru_plan(*, dtype: str, gpu: bool, forced: bool, cudnn: str | None) -> Plan:
    """`plan` of a GRU that cuDNN does not compute: `lean_gru` where it measured faster than the generic loop (on
    CPUs, in float32, at every size measured), the loop otherwise."""
    if forced:
        return Plan("lean_gru", "implementation='fused'")
    if gpu:
        return Plan("loop", f"{cudnn}; the lean GRU loop is not measured on GPUs")
    if dtype != "float32":
        return Plan("loop", f"the lean GRU loop is measured in float32 only, not {dtype}")
    return Plan("lean_gru", "the lean GRU loop is faster than the generic loop on CPUs")


# ------------------------------------------------------------------------------------------------- the call


def in_xla_context() -> bool:
    """Whether the code being traced will be compiled by XLA."""
    return not tf.executing_eagerly() and GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def gpu_available() -> bool:
    """Keras's condition for cuDNN: TensorFlow sees a GPU."""
    return bool(tf.config.list_logical_devices("GPU"))


def inner_loop(layer, sequences, initial_state, mask, training, loop) -> tuple[Any, Any, list]:
    """`layer.inner_loop` through the kernel `plan` chooses; `loop(sequences, initial_state, mask, training)`
    is the generic loop. Returns `(last_output, outputs, states)` as `keras.layers.RNN.inner_loop` does."""
    if isinstance(mask, (list, tuple)):
        mask = mask[0]
    chosen = plan(
        layer,
        dtype=keras.backend.standardize_dtype(sequences.dtype),
        gpu=gpu_available(),
        xla=in_xla_context(),
    )

    def generic():
        last_output, outputs, states = loop(sequences, initial_state, mask, training=training)
        return last_output, outputs, list(states)

    if chosen.kernel == "loop":
        return generic()
    if chosen.kernel == "cudnn":
        layer.supports_jit = False  # as keras.layers.LSTM does: cuDNN has no XLA kernel
    kernel = _KERNELS[chosen.kernel]
    initial_state = list(initial_state)
    lengths = right_padded = None  # a mask the kernel cannot compute sends the call to the loop
    if mask is not None:
        mask = tf.cast(mask, tf.bool)
        if not mask.shape[:2].is_compatible_with(sequences.shape[:2]):  # the kernel would drop steps or abort
            raise ValueError(
                f"the mask's shape {tuple(mask.shape)} does not match the inputs' batch and time steps "
                f"{tuple(sequences.shape[:2])}"
            )
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        right_padded = tf.reduce_all(tf.equal(mask, tf.sequence_mask(lengths, tf.shape(mask)[1])))
        if chosen.kernel == "cudnn":  # cuDNN rejects empty sequences
            right_padded = tf.logical_and(right_padded, tf.reduce_all(lengths > 0))

    def fused(in_cond: bool = False):
        if chosen.kernel == "cudnn":
            return kernel(layer, sequences, initial_state, mask, training)
        if chosen.kernel == "block_lstm":
            return kernel(layer, sequences, initial_state, lengths, training, switch=not in_cond)
        return kernel(layer, sequences, initial_state, lengths, training)

    try:
        if right_padded is None:
            return fused()
        if layer.implementation == "fused":
            message = (
                "implementation='fused' needs a right-padded mask (True steps, then only False steps"
                + (", and at least one True step per sequence" if chosen.kernel == "cudnn" else "")
                + "); use implementation='auto' to run other masks through the loop."
            )
            with tf.control_dependencies([tf.debugging.Assert(right_padded, [message])]):
                sequences = tf.identity(sequences)
            return fused()
        # Both branches are traced. When TensorFlow differentiates this cond inside a function it wraps each
        # branch's intermediates in optionals whose element types differ position by position, and its graph
        # type inference logs one benign "Type inference failed ... TFT_OPTIONAL" warning per traced function.
        # A batch known only at run time runs the kernel in one part there (`block_lstm_in_parts`'s `switch`).
        return tf.cond(right_padded, functools.partial(fused, in_cond=True), generic)
    except NotImplementedError:
        # Keras's cuDNN function found no cuDNN kernel for the call after all; keras.layers.LSTM then falls back.
        if layer.implementation == "fused":
            raise ValueError(
                f"implementation='fused' cannot apply to this {type(layer).__name__}: TensorFlow sees a GPU but "
                "has no cuDNN kernel for this call; use implementation='auto' or 'loop'."
            ) from None
        return generic()
