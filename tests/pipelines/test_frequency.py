"""Frequencies: parsing, inference per series, future timestamps."""

import warnings

import numpy as np
import pandas as pd
import pytest

from pipelines.frequency import frequency_to_json, future_timestamps, infer_series_frequency, parse_frequency


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


def test_future_timestamps():
    np.testing.assert_array_equal(future_timestamps(10, 3, 5), [15, 20, 25])
    expected = pd.DatetimeIndex(["2021-02-01", "2021-03-01"], tz="UTC")
    assert future_timestamps(pd.Timestamp("2021-01-01", tz="UTC"), 2, parse_frequency("MS")).equals(expected)


@pytest.mark.parametrize("freq", ["D", "W-MON", "MS", "QS", "h"])
def test_inferring_a_frequency_gives_an_offset_and_no_pandas_notice(freq):
    # pandas 3.1 warns on every `infer_freq` call unless one opts into the offset pandas 4 returns.
    times = pd.date_range("2021-01-04", periods=6, freq=freq)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inferred = infer_series_frequency(times)
    assert inferred == pd.tseries.frequencies.to_offset(freq)
    assert [str(w.message) for w in caught] == []
