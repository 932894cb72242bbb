"""Shared base for the recurrent cells and layers of this package.

Usage note for cell authors
---------------------------
A cell subclasses `RecurrentCell` and implements four things:

- `__init__(self, units, ..., dropout=0.0, recurrent_dropout=0.0, seed=None,
  **kwargs)`: store the arguments, set `self.state_size` (int or list of ints)
  and `self.output_size`, and pass `dropout`, `recurrent_dropout`, `seed` and
  `**kwargs` on to `super().__init__` (a cell without dropout passes only
  `**kwargs`; its rates then stay 0).
- `build(input_shape)`: create the weights with `self.add_weight`.
- `project_inputs(inputs)`: the part that depends on the inputs only, e.g.
  `inputs @ kernel + bias`, valid for any leading shape `(..., input_dim)`:
  with `input_projection="sequence"` the layer calls it once on the whole
  `(time, batch, input_dim)` sequence, otherwise once per step.
- `recurrent_step(projected_inputs, states, training=None)`: one step of the
  recurrence given `projected_inputs` of shape `(batch, projection_dim)`;
  returns `(output, new_states)` with `new_states` a list. Apply recurrent
  dropout with `self.dropped_recurrent_state(h_tm1, training)`.

and extends `get_config` with its own arguments. `RecurrentCell.call` is
`recurrent_step(project_inputs(dropped inputs), states, training)`, so the
cell also runs inside plain `keras.layers.RNN`.

A public layer subclasses `RecurrentCellLayer`, sets `cell_class`, and
registers itself; it then accepts the cell's arguments directly plus the
`keras.layers.RNN` arguments, and round-trips through `.keras` files:

```python
@keras.saving.register_keras_serializable(package="layers")
class Elman(RecurrentCellLayer):
    \"\"\"Elman network layer (equations, arguments, reference).\"\"\"

    cell_class = ElmanCell


Elman(32, return_sequences=True)(inputs)
```

`RecurrentLayer(cell, ...)` runs any `RecurrentCell` instance the same way.
Both accept `input_projection="step"` (default, fastest on CPUs) or
`"sequence"` (all steps projected by one matrix product before the loop).
`FusedRecurrentLayer` (the base of `LSTM` and `GRU`) adds `implementation`:
on the TensorFlow backend the whole sequence can run through one fused
kernel, or for the GRU on a CPU a leaner loop of its own
(`layers/tensorflow_kernels.py`, the package's only TensorFlow code besides
the gradient tape of `gradient_flow`).

Scalar arguments are checked with `check_scalar`, so every message reads
`units must be a positive integer; got 0.`
"""

from __future__ import annotations

import functools
import inspect
import numbers
import re
from typing import Any, ClassVar

import keras
import numpy as np
from keras import initializers, ops

# Two private Keras names, kept in this one place on purpose:
# - `rnn` is the backend time loop behind `keras.layers.RNN` (masking,
#   go_backwards, unroll, zero_output_for_mask); Keras exposes no public
#   equivalent, and re-implementing it per backend would duplicate Keras.
# - `DropoutRNNCell` is the mixin `keras.layers.RNN` recognises
#   (`isinstance`) to create one dropout mask per sequence before its loop and
#   to clear it afterwards; inheriting it keeps Keras's dropout semantics.
from keras.src.backend import rnn as _backend_rnn
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

