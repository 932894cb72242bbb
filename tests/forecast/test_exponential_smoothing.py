"""ETS: the Numba filter against the state space equations of Hyndman et al. (2008, table 2.3) written in
NumPy, the optimizer against a grid, Akaike weights by hand, the fitted models continued over new values
against the recursions written in NumPy, the estimator's origins, and the Forecaster's combination with it."""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from forecast.baselines import ExponentialSmoothing
from forecast.exponential_smoothing import (
    BETA_STAR_MAX,
    DAYS_PER_YEAR,
    PERSISTENT_BETA_STAR_MAX,
    PHI_RANGE,
    SMOOTHING_FLOOR,
    EtsForm,
    EtsModels,
    _filter,
    _initial_states,
    akaike_weights,
    candidate_forms,
    ets_continued_forecasts,
    ets_point_forecasts,
    ets_rolling_forecasts,
    fit_ets,
    persistent_trends,
)
from forecast.forecaster import Forecaster
from pipelines.seasonality import is_seasonal, seasonal_strength, shows_season_at

WIDTH = 1.0 - 2.0 * SMOOTHING_FLOOR


def _logit(p):
    return math.log(p / (1.0 - p))


def search_vector(form, alpha, beta, gamma, phi, level, slope, seasons):
    """The filter's search vector for the given parameters (beta = alpha beta*, beta* in (0, BETA_STAR_MAX),
    gamma in (0, 1 - alpha))."""
    z = [_logit((alpha - SMOOTHING_FLOOR) / WIDTH)]
    if form.trend != "N":
        z.append(_logit((beta / alpha - SMOOTHING_FLOOR) / (BETA_STAR_MAX - 2.0 * SMOOTHING_FLOOR)))
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
    alpha, beta, gamma, phi, level, slope = 0.3, 0.024, 0.2, 0.9, 9.5, 0.2
    expected, level_t, slope_t, seasons_t = state_space_reference(
        form, y, alpha, beta, gamma, phi, level, slope, seasons
    )
    z = search_vector(form, alpha, beta, gamma, phi, level, slope, seasons)
    states = np.empty(2 + m)
    code = form.codes()
    found = _filter(y, code[0], code[1], code[2], m, z, states, BETA_STAR_MAX)
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


def test_a_model_that_forecasts_beyond_the_sane_band_of_the_history_is_discarded():
    # A daily series whose level jumped a hundredfold a week ago. ETS(M,N,M), the likeliest model by far, forecast
    # 25,345 and 29,552: beyond max + 3 (max - min) = 3,970, the band within which the network must stay too.
    y = np.r_[np.full(21, 10.0), np.full(7, 1000.0)]
    fit = fit_ets([y], horizon=4, season_length=7)
    assert not np.isfinite(fit.aicc[0, [form.name for form in fit.forms].index("ETS(M,N,M)")])
    assert np.isfinite(fit.aicc).sum() >= 10  # the others stay
    assert np.all(np.abs(fit.combined()[0] - 1000.0) < 2970.0)
    frame = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=28, freq="D"), "y": y})
    forecast = Forecaster(lookback=12, horizon=4, tracking=False).fit(frame).predict()
    assert forecast["y_hat"].between(10.0 - 3 * 990.0, 1000.0 + 3 * 990.0).all()


def test_a_trend_persists_where_the_steps_correlate_from_one_to_the_next():
    rng = np.random.default_rng(3)
    turned = 1000.0 + 10.0 * np.arange(40) - 0.25 * np.arange(40) ** 2 + rng.normal(0.0, 0.5, 40)
    drift = np.cumsum(rng.normal(2.0, 1.0, 40))  # steps independent of each other
    steps = np.diff(turned) - np.diff(turned).mean()
    by_hand = sum(steps[t] * steps[t - 1] for t in range(1, len(steps))) / sum(step * step for step in steps)
    assert by_hand > 0.8
    np.testing.assert_array_equal(
        persistent_trends([turned, drift, turned[:3], np.full(10, 4.0)], 1), [True, False, False, False]
    )
    np.testing.assert_array_equal(persistent_trends([turned], 12), [False])  # a season: never


