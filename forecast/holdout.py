"""Which windows train the network and which are held out to judge it: rolling validation origins per series.

Windows of a series are consecutive origins (stride 1), oldest first. With `r` the rank of a window from the
series' end (0 = the last window), `K` validation origins per series at most, `h` the horizon and the
spacing `s = ceil(h / 3)`:

```
validation:  r in {0, s, 2s, ..., (K_i - 1) s}
training:    r >= (K_i - 1) s + h            (every training target ends before the first validation target)
K_i        = the most origins k <= K for which the series keeps a training window: n_i >= (k - 1) s + h + 1
```

where `n_i` is the series' number of windows; windows in between are dropped, and a series too short for
one validation origin gives all its windows to training. Several origins a third of a horizon apart give the
choice of combination, early stopping and the conformal offsets more than one noisy window per series, at the
cost of `(K - 1) s` more held-out values than a single window (two thirds of a horizon for `K = 3`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipelines.columns import ID
from pipelines.windows import Windows


def origin_spacing(horizon: int) -> int:
    """`s = ceil(h / 3)`: the steps between consecutive validation origins of a series."""
    return max(1, math.ceil(horizon / 3))


def validation_split(windows: Windows, validation_windows: int, horizon: int) -> tuple[Windows, Windows | None]:
    """`(training, validation)` as the module docstring says; validation is None when no series has an origin.

    `validation_windows = 0` holds nothing out.
    """
    if validation_windows == 0:
        return windows, None
    series = windows.origin_ids
    rank = windows.index.groupby(ID, sort=False).cumcount(ascending=False).to_numpy()
    count = pd.Series(series).map(pd.Series(series).value_counts()).to_numpy()
    spacing = origin_spacing(horizon)
    origins = np.clip((count - horizon - 1) // spacing + 1, 0, validation_windows)
    held = np.where(origins > 0, (origins - 1) * spacing + horizon, 0)
    is_validation = (origins > 0) & (rank % spacing == 0) & (rank < origins * spacing)
    is_training = rank >= held
    validation = windows.select(np.flatnonzero(is_validation)) if is_validation.any() else None
    return windows.select(np.flatnonzero(is_training)), validation
