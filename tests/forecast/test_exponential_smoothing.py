"""ETS: the Numba filter against the state space equations of Hyndman et al. (2008, table 2.3) written in
NumPy, the optimizer against a grid, Akaike weights by hand, the estimator's origins, and the Forecaster's
combination with it."""

import math

import numpy as np
import pandas as pd
import pytest

from forecast.baselines import ExponentialSmoothing
from forecast.exponential_smoothing import (
    PHI_RANGE,
    SMOOTHING_FLOOR,
    EtsForm,
    _filter,
    akaike_weights,
    candidate_forms,
    fit_ets,
)
from forecast.forecaster import Forecaster

WIDTH = 1.0 - 2.0 * SMOOTHING_FLOOR


def _logit(p):
    return math.log(p / (1.0 - p))


def search_vector(form, alpha, beta, gamma, phi, level, slope, seasons):
    """The filter's search vector for the given parameters (beta = alpha beta*, gamma in (0, 1 - alpha))."""
    z = [_logit((alpha - SMOOTHING_FLOOR) / WIDTH)]
    if form.trend != "N":
        z.append(_logit((beta / alpha - SMOOTHING_FLOOR) / WIDTH))
    if form.season != "N":
        z.append(_logit((gamma / (1.0 - alpha) - SMOOTHING_FLOOR) / WIDTH))
    if form.trend == "Ad":
        z.append(_logit((phi - PHI_RANGE[0]) / (PHI_RANGE[1] - PHI_RANGE[0])))
    z.append(level)
    if form.trend != "N":
        z.append(slope)
    if form.season != "N":
        z.extend(seasons[:-1])
    return np.array(z)


def state_space_reference(form, y, alpha, beta, gamma, phi, level, slope, seasons):
    """-2 log L up to constants and the final states, from the state space form (Hyndman et al. 2008, table 2.3):

    additive error:        l_t = q + a e,  b_t = phi b + beta e,  s_t = s + gamma e          (e = y - mu)
    multiplicative error:  l_t = q (1 + a e),  b_t = phi b + beta q e,  s_t = s (1 + gamma e)   (e = (y - mu) / mu)
    (season M, error M; q = l + phi b); with error M and season A, l_t = q + a mu e, b_t = phi b + beta mu e,
    s_t = s + gamma mu e.
    """
    phi = phi if form.trend == "Ad" else 1.0
    if form.trend == "N":
        slope, beta = 0.0, 0.0
    s = list(seasons)
    m = len(s)
    errors, log_mu = [], 0.0
    for t, value in enumerate(y):
        q = level + phi * slope
        old = s[t % m]
        if form.error == "A":
            mu = q + (old if form.season == "A" else 0.0)
            e = value - mu
            level, slope = q + alpha * e, phi * slope + beta * e
            if form.season == "A":
                s[t % m] = old + gamma * e
        elif form.season == "A":  # ETS(M,*,A): every state moves by its gain times mu e
            mu = q + old
            e = (value - mu) / mu
            log_mu += math.log(mu)
            level, slope = q + alpha * mu * e, phi * slope + beta * mu * e
            s[t % m] = old + gamma * mu * e
        else:
            mu = q * (old if form.season == "M" else 1.0)
            e = (value - mu) / mu
            log_mu += math.log(mu)
            level, slope = q * (1.0 + alpha * e), phi * slope + beta * q * e
            if form.season == "M":
                s[t % m] = old * (1.0 + gamma * e)
        errors.append(e)
    objective = len(y) * math.log(np.sum(np.square(errors))) + 2.0 * log_mu
    return objective, level, slope, s


@pytest.mark.parametrize(
    "form",
    [
        EtsForm("A", "N", "N"),
        EtsForm("A", "A", "A"),
        EtsForm("A", "Ad", "A"),
        EtsForm("M", "Ad", "M"),
        EtsForm("M", "A", "N"),
        EtsForm("M", "Ad", "A"),
    ],
    ids=lambda form: form.name,
)
def test_the_filter_equals_the_state_space_equations(form):
    rng = np.random.default_rng(3)
    m = 4 if form.season != "N" else 1
    t = np.arange(40)
    y = 10.0 + 0.1 * t + (1.0 + 0.2 * np.sin(2 * np.pi * t / 4)) * rng.normal(1.0, 0.3, 40)
    seasons = np.array([0.9, 1.2, 1.1, 0.8]) if form.season == "M" else np.array([-0.5, 0.7, 0.3, -0.5])
    seasons = seasons[:m] if m > 1 else np.ones(1)
    alpha, beta, gamma, phi, level, slope = 0.3, 0.06, 0.2, 0.9, 9.5, 0.2
    expected, level_t, slope_t, seasons_t = state_space_reference(
        form, y, alpha, beta, gamma, phi, level, slope, seasons
    )
    z = search_vector(form, alpha, beta, gamma, phi, level, slope, seasons)
    states = np.empty(2 + m)
    code = form.codes()
    found = _filter(y, code[0], code[1], code[2], m, z, states)
    assert found == pytest.approx(expected, rel=1e-10)
    assert states[0] == pytest.approx(level_t, rel=1e-10)
    if form.trend != "N":
        assert states[1] == pytest.approx(slope_t, rel=1e-9, abs=1e-12)
    if form.season != "N":
        np.testing.assert_allclose(states[2:], seasons_t, rtol=1e-10)


