"""Naive, seasonal naive and drift forecasts against hand-computed values and timestamps."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from forecast.baselines import Drift, Naive, SeasonalNaive
from pipelines.windows import SeriesWindows


@pytest.fixture
def small_monthly():
    """Series a: 1..6 (Jan-Jun 2020); series b: 10, 20, 15, 25, 20 (Mar-Jul 2021)."""
    return pd.DataFrame(
        {
            "unique_id": ["a"] * 6 + ["b"] * 5,
            "ds": list(pd.date_range("2020-01-01", periods=6, freq="MS"))
            + list(pd.date_range("2021-03-01", periods=5, freq="MS")),
            "y": [1, 2, 3, 4, 5, 6, 10, 20, 15, 25, 20.0],
        }
    )


def test_naive_repeats_the_last_value_at_real_future_months(small_monthly):
    forecast = Naive(horizon=3).fit(small_monthly).predict()
    assert list(forecast.columns) == ["unique_id", "ds", "y_hat"]
    assert forecast["y_hat"].tolist() == [6, 6, 6, 20, 20, 20]
    expected_ds = pd.to_datetime(["2020-07-01", "2020-08-01", "2020-09-01", "2021-08-01", "2021-09-01", "2021-10-01"])
    assert (forecast["ds"].to_numpy() == expected_ds.to_numpy()).all()


def test_seasonal_naive_repeats_the_last_season(small_monthly):
    forecast = SeasonalNaive(horizon=5, season_length=2).fit(small_monthly).predict()
    # a ends ..., 5, 6 -> 5, 6, 5, 6, 5 ; b ends ..., 25, 20 -> 25, 20, 25, 20, 25
    assert forecast["y_hat"].tolist() == [5, 6, 5, 6, 5, 25, 20, 25, 20, 25]


def test_seasonal_naive_with_season_longer_than_horizon(small_monthly):
    forecast = SeasonalNaive(horizon=2, season_length=4).fit(small_monthly).predict()
    # a: y_{T+1} = y_{T-3} = 3, y_{T+2} = y_{T-2} = 4 ; b: 20, 15
    assert forecast["y_hat"].tolist() == [3, 4, 20, 15]


def test_drift_extends_the_line_through_first_and_last_values(small_monthly):
    forecast = Drift(horizon=2).fit(small_monthly).predict()
    # a: slope (6-1)/5 = 1 -> 7, 8 ; b: slope (20-10)/4 = 2.5 -> 22.5, 25
    assert forecast["y_hat"].tolist() == pytest.approx([7, 8, 22.5, 25])


def test_predict_on_a_new_history_forecasts_after_its_last_timestamp(small_monthly):
    model = Naive(horizon=1).fit(small_monthly)
    shorter = small_monthly[small_monthly["ds"] < "2020-05-01"]
    shorter = shorter[shorter["unique_id"] == "a"]
    forecast = model.predict(shorter)
    assert forecast["ds"].tolist() == [pd.Timestamp("2020-05-01")]
    assert forecast["y_hat"].tolist() == [4.0]


def test_daily_and_hourly_timestamps_keep_frequency_and_time_zone(long_frame):
    daily = long_frame("2023-12-30", "D", {"s": 10}, season_length=7)
    forecast = SeasonalNaive(horizon=3, season_length=7).fit(daily).predict()
    assert forecast["ds"].tolist() == list(pd.date_range("2024-01-09", periods=3, freq="D"))
    assert forecast["y_hat"].tolist() == pytest.approx(daily["y"].iloc[3:6].tolist())

    hourly = long_frame("2024-05-01 20:00", "h", {"s": 6}, tz="Europe/Berlin")
    forecast = Naive(horizon=2).fit(hourly).predict()
    assert forecast["ds"].tolist() == list(pd.date_range("2024-05-02 02:00", periods=2, freq="h", tz="Europe/Berlin"))


def test_integer_ds_steps_by_the_series_step(long_frame):
    frame = long_frame(5, 3, {"u": 4, "v": 3})  # u: 5, 8, 11, 14 ; v: 5, 8, 11
    forecast = Drift(horizon=2).fit(frame).predict()
    assert forecast["ds"].tolist() == [17, 20, 14, 17]
    u = frame.loc[frame["unique_id"] == "u", "y"].to_numpy()
    slope = (u[-1] - u[0]) / 3
    assert forecast["y_hat"].iloc[:2].tolist() == pytest.approx([u[-1] + slope, u[-1] + 2 * slope])


def test_freq_argument_is_used_for_single_row_series():
    frame = pd.DataFrame({"unique_id": ["p", "q"], "ds": pd.to_datetime(["2020-03-31", "2020-01-31"]), "y": [1.0, 2.0]})
    forecast = Naive(horizon=2, freq="ME").fit(frame).predict()
    assert forecast["ds"].tolist() == list(pd.to_datetime(["2020-04-30", "2020-05-31", "2020-02-29", "2020-03-31"]))


def test_backtest_agrees_with_predict_on_truncated_histories(monthly_df):
    model = SeasonalNaive(horizon=4, season_length=12)
    result = model.backtest(monthly_df, n_windows=2, step=3)
    for (series_id, cutoff), part in result.forecasts.groupby(["unique_id", "cutoff"]):
        history = monthly_df[(monthly_df["unique_id"] == series_id) & (monthly_df["ds"] <= cutoff)]
        direct = clone(model).fit(history).predict()
        assert part["y_hat"].tolist() == pytest.approx(direct["y_hat"].tolist())
        assert part["ds"].tolist() == direct["ds"].tolist()


def test_a_series_fit_did_not_see_is_forecast_and_backtested_from_its_history(small_monthly):
    model = Naive(horizon=1).fit(small_monthly[small_monthly["unique_id"] == "a"])
    forecasts = model.predict(small_monthly)
    b = small_monthly[small_monthly["unique_id"] == "b"].reset_index(drop=True)
    assert forecasts.loc[forecasts["unique_id"] == "b", "y_hat"].tolist() == [b["y"].iloc[-1]]
    # The backtest of the fitted model forecasts b from every origin with its value at the origin.
    with pytest.warns(UserWarning, match="inside the data"):
        result = model.backtest(small_monthly, n_windows=3)
    scored = result.forecasts[result.forecasts["unique_id"] == "b"]
    assert scored["cutoff"].tolist() == b["ds"].iloc[-4:-1].tolist()
    assert scored["y_hat"].tolist() == b["y"].iloc[-4:-1].tolist()
    assert scored["y"].tolist() == b["y"].iloc[-3:].tolist()


@pytest.mark.parametrize(
    "model, rows, message",
    [
        (SeasonalNaive(horizon=1, season_length=12), 6, r"'a' has 6 observation\(s\).*needs at least 12"),
        (Drift(horizon=1, freq="MS"), 1, r"'a' has 1 observation\(s\).*needs at least 2"),
    ],
)
def test_too_short_history_is_rejected(small_monthly, model, rows, message):
    frame = small_monthly[small_monthly["unique_id"] == "a"].head(rows)
    with pytest.raises(ValueError, match=message):
        model.fit(frame).predict()


@pytest.mark.parametrize(
    "model, message",
    [
        (Naive(horizon=0), "horizon must be a positive integer up to 100,000; got 0"),
        (Drift(horizon=2.5), "horizon must be a positive integer up to 100,000; got 2.5"),
        (SeasonalNaive(horizon=2, season_length=0), "season_length must be a positive integer or None; got 0"),
    ],
)
def test_invalid_settings_are_rejected(small_monthly, model, message):
    with pytest.raises(ValueError, match=message):
        model.fit(small_monthly)


def test_bad_frames_are_rejected_with_the_problem_named(small_monthly):
    with pytest.raises(ValueError, match=r"Missing columns \['y'\]"):
        Naive(horizon=1).fit(small_monthly.drop(columns="y"))
    with pytest.raises(ValueError, match="missing|NaN|non-finite"):
        Naive(horizon=1).fit(small_monthly.assign(y=np.where(small_monthly.index == 3, np.nan, small_monthly["y"])))
    with pytest.raises(ValueError, match="Duplicate"):
        Naive(horizon=1).fit(pd.concat([small_monthly, small_monthly.head(1)]))


def test_fit_predict_leave_the_input_unchanged_and_accept_unsorted_rows(small_monthly):
    shuffled = small_monthly.sample(frac=1.0, random_state=0)
    before = shuffled.copy()
    forecast = Naive(horizon=1).fit(shuffled).predict(shuffled)
    pd.testing.assert_frame_equal(shuffled, before)
    assert forecast["y_hat"].tolist() == [6.0, 20.0]


def test_clone_copies_parameters_without_fitted_state(small_monthly):
    model = SeasonalNaive(horizon=3, season_length=2, freq="MS").fit(small_monthly)
    copy = clone(model)
    assert copy.get_params() == {"horizon": 3, "season_length": 2, "freq": "MS"}
    assert not hasattr(copy, "freq_")


def test_an_integer_stamped_baseline_finds_the_period_the_forecasters_pipeline_finds():
    # Quarterly-patterned series with integer ds: the baseline's season_length=None must not fall back to 1.
    pattern = np.array([80.0, 120.0, 110.0, 90.0])
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b", "c"], 40),
            "ds": np.tile(np.arange(40), 3),
            "y": np.concatenate(
                [pattern[np.arange(40) % 4] + np.random.default_rng(k).normal(0, 2, 40) + k for k in range(3)]
            ),
        }
    )
    naive = SeasonalNaive(horizon=4).fit(frame)
    windows = SeriesWindows(lookback=8, horizon=4).fit(frame)
    assert naive.season_length_ == windows.season_length_ == 4
    forecasts = naive.predict()
    last_season = frame.groupby("unique_id")["y"].apply(lambda y: y.to_numpy()[-4:])
    np.testing.assert_allclose(forecasts["y_hat"].to_numpy(), np.concatenate(last_season.to_list()))


def test_half_hourly_demand_with_a_weekend_drop_repeats_the_same_half_hour_a_week_back():
    # Three and a half weeks of half-hourly values: a daily shape, weekends 30% lower. A day back would repeat
    # Friday on Saturday; the period follows the history to a week (336 steps), as the Forecaster's pipeline does.
    t = np.arange(48 * 7 * 3 + 48 * 4)
    y = (1.0 + 0.4 * np.sin(2 * np.pi * t / 48)) * np.where((t // 48) % 7 >= 5, 70.0, 100.0)
    frame = pd.DataFrame(
        {"unique_id": "meter", "ds": pd.date_range("2024-01-01", periods=t.size, freq="30min"), "y": y}
    )
    naive = SeasonalNaive(horizon=96).fit(frame)
    windows = SeriesWindows(lookback=96, horizon=96).fit(frame)
    assert naive.season_length_ == windows.season_length_ == 336
    forecasts = naive.predict()
    np.testing.assert_allclose(forecasts["y_hat"].to_numpy(), y[-336:][:96])
    assert forecasts["ds"].iloc[0] == frame["ds"].iloc[-1] + pd.Timedelta("30min")
    # Without the weekend drop the day stays the period (an exact daily pattern: both naive forecasts exact, a tie).
    frame["y"] = 1.0 + 0.4 * np.sin(2 * np.pi * t / 48)
    assert SeasonalNaive(horizon=96).fit(frame).season_length_ == 48


def test_a_baseline_forecasts_with_the_horizon_it_was_fitted_with(small_monthly):
    model = Naive(horizon=1).fit(small_monthly).set_params(horizon=2)
    with pytest.raises(
        ValueError, match=r"cannot predict: this Naive was fitted with horizon=1, set since to horizon=2"
    ):
        model.predict()
    assert len(model.fit(small_monthly).predict()) == 2 * 2
