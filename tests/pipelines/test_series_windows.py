"""SeriesWindows / Windows: windows equal slices of the original frame, covariates, prediction windows, config."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from pipelines.calendar import calendar_features
from pipelines.validation import ValidationError
from pipelines.windows import SeriesWindows


def test_raw_windows_equal_hand_computed_slices():
    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(10) * 5, "y": np.arange(10.0) * 10})
    windows = SeriesWindows(
        lookback=3, horizon=2, stride=2, scaler=None, min_past=None, deseasonalize=False
    ).fit_transform(frame)
    assert len(windows) == 3
    np.testing.assert_array_equal(windows.past[:, :, 0], [[0, 10, 20], [20, 30, 40], [40, 50, 60]])
    np.testing.assert_array_equal(windows.target, [[30, 40], [50, 60], [70, 80]])
    assert windows.index["unique_id"].tolist() == ["a"] * 3
    assert windows.index["ds"].tolist() == [10, 20, 30]
    assert windows.future is None and windows.static is None
    assert windows.past.dtype == np.float32 and windows.past.shape == (3, 3, 1)


def test_windows_know_their_origin_rows_in_the_validated_frame():
    # series "a": rows 0-5 at ds 0..5; series "b": rows 6-9 at ds 0..3. min_past 2 < lookback 3 pads one row.
    frame = pd.DataFrame({"unique_id": ["b"] * 4 + ["a"] * 6, "ds": [*range(4), *range(6)], "y": np.arange(10.0)})
    pipeline = SeriesWindows(lookback=3, horizon=1, scaler=None, min_past=2, deseasonalize=False)
    checked = pipeline.check(frame)
    windows = pipeline.fit(checked).transform(checked)
    # origins of "a" at ds 1..4 (the first with one padded row), of "b" at ds 1..2
    np.testing.assert_array_equal(windows.origin_rows, [1, 2, 3, 4, 7, 8])
    np.testing.assert_array_equal(windows.first_rows, [0, 0, 0, 0, 6, 6])
    picked = windows.select(np.array([5, 0]))
    np.testing.assert_array_equal(picked.origin_rows, [8, 1])
    np.testing.assert_array_equal(picked.first_rows, [6, 0])
    at_rows = pipeline.windows_at(checked, np.array([9, 3]))
    assert at_rows.origin_ids.tolist() == ["b", "a"]
    assert list(at_rows.origin_times) == [3, 3]
    np.testing.assert_array_equal(at_rows.first_rows, [6, 0])
    np.testing.assert_array_equal(at_rows.past[:, :, 0], [[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]])  # b holds y 0-3, a 4-9
    with pytest.raises(ValueError, match="rows must lie in 0 .. 9"):
        pipeline.windows_at(checked, np.array([10]))


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=4),
    lookback=st.integers(min_value=1, max_value=8),
    horizon=st.integers(min_value=1, max_value=5),
    stride=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_window_i_of_series_s_is_the_matching_slice(lengths, lookback, horizon, stride, seed):
    rng = np.random.default_rng(seed)
    lengths = [length + lookback + horizon - 1 for length in lengths]
    series = {f"id{number:02d}": rng.normal(size=length) for number, length in enumerate(lengths)}
    frame = pd.concat(
        [pd.DataFrame({"unique_id": key, "ds": np.arange(len(values)), "y": values}) for key, values in series.items()]
    ).sample(frac=1.0, random_state=seed)
    windows = SeriesWindows(
        lookback=lookback,
        horizon=horizon,
        stride=stride,
        scaler=None,
        dtype="float64",
        min_past=None,
        deseasonalize=False,
    ).fit_transform(frame)
    expected_past, expected_target, expected_ids = [], [], []
    for key in sorted(series):
        values = series[key]
        for start in range(0, len(values) - lookback - horizon + 1, stride):
            expected_past.append(values[start : start + lookback])
            expected_target.append(values[start + lookback : start + lookback + horizon])
            expected_ids.append(key)
    np.testing.assert_array_equal(windows.past[:, :, 0], np.array(expected_past))
    np.testing.assert_array_equal(windows.target, np.array(expected_target))
    assert windows.index["unique_id"].tolist() == expected_ids


def with_covariates(**settings) -> SeriesWindows:
    """Windows of 5 past and 3 target steps with the frame's past, future and static covariates, unscaled target."""
    return SeriesWindows(
        lookback=5,
        horizon=3,
        past_covariates=["temp"],
        future_covariates=["promo"],
        static_covariates=["region", "size"],
        scaler=None,
        dtype="float64",
        **settings,
        min_past=None,
        deseasonalize=False,
    )