def test_the_fitted_simple_smoothing_is_at_least_as_likely_as_every_point_of_a_grid():
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(0.0, 1.0, 60)) + 20.0
    y = y / np.abs(y).mean()  # fit_ets divides by the mean absolute value: here it is 1, so L is not shifted
    fit = fit_ets([y], horizon=3, season_length=1)
    ann = [form.name for form in fit.forms].index("ETS(A,N,N)")
    k, n = 3, len(y)  # alpha, l_0, sigma
    fitted_objective = fit.aicc[0, ann] - 2 * k - 2 * k * (k + 1) / (n - k - 1)
    grid = min(
        state_space_reference(EtsForm("A", "N", "N"), y, alpha, 0.0, 0.0, 1.0, level, 0.0, [1.0])[0]
        for alpha in np.linspace(0.01, 0.99, 50)
        for level in np.linspace(y[:5].min() - 0.2, y[:5].max() + 0.2, 50)
    )
    # At most the grid's best, and close to it: a wrong parameter count k in the AICc would move it by about 2.
    assert grid - 0.5 <= fitted_objective <= grid + 1e-6 * abs(grid)


def test_akaike_weights_by_hand():
    aicc = np.array([[100.0, 102.0, np.inf], [np.inf, np.inf, np.inf]])
    weights = akaike_weights(aicc)
    first = np.array([1.0, math.exp(-1.0), 0.0])
    np.testing.assert_allclose(weights[0], first / first.sum())
    np.testing.assert_array_equal(weights[1], [0.0, 0.0, 0.0])


def test_a_seasonal_series_with_a_trend_is_continued():
    rng = np.random.default_rng(1)
    t = np.arange(77)  # 65 fitted: not whole seasons, so the forecast phases are (n + h) mod m, not h mod m
    pattern = np.array([5.0, -3.0, 2.0, 8.0, -6.0, -1.0, 0.0, 4.0, -2.0, -5.0, 3.0, -5.0])
    truth = 100.0 + 0.5 * t + pattern[t % 12]
    y = truth[:65] + rng.normal(0.0, 0.3, 65)
    fit = fit_ets([y], horizon=12, season_length=12)
    np.testing.assert_allclose(fit.combined()[0], truth[65:], atol=1.5)
    assert fit.forms[int(np.argmin(fit.aicc[0]))].season != "N"


def test_histories_too_short_for_any_model_get_the_last_value():
    fit = fit_ets([np.array([3.0, 4.0, 5.0])], horizon=2, season_length=12)
    np.testing.assert_array_equal(fit.combined()[0], [5.0, 5.0])
    assert np.isinf(fit.aicc).all()


def test_models_tried():
    assert len(candidate_forms(True)) == 15  # 2 errors x 3 trends x 3 seasons, less A-error M-season
    assert [form.name for form in candidate_forms(False)] == [
        "ETS(A,N,N)",
        "ETS(A,A,N)",
        "ETS(A,Ad,N)",
        "ETS(M,N,N)",
        "ETS(M,A,N)",
        "ETS(M,Ad,N)",
    ]


