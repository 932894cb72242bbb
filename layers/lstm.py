"""Long short-term memory: one cell whose flags give the LSTM family.

The flags of `LSTMCell` select the 1997 LSTM (no forget gate), the
forget-gate LSTM (the default, Keras-compatible weights), peephole
connections, the coupled input-forget gate (CIFG), and the gate and
activation ablations of Greff et al. (2017).
"""

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

__all__ = ["LSTM", "LSTMCell"]

_EQUATIONS = """
```
i_t = sigmoid(W_i x_t + R_i h_{t-1} + p_i * c_{t-1} + b_i)   input gate
f_t = sigmoid(W_f x_t + R_f h_{t-1} + p_f * c_{t-1} + b_f)   forget gate
a_t = tanh(W_c x_t + R_c h_{t-1} + b_c)                      cell input
c_t = f_t * c_{t-1} + i_t * a_t                              cell state (CEC)
o_t = sigmoid(W_o x_t + R_o h_{t-1} + p_o * c_t + b_o)       output gate
h_t = o_t * tanh(c_t)                                        output
```

`*` is the element-wise product. The flags change these equations:

- `forget_gate=False` (Hochreiter & Schmidhuber 1997): `f_t = 1`, so
  `c_t = c_{t-1} + i_t * a_t`, the constant error carousel.
- `peepholes=True` (Gers & Schmidhuber 2000): the `p_*` terms are present
  (diagonal weights, one vector per existing gate); otherwise they are 0.
- `coupled=True` (CIFG): `f_t = 1 - i_t`; no forget-gate weights.
- `input_gate=False`: `i_t = 1`; `output_gate=False`: `o_t = 1`.
- `output_activation=None`: `h_t = o_t * c_t` (no output squashing).
- `activation` replaces the `tanh` of `a_t`, `output_activation` the `tanh`
  of `h_t`, `recurrent_activation` the gates' `sigmoid`.

Weight layout: `kernel` `(input_dim, n * units)`, `recurrent_kernel`
`(units, n * units)` and `bias` `(n * units,)` hold one block per existing
gate in the order `[i, f, c, o]`: `n = 4` for the default (exactly Keras's
`LSTMCell` layout, so `keras.layers.LSTM` weights load unchanged), blocks
`[i, c, o]` for `forget_gate=False` and for `coupled=True`, `[f, c, o]` for
`input_gate=False`, `[i, f, c]` for `output_gate=False`. Peephole vectors
`input_peephole`, `forget_peephole`, `output_peephole` (shape `(units,)`)
follow `bias`, one per gate that has its own weights (a coupled forget gate
has none: it follows `i_t`).
"""

_REFERENCES = """
References:
    - [Hochreiter & Schmidhuber, 1997. Long Short-Term Memory](
      https://doi.org/10.1162/neco.1997.9.8.1735)
    - [Gers, Schmidhuber & Cummins, 2000. Learning to Forget: Continual
      Prediction with LSTM](https://doi.org/10.1162/089976600300015015)
    - [Gers & Schmidhuber, 2000. Recurrent Nets that Time and Count](
      https://doi.org/10.1109/IJCNN.2000.861302)
    - [Greff et al., 2017. LSTM: A Search Space Odyssey](
      https://arxiv.org/abs/1503.04069)
    - [Tallec & Ollivier, 2018. Can Recurrent Neural Networks Warp Time?](
      https://arxiv.org/abs/1804.11188) (`chrono_timescale`)
"""

