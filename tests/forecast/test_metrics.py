"""Accuracy measures against hand-computed values."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from forecast.metrics import (
    OVERALL,
    absolute_percentage_errors,
    column_quantile,
    coverage,
    evaluate,
    inside_interval,
    mae,
    mape,
    mase,
    mase_scales,
    pinball_loss,
    pinball_terms,
    positive_mase_scales,
    quantile_column,
    quantile_columns,
    rmse,
    scaled_absolute_errors,
    seasonal_naive_scale,
    smape,
    smape_terms,
)

Y = [1.0, 2.0, 3.0]
Y_HAT = [2.0, 2.0, 2.0]


def test_point_metrics_hand_computed():
    assert mae(Y, Y_HAT) == pytest.approx(2 / 3)
    assert rmse(Y, Y_HAT) == pytest.approx(math.sqrt(2 / 3))
    # |1-2|/1 = 1, 0, |3-2|/3 = 1/3 -> mean 4/9
    assert mape(Y, Y_HAT) == pytest.approx(100 * 4 / 9)
    # 200*1/3, 0, 200*1/5 -> (66.667 + 40) / 3
    assert smape(Y, Y_HAT) == pytest.approx((200 / 3 + 40) / 3)


def test_per_element_terms_hand_computed():
    y, y_hat = np.array([0.0, 0.0, 2.0, -4.0]), np.array([1.0, 0.0, 1.0, 4.0])
    np.testing.assert_array_equal(absolute_percentage_errors(y, y_hat), [np.inf, np.nan, 50.0, 200.0])
    # 200*1/1, 0/0 -> 0, 200*1/3, 200*8/8
    np.testing.assert_allclose(smape_terms(y, y_hat), [200.0, 0.0, 200 / 3, 200.0])
    np.testing.assert_allclose(scaled_absolute_errors(y, y_hat, np.array([2.0, 1.0, 4.0, 8.0])), [0.5, 0, 0.25, 1])
    # residuals 2 - 1 = 1 and 2 - 3 = -1 at q = 0.25: 0.25 * 1 and -0.75 * -1
    np.testing.assert_allclose(pinball_terms(np.array([2.0, 2.0]), np.array([1.0, 3.0]), 0.25), [0.25, 0.75])
    np.testing.assert_array_equal(
        inside_interval(np.array([1, 2, 3]), np.array([1, 3, 0]), np.array([2, 4, 3])), [1, 0, 1]
    )


def test_smape_counts_a_zero_over_zero_term_as_perfect_and_is_bounded():
    assert smape([0.0, 1.0], [0.0, 3.0]) == pytest.approx((0 + 200 * 2 / 4) / 2)
    assert smape([1.0, -1.0], [-1.0, 1.0]) == pytest.approx(200.0)


def test_mape_is_infinite_for_a_zero_actual():
    assert mape([0.0, 1.0], [1.0, 1.0]) == math.inf


def test_mase_scales_by_the_in_sample_seasonal_naive_error():
    # in-sample diffs at lag 1: 2, 1, 2 -> scale 5/3; MAE of [5,5] vs [4,7] = 1.5
    assert mase([5.0, 5.0], [4.0, 7.0], [1.0, 3.0, 2.0, 4.0], season_length=1) == pytest.approx(1.5 / (5 / 3))
    # lag 2 on [1,3,2,4,3]: |2-1|, |4-3|, |3-2| -> scale 1
    assert mase([5.0, 5.0], [4.0, 7.0], [1.0, 3.0, 2.0, 4.0, 3.0], season_length=2) == pytest.approx(1.5)


def test_mase_of_a_history_of_at_most_one_season_uses_the_naive_scale():
    # n = 3 <= m = 4: lag-1 diffs of [1, 3, 2] are 2, 1 -> scale 1.5; MAE of [5, 5] vs [4, 7] = 1.5
    assert mase([5.0, 5.0], [4.0, 7.0], [1.0, 3.0, 2.0], season_length=4) == pytest.approx(1.0)
    assert seasonal_naive_scale([1.0, 3.0, 2.0], season_length=4) == pytest.approx(1.5)
    # n = m + 1 = 4: the first seasonal diff |y_4 - y_0| = |4 - 1| = 3
    assert seasonal_naive_scale([1.0, 3.0, 2.0, 4.0], season_length=3) == pytest.approx(3.0)


@pytest.mark.parametrize(
    "history, season_length",
    [([], 1), ([7.0], 1), ([7.0], 12), ([4.0, 4.0], 12), ([3.0] * 10, 2), ([0.0] * 5, 1), ([1.0, 2.0] * 4, 2)],
)
def test_mase_is_nan_where_the_history_has_no_naive_error(history, season_length):
    # fewer than 2 values, a constant history, or one whose seasonal differences all vanish
    assert math.isnan(seasonal_naive_scale(history, season_length))
    assert math.isnan(mase([1.0, 2.0], [2.0, 2.0], history, season_length))


def test_pinball_loss_hand_computed():
    # residuals y - q: -1, 0, 1
    assert pinball_loss(Y, Y_HAT, 0.9) == pytest.approx((0.1 + 0 + 0.9) / 3)
    assert pinball_loss(Y, Y_HAT, 0.1) == pytest.approx((0.9 + 0 + 0.1) / 3)
    assert pinball_loss(Y, Y_HAT, 0.5) == pytest.approx(mae(Y, Y_HAT) / 2)


def test_coverage_counts_the_bounds_as_inside():
    assert coverage([1, 2, 3, 4], [0, 2.5, 3, 5], [2, 3, 3, 6]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "metric, args",
    [(mae, ([1, 2], [1, 2, 3])), (smape, ([], [])), (coverage, ([1, 2], [0, 0], [3]))],
)
def test_mismatched_or_empty_inputs_raise(metric, args):
    with pytest.raises(ValueError, match="same shape|empty"):
        metric(*args)


@pytest.mark.parametrize(
    "q, name",
    [
        (0.1, "y_hat_q10"),
        (0.5, "y_hat_q50"),
        (0.9, "y_hat_q90"),
        (0.025, "y_hat_q2.5"),
        (0.975, "y_hat_q97.5"),
        (0.1000001, "y_hat_q10.00001"),  # a distinct level gets a distinct column
    ],
)
def test_quantile_column_names_round_trip(q, name):
    assert quantile_column(q) == name
    assert column_quantile(name) == pytest.approx(q)


def test_close_distinct_levels_get_distinct_coverage_columns():
    actual = pd.DataFrame({"unique_id": "a", "ds": [0, 1], "y": [5.0, 6.0]})
    forecasts = actual.assign(
        y_hat=[5.0, 6.0],
        **{"y_hat_q10": [0.0, 0.0], "y_hat_q90": [9.0, 9.0]},  # covers both values
        **{"y_hat_q10.00001": [7.0, 7.0], "y_hat_q89.99999": [8.0, 8.0]},  # covers neither
    )
    table = evaluate(forecasts, metrics=["coverage"])
    overall = table[table["unique_id"] == OVERALL].iloc[0]
    assert overall["coverage_80"] == 1.0 and overall["coverage_79.99998"] == 0.0


def test_quantile_columns_finds_and_orders_quantile_columns():
    assert quantile_columns(["y_hat_q90", "y", "y_hat", "y_hat_q10"]) == {0.1: "y_hat_q10", 0.9: "y_hat_q90"}


@pytest.mark.parametrize("q, shown", [(0.0, "0.0"), (1.0, "1.0"), (-0.2, "-0.2"), (1.5, "1.5"), ("0.1", "'0.1'")])
def test_a_quantile_that_is_not_a_number_in_the_open_unit_interval_is_rejected(q, shown):
    message = re.escape(f"q must be a number in (0, 1); got {shown}.")
    with pytest.raises(ValueError, match=message):
        quantile_column(q)
    with pytest.raises(ValueError, match=message):
        pinball_loss([1.0], [1.0], q)


@pytest.fixture
def backtest_like():
    """Two series, two cutoffs each, two steps per cutoff, with quantiles 0.1 and 0.9."""
    history = pd.DataFrame(
        {
            "unique_id": ["a"] * 6 + ["b"] * 6,
            "ds": list(range(6)) * 2,
            "y": [1, 3, 2, 4, 3, 5, 10, 10, 12, 12, 14, 14.0],
        }
    )
    forecasts = pd.DataFrame(
        {
            "unique_id": ["a"] * 4 + ["b"] * 4,
            "ds": [3, 4, 4, 5] * 2,
            "cutoff": [2, 2, 3, 3] * 2,
            "y": [4, 3, 3, 5, 12, 14, 14, 14.0],
            "y_hat": [2, 2, 4, 4, 12, 12, 12, 12.0],
            "y_hat_q10": [1, 1, 3, 3, 11, 11, 11, 11.0],
            "y_hat_q90": [3, 3, 5, 5, 13, 13, 13, 15.0],
        }
    )
    return history, forecasts


def test_evaluate_scores_each_series_and_cutoff_by_hand(backtest_like):
    history, forecasts = backtest_like
    table = evaluate(forecasts, train_df=history, season_length=1)
    rows = table.set_index(["unique_id", "cutoff"])
    # a@2: errors 2, 1 -> MAE 1.5; history 1,3,2 -> lag-1 diffs 2,1 -> scale 1.5 -> MASE 1
    assert rows.loc[("a", 2), "mae"] == pytest.approx(1.5)
    assert rows.loc[("a", 2), "rmse"] == pytest.approx(math.sqrt((4 + 1) / 2))
    assert rows.loc[("a", 2), "smape"] == pytest.approx((200 * 2 / 6 + 200 * 1 / 5) / 2)
    assert rows.loc[("a", 2), "mase"] == pytest.approx(1.0)
    # a@3: errors 1, 1 -> MAE 1; history 1,3,2,4 -> diffs 2,1,2 -> scale 5/3
    assert rows.loc[("a", 3), "mase"] == pytest.approx(1 / (5 / 3))
    # b@2: errors 0, 2 -> MAE 1; history 10,10,12 -> diffs 0,2 -> scale 1
    assert rows.loc[("b", 2), "mase"] == pytest.approx(1.0)
    # b@3: errors 2, 2; history 10,10,12,12 -> diffs 0,2,0 -> scale 2/3
    assert rows.loc[("b", 3), "mase"] == pytest.approx(2 / (2 / 3))
    # pinball q=0.1 for b@3: residuals y - q10 = 3, 3 -> 0.1*3 each
    assert rows.loc[("b", 3), "pinball_q10"] == pytest.approx(0.3)
    # coverage of [q10, q90] for b@3: 14 in [11, 13]? no; 14 in [11, 15]? yes
    assert rows.loc[("b", 3), "coverage_80"] == pytest.approx(0.5)
    # a@2: 4 in [1, 3]? no; 3 in [1, 3]? yes (on the bound)
    assert rows.loc[("a", 2), "coverage_80"] == pytest.approx(0.5)
    assert rows.loc[("a", 3), "coverage_80"] == pytest.approx(1.0)
    overall = table[table["unique_id"] == OVERALL].iloc[0]
    assert overall["mae"] == pytest.approx(np.mean([1.5, 1.0, 1.0, 2.0]))
    assert overall["mase"] == pytest.approx(np.mean([1.0, 0.6, 1.0, 3.0]))
    assert list(table["unique_id"]) == ["a", "a", "b", "b", OVERALL]


def test_evaluate_without_cutoff_uses_the_history_before_the_first_forecast():
    history = pd.DataFrame({"unique_id": ["s"] * 6, "ds": range(6), "y": [1, 3, 2, 4, 9, 9.0]})
    forecasts = pd.DataFrame({"unique_id": ["s", "s"], "ds": [4, 5], "y": [9, 9.0], "y_hat": [7, 8.0]})
    table = evaluate(forecasts, train_df=history, metrics=["mase", "mape"])
    series_row = table.iloc[0]
    # history before ds=4: 1,3,2,4 -> scale 5/3; MAE 1.5
    assert series_row["mase"] == pytest.approx(1.5 / (5 / 3))
    assert series_row["mape"] == pytest.approx(100 * (2 / 9 + 1 / 9) / 2)
    assert list(table.columns) == ["unique_id", "mase", "mape"]


def test_evaluate_scales_a_history_of_at_most_one_season_by_the_naive_error(backtest_like):
    history, forecasts = backtest_like
    rows = evaluate(forecasts, train_df=history, season_length=3, metrics=["mase"]).set_index(["unique_id", "cutoff"])
    # a@2 with m = 3: history 1,3,2 has 3 <= m values -> lag-1 diffs 2, 1 -> scale 1.5; MAE 1.5
    assert rows.loc[("a", 2), "mase"] == pytest.approx(1.0)
    # a@3 with m = 3: history 1,3,2,4 -> |4-1| = 3 -> scale 3, MAE 1
    assert rows.loc[("a", 3), "mase"] == pytest.approx(1 / 3)
    # b@2 with m = 3: history 10,10,12 -> lag-1 diffs 0, 2 -> scale 1; MAE 1
    assert rows.loc[("b", 2), "mase"] == pytest.approx(1.0)


def test_evaluate_gives_nan_mase_with_a_warning_where_the_history_has_no_naive_error():
    history = pd.DataFrame({"unique_id": ["a", "b", "b", "b", "c"], "ds": [0, 0, 1, 2, 0], "y": [5, 3, 3, 3, 1.0]})
    forecasts = pd.DataFrame(
        {"unique_id": ["a", "b", "c", "c"], "ds": [1, 3, 1, 2], "y": [1, 1, 1, 4.0], "y_hat": [2, 2, 2, 2.0]}
    )
    # a: one value; b: constant -> NaN. c: history before ds=1 is one value -> NaN too.
    with pytest.warns(RuntimeWarning, match="MASE is NaN for 3 row.*fewer than 2 values or is constant"):
        table = evaluate(forecasts, train_df=history, metrics=["mae", "mase"])
    assert table["mase"].isna().all()
    assert table["mae"].tolist() == pytest.approx([1.0, 1.0, 1.5, 7 / 6])


def test_evaluate_rejects_bad_requests(backtest_like):
    history, forecasts = backtest_like
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate(forecasts, history, metrics=["accuracy"])
    with pytest.raises(ValueError, match="pass train_df"):
        evaluate(forecasts, metrics=["mase"])
    with pytest.raises(ValueError, match="missing \\['y'\\]"):
        evaluate(forecasts.drop(columns="y"))
    with pytest.raises(ValueError, match="quantile columns"):
        evaluate(forecasts.drop(columns=["y_hat_q10", "y_hat_q90"]), metrics=["pinball"])
    with pytest.raises(ValueError, match=re.escape("column 'y' has a missing value (row 11)")):
        evaluate(forecasts.assign(y=[1.0, np.nan] + [1.0] * 6).set_axis([10, 11, 12, 13, 14, 15, 16, 17]))


def test_evaluate_default_metrics_follow_the_inputs(backtest_like):
    history, forecasts = backtest_like
    one_cutoff = forecasts[forecasts["cutoff"] == 2]
    assert list(evaluate(one_cutoff[["unique_id", "ds", "y", "y_hat"]]).columns) == [
        "unique_id",
        "mae",
        "rmse",
        "smape",
    ]
    columns = list(evaluate(forecasts, train_df=history).columns)
    assert columns == [
        "unique_id",
        "cutoff",
        "mae",
        "rmse",
        "smape",
        "mase",
        "pinball_q10",
        "pinball_q90",
        "pinball",
        "coverage_80",
    ]


def test_evaluate_rows_equal_the_metric_functions_on_each_group(backtest_like):
    history, forecasts = backtest_like
    # a zero actual makes one group's MAPE infinite and a 0/0 term another's NaN, as the scalar function gives
    forecasts.loc[0, "y"] = 0.0
    forecasts.loc[4, ["y", "y_hat"]] = 0.0
    names = ["mae", "rmse", "mape", "smape", "mase", "pinball", "coverage"]
    table = evaluate(forecasts, train_df=history, season_length=2, metrics=names)
    scored = table.iloc[:-1]
    assert len(scored) == 4
    for _, row in scored.iterrows():
        part = forecasts[(forecasts["unique_id"] == row["unique_id"]) & (forecasts["cutoff"] == row["cutoff"])]
        past = history[(history["unique_id"] == row["unique_id"]) & (history["ds"] <= row["cutoff"])]["y"]
        y, y_hat = part["y"], part["y_hat"]
        expected = {
            "mae": mae(y, y_hat),
            "rmse": rmse(y, y_hat),
            "mape": mape(y, y_hat),
            "smape": smape(y, y_hat),
            "mase": mase(y, y_hat, past, season_length=2),
            "pinball_q10": pinball_loss(y, part["y_hat_q10"], 0.1),
            "pinball_q90": pinball_loss(y, part["y_hat_q90"], 0.9),
            "pinball": (pinball_loss(y, part["y_hat_q10"], 0.1) + pinball_loss(y, part["y_hat_q90"], 0.9)) / 2,
            "coverage_80": coverage(y, part["y_hat_q10"], part["y_hat_q90"]),
        }
        assert list(table.columns[2:]) == list(expected)
        for name, value in expected.items():
            assert row[name] == pytest.approx(value, nan_ok=True), (row["unique_id"], row["cutoff"], name)
    assert scored["mape"].tolist()[:1] == [math.inf]
    assert math.isnan(scored["mape"].iloc[2])
    overall = table.iloc[-1]
    for name in ("mae", "smape", "mase", "coverage_80"):
        assert overall[name] == pytest.approx(scored[name].mean())


# One MASE scale rule. Histories with m = 3 and their scales by hand:
#   long  [1, 4, 2, 6, 3]    n = 5 > m: |6 - 1|, |3 - 4| -> 3
#   short [2, 5, 4]          n = 3 <= m: lag 1: 3, 1 -> 2
#   two   [7, 4]             n = 2 <= m: lag 1: 3 -> 3
#   one   [5]                n = 1: undefined
#   flat  [-2, -2, -2, -2]   constant: undefined
#   zeros [0, 0, 0, 0]       constant: undefined
#   cycle [1, 2, 3, 1, 2, 3] every seasonal difference is 0: undefined
SCALE_HISTORIES = {
    "long": [1, 4, 2, 6, 3],
    "short": [2, 5, 4],
    "two": [7, 4],
    "one": [5],
    "flat": [-2, -2, -2, -2],
    "zeros": [0, 0, 0, 0],
    "cycle": [1, 2, 3, 1, 2, 3],
}
SCALES = {"long": 3.0, "short": 2.0, "two": 3.0, "one": np.nan, "flat": np.nan, "zeros": np.nan, "cycle": np.nan}
# Where undefined, the positive scale is the mean absolute value of the series, or 1 for zeros.
POSITIVE_SCALES = {**SCALES, "one": 5.0, "flat": 2.0, "zeros": 1.0, "cycle": 2.0}


def scale_history() -> pd.DataFrame:
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": name, "ds": np.arange(len(values)), "y": np.asarray(values, dtype=float)})
            for name, values in SCALE_HISTORIES.items()
        ],
        ignore_index=True,
    )
    return frame.sample(frac=1.0, random_state=0)  # the rule sorts by series and time itself


def test_mase_scales_follow_the_one_rule_on_long_short_and_constant_series():
    scales = mase_scales(scale_history(), season_length=3)
    assert list(scales.index) == sorted(SCALES)
    np.testing.assert_allclose(scales.loc[list(SCALES)], list(SCALES.values()))
    for name, values in SCALE_HISTORIES.items():
        np.testing.assert_allclose(seasonal_naive_scale(values, season_length=3), SCALES[name])


def test_mase_and_evaluate_divide_by_the_same_scale():
    history = scale_history()
    forecasts = pd.concat(
        [
            pd.DataFrame(
                {"unique_id": name, "ds": [len(values), len(values) + 1], "y": [10.0, 10.0], "y_hat": [7.0, 11.0]}
            )
            for name, values in SCALE_HISTORIES.items()
        ],
        ignore_index=True,
    )
    with pytest.warns(RuntimeWarning, match="MASE is NaN for 4 row"):
        table = evaluate(forecasts, train_df=history, season_length=3, metrics=["mase"]).set_index("unique_id")
    for name, values in SCALE_HISTORIES.items():
        expected = 2.0 / SCALES[name]  # MAE of errors 3 and 1 over the hand-computed scale
        assert table.loc[name, "mase"] == pytest.approx(expected, nan_ok=True), name
        assert mase([10.0, 10.0], [7.0, 11.0], values, season_length=3) == pytest.approx(expected, nan_ok=True)


def test_evaluate_reads_the_scale_of_each_cutoff_off_the_history_up_to_it():
    history = scale_history()
    forecasts = pd.DataFrame(
        {"unique_id": "long", "ds": [1, 2, 3, 4, 5], "cutoff": [0, 1, 2, 3, 4], "y": 10.0, "y_hat": 8.0}
    )
    with pytest.warns(RuntimeWarning, match="MASE is NaN for 1 row"):
        table = evaluate(forecasts, train_df=history, season_length=3, metrics=["mase"]).iloc[:-1]
    # prefixes of [1, 4, 2, 6, 3]: [1] undefined; [1, 4] -> 3; [1, 4, 2] -> (3 + 2) / 2; then |6 - 1| = 5; then 3
    np.testing.assert_allclose(table["mase"], [np.nan, 2 / 3, 2 / 2.5, 2 / 5, 2 / 3])
    prefixes = [SCALE_HISTORIES["long"][: cutoff + 1] for cutoff in range(5)]
    np.testing.assert_allclose(table["mase"], [mase([10.0], [8.0], past, season_length=3) for past in prefixes])


def test_positive_scales_fill_the_undefined_ones_with_the_mean_absolute_value():
    history = scale_history()
    positive = positive_mase_scales(history, season_length=3)
    np.testing.assert_allclose(positive.loc[list(POSITIVE_SCALES)], list(POSITIVE_SCALES.values()))


def test_the_forecaster_scales_its_series_by_the_positive_scales():
    from forecast import Forecaster  # TensorFlow loads for this test only

    history = scale_history()
    history = history[~history["unique_id"].isin(["one", "two"])]  # the Forecaster needs 3 rows per series
    rng = np.random.default_rng(0)
    noisy = rng.normal(10.0, 2.0, 16)
    history = pd.concat([history, pd.DataFrame({"unique_id": "noisy", "ds": np.arange(16), "y": noisy})])
    model = Forecaster(lookback=3, horizon=1, season_length=3, units=2, epochs=1, verbose=0, tracking=False)
    model.fit(history)
    expected = {**POSITIVE_SCALES, "noisy": np.mean(np.abs(noisy[3:] - noisy[:-3]))}
    names = sorted(set(history["unique_id"]))
    assert list(model.series_scale_.index) == names
    np.testing.assert_allclose(model.series_scale_.loc[names], [expected[name] for name in names])


def test_mase_skips_the_differences_a_missing_history_value_takes_part_in():
    # lag 1 on [1, 2, nan, 4]: |2 - 1| = 1, the two differences with nan are skipped -> scale 1; MAE (0 + 1) / 2
    assert mase([1, 2], [1, 3], [1, 2, np.nan, 4]) == pytest.approx(0.5)
    # lag 2 on [1, 3, nan, 6, 4]: only |6 - 3| = 3 is defined -> scale 3
    assert seasonal_naive_scale([1, 3, np.nan, 6, 4], season_length=2) == pytest.approx(3.0)
    # lag 2 on [1, 2, nan] has no defined difference: the naive forecast's |2 - 1| = 1
    assert seasonal_naive_scale([1, 2, np.nan], season_length=2) == pytest.approx(1.0)
    assert math.isnan(seasonal_naive_scale([1, np.nan, 3], season_length=1))


def test_evaluate_skips_the_missing_history_values_as_mase_does():
    history = pd.DataFrame({"unique_id": "s", "ds": range(5), "y": [1, 3, np.nan, 4, 6.0]})
    before = pd.DataFrame({"unique_id": "s", "ds": [5, 6], "y": [1, 2.0], "y_hat": [1, 3.0]})
    # the lag-1 differences 2 (|3 - 1|) and 2 (|6 - 4|) are defined -> scale 2; MAE 0.5
    assert evaluate(before, train_df=history, metrics=["mase"])["mase"].iloc[0] == pytest.approx(0.25)
    by_cutoff = pd.DataFrame({"unique_id": "s", "ds": [3, 4, 5], "cutoff": [2, 3, 4], "y": 10.0, "y_hat": 8.0})
    table = evaluate(by_cutoff, train_df=history, metrics=["mase"]).iloc[:-1]
    # every prefix up to cutoff 2, 3, 4 has the scale 2 (differences 2; 2; 2 and 2); MAE 2
    np.testing.assert_allclose(table["mase"], [1.0, 1.0, 1.0])
    prefixes = [history["y"][: cutoff + 1] for cutoff in (2, 3, 4)]
    np.testing.assert_allclose(table["mase"], [mase([10.0], [8.0], past) for past in prefixes])


def dated(zone: str | None, periods: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=periods, freq="D", tz=zone)


@pytest.mark.parametrize("with_cutoff", [False, True])
@pytest.mark.parametrize(
    "forecast_zone, history_zone, message",
    [
        (None, "UTC", "holds datetimes without a time zone but train_df column 'ds' holds datetimes in time zone UTC"),
        ("UTC", None, "holds datetimes in time zone UTC but train_df column 'ds' holds datetimes without a time zone"),
        (
            "UTC",
            "Europe/Berlin",
            "holds datetimes in time zone UTC but train_df column 'ds' holds datetimes in time zone Europe/Berlin",
        ),
    ],
)
def test_evaluate_rejects_forecast_and_history_times_in_different_time_zones(
    with_cutoff, forecast_zone, history_zone, message
):
    history = pd.DataFrame({"unique_id": "s", "ds": dated(history_zone, 4), "y": [1, 3, 2, 4.0]})
    forecasts = pd.DataFrame({"unique_id": "s", "ds": dated(forecast_zone, 2, "2024-01-05"), "y": 5.0, "y_hat": 4.0})
    if with_cutoff:
        forecasts["cutoff"] = dated(forecast_zone, 1, "2024-01-04")[0]
    column = "cutoff" if with_cutoff else "ds"
    with pytest.raises(ValueError, match=f"forecasts column '{column}' {message}; expected the same kind"):
        evaluate(forecasts, train_df=history, metrics=["mase"])
    # in one time zone: history 1, 3, 2, 4 -> scale 5/3; MAE 1
    forecasts["ds"] = dated(history_zone, 2, "2024-01-05")
    if with_cutoff:
        forecasts["cutoff"] = dated(history_zone, 1, "2024-01-04")[0]
    assert evaluate(forecasts, train_df=history, metrics=["mase"])["mase"].iloc[0] == pytest.approx(0.6)


def test_evaluate_scores_a_backtest_against_the_frame_it_came_from_whatever_the_time_unit():
    # pandas 3 reads dates in microseconds; the forecasts carry nanoseconds: one MASE, as with the same unit
    from forecast.baselines import Naive

    history = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=8, freq="MS"), "y": 1.0})
    history["y"] = [1.0, 3, 2, 4, 3, 5, 4, 6]
    result = Naive(horizon=2).backtest(history, n_windows=2)
    for unit in ("s", "ms", "us", "ns"):
        scores = evaluate(result.forecasts, train_df=history.astype({"ds": f"datetime64[{unit}]"}), metrics=["mase"])
        pd.testing.assert_frame_equal(scores, result.metrics[["unique_id", "cutoff", "mase"]], check_dtype=False)
    with pytest.raises(ValueError, match="holds datetimes without a time zone but train_df column 'ds' holds integers"):
        evaluate(result.forecasts, train_df=history.assign(ds=np.arange(8)), metrics=["mase"])


def test_evaluate_rejects_two_forecasts_of_one_series_and_time():
    forecasts = pd.DataFrame({"unique_id": ["a", "a", "b", "a"], "ds": [4, 5, 4, 4], "y": 1.0, "y_hat": 2.0})
    with pytest.raises(
        ValueError, match=re.escape("two rows for series 'a' at ds 4 (row 3); expected one row per ('unique_id', 'ds')")
    ):
        evaluate(forecasts)


def test_evaluate_rejects_two_forecasts_of_one_series_cutoff_and_time(backtest_like):
    _, forecasts = backtest_like
    evaluate(forecasts)  # 'a' at ds 4 from cutoffs 2 and 3 are two forecasts
    repeated = pd.concat([forecasts, forecasts.iloc[[5]]], ignore_index=True)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "two rows for series 'b' at cutoff 2, ds 4 (row 8); expected one row per ('unique_id', 'cutoff', 'ds')"
        ),
    ):
        evaluate(repeated)


def test_evaluate_rejects_a_series_named_like_the_overall_row():
    forecasts = pd.DataFrame({"unique_id": ["a", OVERALL], "ds": [1, 1], "y": 1.0, "y_hat": 2.0}, index=[10, 11])
    with pytest.raises(ValueError, match=re.escape("series id 'overall' (row 11), which is reserved")):
        evaluate(forecasts)


def spelled(ids: list[int], spelling: str) -> pd.Series:
    return {
        "int": pd.Series(ids),
        "text": pd.Series(ids).astype(str),
        "category": pd.Series(ids, dtype="category"),
    }[spelling]


@pytest.mark.parametrize(
    "forecast_ids, history_ids",
    [("int", "text"), ("text", "int"), ("category", "text"), ("int", "int"), ("text", "text")],
)
def test_evaluate_matches_numeric_and_text_ids_as_the_estimators_write_them(forecast_ids, history_ids):
    history = pd.DataFrame(
        {
            "unique_id": spelled([0] * 4 + [1] * 4, history_ids),
            "ds": [0, 1, 2, 3] * 2,
            "y": [1, 3, 2, 4, 10, 10, 12, 12.0],
        }
    )
    forecasts = pd.DataFrame(
        {
            "unique_id": spelled([0, 0, 1, 1], forecast_ids),
            "ds": [4, 5] * 2,
            "y": [5, 5, 12, 12.0],
            "y_hat": [4, 7, 13, 13.0],
        }
    )
    table = evaluate(forecasts, train_df=history, metrics=["mase"])
    # 0: scale 5/3 (diffs 2, 1, 2), MAE 1.5; 1: scale 2/3 (diffs 0, 2, 0), MAE 1
    assert table["unique_id"].tolist() == ["0", "1", OVERALL]
    np.testing.assert_allclose(table["mase"], [0.9, 1.5, 1.2])
