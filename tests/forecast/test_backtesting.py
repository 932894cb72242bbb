"""Rolling-origin backtests: origins by hand, batching of origins, refit schedule, exact baseline values."""

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from forecast.backtesting import history_until, refit_schedule, series_cutoffs
from forecast.baselines import Naive
from forecast.metrics import OVERALL


@pytest.fixture
def two_series():
    """a: ds 0..9, y = 0, 10, ..., 90 ; b: ds 100..106, y = 1..7."""
    return pd.DataFrame(
        {
            "unique_id": ["a"] * 10 + ["b"] * 7,
            "ds": list(range(10)) + list(range(100, 107)),
            "y": [10.0 * i for i in range(10)] + [float(i) for i in range(1, 8)],
        }
    )


def test_series_cutoffs_by_hand(two_series):
    cutoffs = series_cutoffs(two_series, n_windows=3, step=2, horizon=2)
    # cutoff_k = ds[n - 2 - (2 - k) * 2 - 1]: a (n=10) -> rows 3, 5, 7 ; b (n=7) -> rows 0, 2, 4
    assert cutoffs["unique_id"].tolist() == ["a"] * 3 + ["b"] * 3
    assert cutoffs["window"].tolist() == [0, 1, 2, 0, 1, 2]
    assert cutoffs["cutoff"].tolist() == [3, 5, 7, 100, 102, 104]


def test_series_cutoffs_rejects_a_series_too_short(two_series):
    with pytest.raises(ValueError, match=r"series 'b' has 7 observations.*needs at least 8"):
        series_cutoffs(two_series, n_windows=3, step=2, horizon=3)
    with pytest.raises(ValueError, match="n_windows must be a positive integer"):
        series_cutoffs(two_series, n_windows=0, step=1, horizon=1)


def test_naive_backtest_values_are_exact(two_series):
    result = Naive(horizon=2).backtest(two_series, n_windows=2, step=1)
    forecasts = result.forecasts
    assert list(forecasts.columns) == ["unique_id", "ds", "cutoff", "y", "y_hat"]
    a = forecasts[forecasts["unique_id"] == "a"]
    # a cutoffs: ds[10-2-1-1] = 6 and ds[7] = 7
    assert a["cutoff"].tolist() == [6, 6, 7, 7]
    assert a["ds"].tolist() == [7, 8, 8, 9]
    assert a["y"].tolist() == [70, 80, 80, 90]
    assert a["y_hat"].tolist() == [60, 60, 70, 70]
    b = forecasts[forecasts["unique_id"] == "b"]
    assert b["cutoff"].tolist() == [103, 103, 104, 104]
    assert b["y_hat"].tolist() == [4, 4, 5, 5]

    metrics = result.metrics.set_index(["unique_id", "cutoff"])
    # a@6: errors 10, 20 -> MAE 15; in-sample lag-1 diffs are all 10 -> MASE 1.5
    assert metrics.loc[("a", 6), "mae"] == pytest.approx(15.0)
    assert metrics.loc[("a", 6), "mase"] == pytest.approx(1.5)
    # b@104: errors 1, 2 -> MAE 1.5; diffs all 1 -> MASE 1.5; sMAPE (200/11 + 400/12) / 2
    assert metrics.loc[("b", 104), "smape"] == pytest.approx((200 / 11 + 400 / 12) / 2)
    assert result.metrics.iloc[-1]["unique_id"] == OVERALL
    assert result.metrics.iloc[-1]["mase"] == pytest.approx(1.5)


def test_default_step_is_the_horizon(two_series):
    # b's first origin (ds[7 - 3 - 3 - 1] = ds[0]) leaves one value: no MASE scale
    with pytest.warns(RuntimeWarning, match="MASE is NaN for 1 row"):
        result = Naive(horizon=3).backtest(two_series, n_windows=2)
    assert sorted(result.forecasts.loc[result.forecasts["unique_id"] == "a", "cutoff"].unique()) == [3, 6]


class RecordingNaive(Naive):
    """Naive forecaster that records each fit's last timestamps and each batch of origins."""

    calls: ClassVar[list] = []

    def _fit(self, checked, callbacks):
        RecordingNaive.calls.append(("fit", checked.frame.groupby("unique_id")["ds"].max().to_dict()))

    def _predict_origins(self, checked, origin_rows, future_df):
        origins = checked.frame.iloc[origin_rows]
        RecordingNaive.calls.append(("predict", sorted(zip(origins["unique_id"], origins["ds"]))))
        return super()._predict_origins(checked, origin_rows, future_df)