def test_a_trend_that_turned_is_followed_without_a_theta_model_where_it_persists():
    # Growth that slowed and turned (a population, a market): the steps fall smoothly from +10 to -9.5 a year. The
    # slow bound beta* < 0.1 and Theta's line through the whole history both forecast it level or rising.
    rng = np.random.default_rng(0)
    t = np.arange(40)
    y = 1000.0 + 10.0 * t - 0.25 * t**2 + rng.normal(0.0, 0.5, 40)
    fit = fit_ets([y], horizon=6, season_length=1)
    trended = [k for k, form in enumerate(fit.forms) if form.trend != "N"]
    assert np.any(fit.models.smoothing[0, trended, 1] > BETA_STAR_MAX)
    assert np.all(fit.models.smoothing[0, trended, 1] < PERSISTENT_BETA_STAR_MAX)
    found = fit.statistical()
    steps = np.diff(np.concatenate([[y[-1]], found.ets[0]]))
    assert np.all(steps < -7.0)  # the true steps are -10.25 .. -12.75; the slow trend forecast +0.0 to +0.1
    assert np.all(np.isnan(fit.models.theta.parameters[0]))
    np.testing.assert_array_equal(found.theta, found.ets)


def test_the_trend_is_smoothed_slowly_and_does_not_extrapolate_the_last_jumps():
    # M3 N0032 (yearly): it grew by about 280 a year, then by 480 and 630. Under beta* < 1 the likeliest
    # ETS(M,A,N) took beta* = 0.98 and forecast 770 a year, the Akaike-weighted forecast 667 a year.
    y = np.array([1719, 1962, 2179, 2488, 2682, 2646, 2753, 2571, 2878, 3138, 3358, 3841, 4730, 5361], dtype=float)
    fit = fit_ets([y], horizon=6, season_length=1)
    trended = [k for k, form in enumerate(fit.forms) if form.trend != "N"]
    assert np.all(fit.models.smoothing[0, trended, 1] <= BETA_STAR_MAX)
    yearly_growth = np.diff(fit.combined()[0])
    assert np.all(yearly_growth > 0)
    assert np.all(yearly_growth < (y[-1] - y[0]) / (len(y) - 1))


def test_akaike_weights_by_hand():
    aicc = np.array([[100.0, 102.0, np.inf], [np.inf, np.inf, np.inf]])
    weights = akaike_weights(aicc)
    first = np.array([1.0, math.exp(-1.0), 0.0])
    np.testing.assert_allclose(weights[0], first / first.sum())
    np.testing.assert_array_equal(weights[1], [0.0, 0.0, 0.0])


def test_akaike_weights_of_large_aicc_beside_unfitted_models_raise_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow in exp reached the user as a RuntimeWarning
        weights = akaike_weights(np.array([[3000.0, np.inf, 3002.0]]))
    first = np.array([1.0, 0.0, math.exp(-1.0)])
    np.testing.assert_allclose(weights[0], first / first.sum())


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


def test_combine_with_must_be_auto_ets_or_none():
    with pytest.raises(ValueError, match="combine_with must be one of"):
        Forecaster(combine_with="theta", tracking=False).fit(_monthly_frame())


def test_the_conformal_offsets_are_measured_on_the_combined_forecasts():
    from forecast.holdout import validation_split

    df = _monthly_frame(n_series=4)
    settings = dict(lookback=12, horizon=4, quantiles=(0.1, 0.9), units=4, epochs=2, verbose=0, tracking=False)
    model = Forecaster(combine_with="ets", validation_windows=1, **settings).fit(df)
    _, validation = validation_split(model.pipeline_.transform(df), 1, 4)
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
    # 4 windows: the scores of all steps pooled, each divided by its step's typical error (non-decreasing).
    typical = np.maximum.accumulate((np.abs(actuals - forecasts[..., 1]) / scales[:, None]).mean(axis=0))
    normalized = (scores / typical).ravel()
    level = min(1.0, math.ceil((len(scores) + 1) * 0.8) / len(scores))  # the finite-sample level counts windows
    pooled = np.sort(normalized)[math.ceil(level * normalized.size) - 1] * typical
    np.testing.assert_allclose(model.intervals_.offsets[0.1], pooled, rtol=1e-4)


def test_a_period_longer_than_the_seasonal_states_allow_is_divided_out_and_put_back():
    rng = np.random.default_rng(5)
    m, t = 52, np.arange(4 * 52 + 17 + 20)  # 225 fitted: not whole seasons
    pattern = 1.0 + 0.4 * np.sin(2 * np.pi * np.arange(m) / m)
    truth = 100.0 * pattern[t % m]
    y = truth[:-20] * rng.normal(1.0, 0.01, len(t) - 20)
    fit = fit_ets([y], horizon=20, season_length=m)
    assert all(form.season == "N" for form in fit.forms)  # no 51 seasonal states to fit
    np.testing.assert_allclose(fit.combined()[0], truth[-20:], rtol=0.05)


