"""The Forecaster's network: a recurrent encoder and a multi-horizon decoder.

The encoder reads the `lookback` past steps with a stack of recurrent layers
(any name of `layers.registry.available()`); its last hidden state `h_T`,
joined with the static covariates `s`, is the context of the forecast. The
decoder follows MQ-RNN (Wen et al. 2017): a global layer turns the context
into one context vector per horizon step, and a local layer, shared by all
steps, maps each step's context and its future-known covariates `x_{T+k}` to
the outputs of that step:

```
h_T         = RNN_L(... RNN_1(past))                    (encoder)
c_1..c_H    = reshape(W_g [h_T; s] + b_g, (H, d))       (global MLP)
z_k         = relu(W_l [c_k; x_{T+k}] + b_l)            (local MLP, k = 1..H)
y_hat_{T+k} = W_o z_k + b_o                             (one value per quantile)
```

All `H` steps come out at once (direct strategy); the recursive strategy uses
the same network with `H = 1`. Quantile outputs are kept in order by
construction: the lowest quantile is free and each next one adds a softplus
(non-negative) increment.

An ensemble of `k` members is one wider network: every member has its own
encoder and decoder, reads the last `L_k` steps of the common past input, and
starts from its own random weights; the outputs are stacked on a member axis,
`(batch, k, H[, quantiles])`, and the training loss is their mean, so one pass
over a batch trains all members (the N-BEATS practice of combining networks
that differ in initialisation and lookback; Oreshkin et al., ICLR 2020). The
forecaster combines the members by the median.

Reference: Wen, Torkkola, Narayanaswamy & Madeka, "A Multi-Horizon Quantile
Recurrent Forecaster", NeurIPS Time Series Workshop, 2017; Hochreiter &
Schmidhuber, "Long Short-Term Memory", Neural Computation 9(8), 1997.
"""

from __future__ import annotations

import keras
from keras import ops

from layers import registry


@keras.saving.register_keras_serializable(package="forecast")
class LastSteps(keras.layers.Layer):
    """The last `steps` time steps of a sequence: `x[:, -steps:, :]` (an ensemble member's lookback)."""

    def __init__(self, steps: int, **kwargs):
        super().__init__(**kwargs)
        self.steps = int(steps)

    def call(self, inputs):
        return inputs[:, -self.steps :, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps, *input_shape[2:])

    def get_config(self) -> dict:
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package="forecast")
class StackMembers(keras.layers.Layer):
    """Stacks the outputs of the ensemble members on a new axis 1: `(batch, k, ...)`."""

    def call(self, inputs):
        return ops.stack(inputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape), *input_shape[0][1:])


@keras.saving.register_keras_serializable(package="forecast")
class OrderedQuantiles(keras.layers.Layer):
    """Turns unconstrained outputs into non-decreasing quantiles along the last axis.

    ```
    q_1 = u_1
    q_j = q_{j-1} + softplus(u_j),   j = 2..k
    ```

    so `q_1 <= q_2 <= ... <= q_k` for any input `u`: quantile forecasts
    never cross.
    """

    def call(self, inputs):
        lowest = inputs[..., :1]
        increments = ops.softplus(inputs[..., 1:])
        return ops.concatenate([lowest, lowest + ops.cumsum(increments, axis=-1)], axis=-1)


def build_network(
    cell: str,
    units: int,
    num_layers: int,
    lookback: int,
    horizon: int,
    n_past_features: int,
    n_future_features: int = 0,
    n_static_features: int = 0,
    n_quantiles: int | None = None,
    dropout: float = 0.0,
    member_lookbacks: list[int] | None = None,
) -> keras.Model:
    """The encoder-decoder network for one configuration.

    Args:
        cell: recurrent layer name, one of `layers.registry.available()`.
        units: hidden units of every recurrent layer and of the decoder.
        num_layers: number of stacked recurrent layers.
        lookback: number of past steps the encoder reads.
        horizon: number of steps forecast at once.
        n_past_features: features per past step (scaled target first).
        n_future_features: future-known features per horizon step (0: no
            `"future"` input).
        n_static_features: static features per series (0: no `"static"` input).
        n_quantiles: number of quantile outputs per step, or None for a single
            point forecast per step.
        dropout: input dropout rate of the recurrent layers.
        member_lookbacks: the lookback of every ensemble member (each at most
            `lookback`); None builds a single network.

    Returns:
        An uncompiled `keras.Model` taking a dict with `"past"` of shape
        `(batch, lookback, n_past_features)` and, when present, `"future"`
        `(batch, horizon, n_future_features)` and `"static"`
        `(batch, n_static_features)`; it returns `(batch, horizon)` point
        forecasts or `(batch, horizon, n_quantiles)` ordered quantiles; an
        ensemble adds the member axis after the batch: `(batch, k, horizon[, n_quantiles])`.
    """
    past = keras.Input((lookback, n_past_features), name="past")
    inputs = {"past": past}
    static = future = None
    if n_static_features:
        static = inputs["static"] = keras.Input((n_static_features,), name="static")
    if n_future_features:
        future = inputs["future"] = keras.Input((horizon, n_future_features), name="future")
    if member_lookbacks is None:
        outputs = _member(past, static, future, cell, units, num_layers, horizon, n_quantiles, dropout, "")
        return keras.Model(inputs, outputs, name=f"{cell}_forecaster")
    members = []
    for member, member_lookback in enumerate(member_lookbacks):
        if not 0 < member_lookback <= lookback:
            raise ValueError(f"member lookbacks must lie in 1..lookback={lookback}; got {member_lookback}")
        member_past = past if member_lookback == lookback else LastSteps(member_lookback, name=f"past_{member}")(past)
        members.append(
            _member(member_past, static, future, cell, units, num_layers, horizon, n_quantiles, dropout, f"_{member}")
        )
    return keras.Model(inputs, StackMembers(name="members")(members), name=f"{cell}_ensemble_forecaster")


def _member(past, static, future, cell, units, num_layers, horizon, n_quantiles, dropout, suffix: str):
    """One encoder-decoder (layer names end with `suffix`) on the given inputs."""
    context = past
    for layer in registry.stack(cell, units, num_layers, dropout=dropout):
        context = layer(context)
    context = keras.layers.Identity(name=f"encoding{suffix}")(context)
    if static is not None:
        context = keras.layers.Concatenate(name=f"context{suffix}")([context, static])
    step_contexts = keras.layers.Dense(horizon * units, name=f"global_mlp{suffix}")(context)
    step_inputs = keras.layers.Reshape((horizon, units), name=f"step_contexts{suffix}")(step_contexts)
    if future is not None:
        step_inputs = keras.layers.Concatenate(name=f"step_inputs{suffix}")([step_inputs, future])
    hidden = keras.layers.Dense(units, activation="relu", name=f"local_mlp{suffix}")(step_inputs)
    outputs = keras.layers.Dense(n_quantiles or 1, name=f"step_outputs{suffix}")(hidden)
    if n_quantiles:
        return OrderedQuantiles(name=f"ordered_quantiles{suffix}")(outputs)
    return keras.layers.Reshape((horizon,), name=f"point_forecast{suffix}")(outputs)
