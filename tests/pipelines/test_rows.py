"""`locate_rows`, `rows_in_series`, `sorted_positions`, `last_values` and `values_differ` against hand-counted rows
and a pandas merge."""

import numpy as np
import pandas as pd
import pytest

from pipelines.rows import last_values, locate_rows, rows_in_series, sorted_positions, time_values, values_differ


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


def test_rows_in_series_finds_hand_counted_rows_inside_each_range():
    # two series: rows 0-3 at times 10, 20, 30, 40 and rows 4-6 at times 20, 30, 50
    times = np.array([10, 20, 30, 40, 20, 30, 50])
    first = np.array([0, 0, 4, 4, 4, 0, 4])
    last = np.array([3, 2, 6, 6, 5, 3, 6])
    wanted = np.array([40, 40, 20, 50, 50, 25, 10])
    # (40 in rows 0-3) row 3; (40 beyond row 2) absent; 20 -> row 4; 50 -> row 6; 50 beyond row 5: absent;
    # 25 is no time of the series; 10 is a time of the other series only
    np.testing.assert_array_equal(rows_in_series(times, first, last, wanted), [3, -1, 4, 6, -1, -1, -1])


def test_rows_in_series_agrees_with_locate_rows_on_a_random_panel():
    generator = np.random.default_rng(5)
    lengths = generator.integers(1, 60, size=40)
    ids = np.repeat([f"s{k:02d}" for k in range(40)], lengths)
    times = np.concatenate([np.sort(generator.choice(500, size=n, replace=False)) for n in lengths])
    frame = pd.DataFrame({"unique_id": ids, "ds": times})
    starts = np.concatenate([[0], np.cumsum(lengths)])
    picks = generator.integers(0, len(frame), size=400)
    wanted = times[picks] + generator.integers(0, 2, size=400)
    series = np.searchsorted(starts, picks, side="right") - 1
    expected, _ = locate_rows(frame, ids[picks], wanted)
    found = rows_in_series(times, starts[series], starts[series + 1] - 1, wanted)
    np.testing.assert_array_equal(found, expected)


def test_time_values_are_integers_or_utc_nanoseconds():
    np.testing.assert_array_equal(time_values(pd.Series([3, 5])), [3, 5])
    zoned = pd.Series(pd.to_datetime(["2020-01-01 01:00"]).tz_localize("Europe/Berlin"))
    assert time_values(zoned.array)[0] == pd.Timestamp("2020-01-01 00:00", tz="UTC").value


def test_sorted_positions_marks_absent_keys():
    keys = np.array(["a", "b", "d"], dtype=object)
    np.testing.assert_array_equal(sorted_positions(keys, np.array(["d", "c", "a", "z"])), [2, -1, 0, -1])
    np.testing.assert_array_equal(sorted_positions(keys[:0], np.array(["a"])), [-1])


def test_rows_in_series_at_the_ranges_ends_and_one_inside():
    times = np.array([10, 20, 30, 40, 20, 30, 50])
    first, last = np.array([0, 4]), np.array([3, 6])
    # every time sought is its range's last: the ends themselves (the shortcut)
    np.testing.assert_array_equal(rows_in_series(times, first, last, [40, 50]), [3, 6])
    # one is not: the search finds it inside its range, and a time past the end is absent
    np.testing.assert_array_equal(rows_in_series(times, first, last, [40, 30]), [3, 5])
    np.testing.assert_array_equal(rows_in_series(times, first, np.array([2, 6]), [40, 50]), [-1, 6])


def test_last_values_are_each_series_hand_counted_tail_padded_with_nan():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    found = last_values(y, np.array([0, 4, 6]), 3)  # series [1, 2, 3, 4] and [5, 6]
    np.testing.assert_array_equal(found, [[2.0, 3.0, 4.0], [np.nan, 5.0, 6.0]])


def test_values_differ_compares_the_overlap_aligned_at_the_end():
    kept = np.array([[2.0, 3.0, 4.0], [np.nan, 5.0, 6.0]])
    y = np.array([3.0, 4.0, 7.0, 5.0, 6.5, 9.0, 0.0, 3.0, 4.0])
    # lookup: the history y[0:2] ends at row 1 on kept row 0 (3, 4: equal, 2 not given);
    # y[3:5] ends at row 4 on kept row 1 (5 equal, 6.5 != 6); y[6:9] ends at row 8 on kept row 0 (0 != 2);
    # the same history on no kept row, and one without its end
    first_rows = np.array([0, 3, 6, 6, 6])
    end_rows = np.array([1, 4, 8, 8, -1])
    kept_rows = np.array([0, 1, 0, -1, 0])
    np.testing.assert_array_equal(
        values_differ(y, first_rows, end_rows, kept, kept_rows), [False, True, True, False, False]
    )


def test_values_differ_ignores_float32_rounding_but_not_a_change_of_a_value():
    kept = np.array([[0.1 + 0.2, 1e12]])
    first, end, row = np.array([0]), np.array([1]), np.array([0])
    assert not values_differ(np.array([0.3, float(np.float32(1e12))]), first, end, kept, row).any()  # float32
    assert values_differ(np.array([0.3, 1e12 + 1e7]), first, end, kept, row).all()
