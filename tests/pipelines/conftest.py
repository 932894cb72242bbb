"""Shared builders of small long-format frames for the pipelines tests."""

import numpy as np
import pandas as pd
import pytest


def build_long_frame(lengths, *, start="2021-01-01", freq="D", seed=0, tz=None, integer_time=False):
    """Long-format frame: series `s0, s1, ...` of the given lengths, y = random walk + level per series,
    a past covariate `temp`, a future covariate `promo` (0/1) and static `region` (str) and `size` (float)."""
    rng = np.random.default_rng(seed)
    parts = []
    for number, length in enumerate(lengths):
        if integer_time:
            times = np.arange(length, dtype=np.int64) * 2 + 100
        else:
            times = pd.date_range(start, periods=length, freq=freq, tz=tz)
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{number}",
                    "ds": times,
                    "y": 10.0 * (number + 1) + np.cumsum(rng.normal(size=length)),
                    "temp": rng.normal(size=length),
                    "promo": rng.integers(0, 2, size=length).astype(float),
                    "region": ["north", "south", "east"][number % 3],
                    "size": float(number + 2),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def long_frame():
    """Three daily series of lengths 30, 24 and 40."""
    return build_long_frame([30, 24, 40])


@pytest.fixture
def make_long_frame():
    return build_long_frame
