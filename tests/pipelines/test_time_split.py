"""Chronological splits: no leakage of validation/test targets into training targets, context rows."""

import numpy as np
import pandas as pd
import pytest

from pipelines.split import time_split
from pipelines.validation import ValidationError
from pipelines.windows import SeriesWindows


def target_times(windows, sw):
    """(series id, time of each target step) of every window, from the origin and the frequency."""
    index = windows.index
    return {
        series_id: np.concatenate([sw.future_timestamps(origin, sw.horizon) for origin in group["ds"]])
        for series_id, group in index.groupby("unique_id")
    }


@pytest.mark.parametrize(
    "sizes",
    [
        {"val_size": 6, "test_size": 5},
        {"val_size": 0.2, "test_size": 0.15},
        {"val_start": "2021-01-14", "test_start": "2021-01-19"},
    ],
)
def test_last_training_target_precedes_first_validation_target_of_every_series(long_frame, sizes):
    lookback, horizon = 4, 3
    split = time_split(long_frame.sample(frac=1.0, random_state=1), lookback=lookback, **sizes)
    sw = SeriesWindows(lookback=lookback, horizon=horizon, scaler="standard", min_past=None, deseasonalize=False)
    train = target_times(sw.fit_transform(split.train), sw)
    val = target_times(sw.transform(split.val), sw)
    test = target_times(sw.transform(split.test), sw)
    for series_id in train:
        assert train[series_id].max() < val[series_id].min()
        assert val[series_id].max() < test[series_id].min()
        assert not set(train[series_id]) & set(val[series_id])
    # Every val/test target of the original series appears in exactly one val/test window position.
    for series_id, group in long_frame.groupby("unique_id"):
        last_val_target = val[series_id].max()
        assert test[series_id].max() == group["ds"].max()
        assert last_val_target == split.val.loc[split.val["unique_id"] == series_id, "ds"].max()


def test_counts_and_context_rows():
    frame = pd.DataFrame(
        {"unique_id": np.repeat(["a", "b"], [20, 10]), "ds": np.r_[np.arange(20), np.arange(10)], "y": 1.0}
    )
    split = time_split(frame, lookback=3, val_size=4, test_size=2)
    assert split.train.groupby("unique_id")["ds"].max().tolist() == [13, 3]
    assert split.val.groupby("unique_id")["ds"].agg(["min", "max"]).to_numpy().tolist() == [[11, 17], [1, 7]]
    assert split.test.groupby("unique_id")["ds"].agg(["min", "max"]).to_numpy().tolist() == [[15, 19], [5, 9]]
    only_train = time_split(frame, lookback=3)
    assert only_train.val is None and only_train.test is None and len(only_train.train) == 30


def test_fractions_are_rounded_per_series():
    frame = pd.DataFrame(
        {"unique_id": np.repeat(["a", "b"], [20, 10]), "ds": np.r_[np.arange(20), np.arange(10)], "y": 1.0}
    )
    split = time_split(frame, lookback=0, test_size=0.25)
    assert split.test.groupby("unique_id").size().tolist() == [5, 2]


def test_errors():
    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(5), "y": 1.0})
    with pytest.raises(ValidationError, match=r"Series 'a' has 5 rows and no training rows"):
        time_split(frame, lookback=2, val_size=3, test_size=2)
    with pytest.raises(ValueError, match="not both"):
        time_split(frame, lookback=2, val_size=1, val_start=3)
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\)"):
        time_split(frame, lookback=2, test_size=1.5)
    with pytest.raises(ValueError, match="val_start=4 must come before test_start=3"):
        time_split(frame, lookback=1, val_start=4, test_start=3)
    dated = frame.assign(ds=pd.date_range("2023-01-01", periods=5, freq="MS"))
    with pytest.raises(ValueError, match="must come before"):
        time_split(dated, lookback=1, val_start="2023-03-01", test_start="2023-03-01")
    # a start of the other kind than the time column: named, never read as a step or as nanoseconds since 1970
    with pytest.raises(ValueError, match=r"test_start='2023-03-01' must be an integer step: the time column 'ds'"):
        time_split(frame, lookback=1, test_start="2023-03-01")
    with pytest.raises(ValueError, match=r"val_start=3 must be a time stamp: the time column 'ds' holds dates"):
        time_split(dated, lookback=1, val_start=3)
    with pytest.raises(ValueError, match=r"test_start='March' is not a time stamp"):
        time_split(dated, lookback=1, test_start="March")


def test_input_is_unchanged(long_frame):
    before = long_frame.copy(deep=True)
    time_split(long_frame, lookback=3, val_size=2, test_size=2)
    pd.testing.assert_frame_equal(long_frame, before)