__all__ = ["RecurrentCell", "RecurrentCellLayer", "RecurrentLayer"]


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class of a recurrent cell split into input projection and step.

    The computation of one step is split in two:

    ```
    z_t = project_inputs(x_t)                 # no dependence on the state
    y_t, s_t = recurrent_step(z_t, s_{t-1})   # the recurrence
    ```

    so that a layer can project all time steps with one matrix product before
    its loop. `call(x_t, s_{t-1})` composes the two, with Keras's input
    dropout (one mask per sequence, applied to `x_t`) in front.

    Args:
        dropout: Float in [0, 1]. Fraction of the input units to drop, one
            mask per sequence. Default: 0.
        recurrent_dropout: Float in [0, 1]. Fraction of the recurrent state
            units to drop, one mask per sequence; used by subclasses through
            `dropped_recurrent_state`. Default: 0.
        seed: Random seed for the dropout masks.
        **kwargs: Base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, input_dim)`.
        states: A list of 2D tensors `(batch, state_size[k])`.
        training: Python boolean; dropout is applied only when true.
    """

    def __init__(
        self,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for argument, rate in (
            ("dropout", dropout),
            ("recurrent_dropout", recurrent_dropout),
        ):
            check_scalar(argument, rate, minimum=0.0, maximum=1.0)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    def project_inputs(self, inputs):
        """Returns the state-independent projection of `inputs` `(..., d)`."""
        raise NotImplementedError(f"{type(self).__name__} must implement `project_inputs`.")

    def recurrent_step(self, projected_inputs, states, training=None):
        """Returns `(output, new_states)` for one step of the recurrence."""
        raise NotImplementedError(f"{type(self).__name__} must implement `recurrent_step`.")

    def dropped_inputs(self, inputs, training=None):
        """Applies the per-sequence input dropout mask when training.

        `inputs` is `(batch, input_dim)` or `(batch, time, input_dim)`; the
        same mask multiplies every time step.
        """
        if not (training and 0.0 < self.dropout < 1.0):
            return inputs
        if len(inputs.shape) == 2:
            return inputs * self.get_dropout_mask(inputs)
        mask = self.get_dropout_mask(inputs[:, 0, :])
        return inputs * ops.expand_dims(mask, 1)

    def dropped_recurrent_state(self, state, training=None):
        """Applies the per-sequence recurrent dropout mask when training."""
        if not (training and 0.0 < self.recurrent_dropout < 1.0):
            return state
        return state * self.get_recurrent_dropout_mask(state)

    def call(self, inputs, states, training=None):
        projected_inputs = self.project_inputs(self.dropped_inputs(inputs, training))
        return self.recurrent_step(projected_inputs, states, training=training)

    def get_initial_state(self, batch_size=None):
        sizes = [self.state_size] if isinstance(self.state_size, int) else self.state_size
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self) -> dict[str, Any]:
        config = {
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="layers")
class RecurrentLayer(keras.layers.RNN):
    """`keras.layers.RNN` for a `RecurrentCell`, with a choice of projection.

    Same semantics as `keras.layers.RNN` (masking, `initial_state`,
    `stateful`, `go_backwards`, `unroll`, `zero_output_for_mask`, dropout).
    `input_projection` chooses where the cell's `project_inputs` runs:

    ```
    "sequence":  Z = project_inputs(dropout(X))     # (batch, time, proj_dim)
                 for t: y_t, s_t = recurrent_step(Z[:, t], s_{t-1})
    "step":      for t: y_t, s_t = recurrent_step(project_inputs(dropout(x_t)),
                                                  s_{t-1})
    ```

    Both compute the same function. `"sequence"` does one large matrix
    product instead of `time` small ones but materialises `Z` and its
    gradient, `time * batch * proj_dim` numbers; it pays off when the input
    dimension is large and memory bandwidth is plentiful (accelerators).
    On a CPU with few input features (the usual forecasting case) the extra
    memory traffic costs more than the saved products, so `"step"` is the
    default (see `benchmarks/layers_speed.py`).

    Args:
        cell: A `RecurrentCell` instance.
        return_sequences: Whether to return the whole output sequence or only
            the last output (default).
        return_state: Whether to also return the last states.
        go_backwards: Whether to process the sequence in reverse order.
        stateful: Whether the last states of a batch are the initial states
            of the next batch.
        unroll: Whether to unroll the loop (short sequences only).
        zero_output_for_mask: Whether masked steps output zeros instead of
            repeating the previous output (with `return_sequences=True`).
        input_projection: `"step"` (default) or `"sequence"`, see above.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: A 3D tensor `(batch, time, features)`.
        initial_state: Optional list of initial state tensors.
        mask: Optional boolean tensor `(batch, time)`; `False` steps keep the
            previous state.
        training: Python boolean; enables dropout.
    """

    def __init__(
        self,
        cell: RecurrentCell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        input_projection: str = "step",
        **kwargs: Any,
    ) -> None:
        if not isinstance(cell, RecurrentCell):
            raise TypeError(
                "cell must be a layers.base.RecurrentCell (with "
                "`project_inputs` and `recurrent_step`); got "
                f"{type(cell).__name__}. Use keras.layers.RNN for other cells."
            )
        if input_projection not in ("step", "sequence"):
            raise ValueError(f'input_projection must be "step" or "sequence"; got {input_projection!r}.')
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.input_projection = input_projection
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if self.input_projection == "step":
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        # Time-major from the start: transposing the narrow inputs is cheaper
        # than transposing the wide projections.
        time_major_inputs = ops.transpose(self.cell.dropped_inputs(sequences, training), (1, 0, 2))
        projected_sequences = self.cell.project_inputs(time_major_inputs)
        if mask is not None:
            mask = ops.transpose(mask, (1, 0))

        def step(projected_inputs, states):
            output, new_states = self.cell.recurrent_step(projected_inputs, states, training=training)
            return output, list(new_states)

        last_output, outputs, states = _backend_rnn(
            step,
            projected_sequences,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            time_major=True,
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
        return last_output, ops.transpose(outputs, (1, 0, 2)), states

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_projection": self.input_projection,
        }


def _snake_case(name: str) -> str:
    """`LSTMCell` -> `lstm_cell`, as Keras names its cells."""
    word_boundary = r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])"
    return re.sub(word_boundary, "_", name).lower()


class RecurrentCellLayer(RecurrentLayer):
    """A `RecurrentLayer` that builds its own cell from the cell's arguments.

    Subclasses set `cell_class`; the constructor then takes the cell's
    arguments (positional or keyword) together with the `RecurrentLayer`
    arguments, like `keras.layers.LSTM(units, ...)` builds its `LSTMCell`.
    `get_config` is flat (the cell's arguments next to the layer's), so
    `from_config(get_config())` and `.keras` files round-trip.
    """

    cell_class: ClassVar[type[RecurrentCell]]

    def __init__(self, *cell_args: Any, **kwargs: Any) -> None:
        cell_parameters = _constructor_parameters(self.cell_class)
        cell_kwargs = {key: kwargs.pop(key) for key in list(kwargs) if key in cell_parameters}
        cell = self.cell_class(
            *cell_args,
            **cell_kwargs,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=_snake_case(self.cell_class.__name__),
        )
        super().__init__(cell, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Called when normal lookup fails. The base class looks first: on the torch backend a layer is a
        # torch.nn.Module, which keeps sub-layers such as `cell` in its own registry, not in __dict__.
        parent_getattr = getattr(super(), "__getattr__", None)
        if parent_getattr is not None:
            try:
                return parent_getattr(name)
            except AttributeError:
                pass
        # The cell's hyper-parameters (`units`, `dropout`, ...) read as the layer's own, as on keras.layers.LSTM.
        if name != "cell" and name in _constructor_parameters(self.cell_class):
            try:
                cell = self.cell
            except AttributeError:
                cell = None
            if cell is not None:
                return getattr(cell, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("cell")
        cell_config = self.cell.get_config()
        for key in keras.layers.Layer.get_config(self.cell):
            cell_config.pop(key, None)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RecurrentCellLayer:
        return cls(**config)


IMPLEMENTATIONS = ("auto", "fused", "loop")


class FusedRecurrentLayer(RecurrentCellLayer):
    """A `RecurrentCellLayer` that TensorFlow can also compute through a fast path: one fused kernel per sequence,
    or a leaner loop.

    `implementation` chooses how the sequence is computed; all three compute the same equations with the same
    weights (to float rounding), so the choice changes speed, not results, and a model saved with one loads
    with any:

    - `"auto"` (default): the fastest path that applies. On the TensorFlow backend: cuDNN on a GPU under
      Keras's conditions; on a CPU, the fused LSTM kernel where it measured faster than the generic loop and
      the lean GRU loop (`layers.tensorflow_kernels.lean_gru`); the generic `keras.ops` loop otherwise (always
      on other backends and inside XLA-compiled functions). `layers.tensorflow_kernels.plan` has the rules.
    - `"fused"`: always a fast path. A configuration none can compute raises `ValueError` when the layer
      is built from it (or, for what is known only at call time: the device, the dtype, XLA, at its first
      call), saying why; a mask that is not right-padded fails at run time.
    - `"loop"`: always the generic loop.

    Subclasses set `kernel_name`, the cell family the fused kernels know (`"lstm"` or `"gru"`).
    """

    kernel_name: ClassVar[str]

    def __init__(self, *cell_args: Any, implementation: str = "auto", **kwargs: Any) -> None:
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f'implementation must be "auto", "fused" or "loop"; got {implementation!r}.')
        super().__init__(*cell_args, **kwargs)
        self.implementation = implementation
        if implementation == "fused":
            reason = self._fused_limitation()
            if reason is not None:
                raise ValueError(
                    f"implementation='fused' cannot apply to this {type(self).__name__}: {reason}; "
                    "use implementation='auto' or 'loop'."
                )
            # The fast paths do not run under XLA (BlockLSTMV2 and cuDNN have no XLA kernel); Keras then compiles
            # the model without XLA, as it does for keras.layers.LSTM on cuDNN.
            self.supports_jit = False

    def _fused_limitation(self) -> str | None:
        backend = keras.backend.backend()
        if backend != "tensorflow":
            return f"the fused kernels are TensorFlow's and the Keras backend is {backend!r}"
        from layers import tensorflow_kernels

        return tensorflow_kernels.fused_limitation(self)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if self.implementation == "loop" or keras.backend.backend() != "tensorflow":
            return super().inner_loop(sequences, initial_state, mask, training=training)
        from layers import tensorflow_kernels

        return tensorflow_kernels.inner_loop(self, sequences, initial_state, mask, training, super().inner_loop)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "implementation": self.implementation}


@functools.cache
def _constructor_parameters(cell_class: type) -> frozenset[str]:
    """Names the cell's constructor accepts, across its class hierarchy."""
    names: set[str] = set()
    for klass in cell_class.__mro__:
        if klass is keras.layers.Layer:
            break
        if "__init__" in vars(klass):
            parameters = inspect.signature(klass.__init__).parameters.values()
            names.update(
                p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            )
    return frozenset(names)


def check_scalar(
    name: str,
    value: Any,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    note: str | None = None,
) -> None:
    """Raise `ValueError("{name} must be {expected}; got {value!r}.")` unless `value` is a number in range.

    The one check of scalar arguments in `layers`, so every message reads the same, e.g.
    `units must be a positive integer; got 0.` A bool is never a number here; with `integer=True` only a
    Python `int` is accepted (a NumPy integer would fail later, in Keras's check of the cell's `state_size`).

    Args:
        name: the argument's name, as the user wrote it.
        value: the value to check.
        integer: whether `value` must be an integer.
        minimum, maximum: inclusive bounds (None: unbounded); `exclusive_minimum=True` excludes `minimum`.
        note: a reason shown in parentheses after the expectation.
    """
    if integer:
        kind_ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        kind_ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    in_range = kind_ok and (
        (minimum is None or (value > minimum if exclusive_minimum else value >= minimum))
        and (maximum is None or value <= maximum)
    )
    if in_range:
        return
    expected = _expectation(integer, minimum, maximum, exclusive_minimum)
    reason = f" ({note})" if note else ""
    raise ValueError(f"{name} must be {expected}{reason}; got {value!r}.")


def _expectation(integer: bool, minimum: float | None, maximum: float | None, exclusive_minimum: bool) -> str:
    noun = "integer" if integer else "number"
    if minimum is not None and maximum is not None:
        opening = "(" if exclusive_minimum else "["
        return f"a{'n' if integer else ''} {noun} in {opening}{minimum:g}, {maximum:g}]"
    if minimum is not None:
        if (integer and minimum == 1 and not exclusive_minimum) or (minimum == 0 and exclusive_minimum):
            return f"a positive {noun}"
        return f"a{'n' if integer else ''} {noun} {'greater than' if exclusive_minimum else 'of at least'} {minimum:g}"
    if maximum is not None:
        return f"a{'n' if integer else ''} {noun} of at most {maximum:g}"
    return f"a{'n' if integer else ''} {noun}"


def check_chrono_timescale(value: Any) -> None:
    """Raise `ValueError` unless `value` is a usable chrono time scale `T` (an integer >= 3)."""
    check_scalar("chrono_timescale", value, integer=True, minimum=3, note="u is drawn from [1, T - 1]")


def chrono_log_timescales(units: int, timescale: int, seed: int | None, dtype=None):
    """`log(u)`, `u ~ U[1, T - 1]` for `units` gates: the chrono bias of the gate that keeps
    the previous state (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?")."""
    uniform = initializers.RandomUniform(1.0, float(timescale - 1), seed=seed)
    return ops.log(uniform((units,), dtype=dtype))
