"""The optimised Theta model beside ETS: its fit against a NumPy re-derivation of the in-sample error minimised by
SciPy from many starts, its forecasts and their continuation against Fiorucci et al.'s formula written in NumPy, the
weight chosen on hand-made held-out windows, and the Forecaster's statistical half, kept by save and load."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

import forecast.theta
from forecast.baselines import Theta
from forecast.combination import MIN_EVIDENCE_WINDOWS
from forecast.exponential_smoothing import ets_rolling_forecasts, fit_ets
from forecast.forecaster import Forecaster
from forecast.holdout import validation_split
from forecast.theta import PRIOR_WEIGHT, THETA_MARGIN, THETA_WEIGHTS, ThetaModels, choose_theta_weight, fit_theta

QUICK = dict(units=4, verbose=0, tracking=False)


def line(y: np.ndarray) -> tuple[float, float]:
    """`A_n, B_n`: NumPy's least-squares line through `y_t` at `t = 1 .. n`."""
    slope, intercept = np.polyfit(np.arange(1, len(y) + 1), y, 1)
    return intercept, slope


def in_sample(level0: float, alpha: float, theta: float, y: np.ndarray) -> tuple[float, float]:
    """The mean squared one-step error and `l_n` of the static optimised Theta model (Fiorucci et al. 2016)."""
    intercept, slope = line(y)
    level, squared = level0, 0.0
    for t, value in enumerate(y, start=1):
        drift = (1 - alpha) ** (t - 1) * intercept + (1 - (1 - alpha) ** t) / alpha * slope
        squared += (value - level - (1 - 1 / theta) * drift) ** 2
        level = alpha * value + (1 - alpha) * level
    return squared / len(y), level


def fiorucci(level: float, alpha: float, weight: float, y: np.ndarray, horizon: int) -> np.ndarray:
    """`l_n + (1 - 1/theta) ((1 - alpha)^n A_n + (h - 1 + (1 - (1 - alpha)^(n+1)) / alpha) B_n)`, h = 1 .. horizon."""
    intercept, slope = line(y)
    n = len(y)
    steps = np.arange(1, horizon + 1)
    return level + weight * ((1 - alpha) ** n * intercept + (steps - 1 + (1 - (1 - alpha) ** (n + 1)) / alpha) * slope)


def scipy_best(y: np.ndarray) -> float:
    """The least in-sample mean squared error SciPy's Nelder-Mead finds from a grid of starts, in the constrained
    region (`alpha` in [0.01, 0.99], `theta >= 1`)."""

    def objective(p):
        level0, alpha, theta = p
        if not (0.01 <= alpha <= 0.99 and theta >= 1.0):
            return np.inf
        return in_sample(level0, alpha, theta, y)[0]

    starts = [(y[0], a, th) for a in (0.05, 0.3, 0.6, 0.95) for th in (1.0, 2.0, 5.0)]
    return min(minimize(objective, s, method="Nelder-Mead", options={"maxiter": 4000}).fun for s in starts)


def trending_series(rng: np.random.Generator, n: int) -> np.ndarray:
    return 50 + 0.8 * np.arange(n) + rng.normal(0, 2, n).cumsum() * 0.5 + rng.normal(0, 2, n)


def test_the_fit_reaches_the_least_in_sample_error_and_forecasts_by_fiorucci_et_al():
    rng = np.random.default_rng(1)
    series = [trending_series(rng, n) for n in (12, 25, 40)] + [100 - np.sqrt(np.arange(30.0)) * 9]
    models = fit_theta(series)
    forecasts = models.forecast(np.arange(len(series)), [np.zeros(0)] * len(series), 5)
    for i, y in enumerate(series):
        level, alpha, weight = models.parameters[i, :3]
        assert 0.01 <= alpha <= 0.99 and 0.0 <= weight <= 1.0
        # the fitted parameters give the least error SciPy finds (to its tolerance), and the level they leave
        theta = np.inf if weight == 1.0 else 1 / (1 - weight)
        best = scipy_best(y)
        found = minimize(lambda p: in_sample(p[0], alpha, theta, y)[0], [y[0]], method="Nelder-Mead").x[0]
        error, level0 = in_sample(found, alpha, theta, y)
        assert error <= best * (1 + 1e-4) + 1e-9
        assert level == pytest.approx(level0, rel=1e-5)
        np.testing.assert_allclose(forecasts[i], fiorucci(level, alpha, weight, y, 5), rtol=1e-10)


