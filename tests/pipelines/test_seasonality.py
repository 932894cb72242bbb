"""Seasonality: the test, the indices of classical decomposition, the inferred period, and steps between dates."""

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.frequency import parse_frequency, steps_between
from pipelines.seasonality import (
    autocorrelations,
    infer_season_length,
    is_seasonal,
    local_seasonal_indices,
    remove_tested_seasons,
    resolve_season_length,
    seasonal_indices,
    seasonal_strength,
    shows_season_at,
)
from pipelines.windows import SeriesWindows

PATTERN_12 = 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(12) / 12)


def seasonal_series(n, pattern, level=100.0, trend=0.2, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (level + trend * t) * pattern[t % len(pattern)] * (1 + noise * rng.normal(size=n))


def test_autocorrelations_match_the_textbook_formula():
    y = np.random.default_rng(1).normal(size=50)
    centred = y - y.mean()
    expected = [np.sum(centred[k:] * centred[:-k]) / np.sum(centred**2) for k in range(1, 6)]
    np.testing.assert_allclose(autocorrelations(y, 5), expected)


def test_the_seasonality_test_tells_seasonal_from_noise_and_needs_three_seasons():
    assert is_seasonal(seasonal_series(72, PATTERN_12), 12)
    assert not is_seasonal(100 + np.random.default_rng(2).normal(size=72), 12)
    assert not is_seasonal(seasonal_series(35, PATTERN_12), 12)  # fewer than 3 m values
    assert not is_seasonal(seasonal_series(72, PATTERN_12), 1)


def test_seasonal_indices_recover_a_multiplicative_pattern():
    y = seasonal_series(120, PATTERN_12, noise=0.0, trend=0.0)
    np.testing.assert_allclose(seasonal_indices(y, 12), PATTERN_12 / PATTERN_12.mean(), rtol=1e-10)
    # Hand check of the even-period moving average: with a linear trend the ratios are still the pattern.
    with_trend = seasonal_series(240, PATTERN_12, noise=0.0, trend=0.5)
    np.testing.assert_allclose(seasonal_indices(with_trend, 12), PATTERN_12, atol=2e-3)


def test_additive_seasonal_indices_recover_an_added_pattern_under_a_linear_trend():
    offsets = 10.0 * np.sin(2 * np.pi * (np.arange(12) + 0.5) / 12)  # mean 0
    t = np.arange(5 * 12 + 7)  # not whole seasons: the phases must still start at position 0
    y = 50.0 + 0.8 * t + offsets[t % 12]
    np.testing.assert_allclose(seasonal_indices(y, 12, multiplicative=False), offsets, atol=1e-10)


def test_the_period_of_integer_series_is_the_one_most_series_show():
    pattern_4 = np.array([0.8, 1.2, 1.1, 0.9])
    monthly = [seasonal_series(96, PATTERN_12, seed=k) for k in range(6)]
    quarterly = [seasonal_series(40, pattern_4, seed=k) for k in range(6)]
    noise = [100 + np.random.default_rng(k).normal(size=60) for k in range(6)]
    assert infer_season_length(monthly) == 12
    assert infer_season_length(quarterly) == 4
    assert infer_season_length(noise) == 1


def drifting_series(n, seed):
    """A series whose steps persist (`d_t = 0.9 d_{t-1} + e_t`), as sales that drift up or down for months: its
    differences correlate at every short lag, falling slowly with it, and repeat nothing."""
    rng = np.random.default_rng(seed)
    steps = np.zeros(n)
    for t in range(1, n):
        steps[t] = 0.9 * steps[t - 1] + rng.normal()
    return 200.0 + np.cumsum(steps)


def test_drifting_series_show_no_season_though_the_test_alone_passes_them():
    series = [drifting_series(300, seed) for seed in range(6)]
    for d in [np.diff(y) for y in series]:
        r = autocorrelations(d, 7)
        for m in (4, 7):
            assert is_seasonal(d, m)  # r_m is large: the test alone would call them seasonal
            assert r[m - 1] < r[: m - 1].mean()  # but the autocorrelations fall with the lag
            assert not shows_season_at(d, m)
    assert infer_season_length(series) == 1
    for y in series:
        assert infer_season_length([y]) == 1


def test_a_season_stands_above_the_shorter_lags():
    pattern_4 = np.array([0.8, 1.2, 1.1, 0.9])
    d = np.diff(seasonal_series(40, pattern_4))
    r = autocorrelations(d, 4)
    bound = 1.645 * np.sqrt((1 + 2 * np.sum(r[:3] ** 2)) / len(d))  # by hand: r_1..r_3 before lag 4
    assert r[3] - r[:3].mean() > bound
    assert shows_season_at(d, 4)
    assert not shows_season_at(d[:11], 4)  # fewer than 3 m differences


def hourly_demand(days, weekend_drop, seed=0):
    """Hourly values with a daily shape, a slow trend and noise; weekends (days 5 and 6 of every week) lower by
    `weekend_drop`."""
    rng = np.random.default_rng(seed)
    t = np.arange(24 * days)
    daily = 1.0 + 0.4 * np.sin(2 * np.pi * t / 24)
    weekend = np.where((t // 24) % 7 >= 5, 1.0 - weekend_drop, 1.0)
    return 100.0 * (1 + 0.001 * t / 24) * daily * weekend * (1 + 0.02 * rng.normal(size=t.size))


def resolved(series, freq="h", season_length=None):
    starts = np.cumsum([0, *map(len, series)])
    return resolve_season_length(season_length, parse_frequency(freq), np.concatenate(series), starts)


def test_sub_daily_data_take_the_week_only_where_a_week_back_forecasts_better_than_a_day_back():
    weekly = hourly_demand(28, weekend_drop=0.3)
    assert resolved([weekly]) == 24 * 7
    # The same without the weekend drop: the day a week back is no better than yesterday, and the day stays.
    assert resolved([hourly_demand(28, weekend_drop=0.0)]) == 24
    # Half-hourly: the week is 336 steps.
    half_hourly = np.repeat(weekly, 2)
    assert resolved([half_hourly], "30min") == 48 * 7
    # The rule, computed by hand for the hourly series: the weekly naive's error against the daily one's.
    week, day = 168, 24
    ratio = np.mean(np.abs(weekly[week:] - weekly[:-week])) / np.mean(np.abs(weekly[week:] - weekly[week - day : -day]))
    assert ratio < 0.9


def test_the_week_needs_three_weeks_of_history_in_most_series_and_a_given_season_length_wins():
    weekly = hourly_demand(28, weekend_drop=0.3)
    assert resolved([weekly[: 24 * 20]]) == 24  # under three weeks
    assert resolved([weekly, weekly[: 24 * 20], weekly[: 24 * 20]]) == 24  # one series of three long enough
    assert resolved([weekly, weekly, weekly[: 24 * 20]]) == 24 * 7
    assert resolved([weekly], season_length=24) == 24
    # Daily data cycle over the week already; monthly data over the year.
    assert resolved([weekly[::24]], "D") == 7
    assert resolved([weekly[::24]], "MS") == 12


@pytest.mark.parametrize(
    "freq, origin, times, expected",
    [
        ("MS", "2020-01-01", ["2019-11-01", "2020-01-01", "2021-03-01"], [-2, 0, 14]),
        ("ME", "2020-01-31", ["2020-02-29", "2022-01-31"], [1, 24]),
        ("QS", "2020-01-01", ["2020-07-01", "2019-10-01"], [2, -1]),
        ("D", "2020-01-01", ["2020-01-08", "2019-12-31"], [7, -1]),
        ("W-SUN", "2020-01-05", ["2020-01-19"], [2]),
        ("B", "2020-01-03", ["2020-01-06", "2020-01-10"], [1, 5]),
        ("h", "2020-01-01 00:00", ["2020-01-02 01:00"], [25]),
    ],
)
def test_steps_between_dates(freq, origin, times, expected):
    steps = steps_between(pd.Timestamp(origin), pd.DatetimeIndex(times), parse_frequency(freq))
    np.testing.assert_array_equal(steps, expected)


def test_steps_between_integers():
    np.testing.assert_array_equal(steps_between(10, np.array([10, 16, 4]), 2), [0, 3, -3])


def frame_of(series: dict, start="2015-01-01", freq="MS"):
    return pd.concat(
        [
            pd.DataFrame({"unique_id": name, "ds": pd.date_range(start, periods=len(y), freq=freq), "y": y})
            for name, y in series.items()
        ],
        ignore_index=True,
    )


def test_deseasonalised_windows_divide_by_the_indices_and_forecasts_multiply_back():
    seasonal = seasonal_series(72, PATTERN_12, noise=0.0, trend=0.0)
    flat = 50 + np.random.default_rng(3).normal(size=72)
    frame = frame_of({"flat": flat, "seasonal": seasonal})
    sw = SeriesWindows(lookback=6, horizon=3, scaler=None, deseasonalize=True, dtype="float64", min_past=None).fit(
        frame
    )
    assert sw.season_length_ == 12 and set(sw.seasonal_adjustment_.indices) == {"seasonal"}
    indices = sw.seasonal_adjustment_.indices["seasonal"]
    windows = sw.transform(frame)
    first = int(np.flatnonzero(windows.index["unique_id"].to_numpy() == "seasonal")[0]) + 5  # past rows 5..10
    np.testing.assert_allclose(windows.past[first, :, 0], seasonal[5:11] / indices[np.arange(5, 11) % 12])
    np.testing.assert_allclose(windows.inverse_target(windows.target)[first], seasonal[11:14])
    flat_window = int(np.flatnonzero(windows.index["unique_id"].to_numpy() == "flat")[0])
    np.testing.assert_allclose(windows.past[flat_window, :, 0], flat[:6])
    # A forecast from the last rows only gets the same phases (anchored at the first training row).
    tail = frame.groupby("unique_id").tail(10)
    query = sw.predict_windows(tail)
    np.testing.assert_allclose(query.seasonal_factors[1], indices[np.arange(72, 75) % 12])
    restored = SeriesWindows.from_config(json.loads(json.dumps(sw.get_config())))
    np.testing.assert_allclose(restored.predict_windows(tail).seasonal_factors, query.seasonal_factors)


def test_a_series_with_a_zero_or_too_short_is_left_as_it_is():
    seasonal = seasonal_series(72, PATTERN_12)
    with_zero = seasonal.copy()
    with_zero[7] = 0.0
    frame = frame_of({"zero": with_zero, "short": seasonal[:30], "ok": seasonal})
    sw = SeriesWindows(lookback=6, horizon=3, deseasonalize=True, scaler="standard", min_past=None).fit(frame)
    assert set(sw.seasonal_adjustment_.indices) == {"ok"}


def test_only_the_series_that_pass_the_seasonality_test_lose_their_season():
    t = np.arange(48)
    pattern = 1 + 0.4 * np.sin(2 * np.pi * t / 12)
    seasonal = (100 + t) * pattern
    flat = 100 + np.random.default_rng(7).normal(0, 1, 48)
    counts = np.maximum(0.0, 5.0 + 8.0 * np.sin(2 * np.pi * t / 12))  # zero for a third of every season
    adjusted, indices, offsets = remove_tested_seasons([seasonal, flat, -seasonal, counts], 12)
    centred = np.r_[0.5, np.ones(11), 0.5] / 12  # the centred 2x12 moving average
    # the positive seasonal series: divided by its classical indices (the ratios to the trend averaged per phase)
    trend = np.convolve(seasonal, centred, mode="valid")
    ratios = seasonal[6 : 6 + len(trend)] / trend
    expected = np.array([ratios[(np.arange(len(trend)) + 6) % 12 == j].mean() for j in range(12)])
    np.testing.assert_allclose(indices[0], expected / expected.mean(), rtol=1e-12)
    np.testing.assert_allclose(adjusted[0], seasonal / indices[0][t % 12], rtol=1e-12)
    np.testing.assert_array_equal(offsets[0], np.zeros(12))
    # no season (the test fails): unchanged, with unit indices and zero offsets
    np.testing.assert_array_equal(adjusted[1], flat)
    np.testing.assert_array_equal(indices[1], np.ones(12))
    np.testing.assert_array_equal(offsets[1], np.zeros(12))
    # seasonal but not positive: the additive indices (the differences to the trend averaged per phase) subtracted
    for row, y in ((2, -seasonal), (3, counts)):
        trend = np.convolve(y, centred, mode="valid")
        differences = y[6 : 6 + len(trend)] - trend
        expected = np.array([differences[(np.arange(len(trend)) + 6) % 12 == j].mean() for j in range(12)])
        np.testing.assert_allclose(offsets[row], expected - expected.mean(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(adjusted[row], y - offsets[row][t % 12], rtol=1e-12)
        np.testing.assert_array_equal(indices[row], np.ones(12))


def test_local_indices_against_a_hand_loop_over_each_seasons_window():
    # the profile changes from A to B halfway and the level trends: each season gets the phase means of the
    # detrended ratios of the 4 seasons around it (moved inside the history), the last its last 4 seasons'
    m, seasons, window = 6, 13, 4
    t = np.arange(seasons * m - 2)  # the last season is not whole
    a, b = 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(m) / m), 1.0 + 0.5 * np.cos(2 * np.pi * np.arange(m) / m)
    y = (50.0 + 0.7 * t) * np.where(t < 6 * m, a[t % m], b[t % m]) * np.random.default_rng(4).normal(1, 0.01, len(t))
    centred = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.convolve(y, centred, mode="valid")
    ratio_time = np.arange(len(trend)) + m // 2
    ratios = y[ratio_time] / trend
    expected = np.empty(len(y))
    for k in range(seasons):
        first = min(max(k - window // 2, 0), seasons - window)
        inside = (ratio_time >= first * m) & (ratio_time < (first + window) * m)
        means = np.array([ratios[inside & (ratio_time % m == j)].mean() for j in range(m)])
        for time in range(k * m, min((k + 1) * m, len(y))):
            expected[time] = means[time % m] / means.mean()
    each, last = local_seasonal_indices(y, m, window)
    np.testing.assert_allclose(each, expected, rtol=1e-12)
    np.testing.assert_allclose(last, expected[(seasons - 1) * m - m : (seasons - 1) * m], rtol=1e-12)
    np.testing.assert_allclose(last, b / b.mean(), atol=0.02)  # the new profile, where the whole history's mixes
    assert np.max(np.abs(seasonal_indices(y, m) - b / b.mean())) > 0.1
    # a window as long as the history, or none, gives every season the whole history's indices
    for whole in (None, seasons):
        each, last = local_seasonal_indices(y, m, whole)
        np.testing.assert_allclose(each, seasonal_indices(y, m)[t % m], rtol=1e-12)
        np.testing.assert_allclose(last, seasonal_indices(y, m), rtol=1e-12)


def test_seasonal_strength_against_a_hand_decomposition():
    # period 4, 12 values: the centred moving average of order 4 (weights 1/8, 1/4, 1/4, 1/4, 1/8) leaves 8 values
    y = np.array([1.0, 5.0, 2.0, 8.0, 3.0, 6.0, 2.0, 9.0, 1.0, 7.0, 3.0, 8.0])
    weights = np.array([1, 2, 2, 2, 1]) / 8
    trend = np.array([y[k : k + 5] @ weights for k in range(8)])
    detrended = y[2:10] - trend
    phases = np.arange(2, 10) % 4
    means = np.array([detrended[phases == j].mean() for j in range(4)])
    expected = 1.0 - np.var(detrended - means[phases]) / np.var(detrended)
    assert seasonal_strength(y, 4) == pytest.approx(expected)
    assert seasonal_strength(np.full(12, 3.0), 4) == 0.0
    # a season on a straight line: the centred average removes the line exactly, so R = 0 and F_s = 1
    t = np.arange(40)
    assert seasonal_strength(5.0 + 0.3 * t + np.tile([2.0, -1.0, 0.5, -1.5], 10), 4) == pytest.approx(1.0)
    # white noise: about m / (n - m), the share of the m phase means
    noise = np.random.default_rng(0).normal(size=(200, 1040))
    assert np.mean([seasonal_strength(row, 52) for row in noise]) == pytest.approx(52 / (1040 - 52), rel=0.1)
