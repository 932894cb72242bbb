"""Frequencies: parsing, inference per series, future timestamps."""

import warnings

import numpy as np
import pandas as pd
import pytest

from pipelines.frequency import (
    frequency_to_json,
    future_timestamps,
    infer_series_frequency,
    parse_frequency,
    seasonal_period,
    steps_between,
)
from pipelines.validation import ValidationError, check_frame


def test_parse_and_json_round_trip():
    for alias in ["D", "h", "MS", "W-SUN", "15min"]:
        assert parse_frequency(frequency_to_json(parse_frequency(alias))) == parse_frequency(alias)
    assert parse_frequency(7) == 7 and frequency_to_json(7) == 7
    with pytest.raises(ValueError, match="positive integer step"):
        parse_frequency(0)
    with pytest.raises(ValueError, match="offset alias"):
        parse_frequency("fortnightly-ish")


def test_inference():
    assert infer_series_frequency(np.array([3, 5, 9, 11])) == 2
    assert infer_series_frequency(np.array([0, 2, 5])) is None
    assert infer_series_frequency(pd.date_range("2021-01-01", periods=5, freq="MS")) == parse_frequency("MS")
    gapped = pd.DatetimeIndex(["2021-01-01", "2021-01-02", "2021-01-05"])
    assert infer_series_frequency(gapped) == parse_frequency("D")


@pytest.mark.parametrize("alias", ["MS", "ME", "QS-FEB", "QE-DEC", "YS", "YE-JUN"])
def test_months_quarters_and_years_with_a_missing_stamp_keep_their_calendar_frequency(alias):
    # Months differ in length, so neither pd.infer_freq nor a fixed step describes a monthly series missing a month.
    stamps = pd.date_range("2001-01-01", periods=24, freq=alias).delete([5, 11])
    assert pd.infer_freq(stamps) is None
    assert infer_series_frequency(stamps) == parse_frequency(alias)
    # Not on the first or the last day of the month, not at midnight, or months apart by another step: no frequency.
    assert infer_series_frequency(pd.DatetimeIndex(["2020-01-15", "2020-02-15", "2020-04-15"])) is None
    assert (
        infer_series_frequency(pd.DatetimeIndex(["2020-01-01 06:00", "2020-02-01 06:00", "2020-04-01 06:00"])) is None
    )
    assert infer_series_frequency(pd.DatetimeIndex(["2020-01-01", "2020-03-01", "2020-05-01", "2020-09-01"])) is None


def test_a_monthly_series_missing_a_month_is_filled_or_refused_naming_the_gap():
    frame = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=24, freq="MS"), "y": 1.0})
    frame = frame.drop(index=10)
    assert check_frame(frame, fill="ffill").freq == parse_frequency("MS")
    with pytest.raises(ValidationError, match=r"Gap in series 'a': no row at ds=2020-11-01"):
        check_frame(frame)


def test_working_days_with_holidays_are_business_days_not_days_with_every_weekend_missing():
    working_days = pd.bdate_range("2020-01-01", periods=60)  # Wednesday 1 January to 24 March
    holidays = pd.to_datetime(["2020-01-20", "2020-02-17"])  # two Mondays: pd.infer_freq then gives up
    assert pd.infer_freq(working_days.difference(holidays)) is None
    assert infer_series_frequency(working_days.difference(holidays)) == pd.offsets.BusinessDay()
    # A daily series with a gap, a Saturday among the stamps, or fewer than four weeks stays daily.
    days = pd.date_range("2020-01-01", periods=60, freq="D").delete([10])
    assert infer_series_frequency(days) == parse_frequency("D")
    assert infer_series_frequency(working_days[:15].delete([3])) == parse_frequency("D")
    assert infer_series_frequency(working_days.difference(holidays).append(pd.DatetimeIndex(["2020-03-28"]))) == (
        parse_frequency("D")
    )


def test_future_timestamps():
    np.testing.assert_array_equal(future_timestamps(10, 3, 5), [15, 20, 25])
    expected = pd.DatetimeIndex(["2021-02-01", "2021-03-01"], tz="UTC")
    assert future_timestamps(pd.Timestamp("2021-01-01", tz="UTC"), 2, parse_frequency("MS")).equals(expected)


def test_zoned_days_are_calendar_days_across_daylight_saving_and_hours_are_hours():
    # New York moved its clocks forward on 2024-03-10: that day lasted 23 hours, and its midnights still follow
    days = pd.date_range("2024-03-08", periods=5, freq="D", tz="America/New_York")
    assert future_timestamps(days[0], 4, parse_frequency("D")).equals(days[1:])
    np.testing.assert_array_equal(steps_between(days[0], days, parse_frequency("D")), [0, 1, 2, 3, 4])
    hours = pd.date_range("2024-03-10 00:00", periods=4, freq="h", tz="America/New_York")  # 00:00, 01:00, 03:00, 04:00
    assert future_timestamps(hours[0], 3, parse_frequency("h")).equals(hours[1:])
    frame = pd.DataFrame({"unique_id": "a", "ds": days, "y": 1.0})
    assert check_frame(frame).freq == parse_frequency("D")
    shifted = frame.assign(
        ds=days + pd.to_timedelta([0, 0, 0, 1, 1], unit="h")
    )  # 24-hour steps: 01:00 after the change
    with pytest.raises(
        ValidationError, match=r"off the frequency 'D' grid: series 'a' at ds=2024-03-11 01:00:00-04:00"
    ):
        check_frame(shifted, freq="D")


@pytest.mark.parametrize("freq", ["D", "W-MON", "MS", "QS", "h"])
def test_inferring_a_frequency_gives_an_offset_and_no_pandas_notice(freq):
    # pandas 3.1 warns on every `infer_freq` call unless one opts into the offset pandas 4 returns.
    times = pd.date_range("2021-01-04", periods=6, freq=freq)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inferred = infer_series_frequency(times)
    assert inferred == pd.tseries.frequencies.to_offset(freq)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize(
    ("alias", "cycle"),
    [
        ("h", "1D"),
        ("30min", "1D"),
        ("15min", "1D"),
        ("2h", "1D"),
        ("12h", "1D"),
        ("1800s", "1D"),
        ("5min", "1D"),
        ("min", "1h"),  # a day would be 1,440 steps, beyond MAX_SUBDAILY_PERIOD
        ("s", "1min"),
    ],
)
def test_sub_daily_steps_cycle_over_the_longest_calendar_unit_they_divide(alias, cycle):
    """The period is the number of steps after which the clock time repeats (counted on a real time axis)."""
    stamps = pd.date_range("2024-03-04", periods=400, freq=alias)
    period = seasonal_period(parse_frequency(alias))
    assert stamps[period] - stamps[0] == pd.Timedelta(cycle)


@pytest.mark.parametrize(
    ("alias", "period"),
    [
        ("D", 7),
        ("B", 5),
        ("W-SUN", 52),
        ("2W", 26),
        ("MS", 12),
        ("2MS", 6),
        ("3MS", 4),
        ("QS", 4),
        ("2QS", 2),
        ("ME", 12),
        # no whole number of steps in a cycle, or no cycle: no season
        ("2D", 1),
        ("5MS", 1),
        ("12MS", 1),
        ("YS", 1),
        ("7min", 1),
    ],
)
def test_calendar_periods_and_their_multiples(alias, period):
    assert seasonal_period(parse_frequency(alias)) == period


def test_integer_steps_and_no_frequency_have_no_calendar_period():
    assert seasonal_period(3) == 1
    assert seasonal_period(None) == 1
