"""`locate_rows` against hand-counted rows and against a pandas merge (the reference it replaces)."""

import numpy as np
import pandas as pd
import pytest

from pipelines.rows import locate_rows


def _frame(times) -> pd.DataFrame:
    # series "b" first: the lookup must not assume the ids are sorted, only contiguous
    return pd.DataFrame({"unique_id": ["b", "b", "b", "a", "a"], "ds": times, "y": np.arange(5.0)})


@pytest.mark.parametrize(
    "times, wanted",
    [
        ([3, 4, 5, 4, 5], [5, 4, 3, 9, 4]),
        (
            pd.to_datetime(["2020-03", "2020-04", "2020-05", "2020-04", "2020-05"]),
            pd.to_datetime(["2020-05", "2020-04", "2020-03", "2021-01", "2020-04"]),
        ),
    ],
    ids=["integer", "datetime"],
)
def test_rows_and_first_rows_are_the_hand_counted_ones(times, wanted):
    frame = _frame(times)
    rows, first_rows = locate_rows(frame, np.array(["b", "a", "b", "a", "c"]), np.asarray(wanted))
    # (b, 5) row 2; (a, 4) row 3; (b, 3) row 0; (a, 9) absent; (c, ...) an unknown series
    np.testing.assert_array_equal(rows, [2, 3, 0, -1, -1])
    np.testing.assert_array_equal(first_rows, [0, 3, 0, -1, -1])


def test_missing_times_are_not_found():
    frame = _frame([3, 4, 5, 4, 5])
    rows, _ = locate_rows(frame, np.array(["a", "b"]), pd.Series([np.nan, 4.0]))
    np.testing.assert_array_equal(rows, [-1, 1])


def test_agrees_with_a_merge_on_a_random_panel():
    generator = np.random.default_rng(3)
    lengths = generator.integers(1, 40, size=50)
    ids = np.repeat([f"s{k:02d}" for k in generator.permutation(50)], lengths)
    times = np.concatenate([np.sort(generator.choice(200, size=n, replace=False)) for n in lengths])
    frame = pd.DataFrame({"unique_id": ids, "ds": times})
    picks = generator.integers(0, len(frame), size=300)
    wanted_ids = ids[picks]
    wanted_times = times[picks] + generator.integers(0, 2, size=300)  # about half are absent
    reference = (
        pd.DataFrame({"unique_id": wanted_ids, "ds": wanted_times})
        .merge(frame.assign(row=np.arange(len(frame))), on=["unique_id", "ds"], how="left")["row"]
        .fillna(-1)
        .to_numpy(np.int64)
    )
    rows, first_rows = locate_rows(frame, wanted_ids, wanted_times)
    np.testing.assert_array_equal(rows, reference)
    starts = frame.groupby("unique_id", sort=False).cumcount().to_numpy()
    found = rows >= 0
    np.testing.assert_array_equal(first_rows[found], rows[found] - starts[rows[found]])