def test_covariates_enter_past_future_and_static_as_specified(long_frame):
    sw = with_covariates(calendar=["dayofweek", "month"], covariate_scaler=None)
    windows = sw.fit_transform(long_frame)
    assert windows.past_feature_names == [
        "y",
        "temp",
        "promo",
        "dayofweek_sin",
        "dayofweek_cos",
        "month_sin",
        "month_cos",
    ]
    assert windows.future_feature_names == ["promo", "dayofweek_sin", "dayofweek_cos", "month_sin", "month_cos"]
    assert windows.static_feature_names == ["region", "size"]
    series = long_frame[long_frame["unique_id"] == "s1"].reset_index(drop=True)
    first_of_s1 = int(np.flatnonzero(windows.index["unique_id"].to_numpy() == "s1")[0])
    window = first_of_s1 + 4  # window 4 of s1: past rows 4..8, horizon rows 9..11
    calendar = calendar_features(pd.DatetimeIndex(series["ds"]), ["dayofweek", "month"], dtype="float64")
    np.testing.assert_allclose(windows.past[window, :, 0], series["y"].iloc[4:9])
    np.testing.assert_allclose(windows.past[window, :, 1], series["temp"].iloc[4:9])
    np.testing.assert_allclose(windows.past[window, :, 2], series["promo"].iloc[4:9])
    np.testing.assert_allclose(windows.past[window, :, 3:], calendar[4:9])
    np.testing.assert_allclose(windows.future[window, :, 0], series["promo"].iloc[9:12])
    np.testing.assert_allclose(windows.future[window, :, 1:], calendar[9:12])
    np.testing.assert_allclose(windows.target[window], series["y"].iloc[9:12])
    assert windows.index["ds"].iloc[window] == series["ds"].iloc[8]
    # Vocabulary ["east", "north", "south"]: s1 is "south" (code 2) with size 3.
    np.testing.assert_array_equal(windows.static[window], [2.0, 3.0])
    np.testing.assert_array_equal(np.unique(windows.static[:, 0]), [0.0, 1.0, 2.0])


def test_numeric_covariates_are_standardised_on_training_rows_and_flags_kept(long_frame):
    train = long_frame.groupby("unique_id").head(20)
    sw = with_covariates().fit(train)
    windows = sw.transform(long_frame)
    series = long_frame[long_frame["unique_id"] == "s1"].reset_index(drop=True)
    window = int(np.flatnonzero(windows.index["unique_id"].to_numpy() == "s1")[0]) + 4
    temp_mean, temp_std = train["temp"].mean(), train["temp"].std(ddof=0)
    np.testing.assert_allclose(windows.past[window, :, 1], (series["temp"].iloc[4:9] - temp_mean) / temp_std)
    np.testing.assert_allclose(windows.past[window, :, 2], series["promo"].iloc[4:9])  # a 0/1 flag: as given
    np.testing.assert_allclose(windows.future[window, :, 0], series["promo"].iloc[9:12])
    sizes = np.array([2.0, 3.0, 4.0])  # one value per series, standardised over the series
    np.testing.assert_allclose(windows.static[window], [2.0, (3.0 - sizes.mean()) / sizes.std()])
    restored = SeriesWindows.from_config(json.loads(json.dumps(sw.get_config())))
    np.testing.assert_allclose(restored.transform(long_frame).past, windows.past)


def test_standard_scaling_uses_training_statistics_and_inverts_exactly(long_frame):
    train = long_frame.groupby("unique_id").head(20)
    sw = SeriesWindows(
        lookback=4, horizon=2, scaler="standard", dtype="float64", min_past=None, deseasonalize=False
    ).fit(train)
    windows = sw.transform(long_frame)
    raw = SeriesWindows(
        lookback=4, horizon=2, scaler=None, dtype="float64", min_past=None, deseasonalize=False
    ).fit_transform(long_frame)
    train_y = train.groupby("unique_id")["y"]
    mean = windows.index["unique_id"].map(train_y.mean()).to_numpy()
    std = windows.index["unique_id"].map(train_y.std(ddof=0)).to_numpy()
    np.testing.assert_allclose(windows.offset, mean)
    np.testing.assert_allclose(windows.scale, std)
    np.testing.assert_allclose(windows.past[:, :, 0], (raw.past[:, :, 0] - mean[:, None]) / std[:, None])
    np.testing.assert_allclose(windows.inverse_target(windows.target), raw.target)
    stacked = np.stack([windows.target, 2 * windows.target], axis=-1)
    np.testing.assert_allclose(windows.inverse_target(stacked)[..., 1], 2 * raw.target - mean[:, None])


