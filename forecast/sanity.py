"""Forecasts that cannot be: the sane band around a series' history, and non-negative series.

A network trained on other series can extrapolate one series far beyond anything it has done (a panel of three
annual series of about 30,000 was once forecast at -24,932). A point forecast is sane when every step lies within
`SANE_BAND` times the history's range beyond its minimum and maximum:

```
min(y) - B (max(y) - min(y))  <=  y_hat_t  <=  max(y) + B (max(y) - min(y)),      B = SANE_BAND
```

(with the range floored at 1% of the largest absolute value, so that a flat history still has a band). The
Forecaster treats a network forecast outside the band as a failed network for that series and uses exponential
smoothing alone there, with a warning naming the series; exponential smoothing itself discards a candidate model
whose forecasts leave the band (`forecast.exponential_smoothing.fit_ets`). A series whose history is never
negative (sales, demand, counts) gets no negative forecast or quantile (`nonnegative="auto"`).
"""

from __future__ import annotations

import numpy as np

SANE_BAND = 3.0
"""How many history ranges beyond the history's minimum and maximum a sane forecast may go."""


def history_range(y: np.ndarray, origin_rows: np.ndarray, first_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minimum and maximum of every history `y[first_rows[k] : origin_rows[k] + 1]`."""
    low = np.empty(len(origin_rows))
    high = np.empty(len(origin_rows))
    for k, (first, origin) in enumerate(zip(first_rows.tolist(), origin_rows.tolist())):
        history = y[first : origin + 1]
        low[k], high[k] = history.min(), history.max()
    return low, high


def within_sane_band(point: np.ndarray, low: np.ndarray, high: np.ndarray, band: float = SANE_BAND) -> np.ndarray:
    """`(n,)`: whether every step of each point forecast `(n, horizon)` lies in its history's sane band."""
    spread = np.maximum(high - low, 0.01 * np.maximum(np.abs(low), np.abs(high)))
    spread = np.where(spread > 0, spread, 1.0)
    lower, upper = low - band * spread, high + band * spread
    return ((point >= lower[:, None]) & (point <= upper[:, None])).all(axis=1)
