"""Clockwork RNN: hidden modules that tick at different periods.

Reference: Koutnik, Greff, Gomez & Schmidhuber, "A Clockwork RNN", ICML 2014
(arXiv:1402.3511).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from layers.base import RecurrentCell, RecurrentCellLayer, check_scalar

# Largest integer up to which every integer is exactly representable: the
# clock counts in the state's float dtype and must never round.
_EXACT_INTEGER_LIMIT = {"float16": 2**11, "bfloat16": 2**8, "float32": 2**24, "float64": 2**53}


def _resolve_periods(units: int, periods: Sequence[int] | None, num_modules: int | None) -> tuple[int, ...]:
    if periods is None:
        count = 4 if num_modules is None else num_modules
        check_scalar("num_modules", count, integer=True, minimum=1)
        periods = tuple(2**module for module in range(count))
    else:
        periods = tuple(periods)
        if not periods or not all(
            isinstance(period, (int, np.integer)) and not isinstance(period, bool) and period >= 1 for period in periods
        ):
            raise ValueError(f"periods must be a non-empty sequence of positive integers; got {periods!r}.")
        periods = tuple(int(period) for period in periods)
        if list(periods) != sorted(periods):
            raise ValueError(
                f"periods must be in increasing order (modules run from fastest to slowest); got {periods}."
            )
        if num_modules is not None and num_modules != len(periods):
            raise ValueError(
                f"num_modules={num_modules} disagrees with the {len(periods)} periods {periods}; give one of them."
            )
    check_scalar("units", units, integer=True, minimum=1)
    if units % len(periods) != 0:
        raise ValueError(
            f"units={units} must split evenly into {len(periods)} modules "
            f"(periods {periods}); {units} is not a multiple of {len(periods)}."
        )
    return periods


@keras.saving.register_keras_serializable(package="layers")
class ClockworkCell(RecurrentCell):
    """Cell of the Clockwork RNN: g equal modules, module i updates every T_i steps.

    The `units` hidden units form `g` modules of `units / g` units each, with
    periods `T_1 <= ... <= T_g` (default `1, 2, 4, ..., 2**(g-1)`). At step
    `t` (counted from 0) module `i` is active when `t mod T_i == 0`:

    ```
    a_t     = act(W_I x_t + (W_H * M) h_{t-1} + b)       # candidate, all modules
    h_t^(i) = a_t^(i)        if t mod T_i == 0
              h_{t-1}^(i)    otherwise                   # kept exactly
    M[i, j] = 1 if T_j >= T_i else 0                     # block (i <- j)
    ```

    The mask `M` makes the recurrent matrix block-triangular: a module hears
    the modules that are as slow as itself or slower, so slow modules feed
    fast ones and never the reverse. `M` multiplies the recurrent kernel at
    every use, so training cannot break the structure, and the masked blocks
    are also zero from initialisation.

    The clock is the second state, `[h, t]`: `t` has shape `(batch, 1)` and
    holds the step count modulo `lcm(T_1, ..., T_g)` (which gives the same
    `t mod T_i` for every module and stays exactly representable). It
    therefore continues across batches with `stateful=True`, and
    `initial_state=[h_0, t_0]` can start the clock at any phase. A masked
    step (Keras masking) is not a step: `h` and `t` both keep their values.

    Args:
        units: Positive integer, number of hidden units; a multiple of the
            number of modules.
        periods: Increasing positive integers, the period of each module
            (fastest first). Default: `None`, i.e. powers of two
            `(1, 2, 4, ..., 2**(num_modules-1))`.
        num_modules: Number of modules when `periods` is `None`
            (default 4); when both are given they must agree.
        activation: Activation of the candidate. Default: `"tanh"`.
        use_bias: Whether to add the bias `b`. Default: `True`.
        kernel_initializer: Initializer of `W_I`. Default: `"glorot_uniform"`.
        recurrent_initializer: Initializer of `W_H` (before masking).
            Default: `"orthogonal"`.
        bias_initializer: Initializer of `b`. Default: `"zeros"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Optional regularizers of `W_I`, `W_H`, `b`.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Optional constraints of `W_I`, `W_H`, `b`.
        dropout: Fraction of the inputs to drop (one mask per sequence).
        recurrent_dropout: Fraction of `h_{t-1}` to drop in the candidate
            (one mask per sequence); inactive modules keep their undropped state.
        seed: Random seed for dropout.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: `[h_{t-1}, t]`, shapes `(batch, units)` and `(batch, 1)`.
        training: Python boolean; dropout is applied only when true.

    Example:

    ```python
    cell = ClockworkCell(16, periods=(1, 4, 16, 64))
    outputs = keras.layers.RNN(cell, return_sequences=True)(np.zeros((2, 10, 3)))
    ```

    Reference:
        Koutnik, Greff, Gomez & Schmidhuber, "A Clockwork RNN", ICML 2014.
    """

    def __init__(
        self,
        units: int,
        periods: Sequence[int] | None = None,
        num_modules: int | None = None,
        activation: Any = "tanh",
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
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        resolved_periods = _resolve_periods(units, periods, num_modules)
        super().__init__(dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.units = units
        self.periods = resolved_periods
        self.num_modules = len(self.periods)
        self.cycle_length = math.lcm(*self.periods)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.state_size = [units, 1]
        self.output_size = units

        module_size = units // self.num_modules
        self.unit_periods = np.repeat(np.asarray(self.periods, dtype="float64"), module_size)
        # Row = sending unit j, column = receiving unit i (h_{t-1} @ kernel):
        # unit i hears unit j when j's module is at least as slow as i's.
        self.recurrent_mask = (self.unit_periods[:, None] >= self.unit_periods[None, :]).astype("float64")

    def build(self, input_shape) -> None:
        limit = _EXACT_INTEGER_LIMIT.get(self.compute_dtype)
        if limit is not None and self.cycle_length > limit:
            raise ValueError(
                f"The clock cycle lcm{self.periods} = {self.cycle_length} cannot be "
                f"counted exactly in {self.compute_dtype} (limit {limit}); use "
                "periods with a smaller least common multiple or a wider dtype."
            )
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.recurrent_kernel.assign(
            self.recurrent_kernel * ops.convert_to_tensor(self.recurrent_mask, self.variable_dtype)
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def project_inputs(self, inputs):
        projected = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            projected = projected + self.bias
        return projected

    def recurrent_step(self, projected_inputs, states, training=None):
        h_tm1, clock = states
        dtype = projected_inputs.dtype
        recurrent_kernel = self.recurrent_kernel * ops.convert_to_tensor(self.recurrent_mask, dtype)
        candidate = self.activation(
            projected_inputs + ops.matmul(self.dropped_recurrent_state(h_tm1, training), recurrent_kernel)
        )
        active = ops.equal(ops.mod(clock, ops.convert_to_tensor(self.unit_periods, dtype)), 0)
        h = ops.where(active, candidate, h_tm1)
        next_clock = ops.mod(clock + 1, self.cycle_length)
        return h, [h, next_clock]

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "periods": list(self.periods),
            "num_modules": self.num_modules,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="layers")
class Clockwork(RecurrentCellLayer):
    """Clockwork RNN layer: modules of hidden units updating at periods 1, 2, 4, ...

    Runs `ClockworkCell` over a sequence with the `keras.layers.RNN`
    semantics (`return_sequences`, `return_state`, `go_backwards`,
    `stateful`, masking, `initial_state`):

    ```
    a_t     = tanh(W_I x_t + (W_H * M) h_{t-1} + b)
    h_t^(i) = a_t^(i) if t mod T_i == 0 else h_{t-1}^(i)
    M[i, j] = 1 if T_j >= T_i else 0      (slow modules feed fast ones)
    ```

    The states are `[h, t]`: the hidden state and the clock (`(batch, 1)`,
    the step count modulo `lcm(periods)`). With `stateful=True` the clock
    keeps counting across batches; `initial_state=[h_0, t_0]` sets both;
    masked steps advance neither `h` nor `t`.

    Args:
        units: Number of hidden units, a multiple of the number of modules.
        periods, num_modules, activation, use_bias, initializers,
            regularizers, constraints, dropout, recurrent_dropout, seed:
            as in `ClockworkCell`.
        return_sequences, return_state, go_backwards, stateful, unroll,
            zero_output_for_mask: as in `keras.layers.RNN`.
        input_projection: Where the loop computes the input projection:
            `"step"` (default, inside each step, fastest on CPUs with few
            features) or `"sequence"` (all steps with one matrix product
            before the loop); see `layers.base.RecurrentLayer`.

    Call arguments:
        sequences: A 3D tensor `(batch, time, features)`.
        initial_state: Optional `[h_0, t_0]`, shapes `(batch, units)` and
            `(batch, 1)`.
        mask: Optional boolean tensor `(batch, time)`.
        training: Python boolean; enables dropout.

    Example:

    ```python
    layer = Clockwork(32, periods=(1, 2, 4, 8), return_state=True)
    last_output, h, clock = layer(np.zeros((4, 10, 3), "float32"))  # clock == 10 % 8
    ```

    Reference:
        Koutnik, Greff, Gomez & Schmidhuber, "A Clockwork RNN", ICML 2014.
    """

    cell_class = ClockworkCell
