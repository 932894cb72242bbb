"""Row lookup in a long frame by `(unique_id, ds)`, with NumPy sorting instead of a pandas merge.

The frame is series-contiguous and in time order within each series (as `pipelines.validation.check_frame`
leaves it). `locate_rows` gives each row the key `series_position * n_times + time_rank`, which then increases
strictly down the frame, so every wanted `(id, time)` is found by one binary search (`np.searchsorted`).
`rows_in_series` finds times where each lookup's series rows are already known, by a binary search run on
all lookups at once, without sorting the frame's times. `last_values` and `values_differ` keep each series' last
values and tell where a later frame holds other values at the same rows.
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


def time_values(times) -> np.ndarray:
    """Times as int64, for ordering and arithmetic: integers as they are, datetimes as UTC nanoseconds."""
    if pd.api.types.is_integer_dtype(getattr(times, "dtype", None)):
        return np.asarray(times, dtype=np.int64)
    return pd.DatetimeIndex(times).as_unit("ns").asi8


def rows_in_series(times: np.ndarray, first_rows: np.ndarray, last_rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For every lookup `k`, the row `r` in `first_rows[k] .. last_rows[k]` with `times[r] == wanted[k]`, or -1.

    `times` (int64, see `time_values`) increase strictly over each searched range, as they do within a series
    of a validated frame. Each step of the binary search halves every lookup's range at once, so `n` lookups in
    ranges of at most `L` rows cost `ceil(log2(L + 1))` vectorised steps.
    """
    first_rows = np.asarray(first_rows, dtype=np.int64)
    last_rows = np.asarray(last_rows, dtype=np.int64)
    wanted = np.asarray(wanted, dtype=np.int64)
    if len(times) and (last_rows >= first_rows).all() and (times[last_rows] == wanted).all():
        return last_rows.copy()  # each time sought is its range's last (e.g. forecasts from where a fit ended)
    low, high = first_rows.copy(), last_rows + 1  # the row sought lies in [low, high)
    longest = int((high - low).max(initial=0))
    for _ in range(longest.bit_length()):
        middle = (low + high) // 2
        below = times[np.minimum(middle, len(times) - 1)] < wanted
        searching = low < high
        low = np.where(searching & below, middle + 1, low)
        high = np.where(searching & ~below, middle, high)
    found = (low <= last_rows) & (times[np.clip(low, 0, max(len(times) - 1, 0))] == wanted)
    return np.where(found, low, -1)


def sorted_positions(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The position of each of `wanted` in `keys` (sorted and unique, e.g. a frame's `series_ids`), -1 where absent."""
    keys, wanted = np.asarray(keys), np.asarray(wanted)
    if keys.size == 0:
        return np.full(wanted.shape, -1, dtype=np.int64)
    positions = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    return np.where(keys[positions] == wanted, positions, -1).astype(np.int64)


def last_values(y: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """`[series, length]`: each series' last `length` values (series `i` is `y[starts[i] : starts[i + 1]]`), NaN
    before the first value of a shorter one."""
    starts = np.asarray(starts, dtype=np.int64)
    rows = starts[1:, None] - length + np.arange(length)
    values = np.asarray(y, dtype=np.float64)[np.clip(rows, 0, max(len(y) - 1, 0))]
    values[rows < starts[:-1, None]] = np.nan
    return values


RESTATED_TOLERANCE = 1e-6
"""Relative difference beyond which a value counts as changed: above float32 rounding (6e-8), so that data stored
as float32 at fit and read back as float64 (from CSV) count as the same values."""


def values_differ(
    y: np.ndarray, first_rows: np.ndarray, end_rows: np.ndarray, kept: np.ndarray, kept_rows: np.ndarray
) -> np.ndarray:
    """For every lookup `k`, whether the values `y[first_rows[k] : end_rows[k] + 1]` differ from the row
    `kept[kept_rows[k]]` (of `last_values`), the two aligned at their last value, where both have values; False for
    a lookup without either (`end_rows[k] < 0` or `kept_rows[k] < 0`)."""
    end_rows = np.asarray(end_rows, dtype=np.int64)
    kept_rows = np.asarray(kept_rows, dtype=np.int64)
    if not len(y) or not kept.size:
        return np.zeros(len(end_rows), dtype=bool)
    length = kept.shape[1]
    rows = end_rows[:, None] - length + 1 + np.arange(length)
    given = np.asarray(y, dtype=np.float64)[np.clip(rows, 0, len(y) - 1)]
    expected = kept[np.maximum(kept_rows, 0)]
    compared = (rows >= np.asarray(first_rows)[:, None]) & ~np.isnan(expected)
    compared &= ((end_rows >= 0) & (kept_rows >= 0))[:, None]
    changed = np.abs(given - expected) > RESTATED_TOLERANCE * np.maximum(np.abs(given), np.abs(expected))
    return (compared & changed).any(axis=1)
