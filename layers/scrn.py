"""Structurally Constrained Recurrent Network (SCRN): a fast hidden layer plus a slow context.

Reference: Mikolov, Joulin, Chopra, Mathieu & Ranzato, "Learning Longer Memory
in Recurrent Neural Networks", ICLR 2015 workshop (arXiv:1412.7753).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from layers.base import RecurrentCell, RecurrentCellLayer, check_scalar


@keras.saving.register_keras_serializable(package="layers")
class SCRNCell(RecurrentCell):
    """Cell of the SCRN: sigmoid hidden units plus a slowly decaying context state.

    ```
    s_t = (1 - alpha) B x_t + alpha s_{t-1}          # context, alpha fixed
    h_t = sigmoid(P s_t + A x_t + R h_{t-1} + b)     # hidden
    y_t = [h_t ; s_t]                                # output
    ```

    The context units have a fixed, non-trained self-connection `alpha`
    (the "structural constraint", close to 1), so they form an exponential
    moving average of the projected inputs that keeps information for about
    `1 / (1 - alpha)` steps, while the hidden units learn fast, short-term
    patterns. The cell outputs both, so a following layer can read
    `U h_t + V s_t` as in the paper.

    Args:
        units: Positive integer, number of hidden units (`h_t`).
        context_units: Positive integer, number of context units (`s_t`).
            Default: `None`, i.e. the same as `units`.
        alpha: Fixed decay of the context state, a float in [0, 1].
            Default: 0.95 (the paper's value).
        use_bias: Whether to add the bias `b` to the hidden units.
            Default: `True`.
        kernel_initializer: Initializer of `A` (input to hidden).
            Default: `"glorot_uniform"`.
        context_kernel_initializer: Initializer of `B` (input to context).
            Default: `"glorot_uniform"`.
        context_recurrent_initializer: Initializer of `P` (context to
            hidden). Default: `"glorot_uniform"`.
        recurrent_initializer: Initializer of `R` (hidden to hidden).
            Default: `"orthogonal"`.
        bias_initializer: Initializer of `b`. Default: `"zeros"`.
        kernel_regularizer, context_kernel_regularizer,
            context_recurrent_regularizer, recurrent_regularizer,
            bias_regularizer: Optional regularizers of `A`, `B`, `P`, `R`, `b`.
        dropout: Fraction of the inputs to drop (one mask per sequence).
        recurrent_dropout: Fraction of `h_{t-1}` to drop (one mask per
            sequence).
        seed: Random seed for dropout.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: `[h_{t-1}, s_{t-1}]`, shapes `(batch, units)` and
            `(batch, context_units)`.
        training: Python boolean; dropout is applied only when true.

    Example:

    ```python
    cell = SCRNCell(32, context_units=8)
    outputs = keras.layers.RNN(cell)(np.zeros((2, 10, 3)))  # shape (2, 40)
    ```

    Reference:
        Mikolov, Joulin, Chopra, Mathieu & Ranzato, "Learning Longer Memory in
        Recurrent Neural Networks", ICLR 2015 workshop.
    """

    def __init__(
        self,
        units: int,
        context_units: int | None = None,
        alpha: float = 0.95,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        context_kernel_initializer: Any = "glorot_uniform",
        context_recurrent_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        context_kernel_regularizer: Any = None,
        context_recurrent_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        context_units = units if context_units is None else context_units
        check_scalar("units", units, integer=True, minimum=1)
        check_scalar("context_units", context_units, integer=True, minimum=1)
        check_scalar("alpha", alpha, minimum=0.0, maximum=1.0)
        super().__init__(dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.units = units
        self.context_units = context_units
        self.alpha = float(alpha)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.context_kernel_initializer = keras.initializers.get(context_kernel_initializer)
        self.context_recurrent_initializer = keras.initializers.get(context_recurrent_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.context_kernel_regularizer = keras.regularizers.get(context_kernel_regularizer)
        self.context_recurrent_regularizer = keras.regularizers.get(context_recurrent_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.state_size = [units, context_units]
        self.output_size = units + context_units

    def build(self, input_shape) -> None:
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.context_kernel = self.add_weight(
            shape=(input_dim, self.context_units),
            name="context_kernel",
            initializer=self.context_kernel_initializer,
            regularizer=self.context_kernel_regularizer,
        )
        self.context_recurrent_kernel = self.add_weight(
            shape=(self.context_units, self.units),
            name="context_recurrent_kernel",
            initializer=self.context_recurrent_initializer,
            regularizer=self.context_recurrent_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )
        else:
            self.bias = None

    def project_inputs(self, inputs):
        """`[(1 - alpha) B x ; A x + b]`, shape `(..., context_units + units)`."""
        context_drive = (1.0 - self.alpha) * ops.matmul(inputs, self.context_kernel)
        hidden_drive = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            hidden_drive = hidden_drive + self.bias
        return ops.concatenate([context_drive, hidden_drive], axis=-1)

    def recurrent_step(self, projected_inputs, states, training=None):
        h_tm1, s_tm1 = states
        context_drive = projected_inputs[:, : self.context_units]
        hidden_drive = projected_inputs[:, self.context_units :]
        s = context_drive + self.alpha * s_tm1
        h = ops.sigmoid(
            hidden_drive
            + ops.matmul(s, self.context_recurrent_kernel)
            + ops.matmul(self.dropped_recurrent_state(h_tm1, training), self.recurrent_kernel)
        )
        return ops.concatenate([h, s], axis=-1), [h, s]

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "context_units": self.context_units,
            "alpha": self.alpha,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "context_kernel_initializer": keras.initializers.serialize(self.context_kernel_initializer),
            "context_recurrent_initializer": keras.initializers.serialize(self.context_recurrent_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "context_kernel_regularizer": keras.regularizers.serialize(self.context_kernel_regularizer),
            "context_recurrent_regularizer": keras.regularizers.serialize(self.context_recurrent_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="layers")
class SCRN(RecurrentCellLayer):
    """SCRN layer: sigmoid hidden units plus a context state with fixed decay alpha.

    Runs `SCRNCell` over a sequence with the `keras.layers.RNN` semantics
    (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
    masking, `initial_state`):

    ```
    s_t = (1 - alpha) B x_t + alpha s_{t-1}
    h_t = sigmoid(P s_t + A x_t + R h_{t-1} + b)
    y_t = [h_t ; s_t]                     # units + context_units features
    ```

    Args:
        units: Number of hidden units.
        context_units: Number of context units (default: `units`).
        alpha: Fixed context decay in [0, 1] (default 0.95, not trained).
        use_bias, initializers, regularizers, dropout, recurrent_dropout,
            seed: as in `SCRNCell`.
        return_sequences, return_state, go_backwards, stateful, unroll,
            zero_output_for_mask: as in `keras.layers.RNN`.
        input_projection: Where the loop computes the input projection:
            `"step"` (default, inside each step, fastest on CPUs with few
            features) or `"sequence"` (all steps with one matrix product
            before the loop); see `layers.base.RecurrentLayer`.

    Call arguments:
        sequences: A 3D tensor `(batch, time, features)`.
        initial_state: Optional `[h_0, s_0]`, shapes `(batch, units)` and
            `(batch, context_units)`.
        mask: Optional boolean tensor `(batch, time)`.
        training: Python boolean; enables dropout.

    Example:

    ```python
    layer = SCRN(32, context_units=8, alpha=0.95)
    outputs = layer(np.zeros((4, 10, 3), "float32"))  # shape (4, 40)
    ```

    Reference:
        Mikolov, Joulin, Chopra, Mathieu & Ranzato, "Learning Longer Memory in
        Recurrent Neural Networks", ICLR 2015 workshop.
    """

    cell_class = SCRNCell