def test_a_straight_line_is_continued_exactly():
    t = np.arange(1, 31.0)
    found = fit_theta([3 + 0.5 * t]).forecast(np.array([0]), [np.zeros(0)], 4)
    np.testing.assert_allclose(found[0], 3 + 0.5 * np.arange(31, 35), rtol=1e-9)


def test_a_continued_model_updates_the_level_and_the_line_with_the_parameters_unchanged():
    rng = np.random.default_rng(2)
    y = trending_series(rng, 30)
    models = fit_theta([y[:24]])
    level, alpha, weight = models.parameters[0, :3]
    for value in y[24:]:
        level = alpha * value + (1 - alpha) * level
    continued = models.forecast(np.array([0, 0]), [y[24:], np.zeros(0)], 3)
    np.testing.assert_allclose(continued[0], fiorucci(level, alpha, weight, y, 3), rtol=1e-10)
    np.testing.assert_allclose(continued[1], fiorucci(*models.parameters[0, :3], y[:24], 3), rtol=1e-10)


def test_the_theta_estimator_fits_at_every_origin_and_deseasonalises_a_seasonal_series(long_frame):
    rng = np.random.default_rng(6)
    t = np.arange(60)
    seasonal = (100 + 0.5 * t + rng.normal(0, 1, 60)) * (1 + 0.3 * np.sin(2 * np.pi * t / 12))
    flat = 50 + rng.normal(0, 2, 60).cumsum()
    months = pd.date_range("2015-01-01", periods=60, freq="MS")
    df = pd.concat([pd.DataFrame({"unique_id": k, "ds": months, "y": y}) for k, y in (("s", seasonal), ("f", flat))])
    model = Theta(horizon=5, season_length=12).fit(df)
    found = model.predict().set_index("unique_id")["y_hat"]
    # the seasonal series: classical multiplicative indices (centred 2x12 moving average), fitted on y / s, times s
    trend = np.convolve(seasonal, np.r_[0.5, np.ones(11), 0.5] / 12, mode="valid")
    ratios = seasonal[6 : 6 + len(trend)] / trend
    indices = np.array([ratios[(np.arange(len(trend)) + 6) % 12 == j].mean() for j in range(12)])
    indices /= indices.mean()
    adjusted = seasonal / indices[t % 12]
    expected = fit_theta([adjusted]).forecast(np.array([0]), [np.zeros(0)], 5)[0] * indices[np.arange(60, 65) % 12]
    np.testing.assert_allclose(found.loc["s"], expected, rtol=1e-9)
    # a series without a season is not divided; every origin of a backtest is fitted anew on its history
    flat_fit = fit_theta([flat[:57]]).forecast(np.array([0]), [np.zeros(0)], 3)[0]
    backtest = Theta(horizon=3, season_length=1).backtest(df[df["unique_id"] == "f"], n_windows=1)
    np.testing.assert_allclose(backtest.forecasts["y_hat"], flat_fit, rtol=1e-9)
    assert Theta(horizon=2, season_length=1).fit(df.groupby("unique_id").head(2)).predict()["y_hat"].tolist() == [
        flat[1],
        flat[1],
        seasonal[1],
        seasonal[1],
    ]


