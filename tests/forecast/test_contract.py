"""The estimator contract every forecaster keeps (in the spirit of scikit-learn's `parametrize_with_checks`).

Each check runs on every forecaster of the package: constructor arguments stored unchanged,
`clone` and `get_params`/`set_params`, `fit` returning `self` and setting only
`_`-suffixed attributes, clear errors before `fit`, the `predict` and `backtest` schemas,
`save`/`load` and pickling giving identical forecasts.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from forecast.base import BaseForecaster, SavedModelError
from forecast.baselines import Drift, ExponentialSmoothing, Naive, SeasonalNaive, Theta
from forecast.forecaster import Forecaster
from forecast.loading import load_forecaster

HORIZON = 3
FORECASTERS = {
    "Forecaster": lambda: Forecaster(
        lookback=6, horizon=HORIZON, units=4, epochs=1, batch_size=16, verbose=0, tracking=False
    ),
    "Forecaster-quantiles": lambda: Forecaster(
        lookback=6, horizon=HORIZON, units=4, epochs=1, batch_size=16, quantiles=(0.1, 0.9), verbose=0, tracking=False
    ),
    "Forecaster-ensemble": lambda: Forecaster(
        lookback=6,
        horizon=HORIZON,
        units=4,
        epochs=1,
        batch_size=16,
        quantiles=(0.1, 0.9),
        ensemble_size=2,
        verbose=0,
        tracking=False,
    ),
    "Naive": lambda: Naive(horizon=HORIZON),
    "SeasonalNaive": lambda: SeasonalNaive(horizon=HORIZON, season_length=12),
    "Drift": lambda: Drift(horizon=HORIZON),
    "ExponentialSmoothing": lambda: ExponentialSmoothing(horizon=HORIZON, season_length=12),
    "Theta": lambda: Theta(horizon=HORIZON, season_length=12),
}
# The ensemble's contract runs in make test; the quick lane leaves it out (slow: two members in every fit).
names = pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.slow) if name.endswith("ensemble") else name for name in sorted(FORECASTERS)],
)


def monthly_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    months = pd.date_range("2019-01-01", periods=40, freq="MS")
    return pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b", "c"], 40),
            "ds": np.tile(months, 3),
            "y": np.concatenate(
                [10 * (k + 1) + np.sin(np.arange(40) * np.pi / 6) + rng.normal(0, 0.1, 40) for k in range(3)]
            ),
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return monthly_frame()


class FittedOnDemand(dict):
    """Each forecaster of `FORECASTERS` fitted on `frame` when a test first asks for it (once per module)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__()
        self.frame = frame

    def __missing__(self, name: str) -> BaseForecaster:
        self[name] = FORECASTERS[name]().fit(self.frame)
        return self[name]


@pytest.fixture(scope="module")
def fitted(frame) -> dict[str, BaseForecaster]:
    return FittedOnDemand(frame)


@names
def test_the_constructor_stores_its_arguments_unchanged_and_validates_nothing(name):
    estimator = FORECASTERS[name]()
    assert estimator.get_params() == {key: getattr(estimator, key) for key in estimator.get_params()}
    broken = type(estimator)(**{**estimator.get_params(), "horizon": 0})  # checked by fit, not by __init__
    assert broken.horizon == 0
    with pytest.raises(ValueError, match="horizon must be a positive integer up to 100,000; got 0"):
        broken.fit(monthly_frame())


@names
def test_clone_and_set_params_round_trip(name):
    estimator = FORECASTERS[name]()
    copy = clone(estimator)
    assert copy is not estimator and copy.get_params() == estimator.get_params()
    assert copy.set_params(**estimator.get_params()).get_params() == estimator.get_params()
    assert copy.set_params(horizon=5).horizon == 5 and estimator.horizon == HORIZON


@names
def test_fit_returns_self_and_sets_only_underscore_suffixed_public_attributes(name, frame):
    estimator = FORECASTERS[name]()
    before = set(vars(estimator))
    assert estimator.fit(frame) is estimator
    added = set(vars(estimator)) - before
    # scikit-learn's rule: public attributes set by fit end with "_" (private caches may start with "_").
    public = {attribute for attribute in added if not attribute.startswith("_")}
    assert public and all(attribute.endswith("_") for attribute in public), added
    assert not added & {"_tracker", "_validation"}  # no state handed between fit and logging
    assert estimator.__sklearn_is_fitted__()
    assert list(estimator.series_ids_) == ["a", "b", "c"]


