"""Chronological train / validation / test splits of long-format series, without target leakage.

Rule. Each series, sorted by time, is cut into three consecutive blocks: train (oldest), then
validation, then test (newest). A block is given per series either by a size (an int number of
time steps, or a float fraction of the series' length, rounded to the nearest step) or by a
start timestamp (`val_start <= ds < test_start` is validation, `ds >= test_start` test).

Context. A window needs `lookback` steps of history before its first target. So the
validation and test frames returned start with the `lookback` rows just before their block
(taken from the blocks before it); the train frame holds the train block only. Windowing each
frame with the same `SeriesWindows(lookback, horizon)` then gives, for each part, exactly the
windows whose targets lie entirely inside that part's block:

- a training target lies in the train block, a validation target in the validation block, a
  test target in the test block, so no validation or test target is ever a training target
  (the last training target precedes the first validation target of every series);
- the past of a validation or test window may reach into earlier blocks, which is allowed: those
  values are observed before the forecast origin.

A block with fewer than `horizon` steps yields no windows for that series (`SeriesWindows`
raises, or drops the series with `short_series="drop"`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from pipelines.checks import check_integer
from pipelines.columns import ID, TIME
from pipelines.validation import ValidationError, parse_time_column, shown


class TimeSplit(NamedTuple):
    """The frames of a chronological split (`val`/`test` include `lookback` context rows)."""

    train: pd.DataFrame
    val: pd.DataFrame | None
    test: pd.DataFrame | None


def time_split(
    df: pd.DataFrame,
    *,
    lookback: int,
    val_size: int | float | None = None,
    test_size: int | float | None = None,
    val_start=None,
    test_start=None,
) -> TimeSplit:
    """Split every series chronologically into train, validation and test frames (see the module docstring).

    Args:
        df: long-format frame; not modified.
        lookback: context rows prepended to the validation and test frames (the windows' lookback).
        val_size, test_size: steps (int) or fraction of each series' length (float in (0, 1)).
        val_start, test_start: first timestamp (or integer time) of the validation / test block;
            an alternative to the size of the same block.

    Returns:
        `TimeSplit(train, val, test)`, each sorted by (series, time) with a RangeIndex;
        `val`/`test` are None when neither their size nor their start is given.
    """
    check_integer("lookback", lookback, minimum=0)
    for size_name, size, start_name, start in (
        ("val_size", val_size, "val_start", val_start),
        ("test_size", test_size, "test_start", test_start),
    ):
        if size is not None and start is not None:
            raise ValueError(f"Give {size_name} or {start_name}, not both.")
    missing = [column for column in (ID, TIME) if column not in df.columns]
    if missing:
        raise ValidationError(f"Missing columns {missing}; the frame has columns {list(df.columns)}.")
    if len(df) == 0:
        raise ValidationError("Expected at least one row, found an empty frame.")

    times = parse_time_column(df)
    time_values = times if isinstance(times, np.ndarray) else times.as_unit("ns").asi8
    codes = pd.factorize(df[ID], sort=True)[0]
    order = np.lexsort((time_values, codes))
    frame = df.take(order).reset_index(drop=True)
    codes, time_values = codes[order], time_values[order]
    lengths = np.bincount(codes)
    position = np.arange(codes.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)

    boundaries = {
        "val": _time_value("val_start", val_start, times),
        "test": _time_value("test_start", test_start, times),
    }
    if None not in boundaries.values() and boundaries["val"] >= boundaries["test"]:
        raise ValueError(
            f"val_start={val_start!r} must come before test_start={test_start!r}: the validation block ends where "
            "the test block starts."
        )
    test_begin = _block_begin(codes, time_values, lengths, test_size, boundaries["test"], "test_size", end=lengths)
    val_begin = _block_begin(codes, time_values, lengths, val_size, boundaries["val"], "val_size", end=test_begin)
    empty_train = val_begin <= 0
    if empty_train.any():
        series = int(np.flatnonzero(empty_train)[0])
        raise ValidationError(
            f"Series {shown(frame[ID].iloc[np.searchsorted(codes, series)])} has {lengths[series]} rows and no training rows "
            f"left after the validation and test blocks."
        )

    row_val_begin, row_test_begin = val_begin[codes], test_begin[codes]
    train = frame.loc[position < row_val_begin].reset_index(drop=True)
    val = None
    if val_size is not None or val_start is not None:
        val = frame.loc[(position >= row_val_begin - lookback) & (position < row_test_begin)].reset_index(drop=True)
    test = None
    if test_size is not None or test_start is not None:
        test = frame.loc[position >= row_test_begin - lookback].reset_index(drop=True)
    return TimeSplit(train=train, val=val, test=test)


def _time_value(name: str, start, times: pd.DatetimeIndex | np.ndarray) -> int | None:
    """A block start as the int64 the sorted times are compared with (UTC nanoseconds for datetimes)."""
    if start is None:
        return None
    if isinstance(times, np.ndarray):
        if isinstance(start, (bool, np.bool_)) or not isinstance(start, (int, np.integer)):
            raise ValueError(f"{name}={start!r} must be an integer step: the time column {TIME!r} holds integers.")
        return int(start)
    if isinstance(start, (bool, int, float, np.number)):
        raise ValueError(f"{name}={start!r} must be a time stamp: the time column {TIME!r} holds dates.")
    try:
        timestamp = pd.Timestamp(start).as_unit("ns")  # pandas reads 'March' as 1 March of year 1: out of range
    except (TypeError, ValueError, OverflowError):
        timestamp = pd.NaT
    if timestamp is pd.NaT:
        raise ValueError(f"{name}={start!r} is not a time stamp (e.g. '2021-01-01').")
    if times.tz is not None and timestamp.tz is None:
        timestamp = timestamp.tz_localize(times.tz)
    elif times.tz is None and timestamp.tz is not None:
        raise ValueError(f"{name}={start!r} has a time zone; the time column {TIME!r} has none.")
    return int(timestamp.value)


def _block_begin(codes, time_values, lengths, size, boundary, size_name, end) -> np.ndarray:
    """Per series: the position where the block that ends at `end` begins (`end` itself when not requested)."""
    if size is None and boundary is None:
        return end.copy()
    if boundary is not None:
        before = np.bincount(codes, weights=time_values < boundary, minlength=lengths.size).astype(np.int64)
        return np.minimum(before, end)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer, float, np.floating)) or size < 0:
        raise ValueError(f"Expected {size_name} to be a non-negative int or a fraction in (0, 1), found {size!r}.")
    if isinstance(size, (float, np.floating)):
        if not 0.0 < size < 1.0:
            raise ValueError(f"Expected {size_name} as a fraction in (0, 1), found {size}.")
        steps = np.rint(size * lengths).astype(np.int64)
    else:
        steps = np.full(lengths.size, int(size), dtype=np.int64)
    return end - steps