@pytest.fixture
def recording():
    RecordingNaive.calls = []
    return RecordingNaive


def test_without_refit_all_origins_go_through_one_batched_call(two_series, recording):
    recording(horizon=1).backtest(two_series, n_windows=3, step=1)
    # not fitted: one clone fitted on the history up to each series' first origin, one predict call
    assert recording.calls == [
        ("fit", {"a": 6, "b": 103}),
        ("predict", [("a", 6), ("a", 7), ("a", 8), ("b", 103), ("b", 104), ("b", 105)]),
    ]


def test_a_fitted_model_is_used_as_it_is_without_refit(two_series, recording):
    model = recording(horizon=1).fit(two_series)
    recording.calls.clear()
    model.backtest(two_series, n_windows=2, step=1)
    assert [kind for kind, _ in recording.calls] == ["predict"]


def test_refit_every_two_windows_refits_on_the_history_up_to_each_block(two_series, recording):
    result = recording(horizon=1).fit(two_series).backtest(two_series, n_windows=3, step=1, refit=2)
    assert recording.calls[1:] == [
        ("fit", {"a": 6, "b": 103}),
        ("predict", [("a", 6), ("a", 7), ("b", 103), ("b", 104)]),
        ("fit", {"a": 8, "b": 105}),
        ("predict", [("a", 8), ("b", 105)]),
    ]
    assert result.forecasts["y_hat"].tolist() == [60, 70, 80, 4, 5, 6]


def test_refit_true_refits_every_window(two_series, recording):
    recording(horizon=1).backtest(two_series, n_windows=2, step=1, refit=True)
    assert [kind for kind, _ in recording.calls] == ["fit", "predict", "fit", "predict"]


@pytest.mark.parametrize("refit", [-1, 0.5, "yes"])
def test_refit_schedule_rejects_bad_values(refit):
    with pytest.raises(ValueError, match="refit must be False, True or a positive integer"):
        refit_schedule(3, refit)


def test_refit_schedule_blocks():
    assert [b.tolist() for b in refit_schedule(5, 2)] == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in refit_schedule(3, False)] == [[0, 1, 2]]


def test_history_until_keeps_rows_up_to_each_cutoff(two_series):
    cutoffs = pd.DataFrame({"unique_id": ["a", "b"], "cutoff": [2, 101]})
    history = history_until(two_series, cutoffs)
    assert history["ds"].tolist() == [0, 1, 2, 100, 101]


def test_backtest_on_datetimes_scores_with_the_frequency_season(monthly_df):
    result = Naive(horizon=6).backtest(monthly_df, n_windows=2, step=6)
    series_a = monthly_df[monthly_df["unique_id"] == "a"].reset_index(drop=True)
    cutoff = series_a["ds"].iloc[36 - 6 - 6 - 1]
    history = series_a[series_a["ds"] <= cutoff]["y"].to_numpy()
    actual = series_a[series_a["ds"] > cutoff]["y"].to_numpy()[:6]
    expected_mase = np.mean(np.abs(actual - history[-1])) / np.mean(np.abs(history[12:] - history[:-12]))
    row = result.metrics.set_index(["unique_id", "cutoff"]).loc[("a", cutoff)]
    assert row["mase"] == pytest.approx(expected_mase)


def test_backtest_on_integer_time_stamps_scores_with_the_period_the_series_show():
    # a period of 12 in integer steps: the Forecaster infers it, and MASE is scaled by it (not by lag 1)
    rng = np.random.default_rng(3)
    t = np.arange(72)
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": key, "ds": t, "y": 20 + 5 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 72)})
            for key in ("a", "b", "c")
        ],
        ignore_index=True,
    )
    result = Naive(horizon=6).backtest(frame, n_windows=1)
    y = frame.loc[frame["unique_id"] == "a", "y"].to_numpy()
    history, actual = y[:66], y[66:]
    expected_mase = np.mean(np.abs(actual - history[-1])) / np.mean(np.abs(history[12:] - history[:-12]))
    row = result.metrics.set_index("unique_id").loc["a"]
    assert row["mase"] == pytest.approx(expected_mase)
