"""Row lookup in a long frame by `(unique_id, ds)`, with NumPy sorting instead of a pandas merge.

The frame is series-contiguous and in time order within each series (as `pipelines.validation.check_frame`
leaves it). Each row gets the key `series_position * n_times + time_rank`, which then increases strictly down
the frame, so every wanted `(id, time)` is found by one binary search (`np.searchsorted`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.columns import ID, TIME


def locate_rows(
    frame: pd.DataFrame, series_ids: np.ndarray, times: np.ndarray | pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """For every `(series_ids[k], times[k])`, the row of `frame` holding it and the first row of its series.

    Args:
        frame: long frame with `unique_id` and `ds`, series-contiguous, each series in time order.
        series_ids: the wanted series, one per lookup.
        times: the wanted timestamps (missing values allowed), one per lookup.

    Returns:
        `(rows, first_rows)`, int64 arrays of the lookups' length; both are -1 where `frame` has no such row.
    """
    frame_ids = frame[ID].to_numpy()
    wanted_ids = np.asarray(series_ids)
    series_codes, _ = pd.factorize(np.concatenate([frame_ids.astype(object), wanted_ids.astype(object)]))
    frame_series, wanted_series = series_codes[: len(frame)], series_codes[len(frame) :]
    starts = np.flatnonzero(np.diff(frame_series, prepend=-1))  # codes count up from 0, one series after another
    frame_times = frame[TIME].to_numpy()
    wanted_times = times.to_numpy() if isinstance(times, pd.Series) else np.asarray(times)
    time_ranks, distinct_times = pd.factorize(np.concatenate([frame_times, wanted_times]), sort=True)
    n_times = np.int64(len(distinct_times) + 1)
    frame_keys = frame_series.astype(np.int64) * n_times + time_ranks[: len(frame)]
    wanted_ranks = time_ranks[len(frame) :]
    wanted_keys = wanted_series.astype(np.int64) * n_times + wanted_ranks
    found = (wanted_series < len(starts)) & (wanted_ranks >= 0)
    rows = np.searchsorted(frame_keys, wanted_keys)
    found &= rows < len(frame)
    found[found] = frame_keys[rows[found]] == wanted_keys[found]
    rows = np.where(found, rows, -1).astype(np.int64)
    first_rows = np.full(len(rows), -1, dtype=np.int64)
    first_rows[found] = starts[wanted_series[found]]
    return rows, first_rows
