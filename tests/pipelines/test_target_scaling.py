"""Per-series target scaling: statistics equal scikit-learn's fitted on each series, exact inverse."""

import json

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from pipelines.scaling import TargetScaler, is_zero_scale, series_statistics, usable_scale, window_scale


def series_with_starts(seed=0):
    rng = np.random.default_rng(seed)
    series = [
        rng.normal(loc=5.0 * number, scale=1.0 + number, size=length) for number, length in enumerate([7, 50, 1, 13])
    ]
    series.append(np.full(6, 3.0))  # constant series: scale falls back to 1
    starts = np.concatenate([[0], np.cumsum([len(values) for values in series])])
    return series, np.concatenate(series), starts


@pytest.mark.parametrize(
    ("method", "reference", "offset_attribute"),
    [("standard", StandardScaler, "mean_"), ("minmax", MinMaxScaler, "data_min_"), ("robust", RobustScaler, "center_")],
)
def test_statistics_equal_sklearn_fitted_on_each_series(method, reference, offset_attribute):
    series, values, starts = series_with_starts()
    offset, scale = series_statistics(values, starts, method)
    for number, values_of_series in enumerate(series):
        fitted = reference().fit(values_of_series[:, None])
        sklearn_scale = 1.0 / fitted.scale_[0] if method == "minmax" else fitted.scale_[0]
        np.testing.assert_allclose(offset[number], getattr(fitted, offset_attribute)[0], rtol=1e-12)
        np.testing.assert_allclose(scale[number], sklearn_scale, rtol=1e-12)
        transformed = fitted.transform(values_of_series[:, None])[:, 0]
        np.testing.assert_allclose(
            (values_of_series - offset[number]) / scale[number], transformed, rtol=1e-10, atol=1e-12
        )


def test_mean_scaling_is_the_mean_absolute_value_of_each_series():
    series, values, starts = series_with_starts()
    offset, scale = series_statistics(values, starts, "mean")
    np.testing.assert_array_equal(offset, 0.0)
    np.testing.assert_allclose(scale, [np.mean(np.abs(values_of_series)) for values_of_series in series])
    _, zero_scale = series_statistics(np.zeros(4), np.array([0, 4]), "mean")
    np.testing.assert_array_equal(zero_scale, [1.0])


def test_last_value_scale_is_zero_where_the_last_value_is_and_usable_as_one():
    past = np.array([[1.0, -2.0], [5.0, 0.0], [0.0, 3.5]])
    scale = window_scale("last", past, np.ones_like(past, bool))
    np.testing.assert_array_equal(scale, [2.0, 0.0, 3.5])
    np.testing.assert_array_equal(usable_scale(scale), [2.0, 1.0, 3.5])
    np.testing.assert_array_equal(is_zero_scale(scale), [False, True, False])


@pytest.mark.parametrize("method", ["standard", "minmax", "robust", "mean", None])
def test_scaler_inverse_restores_values_and_survives_json(method):
    series, values, starts = series_with_starts(seed=1)
    ids = np.array(["a", "b", "c", "d", "e"])
    scaler = TargetScaler(method).fit(values, starts, ids)
    restored = TargetScaler.from_config(json.loads(json.dumps(scaler.get_config())))
    offset, scale = restored.series_parameters(["d", "a"])
    np.testing.assert_array_equal(offset, scaler.series_parameters(["d", "a"])[0])
    scaled = (series[3] - offset[0]) / scale[0]
    np.testing.assert_allclose(scaled * scale[0] + offset[0], series[3], rtol=1e-12)


def test_unseen_series_has_no_statistics():
    _, values, starts = series_with_starts()
    scaler = TargetScaler("standard").fit(values, starts, ["a", "b", "c", "d", "e"])
    with pytest.raises(ValueError, match=r"Series 'z' was not seen by fit"):
        scaler.series_parameters(["a", "z"])
    assert TargetScaler("last").fit(values, starts, ["a", "b", "c", "d", "e"]).series_parameters(["z"])[1][0] == 1.0


def test_unknown_method():
    with pytest.raises(ValueError, match="scaler must be one of"):
        TargetScaler("zscore")
