"""What makes the default forecaster accurate: the training plan, scale-free losses, scaled covariates,
conformal intervals and ensembles, each checked against a hand computation or NumPy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecast.calibration import ConformalIntervals
from forecast.forecaster import Forecaster
from forecast.losses import SMAPELoss
from forecast.metrics import positive_mase_scales
from forecast.training import MIN_PATIENCE_STEPS, patience_in_epochs, replayed_learning_rates, training_plan

QUICK = dict(units=4, epochs=2, verbose=0, tracking=False)


def monthly_series(n_series=3, length=48, seed=0):
    rng = np.random.default_rng(seed)
    months = pd.date_range("2018-01-01", periods=length, freq="MS")
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"s{k}",
                    "ds": months,
                    "y": (20 + k + 0.2 * np.arange(length))
                    * (1 + 0.3 * np.sin(2 * np.pi * np.arange(length) / 12))
                    * (1 + 0.02 * rng.normal(size=length)),
                }
            )
            for k in range(n_series)
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize(
    "windows, early_stopping, expected",
    [
        # 45 windows: 225 steps planned, 3 steps per epoch -> 75 epochs, or the floor of 100 with early stopping
        (45, False, (16, 75)),
        (45, True, (16, 100)),
        (33, False, (16, 67)),  # three 17-year annual series: the floor of 200 steps (3 an epoch), not 1,000
        (800, True, (16, 100)),  # 50 steps per epoch: 1,000 steps are 20 epochs; at least 100 (early stopping)
        (800, False, (16, 20)),
        (12_800, True, (256, 100)),
        (100_000, True, (256, 100)),
        (3_200, True, (64, 100)),
    ],
)
def test_the_training_plan_follows_the_number_of_windows(windows, early_stopping, expected):
    batch, epochs = training_plan(windows, "auto", "auto", 1000, early_stopping=early_stopping)
    assert (batch, epochs) == expected
    assert training_plan(windows, 32, 5, 1000) == (32, 5)


@pytest.mark.parametrize(
    "patience, windows, batch, expected",
    [
        (10, 60_000, 256, 10),  # 235 steps an epoch: the patience as given
        (10, 45, 16, 38),  # 225 steps planned: half of them, 113 steps, are 38 epochs of 3
        (2, 800, 16, 4),  # 50 steps an epoch: 200 steps are 4 epochs
        (5, 16, 16, 100),  # one step an epoch, 200 steps planned: 100 epochs
    ],
)
def test_patience_lasts_at_least_min_patience_steps_or_half_the_plan(patience, windows, batch, expected):
    assert MIN_PATIENCE_STEPS == 200
    assert patience_in_epochs(patience, windows, batch) == expected


def test_a_single_short_series_gets_enough_optimizer_steps():
    series = monthly_series(n_series=1, length=60)
    # The network alone: under combine_with="auto" one series is too little evidence to train it at all.
    model = Forecaster(lookback=12, horizon=6, combine_with=None, units=4, verbose=0, tracking=False, patience=2)
    model.fit(series)
    assert model.batch_size_ == 16
    # every origin after the first row, the three held-out origins (2 apart) and their overlap removed
    windows = 60 - 6 - (2 * 2 + 6)
    steps_per_epoch = math.ceil(windows / 16)
    assert model.epochs_planned_ * steps_per_epoch >= 5 * windows
    assert model.epochs_trained_ * steps_per_epoch > 5 * windows / 2  # patience lasts half the planned steps
    assert np.isfinite(model.predict()["y_hat"]).all()


def test_seventeen_values_do_not_cost_a_thousand_optimizer_steps():
    years = pd.date_range("2000-01-01", periods=17, freq="YS")
    rng = np.random.default_rng(3)
    panel = pd.concat(
        [
            pd.DataFrame({"unique_id": key, "ds": years, "y": level + np.cumsum(rng.normal(0, level / 50, 17))})
            for key, level in (("a", 30_000.0), ("b", 21_900.0), ("c", 8_000.0))
        ]
    )
    model = Forecaster(lookback=12, horizon=6, units=4, verbose=0, tracking=False).fit(panel)
    # 3 series x (17 - 6) windows, 3 x (6 + 2 x 2) of them held out: one step per epoch, 200 planned
    steps = 0 if model.model_ is None else int(model.model_.optimizer.iterations)
    assert steps <= 200
    assert np.isfinite(model.predict()["y_hat"]).all()


def test_the_replayed_learning_rates_are_those_in_force_in_each_epoch():
    # ReduceLROnPlateau logs the rate after each epoch: epoch 0 ran at the initial rate, epoch e at log[e - 1]
    history = {"loss": [4, 3, 2, 1], "learning_rate": [1e-3, 5e-4, 5e-4, 2.5e-4]}
    assert replayed_learning_rates(history, 3, 1e-3) == [1e-3, 1e-3, 5e-4]
    assert replayed_learning_rates(history, 1, 1e-3) == [1e-3]


def test_smape_loss_matches_numpy():
    rng = np.random.default_rng(1)
    y, f = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    expected = np.mean(200 * np.abs(y - f) / np.maximum(np.abs(y) + np.abs(f), 1e-3))
    np.testing.assert_allclose(float(SMAPELoss()(y, f)), expected, rtol=1e-5)
    np.testing.assert_allclose(float(SMAPELoss()(3 * y, 3 * f)), expected, rtol=1e-5)  # scale-free


def test_the_mase_loss_weights_each_window_by_its_scale_over_its_series_mase_scale():
    frame = monthly_series()
    model = Forecaster(lookback=12, horizon=6, loss="mase", **QUICK).fit(frame)
    windows = model.pipeline_.transform(frame)
    _, _, weights = model._training_arrays(windows)
    seasonal_mae = frame.groupby("unique_id")["y"].apply(
        lambda y: np.mean(np.abs(y.to_numpy()[12:] - y.to_numpy()[:-12]))
    )
    expected = windows.scale / seasonal_mae.reindex(windows.index["unique_id"]).to_numpy()
    np.testing.assert_allclose(weights, expected, rtol=1e-5)


def test_mase_scales_are_in_sample_seasonal_naive_errors():
    frame = pd.DataFrame({"unique_id": np.repeat(["a", "b", "c"], [5, 2, 3]), "y": [1, 3, 6, 10, 15, 4, 4, 0, 0, 0.0]})
    scales = positive_mase_scales(frame, season_length=2)
    # a: |6-1|, |10-3|, |15-6| -> 7; b: too short for m=2, |4-4| = 0 -> mean |y| = 4; c: all zero -> 1.
    np.testing.assert_allclose(scales.loc[["a", "b", "c"]], [7.0, 4.0, 1.0])


def test_conformal_offsets_are_the_finite_sample_quantile_of_scaled_scores():
    rng = np.random.default_rng(2)
    n, horizon = 40, 3
    actual = rng.normal(size=(n, horizon))
    forecasts = np.stack([actual - 0.5 + rng.normal(0, 0.3, (n, horizon)), actual + 0.5, actual + 1.0], axis=-1)
    forecasts = np.sort(forecasts, axis=-1)
    scales = rng.uniform(1, 2, n)
    intervals = ConformalIntervals.fit(forecasts, actual, scales, [0.1, 0.5, 0.9])
    scores = np.maximum(forecasts[..., 0] - actual, actual - forecasts[..., 2]) / scales[:, None]
    expected = np.sort(scores, axis=0)[math.ceil((n + 1) * 0.8) - 1]
    np.testing.assert_allclose(intervals.offsets[0.1], expected)
    rows = np.array([[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]])  # levels 0.1, 0.5, 0.9
    widened = intervals.apply(rows, [0.1, 0.5, 0.9], np.array([0, 2]), np.array([2.0, 1.0]))
    np.testing.assert_allclose(widened[:, 2], [1.0 + 2.0 * expected[0], 1.0 + expected[2]])
    np.testing.assert_allclose(widened[:, 0], [-1.0 - 2.0 * expected[0], -1.0 - expected[2]])
    # The calibrated scores cover 80% of the held-out windows at every step.
    covered = (scores <= intervals.offsets[0.1]).mean(axis=0)
    assert np.all(covered >= 0.8)


def test_few_held_out_windows_share_one_offset_across_steps():
    actual = np.zeros((3, 4))
    forecasts = np.stack([actual - 1, actual, actual + 1], axis=-1)
    offsets = ConformalIntervals.fit(forecasts, actual + 2.0, np.ones(3), [0.1, 0.5, 0.9]).offsets[0.1]
    np.testing.assert_allclose(offsets, [1.0] * 4)


def test_pooled_offsets_count_windows_not_scores_in_the_finite_sample_correction():
    # 10 held-out windows of 4 steps: the level is ceil(11 x 0.8) / 10 = 0.9 of the 40 pooled scores (counting
    # the 40 scores would give ceil(41 x 0.8) / 40 = 0.825).
    errors = np.random.default_rng(5).normal(0.0, 1.0, (10, 4)) * np.array([1.0, 2.0, 3.0, 4.0])
    actual = np.zeros((10, 4))
    forecasts = np.stack([errors - 1.0, errors, errors + 1.0], axis=-1)
    offsets = ConformalIntervals.fit(forecasts, actual, np.ones(10), [0.1, 0.5, 0.9]).offsets[0.1]
    typical = np.maximum.accumulate(np.abs(errors).mean(axis=0))
    pooled = np.sort(((np.abs(errors) - 1.0) / typical).ravel())[math.ceil(0.9 * 40) - 1]
    np.testing.assert_allclose(offsets, pooled * typical)


def test_a_calibrated_forecaster_widens_its_raw_quantiles_and_keeps_the_offsets_through_save(tmp_path):
    frame = monthly_series()
    model = Forecaster(lookback=12, horizon=6, quantiles=(0.1, 0.9), combine_with=None, **QUICK).fit(frame)
    assert set(model.intervals_.offsets) == {0.1}
    windows = model.pipeline_.predict_windows(frame)
    raw = windows.inverse_target(model._predict_scaled(windows))
    forecasts = model.predict()
    scales = model.series_scale_.reindex(forecasts["unique_id"]).to_numpy()
    offsets = np.tile(model.intervals_.offsets[0.1], 3)
    expected_low = np.minimum(raw[..., 0].reshape(-1) - offsets * scales, raw[..., 1].reshape(-1))
    np.testing.assert_allclose(forecasts["y_hat_q10"], expected_low, rtol=1e-5)
    loaded = Forecaster.load(model.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.predict(), forecasts)


@pytest.mark.slow
def test_an_ensemble_trains_members_together_and_forecasts_their_median(tmp_path):
    frame = monthly_series()
    model = Forecaster(
        lookback=12,
        horizon=6,
        ensemble_size=3,
        ensemble_lookbacks=(12, 8, 6),
        loss="mae",
        combine_with=None,
        nonnegative=False,
        **QUICK,
    ).fit(frame)
    windows = model.pipeline_.predict_windows(frame)
    members = np.asarray(model.model_(windows.as_inputs()))
    assert members.shape == (3, 3, 6) and not np.allclose(members[:, 0], members[:, 1])
    expected = windows.inverse_target(np.median(members, axis=1))
    np.testing.assert_allclose(model.predict()["y_hat"].to_numpy().reshape(3, 6), expected, rtol=1e-5, atol=1e-4)
    loaded = Forecaster.load(model.save(tmp_path / "ensemble"))
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())


@pytest.mark.slow
def test_a_covariate_on_a_large_scale_gives_the_forecasts_of_the_same_covariate_prescaled():
    frame = monthly_series()
    driver = np.random.default_rng(4).normal(size=len(frame))
    huge = frame.assign(price=1e3 + 1e5 * driver)
    prescaled = frame.assign(price=(huge["price"] - huge["price"].mean()) / huge["price"].std(ddof=0))
    settings = dict(lookback=12, horizon=6, past_covariates=["price"], combine_with=None, nonnegative=False, **QUICK)
    raw = Forecaster(**settings).fit(huge).predict()
    scaled = Forecaster(**settings).fit(prescaled).predict()
    np.testing.assert_allclose(raw["y_hat"], scaled["y_hat"], rtol=1e-4)
    unscaled = Forecaster(covariate_scaler=None, **settings).fit(huge).predict()
    assert not np.allclose(unscaled["y_hat"], scaled["y_hat"], rtol=1e-2)  # the scaling is what makes them equal


def test_an_ensemble_is_calibrated_on_the_median_of_its_members():
    from forecast.holdout import validation_split

    frame = monthly_series(n_series=4)
    settings = dict(ensemble_size=2, quantiles=(0.1, 0.9), combine_with=None, validation_windows=1, **QUICK)
    model = Forecaster(lookback=12, horizon=6, **settings).fit(frame)
    _, validation = validation_split(model.pipeline_.transform(frame), 1, 6)
    members = np.asarray(model.model_(validation.as_inputs()))  # (4 windows, 2 members, 6 steps, 3 quantiles)
    forecasts = validation.inverse_target(np.median(members, axis=1))
    actuals = validation.inverse_target(validation.target)
    scales = model.series_scale_.reindex(validation.index["unique_id"]).to_numpy()
    scores = np.maximum(forecasts[..., 0] - actuals, actuals - forecasts[..., 2]) / scales[:, None]
    # 4 windows: the scores of all steps pooled, each divided by its step's typical error (non-decreasing).
    typical = np.maximum.accumulate((np.abs(actuals - forecasts[..., 1]) / scales[:, None]).mean(axis=0))
    normalized = (scores / typical).ravel()
    level = min(1.0, math.ceil((len(scores) + 1) * 0.8) / len(scores))  # the finite-sample level counts windows
    pooled = np.sort(normalized)[math.ceil(level * normalized.size) - 1] * typical
    np.testing.assert_allclose(model.intervals_.offsets[0.1], pooled, rtol=1e-4)