def test_the_statistical_half_has_theta_only_without_a_season_and_ets_where_a_series_is_too_short():
    t = np.arange(48)
    seasonal = fit_ets([10 + np.sin(2 * np.pi * t / 12)], horizon=3, season_length=12)
    assert seasonal.models.theta is None and seasonal.statistical().theta is None
    # the ExponentialSmoothing baseline asks for ETS alone: no Theta models are fitted beside it
    alone = fit_ets([np.arange(1.0, 21.0)], horizon=3, season_length=1, with_theta=False)
    assert alone.models.theta is None and alone.statistical().theta is None
    short = fit_ets([np.array([3.0, 5.0])], horizon=2, season_length=1).statistical()
    np.testing.assert_array_equal(short.theta, short.ets)
    # in the series' units: fit_ets divides by the mean absolute value and multiplies back
    y = trending_series(np.random.default_rng(3), 20)
    found = fit_ets([y], horizon=3, season_length=1).statistical().theta
    np.testing.assert_allclose(found, fit_theta([y]).forecast(np.array([0]), [np.zeros(0)], 3), rtol=1e-6)


def test_the_theta_models_survive_the_config_round_trip():
    models = fit_ets([np.arange(20.0) ** 1.5, np.array([1.0])], horizon=2, season_length=1).models
    loaded = type(models).from_config(models.get_config())
    np.testing.assert_array_equal(loaded.theta.parameters, models.theta.parameters)
    np.testing.assert_array_equal(loaded.theta.lengths, models.theta.lengths)
    assert np.isnan(loaded.theta.parameters[1]).all()
    with pytest.raises(ValueError, match="parameters must have shape"):
        ThetaModels(lengths=np.array([3]), parameters=np.zeros((2, 5)))


def windows_of(actual: np.ndarray, ets_error: float, theta_error: float, count: int = MIN_EVIDENCE_WINDOWS):
    """`count` held-out windows of 3 steps, ETS and Theta off the actual values by the given errors (of
    opposite signs, so that their average is off by the difference)."""
    actual = np.tile(actual, (count, 1))
    return actual + ets_error, actual - theta_error, actual, np.ones(count)


@pytest.mark.parametrize(
    "ets_error, theta_error, expected", [(0.0, 1.0, 0.0), (1.0, 0.0, 1.0), (1.0, 1.0, 0.5), (0.0, 0.0, 0.0)]
)
def test_the_weight_on_theta_is_the_one_of_least_scaled_error_on_the_held_out_windows(ets_error, theta_error, expected):
    ets, theta, actual, scales = windows_of(np.array([1.0, 2.0, 3.0]), ets_error, theta_error)
    weight, rule = choose_theta_weight(ets, theta, actual, scales)
    assert weight == expected and "least scaled error" in rule


@pytest.mark.parametrize(
    "ets_error, theta_error, expected, said",
    [
        (1.0, 0.8, PRIOR_WEIGHT, "ETS and Theta in equal parts: "),  # Theta better by 1.25 times: too little
        (1.0, 0.6, 1.0, "Theta alone: "),  # by 1.67 times, beyond THETA_MARGIN
        (0.6, 1.0, 0.0, "ETS alone: "),
    ],
)
def test_with_too_few_windows_ets_and_theta_are_averaged_unless_one_errs_far_more(
    ets_error, theta_error, expected, said
):
    # 149 windows are too few to choose on: the prior weight holds unless one model is THETA_MARGIN times worse
    ets, theta, actual, scales = windows_of(
        np.array([1.0, 2.0]), ets_error, theta_error, count=MIN_EVIDENCE_WINDOWS - 1
    )
    weight, rule = choose_theta_weight(ets, theta, actual, scales)
    assert weight == expected
    assert rule.startswith(
        f"{said}{MIN_EVIDENCE_WINDOWS - 1} validation windows, fewer than the {MIN_EVIDENCE_WINDOWS}"
    )
    assert THETA_MARGIN == 1.5 and PRIOR_WEIGHT == 0.5
    assert choose_theta_weight(ets, None, actual, scales) == (0.0, "ETS alone: the series have a season")


