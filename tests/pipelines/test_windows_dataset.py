"""Windows as tf.data.Dataset and keras PyDataset: shapes, contents, seeded shuffling."""

import numpy as np
import pandas as pd
import pytest

from pipelines.windows import SeriesWindows

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def windows():
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], [30, 25]),
            "ds": np.r_[
                pd.date_range("2021-01-01", periods=30, freq="D"), pd.date_range("2021-01-01", periods=25, freq="D")
            ],
            "y": np.arange(55.0),
            "promo": np.arange(55.0) % 2,
            "size": np.repeat([1.0, 2.0], [30, 25]),
        }
    )
    sw = SeriesWindows(
        lookback=5,
        horizon=3,
        future_covariates=["promo"],
        static_covariates=["size"],
        calendar=["dayofweek"],
        scaler=None,
        min_past=None,
        deseasonalize=False,
    )
    return sw.fit_transform(frame)


def test_batches_have_the_documented_shapes_and_cover_every_window(windows):
    dataset = windows.to_dataset(batch_size=8)
    batches = list(dataset.as_numpy_iterator())
    assert len(batches) == dataset.cardinality().numpy() == int(np.ceil(len(windows) / 8))
    inputs, target = batches[0]
    assert set(inputs) == {"past", "future", "static"}
    assert inputs["past"].shape == (8, 5, 4)
    assert inputs["future"].shape == (8, 3, 3)
    assert inputs["static"].shape == (8, 1)
    assert target.shape == (8, 3) and target.dtype == np.float32
    np.testing.assert_array_equal(np.concatenate([batch[1] for batch in batches]), windows.target)
    np.testing.assert_array_equal(np.concatenate([batch[0]["past"] for batch in batches]), windows.past)


def test_seeded_shuffling_is_reproducible_and_changes_each_epoch(windows):
    def epochs(dataset):
        return [np.concatenate([target for _, target in dataset.as_numpy_iterator()]) for _ in range(2)]

    first = epochs(windows.to_dataset(batch_size=7, shuffle=True, seed=3))
    second = epochs(windows.to_dataset(batch_size=7, shuffle=True, seed=3))
    other_seed = epochs(windows.to_dataset(batch_size=7, shuffle=True, seed=4))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], other_seed[0])
    order = np.lexsort(first[0].T[::-1])
    np.testing.assert_array_equal(first[0][order], windows.target[np.lexsort(windows.target.T[::-1])])


def test_prediction_windows_yield_inputs_only():
    frame = pd.DataFrame(
        {"unique_id": np.repeat([1, 2], 12), "ds": np.r_[np.arange(12), np.arange(12)], "y": np.arange(24.0)}
    )
    prediction = (
        SeriesWindows(lookback=5, horizon=3, scaler="standard", min_past=None, deseasonalize=False)
        .fit(frame)
        .predict_windows(frame)
    )
    element = next(iter(prediction.to_dataset(batch_size=2, prefetch=False)))
    assert isinstance(element, dict) and set(element) == {"past"}
    np.testing.assert_allclose(element["past"].numpy(), prediction.past)


def test_py_dataset_serves_the_same_batches_and_reshuffles(windows):
    plain = windows.to_py_dataset(batch_size=16)
    assert len(plain) == int(np.ceil(len(windows) / 16))
    inputs, target = plain[1]
    np.testing.assert_array_equal(target, windows.target[16:32])
    np.testing.assert_array_equal(inputs["static"], windows.static[16:32])
    shuffled = windows.to_py_dataset(batch_size=len(windows), shuffle=True, seed=0)
    first = shuffled[0][1]
    shuffled.on_epoch_end()
    assert not np.array_equal(first, shuffled[0][1])
    with pytest.raises(IndexError):
        plain[len(plain)]