def continued_reference(form, values, offset, smoothing, states, horizon, sums=(0.0, 0.0)):
    """The point recursions of the module docstring in plain Python from `states = [l, b, s_0 .. s_{m-1}]` over
    `values` (phase `(offset + t) mod m`), then `y_hat = l + (phi + .. + phi^h) b (+ s or x s)`.

    Returns the forecasts and `sums` plus `[sum e_t^2, sum log mu_t]` over `values`; None where a one-step
    forecast `mu` (error M) or `q` and `s` (season M) are not positive.
    """
    alpha, beta_star, gamma, phi = smoothing
    level, slope, s = states[0], states[1], list(states[2:])
    squared, log_mu = sums
    m = len(s)
    for t, value in enumerate(values):
        phase = (offset + t) % m
        damped = phi * slope
        q = level + damped
        old = s[phase]
        mu = {"N": q, "A": q + old, "M": q * old}[form.season]
        if (form.error == "M" and mu <= 0) or (form.season == "M" and min(q, old) <= 0):
            return None
        if form.error == "M":
            squared += ((value - mu) / mu) ** 2
            log_mu += math.log(mu)
        else:
            squared += (value - mu) ** 2
        adjusted = {"N": value, "A": value - old, "M": value / old}[form.season]
        new_level = q + alpha * (adjusted - q)
        if form.trend != "N":
            slope = damped + beta_star * (new_level - level - damped)
        if form.season == "A":
            s[phase] = old + gamma * (value - q - old)
        elif form.season == "M":
            s[phase] = old + gamma * (value / q - old)
        level = new_level
    n = offset + len(values)
    forecasts, damping, power = [], 0.0, 1.0
    for h in range(horizon):
        power *= phi
        damping += power
        base = level + damping * slope
        seasonal = s[(n + h) % m]
        forecasts.append({"N": base, "A": base + seasonal, "M": base * seasonal}[form.season])
    return np.array(forecasts), squared, log_mu


def aicc_penalty(form, n, m):
    """2k + 2k(k+1)/(n-k-1), k = the smoothing parameters, l_0, b_0, m - 1 seasonal states and the variance."""
    trended, seasonal = form.trend != "N", form.season != "N"
    k = 1 + trended + seasonal + (form.trend == "Ad") + 1 + trended + (m - 1) * seasonal + 1
    return 2 * k + 2 * k * (k + 1) / (n - k - 1)


def aicc_reference(form, squared, log_mu, n, m):
    """AICc = n log(sum e^2) + 2 sum log mu + the penalty."""
    return n * math.log(squared) + 2 * log_mu + aicc_penalty(form, n, m)


def weighted_by_hand(aicc, forecasts):
    """Kolassa's combination of one series: weights exp(-(AICc - min) / 2) over the finite AICc."""
    finite = [k for k, value in enumerate(aicc) if math.isfinite(value)]
    lowest = min(aicc[k] for k in finite)
    weights = {k: math.exp(-0.5 * (aicc[k] - lowest)) for k in finite}
    return sum(weights[k] * forecasts[k] for k in finite) / sum(weights.values())


def _seasonal_series(n_series, length, seed, m=12):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return [
        (50.0 + 10 * k + 0.3 * t) * (1.0 + 0.1 * np.sin(2 * np.pi * t / m + k)) + rng.normal(0, 1.0, length)
        for k in range(n_series)
    ]


