"""Validation of long-format frames: every error names the problem, series, column and first offending time."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from pipelines.frequency import parse_frequency
from pipelines.validation import ValidationError, to_long_format, validate


def daily(series_id, values, start="2021-01-01", **columns):
    frame = pd.DataFrame(
        {
            "unique_id": series_id,
            "ds": pd.date_range(start, periods=len(values), freq="D"),
            "y": np.asarray(values, dtype=float),
        }
    )
    for name, column in columns.items():
        frame[name] = column
    return frame


def test_sorts_unsorted_input_and_keeps_the_input_unchanged():
    frame = pd.concat([daily("b", [1.0, 2.0, 3.0]), daily("a", [4.0, 5.0, 6.0])], ignore_index=True)
    shuffled = frame.sample(frac=1.0, random_state=3)
    before = shuffled.copy(deep=True)
    result = validate(shuffled)
    pd.testing.assert_frame_equal(shuffled, before)
    assert result["unique_id"].tolist() == ["a"] * 3 + ["b"] * 3
    assert result["y"].tolist() == [4.0, 5.0, 6.0, 1.0, 2.0, 3.0]
    assert list(result.index) == list(range(6))


def test_missing_columns_are_named():
    with pytest.raises(ValidationError, match=r"Missing columns \['y', 'temp'\]"):
        validate(daily("a", [1.0, 2.0, 3.0]).drop(columns="y"), covariates=["temp"])


def test_a_column_given_twice_is_named():
    frame = daily("a", [1.0, 2.0, 3.0])
    with pytest.raises(ValidationError, match=r"Column 'y' appears 2 times in the frame; keep one"):
        validate(pd.concat([frame, frame[["y"]]], axis=1))


def test_dates_written_in_two_formats_are_refused_naming_the_first_that_differs():
    frame = pd.DataFrame({"unique_id": "a", "ds": ["2020/01/01", "2020-02-01", "2020/03/01"], "y": 1.0})
    with pytest.raises(ValidationError, match=r"mixes date formats: series 'a' has '2020-02-01' at row 1"):
        validate(frame)
    with pytest.raises(ValidationError, match=r"must hold datetimes or integers; series 'a' has 'soon' at row 2"):
        validate(frame.assign(ds=["2020-01-01", "2020-02-01", "soon"]))


def test_empty_frame():
    with pytest.raises(ValidationError, match="empty frame"):
        validate(daily("a", [1.0, 2.0, 3.0]).iloc[:0])


def test_a_number_written_with_a_decimal_comma_is_named_as_such():
    frame = daily("a", [1.0, 2.0, 3.0])
    frame["y"] = pd.Series(["1.5", "2", "1.025,5"], dtype=object)
    with pytest.raises(ValidationError, match=r"ds=2021-01-03.* has '1.025,5' \(a number written with a decimal comma"):
        validate(frame)
    frame["y"] = pd.Series(["1.5", "2", "n/a"], dtype=object)
    with pytest.raises(ValidationError) as raised:
        validate(frame)
    assert "decimal comma" not in str(raised.value)


def test_non_numeric_target_names_series_column_and_first_offending_time():
    frame = daily("a", [1.0, 2.0, 3.0, 4.0])
    frame["y"] = pd.Series([1.0, 2.0, "n/a", "x"], dtype=object)
    with pytest.raises(ValidationError, match=r"Column 'y' must be numeric.*series 'a' at ds=2021-01-03.*'n/a'"):
        validate(frame)


def test_numbers_held_as_objects_are_read_as_numbers_and_booleans_are_not():
    frame = daily("a", [1.0, 2.0, 3.0, 4.0], temp=[1.0, 2.0, 3.0, 4.0])
    frame["y"] = pd.Series([1, 2.5, 3, pd.NA], dtype=object)  # the last value missing: an end that is dropped
    frame["temp"] = pd.Series([1, 2, 3, 4], dtype=object)
    with pytest.warns(UserWarning, match=r"Dropped 1 rows after the last observed .y. of 1 series"):
        checked = validate(frame, covariates=["temp"])
    np.testing.assert_array_equal(checked["y"].to_numpy(dtype=float), [1.0, 2.5, 3.0])
    assert pd.api.types.is_numeric_dtype(checked["temp"]) and checked["temp"].tolist() == [1, 2, 3]
    frame["temp"] = pd.Series([1, True, 3, 4], dtype=object)
    with pytest.raises(ValidationError, match=r"Column 'temp' must be numeric.*ds=2021-01-02.*True"):
        validate(frame.iloc[:3], covariates=["temp"])


@pytest.mark.parametrize(
    "written, freq",
    [
        ("%d/%m/%Y", "D"),  # day 13 appears: only day first reads every value
        ("%m/%d/%Y", "D"),  # and month first here
        ("%d.%m.%y", "MS"),  # no day above 12, but month first breaks the monthly grid: 1 Jan, 1 Feb, ... 1 Dec
        ("%d/%m/%Y", "MS"),
    ],
)
def test_day_and_month_written_as_numbers_are_read_in_the_order_the_data_allow(written, freq):
    times = pd.date_range("2020-01-01", periods=40 if freq == "D" else 36, freq=freq)
    frame = pd.DataFrame({"unique_id": "a", "ds": times.strftime(written), "y": 1.0})
    checked = validate(frame)
    pd.testing.assert_index_equal(pd.DatetimeIndex(checked["ds"]), times.as_unit("ns"), check_names=False)


def test_day_and_month_that_the_data_cannot_tell_apart_are_an_error():
    # twelve days of January written day first read as twelve months month first: both are regular
    frame = pd.DataFrame(
        {"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=12).strftime("%d/%m/%Y"), "y": 1.0}
    )
    message = r"dates such as '02/01/2020' that read as 2020-01-02 \(day first\) or 2020-02-01 \(month first\)"
    with pytest.raises(ValidationError, match=message):
        validate(frame)


def test_non_numeric_covariate_is_named():
    frame = daily("a", [1.0, 2.0, 3.0], temp=["1", "warm", "2"])
    with pytest.raises(ValidationError, match=r"Column 'temp' must be numeric.*ds=2021-01-01"):
        validate(frame, covariates=["temp"])


def test_duplicate_pairs_name_series_and_time():
    frame = pd.concat([daily("a", [1.0, 2.0, 3.0]), daily("a", [9.0], start="2021-01-02")], ignore_index=True)
    with pytest.raises(
        ValidationError, match=r"Duplicate \(unique_id, ds\) pair: series 'a' at ds=2021-01-02"
    ) as daily_error:
        validate(frame)
    assert "daylight saving" not in str(daily_error.value)


def test_an_hour_repeated_when_daylight_saving_ends_is_explained():
    # New York's local clock, written without offsets: 01:00 comes twice on 2013-11-03
    local = pd.date_range("2013-11-03 00:00", periods=4, freq="h", tz="America/New_York").tz_localize(None)
    frame = pd.DataFrame({"unique_id": "ewr", "ds": local, "y": [1.0, 2.0, 3.0, 4.0]})
    assert local[1] == local[2]
    with pytest.raises(ValidationError, match=r"ds=2013-11-03 01:00:00 appears more than once.*daylight saving"):
        validate(frame)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_missing_or_infinite_target_names_first_offending_time(bad):
    frame = pd.concat([daily("a", [1.0, 2.0, 3.0]), daily("b", [1.0, 2.0, bad, bad, 5.0])], ignore_index=True)
    with pytest.raises(
        ValidationError, match=r"Column 'y' has a missing or infinite value.*series 'b' at ds=2021-01-03.*2 such"
    ):
        validate(frame)


def test_a_series_lasts_from_its_first_to_its_last_observed_target_and_a_dropped_end_is_warned_of():
    # A wide table melted to long format: "late" starts two days after the others, "early" ends two days before.
    frame = pd.concat(
        [
            daily("late", [np.nan, np.nan, 3.0, 4.0, 5.0], temp=[np.nan, 9.0, 3.0, 4.0, 5.0]),
            daily("early", [1.0, 2.0, 3.0, np.nan, np.nan], temp=np.arange(5.0)),
            daily("whole", [1.0, 2.0, 3.0, 4.0, 5.0], temp=np.arange(5.0)),
        ],
        ignore_index=True,
    )
    with pytest.warns(UserWarning, match=r"^Dropped 2 rows after the last observed 'y' of 1 series \('early'\)"):
        result = validate(frame, covariates=["temp"])
    days = pd.date_range("2021-01-01", periods=5, freq="D")
    by_series = dict(list(result.groupby("unique_id")))
    assert by_series["late"]["ds"].tolist() == list(days[2:]) and by_series["late"]["temp"].tolist() == [3, 4, 5]
    assert by_series["early"]["ds"].tolist() == list(days[:3]) and by_series["early"]["y"].tolist() == [1, 2, 3]
    assert len(by_series["whole"]) == 5


def test_only_missing_ends_are_dropped_not_infinite_ones_nor_a_series_with_no_value():
    leading_only = daily("a", [np.nan, 1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a later start is not warned of
        assert validate(leading_only)["y"].tolist() == [1.0, 2.0]
    with pytest.raises(ValidationError, match=r"missing or infinite value \(inf\) in series 'a' at ds=2021-01-03"):
        validate(daily("a", [1.0, 2.0, np.inf]))
    empty = pd.concat([daily("a", [1.0, 2.0]), daily("b", [np.nan, np.nan])], ignore_index=True)
    with pytest.raises(ValidationError, match=r"Column 'y' has a missing or infinite value \(nan\) in series 'b'"):
        validate(empty)
    with pytest.raises(ValidationError, match=r"no finite value at all in series 'b'"):
        validate(empty, fill="ffill")


def test_missing_covariate_is_named():
    frame = daily("a", [1.0, 2.0, 3.0], temp=[0.5, np.nan, 0.1])
    with pytest.raises(ValidationError, match=r"Column 'temp'.*series 'a' at ds=2021-01-02"):
        validate(frame, covariates=["temp"])


def test_gap_names_series_and_first_missing_time():
    frame = daily("a", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).drop(index=[2, 3])
    with pytest.raises(ValidationError, match=r"Gap in series 'a': no row at ds=2021-01-03.*next row is 2021-01-05"):
        validate(frame, freq="D")


def test_off_grid_timestamp():
    frame = daily("a", [1.0, 2.0, 3.0, 4.0])
    frame.loc[2, "ds"] = pd.Timestamp("2021-01-03 12:00")
    with pytest.raises(ValidationError, match=r"off the frequency 'D' grid: series 'a' at ds=2021-01-03 12:00"):
        validate(frame, freq="D")


def test_short_series_error_and_drop_with_warning():
    frame = pd.concat([daily("a", np.arange(10.0)), daily("b", np.arange(4.0))], ignore_index=True)
    with pytest.raises(ValidationError, match=r"Series 'b' has 4 rows; expected at least 6"):
        validate(frame, min_length=6)
    with pytest.warns(UserWarning, match=r"Dropped 1 series with fewer than 6 rows: 'b'"):
        result = validate(frame, min_length=6, short_series="drop")
    assert result["unique_id"].unique().tolist() == ["a"]


def test_mixed_aware_and_naive_timestamps_are_rejected():
    frame = daily("a", [1.0, 2.0, 3.0])
    frame["ds"] = pd.Series(
        [pd.Timestamp("2021-01-01"), pd.Timestamp("2021-01-02", tz="UTC"), pd.Timestamp("2021-01-03")], dtype=object
    )
    with pytest.raises(ValidationError, match=r"mixes time zone aware and naive timestamps: series 'a'.*row 1"):
        validate(frame)


def test_static_covariate_must_be_constant_within_a_series():
    frame = daily("a", [1.0, 2.0, 3.0], region=["n", "n", "s"])
    with pytest.raises(
        ValidationError, match=r"Static covariate 'region' must be constant.*series 'a' at ds=2021-01-03"
    ):
        validate(frame, static_covariates=["region"])


def test_series_that_disagree_on_frequency():
    weekly = pd.DataFrame({"unique_id": "w", "ds": pd.date_range("2021-01-03", periods=5, freq="W-SUN"), "y": 1.0})
    with pytest.raises(
        ValidationError, match=r"disagree on the frequency: 'a' has frequency 'D', 'w' has frequency 'W-SUN'"
    ):
        validate(pd.concat([daily("a", np.arange(5.0)), weekly], ignore_index=True))


def test_integer_time_needs_an_integer_step():
    frame = pd.DataFrame({"unique_id": 1, "ds": [0, 1, 2], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(ValidationError, match="integer step"):
        validate(frame, freq="D")


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        ("ffill", [1.0, 1.0, 1.0, 4.0, 4.0, 6.0]),
        ("interpolate", [1.0, 1.0, 2.5, 4.0, 5.0, 6.0]),
        ("zero", [1.0, 1.0, 0.0, 4.0, 0.0, 6.0]),
    ],
)
def test_fill_policies_fill_missing_values_and_gaps(fill, expected):
    # Day 2 NaN, day 4 absent (a gap); the covariate's day 0 missing (leading).
    frame = daily("a", [1.0, 1.0, np.nan, 4.0, 99.0, 6.0], temp=[np.nan, 1.0, 2.0, 3.0, 4.0, 5.0]).drop(index=4)
    result = validate(frame, covariates=["temp"], fill=fill, freq="D")
    assert result["ds"].tolist() == list(pd.date_range("2021-01-01", periods=6, freq="D"))
    np.testing.assert_allclose(result["y"].to_numpy(), expected)
    expected_temp = {"ffill": [1, 1, 2, 3, 3, 5], "interpolate": [1, 1, 2, 3, 4, 5], "zero": [0, 1, 2, 3, 0, 5]}[fill]
    np.testing.assert_allclose(result["temp"].to_numpy(), expected_temp)


def test_fill_keeps_static_covariates_on_inserted_rows():
    frame = daily("a", [1.0, 2.0, 3.0, 4.0], region="north").drop(index=[1, 2])
    result = validate(frame, static_covariates=["region"], fill="interpolate", freq="D")
    assert result["region"].tolist() == ["north"] * 4
    np.testing.assert_allclose(result["y"], [1.0, 2.0, 3.0, 4.0])


def test_fill_fills_gaps_of_integer_and_month_start_series():
    integer = pd.DataFrame({"unique_id": 7, "ds": [10, 13, 19], "y": [0.0, 3.0, 9.0]})
    result = validate(integer, fill="interpolate", freq=3)
    assert result["ds"].tolist() == [10, 13, 16, 19]
    np.testing.assert_allclose(result["y"], [0.0, 3.0, 6.0, 9.0])
    monthly = pd.DataFrame(
        {"unique_id": "m", "ds": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-05-01"]), "y": [1.0, 2.0, 5.0]}
    )
    result = validate(monthly, fill="ffill", freq="MS")
    assert result["ds"].dt.month.tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(result["y"], [1.0, 2.0, 2.0, 2.0, 5.0])


def test_drop_series_drops_series_with_missing_values_or_gaps_and_warns():
    frame = pd.concat(
        [daily("a", [1.0, 2.0, 3.0]), daily("b", [1.0, np.nan, 3.0]), daily("c", [1.0, 2.0, 3.0, 4.0]).drop(index=1)],
        ignore_index=True,
    )
    with pytest.warns(UserWarning, match=r"Dropped 2 series with missing values or gaps: 'b', 'c'"):
        result = validate(frame, fill="drop_series", freq="D")
    assert result["unique_id"].unique().tolist() == ["a"]


def test_fill_cannot_fill_a_series_without_any_value():
    frame = daily("a", [np.nan, np.nan, np.nan])
    with pytest.raises(ValidationError, match=r"no finite value at all in series 'a'"):
        validate(frame, fill="ffill")


def test_infers_frequency_from_series_with_a_gap_when_another_series_is_regular():
    frame = pd.concat([daily("a", np.arange(6.0)), daily("b", np.arange(6.0)).drop(index=3)], ignore_index=True)
    result = validate(frame, fill="interpolate")
    assert (result["unique_id"] == "b").sum() == 6


def test_single_series_with_datetime_index_is_converted():
    series = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2021-01-01", periods=3, freq="h"), name="load")
    result = validate(series)
    assert result.columns.tolist() == ["unique_id", "ds", "y"]
    assert result["unique_id"].tolist() == ["load"] * 3
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0], "temp": [0.0, 1.0, 2.0]}, index=series.index)
    converted = to_long_format(frame)
    assert converted.columns.tolist() == ["unique_id", "ds", "y", "temp"]
    assert converted["ds"].tolist() == list(series.index)


def test_index_levels_named_unique_id_or_ds_are_read_as_those_columns():
    frame = pd.concat([daily("a", [1.0, 2.0, 3.0], temp=[0.0, 1.0, 2.0]), daily("b", [4.0, 5.0], temp=[3.0, 4.0])])
    frame = frame.reset_index(drop=True)
    expected = validate(frame, covariates=["temp"])
    for indexed in (frame.set_index(["unique_id", "ds"]), frame.set_index(["ds", "unique_id"]), frame.set_index("ds")):
        pd.testing.assert_frame_equal(validate(indexed, covariates=["temp"])[expected.columns], expected)
    series_of_y = frame.set_index(["unique_id", "ds"])["y"].rename("sales")
    pd.testing.assert_frame_equal(validate(series_of_y), validate(frame.drop(columns="temp")))
    with pytest.raises(ValidationError, match=r"indexed by \('unique_id', 'ds'\)\), found an index of dtype object"):
        validate(frame.set_index(["unique_id", "temp"])["y"])


@pytest.mark.parametrize(
    ("freq", "starts"),
    [("M", ["2021-01-01", "2021-02-01"]), ("Q", ["2021-01-01", "2021-04-01"]), ("W-SUN", ["2020-12-28", "2021-01-04"])],
)
def test_periods_are_read_as_the_timestamps_of_their_starts(freq, starts):
    periods = pd.period_range("2021-01", periods=2, freq=freq)
    from_index = validate(pd.Series([1.0, 2.0], index=periods))
    from_column = validate(pd.DataFrame({"unique_id": "a", "ds": periods, "y": [1.0, 2.0]}))
    assert from_index["ds"].tolist() == from_column["ds"].tolist() == list(pd.to_datetime(starts))


@pytest.mark.parametrize(
    ("stamps", "hint"),
    [
        (["1998 Q1", "1998 Q2"], "Read quarters as periods"),
        (["1991 W06", "1991 W07"], "Read ISO weeks as their Mondays"),
    ],
)
def test_quarters_and_iso_weeks_written_as_text_are_told_how_to_read_them(stamps, hint):
    frame = pd.DataFrame({"unique_id": "a", "ds": stamps, "y": [1.0, 2.0]})
    with pytest.raises(ValidationError, match=f"has '{stamps[0]}' at row 0. {hint}") as raised:
        validate(frame)
    # The fix the message gives reads them.
    fix = str(raised.value).split(": ", 1)[1].split(" = ", 1)[1].rstrip(".").replace("df[", "frame[")
    repaired = frame.assign(ds=eval(fix))
    assert validate(repaired)["ds"].dt.year.tolist() == [int(stamps[0][:4])] * 2


def test_time_zone_is_kept():
    frame = daily("a", [1.0, 2.0, 3.0])
    frame["ds"] = frame["ds"].dt.tz_localize("Europe/Berlin")
    result = validate(frame)
    assert str(result["ds"].dt.tz) == "Europe/Berlin"
    assert result["ds"].tolist() == frame["ds"].tolist()


def test_validate_never_modifies_the_input_even_when_filling():
    frame = daily("b", [np.nan, 1.0, np.inf, 4.0, 5.0]).drop(index=3).iloc[::-1]
    before = frame.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(frame, fill="interpolate", freq="D")
    pd.testing.assert_frame_equal(frame, before)


def test_a_string_in_a_csv_target_is_reported_at_its_own_row(tmp_path):
    frame = pd.concat([daily("air", [112.0, 118.0, 132.0]), daily("wine", [1.0, 2.0, 3.0])], ignore_index=True)
    frame["y"] = frame["y"].astype(object)
    frame.loc[4, "y"] = "abc"
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    read = pd.read_csv(path)  # every y value is text now
    with pytest.raises(ValidationError, match=r"Column 'y' must be numeric.*series 'wine' at ds=2021-01-02.*'abc'"):
        validate(read)


def test_text_time_stamps_of_one_zone_across_daylight_saving_are_read_as_their_instants():
    # what a zoned clock writes as text (ISO 8601 with its offset, e.g. a CSV file): +01:00, then +02:00
    hours = pd.date_range("2024-03-31 00:00", periods=6, freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame({"unique_id": "a", "ds": [stamp.isoformat() for stamp in hours], "y": np.arange(6.0)})
    assert "+01:00" in frame["ds"].iloc[0] and "+02:00" in frame["ds"].iloc[-1]
    validated = validate(frame)
    assert pd.DatetimeIndex(validated["ds"]).equals(hours.tz_convert("UTC").as_unit("ns"))
    frame.loc[0, "ds"] = "2024-03-30T23:00:00"  # one stamp without an offset: not one clock
    with pytest.raises(ValidationError, match=r"Column 'ds'"):
        validate(frame)


def test_text_days_of_one_zone_across_daylight_saving_are_read_as_calendar_days():
    # pandas writes a zone's days as midnights with their offset: +01:00, then +02:00 from 31 March 2024
    days = pd.date_range("2024-03-28", periods=8, freq="D", tz="Europe/Berlin")
    frame = pd.DataFrame({"unique_id": "a", "ds": [str(stamp) for stamp in days], "y": np.arange(8.0)})
    assert frame["ds"].iloc[0].endswith("+01:00") and frame["ds"].iloc[-1].endswith("+02:00")
    validated = validate(frame)
    assert pd.DatetimeIndex(validated["ds"]).equals(days.tz_localize(None).as_unit("ns"))
    assert validate(frame, freq="D")["ds"].tolist() == validated["ds"].tolist()
    winter = frame.iloc[:3]  # one offset only: the same calendar days
    assert pd.DatetimeIndex(validate(winter)["ds"]).equals(days[:3].tz_localize(None).as_unit("ns"))


def test_a_boolean_target_is_refused_but_a_boolean_covariate_is_a_flag():
    frame = daily("a", [1.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValidationError, match=r"Column 'y' holds booleans"):
        validate(frame.assign(y=frame["y"].astype(bool)))
    flagged = validate(frame.assign(promo=[True, False, True, False]), covariates=["promo"])
    assert flagged["promo"].astype(float).tolist() == [1.0, 0.0, 1.0, 0.0]


def test_values_beyond_the_window_dtype_are_refused_with_their_series():
    from pipelines.windows import SeriesWindows

    frame = pd.concat([daily("a", np.arange(8.0)), daily("b", [1.0, 2.0, 1e39, 4.0, 5.0, 6.0, 7.0, 8.0])])
    with pytest.raises(ValidationError, match=r"Column 'y' has 1e\+39 in series 'b' at ds=2021-01-03"):
        SeriesWindows(lookback=3, horizon=2, scaler="standard", min_past=None, deseasonalize=False).fit(frame)
    SeriesWindows(lookback=3, horizon=2, dtype="float64", scaler="standard", min_past=None, deseasonalize=False).fit(
        frame
    )  # float64 windows hold it


def test_a_long_frame_without_ds_is_an_error_naming_ds():
    frame = daily("a", [1.0, 2.0, 3.0]).drop(columns="ds")
    with pytest.raises(ValidationError, match=r"Missing column 'ds'"):
        validate(frame)
    with pytest.raises(ValidationError, match=r"df.reset_index\(names='ds'\)"):
        validate(daily("a", [1.0, 2.0, 3.0]).set_index("ds").rename_axis(index="date"))


def test_series_ids_of_mixed_types_are_refused():
    frame = pd.concat([daily("a", [1.0, 2.0]), daily(1, [1.0, 2.0])], ignore_index=True)
    with pytest.raises(ValidationError, match=r"Column 'unique_id' mixes value types: row 0 holds 'a' \(text\)"):
        validate(frame)


def monthly_counts(n=24):
    return pd.DataFrame({"date": pd.date_range("1949-01-01", periods=n, freq="MS"), "y": 100.0 + np.arange(n)})


@pytest.mark.parametrize("from_csv", [False, True])
def test_a_date_column_that_is_not_ds_is_never_ignored_for_the_row_numbers(from_csv, tmp_path):
    frame = monthly_counts()
    if from_csv:  # dates as text, as pandas reads them
        frame.to_csv(tmp_path / "airline.csv", index=False)
        frame = pd.read_csv(tmp_path / "airline.csv")
    expected = (
        "Missing column 'ds': found columns ['date', 'y']; expected unique_id, ds, y (a single series needs no "
        "unique_id): rename 'date' to 'ds' (df.rename(columns={'date': 'ds'}))."
    )
    with pytest.raises(ValidationError) as raised:
        validate(frame)
    assert str(raised.value) == expected
    renamed = validate(frame.rename(columns={"date": "ds"}))  # the rename the message asks for
    assert renamed["ds"].tolist() == list(pd.date_range("1949-01-01", periods=24, freq="MS"))
    assert renamed["unique_id"].unique().tolist() == ["series_0"]


def test_a_long_frame_with_other_names_is_told_the_renames_not_an_index_move():
    frame = monthly_counts().rename(columns={"y": "value"}).assign(unique_id="airline")[["unique_id", "date", "value"]]
    with pytest.raises(ValidationError) as raised:
        validate(frame)
    assert str(raised.value) == (
        "Missing column 'ds': found columns ['unique_id', 'date', 'value']; expected unique_id, ds, y: rename "
        "'date' to 'ds' and 'value' to 'y' (df.rename(columns={'date': 'ds', 'value': 'y'}))."
    )
    with pytest.raises(ValidationError, match=r"rename 'date' to 'ds' .*, and name the target column 'y'\.$"):
        validate(frame.assign(price=1.0))  # two value columns: which is the target is the user's to say


def test_dates_as_text_are_told_from_ids_and_numbers_written_as_text():
    frame = pd.DataFrame(
        {
            "unique_id": ["M1", "M1", "M1"],
            "month": ["1949-01", "1949-02", "1949-03"],
            "shop": ["M1", "M2", "H1"],  # the date parser reads "M1" as 00:00:01 of the year 1
            "code": ["1001", "1002", "1003"],
            "y": [1.0, 2.0, 3.0],
        }
    )
    with pytest.raises(ValidationError, match=r"rename 'month' to 'ds' \(df.rename\(columns=\{'month': 'ds'\}\)\)\.$"):
        validate(frame)
    with pytest.raises(ValidationError, match=r"columns \['start', 'end'\] all hold dates; rename the one with"):
        validate(monthly_counts().rename(columns={"date": "start"}).assign(end=lambda df: df["start"]))


def test_a_date_column_beside_a_datetime_index_is_ambiguous():
    frame = monthly_counts()
    with pytest.raises(ValidationError, match=r"both the index and column 'date' hold dates.*or drop 'date'"):
        validate(frame.set_index(frame["date"].rename(None)))
    validate(frame.set_index("date"))  # the index alone is the time


def test_a_frame_with_ds_and_no_unique_id_is_one_series_unless_its_times_repeat():
    frame = monthly_counts().rename(columns={"date": "ds"})
    two = pd.concat([frame.assign(store="north"), frame.assign(store="south")], ignore_index=True)
    with pytest.raises(ValidationError) as raised:
        validate(two)
    assert str(raised.value) == (
        "Column 'ds' repeats 1949-01-01 00:00:00 (rows 0 and 24) in a frame without a 'unique_id' column, which is "
        "read as one series; found columns ['ds', 'y', 'store']. For several series, name the column of series "
        "ids 'unique_id' (df.rename(columns={'store': 'unique_id'}))."
    )


def test_a_short_series_error_says_where_the_length_comes_from_and_offers_drop_only_when_others_remain():
    from pipelines.windows import SeriesWindows

    windows = SeriesWindows(lookback=24, horizon=12)
    one = daily("a", np.arange(10.0))
    with pytest.raises(ValidationError) as raised:
        windows.fit(one)
    assert str(raised.value) == (
        "Series 'a' has 10 rows; expected at least 13 = min_past 1 + horizon 12 rows for one training window."
    )
    with pytest.raises(ValidationError, match=r"at least 36 = lookback 24 \+ horizon 12 rows for one training"):
        SeriesWindows(lookback=24, horizon=12, min_past=None).fit(one)
    two = pd.concat([one, daily("b", np.arange(30.0))], ignore_index=True)
    with pytest.raises(
        ValidationError, match=r"Too short: 1 of 2 series; short_series='drop' drops those and keeps the other 1\.$"
    ):
        windows.fit(two)
    with pytest.raises(ValidationError, match=r"Every one of the 2 series is too short\.$"):
        windows.fit(pd.concat([one, daily("b", np.arange(5.0))], ignore_index=True))
    checked = SeriesWindows(lookback=4, horizon=2).check(two)  # validated once, then rechecked for a longer need
    with pytest.raises(ValidationError, match=r"^Series 'a' has 10 rows; expected at least 12 = lookback 12 rows\.$"):
        SeriesWindows(lookback=4, horizon=2).check(checked, min_length=12, min_length_reason="lookback 12 rows")


def test_checked_frame_arrays_are_those_of_its_frame_after_sorting_and_filling():
    from pipelines.validation import check_frame

    frame = pd.concat([daily("b", [1.0, np.nan, 3.0]), daily("a", [4.0, 5.0, 6.0])], ignore_index=True)
    for fill, expected in [("ffill", [4.0, 5.0, 6.0, 1.0, 1.0, 3.0]), ("zero", [4.0, 5.0, 6.0, 1.0, 0.0, 3.0])]:
        checked = check_frame(frame.sample(frac=1.0, random_state=1), fill=fill)
        np.testing.assert_array_equal(checked.values("y"), expected)
        np.testing.assert_array_equal(checked.values("y"), checked.frame["y"].to_numpy())
        assert list(checked.times()) == list(checked.frame["ds"])
    clean = check_frame(daily("a", [4.0, 5.0, 6.0]).iloc[::-1])
    np.testing.assert_array_equal(clean.values("y"), [4.0, 5.0, 6.0])
    assert not clean.values("y").flags.writeable  # shared by every reader: nobody may change it
    integer_times = check_frame(pd.DataFrame({"unique_id": "a", "ds": [3, 1, 2], "y": [3.0, 1.0, 2.0]}))
    np.testing.assert_array_equal(integer_times.times(), [1, 2, 3])
    np.testing.assert_array_equal(integer_times.values("y"), [1.0, 2.0, 3.0])


def mid_month(months=1, day=15, periods=12, series_id="sales"):
    """Time stamps `months` apart on day `day` of the month (which no pandas offset describes)."""
    stamps = pd.date_range("2020-01-01", periods=periods, freq=f"{months}MS") + pd.Timedelta(days=day - 1)
    return pd.DataFrame({"unique_id": series_id, "ds": stamps, "y": np.arange(periods, dtype=float)})


@pytest.mark.parametrize(("months", "period"), [(1, "M"), (3, "Q"), (12, "Y")])
def test_stamps_on_one_day_of_the_month_are_named_with_the_way_to_restamp_them(months, period):
    frame = mid_month(months)
    with pytest.raises(ValidationError) as raised:
        validate(frame)
    message = str(raised.value)
    assert f"series 'sales' has time stamps {months} month" in message
    assert "on day 15 of the month (from 2020-01-15" in message
    assert f".dt.to_period('{period}').dt.to_timestamp()" in message
    # Following the advice gives period starts on the calendar of the matching frequency.
    frame["ds"] = frame["ds"].dt.to_period(period).dt.to_timestamp()
    assert validate(frame)["ds"].tolist() == frame["ds"].tolist()


@pytest.mark.parametrize("fill", [None, "ffill", "zero"])
def test_a_given_calendar_frequency_refuses_stamps_between_its_anchors_instead_of_filling_gaps(fill):
    # Under 'MS' the 15th of every month looked like a gap before every row; a fill policy invented a row at
    # every month start between them.
    with pytest.raises(ValidationError, match=r"off the frequency 'MS' calendar: series 'sales' at ds=2020-01-15 "):
        validate(mid_month(), freq="MS", fill=fill)
    # One row moved into the month after a gap is named too: every row after a gap is checked.
    frame = mid_month(day=1)
    frame = frame[frame["ds"] != "2020-05-01"].copy()
    frame.loc[frame["ds"] == "2020-06-01", "ds"] = pd.Timestamp("2020-06-10")
    with pytest.raises(
        ValidationError, match=r"at ds=2020-06-10 00:00:00 is not one of its steps \(the step before it is 2020-06-01"
    ):
        validate(frame, freq="MS", fill="ffill")
    # Real gaps between anchors are still gaps, filled as asked.
    assert len(validate(mid_month(day=1).drop(index=[4]), freq="MS", fill="ffill")) == 12


def test_weekly_stamps_on_another_weekday_than_the_given_one_are_named():
    frame = pd.DataFrame({"unique_id": "w", "ds": pd.date_range("2024-01-01", periods=10, freq="W-MON"), "y": 1.0})
    with pytest.raises(
        ValidationError, match=r"off the frequency 'W-SUN' calendar: .*the step before it is 2023-12-31.*'W-WED'"
    ):
        validate(frame, freq="W-SUN")
    assert len(validate(frame)) == 10  # inferred: W-MON


def test_month_starts_under_month_ends_are_told_to_move_to_the_ends_or_fit_with_month_starts():
    frame = pd.DataFrame({"unique_id": "m", "ds": pd.date_range("2024-01-01", periods=12, freq="MS"), "y": 1.0})
    with pytest.raises(
        ValidationError, match=r"off the frequency 'ME' calendar: .*last day of its period.*frequency \('MS'\)"
    ):
        validate(frame, freq="ME")


@pytest.mark.parametrize(
    "alias, named",
    [("M", "'ME' (month ends) or 'MS'"), ("H", "'h'"), ("A", "'YE'"), ("2H", "'h' with the multiple 2"), ("L", "'ms'")],
)
def test_an_alias_pandas_3_renamed_is_refused_with_its_new_name(alias, named):
    with pytest.raises(ValueError, match=rf"found '{alias}'\. pandas 3 names it {re.escape(named)}"):
        parse_frequency(alias)