def test_last_value_scaling_divides_each_window_by_its_last_past_value():
    values = np.array([2.0, -4.0, 0.0, 8.0, 1.0, 3.0, 5.0])
    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(7), "y": values})
    windows = SeriesWindows(
        lookback=3, horizon=1, scaler="last", dtype="float64", min_past=None, deseasonalize=False
    ).fit_transform(frame)
    last = values[2:6]
    expected_scale = np.where(last == 0, 1.0, np.abs(last))
    np.testing.assert_allclose(windows.scale, expected_scale)
    np.testing.assert_allclose(windows.offset, 0.0)
    np.testing.assert_allclose(
        windows.past[:, :, 0], np.lib.stride_tricks.sliding_window_view(values, 3)[:4] / expected_scale[:, None]
    )
    np.testing.assert_allclose(windows.target[:, 0], values[3:] / expected_scale)
    np.testing.assert_allclose(windows.inverse_target(windows.target)[:, 0], values[3:])
    inputs, target = windows.batch(np.array([3, 1]))
    np.testing.assert_allclose(inputs["past"], windows.past[[3, 1]])
    np.testing.assert_allclose(target, windows.target[[3, 1]])
    np.testing.assert_array_equal(windows.zero_past, last == 0)  # the window whose last value is 0 forecasts 0


def test_a_window_mean_scaled_window_forecasts_zero_when_its_observed_past_is_all_zero():
    # padding (observed 0) does not count; one nonzero observed value does
    frame = pd.DataFrame({"unique_id": "s", "ds": np.arange(8), "y": [0.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0]})
    sw = SeriesWindows(lookback=3, horizon=1, min_past=1, scaler="window_mean", dtype="float64", deseasonalize=False)
    windows = sw.fit_transform(frame)  # origins after rows 0 .. 6; the past of the window at origin k: rows k-2..k
    np.testing.assert_array_equal(windows.zero_past, [True, True, True, True, False, False, False])
    unscaled = SeriesWindows(lookback=3, horizon=1, min_past=1, scaler=None, deseasonalize=False).fit_transform(frame)
    assert not unscaled.zero_past.any()  # a series-level scaling keeps the zeros' information


def test_predict_windows_with_future_covariates_and_calendar(long_frame):
    sw = SeriesWindows(
        lookback=6,
        horizon=4,
        future_covariates=["promo"],
        calendar=["dayofweek"],
        scaler="minmax",
        dtype="float64",
        min_past=None,
        deseasonalize=False,
    )
    sw.fit(long_frame)
    last = long_frame.groupby("unique_id")["ds"].max()
    future_rows = []
    for series_id, last_ds in last.items():
        times = sw.future_timestamps(last_ds, 4)
        future_rows.append(pd.DataFrame({"unique_id": series_id, "ds": times, "promo": [1.0, 0.0, 1.0, 1.0]}))
    future_df = pd.concat(future_rows, ignore_index=True).iloc[::-1]
    windows = sw.predict_windows(long_frame, future_df)
    assert len(windows) == 3 and windows.target is None
    assert windows.index["ds"].tolist() == last.tolist()
    series = long_frame[long_frame["unique_id"] == "s2"]
    minimum, maximum = series["y"].min(), series["y"].max()
    np.testing.assert_allclose(windows.past[2, :, 0], (series["y"].iloc[-6:] - minimum) / (maximum - minimum))
    np.testing.assert_allclose(windows.past[2, :, 1], series["promo"].iloc[-6:])
    np.testing.assert_allclose(windows.future[:, :, 0], np.tile([1.0, 0.0, 1.0, 1.0], (3, 1)))
    expected_days = pd.date_range(last["s2"] + pd.Timedelta(days=1), periods=4, freq="D")
    np.testing.assert_allclose(
        windows.future[2, :, 1:], calendar_features(expected_days, ["dayofweek"], dtype="float64")
    )
    absent = last["s1"] + pd.Timedelta(days=2)
    incomplete = future_df[~((future_df["unique_id"] == "s1") & (future_df["ds"] == absent))]
    with pytest.raises(
        ValidationError, match=rf"no \(finite\) future covariates \['promo'\] for series 's1' at ds={absent}"
    ):
        sw.predict_windows(long_frame, incomplete)
    with pytest.raises(ValidationError, match="pass them as future_df"):
        sw.predict_windows(long_frame)
    with pytest.raises(
        ValidationError,
        match=r"Column 'promo' must be numeric, found dtype (object|str): series 's2' at ds=.* has 'yes'",
    ):
        sw.predict_windows(long_frame, future_df.assign(promo="yes"))
    infinite = future_df.assign(promo=np.where(future_df["unique_id"] == "s0", np.inf, 1.0))
    with pytest.raises(ValidationError, match=r"for series 's0' at ds=.*4 of the 12 needed rows are missing"):
        sw.predict_windows(long_frame, infinite)
    assert windows.forecast_times.equals(pd.DatetimeIndex(np.concatenate([sw.future_timestamps(ds, 4) for ds in last])))


