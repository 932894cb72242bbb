"""Sampling frequency of a time axis: parsing, JSON form, shifting and future timestamps.

A frequency is either a pandas offset (`"D"`, `"h"`, `"MS"`, `"W-SUN"`, ...)
for datetime time columns, or a positive integer step for integer time columns.
Its JSON form is the offset alias (`offset.freqstr`) or the integer itself.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

Frequency = pd.DateOffset | int


NANOSECONDS_PER_DAY = 86_400 * 10**9
DAYS_PER_WEEK = 7


def parse_frequency(freq: str | int | pd.DateOffset | pd.Timedelta) -> Frequency:
    """Turn a user or JSON frequency into a pandas offset or a positive integer step."""
    if isinstance(freq, (bool, np.bool_)):
        raise ValueError(f"Expected a pandas offset alias or a positive integer step as freq, found {freq!r}.")
    if isinstance(freq, (int, np.integer)):
        if freq <= 0:
            raise ValueError(f"Expected a positive integer step as freq, found {freq}.")
        return int(freq)
    try:
        return to_offset(freq)
    except (ValueError, TypeError) as error:
        found = re.fullmatch(r"\s*(\d*)\s*([A-Za-z]+)\s*", freq) if isinstance(freq, str) else None
        renamed = RENAMED_ALIASES.get(found[2].upper()) if found else None
        hint = f" pandas 3 names it {renamed}{' with the multiple ' + found[1] if found[1] else ''}." if renamed else ""
        raise ValueError(
            f"Expected a pandas offset alias (e.g. 'D', 'h', 'MS') or an integer step as freq, found {freq!r}.{hint}"
        ) from error


RENAMED_ALIASES = {
    "M": "'ME' (month ends) or 'MS' (month starts)",
    "Q": "'QE' (quarter ends) or 'QS' (quarter starts)",
    "Y": "'YE' (year ends) or 'YS' (year starts)",
    "A": "'YE' (year ends) or 'YS' (year starts)",
    "H": "'h'",
    "T": "'min'",
    "S": "'s'",
    "L": "'ms'",
    "U": "'us'",
    "N": "'ns'",
    "BM": "'BME'",
    "BQ": "'BQE'",
    "BA": "'BYE'",
    "BY": "'BYE'",
}
"""Aliases pandas 3 no longer reads, and its names for them."""


def frequency_to_json(freq: Frequency) -> str | int:
    """The JSON-serializable form of a frequency (offset alias or integer step)."""
    return freq if isinstance(freq, int) else freq.freqstr


def is_fixed_step(freq: Frequency) -> bool:
    """True when every step has the same length: integer steps, `Tick` offsets and days.

    A day counts as 24 hours, as pandas 2 defines it (a `Tick`); pandas 3
    made `Day` a calendar offset, and treating it as fixed keeps one meaning
    across both versions. Days of zoned times are counted on the wall clock
    (`fixed_step_clock`), so they stay calendar days across daylight saving.
    """
    return isinstance(freq, (int, pd.offsets.Tick, pd.offsets.Day))


def fixed_step_clock(times: pd.DatetimeIndex, freq: Frequency) -> pd.DatetimeIndex:
    """The times whose differences fixed steps of `freq` divide: the zone's wall clock for days of zoned times (a
    calendar day across a daylight-saving change lasts 23 or 25 hours, and pandas' daily ranges step calendar days),
    else the times themselves (their UTC instants: an hour is an hour)."""
    if isinstance(freq, pd.offsets.Day) and times.tz is not None:
        return times.tz_localize(None)
    return times


def step_size(freq: Frequency) -> int:
    """Length of one fixed step as an integer: the step itself, or nanoseconds for ticks."""
    if isinstance(freq, int):
        return freq
    if isinstance(freq, pd.offsets.Day):
        return freq.n * NANOSECONDS_PER_DAY
    return int(freq.nanos)


def shift_times(times: pd.DatetimeIndex | np.ndarray, freq: Frequency) -> pd.DatetimeIndex | np.ndarray:
    """`times + freq` elementwise, vectorised (integer steps, ticks and calendar offsets, time zone kept)."""
    if isinstance(freq, int):
        return times + freq
    with warnings.catch_warnings():
        # Offsets without a vectorised path fall back to an elementwise loop; the values are the same.
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        return pd.DatetimeIndex(times) + freq


def future_timestamps(last, n: int, freq: Frequency) -> pd.DatetimeIndex | np.ndarray:
    """The `n` timestamps after `last` on the grid of `freq`: `horizon_timestamps` of one
    origin (an int64 array for integer steps, a DatetimeIndex with the time zone kept)."""
    return horizon_timestamps([last], freq, n)


def horizon_timestamps(origins, freq: Frequency, horizon: int) -> pd.DatetimeIndex | np.ndarray:
    """The `horizon` timestamps after each origin, origin-major (`len(origins) * horizon` values).

    Integer and fixed-length steps are one broadcast addition (datetimes in UTC
    nanoseconds, time zone kept); calendar offsets (months, ...) shift each
    distinct origin once per step, so many series that end together cost one
    shift per step.
    """
    steps = np.arange(1, horizon + 1)
    if isinstance(freq, int):
        return (np.asarray(origins, dtype=np.int64)[:, None] + freq * steps).ravel()
    origins = pd.DatetimeIndex(origins)
    if is_fixed_step(freq):
        clock = fixed_step_clock(origins, freq)
        nanoseconds = clock.as_unit("ns").asi8[:, None] + step_size(freq) * steps
        if clock is not origins:  # wall-clock days, placed in the zone (a missing hour moves forward)
            wall = pd.DatetimeIndex(nanoseconds.ravel().view("datetime64[ns]"))
            return wall.tz_localize(origins.tz, ambiguous=np.ones(len(wall), bool), nonexistent="shift_forward")
    else:
        distinct = origins.unique()
        shifted, times = [], distinct
        for _ in steps:
            times = shift_times(times, freq)
            shifted.append(times.as_unit("ns").asi8)
        nanoseconds = np.stack(shifted, axis=1)[distinct.get_indexer(origins)]
    times = pd.DatetimeIndex(nanoseconds.ravel().view("datetime64[ns]"))
    return times if origins.tz is None else times.tz_localize("UTC").tz_convert(origins.tz)


def grid_between(first, last, freq: Frequency) -> pd.DatetimeIndex | np.ndarray:
    """Every grid timestamp from `first` to `last` (both included) at `freq`."""
    if isinstance(freq, int):
        return np.arange(int(first), int(last) + 1, freq, dtype=np.int64)
    return pd.date_range(start=first, end=last, freq=freq)


def approximate_step(freq: Frequency) -> pd.Timedelta:
    """Typical length of one step of a datetime offset (about 30.4 days for `"MS"`)."""
    if isinstance(freq, int):
        raise ValueError("An integer step has no calendar length.")
    if is_fixed_step(freq):
        return pd.Timedelta(step_size(freq), unit="ns")
    grid = pd.date_range("2001-01-01", periods=13, freq=freq)
    return (grid[-1] - grid[0]) / 12


def _inferred_offset(times: pd.DatetimeIndex) -> pd.DateOffset | None:
    """`pd.infer_freq` as an offset. pandas 3.1 returns a string and asks to opt into the offset that pandas 4
    will return (`future.infer_freq_returns_offset`); opting in where the option exists keeps its notice away."""
    if _INFER_FREQ_OPTION is None:
        inferred = pd.infer_freq(times)
    else:
        with pd.option_context(_INFER_FREQ_OPTION, True):
            inferred = pd.infer_freq(times)
    return None if inferred is None else to_offset(inferred)


def _option_if_present(name: str) -> str | None:
    try:
        pd.get_option(name)
    except (KeyError, AttributeError):  # pandas' OptionError derives from both
        return None
    return name


_INFER_FREQ_OPTION = _option_if_present("future.infer_freq_returns_offset")


def infer_series_frequency(times: pd.DatetimeIndex | np.ndarray) -> Frequency | None:
    """Frequency of one sorted series' times, or None when it cannot be told.

    Integers: the smallest difference, provided every difference is a multiple of it.
    Datetimes: `pd.infer_freq`; when that fails (e.g. a series with gaps), months, quarters or years for stamps on
    the first or the last day of their months (`_calendar_offset`), business days (`"B"`) for daily stamps that
    never fall on a weekend over at least `MIN_WEEKS_FOR_BUSINESS_DAYS` weeks (prices and sales of working days,
    whose holidays `pd.infer_freq` cannot place), else the smallest difference as a fixed step, provided every
    difference is a multiple of it.
    """
    if len(times) < 2:
        return None
    if isinstance(times, np.ndarray):
        diffs = np.diff(times)
    else:
        if len(times) >= 3:
            inferred = _inferred_offset(times)
            if inferred is None:
                inferred = _calendar_offset(times)
            if inferred is not None:
                return inferred
        diffs = np.diff(times.as_unit("ns").asi8)
    step = int(diffs.min())
    if step <= 0 or np.any(diffs % step):
        return None
    if isinstance(times, np.ndarray):
        return step
    days, remainder = divmod(step, NANOSECONDS_PER_DAY)
    if days == 1 and not remainder and _working_days_only(times):
        return pd.offsets.BusinessDay()
    # Whole days as a day offset ('D'), as pandas 2 and 3 both name it; shorter steps as ticks.
    return to_offset(f"{days}D") if days and not remainder else to_offset(pd.Timedelta(step, unit="ns"))


def _calendar_offset(times: pd.DatetimeIndex) -> pd.DateOffset | None:
    """The month, quarter or year offset (as `pd.infer_freq` names it) of stamps at midnight, all on the first or
    all on the last day of their months, whose months are apart by multiples of 1, 3 or 12, the smallest of them
    (a monthly series missing a month, whose uneven day counts `pd.infer_freq` and a fixed step both refuse);
    None for any other stamps."""
    if not bool((times == times.normalize()).all()):
        return None
    months = np.asarray(times.year * 12 + times.month - 1, dtype=np.int64)
    steps = np.diff(months)
    step = int(steps.min())
    if step not in (1, 3, 12) or np.any(steps % step):
        return None
    grid_months = np.arange(months[0], months[-1] + 1, step)
    grid = pd.DatetimeIndex(pd.to_datetime({"year": grid_months // 12, "month": grid_months % 12 + 1, "day": 1}))
    if bool(times.is_month_end.all()) and not bool((times.day == 1).all()):
        grid = grid + pd.offsets.MonthEnd(0)
    elif not bool((times.day == 1).all()):
        return None
    return _inferred_offset(grid) if len(grid) >= 3 else None


MIN_WEEKS_FOR_BUSINESS_DAYS = 4
"""Weeks a daily series must span without a weekend stamp before its frequency is taken for business days."""


def _working_days_only(times: pd.DatetimeIndex) -> bool:
    """Whether daily stamps at midnight span `MIN_WEEKS_FOR_BUSINESS_DAYS` weeks and none falls on a weekend."""
    spanned = (times[-1] - times[0]) / pd.Timedelta(days=7)
    at_midnight = bool((times == times.normalize()).all())
    return spanned >= MIN_WEEKS_FOR_BUSINESS_DAYS and at_midnight and bool((times.day_of_week < 5).all())


_MONTHS_PER_STEP = (
    ((pd.offsets.MonthBegin, pd.offsets.MonthEnd, pd.offsets.BusinessMonthBegin, pd.offsets.BusinessMonthEnd), 1),
    ((pd.offsets.QuarterBegin, pd.offsets.QuarterEnd, pd.offsets.BQuarterBegin, pd.offsets.BQuarterEnd), 3),
    ((pd.offsets.YearBegin, pd.offsets.YearEnd, pd.offsets.BYearBegin, pd.offsets.BYearEnd), 12),
)


def months_per_step(freq: Frequency) -> int | None:
    """Calendar months in one step of a month, quarter or year offset with `n=1` (1, 3, 12); None for any other
    frequency."""
    return next((months for kinds, months in _MONTHS_PER_STEP if isinstance(freq, kinds)), None)


def steps_between(origin, times: pd.DatetimeIndex | np.ndarray, freq: Frequency) -> np.ndarray:
    """Whole steps of `freq` from `origin` to each of `times` (negative before it), as int64.

    `origin` is one time stamp or one per element of `times`. Times on the grid of `freq`
    through their origin give exact step counts: integer and fixed-length steps divide the distance;
    month, quarter and year offsets count calendar months; business days count business days;
    weeks count 7-day steps.
    """
    if isinstance(freq, int):
        return (np.asarray(times, dtype=np.int64) - np.asarray(origin, dtype=np.int64)) // freq
    times = pd.DatetimeIndex(times)
    origins = pd.DatetimeIndex(np.broadcast_to(np.asarray(origin), (len(times),)) if np.ndim(origin) == 0 else origin)
    if origins.tz is None and times.tz is not None:
        origins = origins.tz_localize(times.tz)
    if is_fixed_step(freq):
        if times.tz is not None:
            origins = origins.tz_convert(times.tz)
        distance = fixed_step_clock(times, freq).as_unit("ns").asi8 - fixed_step_clock(origins, freq).as_unit("ns").asi8
        return distance // step_size(freq)
    months_in_step = months_per_step(freq)
    if months_in_step is not None:
        months = (times.year - origins.year) * 12 + (times.month - origins.month)
        return np.asarray(months, dtype=np.int64) // (months_in_step * freq.n)
    if isinstance(freq, pd.offsets.Week):
        days = (times.normalize().as_unit("ns").asi8 - origins.normalize().as_unit("ns").asi8) // NANOSECONDS_PER_DAY
        return days // (DAYS_PER_WEEK * freq.n)
    if isinstance(freq, pd.offsets.BusinessDay):
        day = "datetime64[D]"
        counts = np.busday_count(
            origins.tz_localize(None).values.astype(day), times.tz_localize(None).values.astype(day)
        )
        return counts.astype(np.int64) // freq.n
    # Other calendar offsets: count the grid points between each distinct (origin, time) pair.
    pairs = pd.DataFrame({"origin": origins, "time": times})
    counts = {
        (start, end): (len(pd.date_range(start, end, freq=freq)) - 1)
        if end >= start
        else -(len(pd.date_range(end, start, freq=freq)) - 1)
        for start, end in pairs.drop_duplicates().itertuples(index=False)
    }
    return np.array([counts[pair] for pair in pairs.itertuples(index=False, name=None)], dtype=np.int64)


MAX_SUBDAILY_PERIOD = 288
"""The most steps `seasonal_period` gives a sub-daily frequency: five-minute data cycle daily (288 steps), one-minute
data hourly (60); a longer cycle leaves too few cycles in a typical history to estimate its indices."""

_NANOSECONDS_PER_CYCLE = (NANOSECONDS_PER_DAY, 3_600 * 10**9, 60 * 10**9)  # a day, an hour, a minute
WEEKS_PER_YEAR = 52


def seasonal_period(freq: Frequency | None) -> int:
    """Steps in the calendar cycle the frequency repeats over, the usual MASE/seasonal-naive period.

    Sub-daily steps take the longest of a day, an hour and a minute that holds a whole number of steps, at most
    `MAX_SUBDAILY_PERIOD`: hourly -> 24, `"30min"` -> 48, `"15min"` -> 96, `"2h"` -> 12, `"5min"` -> 288,
    minutely -> 60, secondly -> 60. Daily -> 7 (a week), business daily -> 5, weekly -> 52, monthly -> 12,
    quarterly -> 4, and their multiples that divide the cycle (`"2W"` -> 26, `"2MS"` -> 6, `"3MS"` -> 4).
    Yearly, other multiples (`"2D"`, `"5MS"`), integer steps and `None` -> 1.
    """
    if freq is None or isinstance(freq, int):
        return 1
    steps = _steps_per_cycle(freq)
    if steps is not None:
        return steps // freq.n if steps % freq.n == 0 and freq.n < steps else 1
    if isinstance(freq, pd.offsets.Tick):
        step = freq.nanos
        for cycle in _NANOSECONDS_PER_CYCLE:
            if cycle % step == 0 and 2 <= cycle // step <= MAX_SUBDAILY_PERIOD:
                return cycle // step
    return 1


def _steps_per_cycle(freq: pd.DateOffset) -> int | None:
    """Steps of the calendar offset `freq` with `n=1` in its cycle: a week of days (7) or business days (5), a year
    of weeks (52), months (12) or quarters (4), and a year itself (1); None for other offsets. A day counts here,
    not as a sub-daily tick (pandas 2 makes `Day` a `Tick`)."""
    if isinstance(freq, pd.offsets.Day):
        return DAYS_PER_WEEK
    if isinstance(freq, pd.offsets.BusinessDay):
        return 5
    if isinstance(freq, pd.offsets.Week):
        return WEEKS_PER_YEAR
    months = months_per_step(freq)
    return None if months is None else 12 // months
