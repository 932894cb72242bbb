"""Cyclical calendar features from timestamps.

Each calendar field with value `v` in `0 .. P-1` (period `P`) becomes two features

    sin(2 pi v / P),  cos(2 pi v / P)

so that the last value of a cycle sits next to the first (December next to January), the
encoding used for seasonal covariates in neural forecasting (e.g. Salinas et al. 2020, DeepAR,
add hour of day, day of week, ... as time features).

Fields and periods:

==============  =========================  =====================
field           v                          P
==============  =========================  =====================
`minute`      minute                     60
`hour`        hour                       24
`dayofweek`   Monday = 0 .. Sunday = 6   7
`dayofmonth`  day - 1                    days in that month
`dayofyear`   day of year - 1            days in that year
`weekofyear`  ISO week - 1               weeks in that ISO year
`month`       month - 1                  12
`quarter`     quarter - 1                4
==============  =========================  =====================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipelines.frequency import Frequency, approximate_step
from pipelines.window_settings import CALENDAR_FIELDS


def calendar_fields_for(freq: Frequency) -> tuple[str, ...]:
    """The fields `calendar="auto"` uses: the cycles longer than one step of `freq`.

    Under an hour: minute, hour, day of week. Hourly: hour, day of week, day of year.
    Daily: day of week, day of year. Weekly: week of year. Monthly: month. Quarterly:
    quarter. Yearly or slower, and integer steps: none.
    """
    if isinstance(freq, int):
        return ()
    step = approximate_step(freq)
    if step < pd.Timedelta(hours=1):
        return ("minute", "hour", "dayofweek")
    if step < pd.Timedelta(days=1):
        return ("hour", "dayofweek", "dayofyear")
    if step < pd.Timedelta(days=7):
        return ("dayofweek", "dayofyear")
    if step < pd.Timedelta(days=28):
        return ("weekofyear",)
    if step < pd.Timedelta(days=89):
        return ("month",)
    if step < pd.Timedelta(days=365):
        return ("quarter",)
    return ()


def calendar_feature_names(fields: Sequence[str]) -> list[str]:
    """Column names of the features of `fields`: `<field>_sin`, `<field>_cos` per field."""
    return [f"{field}_{part}" for field in fields for part in ("sin", "cos")]


def calendar_features(times: pd.DatetimeIndex, fields: Sequence[str], dtype="float32") -> np.ndarray:
    """Array `(len(times), 2 * len(fields))` of sin/cos features, columns as `calendar_feature_names`.

    Times with a time zone are read in that zone (local hour, local day).
    """
    unknown = [field for field in fields if field not in CALENDAR_FIELDS]
    if unknown:
        raise ValueError(f"Unknown calendar fields {unknown}; expected some of {list(CALENDAR_FIELDS)}.")
    times = pd.DatetimeIndex(times)
    features = np.empty((len(times), 2 * len(fields)), dtype=dtype)
    for position, field in enumerate(fields):
        value, period = _field_value_and_period(times, field)
        angle = 2.0 * np.pi * value / period
        features[:, 2 * position] = np.sin(angle)
        features[:, 2 * position + 1] = np.cos(angle)
    return features


def _field_value_and_period(times: pd.DatetimeIndex, field: str) -> tuple[np.ndarray, np.ndarray | float]:
    if field == "minute":
        return times.minute.to_numpy(np.float64), 60.0
    if field == "hour":
        return times.hour.to_numpy(np.float64), 24.0
    if field == "dayofweek":
        return times.day_of_week.to_numpy(np.float64), 7.0
    if field == "dayofmonth":
        return times.day.to_numpy(np.float64) - 1.0, times.days_in_month.to_numpy(np.float64)
    if field == "dayofyear":
        return times.day_of_year.to_numpy(np.float64) - 1.0, np.where(times.is_leap_year, 366.0, 365.0)
    if field == "weekofyear":
        iso = times.isocalendar()
        return iso["week"].to_numpy(np.float64) - 1.0, _iso_weeks_in_year(iso["year"].to_numpy(np.int64))
    if field == "month":
        return times.month.to_numpy(np.float64) - 1.0, 12.0
    return times.quarter.to_numpy(np.float64) - 1.0, 4.0


def _iso_weeks_in_year(year: np.ndarray) -> np.ndarray:
    """52 or 53: an ISO year has 53 weeks when it starts on a Thursday, or on a Wednesday in a leap year."""

    def weekday_of_december_31(y):
        return (y + y // 4 - y // 100 + y // 400) % 7

    long_year = (weekday_of_december_31(year) == 4) | (weekday_of_december_31(year - 1) == 3)
    return np.where(long_year, 53.0, 52.0)
