"""Accuracy measures against hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest

from forecast.metrics import (
    OVERALL,
    column_quantile,
    coverage,
    evaluate,
    mae,
    mape,
    mase,
    pinball_loss,
    quantile_column,
    quantile_columns,
    rmse,
    smape,
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


def test_mase_needs_more_history_than_one_season():
    with pytest.raises(ValueError, match="more than season_length=4"):
        mase([1.0], [1.0], [1.0, 2.0, 3.0, 4.0], season_length=4)


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
    [(0.1, "y_hat_q10"), (0.5, "y_hat_q50"), (0.9, "y_hat_q90"), (0.025, "y_hat_q2.5"), (0.975, "y_hat_q97.5")],
)
def test_quantile_column_names_round_trip(q, name):
    assert quantile_column(q) == name
    assert column_quantile(name) == pytest.approx(q)


def test_quantile_columns_finds_and_orders_quantile_columns():
    assert quantile_columns(["y_hat_q90", "y", "y_hat", "y_hat_q10"]) == {0.1: "y_hat_q10", 0.9: "y_hat_q90"}


@pytest.mark.parametrize("q", [0.0, 1.0, -0.2, 1.5])
def test_quantile_outside_the_open_unit_interval_is_rejected(q):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        quantile_column(q)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
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


def test_evaluate_gives_nan_mase_with_a_warning_for_too_short_history(backtest_like):
    history, forecasts = backtest_like
    with pytest.warns(RuntimeWarning, match="MASE is NaN for 2 row"):
        table = evaluate(forecasts, train_df=history, season_length=3, metrics=["mase"])
    rows = table.set_index(["unique_id", "cutoff"])["mase"]
    assert np.isnan(rows.loc[("a", 2)])
    # a@3 with lag 3: history 1,3,2,4 -> |4-1| = 3 -> scale 3, MAE 1
    assert rows.loc[("a", 3)] == pytest.approx(1 / 3)


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
    with pytest.raises(ValueError, match="column 'y' has a missing value"):
        evaluate(forecasts.assign(y=[np.nan] + [1.0] * 7))


def test_evaluate_default_metrics_follow_the_inputs(backtest_like):
    history, forecasts = backtest_like
    assert list(evaluate(forecasts[["unique_id", "ds", "y", "y_hat"]]).columns) == ["unique_id", "mae", "rmse", "smape"]
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
    table = evaluate(forecasts, train_df=history, metrics=["mae", "rmse", "mape", "smape", "mase"]).iloc[:-1]
    for _, row in table.iterrows():
        part = forecasts[(forecasts["unique_id"] == row["unique_id"]) & (forecasts["cutoff"] == row["cutoff"])]
        past = history[(history["unique_id"] == row["unique_id"]) & (history["ds"] <= row["cutoff"])]["y"]
        assert row["mae"] == pytest.approx(mae(part["y"], part["y_hat"]))
        assert row["rmse"] == pytest.approx(rmse(part["y"], part["y_hat"]))
        assert row["mape"] == pytest.approx(mape(part["y"], part["y_hat"]))
        assert row["smape"] == pytest.approx(smape(part["y"], part["y_hat"]))
        assert row["mase"] == pytest.approx(mase(part["y"], part["y_hat"], past, season_length=1))
