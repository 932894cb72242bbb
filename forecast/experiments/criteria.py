"""Success criteria of the 1997 LSTM experiments: absolute error at the sequence end.

A sequence counts as processed correctly when every output's absolute error at
its last step is below a tolerance:

```
correct_n = all_j |y_nj - y_hat_nj| < tolerance
accuracy  = mean_n correct_n
```

The tolerances are 0.2 (two-sequence, experiment 3), 0.04 (adding and
multiplication, experiments 4 and 5) and 0.3 (temporal order, experiment 6).

Reference: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural
Computation 9(8), 1997, Section 5.
"""

from __future__ import annotations

import numpy as np


def sequences_correct(targets: np.ndarray, predictions: np.ndarray, tolerance: float) -> np.ndarray:
    """Boolean array `(n,)`: True where every output's absolute error is below `tolerance`."""
    targets = _as_2d("targets", targets)
    predictions = _as_2d("predictions", predictions)
    if targets.shape != predictions.shape:
        raise ValueError(
            "targets and predictions must have the same shape (sequences, outputs); "
            f"found {targets.shape} and {predictions.shape}."
        )
    if tolerance <= 0:
        raise ValueError(f"tolerance must be positive; found {tolerance}.")
    return np.all(np.abs(targets - predictions) < tolerance, axis=1)


def accuracy(targets: np.ndarray, predictions: np.ndarray, tolerance: float) -> float:
    """Fraction of sequences whose every output is within `tolerance` of its target."""
    return float(np.mean(sequences_correct(targets, predictions, tolerance)))


def _as_2d(name: str, values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype="float64")
    if array.ndim == 1:
        return array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (sequences,) or (sequences, outputs); found {array.shape}.")
    return array