@pytest.mark.parametrize(
    "form",
    [EtsForm("A", "N", "N"), EtsForm("A", "Ad", "A"), EtsForm("M", "A", "M"), EtsForm("M", "Ad", "N")],
    ids=lambda form: form.name,
)
def test_continuing_after_n_values_equals_the_filter_over_the_whole_history(form):
    rng = np.random.default_rng(4)
    m = 4 if form.season != "N" else 1
    y = 10.0 + 0.1 * np.arange(43) + rng.normal(0.0, 0.3, 43)
    y = y * (1.0 + 0.1 * np.cos(np.arange(43) * np.pi / 2)) if m > 1 else y
    seasons = (np.array([0.9, 1.2, 1.1, 0.8]) if form.season == "M" else np.array([-0.5, 0.7, 0.3, -0.5]))[:m]
    seasons = seasons if m > 1 else np.ones(1)
    alpha, beta, gamma, phi, level, slope = 0.3, 0.024, 0.2, 0.9, 9.5, 0.2
    z = search_vector(form, alpha, beta, gamma, phi, level, slope, seasons)
    code = form.codes()
    initial = np.empty(2 + m)  # l_0, b_0, s_0 .. s_{m-1} as the filter reads them from z
    smoothing = list(
        _initial_states(z, *code[1:], m, initial, BETA_STAR_MAX)
    )  # alpha, beta* = beta / alpha, gamma, phi
    trended, seasonal, damped = form.trend != "N", form.season != "N", form.trend == "Ad"
    expected = [alpha, beta / alpha if trended else 0.0, gamma if seasonal else 0.0, phi if damped else 1.0]
    np.testing.assert_allclose(smoothing, expected, rtol=1e-12)
    n = 30  # not whole seasons: the continuation starts at phase 2
    _, squared, log_mu = continued_reference(form, y[:n], 0, smoothing, initial, 0)
    after_n, after_all = np.empty(2 + m), np.empty(2 + m)
    _filter(y[:n], *code, m, z, after_n, BETA_STAR_MAX)
    whole_objective = _filter(y, *code, m, z, after_all, BETA_STAR_MAX)
    models = EtsModels(
        season_length=m,
        forms=(form,),
        lengths=np.array([n]),
        scales=np.array([1.0]),
        last=y[n - 1 : n],
        season_indices=None,
        season_offsets=None,
        aicc=np.array([[0.0]]),  # only its finiteness is read: a continuation's AICc comes from the sums
        smoothing=np.array([[smoothing]]),
        states=after_n[None, None],
        sums=np.array([[[squared, log_mu]]]),
    )
    forecasts, aicc = models.model_forecasts(np.array([0]), [y[n:]], 6)
    whole, *_ = continued_reference(form, [], len(y), smoothing, after_all, 6)
    np.testing.assert_array_equal(forecasts[0, 0], whole)
    penalty = aicc_penalty(form, len(y), m)
    assert aicc[0, 0] == pytest.approx(whole_objective + penalty, rel=1e-14)
    # and the state space equations (Hyndman et al. 2008, table 2.3) over the whole history
    objective, level_t, slope_t, seasons_t = state_space_reference(
        form, y, alpha, beta, gamma, phi, level, slope, seasons
    )
    reference, *_ = continued_reference(form, [], len(y), smoothing, [level_t, slope_t, *seasons_t], 6)
    np.testing.assert_allclose(forecasts[0, 0], reference, rtol=1e-9)
    assert aicc[0, 0] == pytest.approx(objective + penalty, rel=1e-10)


def test_fitted_models_continue_over_new_values_as_the_recursions_written_in_python():
    series = _seasonal_series(3, 70, seed=2)
    n = [51, 58, 60]
    fit = fit_ets([y[:length] for y, length in zip(series, n)], horizon=5, season_length=12)
    models = fit.models
    rows = np.array([2, 0, 0])  # any order, a series twice
    continuations = [series[2][60:67], series[0][51:52], series[0][51:70]]
    forecasts, aicc = models.model_forecasts(rows, continuations, horizon=5)
    combined = models.forecast(rows, continuations, horizon=5)
    for k, (row, values) in enumerate(zip(rows, continuations)):
        assert np.isfinite(aicc[k]).sum() == 15  # positive seasonal series with five seasons: every model fits
        scale = models.scales[row]
        for f, form in enumerate(models.forms):
            smoothing, states, sums = models.smoothing[row, f], models.states[row, f], models.sums[row, f]
            expected, squared, log_mu = continued_reference(form, values / scale, n[row], smoothing, states, 5, sums)
            np.testing.assert_array_equal(forecasts[k, f], expected * scale)
            total = n[row] + len(values)
            assert aicc[k, f] == pytest.approx(aicc_reference(form, squared, log_mu, total, 12), rel=1e-13)
        np.testing.assert_allclose(combined[k], weighted_by_hand(aicc[k], forecasts[k]), rtol=1e-13)
    assert not np.array_equal(aicc, models.aicc[rows])  # new values move the weights


