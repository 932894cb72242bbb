"""Gated recurrent unit (GRU), Cho et al. 2014, in Keras's weight layout."""

from __future__ import annotations

from typing import Any

import keras
from keras import activations, constraints, initializers, ops, regularizers

from layers.base import (
    FusedRecurrentLayer,
    RecurrentCell,
    check_chrono_timescale,
    check_scalar,
    chrono_log_timescales,
)

__all__ = ["GRU", "GRUCell"]


@keras.saving.register_keras_serializable(package="layers")
class GRUCell(RecurrentCell):
    """Cell of the gated recurrent unit (GRU), Cho et al. 2014.

    An update gate `z_t` mixes the previous state with a candidate state
    `h~_t` (no separate cell state, no output gate); a reset gate `r_t`
    lets the candidate ignore the previous state:

    ```
    z_t  = σ(W_z x_t + U_z h_{t-1} + b_z)
    r_t  = σ(W_r x_t + U_r h_{t-1} + b_r)
    h~_t = φ(W_h x_t + U_h (r_t ⊙ h_{t-1}) + b_h)         (reset_after=False)
    h~_t = φ(W_h x_t + b_h + r_t ⊙ (U_h h_{t-1} + b'_h))  (reset_after=True)
    h_t  = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h~_t
    ```

    `σ` is `recurrent_activation` (default sigmoid), `φ` is `activation`
    (default tanh). `reset_after=False` is the paper's candidate (Cho et
    al. 2014, eq. 8): the reset gate scales `h_{t-1}` before the product
    with `U_h`. `reset_after=True` (the default, as in Keras and cuDNN)
    applies it after the product and gives the recurrent products their own
    biases `b'_z, b'_r, b'_h`, added to `b_z, b_r` in the gates.

    The state update follows Keras and the paper (eq. 7): `z_t` is the
    weight of the previous state, so `z_t = 1` copies `h_{t-1}`. Chung et
    al. 2014 and many textbooks write `h_t = (1 - z_t) h_{t-1} + z_t h~_t`
    instead; their `z_t` is this `1 - z_t`.

    Weights are Keras's (`keras.layers.GRUCell`), for row vectors, gate
    blocks in the order `[z, r, h]`: `kernel = [W_z W_r W_h]^T`
    `(input_dim, 3 units)`, `recurrent_kernel = [U_z U_r U_h]^T`
    `(units, 3 units)`, `bias` `(3 units,)` = `[b_z b_r b_h]`, or with
    `reset_after=True` `(2, 3 units)` = input biases over recurrent biases;
    `keras.layers.GRU` weights load unchanged. With `reset_after=False`
    only `W x_t + b` is computed ahead of the time loop
    (`project_inputs`); `U_h (r_t ⊙ h_{t-1})` needs `r_t`, so it stays in
    the step.

    Args:
        units: Positive integer, size of the state `h_t`.
        activation: Activation `φ` of the candidate. Default: `"tanh"`.
        recurrent_activation: Activation `σ` of the gates. Default:
            `"sigmoid"`.
        use_bias: Whether to use the biases. Default: True.
        kernel_initializer: Initializer of `kernel`. Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`. Default:
            `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Default: `"zeros"`.
        kernel_regularizer: Regularizer of `kernel`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`.
        bias_regularizer: Regularizer of `bias`.
        kernel_constraint: Constraint on `kernel`.
        recurrent_constraint: Constraint on `recurrent_kernel`.
        bias_constraint: Constraint on `bias`.
        dropout: Float in [0, 1], fraction of the inputs `x_t` to drop (one
            mask per sequence, shared by the three gate blocks). Default: 0.
        recurrent_dropout: Float in [0, 1], fraction of `h_{t-1}` to drop in
            the recurrent products (one mask per sequence, shared by the
            three blocks; Keras draws one per block). Default: 0.
        reset_after: Where the reset gate acts, see the equations. Default:
            True.
        chrono_timescale: If set to the longest time lag `T` the cell should
            bridge, the update-gate bias `b_z` starts at `log(u)` with `u`
            uniform in `[1, T - 1]` (the chrono initialization of Tallec &
            Ollivier 2018 for the gate that keeps `h_{t-1}`): at
            initialisation `z_t ≈ u / (1 + u)`, so memories decay over 1 to
            `T` steps instead of the ~2 steps of `z_t = sigmoid(0)`. With
            `reset_after=True` it sets the input bias row. Default: `None`.
        seed: Random seed for the dropout masks and the chrono
            initialization.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, input_dim)`, the input `x_t`.
        states: A list with one 2D tensor `(batch, units)`, `h_{t-1}`.
        training: Python boolean; dropout is applied only when true.

    Example:

    ```python
    inputs = np.random.random((32, 10, 8)).astype("float32")
    outputs = keras.layers.RNN(GRUCell(4))(inputs)  # shape (32, 4)
    ```

    References:
        - Cho, K., van Merriënboer, B., Gulcehre, C., Bahdanau, D.,
          Bougares, F., Schwenk, H., & Bengio, Y. (2014). Learning phrase
          representations using RNN encoder-decoder for statistical machine
          translation. EMNLP 2014, arXiv:1406.1078.
        - Chung, J., Gulcehre, C., Cho, K., & Bengio, Y. (2014). Empirical
          evaluation of gated recurrent neural networks on sequence
          modeling. arXiv:1412.3555.
    """

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        reset_after: bool = True,
        chrono_timescale: int | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        check_scalar("units", units, integer=True, minimum=1)
        if chrono_timescale is not None:
            check_chrono_timescale(chrono_timescale)
        super().__init__(
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.reset_after = reset_after
        self.chrono_timescale = chrono_timescale
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 3 * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 3 * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(2, 3 * self.units) if self.reset_after else (3 * self.units,),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def project_inputs(self, inputs):
        """Returns `[W_z x + b_z, W_r x + b_r, W_h x + b_h]` for `(..., d)`."""
        projected = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            input_bias = self.bias[0] if self.reset_after else self.bias
            projected = projected + input_bias
        return projected

    def recurrent_step(self, projected_inputs, states, training=None):
        h_tm1 = states[0]
        dropped_h_tm1 = self.dropped_recurrent_state(h_tm1, training)
        x_z, x_r, x_h = ops.split(projected_inputs, 3, axis=-1)
        if self.reset_after:
            recurrent = ops.matmul(dropped_h_tm1, self.recurrent_kernel)
            if self.bias is not None:
                recurrent = recurrent + self.bias[1]
            recurrent_z, recurrent_r, recurrent_h = ops.split(recurrent, 3, axis=-1)
            z = self.recurrent_activation(x_z + recurrent_z)
            r = self.recurrent_activation(x_r + recurrent_r)
            candidate = self.activation(x_h + r * recurrent_h)
        else:
            gate_kernel = self.recurrent_kernel[:, : 2 * self.units]
            candidate_kernel = self.recurrent_kernel[:, 2 * self.units :]
            recurrent_z, recurrent_r = ops.split(ops.matmul(dropped_h_tm1, gate_kernel), 2, axis=-1)
            z = self.recurrent_activation(x_z + recurrent_z)
            r = self.recurrent_activation(x_r + recurrent_r)
            candidate = self.activation(x_h + ops.matmul(r * dropped_h_tm1, candidate_kernel))
        h = z * h_tm1 + (1.0 - z) * candidate
        return h, [h]

    def _bias_initializer(self):
        """`bias_initializer`, or with `chrono_timescale`: b_z = log(u), u ~ U[1, T - 1]."""
        if self.chrono_timescale is None:
            return self.bias_initializer
        units = self.units

        def initializer(shape, dtype=None, **kwargs):
            bias = self.bias_initializer(shape, dtype=dtype)
            input_bias = bias[0] if self.reset_after else bias
            log_timescales = chrono_log_timescales(units, self.chrono_timescale, self.seed, dtype)
            chrono = ops.concatenate([log_timescales, input_bias[units:]])
            if self.reset_after:
                return ops.stack([chrono, bias[1]])
            return chrono

        return initializer

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "reset_after": self.reset_after,
            "chrono_timescale": self.chrono_timescale,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="layers")