_ARGUMENTS = """
    units: Positive integer, dimensionality of `h_t` and `c_t`.
    forget_gate: Whether the cell has a forget gate (default `True`, Gers et
        al. 2000); `False` gives the 1997 LSTM.
    peepholes: Whether the gates also see the cell state through diagonal
        peephole weights (default `False`).
    coupled: Whether the forget gate is `1 - i_t` (CIFG, default `False`).
        Needs `forget_gate=True` and `input_gate=True`.
    input_gate: Whether the cell has an input gate (default `True`).
    output_gate: Whether the cell has an output gate (default `True`).
    output_activation: Squashing of `c_t` in `h_t` (default `"tanh"`);
        `None` for the identity.
    activation: Activation of the cell input `a_t` (default `"tanh"`).
    recurrent_activation: Activation of the gates (default `"sigmoid"`).
    use_bias: Whether the cell has a bias vector (default `True`).
    kernel_initializer: Initializer of `kernel` (default `"glorot_uniform"`).
    recurrent_initializer: Initializer of `recurrent_kernel` (default
        `"orthogonal"`).
    bias_initializer: Initializer of `bias` (default `"zeros"`).
    peephole_initializer: Initializer of the peephole vectors (default
        `"glorot_uniform"`).
    unit_forget_bias: If `True` (default), the forget-gate bias starts at 1
        (Jozefowicz et al. 2015); no effect without forget-gate weights.
    chrono_timescale: If set to the longest time lag `T` the cell should
        bridge, the forget-gate bias starts at `log(u)` with `u` uniform in
        `[1, T - 1]` and the input-gate bias at `-log(u)` ("chrono
        initialization", Tallec & Ollivier 2018, "Can recurrent neural
        networks warp time?"), so that at initialisation memories decay over
        1 to `T` steps instead of the ~3 steps of `f_t = sigmoid(1)`.
        Overrides `unit_forget_bias`. With `coupled=True` only the input
        bias is set (`f_t = 1 - i_t` follows). Needs a forget gate. Default:
        `None`.
    kernel_regularizer, recurrent_regularizer, bias_regularizer,
    peephole_regularizer: Regularizers of the weights (default `None`).
    kernel_constraint, recurrent_constraint, bias_constraint,
    peephole_constraint: Constraints of the weights (default `None`).
    dropout: Float in [0, 1], fraction of the inputs to drop (one mask per
        sequence). Default: 0.
    recurrent_dropout: Float in [0, 1], fraction of `h_{t-1}` to drop (one
        mask per sequence, shared by the gates). Default: 0.
    seed: Random seed for dropout and the chrono initialization."""


def _check_flags(
    forget_gate: bool,
    peepholes: bool,
    coupled: bool,
    input_gate: bool,
    output_gate: bool,
    chrono_timescale: int | None = None,
) -> None:
    if chrono_timescale is not None:
        if not forget_gate:
            raise ValueError(
                "chrono_timescale sets the forget-gate bias, but "
                "forget_gate=False removes the forget gate (the 1997 cell "
                "never forgets); expected forget_gate=True."
            )
        check_chrono_timescale(chrono_timescale)
    if coupled and not forget_gate:
        raise ValueError(
            "coupled=True defines the forget gate as f_t = 1 - i_t, but "
            "forget_gate=False removes it; expected forget_gate=True with "
            "coupled=True."
        )
    if coupled and not input_gate:
        raise ValueError(
            "coupled=True computes the forget gate from the input gate "
            "(f_t = 1 - i_t), but input_gate=False removes it; expected "
            "input_gate=True with coupled=True."
        )
    if peepholes and not (input_gate or forget_gate or output_gate):
        raise ValueError(
            "peepholes=True connects the cell state to the gates, but "
            "input_gate, forget_gate and output_gate are all False; expected "
            "at least one gate."
        )