def test_an_empty_continuation_gives_the_fits_own_forecasts():
    series = [*_seasonal_series(3, 50, seed=3), np.array([3.0, 4.0, 5.0]), np.array([-1.0, 2.0] * 20)]
    fit = fit_ets(series, horizon=7, season_length=12)
    empty = [np.zeros(0)] * len(series)
    np.testing.assert_array_equal(fit.models.forecast(np.arange(len(series)), empty, 7), fit.combined())
    order = np.array([4, 1, 3])  # a row does not depend on the others
    np.testing.assert_array_equal(fit.models.forecast(order, empty[:3], 7), fit.combined()[order])
    np.testing.assert_array_equal(fit.models.forecast(np.array([3]), [np.array([6.0])], 2), [[6.0, 6.0]])  # naive


def test_a_model_whose_forecasts_leave_the_positive_half_line_is_dropped_from_the_continued_combination():
    models = fit_ets(_seasonal_series(1, 60, seed=6), horizon=3, season_length=12).models
    values = np.full(6, -500.0)
    forecasts, aicc = models.model_forecasts(np.array([0]), [values], 3)
    scale = models.scales[0]
    dropped = []
    for f, form in enumerate(models.forms):
        expected = continued_reference(form, values / scale, 60, models.smoothing[0, f], models.states[0, f], 3)
        dropped.append(expected is None)
        if expected is not None:
            np.testing.assert_array_equal(forecasts[0, f], expected[0] * scale)
    assert any(dropped) and not all(dropped)
    np.testing.assert_array_equal(np.isinf(aicc[0]), dropped)
    combined = models.forecast(np.array([0]), [values], 3)
    np.testing.assert_allclose(combined[0], weighted_by_hand(aicc[0], forecasts[0]), rtol=1e-13)


def test_the_config_round_trip_through_json_is_exact_and_keeps_only_the_parameters_a_model_has():
    series = [*_seasonal_series(2, 60, seed=7), np.array([3.0, 4.0, 5.0])]
    models = fit_ets(series, horizon=4, season_length=12).models
    config = models.get_config()
    # one series with all 15 models: alpha 15, beta* 10, gamma 9, phi 5; l 15, b 10, s 9 x 12
    assert np.isfinite(models.aicc[:2]).all() and np.isinf(models.aicc[2]).all()
    assert len(config["smoothing"]) == 2 * (15 + 10 + 9 + 5) and len(config["states"]) == 2 * (15 + 10 + 108)
    assert len(config["sums"]) == 2 * (15 + 9)  # sum e_t^2, and sum log mu_t for the 9 multiplicative-error models
    loaded = EtsModels.from_config(json.loads(json.dumps(config, allow_nan=False)))
    for name in ("lengths", "scales", "last", "aicc", "smoothing", "states", "sums"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(models, name), err_msg=name)
    assert loaded.forms == models.forms and loaded.season_length == 12 and loaded.season_indices is None
    assert loaded.get_config() == config
    continuations = [series[0][:5], np.zeros(0), np.array([6.0])]
    np.testing.assert_array_equal(
        loaded.forecast(np.arange(3), continuations, 9), models.forecast(np.arange(3), continuations, 9)
    )


def test_a_config_with_too_few_states_is_refused():
    config = fit_ets(_seasonal_series(1, 40, seed=8), horizon=2, season_length=4).models.get_config()
    config["states"] = config["states"][:-1]
    with pytest.raises(ValueError, match="states values"):
        EtsModels.from_config(config)


def test_fitting_in_threads_gives_the_one_thread_fit_bit_for_bit():
    series = [*_seasonal_series(9, 64, seed=9), np.array([1.0, 2.0]), *_seasonal_series(3, 37, seed=10)]
    alone = fit_ets(series, horizon=6, season_length=12, threads=1)
    for threads in (2, 3):
        threaded = fit_ets(series, horizon=6, season_length=12, threads=threads)
        np.testing.assert_array_equal(threaded.forecasts, alone.forecasts)
        for name in ("aicc", "smoothing", "states", "sums", "scales", "last"):
            np.testing.assert_array_equal(getattr(threaded.models, name), getattr(alone.models, name), err_msg=name)


