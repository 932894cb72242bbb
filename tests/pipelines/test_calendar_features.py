"""Calendar features: hand-checked sin/cos values and the automatic choice by frequency."""

import numpy as np
import pandas as pd
import pytest

from pipelines.calendar import calendar_feature_names, calendar_features, calendar_fields_for
from pipelines.frequency import parse_frequency


def test_values_hand_checked():
    # 2021-03-07 18:00 is a Sunday: hour 18 of 24, day of week 6 of 7, month index 2 of 12 (angle pi/3), quarter 0 of 4.
    times = pd.DatetimeIndex(["2021-03-07 18:00"])
    features = calendar_features(times, ["hour", "dayofweek", "month", "quarter"], dtype="float64")[0]
    expected = [
        -1.0,
        0.0,  # hour: angle 2 pi 18/24 = 3 pi/2
        np.sin(2 * np.pi * 6 / 7),
        np.cos(2 * np.pi * 6 / 7),  # day of week
        np.sqrt(3) / 2,
        0.5,  # month: angle 2 pi 2/12 = pi/3
        0.0,
        1.0,  # quarter: angle 0
    ]
    np.testing.assert_allclose(features, expected, atol=1e-12)


def test_month_lengths_leap_years_and_iso_weeks():
    times = pd.DatetimeIndex(["2020-02-29", "2020-12-31", "2021-12-31", "2020-12-31"])
    dayofmonth = calendar_features(times[:1], ["dayofmonth"], dtype="float64")[0]
    np.testing.assert_allclose(dayofmonth, [np.sin(2 * np.pi * 28 / 29), np.cos(2 * np.pi * 28 / 29)])
    dayofyear = calendar_features(times[1:3], ["dayofyear"], dtype="float64")
    np.testing.assert_allclose(dayofyear[:, 0], [np.sin(2 * np.pi * 365 / 366), np.sin(2 * np.pi * 364 / 365)])
    # 2020-12-31 is in ISO week 53 of 53 (2020 has 53 ISO weeks).
    week = calendar_features(times[3:], ["weekofyear"], dtype="float64")[0]
    np.testing.assert_allclose(week, [np.sin(2 * np.pi * 52 / 53), np.cos(2 * np.pi * 52 / 53)])


def test_local_time_of_zoned_timestamps():
    times = pd.DatetimeIndex(["2021-06-01 00:30"]).tz_localize("Asia/Tokyo")
    np.testing.assert_allclose(calendar_features(times, ["hour"], dtype="float64")[0], [0.0, 1.0], atol=1e-12)


@pytest.mark.parametrize(
    ("freq", "fields"),
    [
        ("15min", ("minute", "hour", "dayofweek")),
        ("h", ("hour", "dayofweek", "dayofyear")),
        ("D", ("dayofweek", "dayofyear")),
        ("B", ("dayofweek", "dayofyear")),
        ("W-SUN", ("weekofyear",)),
        ("MS", ("month",)),
        ("QS", ("quarter",)),
        ("YS", ()),
        (3, ()),
    ],
)
def test_auto_fields_by_frequency(freq, fields):
    assert calendar_fields_for(parse_frequency(freq)) == fields


def test_names_and_unknown_fields():
    assert calendar_feature_names(["month", "hour"]) == ["month_sin", "month_cos", "hour_sin", "hour_cos"]
    with pytest.raises(ValueError, match=r"Unknown calendar fields \['season'\]"):
        calendar_features(pd.DatetimeIndex(["2021-01-01"]), ["season"])
