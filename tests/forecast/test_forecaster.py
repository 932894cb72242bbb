"""Forecaster: fit/predict, quantiles, recursion, backtest, save/load, clone, covariates, errors."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from forecast.forecaster import Forecaster

TINY = dict(units=4, epochs=1, batch_size=16, verbose=0, tracking=False)


def seasonal_frame(n_series=3, length=40, freq="MS", start="2020-01-01"):
    rng = np.random.default_rng(0)
    step = np.arange(length)
    frames = []
    for number in range(n_series):
        y = 10.0 + number + np.sin(2 * np.pi * step / 12) + 0.1 * rng.normal(size=length)
        ds = step + 5 if freq == 1 else pd.date_range(start, periods=length, freq=freq)
        frames.append(pd.DataFrame({"unique_id": f"s{number}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def monthly():
    return seasonal_frame()


@pytest.fixture(scope="module")
def fitted(monthly):
    # calibration=None: these tests check the network's own quantiles (test_calibration checks the conformal ones).
    return Forecaster(
        lookback=8, horizon=4, quantiles=[0.9, 0.5, 0.1], calibration=None, combine_with=None, **TINY
    ).fit(monthly)


@pytest.mark.parametrize(
    "freq, expected_after_last",
    [
        ("MS", lambda last: pd.date_range(last + pd.offsets.MonthBegin(), periods=3, freq="MS")),
        ("D", lambda last: pd.date_range(last + pd.Timedelta(days=1), periods=3, freq="D")),
        ("h", lambda last: pd.date_range(last + pd.Timedelta(hours=1), periods=3, freq="h")),
        (1, lambda last: np.arange(last + 1, last + 4)),
    ],
)
def test_predict_gives_horizon_rows_per_series_at_the_real_future_timestamps(freq, expected_after_last):
    df = seasonal_frame(n_series=2, length=30, freq=freq)
    forecasts = Forecaster(lookback=6, horizon=3, **TINY).fit(df).predict()
    assert list(forecasts.columns) == ["unique_id", "ds", "y_hat"]
    assert len(forecasts) == 2 * 3
    for series_id, part in forecasts.groupby("unique_id"):
        last = df.loc[df["unique_id"] == series_id, "ds"].max()
        np.testing.assert_array_equal(np.asarray(part["ds"]), np.asarray(expected_after_last(last)))
    assert np.isfinite(forecasts["y_hat"]).all()


def test_quantile_columns_are_ordered_and_the_point_forecast_is_the_median(fitted):
    forecasts = fitted.predict()
    assert list(forecasts.columns) == ["unique_id", "ds", "y_hat", "y_hat_q10", "y_hat_q50", "y_hat_q90"]
    assert (forecasts["y_hat_q10"] <= forecasts["y_hat_q50"]).all()
    assert (forecasts["y_hat_q50"] <= forecasts["y_hat_q90"]).all()
    np.testing.assert_array_equal(forecasts["y_hat"], forecasts["y_hat_q50"])


def test_predict_inverts_the_scaling_of_the_raw_network_output(fitted, monthly):
    windows = fitted.pipeline_.predict_windows(monthly)
    raw = np.asarray(fitted.model_(windows.as_inputs()))
    median = raw[:, :, fitted.output_quantiles_.index(0.5)]
    expected = (median * windows.scale[:, None] + windows.offset[:, None]) * windows.seasonal_factors
    np.testing.assert_allclose(fitted.predict()["y_hat"].to_numpy().reshape(3, 4), expected, rtol=1e-5)


def test_recursive_strategy_feeds_each_step_back_into_the_window(monthly):
    model = Forecaster(
        lookback=8, horizon=4, strategy="recursive", loss="mae", combine_with=None, nonnegative=False, **TINY
    ).fit(monthly)
    assert model.model_.output.shape[1] == 1
    windows = model.pipeline_.predict_windows(monthly)
    past = windows.as_inputs()["past"].copy()
    expected = []
    for _ in range(4):
        step = np.asarray(model.model_({"past": past}))[:, 0]
        expected.append(step)
        observed = np.ones_like(step)  # the fed-back step is a real (not padded) row
        past = np.concatenate([past[:, 1:], np.stack([step, observed], axis=-1)[:, None, :]], axis=1)
    expected = np.stack(expected, axis=1) * windows.scale[:, None] + windows.offset[:, None]
    expected *= windows.seasonal_factors
    np.testing.assert_allclose(model.predict()["y_hat"].to_numpy().reshape(3, 4), expected, rtol=1e-5)


def test_same_seed_gives_the_same_model_and_verbose_only_changes_the_output(monthly, capsys):
    settings = dict(lookback=8, horizon=4, seed=7, combine_with="ets", **TINY)  # "ets": the network is trained
    first = Forecaster(**{**settings, "verbose": 1}).fit(monthly).predict()
    assert "loss:" in capsys.readouterr().out
    second = Forecaster(**settings).fit(monthly).predict()
    assert capsys.readouterr().out == ""
    pd.testing.assert_frame_equal(first, second)


def test_fit_returns_self_with_fitted_attributes_and_history(fitted):
    assert fitted.epochs_trained_ == 1
    assert set(fitted.history_) == {"loss", "val_loss", "learning_rate"}  # the rate ReduceLROnPlateau set
    assert list(fitted.series_ids_) == ["s0", "s1", "s2"]
    assert fitted.run_id_ is None and fitted.model_uri_ is None


def test_clone_and_set_params_follow_scikit_learn(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_")
    copy.set_params(cell="gru", units=6)
    assert (copy.cell, copy.units) == ("gru", 6)
    assert fitted.cell == "lstm"


def test_save_and_load_predict_identically(fitted, monthly, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = Forecaster.load(tmp_path / "model")
    assert loaded.get_params() == {**fitted.get_params(), "quantiles": (0.9, 0.5, 0.1)}
    pd.testing.assert_frame_equal(loaded.predict(monthly), fitted.predict(monthly))
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())


def test_a_fitted_forecaster_pickles_after_predicting_and_predicts_identically(fitted, monthly):
    expected = fitted.predict(monthly)  # builds the compiled predictor, which is not pickled
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(fitted)).predict(monthly), expected)


def test_backtest_cutoffs_and_forecasts_match_predictions_from_the_truncated_history(fitted, monthly):
    calls = []
    original = fitted._call_network
    fitted._call_network = lambda inputs: calls.append(len(inputs["past"])) or original(inputs)
    try:
        result = fitted.backtest(monthly, n_windows=3, step=2)
    finally:
        del fitted._call_network
    assert calls == [9]  # three series times three origins in one batched call
    dates = np.sort(monthly["ds"].unique())
    # cutoff_k = ds[n - horizon - (n_windows - 1 - k) * step - 1] with n = 40, horizon = 4, step = 2
    expected_cutoffs = [dates[40 - 4 - (2 - k) * 2 - 1] for k in range(3)]
    forecasts = result.forecasts
    assert sorted(forecasts["cutoff"].unique()) == expected_cutoffs
    assert len(forecasts) == 3 * 3 * 4
    actual = forecasts.merge(monthly, on=["unique_id", "ds"], suffixes=("", "_actual"))
    np.testing.assert_array_equal(actual["y"], actual["y_actual"])
    for cutoff in expected_cutoffs:
        history = monthly[monthly["ds"] <= cutoff]
        direct = fitted.predict(history)
        from_backtest = forecasts[forecasts["cutoff"] == cutoff].reset_index(drop=True)
        np.testing.assert_allclose(from_backtest["y_hat"], direct["y_hat"], rtol=1e-5)
        np.testing.assert_array_equal(from_backtest["ds"], direct["ds"])
    overall = result.metrics[result.metrics["unique_id"] == "overall"].iloc[0]
    assert overall["mae"] == pytest.approx(np.mean(np.abs(forecasts["y"] - forecasts["y_hat"])), rel=1e-6)


def test_backtest_without_a_fitted_model_fits_on_the_history_before_the_first_origin(monthly):
    model = Forecaster(lookback=8, horizon=4, **TINY)
    result = model.backtest(monthly, n_windows=2)
    assert result.forecasts["cutoff"].nunique() == 2
    assert len(result.forecasts) == 3 * 2 * 4
    assert not hasattr(model, "model_")  # the estimator itself stays unfitted


def _covariate_frame(length=100, n_series=3):
    rng = np.random.default_rng(3)
    frames = []
    for number in range(n_series):
        driver = rng.normal(size=length)
        frames.append(
            pd.DataFrame({"unique_id": f"c{number}", "ds": np.arange(length), "x": driver, "y": 2.0 * driver})
        )
    return pd.concat(frames, ignore_index=True)


def test_a_future_covariate_is_used_when_the_series_depends_only_on_it():
    df = _covariate_frame()
    train = df[df["ds"] < 90]
    future = df[df["ds"] >= 90].drop(columns="y")
    settings = dict(
        lookback=4,
        horizon=2,
        units=8,
        epochs=20,
        batch_size=32,
        learning_rate=0.01,
        verbose=0,
        tracking=False,
        scaler=None,
        combine_with=None,  # ETS cannot see x: this test is about the network
    )

    def error(model):
        forecasts = model.fit(train).predict(future_df=future)
        merged = forecasts.merge(df, on=["unique_id", "ds"])
        return np.mean(np.abs(merged["y"] - merged["y_hat"]))

    with_covariate = error(Forecaster(future_covariates=["x"], **settings))
    without_covariate = error(Forecaster(**settings))
    # Without x the best forecast is 0 (error E|2x| ~ 1.6); with x it is 2x.
    assert with_covariate < 0.5 * without_covariate


def test_a_nan_loss_stops_training_with_an_error(monthly):
    model = Forecaster(
        lookback=8, horizon=4, learning_rate=1e30, clipnorm=None, combine_with=None, **{**TINY, "epochs": 3}
    )
    with pytest.raises(FloatingPointError, match="loss became (nan|inf)"):
        model.fit(monthly)
    assert not hasattr(model, "model_")


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(cell="transformer"), "cell must be one of"),
        (dict(quantiles=[0.1, 1.5]), "quantiles must be"),
        (dict(quantiles=pd.Series([0.1, 0.9])), r"or None; got a Series of \[0.1, 0.9\]\.$"),
        (dict(quantiles=[0.1, 0.9, 0.1 + 1e-14]), r"quantiles must not repeat a level \(to 10 decimals of a percent\)"),
        (dict(freq="XYZ"), r"freq must be a pandas offset alias .*; got 'XYZ'"),
        (dict(strategy="sideways"), "strategy must be one of"),
        (dict(strategy="recursive", past_covariates=["x"]), "past_covariates"),
        (dict(units=0), "units must be a positive integer"),
        (dict(lookback=10**20), r"lookback must be a positive integer up to 100,000; got 100000000000000000000\."),
        (dict(learning_rate=float("inf")), r"learning_rate must be a positive number; got inf\."),
        (dict(refit_on_all_windows="yes"), "refit_on_all_windows must be one of"),
        (dict(past_covariates=["missing_column"]), r"missing column\(s\) \['missing_column'\]"),
        (dict(lookback=40, min_past=40), "Series 's0' has 40 rows; expected at least 44"),
    ],
)
def test_bad_settings_and_inputs_in_fit_raise_clear_errors(monthly, settings, message):
    with pytest.raises(ValueError, match=message):
        Forecaster(**{**dict(lookback=8, horizon=4), **TINY, **settings}).fit(monthly)


@pytest.mark.parametrize(
    "settings",
    [dict(combine_with=None), dict(combine_with="ets"), dict(combine_with="ets", quantiles=(0.1, 0.9))],
    ids=["network", "blend", "blend-interval"],
)
def test_a_series_fit_did_not_see_is_forecast_as_if_fit_had_seen_it(settings, tmp_path):
    # A global model forecasts a new series from its history: the network reads it, its seasonal indices and
    # interval scale come from that history, and ETS is fitted to it, which is what fit did for a seen series.
    frame = seasonal_frame(n_series=4, length=60)
    model = Forecaster(lookback=12, horizon=6, seed=0, **{**TINY, **settings}).fit(frame)
    assert "s0" in model.pipeline_.seasonal_adjustment_.indices  # the deseasonalizing path is exercised
    twin = frame[frame["unique_id"] == "s0"].assign(unique_id="twin")
    both = model.predict(pd.concat([frame, twin], ignore_index=True))
    seen = both[both["unique_id"] == "s0"].drop(columns="unique_id").reset_index(drop=True)
    new = both[both["unique_id"] == "twin"].drop(columns="unique_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(new, seen)
    assert list(model.series_ids_) == ["s0", "s1", "s2", "s3"]  # predict learns nothing
    model.save(tmp_path / "model")
    loaded = Forecaster.load(tmp_path / "model").predict(pd.concat([frame, twin], ignore_index=True))
    pd.testing.assert_frame_equal(loaded, both, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("combine_with", [None, "ets"], ids=["network", "blend"])
def test_a_fitted_model_backtests_a_series_it_never_saw_from_its_history_up_to_each_origin(combine_with):
    # What the model learns of a new series (seasonal indices, interval scale, ETS) comes from its history up to
    # each origin: every window's forecast is the forecast predict makes from that history, so the values it is
    # scored on never reach it.
    frame = seasonal_frame(n_series=4, length=60)
    settings = dict(lookback=12, horizon=6, seed=0, combine_with=combine_with, quantiles=(0.1, 0.9))
    model = Forecaster(**settings, **TINY).fit(frame)
    new = frame[frame["unique_id"] == "s1"].assign(unique_id="new", y=lambda d: 3.0 * d["y"])
    with pytest.warns(UserWarning, match="inside the data this model was fitted on"):
        result = model.backtest(pd.concat([frame, new], ignore_index=True), n_windows=3, step=4)
    scored = result.forecasts[result.forecasts["unique_id"] == "new"]
    assert scored["cutoff"].nunique() == 3
    for cutoff, part in scored.groupby("cutoff"):
        expected = model.predict(new[new["ds"] <= cutoff])
        columns = ["ds", "y_hat", "y_hat_q10", "y_hat_q90"]
        pd.testing.assert_frame_equal(part[columns].reset_index(drop=True), expected[columns], rtol=1e-6)
    assert "new" in set(result.metrics["unique_id"])


def test_a_fitted_model_backtests_a_new_series_with_its_future_covariates():
    df = _covariate_frame(length=40, n_series=3)
    model = Forecaster(lookback=6, horizon=4, future_covariates=["x"], combine_with=None, seed=0, **TINY)
    model.fit(df[df["unique_id"] != "c2"])
    new = df[df["unique_id"] == "c2"]
    result = model.backtest(new, n_windows=2)
    for cutoff, part in result.forecasts.groupby("cutoff"):
        future = new[(new["ds"] > cutoff)].head(4)
        expected = model.predict(new[new["ds"] <= cutoff], future_df=future[["unique_id", "ds", "x"]])
        np.testing.assert_allclose(part["y_hat"], expected["y_hat"], rtol=1e-6)


def test_a_setting_changed_after_fit_stops_predict_save_and_backtest_until_set_back(fitted, monthly, tmp_path):
    before = fitted.predict()
    fitted.set_params(horizon=2, quantiles=(0.2, 0.8))
    message = r"fitted with horizon=4, quantiles=\[0.9, 0.5, 0.1\], set since to horizon=2, quantiles=\(0.2, 0.8\)"
    for act in (fitted.predict, lambda: fitted.save(tmp_path / "m"), lambda: fitted.backtest(monthly)):
        with pytest.raises(ValueError, match=message):
            act()
    assert not (tmp_path / "m").exists()
    assert len(fitted.backtest(monthly, refit=True).forecasts) == 3 * 2  # a refit fits with the new settings
    fitted.set_params(horizon=4, quantiles=[0.9, 0.5, 0.1], epochs=7, tracking=False)  # training-only: allowed
    pd.testing.assert_frame_equal(fitted.predict(), before)
    fitted.set_params(epochs=TINY["epochs"])
    fitted.save(tmp_path / "m")
    loaded = Forecaster.load(tmp_path / "m").set_params(units=8)
    with pytest.raises(ValueError, match=r"fitted with units=4, set since to units=8"):
        loaded.predict()


def test_a_series_of_zeros_gets_zero_from_the_network_not_its_bias(monthly):
    # window_mean scaling: the forecast is scale * f(past / scale), and a past of zeros has scale 0
    zeros = monthly.assign(y=monthly["y"].where(monthly["unique_id"] != "s2", 0.0))
    model = Forecaster(lookback=8, horizon=4, combine_with=None, nonnegative=False, seed=0, **TINY).fit(zeros)
    forecasts = model.predict()
    assert (forecasts.loc[forecasts["unique_id"] == "s2", "y_hat"] == 0.0).all()
    assert (forecasts.loc[forecasts["unique_id"] != "s2", "y_hat"] != 0.0).all()  # not clipped: nonnegative off


def test_a_zoned_model_forecasts_from_text_stamps_with_their_offsets_as_from_its_own_zone():
    # hourly data in Berlin time written to a CSV file: offsets +01:00 and +02:00, read back as UTC instants
    hours = pd.date_range("2024-03-29", periods=96, freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame({"unique_id": "a", "ds": hours, "y": 10.0 + np.sin(np.arange(96) * 2 * np.pi / 24)})
    model = Forecaster(lookback=24, horizon=6, combine_with=None, seed=0, **TINY).fit(frame)
    as_text = frame.assign(ds=[stamp.isoformat() for stamp in hours])
    pd.testing.assert_frame_equal(model.predict(as_text), model.predict(frame))
    assert str(model.predict(as_text)["ds"].dt.tz) == "Europe/Berlin"


def test_a_zoned_model_reads_future_covariates_given_in_another_zone_as_the_same_instants():
    hours = pd.date_range("2024-03-29", periods=72, freq="h", tz="Europe/Berlin")
    steps = np.arange(72)
    frame = pd.DataFrame({"unique_id": "a", "ds": hours, "y": 10.0 + np.sin(steps / 4), "x": np.cos(steps / 5)})
    model = Forecaster(lookback=24, horizon=6, future_covariates=["x"], combine_with=None, seed=0, **TINY).fit(frame)
    future_hours = pd.date_range(hours[-1] + pd.Timedelta("1h"), periods=6, freq="h")
    future = pd.DataFrame({"unique_id": "a", "ds": future_hours, "x": np.linspace(-1.0, 1.0, 6)})
    in_berlin = model.predict(future_df=future)
    in_utc = model.predict(
        frame.assign(ds=hours.tz_convert("UTC")), future_df=future.assign(ds=future_hours.tz_convert("UTC"))
    )
    pd.testing.assert_frame_equal(in_utc, in_berlin)
    shifted = future.assign(x=future["x"].shift(-1, fill_value=5.0))  # the values one hour off: another forecast
    assert not np.allclose(model.predict(future_df=shifted)["y_hat"], in_berlin["y_hat"])


def test_future_covariates_take_integer_ids_and_name_a_time_zone_that_fit_did_not_see():
    df = _covariate_frame(length=30, n_series=2)
    df = df.assign(
        unique_id=df["unique_id"].str[1:].astype(int), ds=np.tile(pd.date_range("2021-01-01", periods=30), 2)
    )
    model = Forecaster(lookback=6, horizon=4, future_covariates=["x"], combine_with=None, **TINY).fit(df)
    future = pd.DataFrame(
        {"unique_id": np.repeat([0, 1], 4), "ds": np.tile(pd.date_range("2021-01-31", periods=4), 2), "x": 1.0}
    )
    as_text = model.predict(future_df=future.assign(unique_id=future["unique_id"].astype(str)))
    pd.testing.assert_frame_equal(model.predict(future_df=future), as_text)
    zoned = future.assign(ds=future["ds"].dt.tz_localize("UTC"))
    message = (
        r"future_df: Column 'ds' holds datetime times \(time zone UTC\); fit saw datetime times \(time zone None\)"
    )
    with pytest.raises(ValueError, match=message):
        model.predict(future_df=zoned)
    empty = future.iloc[:0].astype({"ds": object})  # as read from an empty file: no rows to parse a kind of time from
    with pytest.raises(ValueError, match=r"future_df has no \(finite\) future covariates \['x'\] for series '0'"):
        model.predict(future_df=empty)


def test_predict_pads_a_history_shorter_than_lookback_as_fit_does_and_rejects_missing_columns(monthly):
    # lookback 50 > the 40 rows of every series: predict(df) pads them as predict() does with the training frame
    padded = Forecaster(lookback=50, horizon=4, combine_with=None, seed=0, **TINY).fit(monthly)
    pd.testing.assert_frame_equal(padded.predict(monthly), padded.predict())
    strict = Forecaster(lookback=8, horizon=4, min_past=None, combine_with=None, **TINY).fit(monthly)
    message = r"Series 's0' has 5 rows; expected at least 8 = lookback 8 rows of history before a forecast origin"
    with pytest.raises(ValueError, match=message):
        strict.predict(monthly.groupby("unique_id").head(5))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['y'\]"):
        strict.predict(monthly.drop(columns="y"))


def test_past_and_static_covariates_enter_the_network():
    df = seasonal_frame(n_series=2, length=30)
    df["price"] = np.arange(len(df), dtype=float)
    df["size"] = np.where(df["unique_id"] == "s0", 1.0, 3.0)
    model = Forecaster(
        lookback=6, horizon=3, past_covariates=["price"], static_covariates=["size"], combine_with="ets", **TINY
    ).fit(df)
    # past: y, the "observed" flag of left padding, price
    assert model.model_.input["past"].shape[-1] == 3 and model.model_.input["static"].shape[-1] == 1
    windows = model.pipeline_.predict_windows(df)
    inputs = windows.as_inputs()
    changed = {**inputs, "static": inputs["static"] + 5.0}
    assert not np.allclose(model.model_(inputs), model.model_(changed))
    assert len(model.predict(df)) == 2 * 3


def test_a_single_series_with_a_datetime_index_is_accepted(fitted, monthly):
    history = monthly[monthly["unique_id"] == "s1"]
    series = pd.Series(history["y"].to_numpy(), index=pd.DatetimeIndex(history["ds"]), name="s1")
    pd.testing.assert_frame_equal(fitted.predict(series), fitted.predict(history))


def test_predict_asks_for_future_covariates_it_needs():
    df = _covariate_frame(length=40, n_series=2)
    model = Forecaster(lookback=6, horizon=4, future_covariates=["x"], **TINY).fit(df)
    future = pd.DataFrame({"unique_id": np.repeat(["c0", "c1"], 4), "ds": np.tile(np.arange(40, 44), 2), "x": 1.0})
    assert len(model.predict(future_df=future)) == 2 * 4
    with pytest.raises(ValueError, match="future_df is required"):
        model.predict()
    unobserved = future.assign(y=np.nan)  # NeuralForecast-style rows after the history: not read as future values
    with pytest.raises(ValueError, match=r"future_df is required: .*dropped, not read as those values"):
        model.predict(pd.concat([df, unobserved], ignore_index=True))
    short_future = pd.DataFrame({"unique_id": ["c0", "c1"], "ds": [40, 40], "x": [0.0, 0.0]})
    with pytest.raises(ValueError, match=r"future_df: missing column\(s\) \['x'\]"):
        model.predict(future_df=short_future.drop(columns="x"))
    with pytest.raises(ValueError, match="future_df has no"):
        model.predict(future_df=short_future)


def test_backtest_rejects_series_too_short_for_the_windows(fitted, monthly):
    with pytest.raises(ValueError, match="needs at least"):
        fitted.backtest(monthly, n_windows=20, step=4)


@pytest.mark.parametrize(
    "length, n_windows, left_out",
    [
        # the fit up to the origin keeps 4 rows of 'short', fewer than min_past + horizon: it is dropped there
        (8, 1, r"the backtest leaves out 1 series that the fit dropped .*: 'short'"),
        # three windows of 4 steps need 4 + 2 * 4 + 1 = 13 values; 'short' has 10
        (10, 3, r"leaves out 1 series shorter than the 13 values .*: 'short'"),
    ],
)
def test_with_short_series_drop_a_backtest_leaves_out_a_series_too_short(monthly, length, n_windows, left_out):
    short = monthly[monthly["unique_id"] == "s0"].head(length).assign(unique_id="short")
    frame = pd.concat([monthly, short], ignore_index=True)
    settings = dict(lookback=8, horizon=4, combine_with=None, seed=0, **TINY)
    with pytest.warns(UserWarning, match=left_out):
        result = Forecaster(**settings, short_series="drop").backtest(frame, n_windows=n_windows)
    assert set(result.forecasts["unique_id"]) == {"s0", "s1", "s2"}
    assert "short" not in set(result.metrics["unique_id"])
    if n_windows > 1:  # without the setting, a series too short for the windows is an error
        with pytest.raises(ValueError, match=f"series 'short' has {length} observations; .* needs at least 13"):
            Forecaster(**settings).backtest(frame, n_windows=n_windows)


def test_settings_given_by_position_are_refused_naming_the_forecaster():
    with pytest.raises(TypeError, match=r"^Forecaster takes its settings by name, e.g. Forecaster\(lookback=\.\.\., "):
        Forecaster(36, 18)
    assert list(inspect.signature(Forecaster).parameters)[:2] == ["lookback", "horizon"]  # what get_params reads


def test_gaps_in_the_history_of_a_model_fitted_without_a_fill_policy_say_so(fitted, monthly):
    gapped = monthly.drop(index=monthly.index[(monthly["unique_id"] == "s0").to_numpy()][5])
    with pytest.raises(ValueError, match=r"fill them: this model was fitted without a fill policy \(one fitted with "):
        fitted.predict(gapped)


def test_a_zoned_daily_model_reads_its_days_written_as_text_across_daylight_saving():
    days = pd.date_range("2024-02-01", periods=70, freq="D", tz="Europe/Berlin")  # 31 March changes the offset
    zoned = pd.concat(
        [pd.DataFrame({"unique_id": key, "ds": days, "y": 10.0 + k + np.arange(70) % 7}) for k, key in enumerate("ab")]
    )
    model = Forecaster(lookback=14, horizon=3, **TINY).fit(zoned)
    as_text = zoned.assign(ds=zoned["ds"].astype(str))  # '2024-03-30 00:00:00+01:00', '2024-03-31 00:00:00+02:00'
    pd.testing.assert_frame_equal(model.predict(as_text), model.predict(zoned))


STATISTICAL_ONLY = """
import sys, tempfile
import numpy as np, pandas as pd
from forecast import Forecaster
df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2010-01-01", periods=60, freq="MS"), "y": np.arange(60.0)})
model = Forecaster(lookback=24, horizon=12, verbose=0).fit(df)  # tracked, as by default
assert model.model_ is None and model.run_id_ is not None
loaded = Forecaster.load(model.save(tempfile.mkdtemp() + "/model"))
loaded.predict(); loaded.backtest(df, n_windows=2)
print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
"""


def test_a_fit_that_trains_no_network_and_its_saved_model_never_load_tensorflow(mlflow_tracking_uri, tmp_path):
    # TensorFlow takes 4-5 s to import: a single short series, tracked or not, trains no network and needs none.
    ran = subprocess.run(
        [sys.executable, "-c", STATISTICAL_ONLY], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip().splitlines()[-1] == "[]"


LOAD_AND_PREDICT = """
import sys
import pandas as pd
from forecast.forecaster import Forecaster
assert "tensorflow" not in sys.modules
model = Forecaster.load(sys.argv[1])
model.predict().to_csv(sys.argv[2], index=False)
"""


def test_a_saved_network_loads_and_forecasts_in_a_fresh_process_as_here(fitted, tmp_path):
    # The network names the layers' classes: loading it where nothing imported them yet (a new process, a Spark
    # executor) must import them first.
    path = fitted.save(tmp_path / "model")
    ran = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, str(path), str(tmp_path / "forecasts.csv")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    there = pd.read_csv(tmp_path / "forecasts.csv")
    np.testing.assert_allclose(there["y_hat"], fitted.predict()["y_hat"], rtol=1e-5)