def test_a_long_season_is_removed_from_the_continuation_at_its_phase_and_put_back():
    rng = np.random.default_rng(11)
    m, n, grown = 52, 4 * 52 + 17, 4 * 52 + 40  # neither ends on whole seasons
    t = np.arange(grown + 10)
    pattern = 1.0 + 0.4 * np.sin(2 * np.pi * np.arange(m) / m)
    y = 100.0 * pattern[t % m] * (1.0 + 0.002 * t) * rng.normal(1.0, 0.01, len(t))
    flat = 100.0 + rng.normal(0.0, 1.0, len(t))
    series = [y, y - 200.0, flat]  # positive and seasonal; negative and seasonal; no season
    models = fit_ets([values[:n] for values in series], horizon=10, season_length=m).models
    indices, offsets = models.season_indices, models.season_offsets
    assert not np.all(indices[0] == 1.0) and np.all(offsets[0] == 0.0)  # multiplicative
    assert np.all(indices[1] == 1.0) and not np.all(offsets[1] == 0.0)  # additive: the values are not positive
    assert np.all(indices[2] == 1.0) and np.all(offsets[2] == 0.0)  # untouched
    rows = np.arange(3)
    forecasts, aicc = models.model_forecasts(rows, [values[n:grown] for values in series], horizon=10)
    seen, ahead = np.arange(n, grown) % m, np.arange(grown, grown + 10) % m
    for row, values in enumerate(series):
        adjusted = (values[n:grown] - offsets[row, seen]) / indices[row, seen] / models.scales[row]
        for f, form in enumerate(models.forms):
            assert form.season == "N"
            if not np.isfinite(models.aicc[row, f]):
                continue  # not fitted (a multiplicative form on negative values): the naive forecast
            smoothing, states, sums = models.smoothing[row, f], models.states[row, f], models.sums[row, f]
            expected, squared, log_mu = continued_reference(form, adjusted, n, smoothing, states, 10, sums)
            restored = expected * indices[row, ahead] * models.scales[row] + offsets[row, ahead]
            np.testing.assert_allclose(forecasts[row, f], restored, rtol=1e-12)
            assert aicc[row, f] == pytest.approx(aicc_reference(form, squared, log_mu, grown, 1), rel=1e-12)
    combined = models.forecast(rows, [values[n:grown] for values in series], horizon=10)
    np.testing.assert_allclose(combined[0], weighted_by_hand(aicc[0], forecasts[0]), rtol=1e-13)
    np.testing.assert_allclose(combined[0], y[grown:], rtol=0.05)
    np.testing.assert_allclose(combined[1], y[grown:] - 200.0, rtol=0.2)  # the season follows: -100 .. -160
    loaded = EtsModels.from_config(json.loads(json.dumps(models.get_config())))
    assert loaded.get_config()["season_indices"][1] is None and loaded.get_config()["season_offsets"][0] is None
    np.testing.assert_array_equal(loaded.season_indices, models.season_indices)
    np.testing.assert_array_equal(loaded.season_offsets, models.season_offsets)


def test_a_long_season_that_changes_is_forecast_with_its_recent_profile():
    # half-hourly demand whose daily profile turns from a morning to an evening peak over the history: the
    # forecast follows the last seasons' profile, where the whole history's indices would average the two
    m, t = 48, np.arange(40 * 48 + 48)
    morning = 1.0 + 0.3 * np.exp(-(((np.arange(m) - 16) / 4.0) ** 2))
    evening = 1.0 + 0.3 * np.exp(-(((np.arange(m) - 36) / 4.0) ** 2))
    share = np.clip((t / m - 10) / 10, 0.0, 1.0)  # morning for 10 days, turning over 10, evening for the last 20
    truth = 100.0 * ((1 - share) * morning[t % m] + share * evening[t % m])
    y = truth[:-m] * np.random.default_rng(9).normal(1.0, 0.005, len(t) - m)
    fit = fit_ets([y], horizon=m, season_length=m)
    assert np.mean(np.abs(fit.combined()[0] - truth[-m:])) < 1.0
    np.testing.assert_allclose(fit.models.season_indices[0], evening / evening.mean(), atol=0.01)


def test_a_random_walk_keeps_no_long_season_though_its_levels_pass_the_test():
    walk = 1000.0 + np.cumsum(np.random.default_rng(8).normal(0.5, 5.0, 1800))  # a stock index's drift
    assert is_seasonal(walk, 52)  # its levels correlate at every lag
    fit = fit_ets([walk], horizon=8, season_length=52)
    np.testing.assert_array_equal(fit.models.season_indices, np.ones((1, 52)))
    np.testing.assert_array_equal(fit.models.season_offsets, np.zeros((1, 52)))