def test_forecast_times_are_the_horizon_timestamps_after_each_origin(long_frame):
    sw = SeriesWindows(lookback=6, horizon=4, stride=5, scaler="standard", min_past=None, deseasonalize=False).fit(
        long_frame
    )
    windows = sw.transform(long_frame)
    expected = np.concatenate([pd.date_range(origin, periods=5, freq="D")[1:] for origin in windows.index["ds"]])
    np.testing.assert_array_equal(windows.forecast_times.to_numpy(), expected)
    monthly = pd.DataFrame(
        {
            "unique_id": "m",
            "ds": pd.date_range("2020-01-31", periods=12, freq="ME", tz="Europe/Paris"),
            "y": np.arange(12.0),
        }
    )
    query = (
        SeriesWindows(lookback=3, horizon=3, scaler="standard", min_past=None, deseasonalize=False)
        .fit(monthly)
        .predict_windows(monthly)
    )
    assert query.forecast_times.equals(
        pd.DatetimeIndex(["2021-01-31", "2021-02-28", "2021-03-31"]).tz_localize("Europe/Paris")
    )


def test_predict_windows_of_integer_series_without_covariates():
    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(0, 30, 3), "y": np.arange(10.0)})
    sw = SeriesWindows(lookback=4, horizon=2, scaler=None, min_past=None, deseasonalize=False).fit(frame)
    windows = sw.predict_windows(frame.iloc[:8])
    np.testing.assert_array_equal(windows.past[0, :, 0], [4.0, 5.0, 6.0, 7.0])
    assert windows.index["ds"].tolist() == [21]
    np.testing.assert_array_equal(sw.future_timestamps(21, 2), [24, 27])


def test_config_round_trip_through_json_transforms_identically(long_frame):
    sw = SeriesWindows(
        lookback=5,
        horizon=2,
        stride=3,
        past_covariates=["temp"],
        future_covariates=["promo"],
        static_covariates=["region"],
        calendar="auto",
        scaler="robust",
        min_past=None,
        deseasonalize=False,
    )
    windows = sw.fit_transform(long_frame)
    restored = SeriesWindows.from_config(json.loads(json.dumps(sw.get_config())))
    again = restored.transform(long_frame)
    for name in ("past", "target", "future", "static", "offset", "scale"):
        np.testing.assert_array_equal(getattr(again, name), getattr(windows, name))
    pd.testing.assert_frame_equal(again.index, windows.index)
    assert restored.freq_ == sw.freq_ and restored.calendar_fields_ == ("dayofweek", "dayofyear")
    unfitted = SeriesWindows.from_config(
        json.loads(
            json.dumps(
                SeriesWindows(lookback=3, horizon=1, scaler="standard", min_past=None, deseasonalize=False).get_config()
            )
        )
    )
    assert not hasattr(unfitted, "freq_")
    cloned = clone(sw)
    assert cloned.get_params() == sw.get_params() and not hasattr(cloned, "freq_")


