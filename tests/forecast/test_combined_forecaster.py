"""The default forecast's evidence-based combination end to end, with real (tiny) training: ETS alone where it is
exact, the network where only it can see the driver, ETS alone on too little evidence, the choice kept by save,
load and the pyfunc model, non-negative forecasts, and the sane-band fallback.

Every expected value comes from the construction of the data (exact lines, a series driven only by a future-known
covariate, a network whose output layer is set by hand) or from an independent forecaster
(`forecast.baselines.ExponentialSmoothing`), not from the Forecaster's own code paths.
"""

from __future__ import annotations

import warnings

import mlflow
import numpy as np
import pandas as pd
import pytest

from forecast.baselines import ExponentialSmoothing
from forecast.combination import MIN_EVIDENCE_WINDOWS, WEIGHTS, Combination
from forecast.forecaster import Forecaster
from forecast.pyfunc import log_forecaster
from forecast.sanity import SANE_BAND
from forecast.theta import PRIOR_WEIGHT, blend_theta, fit_theta

QUICK = dict(units=4, verbose=0, tracking=False)
Y_HAT = "y_hat"


def line_panel(n_series: int = 50, length: int = 40) -> pd.DataFrame:
    """`n_series` exact straight lines with integer `ds`: levels 20, 25, .., slopes of both signs, no noise
    (with three validation origins each, 50 series hold the `MIN_EVIDENCE_WINDOWS` the network needs)."""
    t = np.arange(length)
    frames = [
        pd.DataFrame({"unique_id": f"l{k:02d}", "ds": t, "y": 20.0 + 5.0 * k + (-1) ** k * (0.15 + 0.05 * k) * t})
        for k in range(n_series)
    ]
    return pd.concat(frames, ignore_index=True)


def line_continuation(df: pd.DataFrame, horizon: int) -> np.ndarray:
    """`(n_series * horizon,)`: each line of `df` continued `horizon` steps, series in sorted order."""
    by_series = df.sort_values(["unique_id", "ds"]).groupby("unique_id")["y"]
    last = by_series.last().to_numpy()
    slope = (by_series.nth(1).to_numpy() - by_series.first().to_numpy())[:, None]
    return (last[:, None] + slope * np.arange(1, horizon + 1)).ravel()


def driven_panel(n_series: int = 50, length: int = 60) -> pd.DataFrame:
    """Series `y_t = 2 x_t` with `x` white noise known in advance: only a forecaster that reads `x` can follow."""
    rng = np.random.default_rng(3)
    frames = []
    for k in range(n_series):
        x = rng.normal(size=length)
        frames.append(pd.DataFrame({"unique_id": f"c{k:02d}", "ds": np.arange(length), "x": x, "y": 2.0 * x}))
    return pd.concat(frames, ignore_index=True)


def ets_alone(df: pd.DataFrame, horizon: int, season_length: int) -> pd.DataFrame:
    """The forecasts of the ExponentialSmoothing baseline (only `unique_id, ds, y` of `df`)."""
    baseline = ExponentialSmoothing(horizon=horizon, season_length=season_length)
    return baseline.fit(df[["unique_id", "ds", "y"]]).predict()


def statistical_alone(df: pd.DataFrame, horizon: int, theta_weight: float = PRIOR_WEIGHT) -> pd.DataFrame:
    """The statistical half alone for series without a season: the ExponentialSmoothing baseline's forecasts
    blended with the optimised Theta model's by `theta_weight` (the fit's `theta_weight_`)."""
    forecasts = ets_alone(df, horizon, 1)
    by_series = df.groupby("unique_id")["y"]
    histories = [by_series.get_group(key).to_numpy(np.float64) for key in forecasts["unique_id"].unique()]
    theta = fit_theta(histories).forecast(np.arange(len(histories)), [np.zeros(0)] * len(histories), horizon)
    forecasts[Y_HAT] = blend_theta(forecasts[Y_HAT].to_numpy(), theta.ravel(), theta_weight)
    return forecasts


def predict_with_weight(model: Forecaster, weight: float, **predict_args) -> pd.DataFrame:
    """`model.predict(...)` with the same weight on the network for every series (its own choice put back)."""
    chosen = model.combination_
    model.combination_ = Combination.fixed(weight, list(chosen.weights), rule=f"test: w={weight:g}")
    try:
        return model.predict(**predict_args)
    finally:
        model.combination_ = chosen


# ------------------------------------------------------------------ the choice on validation evidence