def test_a_smooth_yearly_cycle_under_weekly_noise_keeps_its_long_season():
    # weekly temperatures: the cycle's step from week to week is small beside the noise, so the differences do
    # not show the season at lag 52; its strength does
    t = np.arange(20 * 52)
    y = 20.0 + 8.0 * np.sin(2 * np.pi * t / 52) + np.random.default_rng(5).normal(0.0, 3.0, len(t))
    assert not shows_season_at(np.diff(y), 52) and seasonal_strength(y, 52) > 0.5
    fit = fit_ets([y], horizon=26, season_length=52)
    assert fit.models.season_indices[0].std() > 0.2  # divided by its yearly indices
    truth = 20.0 + 8.0 * np.sin(2 * np.pi * np.arange(len(t), len(t) + 26) / 52)
    assert np.mean(np.abs(fit.combined()[0] - truth)) < 1.5


def test_daily_data_with_a_yearly_cycle_have_it_removed_before_their_weekly_model():
    # daily temperatures: a smooth yearly cycle under noise, and a small weekly pattern that ETS's states hold
    t = np.arange(4 * 365 + 20)
    rng = np.random.default_rng(11)
    truth = 20.0 + 8.0 * np.sin(2 * np.pi * t / 365) + 0.5 * np.sin(2 * np.pi * t / 7)
    y = truth[:-14] + rng.normal(0.0, 1.5, len(t) - 14)
    fit = fit_ets([y], horizon=14, season_length=7)
    assert fit.models.season_indices.shape == (1, DAYS_PER_YEAR) and fit.models.season_indices.std() > 0.1
    assert np.mean(np.abs(fit.combined()[0] - truth[-14:])) < 1.5
    restored = EtsModels.from_config(json.loads(json.dumps(fit.models.get_config())))
    later = y[-30:]  # continued over 30 more values at the right phase of the year, after a load too
    np.testing.assert_allclose(
        restored.forecast(np.array([0]), [later], 14), fit.models.forecast(np.array([0]), [later], 14)
    )
    short = fit_ets([y[:600]], horizon=14, season_length=7)  # under three years: no yearly season, as before
    assert short.models.season_indices is None


def test_counts_that_fall_to_zero_keep_a_season_longer_than_the_states_allow():
    # hourly-like counts with a cycle of 30 steps that are zero for a third of it: no multiplicative indices
    m, t = 30, np.arange(8 * 30 + 30)
    truth = np.maximum(0.0, 6.0 + 10.0 * np.sin(2 * np.pi * t / m))
    y = truth[:-30] + np.random.default_rng(3).normal(0.0, 0.2, len(t) - 30) * (truth[:-30] > 0)
    fit = fit_ets([y], horizon=30, season_length=m)
    assert np.all(fit.models.season_indices == 1.0) and fit.models.season_offsets[0].std() > 3.0
    forecast = fit.combined()[0]
    assert np.mean(np.abs(forecast - truth[-30:])) < 0.2 * np.mean(np.abs(truth[-30:] - truth[-30:].mean()))


def test_rolling_origins_continue_the_fit_at_each_series_first_origin():
    series = _seasonal_series(2, 60, seed=12)
    y = np.concatenate(series)
    first_rows = np.array([0, 0, 0, 60, 60])
    origin_rows = np.array([47, 50, 59, 60 + 44, 60 + 49])
    rolling = ets_rolling_forecasts(y, origin_rows, first_rows, 4, 12)
    np.testing.assert_array_equal(rolling.end_rows, [47, 104])
    earliest = [0, 3]
    np.testing.assert_array_equal(
        rolling.forecasts.ets[earliest], ets_point_forecasts(y, origin_rows[earliest], first_rows[earliest], 4, 12).ets
    )
    later = rolling.models.forecast(np.array([0, 0, 1]), [y[48:51], y[48:60], y[105:110]], 4)
    np.testing.assert_array_equal(rolling.forecasts.ets[[1, 2, 4]], later)
    assert rolling.forecasts.theta is None  # seasonal: no Theta
    # served from stored models: an origin before the fit's end, or without a model, is fitted anew
    served = ets_continued_forecasts(
        rolling.models,
        np.array([0, -1, 1]),
        np.array([47, -1, 104]),
        y,
        np.array([40, 55, 109]),
        np.array([0, 0, 60]),
        4,
    ).ets
    np.testing.assert_array_equal(served[:2], ets_point_forecasts(y, np.array([40, 55]), np.array([0, 0]), 4, 12).ets)
    np.testing.assert_array_equal(served[2], later[2])
