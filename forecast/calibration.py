"""Prediction intervals that hold: conformalized quantile regression, calibrated once at fit time.

Quantiles trained with the pinball loss are often too narrow out of sample. Conformalized quantile
regression (Romano, Patterson & Candès, "Conformalized Quantile Regression", NeurIPS 2019) widens
(or narrows) each central interval `[q_lo, q_hi]` (`q_lo = q`, `q_hi = 1 - q`, nominal coverage
`1 - 2q`) by an amount learned on held-out windows the network was not trained on. Series differ
in scale, so the scores are divided by each series' MASE scale `s_i`, its in-sample naive MAE
(Hyndman & Koehler 2006), made positive where undefined: `forecast.metrics.positive_mase_scales`.

```
E_ik  = max(q_lo_ik - y_ik, y_ik - q_hi_ik) / s_i          (held-out window of series i, step k)
Q_k   = the ceil((n + 1)(1 - 2q)) / n empirical quantile of E_1k .. E_nk
interval of a forecast of series i at step k:  [q_lo - Q_k s_i, q_hi + Q_k s_i]
```

Errors grow with the step ahead, so every step gets its own offset. With fewer than `MIN_WINDOWS_PER_STEP`
held-out windows a quantile per step would rest on a handful of scores; the scores of all steps are then pooled
after dividing each by the typical error of its step (normalized conformal prediction; Papadopoulos et al. 2002;
Lei, G'Sell, Rinaldo, Tibshirani & Wasserman, JASA 113(523), 2018):

```
d_k   = mean_i |y_ik - y_hat_ik| / s_i,  made non-decreasing in k (its running maximum)      (y_hat: the median)
Q     = the ceil((n + 1)(1 - 2q)) / n empirical quantile of all n x horizon scores E_ik / d_k
Q_k   = Q d_k
```

The finite-sample correction counts windows (`n`), not scores: the steps of one window share its errors, so
they are not independent draws. With 3 windows (a single series) it takes the largest pooled score; counting
the `3 h` scores covered 67.9% of the validation values of the 20 single series of `benchmarks/accuracy.py`.

The quantiles of each forecast are then sorted (the rearrangement of Chernozhukov, Fernández-Val & Galichon
2010), so adjusted intervals never cross.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_WINDOWS_PER_STEP = 30
"""Held-out windows below which the scores of all steps are pooled, each divided by its step's typical error."""


class ConformalIntervals:
    """Per-interval, per-step offsets `Q` (in units of each series' MASE scale) learned on held-out windows.

    Attributes:
        offsets: lower quantile level `q` -> `Q_1 .. Q_H` for the interval `[q, 1 - q]`.
    """

    def __init__(self, offsets: dict[float, Sequence[float]]):
        self.offsets = {float(level): np.asarray(values, dtype=np.float64) for level, values in offsets.items()}

    @classmethod
    def fit(
        cls, forecasts: np.ndarray, actuals: np.ndarray, scales: np.ndarray, quantiles: Sequence[float]
    ) -> ConformalIntervals:
        """Learn the offsets from held-out forecasts.

        Args:
            forecasts: `(n, horizon, len(quantiles))` quantile forecasts of the held-out windows.
            actuals: `(n, horizon)` what happened.
            scales: `(n,)` the scale `s_i` of each window's series (`forecast.metrics.positive_mase_scales`).
            quantiles: the levels of the last axis of `forecasts` (sorted).
        """
        levels = [float(q) for q in quantiles]
        median = forecasts[..., levels.index(0.5)] if 0.5 in levels else forecasts.mean(axis=-1)
        step_scale = _step_scales(median, actuals, scales)
        offsets = {}
        for position, low in enumerate(levels):
            high = round(1.0 - low, 12)
            if low >= 0.5 or high not in levels:
                continue
            upper = levels.index(high)
            scores = np.maximum(forecasts[..., position] - actuals, actuals - forecasts[..., upper]) / scales[:, None]
            coverage = 1.0 - 2.0 * low
            if scores.shape[0] >= MIN_WINDOWS_PER_STEP:
                offsets[low] = _finite_sample_quantile(scores, coverage, axis=0)
            else:
                normalized = (scores / step_scale).reshape(-1)
                pooled = _finite_sample_quantile(normalized, coverage, axis=0, units=scores.shape[0])
                offsets[low] = pooled * step_scale
        return cls(offsets)

    def apply(self, values: np.ndarray, levels: Sequence[float], steps: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Widen the intervals of quantile forecasts and sort each row's quantiles.

        Args:
            values: `(rows, len(levels))` quantile forecasts, one row per series and step.
            levels: the sorted quantile levels of the columns of `values` (those of `fit`).
            steps: `(rows,)` the horizon step of each row (0-based).
            scales: `(rows,)` the scale `s_i` of each row's series (`forecast.metrics.positive_mase_scales`).

        Returns:
            The adjusted `(rows, len(levels))` forecasts (a new array).
        """
        levels = [float(level) for level in levels]
        adjusted = np.array(values, dtype=np.float64)
        for low, offsets in self.offsets.items():
            widening = offsets[steps] * scales
            adjusted[:, levels.index(low)] -= widening
            adjusted[:, levels.index(round(1.0 - low, 12))] += widening
        return np.sort(adjusted, axis=1)

    def get_config(self) -> dict:
        return {"offsets": [[level, values.tolist()] for level, values in self.offsets.items()]}

    @classmethod
    def from_config(cls, config: dict) -> ConformalIntervals:
        return cls(dict(config["offsets"]))


def _step_scales(median: np.ndarray, actuals: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """`d_k`: the mean scaled absolute error of every step, non-decreasing in k, floored so that it divides."""
    errors = np.abs(actuals - median) / scales[:, None]
    typical = np.maximum.accumulate(errors.mean(axis=0))
    floor = max(float(typical.max()) * 1e-3, 1e-12)
    return np.maximum(typical, floor)


def _finite_sample_quantile(scores: np.ndarray, coverage: float, axis: int, units: int | None = None) -> np.ndarray:
    """The `ceil((n + 1) coverage) / n` empirical quantile (the largest score when that exceeds 1), with `n` the
    independent units the scores come from (`units`; default: the scores along `axis`)."""
    n = scores.shape[axis] if units is None else units
    level = min(1.0, math.ceil((n + 1) * coverage) / n)
    return np.quantile(scores, level, axis=axis, method="inverted_cdf")