def test_exponential_smoothing_alone_is_chosen_where_it_is_exact():
    # ETS reproduces a straight line exactly (AICc-weighted models with an additive trend, checked in the last
    # assertion); a network trained for three epochs does not, so every series' evidence says w = 0.
    df = line_panel()
    model = Forecaster(lookback=6, horizon=4, epochs=3, season_length=1, **QUICK).fit(df)
    assert model.network_skipped_ is None and model.model_ is not None and model.epochs_trained_ > 0
    assert model.combination_.rule == "evidence"
    assert model.combination_.table["windows"].sum() == 50 * 3 >= MIN_EVIDENCE_WINDOWS
    assert model.combination_.weights == {f"l{k:02d}": 0.0 for k in range(50)}
    assert model.combination_.default_weight == 0.0
    forecasts = model.predict()
    np.testing.assert_allclose(forecasts[Y_HAT], line_continuation(df, 4), rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(forecasts, ets_alone(df, 4, 1), rtol=1e-10)


@pytest.fixture(scope="module")
def driven_fit():
    """A panel of 50 covariate-driven series, its last 2 steps held back: `(model, df, train, future)`."""
    df = driven_panel()
    train = df[df["ds"] < 58].reset_index(drop=True)
    future = df[df["ds"] >= 58].drop(columns="y").reset_index(drop=True)
    model = Forecaster(
        future_covariates=["x"],
        lookback=4,
        horizon=2,
        units=8,
        epochs=10,
        batch_size=32,
        learning_rate=0.01,
        scaler=None,
        seed=0,
        verbose=0,
        tracking=False,
    ).fit(train)
    return model, df, train, future


def test_the_network_is_chosen_where_only_it_can_follow_the_series(driven_fit):
    # ETS sees only the past of white noise: its best forecast is about 0, error E|2x| ~ 1.6. The network reads x.
    model, df, train, future = driven_fit
    assert model.network_skipped_ is None and model.combination_.rule == "evidence"
    table = model.combination_.table
    assert table["windows"].sum() == 50 * 3 >= MIN_EVIDENCE_WINDOWS
    assert (table["loss_network"] < table["loss_ets"]).all()
    weights = pd.Series(model.combination_.weights)
    assert len(weights) == 50 and (weights > 0).all()
    assert (weights == 1.0).sum() >= 40, weights.to_dict()
    assert model.combination_.default_weight > 0
    forecasts = model.predict(future_df=future).merge(df[["unique_id", "ds", "y"]], on=["unique_id", "ds"])
    ets = ets_alone(train, 2, model.pipeline_.season_length_).merge(df, on=["unique_id", "ds"])
    assert np.mean(np.abs(forecasts["y"] - forecasts[Y_HAT])) < np.mean(np.abs(ets["y"] - ets[Y_HAT]))


# ------------------------------------------------------------------ too little evidence


@pytest.mark.parametrize("lengths, windows", [({"a": 48}, 3), ({"a": 48, "b": 40}, 6)])
def test_too_little_evidence_trains_no_network_and_forecasts_with_exponential_smoothing(long_frame, lengths, windows):
    df = long_frame("2015-01-01", "MS", lengths, seed=1)
    model = Forecaster(lookback=6, horizon=4, epochs=2, **QUICK).fit(df)
    assert model.network_skipped_.startswith(f"too little evidence: {windows} validation windows")
    assert model.model_ is None
    assert model.history_ == {"loss": []} and model.epochs_trained_ == 0
    assert model.combination_.weights == dict.fromkeys(lengths, 0.0) and model.combination_.default_weight == 0.0
    assert model.pipeline_.season_length_ == 12  # monthly: the baseline takes the same period from the calendar
    # The forecaster continues the ETS models it fitted on the whole history over no new values; the baseline fits
    # the same models at the same origin: the same forecasts up to rounding.
    pd.testing.assert_frame_equal(model.predict(), ets_alone(df, 4, 12), rtol=1e-10)


def test_a_history_with_restated_values_gets_exponential_smoothing_fitted_anew_also_after_load(long_frame, tmp_path):
    df = long_frame("2015-01-01", "MS", {"a": 48, "b": 40}, seed=1)
    model = Forecaster(lookback=6, horizon=4, epochs=2, **QUICK).fit(df)
    restated = df.copy()
    last_of_a = restated.index[restated["unique_id"] == "a"][-1]
    restated.loc[last_of_a, "y"] += 50.0  # the last value of 'a', corrected after the fit
    expected = ets_alone(restated, 4, 12)
    a = expected["unique_id"] == "a"
    loaded = Forecaster.load(model.save(tmp_path / "model"))
    for fitted in (model, loaded):
        forecasts = fitted.predict(restated)
        pd.testing.assert_frame_equal(forecasts[a], expected[a], rtol=1e-10)
        pd.testing.assert_frame_equal(forecasts[~a], fitted.predict(df)[~a])  # 'b' continues its kept models
        assert not np.allclose(forecasts.loc[a, Y_HAT], fitted.predict(df).loc[a, Y_HAT], rtol=1e-3)


def test_too_little_evidence_with_quantiles_widens_the_statistical_forecast_by_its_own_held_out_errors(long_frame):
    df = long_frame("2015-01-01", "MS", {"a": 48, "b": 40}, seed=1)
    point = Forecaster(lookback=6, horizon=4, epochs=2, **QUICK).fit(df).predict()
    model = Forecaster(lookback=6, horizon=4, epochs=2, quantiles=[0.1, 0.9], **QUICK).fit(df)
    assert model.network_skipped_.startswith("too little evidence: 6 validation windows") and model.model_ is None
    forecasts = model.predict()
    pd.testing.assert_frame_equal(forecasts[["unique_id", "ds", Y_HAT]], point, rtol=1e-10)
    # No network quantiles to start from: every interval is the point forecast -+ Q_k s_i (forecast.calibration),
    # Q_k the pooled offset of step k in units of the series' MASE scale s_i, growing with the step.
    offsets = model.intervals_.offsets[0.1]
    assert (offsets > 0).all() and (np.diff(offsets) >= 0).all()
    half_width = np.tile(offsets, 2) * np.repeat(model.series_scale_.loc[["a", "b"]].to_numpy(), 4)
    np.testing.assert_allclose(forecasts["y_hat_q90"] - forecasts[Y_HAT], half_width, rtol=1e-9)
    np.testing.assert_allclose(forecasts[Y_HAT] - forecasts["y_hat_q10"], half_width, rtol=1e-9)


@pytest.mark.parametrize(
    "validation_windows, trained", [(MIN_EVIDENCE_WINDOWS - 1, False), (MIN_EVIDENCE_WINDOWS, True)]
)
def test_a_long_single_series_earns_the_network_with_more_validation_origins(long_frame, validation_windows, trained):
    # 200 values, lookback 6 left-padded from 1 observation: 198 windows; with horizon 2 the origins are 1 step
    # apart, so the series holds out exactly `validation_windows` of them.
    df = long_frame(0, 1, {"a": 200}, seed=2, season_length=4)
    model = Forecaster(lookback=6, horizon=2, epochs=2, validation_windows=validation_windows, **QUICK).fit(df)
    if trained:
        assert model.network_skipped_ is None
        assert model.model_ is not None and model.epochs_trained_ == len(model.history_["loss"]) > 0
        assert model.combination_.rule == "evidence"
        assert model.combination_.table["windows"].tolist() == [validation_windows]
    else:
        assert model.network_skipped_.startswith(f"too little evidence: {validation_windows} validation windows")
        assert model.model_ is None and model.epochs_trained_ == 0


def test_series_too_short_to_hold_anything_out_forecast_with_ets_alone_and_say_so_at_the_fit_call(long_frame):
    df = long_frame("2015-01-01", "MS", {"a": 7, "b": 8}, seed=1)
    with pytest.warns(UserWarning, match="no evidence for the network") as caught:
        model = Forecaster(lookback=6, horizon=4, epochs=2, **QUICK).fit(df)
    assert model.network_skipped_ == "no validation window" and model.model_ is None
    assert {record.filename for record in caught if "no evidence" in str(record.message)} == {__file__}


def test_declared_covariates_that_reach_no_forecast_are_warned_about_by_name():
    # One series driven by a future-known covariate: three validation windows are too little evidence, the
    # network is not trained, and ETS alone cannot read `x`; the user hears so at the fit call.
    df = driven_panel(n_series=1)
    with pytest.warns(UserWarning, match=r"no weight .*too little evidence.*does not read .*'x'") as caught:
        model = Forecaster(lookback=6, horizon=4, epochs=2, future_covariates=["x"], **QUICK).fit(df)
    assert model.model_ is None
    assert {record.filename for record in caught if "does not read" in str(record.message)} == {__file__}
    # With the network alone, or without covariates, nothing is left unread and nothing is said.
    for settings in (dict(future_covariates=["x"], combine_with=None), {}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Forecaster(lookback=6, horizon=4, epochs=2, **settings, **QUICK).fit(df)
        assert not [record for record in caught if "does not read" in str(record.message)]


# ------------------------------------------------------------------ save, load and the pyfunc model


def test_save_and_load_keep_the_chosen_weights_and_forecasts(driven_fit, tmp_path):
    model, _, _, future = driven_fit
    loaded = Forecaster.load(model.save(tmp_path / "fitted"))
    assert loaded.combination_.weights == model.combination_.weights
    assert loaded.combination_.default_weight == model.combination_.default_weight
    assert loaded.combination_.rule == model.combination_.rule
    pd.testing.assert_frame_equal(loaded.combination_.table, model.combination_.table)
    pd.testing.assert_frame_equal(loaded.predict(future_df=future), model.predict(future_df=future), check_exact=True)


@pytest.fixture
def mixed_choice(driven_fit, tmp_path):
    """The driven model loaded from disk with a different weight for every series (every weight of `WEIGHTS`),
    saved and loaded again: `(model, the Combination it was saved with, train, future)`."""
    model, _, train, future = driven_fit
    copy = Forecaster.load(model.save(tmp_path / "fitted"))
    ids = sorted(copy.combination_.weights)
    weights = [WEIGHTS[k % len(WEIGHTS)] for k in range(len(ids))]
    table = pd.DataFrame({"unique_id": pd.Series(ids, dtype=object), "weight": weights})
    copy.combination_ = Combination(weights=dict(zip(ids, weights)), default_weight=0.25, rule="evidence", table=table)
    return Forecaster.load(copy.save(tmp_path / "mixed")), copy.combination_, train, future


def test_a_per_series_choice_survives_save_and_load_and_blends_each_series_by_its_weight(mixed_choice):
    model, saved, train, future = mixed_choice
    assert model.combination_.weights == saved.weights and model.combination_.default_weight == 0.25
    pd.testing.assert_frame_equal(model.combination_.table, saved.table)
    # The whole history is given: the sane band of the network's forecasts is then the training history's range.
    forecasts = model.predict(train, future_df=future)
    network = predict_with_weight(model, 1.0, df=train, future_df=future)
    ets = ets_alone(train, 2, model.pipeline_.season_length_)
    w = forecasts["unique_id"].map(saved.weights).to_numpy()
    expected = w * network[Y_HAT].to_numpy() + (1 - w) * ets[Y_HAT].to_numpy()
    np.testing.assert_allclose(forecasts[Y_HAT], expected, rtol=1e-6, atol=1e-9)


def test_the_pyfunc_model_forecasts_a_per_series_choice_as_the_forecaster(mixed_choice, mlflow_tracking_uri):
    model, _, train, future = mixed_choice
    frame = pd.concat([train, future.assign(y=np.nan)], ignore_index=True)
    with mlflow.start_run():
        info = log_forecaster(model, input_example=frame)
    served = mlflow.pyfunc.load_model(info.model_uri).predict(frame).reset_index(drop=True)
    pd.testing.assert_frame_equal(served, model.predict(train, future), check_dtype=False)


# ------------------------------------------------------------------ non-negative forecasts


def falling_lines() -> pd.DataFrame:
    """Two exact lines of slope -1: `down` from 40 to 1 (never negative), `crosses` from 38 to -1."""
    t = np.arange(40)
    return pd.concat(
        [
            pd.DataFrame({"unique_id": "crosses", "ds": t, "y": 38.0 - t}),
            pd.DataFrame({"unique_id": "down", "ds": t, "y": 40.0 - t}),
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize(
    "nonnegative, down, crosses",
    [
        ("auto", [0, 0, 0, 0], [-2, -3, -4, -5]),  # only the never-negative history is kept at or above 0
        (False, [0, -1, -2, -3], [-2, -3, -4, -5]),  # the lines continued
        (True, [0, 0, 0, 0], [0, 0, 0, 0]),
    ],
)
def test_nonnegative_clips_the_forecasts_of_never_negative_series(nonnegative, down, crosses):
    # Two series are too little evidence for a network: ETS alone, which continues each line exactly.
    settings = dict(lookback=6, horizon=4, season_length=1, epochs=2, nonnegative=nonnegative)
    model = Forecaster(**settings, **QUICK).fit(falling_lines())
    assert model.model_ is None
    forecasts = model.predict().pivot(index="ds", columns="unique_id", values=Y_HAT)
    np.testing.assert_allclose(forecasts["down"], down, atol=1e-9)
    np.testing.assert_allclose(forecasts["crosses"], crosses, atol=1e-9)


def test_nonnegative_auto_remembers_a_series_that_was_negative_in_fit(tmp_path):
    # "dipped" is the falling line of `down` but for one negative value halfway: given only its last rows, whose
    # values are all positive, it is still a series that can be negative, and its forecast is not clipped.
    frame = falling_lines().replace({"unique_id": {"crosses": "dipped"}})
    dipped = (frame["unique_id"] == "dipped").to_numpy()
    frame.loc[dipped, "y"] = np.where(frame.loc[dipped, "ds"] == 20, -1.0, 40.0 - frame.loc[dipped, "ds"])
    model = Forecaster(lookback=6, horizon=4, season_length=1, epochs=2, **QUICK).fit(frame)
    assert model.series_low_.to_dict() == {"dipped": -1.0, "down": 1.0}
    tail = frame.groupby("unique_id").tail(6)
    for fitted in (model, Forecaster.load(model.save(tmp_path / "model"))):
        forecasts = fitted.predict(tail).pivot(index="ds", columns="unique_id", values=Y_HAT)
        assert forecasts["dipped"].min() < -1.0  # the line continued below 0
        assert forecasts["down"].min() >= 0.0


def test_categorical_series_ids_forecast_as_their_values_whatever_the_categories_order():
    frame = falling_lines()
    categorical = frame.assign(unique_id=pd.Categorical(frame["unique_id"], categories=["down", "crosses"]))
    settings = dict(lookback=6, horizon=4, season_length=1, epochs=2, **QUICK)
    plain = Forecaster(**settings).fit(frame)
    model = Forecaster(**settings).fit(categorical)
    assert list(model.series_ids_) == ["crosses", "down"]
    assert np.isfinite(model.series_scale_.to_numpy()).all() and np.isfinite(model.validation_mase_)
    pd.testing.assert_frame_equal(model.predict(categorical), plain.predict(frame), check_dtype=False)


@pytest.mark.slow
def test_nonnegative_auto_keeps_every_quantile_of_a_never_negative_series_at_or_above_zero():
    # On too little evidence no network is trained, with quantiles too: the median is ETS's (the lines continued)
    # and the interval its held-out errors. Two fits with the same seed differ only in `nonnegative`.
    settings = dict(lookback=6, horizon=4, season_length=1, quantiles=[0.1, 0.9], epochs=2, **QUICK)
    clipped = Forecaster(nonnegative="auto", **settings).fit(falling_lines()).predict()
    raw = Forecaster(nonnegative=False, **settings).fit(falling_lines()).predict()
    columns = [Y_HAT, "y_hat_q10", "y_hat_q90"]
    down = (raw["unique_id"] == "down").to_numpy()
    np.testing.assert_allclose(raw.loc[down, Y_HAT], [0, -1, -2, -3], atol=1e-9)
    assert (raw.loc[~down, columns].to_numpy() < 0).any()
    assert (clipped.loc[down, columns].to_numpy() >= 0).all()
    expected = raw.copy()
    expected.loc[down, columns] = raw.loc[down, columns].clip(lower=0.0)
    pd.testing.assert_frame_equal(clipped, expected)


# ------------------------------------------------------------------ the sane band


def forecast_constant_in_scaled_space(model: Forecaster, c: float) -> None:
    """Set the network's output layer to forecast `c` in the scaled space at every step (zero kernel, bias c)."""
    output_layer = model.model_.get_layer("step_outputs")
    kernel, bias = output_layer.get_weights()
    output_layer.set_weights([np.zeros_like(kernel), np.full_like(bias, c)])


@pytest.mark.filterwarnings("ignore:the network's forecast of series:UserWarning")  # the untrained network in fit
def test_a_network_forecast_outside_the_sane_band_falls_back_to_exponential_smoothing_for_that_series():
    # `flat*` vary by less than 2 around 100 and 110, `wide*` swing 90 around 100 with a period of 6 = lookback.
    rng = np.random.default_rng(7)
    t = np.arange(48)
    frames = []
    for k in range(2):
        frames.append(pd.DataFrame({"unique_id": f"flat{k}", "ds": t, "y": 100 + 10 * k + rng.normal(0, 0.3, 48)}))
        frames.append(pd.DataFrame({"unique_id": f"wide{k}", "ds": t, "y": 100 + 90 * np.sin(2 * np.pi * t / 6 + k)}))
    df = pd.concat(frames, ignore_index=True).sort_values(["unique_id", "ds"], ignore_index=True)
    model = Forecaster(
        lookback=6, horizon=4, epochs=2, season_length=1, combine_with="ets", nonnegative=False, **QUICK
    ).fit(df)
    assert model.model_ is not None and model.combination_.default_weight == 0.5
    # With the window_mean scaler the network now forecasts c times the mean |y| of the last `lookback` values
    # (500 for both kinds of series).
    c = 5.0
    forecast_constant_in_scaled_space(model, c)
    last = df.groupby("unique_id")["y"]
    network = c * last.apply(lambda y: y.tail(6).abs().mean())
    low, high = last.min(), last.max()
    spread = np.maximum(high - low, 0.01 * np.maximum(low.abs(), high.abs()))
    outside = (network < low - SANE_BAND * spread) | (network > high + SANE_BAND * spread)
    assert outside.to_dict() == {"flat0": True, "flat1": True, "wide0": False, "wide1": False}
    np.testing.assert_allclose(predict_with_weight(model, 1.0)[Y_HAT], np.repeat(network.to_numpy(), 4), rtol=1e-5)

    with pytest.warns(UserWarning, match="sane band") as caught:
        forecasts = model.predict()
    [message] = [str(w.message) for w in caught if "sane band" in str(w.message)]
    assert "'flat0', 'flat1'" in message and "wide" not in message
    ets = statistical_alone(df, 4, model.theta_weight_)
    pd.testing.assert_frame_equal(forecasts[["unique_id", "ds"]], ets[["unique_id", "ds"]])
    flat = forecasts["unique_id"].str.startswith("flat").to_numpy()
    np.testing.assert_allclose(forecasts.loc[flat, Y_HAT], ets.loc[flat, Y_HAT], rtol=1e-10)
    wide_network = np.repeat(network[["wide0", "wide1"]].to_numpy(), 4)
    np.testing.assert_allclose(
        forecasts.loc[~flat, Y_HAT], 0.5 * wide_network + 0.5 * ets.loc[~flat, Y_HAT].to_numpy(), rtol=1e-6
    )


@pytest.mark.filterwarnings("ignore:the network's forecast of series:UserWarning")  # the untrained network in fit
def test_the_sane_band_spans_the_history_fit_saw_also_for_a_loaded_model_given_no_history(tmp_path):
    # `calm*` swing 90 around 100 for 40 steps, then stay within 1 of 100: their last `lookback` rows, all that a
    # loaded model's predict() reads, span under 2; the history fit saw spans about 180.
    rng = np.random.default_rng(8)
    t = np.arange(48)
    frames = [
        pd.DataFrame(
            {
                "unique_id": f"calm{k}",
                "ds": t,
                "y": np.where(t < 40, 100 + 90 * np.sin(2 * np.pi * t / 6 + k), 100 + rng.uniform(-0.5, 0.5, 48)),
            }
        )
        for k in range(2)
    ]
    df = pd.concat(frames, ignore_index=True)
    model = Forecaster(
        lookback=6, horizon=4, epochs=2, season_length=1, combine_with="ets", nonnegative=False, **QUICK
    ).fit(df)
    forecast_constant_in_scaled_space(model, 5.0)  # the network forecasts 5 times the last 6 values' mean
    by_series = df.groupby("unique_id")["y"]
    network = 5.0 * by_series.apply(lambda y: y.tail(6).abs().mean())
    tail_low, tail_high = by_series.apply(lambda y: y.tail(6).min()), by_series.apply(lambda y: y.tail(6).max())
    tail_spread = np.maximum(tail_high - tail_low, 0.01 * tail_high.abs())
    assert (network > tail_high + SANE_BAND * tail_spread).all()  # outside the band of the last rows alone
    low, high = by_series.min(), by_series.max()
    assert (network < high + SANE_BAND * (high - low)).all()  # inside the band of the whole history
    loaded = Forecaster.load(model.save(tmp_path / "model"))
    assert loaded.series_high_.to_dict() == pytest.approx(high.to_dict())
    expected = (
        0.5 * np.repeat(network.to_numpy(), 4) + 0.5 * statistical_alone(df, 4, model.theta_weight_)[Y_HAT].to_numpy()
    )
    for fitted in (model, loaded):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            forecasts = fitted.predict()
        assert not [w for w in caught if "sane band" in str(w.message)]
        np.testing.assert_allclose(forecasts[Y_HAT], expected, rtol=1e-6)