def test_fit_transform_and_predict_leave_the_input_unchanged(long_frame):
    frame = long_frame.sample(frac=1.0, random_state=0)
    frame.loc[frame.index[5], "y"] = np.nan
    before = frame.copy(deep=True)
    sw = SeriesWindows(
        lookback=3,
        horizon=2,
        past_covariates=["temp"],
        static_covariates=["region"],
        fill="ffill",
        scaler="standard",
        min_past=None,
        deseasonalize=False,
    )
    sw.fit_transform(frame)
    sw.predict_windows(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_select_len_and_batch(long_frame):
    windows = SeriesWindows(
        lookback=4, horizon=2, static_covariates=["size"], scaler="standard", min_past=None, deseasonalize=False
    ).fit_transform(long_frame)
    mask = windows.index["unique_id"].to_numpy() == "s1"
    subset = windows.select(mask)
    assert len(subset) == int(mask.sum()) == 24 - 4 - 2 + 1
    np.testing.assert_array_equal(subset.past, windows.past[mask])
    np.testing.assert_array_equal(subset.static, windows.static[mask])
    np.testing.assert_array_equal(windows.select([5, 0]).target, windows.target[[5, 0]])
    inputs = windows.as_inputs()
    assert set(inputs) == {"past", "static"}
    np.testing.assert_array_equal(inputs["past"], windows.past)


def test_unseen_series_and_unknown_category_are_errors(long_frame):
    sw = SeriesWindows(
        lookback=3, horizon=1, static_covariates=["region"], scaler="standard", min_past=None, deseasonalize=False
    ).fit(long_frame[long_frame["unique_id"] != "s2"])
    with pytest.raises(ValueError, match=r"Series 's2' was not seen by fit"):
        sw.transform(long_frame)
    renamed = long_frame.assign(region=long_frame["region"].replace("north", "west"))
    with pytest.raises(ValidationError, match=r"Static covariate 'region' of series 's0' has the value 'west'"):
        sw.transform(renamed[renamed["unique_id"] != "s2"])


def test_short_series_in_transform_error_or_dropped(long_frame):
    sw = SeriesWindows(lookback=20, horizon=5, scaler=None, min_past=None, deseasonalize=False)
    with pytest.raises(ValidationError, match=r"Series 's1' has 24 rows; expected at least 25"):
        sw.fit(long_frame)
    sw = SeriesWindows(lookback=20, horizon=5, scaler=None, short_series="drop", min_past=None, deseasonalize=False)
    with pytest.warns(UserWarning, match="'s1'"):
        windows = sw.fit_transform(long_frame)
    assert set(windows.index["unique_id"]) == {"s0", "s2"}


def test_time_kind_must_match_fit_and_fit_comes_first(long_frame, make_long_frame):
    sw = SeriesWindows(lookback=3, horizon=1, scaler="standard", min_past=None, deseasonalize=False)
    with pytest.raises(RuntimeError, match="not fitted"):
        sw.transform(long_frame)
    sw.fit(long_frame)
    with pytest.raises(ValidationError):
        sw.transform(make_long_frame([30, 24, 40], integer_time=True))


def test_calendar_needs_datetimes(make_long_frame):
    with pytest.raises(ValidationError, match="need datetime times"):
        SeriesWindows(
            lookback=3, horizon=1, calendar=["month"], scaler="standard", min_past=None, deseasonalize=False
        ).fit(make_long_frame([10], integer_time=True))
    windows = SeriesWindows(
        lookback=3, horizon=1, calendar="auto", scaler="standard", min_past=None, deseasonalize=False
    ).fit_transform(make_long_frame([10], integer_time=True))
    assert windows.future is None and windows.past.shape[-1] == 1


def test_invalid_arguments_are_rejected(long_frame):
    with pytest.raises(ValueError, match="lookback must be a positive integer"):
        SeriesWindows(lookback=0, horizon=1, scaler="standard", min_past=None, deseasonalize=False).fit(long_frame)
    with pytest.raises(ValueError, match="scaler"):
        SeriesWindows(lookback=2, horizon=1, scaler="zscore", min_past=None, deseasonalize=False).fit(long_frame)
    with pytest.raises(ValueError, match="min_past must be at most lookback=2 .*; got 3"):
        SeriesWindows(lookback=2, horizon=1, min_past=3).fit(long_frame)
    with pytest.raises(ValueError, match=r"got the text 'month, dayofweek': give a list, \['month', 'dayofweek'\]"):
        SeriesWindows(lookback=2, horizon=1, calendar="month, dayofweek").fit(long_frame)
    # a misspelt covariate: the message lists the frame's own columns, where the right name is
    typo = long_frame.assign(price=1.0)
    with pytest.raises(ValueError, match=r"Missing columns \['prize'\]; the frame has columns \[.*'price'\]"):
        SeriesWindows(lookback=2, horizon=1, past_covariates=["prize"]).fit(typo)
    with pytest.raises(ValueError, match=r"\['temp'\] repeated"):
        SeriesWindows(
            lookback=2,
            horizon=1,
            past_covariates=["temp"],
            future_covariates=["temp"],
            scaler="standard",
            min_past=None,
            deseasonalize=False,
        ).fit(long_frame)


def test_windowing_memory_does_not_grow_with_lookback():
    import tracemalloc

    length = 100_000
    frame = pd.DataFrame(
        {"unique_id": np.repeat([0, 1], length), "ds": np.tile(np.arange(length), 2), "y": np.arange(2.0 * length)}
    )
    frame_bytes = frame.memory_usage(deep=True).sum()
    peaks = {}
    for lookback in (4, 1024):
        tracemalloc.start()
        windows = SeriesWindows(
            lookback=lookback, horizon=2, scaler="standard", min_past=None, deseasonalize=False
        ).fit_transform(frame)
        windows.batch(np.arange(64))
        peaks[lookback] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del windows
    # Materialising the windows would need lookback * 2e5 * 4 bytes (800 MB at lookback 1024).
    assert peaks[1024] < 4 * frame_bytes
    assert peaks[1024] < 1.5 * peaks[4]


def test_left_padding_gives_short_series_windows_and_an_observed_flag():
    frame = pd.DataFrame({"unique_id": "s", "ds": np.arange(7), "y": np.arange(1.0, 8.0)})
    sw = SeriesWindows(lookback=5, horizon=2, min_past=2, scaler=None, dtype="float64", deseasonalize=False)
    windows = sw.fit_transform(frame)  # origins after rows 1..4: 4 windows although 7 < lookback + horizon
    assert windows.past_feature_names == ["y", "observed"]
    assert len(windows) == 4
    np.testing.assert_array_equal(windows.past[0, :, 0], [0, 0, 0, 1, 2])
    np.testing.assert_array_equal(windows.past[0, :, 1], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(windows.target, [[3, 4], [4, 5], [5, 6], [6, 7]])
    np.testing.assert_array_equal(windows.past[3, :, 1], [1, 1, 1, 1, 1])
    np.testing.assert_array_equal(windows.index["ds"], [1, 2, 3, 4])
    query = sw.predict_windows(frame.head(3))  # three rows: padded to lookback 5
    np.testing.assert_array_equal(query.past[0, :, 0], [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(query.forecast_times, [3, 4])
    with pytest.raises(ValidationError, match="has 1 rows; expected at least 2"):
        sw.predict_windows(frame.head(1))


def test_window_mean_scaling_divides_by_the_mean_absolute_observed_past():
    frame = pd.DataFrame({"unique_id": "s", "ds": np.arange(8), "y": [2.0, -4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0]})
    sw = SeriesWindows(lookback=4, horizon=2, min_past=2, scaler="window_mean", dtype="float64", deseasonalize=False)
    windows = sw.fit_transform(frame)
    np.testing.assert_allclose(windows.scale[:2], [3.0, 4.0])  # mean |y| of (2, -4), then of (2, -4, 6)
    np.testing.assert_allclose(windows.past[0, :, 0], [0, 0, 2 / 3, -4 / 3])
    np.testing.assert_allclose(windows.target[0], [6 / 3, 8 / 3])
    np.testing.assert_allclose(windows.inverse_target(windows.target), [[6, 8], [8, 10], [10, 12], [12, 14], [14, 16]])
    # the scales are computed once per windows; a selection keeps its windows' scales, computed before or after
    np.testing.assert_allclose(windows.select([4, 1]).scale, windows.scale[[4, 1]])
    fresh = sw.transform(frame)
    np.testing.assert_allclose(fresh.select([4, 1]).scale, [9.0, 4.0])  # mean |y| of (6, 8, 10, 12), of (2, -4, 6)


def test_window_scales_computed_in_chunks_equal_those_computed_at_once(monkeypatch):
    import pipelines.windows as windows_module

    frame = pd.DataFrame({"unique_id": "s", "ds": np.arange(12), "y": np.arange(12, dtype=float) ** 1.5 + 1})
    sw = SeriesWindows(lookback=4, horizon=2, min_past=2, scaler="window_mean", dtype="float64", deseasonalize=False)
    at_once = sw.fit_transform(frame).scale
    monkeypatch.setattr(windows_module, "_SCALE_CHUNK", 3)  # 9 windows: chunks of 3, 3 and 3
    np.testing.assert_allclose(sw.transform(frame).scale, at_once, rtol=0, atol=0)
    monkeypatch.setattr(windows_module, "_SCALE_CHUNK", 4)  # chunks of 4, 4 and 1
    np.testing.assert_allclose(sw.transform(frame).scale, at_once, rtol=0, atol=0)
