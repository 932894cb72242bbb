"""Rolling validation origins: hand-counted windows of series of several lengths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.holdout import origin_spacing, validation_split
from pipelines.windows import SeriesWindows


def windows_of(lengths: dict[str, int], lookback: int, horizon: int):
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": key, "ds": np.arange(n), "y": np.arange(n, dtype=float) + 1})
            for key, n in lengths.items()
        ]
    )
    return SeriesWindows(lookback=lookback, horizon=horizon, min_past=None, scaler=None).fit_transform(frame)


def origins_by_series(windows) -> dict[str, list[int]]:
    index = windows.index
    return {key: sorted(group["ds"].tolist()) for key, group in index.groupby("unique_id")}


def test_the_spacing_is_a_third_of_the_horizon_rounded_up():
    assert [origin_spacing(h) for h in (1, 2, 3, 4, 6, 8, 18)] == [1, 1, 1, 2, 2, 3, 6]


def test_validation_origins_and_training_windows_by_hand():
    # lookback 2, horizon 6 (spacing 2): a series of n values has n - 7 windows, origins ds = 1 .. n - 7.
    windows = windows_of({"long": 30, "mid": 17, "short": 14, "tiny": 10}, lookback=2, horizon=6)
    training, validation = validation_split(windows, validation_windows=3, horizon=6)
    found = origins_by_series(validation)
    # long: 23 windows, origins 1..23; K=3 -> ranks 0, 2, 4 -> origins 23, 21, 19.
    assert found["long"] == [19, 21, 23]
    # mid: 10 windows (origins 1..10): K = min(3, (10 - 7) // 2 + 1) = 2 -> origins 10, 8.
    assert found["mid"] == [8, 10]
    # short: 7 windows: K = (7 - 7) // 2 + 1 = 1 -> origin 7; tiny: 3 windows < 7: no validation.
    assert found["short"] == [7] and "tiny" not in found
    train = origins_by_series(training)
    # Training targets end before the first validation target: rank >= (K - 1) * 2 + 6.
    assert train["long"] == list(range(1, 23 - 10 + 1))  # ranks >= 10 -> origins <= 13
    assert train["mid"] == list(range(1, 10 - 8 + 1))  # ranks >= 8 -> origins <= 2
    assert train["short"] == [1]  # ranks >= 6 -> origin 1
    assert train["tiny"] == [1, 2, 3]  # no validation: every window trains
    # No training target reaches a validation window's first target, in any series.
    last_train = {key: max(origins) + 6 for key, origins in train.items()}
    assert all(last_train[key] <= min(origins) for key, origins in found.items())


@pytest.mark.parametrize("horizon", [1, 4])
def test_one_origin_is_the_last_window_as_before(horizon):
    windows = windows_of({"a": 20}, lookback=3, horizon=horizon)
    training, validation = validation_split(windows, validation_windows=1, horizon=horizon)
    n = len(windows)
    assert len(validation) == 1 and len(training) == n - horizon


def test_no_validation_origins_hold_nothing_out():
    windows = windows_of({"a": 20}, lookback=3, horizon=4)
    training, validation = validation_split(windows, validation_windows=0, horizon=4)
    assert validation is None and len(training) == len(windows)