@pytest.mark.parametrize("length, windows, weight", [(10, 0, PRIOR_WEIGHT), (17, 9, 1.0)])
def test_a_forecaster_with_too_few_windows_weighs_ets_and_theta_for_series_without_a_season(length, windows, weight):
    # 3 annual series (17 values: the case): no validation window at 10 values, so the prior weight; 9
    # windows at 17, where Theta's error is under 1 / THETA_MARGIN times ETS's
    rng = np.random.default_rng(5)
    growth = [100 + 8 * k + 3 * np.arange(length) + rng.normal(0, 4, length).cumsum() for k in range(3)]
    ds = pd.date_range("2000", periods=length, freq="YS")
    df = pd.concat([pd.DataFrame({"unique_id": k, "ds": ds, "y": y}) for k, y in enumerate(growth)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning that no validation window fits, at 10 values
        model = Forecaster(lookback=12, horizon=6, **QUICK).fit(df)
    assert model.pipeline_.season_length_ == 1 and model.model_ is None
    assert model.theta_weight_ == weight and f" {windows} validation windows" in model.theta_rule_
    found = model.ets_.statistical_forecasts(np.arange(3), [np.zeros(0)] * 3, 6)
    assert np.abs(found.theta - found.ets).max() > 1.0
    expected = (1 - weight) * found.ets + weight * found.theta
    np.testing.assert_allclose(model.predict()["y_hat"], expected.ravel(), rtol=1e-12)


def damped_growth_panel(n_series: int = 6, length: int = 30) -> pd.DataFrame:
    """Growth that slows down (`c sqrt(t)` plus noise): the whole history's slope overshoots the recent one."""
    rng = np.random.default_rng(4)
    t = np.arange(length)
    frames = [
        pd.DataFrame({"unique_id": f"g{k}", "ds": t, "y": 100 + (20 + 3 * k) * np.sqrt(t) + rng.normal(0, 2, length)})
        for k in range(n_series)
    ]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def theta_fit(monkeypatch):
    """A Forecaster on a six-series panel, the evidence minimum of the Theta weight lowered to its 18 windows
    (the network's stays: it is not trained)."""
    monkeypatch.setattr(forecast.theta, "MIN_EVIDENCE_WINDOWS", 1)
    df = damped_growth_panel()
    return Forecaster(lookback=6, horizon=4, season_length=1, **QUICK).fit(df), df


def test_the_forecaster_chooses_the_weight_on_theta_from_its_held_out_windows(theta_fit):
    model, df = theta_fit
    assert model.model_ is None and "too little evidence" in model.network_skipped_
    # the held-out windows recomputed from the public pieces: the same split, ETS and Theta from each origin
    windows = model.pipeline_.transform(df)
    _, validation = validation_split(windows, model.validation_windows, 4)
    found = ets_rolling_forecasts(df["y"].to_numpy(), validation.origin_rows, validation.first_rows, 4, 1).forecasts
    actual = validation.inverse_target(validation.target)
    scales = model.series_scale_.loc[validation.origin_ids].to_numpy()
    losses = [
        np.mean(np.abs(actual - ((1 - v) * found.ets + v * found.theta)) / scales[:, None]) for v in THETA_WEIGHTS
    ]
    assert model.theta_weight_ == THETA_WEIGHTS[int(np.argmin(losses))] > 0
    assert "least scaled error" in model.theta_rule_
    # the forecast is the statistical half: ETS and Theta of the kept models, blended by the weight
    found = model.ets_.statistical_forecasts(np.arange(6), [np.zeros(0)] * 6, 4)
    v = model.theta_weight_
    np.testing.assert_allclose(model.predict()["y_hat"], ((1 - v) * found.ets + v * found.theta).ravel(), rtol=1e-12)


def test_save_and_load_keep_the_weight_on_theta(theta_fit, tmp_path):
    model, df = theta_fit
    loaded = Forecaster.load(model.save(tmp_path / "model"))
    assert (loaded.theta_weight_, loaded.theta_rule_) == (model.theta_weight_, model.theta_rule_)
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    pd.testing.assert_frame_equal(loaded.predict(df.tail(40)), model.predict(df.tail(40)))


def test_a_seasonal_panel_keeps_ets_alone_and_says_why(long_frame):
    df = long_frame("2015-01-01", "MS", {"a": 60, "b": 60}, seed=2)
    model = Forecaster(lookback=12, horizon=6, **QUICK).fit(df)
    assert model.pipeline_.season_length_ == 12
    assert (model.theta_weight_, model.theta_rule_) == (0.0, "ETS alone: the series have a season")