@keras.saving.register_keras_serializable(package="layers")
class LSTMCell(RecurrentCell):
    __doc__ = (
        """Cell class of the `LSTM` layer: one step of the LSTM family.
"""
        + _EQUATIONS
        + """
Args:"""
        + _ARGUMENTS
        + """

Call arguments:
    inputs: A 2D tensor `(batch, input_dim)`.
    states: List `[h_{t-1}, c_{t-1}]` of 2D tensors `(batch, units)`.
    training: Python boolean; dropout is applied only when true.

Example:

>>> inputs = np.random.random((32, 10, 8))
>>> rnn = keras.layers.RNN(LSTMCell(4, peepholes=True))
>>> rnn(inputs).shape
(32, 4)
"""
        + _REFERENCES
    )

    def __init__(
        self,
        units: int,
        forget_gate: bool = True,
        peepholes: bool = False,
        coupled: bool = False,
        input_gate: bool = True,
        output_gate: bool = True,
        output_activation: str | None = "tanh",
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        peephole_initializer: Any = "glorot_uniform",
        unit_forget_bias: bool = True,
        chrono_timescale: int | None = None,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        peephole_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        peephole_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        check_scalar("units", units, integer=True, minimum=1)
        _check_flags(forget_gate, peepholes, coupled, input_gate, output_gate, chrono_timescale)
        super().__init__(
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.units = units
        self.forget_gate = forget_gate
        self.peepholes = peepholes
        self.coupled = coupled
        self.input_gate = input_gate
        self.output_gate = output_gate
        self.output_activation = activations.get(output_activation)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.peephole_initializer = initializers.get(peephole_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.chrono_timescale = chrono_timescale
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.peephole_regularizer = regularizers.get(peephole_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.peephole_constraint = constraints.get(peephole_constraint)
        self.state_size = [units, units]
        self.output_size = units

    @property
    def blocks(self) -> tuple[str, ...]:
        """The gates with weights, in layout order: a subset of "i f c o"."""
        has_forget_weights = self.forget_gate and not self.coupled
        present = {
            "i": self.input_gate,
            "f": has_forget_weights,
            "c": True,
            "o": self.output_gate,
        }
        return tuple(block for block, exists in present.items() if exists)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        width = len(self.blocks) * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(width,),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_peephole = self.forget_peephole = None
        self.output_peephole = None
        if self.peepholes:
            gate_names = {"i": "input", "f": "forget", "o": "output"}
            for block in self.blocks:
                if block in gate_names:
                    name = f"{gate_names[block]}_peephole"
                    setattr(self, name, self._add_peephole(name))

    def _add_peephole(self, name: str):
        return self.add_weight(
            shape=(self.units,),
            name=name,
            initializer=self.peephole_initializer,
            regularizer=self.peephole_regularizer,
            constraint=self.peephole_constraint,
        )

    def _bias_initializer(self):
        if self.chrono_timescale is not None:
            return self._chrono_bias_initializer()
        if not (self.unit_forget_bias and "f" in self.blocks):
            return self.bias_initializer
        units, blocks = self.units, self.blocks

        def initializer(_, *args, **kwargs):
            parts = [
                initializers.get("ones")((units,), *args, **kwargs)
                if block == "f"
                else self.bias_initializer((units,), *args, **kwargs)
                for block in blocks
            ]
            return ops.concatenate(parts)

        return initializer

    def _chrono_bias_initializer(self):
        """b_f = log(u), b_i = -log(u), u ~ U[1, T - 1]; other blocks use `bias_initializer`."""
        units, blocks = self.units, self.blocks

        def initializer(_, dtype=None, **kwargs):
            log_timescales = chrono_log_timescales(units, self.chrono_timescale, self.seed, dtype)
            chrono = {"f": log_timescales, "i": -log_timescales}
            return ops.concatenate(
                [chrono[block] if block in chrono else self.bias_initializer((units,), dtype=dtype) for block in blocks]
            )

        return initializer

    def project_inputs(self, inputs):
        """`W x_t + b` for every block; `inputs` is `(..., input_dim)`."""
        projected = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            projected = projected + self.bias
        return projected

    def recurrent_step(self, projected_inputs, states, training=None):
        h_tm1, c_tm1 = states[0], states[1]
        h_tm1 = self.dropped_recurrent_state(h_tm1, training)
        z = projected_inputs + ops.matmul(h_tm1, self.recurrent_kernel)
        pre = dict(zip(self.blocks, ops.split(z, len(self.blocks), axis=-1)))
        gate = self.recurrent_activation

        i = None
        if self.input_gate:
            i = gate(self._peep(pre["i"], self.input_peephole, c_tm1))
        a = self.activation(pre["c"])
        update = a if i is None else i * a
        if self.coupled:
            c = (1.0 - i) * c_tm1 + update
        elif self.forget_gate:
            f = gate(self._peep(pre["f"], self.forget_peephole, c_tm1))
            c = f * c_tm1 + update
        else:
            c = c_tm1 + update

        h = self.output_activation(c)
        if self.output_gate:
            h = gate(self._peep(pre["o"], self.output_peephole, c)) * h
        return h, [h, c]

    @staticmethod
    def _peep(preactivation, peephole, cell_state):
        if peephole is None:
            return preactivation
        return preactivation + peephole * cell_state

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "forget_gate": self.forget_gate,
            "peepholes": self.peepholes,
            "coupled": self.coupled,
            "input_gate": self.input_gate,
            "output_gate": self.output_gate,
            "output_activation": activations.serialize(self.output_activation),
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "unit_forget_bias": self.unit_forget_bias,
            "chrono_timescale": self.chrono_timescale,
        }
        for kind in ("kernel", "recurrent", "bias", "peephole"):
            config[f"{kind}_initializer"] = initializers.serialize(getattr(self, f"{kind}_initializer"))
            config[f"{kind}_regularizer"] = regularizers.serialize(getattr(self, f"{kind}_regularizer"))
            config[f"{kind}_constraint"] = constraints.serialize(getattr(self, f"{kind}_constraint"))
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="layers")
class LSTM(FusedRecurrentLayer):
    __doc__ = (
        """Long short-term memory layer (Hochreiter & Schmidhuber 1997).

Runs `LSTMCell` over a sequence with `keras.layers.RNN` semantics. With the
default flags the layer computes exactly `keras.layers.LSTM` and loads its
weights unchanged.

How the sequence is computed (`implementation`): on the TensorFlow backend
the standard LSTM runs on cuDNN on a GPU (as `keras.layers.LSTM` does), and
on a CPU every configuration with tanh activations and sigmoid gates (the
default, `forget_gate=False`, `peepholes=True`, `coupled=True`,
`input_gate=False`, `output_gate=False`) runs through TensorFlow's fused LSTM
kernel (BlockLSTMV2) where that is faster than the step-by-step loop;
everything else runs the generic `keras.ops` loop, one `LSTMCell` step per
time step. All paths compute the same numbers (to float rounding); the fused
CPU kernel has first-order gradients only (for gradients of gradients use
`implementation="loop"`).
"""
        + _EQUATIONS
        + """
Args:"""
        + _ARGUMENTS
        + """
    return_sequences: Whether to return the whole output sequence or only
        the last output (default `False`).
    return_state: Whether to also return the last `h_t` and `c_t`.
    go_backwards: Whether to process the sequence in reverse order.
    stateful: Whether the last states of a batch are the initial states of
        the next batch.
    unroll: Whether to unroll the time loop (short sequences only).
    zero_output_for_mask: Whether masked steps output zeros (with
        `return_sequences=True`) instead of the previous output.
    implementation: `"auto"` (default), `"fused"` or `"loop"`: the fastest
        path that applies, always a fused kernel (`ValueError`, saying why,
        where none applies), or always the generic loop; see
        `layers.base.FusedRecurrentLayer`.
    input_projection: Where the generic loop computes `W x_t + b`: `"step"`
        (default, inside each step, fastest on CPUs with few features) or
        `"sequence"` (all steps with one matrix product before the loop);
        see `layers.base.RecurrentLayer`. The fused kernels ignore it.

Call arguments:
    sequences: A 3D tensor `(batch, time, features)`.
    initial_state: Optional list `[h_0, c_0]`.
    mask: Optional boolean tensor `(batch, time)`; a `False` step leaves
        `h` and `c` unchanged.
    training: Python boolean; enables dropout.

Example:

>>> inputs = np.random.random((32, 10, 8))
>>> LSTM(4)(inputs).shape
(32, 4)
>>> outputs, h, c = LSTM(4, forget_gate=False, return_sequences=True,
...                      return_state=True)(inputs)
>>> outputs.shape, h.shape, c.shape
((32, 10, 4), (32, 4), (32, 4))
"""
        + _REFERENCES
    )

    cell_class = LSTMCell
    kernel_name = "lstm"
