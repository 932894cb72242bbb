"""Elman network ("simple recurrent network") and the IRNN initialisation."""

from __future__ import annotations

from typing import Any

import keras
from keras import activations, constraints, initializers, ops, regularizers

from layers.base import RecurrentCell, RecurrentCellLayer, check_scalar

__all__ = ["IRNN", "Elman", "ElmanCell"]


@keras.saving.register_keras_serializable(package="layers")
class ElmanCell(RecurrentCell):
    """Cell of the Elman network (simple recurrent network), Elman 1990.

    The hidden state (the "neuron internal state") is fed back as input at
    the next step; an optional output layer reads it out:

    ```
    h_t = σ(W_hx x_t + W_hh h_{t-1} + b_h)
    y_t = f_o(W_yh h_t + b_y)            # only when output_units is set
    ```

    `σ` is `activation` (default: sigmoid, as in Elman's network), `f_o` is
    `output_activation` (default: identity, for regression). In the
    lecture notes' other notation `W_1 = W_hx`, `W_2 = W_hh`, `W_3 = W_yh`.
    Weights are stored for row vectors like `keras.layers.SimpleRNNCell`:
    `kernel = W_hx^T` `(input_dim, units)`, `recurrent_kernel = W_hh^T`
    `(units, units)`, `bias = b_h` `(units,)`, so with `activation="tanh"`
    and no output layer this cell computes exactly `SimpleRNNCell` and loads
    its weights unchanged. The output layer adds `output_kernel = W_yh^T`
    `(units, output_units)` and `output_bias = b_y` `(output_units,)`.

    Args:
        units: Positive integer, size of the hidden state `h_t`.
        activation: Activation `σ` of the hidden state. Default: `"sigmoid"`.
            `None` means identity.
        use_bias: Whether to use the biases `b_h` (and `b_y`). Default: True.
        output_units: Size of the output `y_t`, or `None` (default) for no
            output layer: the cell then outputs `h_t`.
        output_activation: Activation `f_o` of the output layer. Default:
            `None` (identity).
        kernel_initializer: Initializer of `kernel` and `output_kernel`.
            Default: `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`. Default:
            `"orthogonal"`.
        bias_initializer: Initializer of `bias` and `output_bias`. Default:
            `"zeros"`.
        kernel_regularizer: Regularizer of `kernel` and `output_kernel`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`.
        bias_regularizer: Regularizer of `bias` and `output_bias`.
        kernel_constraint: Constraint on `kernel` and `output_kernel`.
        recurrent_constraint: Constraint on `recurrent_kernel`.
        bias_constraint: Constraint on `bias` and `output_bias`.
        dropout: Float in [0, 1], fraction of the inputs `x_t` to drop (one
            mask per sequence). Default: 0.
        recurrent_dropout: Float in [0, 1], fraction of `h_{t-1}` to drop in
            the recurrent product (one mask per sequence). Default: 0.
        seed: Random seed for the dropout masks.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, input_dim)`, the input `x_t`.
        states: A list with one 2D tensor `(batch, units)`, `h_{t-1}`.
        training: Python boolean; dropout is applied only when true.

    Example:

    ```python
    inputs = np.random.random((32, 10, 8)).astype("float32")
    rnn = keras.layers.RNN(ElmanCell(4, output_units=2))
    outputs = rnn(inputs)  # shape (32, 2): y_T
    ```

    References:
        - Elman, J. L. (1990). Finding structure in time. Cognitive Science,
          14(2), 179-211.
    """

    def __init__(
        self,
        units: int,
        activation: Any = "sigmoid",
        use_bias: bool = True,
        output_units: int | None = None,
        output_activation: Any = None,
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
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        check_scalar("units", units, integer=True, minimum=1)
        if output_units is not None:
            check_scalar("output_units", output_units, integer=True, minimum=1)
        super().__init__(
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.output_units = output_units
        self.output_activation = activations.get(output_activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.state_size = units
        self.output_size = units if output_units is None else output_units

    def build(self, input_shape):
        self.kernel = self._add_kernel("kernel", (input_shape[-1], self.units))
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = self._add_bias("bias", self.units)
        if self.output_units is not None:
            self.output_kernel = self._add_kernel("output_kernel", (self.units, self.output_units))
            self.output_bias = self._add_bias("output_bias", self.output_units)

    def _add_kernel(self, name, shape):
        return self.add_weight(
            shape=shape,
            name=name,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def _add_bias(self, name, size):
        if not self.use_bias:
            return None
        return self.add_weight(
            shape=(size,),
            name=name,
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def project_inputs(self, inputs):
        """Returns `W_hx x + b_h` for inputs of shape `(..., input_dim)`."""
        projected = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            projected = projected + self.bias
        return projected

    def recurrent_step(self, projected_inputs, states, training=None):
        h_tm1 = self.dropped_recurrent_state(states[0], training)
        h = self.activation(projected_inputs + ops.matmul(h_tm1, self.recurrent_kernel))
        if self.output_units is None:
            return h, [h]
        y = ops.matmul(h, self.output_kernel)
        if self.output_bias is not None:
            y = y + self.output_bias
        return self.output_activation(y), [h]

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "output_units": self.output_units,
            "output_activation": activations.serialize(self.output_activation),
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="layers")
class Elman(RecurrentCellLayer):
    """Elman network layer: a sigmoid recurrent layer with optional readout.

    Runs `ElmanCell` over a sequence:

    ```
    h_t = σ(W_hx x_t + W_hh h_{t-1} + b_h)
    y_t = f_o(W_yh h_t + b_y)            # only when output_units is set
    ```

    With `activation="tanh"` and no output layer it is
    `keras.layers.SimpleRNN`, weights included
    (`Elman(n, activation="tanh").set_weights(simple_rnn.get_weights())`).

    Args:
        units: Positive integer, size of the hidden state `h_t`.
        activation, use_bias, output_units, output_activation,
        kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed: As in `ElmanCell`.
        return_sequences: Whether to return the whole output sequence or only
            the last output. Default: False.
        return_state: Whether to also return the last state `h_T`.
        go_backwards: Whether to process the sequence in reverse order.
        stateful: Whether the last state of a batch is the initial state of
            the next batch.
        unroll: Whether to unroll the time loop (short sequences only).
        zero_output_for_mask: Whether masked steps output zeros instead of
            repeating the previous output.
        input_projection: Where the loop computes the input projection:
            `"step"` (default, inside each step, fastest on CPUs with few
            features) or `"sequence"` (all steps with one matrix product
            before the loop); see `layers.base.RecurrentLayer`.
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
    outputs = Elman(4)(inputs)  # shape (32, 4)
    sequence, h_last = Elman(4, return_sequences=True, return_state=True)(
        inputs
    )  # shapes (32, 10, 4) and (32, 4)
    ```

    References:
        - Elman, J. L. (1990). Finding structure in time. Cognitive Science,
          14(2), 179-211.
    """

    cell_class = ElmanCell


# Arguments the IRNN recipe fixes; passing them to `IRNN` is an error.
_IRNN_FIXED_ARGUMENTS = (
    "activation",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
)


@keras.saving.register_keras_serializable(package="layers")
class IRNN(Elman):
    """Elman layer of rectified linear units initialised at the identity.

    The IRNN of Le, Jaitly & Hinton (2015): the Elman recurrence with ReLU,

    ```
    h_t = max(0, W_hx x_t + W_hh h_{t-1} + b_h)
    ```

    started from `W_hh = recurrent_scale * I`, `b_h = 0` and small random
    input weights `W_hx ~ N(0, input_stddev^2)` (0.001 in the paper). At
    the start the state is copied unchanged from step to step, so errors
    flow back through time without vanishing; the paper uses
    `recurrent_scale < 1` (e.g. 0.01) for some long-range tasks.

    Args:
        units: Positive integer, size of the hidden state `h_t`.
        recurrent_scale: Gain of the identity initialisation of `W_hh`.
            Default: 1.0.
        input_stddev: Standard deviation of the normal initialisation of
            `W_hx` (and of `W_yh` if `output_units` is set). Default: 0.001.
        **kwargs: The other arguments of `Elman` (`output_units`,
            `return_sequences`, regularizers, dropout, ...), except
            `activation` and the initializers, which this recipe fixes.

    Call arguments:
        As in `Elman`.

    Example:

    ```python
    inputs = np.random.random((32, 100, 1)).astype("float32")
    outputs = IRNN(64)(inputs)  # shape (32, 64)
    ```

    References:
        - Le, Q. V., Jaitly, N., & Hinton, G. E. (2015). A simple way to
          initialize recurrent networks of rectified linear units.
          arXiv:1504.00941.
    """

    def __init__(
        self,
        units: int,
        recurrent_scale: float = 1.0,
        input_stddev: float = 0.001,
        **kwargs: Any,
    ) -> None:
        fixed = sorted(set(_IRNN_FIXED_ARGUMENTS) & set(kwargs))
        if fixed:
            raise ValueError(
                f"IRNN fixes {', '.join(_IRNN_FIXED_ARGUMENTS)}; got {fixed}. Use Elman to choose them freely."
            )
        check_scalar("input_stddev", input_stddev, minimum=0.0, exclusive_minimum=True)
        super().__init__(
            units,
            activation="relu",
            kernel_initializer=initializers.RandomNormal(mean=0.0, stddev=input_stddev),
            recurrent_initializer=initializers.Identity(gain=recurrent_scale),
            bias_initializer="zeros",
            **kwargs,
        )
        self.recurrent_scale = recurrent_scale
        self.input_stddev = input_stddev

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for name in _IRNN_FIXED_ARGUMENTS:
            config.pop(name)
        config["recurrent_scale"] = self.recurrent_scale
        config["input_stddev"] = self.input_stddev
        return config