def _monthly_frame(n_series=3, length=60, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    frames = []
    for k in range(n_series):
        y = 50.0 + 10 * k + 0.3 * t + 6.0 * np.sin(2 * np.pi * t / 12 + k) + rng.normal(0, 1.0, length)
        frames.append(
            pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2015-01-01", periods=length, freq="MS"), "y": y})
        )
    return pd.concat(frames, ignore_index=True)


def test_the_estimator_forecasts_every_origin_from_the_history_up_to_it():
    df = _monthly_frame()
    backtest = ExponentialSmoothing(horizon=4, season_length=12).backtest(df, n_windows=2, step=4)
    cutoff = backtest.forecasts["cutoff"].min()
    from_history = ExponentialSmoothing(horizon=4, season_length=12).fit(df[df["ds"] <= cutoff]).predict()
    first = backtest.forecasts[backtest.forecasts["cutoff"] == cutoff]
    np.testing.assert_allclose(first["y_hat"].to_numpy(), from_history["y_hat"].to_numpy(), rtol=1e-12)


def test_the_forecaster_averages_the_network_and_ets_and_moves_every_quantile_with_the_median():
    df = _monthly_frame()
    settings = dict(lookback=12, horizon=4, units=4, epochs=2, verbose=0, tracking=False, calibration=None)
    model = Forecaster(quantiles=[0.1, 0.9], combine_with="ets", **settings).fit(df)
    combined = model.predict()
    windows = model.pipeline_.predict_windows(df)
    network = windows.inverse_target(np.asarray(model.model_(windows.as_inputs()))).reshape(-1, 3)  # q10, q50, q90
    ets = ExponentialSmoothing(horizon=4, season_length=12).fit(df).predict()
    np.testing.assert_allclose(combined["y_hat"], (network[:, 1] + ets["y_hat"]) / 2, rtol=1e-5)
    shift = combined["y_hat"].to_numpy() - network[:, 1]
    np.testing.assert_allclose(combined["y_hat_q10"], network[:, 0] + shift, rtol=1e-5)
    np.testing.assert_allclose(combined["y_hat_q90"], network[:, 2] + shift, rtol=1e-5)


def test_a_model_saved_before_the_combination_existed_forecasts_with_the_network_alone(tmp_path):
    import json

    df = _monthly_frame()
    settings = dict(lookback=12, horizon=4, units=4, epochs=2, verbose=0, tracking=False)
    network_alone = Forecaster(combine_with=None, **settings).fit(df)
    directory = network_alone.save(tmp_path / "old")
    for name, key in (("params.json", "combine_with"), ("fitted.json", "combine_with")):
        saved = json.loads((directory / name).read_text())
        saved.pop(key)  # as written before the option existed
        (directory / name).write_text(json.dumps(saved))
    loaded = Forecaster.load(directory)
    assert loaded.combine_with == "ets" and loaded.combine_with_ is None
    pd.testing.assert_frame_equal(loaded.predict(), network_alone.predict())


def test_combine_with_must_be_ets_or_none():
    with pytest.raises(ValueError, match="combine_with"):
        Forecaster(combine_with="theta", tracking=False).fit(_monthly_frame())


def test_the_conformal_offsets_are_measured_on_the_combined_forecasts():
    from forecast.training import chronological_split

    df = _monthly_frame(n_series=4)
    model = Forecaster(lookback=12, horizon=4, quantiles=(0.1, 0.9), units=4, epochs=2, verbose=0, tracking=False).fit(
        df
    )
    _, validation = chronological_split(model.pipeline_.transform(df), 1, 4)
    network = validation.inverse_target(np.asarray(model.model_(validation.as_inputs())))  # (4, 4 steps, 3 levels)
    ets = np.stack(
        [
            ExponentialSmoothing(horizon=4, season_length=12)
            .fit(df[(df["unique_id"] == series) & (df["ds"] <= origin)])
            .predict()["y_hat"]
            .to_numpy()
            for series, origin in zip(validation.index["unique_id"], validation.index["ds"])
        ]
    )
    forecasts = network + ((ets - network[..., 1]) / 2)[..., None]
    actuals = validation.inverse_target(validation.target)
    scales = model.series_scale_.reindex(validation.index["unique_id"]).to_numpy()
    scores = np.maximum(forecasts[..., 0] - actuals, actuals - forecasts[..., 2]) / scales[:, None]
    pooled = np.sort(scores.ravel())[math.ceil((scores.size + 1) * 0.8) - 1]  # 4 windows: one offset for all steps
    np.testing.assert_allclose(model.intervals_.offsets[0.1], np.full(4, pooled), rtol=1e-4)


def test_a_period_longer_than_the_seasonal_states_allow_is_divided_out_and_put_back():
    rng = np.random.default_rng(5)
    m, t = 52, np.arange(4 * 52 + 17 + 20)  # 225 fitted: not whole seasons
    pattern = 1.0 + 0.4 * np.sin(2 * np.pi * np.arange(m) / m)
    truth = 100.0 * pattern[t % m]
    y = truth[:-20] * rng.normal(1.0, 0.01, len(t) - 20)
    fit = fit_ets([y], horizon=20, season_length=m)
    assert all(form.season == "N" for form in fit.forms)  # no 51 seasonal states to fit
    np.testing.assert_allclose(fit.combined()[0], truth[-20:], rtol=0.05)