@names
def test_series_that_start_late_or_end_early_are_forecast_after_their_own_last_value(name, frame):
    # As a wide table melted to long format gives them: "a" observed from its 5th month, "b" up to its 37th.
    series = frame["unique_id"]
    months = series.groupby(series).cumcount()
    ragged = frame.assign(y=frame["y"].where(~((series == "a") & (months < 4)) & ~((series == "b") & (months >= 37))))
    with pytest.warns(UserWarning, match=r"Dropped 3 rows after the last observed 'y' of 1 series \('b'\)"):
        forecasts = FORECASTERS[name]().fit(ragged).predict()
    first = forecasts.groupby("unique_id")["ds"].min()
    assert first.to_dict() == {
        "a": pd.Timestamp("2022-05-01"),
        "b": pd.Timestamp("2022-02-01"),
        "c": pd.Timestamp("2022-05-01"),
    }
    if name == "Naive":
        last_of_b = ragged.loc[(series == "b") & (months == 36), "y"].item()
        assert forecasts.loc[forecasts["unique_id"] == "b", "y_hat"].tolist() == [last_of_b] * HORIZON


@names
def test_a_fitted_clone_is_unfitted_and_a_failed_fit_leaves_nothing_behind(name, fitted, frame):
    assert not clone(fitted[name]).__sklearn_is_fitted__()
    estimator = FORECASTERS[name]().fit(frame)
    broken = frame.assign(y=frame["y"].where(frame.index != 5))
    with pytest.raises(ValueError, match="missing or infinite value"):
        estimator.fit(broken)
    assert not [attribute for attribute in vars(estimator) if attribute.endswith("_")]


@names
def test_unfitted_estimators_say_so(name, frame, tmp_path):
    estimator = FORECASTERS[name]()
    with pytest.raises(NotFittedError):
        estimator.predict(frame)
    with pytest.raises(NotFittedError):
        estimator.save(tmp_path / "model")


@names
def test_predict_schema_and_timestamps(name, fitted, frame):
    estimator = fitted[name]
    forecasts = estimator.predict()
    quantiles = [f"y_hat_q{round(100 * q)}" for q in sorted(getattr(estimator, "quantiles", None) or ())]
    assert list(forecasts.columns) == ["unique_id", "ds", "y_hat", *quantiles]
    assert len(forecasts) == 3 * HORIZON and forecasts.groupby("unique_id").size().eq(HORIZON).all()
    expected_times = np.tile(pd.date_range("2022-05-01", periods=HORIZON, freq="MS"), 3)
    np.testing.assert_array_equal(forecasts["ds"].to_numpy(), expected_times)
    assert np.isfinite(forecasts[["y_hat", *quantiles]].to_numpy()).all()
    pd.testing.assert_frame_equal(estimator.predict(frame), forecasts)


@names
def test_backtest_schema(name, frame):
    result = FORECASTERS[name]().backtest(frame, n_windows=2)
    assert list(result.forecasts.columns[:5]) == ["unique_id", "ds", "cutoff", "y", "y_hat"]
    assert len(result.forecasts) == 3 * 2 * HORIZON
    overall = result.metrics[result.metrics["unique_id"] == "overall"]
    assert len(overall) == 1 and np.isfinite(overall[["mae", "smape"]].to_numpy(dtype=float)).all()


@names
def test_save_and_load_give_the_same_forecasts(name, fitted, frame, tmp_path):
    estimator = fitted[name]
    path = estimator.save(tmp_path / "model")
    for loaded in (type(estimator).load(path), load_forecaster(path), BaseForecaster.load(path)):
        assert type(loaded) is type(estimator) and loaded.get_params() == estimator.get_params()
        pd.testing.assert_frame_equal(loaded.predict(), estimator.predict())
        pd.testing.assert_frame_equal(loaded.predict(frame), estimator.predict(frame))


@names
def test_loading_with_the_wrong_class_names_the_class_saved(name, fitted, tmp_path):
    path = fitted[name].save(tmp_path / "model")
    other = Naive if not isinstance(fitted[name], Naive) else Drift
    with pytest.raises(SavedModelError, match=f"holds a {type(fitted[name]).__name__}"):
        other.load(path)


@names
def test_a_fitted_estimator_pickles(name, fitted):
    restored = pickle.loads(pickle.dumps(fitted[name]))
    pd.testing.assert_frame_equal(restored.predict(), fitted[name].predict())


@names
def test_numeric_series_ids_are_text_so_files_of_the_same_series_match(name, frame):
    numbered = frame.assign(unique_id=frame["unique_id"].map({"a": 1, "b": 2, "c": 3}))
    estimator = FORECASTERS[name]().fit(numbered)
    from_file = numbered.assign(unique_id=numbered["unique_id"].astype(str))  # what a CSV gives back
    forecasts = estimator.predict(from_file)
    assert sorted(forecasts["unique_id"].unique()) == ["1", "2", "3"]
    pd.testing.assert_frame_equal(forecasts, estimator.predict(numbered))
