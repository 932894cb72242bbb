"""Training losses of the Forecaster's network: pinball for quantiles, sMAPE for a scale-free point loss.

These are the Keras-tensor forms of measures defined once in `forecast.metrics` (NumPy): a
loss trains on the metric of the same formula and the metric scores the result. The MASE-scaled
loss needs no class of its own: it is the MAE weighted per window by `level_w / s_i` (the
window's scale over its series' MASE scale, `forecast.metrics.positive_mase_scales`; see
`forecast.forecaster`), passed to Keras as sample weights.

The pinball (quantile) loss of Koenker & Bassett (1978) makes a network output
estimate conditional quantiles: its expectation is minimised by the
`q`-quantile of the target's distribution.

```
e      = y - y_hat_q
rho_q  = max(q * e, (q - 1) * e)
L      = mean over samples, horizon steps and quantiles of rho_q
```

Reference: Koenker & Bassett, "Regression Quantiles", Econometrica 46(1),
1978; Wen et al., "A Multi-Horizon Quantile Recurrent Forecaster" (MQ-RNN),
NeurIPS Time Series Workshop, 2017.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="forecast")
class PinballLoss(keras.losses.Loss):
    """Mean pinball loss over several quantiles at once: the training form of `forecast.metrics.pinball_loss`.

    ```
    L = mean_{n, t, j} max(q_j * e_ntj, (q_j - 1) * e_ntj),   e_ntj = y_nt - y_hat_ntj
    ```

    Args:
        quantiles: the quantile levels `q_j` in (0, 1), in the order of the
            last axis of the predictions.

    Call arguments:
        y_true: targets of shape `(batch, horizon)`.
        y_pred: quantile predictions of shape `(batch, horizon, len(quantiles))`.

    Example:

    ```python
    loss = PinballLoss([0.1, 0.5, 0.9])
    loss(np.zeros((2, 3)), np.ones((2, 3, 3)))  # mean of 0.9, 0.5, 0.1 = 0.5
    ```
    """

    def __init__(self, quantiles: Sequence[float], name: str = "pinball", **kwargs):
        super().__init__(name=name, **kwargs)
        levels = [float(q) for q in quantiles]
        if not levels or any(not 0.0 < q < 1.0 for q in levels):
            raise ValueError(f"quantiles must be a non-empty list of levels in (0, 1); found {list(quantiles)!r}.")
        self.quantiles = levels

    def call(self, y_true, y_pred):
        levels = ops.convert_to_tensor(self.quantiles, dtype=y_pred.dtype)
        errors = ops.expand_dims(ops.cast(y_true, y_pred.dtype), -1) - y_pred
        pinball = ops.maximum(levels * errors, (levels - 1.0) * errors)
        return ops.mean(pinball, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "quantiles": self.quantiles}


@keras.saving.register_keras_serializable(package="forecast")
class SMAPELoss(keras.losses.Loss):
    """Symmetric mean absolute percentage error, the M3 competition's score, as a training loss.

    It trains on `forecast.metrics.smape` (the terms `forecast.metrics.smape_terms`), with one
    difference: the denominator is floored at `eps` (the metric instead counts a `0 / 0` term as 0).

    ```
    L = mean_{n, t} 200 |y_nt - y_hat_nt| / max(|y_nt| + |y_hat_nt|, eps)
    ```

    It is scale-free, so every window weighs the same whatever its level (N-BEATS trains on it;
    Oreshkin et al., "N-BEATS: Neural basis expansion analysis for interpretable time series
    forecasting", ICLR 2020). The target and forecast may be scaled by any positive factor per
    window: the loss does not change. `eps` keeps a window of zeros finite.

    Args:
        epsilon: the smallest denominator.
    """

    def __init__(self, epsilon: float = 1e-3, name: str = "smape", **kwargs):
        super().__init__(name=name, **kwargs)
        self.epsilon = float(epsilon)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        denominator = ops.maximum(ops.abs(y_true) + ops.abs(y_pred), self.epsilon)
        return ops.mean(200.0 * ops.abs(y_true - y_pred) / denominator, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}