class GRU(FusedRecurrentLayer):
    """Gated recurrent unit layer, Cho et al. 2014.

    Runs `GRUCell` over a sequence:

    ```
    z_t  = σ(W_z x_t + U_z h_{t-1} + b_z)
    r_t  = σ(W_r x_t + U_r h_{t-1} + b_r)
    h~_t = φ(W_h x_t + U_h (r_t ⊙ h_{t-1}) + b_h)         (reset_after=False)
    h~_t = φ(W_h x_t + b_h + r_t ⊙ (U_h h_{t-1} + b'_h))  (reset_after=True)
    h_t  = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h~_t
    ```

    Same weights and results as `keras.layers.GRU` in both `reset_after`
    modes (`GRU(n).set_weights(keras_gru.get_weights())`); see `GRUCell`
    for the layout and for how `z_t` maps to other papers' convention.

    How the sequence is computed (`implementation`): on the TensorFlow
    backend with a GPU, the `reset_after=True` GRU with tanh and sigmoid, a
    bias and no recurrent dropout runs on cuDNN, as `keras.layers.GRU` does;
    on a CPU, every float32 GRU with tanh and sigmoid, no recurrent dropout
    and no unrolling (both `reset_after` modes) runs a lean loop of
    TensorFlow ops with a hand-written gradient
    (`layers.tensorflow_kernels.lean_gru`; TensorFlow has no fused kernel
    for this GRU on CPUs): forward and backward 1.3-2x the generic loop's
    speed at batch 16-64 and up to 128 units, 1.0-1.3x beyond. Everything
    else runs the generic `keras.ops` loop, one `GRUCell` step per time
    step. All paths compute the same numbers (to float rounding).

    Args:
        units: Positive integer, size of the state `h_t`.
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
        reset_after, chrono_timescale, seed: As in `GRUCell`.
        return_sequences: Whether to return the whole output sequence or only
            the last output. Default: False.
        return_state: Whether to also return the last state `h_T`.
        go_backwards: Whether to process the sequence in reverse order.
        stateful: Whether the last state of a batch is the initial state of
            the next batch.
        unroll: Whether to unroll the time loop (short sequences only).
        zero_output_for_mask: Whether masked steps output zeros instead of
            repeating the previous output.
        implementation: `"auto"` (default: the fastest path that applies),
            `"fused"` (always cuDNN or the lean loop; `ValueError`, saying
            why, where neither applies) or `"loop"`; see
            `layers.base.FusedRecurrentLayer`.
        input_projection: Where the generic loop computes `W x_t + b`:
            `"step"` (default) or `"sequence"`; see
            `layers.base.RecurrentLayer`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: A 3D tensor `(batch, time, features)`.
        initial_state: Optional list with one tensor `(batch, units)`.
        mask: Optional boolean tensor `(batch, time)`; `False` steps keep the
            previous state and output.
        training: Python boolean; enables dropout.

    Example:

    ```python
    inputs = np.random.random((32, 10, 8)).astype("float32")
    outputs = GRU(4)(inputs)  # shape (32, 4)
    sequence, h_last = GRU(4, return_sequences=True, return_state=True)(
        inputs
    )  # shapes (32, 10, 4) and (32, 4)
    ```

    References:
        - Cho, K., van Merriënboer, B., Gulcehre, C., Bahdanau, D.,
          Bougares, F., Schwenk, H., & Bengio, Y. (2014). Learning phrase
          representations using RNN encoder-decoder for statistical machine
          translation. EMNLP 2014, arXiv:1406.1078.
    """

    cell_class = GRUCell
    kernel_name = "gru"
