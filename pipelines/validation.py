"""Validation and cleaning of long-format time series frames.

A valid frame has one row per (series, timestamp), sorted by series then time, timestamps
on one regular grid (the frequency, given or inferred per series), numeric finite targets
and covariates, static covariates constant within a series, and every series at least
`min_length` rows long. `validate` checks all of this and returns a cleaned, sorted
copy; errors name the problem, the series, the column and the first offending timestamp.

A series lasts from its first observed target to its last: rows before the first or after the last with
a missing target (NaN) are dropped, so series may start and end at different times, as a wide table
melted to long format gives them (with a warning naming the series whose end was dropped: a missing
latest value is often a fault upstream). Other missing values (NaN or +-inf) and gaps (grid timestamps
with no row) are handled by one fill policy:

- `None`: raise `ValidationError`.
- `"ffill"`: carry the last observed value forward within the series; leading missing
  values (of a covariate) take the first observed value.
- `"interpolate"`: linear in time position within the series; missing values before the
  first or after the last observation take the nearest observed value.
- `"zero"`: replace by 0.
- `"drop_series"`: drop every series that has a missing value or a gap (with a warning).

Gaps are first turned into rows whose values are missing (static covariates keep the
series' value), then filled like any other missing value.
"""

from __future__ import annotations

import itertools
import numbers
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.columns import ID, TARGET, TIME
from pipelines.frequency import (
    Frequency,
    fixed_step_clock,
    grid_between,
    infer_series_frequency,
    is_fixed_step,
    months_per_step,
    parse_frequency,
    shift_times,
    step_size,
)
from pipelines.rows import time_values
from pipelines.window_settings import FILL_POLICIES, SHORT_SERIES_POLICIES

_SHOWN_IDS = 5


class ValidationError(ValueError):
    """A time series frame does not meet the expectations of the pipeline."""


def shown(value) -> str:
    """`repr` of a value for an error message, NumPy scalars shown as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def shown_ids(ids, most: int = _SHOWN_IDS) -> str:
    """Series ids for a message, each once: the first `most` (`shown`), then how many more."""
    unique = list(dict.fromkeys(ids))
    listed = ", ".join(shown(series_id) for series_id in unique[:most])
    return listed + (f" and {len(unique) - most} more" if len(unique) > most else "")


@dataclass(frozen=True)
class CheckedFrame:
    """A validated frame with the facts learned while checking it.

    Attributes:
        frame: sorted copy with a RangeIndex, regular grid, finite values.
        freq: the frequency of the grid (pandas offset or integer step).
        series_ids: the ids in sorted order.
        series_starts: row offsets of each series in `frame`; length `len(series_ids) + 1`.
    """

    frame: pd.DataFrame
    freq: Frequency
    series_ids: np.ndarray
    series_starts: np.ndarray
    _columns: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def values(self, column: str = TARGET) -> np.ndarray:
        """`column` of `frame` as read-only float64 values, read from the frame once (the target by default)."""
        if column not in self._columns:
            values = self.frame[column].to_numpy(dtype=np.float64, copy=True)
            values.flags.writeable = False
            self._columns[column] = values
        return self._columns[column]

    def times(self) -> pd.DatetimeIndex | np.ndarray:
        """The time column, read once: a DatetimeIndex (time zone kept) or int64 values."""
        if TIME not in self._columns:
            self._columns[TIME] = _parse_times(self.frame, self.frame[TIME])
        return self._columns[TIME]

    @classmethod
    def of_sorted(cls, frame: pd.DataFrame, freq: Frequency) -> CheckedFrame:
        """A frame that was validated before (or rows of one, each series' rows kept whole in order from its first,
        a `RangeIndex` and sorted by series and time), with its series found where the id changes."""
        ids = frame[ID].to_numpy()
        boundaries = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        starts = np.concatenate([[0], boundaries, [ids.size]]).astype(np.int64)
        return cls(frame=frame, freq=freq, series_ids=ids[starts[:-1]], series_starts=starts)

    def series_of_rows(self, rows: np.ndarray) -> np.ndarray:
        """The position in `series_ids` of the series holding each of `rows` (rows of `frame`)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self.frame)):
            raise ValueError(f"rows must lie in 0 .. {len(self.frame) - 1}; got {rows.min()} .. {rows.max()}")
        return np.searchsorted(self.series_starts, rows, side="right") - 1


def to_long_format(data: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """Return `data` in long format, converting a single series given with its time as index.

    Accepted single-series forms (the id becomes the series name, or `"series_0"`):
    a `pd.Series` with a `DatetimeIndex`, `PeriodIndex` or integer index; a `pd.DataFrame`
    with such an index and no `ds` column, holding `y` (or exactly one
    column, taken as the target) plus covariate columns; and a `pd.DataFrame` with `ds` but
    no `unique_id` column. A long-format frame is returned as is. Index levels named `unique_id` or
    `ds` are read as those columns (`df.set_index(["unique_id", "ds"])`, and a `pd.Series` of `y`
    indexed so).

    A frame without `ds` is an error when its time could be elsewhere: it has a `unique_id`
    column (its index is not taken as the time axis of several series) or a datetime-like column
    (datetimes, or text that parses as dates, as `pd.read_csv` gives them), which is never
    ignored in favour of the index. The error names the columns found and expected and the rename to do.
    """
    if isinstance(data, pd.Series) and isinstance(data.index, pd.MultiIndex) and set(data.index.names) == {ID, TIME}:
        return data.to_frame(TARGET).reset_index()
    if isinstance(data, pd.DataFrame):
        levels = [name for name in data.index.names if name in (ID, TIME) and name not in data.columns]
        data = data.reset_index(level=levels) if levels else data
    if isinstance(data, pd.Series):
        _check_time_index(data.index)
        series_id = data.name if data.name is not None else "series_0"
        return pd.DataFrame({ID: series_id, TIME: data.index.array, TARGET: data.to_numpy()})
    if not isinstance(data, pd.DataFrame):
        raise ValidationError(
            f"Expected a pandas DataFrame in long format or a pandas Series, found {type(data).__name__}."
        )
    repeated = list(dict.fromkeys(data.columns[data.columns.duplicated()]))
    if repeated:
        raise ValidationError(
            f"Column {repeated[0]!r} appears {int((data.columns == repeated[0]).sum())} times in the frame; keep one "
            "(for example df.loc[:, ~df.columns.duplicated()])."
        )
    if TIME in data.columns:
        return data if ID in data.columns else _one_series(data)
    dated = _datetime_like_columns(data)
    if ID in data.columns or dated or not _is_time_index(data.index):
        raise ValidationError(_missing_time_message(data, dated))
    frame = (
        data.rename(columns={data.columns[0]: TARGET}) if (TARGET not in data.columns and data.shape[1] == 1) else data
    )
    frame = frame.reset_index(drop=True)
    frame.insert(0, TIME, data.index.array)
    frame.insert(0, ID, "series_0")
    return frame


def _one_series(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame with `ds` and no `unique_id`, as the series `"series_0"`; a repeated time stamp is an error."""
    times = frame[TIME]
    repeated = (times.duplicated() & times.notna()).to_numpy()
    if repeated.any():
        second = int(np.flatnonzero(repeated)[0])
        first = int(np.flatnonzero((times.iloc[:second] == times.iloc[second]).to_numpy())[0])
        text = [column for column in frame.columns if column != TIME and _is_text(frame[column])]
        rename = f" (df.rename(columns={{{text[0]!r}: {ID!r}}}))" if len(text) == 1 else ""
        raise ValidationError(
            f"Column {TIME!r} repeats {times.iloc[first]} (rows {first} and {second}) in a frame without "
            f"a {ID!r} column, which is read as one series; found columns {list(frame.columns)}. For several "
            f"series, name the column of series ids {ID!r}{rename}."
        )
    return frame.assign(**{ID: "series_0"})[[ID, *frame.columns]]


def _datetime_like_columns(frame: pd.DataFrame) -> list[str]:
    """The columns other than `unique_id` holding datetimes, periods or dates written as text."""
    return [column for column in frame.columns if column != ID and _holds_dates(frame[column])]


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values.dtype)


def _holds_dates(values: pd.Series, sample_size: int = 20) -> bool:
    """Whether a column holds datetimes or periods, or dates as text (judged on its first `sample_size` values).

    Text counts as dates when every sampled value parses as one and shows its year (`"1949-01"`,
    `"Jan 1949"`) or is written day/month/year (`"1/31/49"`). The date parser also reads ids and
    numbers (`"M1"` as one second past midnight, `"T1001"` as 10:01 today); those do not count.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or isinstance(values.dtype, pd.PeriodDtype):
        return True
    if not _is_text(values):
        return False
    sample = values.dropna().iloc[:sample_size]
    kind = pd.api.types.infer_dtype(sample, skipna=True)
    if kind in ("date", "datetime", "datetime64", "period"):
        return True
    if kind != "string" or pd.to_numeric(sample, errors="coerce").notna().all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' notice that it parses each value on its own
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().all()) and all(map(_shows_its_year, sample, parsed.dt.year))


_DAY_MONTH_YEAR = re.compile(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2}")


def _shows_its_year(text: str, year: int) -> bool:
    # A year off by one: the conversion to UTC can cross a new year.
    return bool(_DAY_MONTH_YEAR.search(text)) or any(f"{near:04d}" in text for near in (year - 1, year, year + 1))


def _missing_time_message(frame: pd.DataFrame, dated: list[str]) -> str:
    """Why a frame without `ds` cannot be read, with the columns found and expected and the rename to do."""
    found = f"Missing column {TIME!r}: found columns {list(frame.columns)}"
    expected = f"expected {ID}, {TIME}, {TARGET}" + ("" if ID in frame.columns else f" (a single series needs no {ID})")
    renames = {dated[0]: TIME} if len(dated) == 1 else {}
    values = [
        column
        for column in frame.columns
        if column not in (ID, *dated)
        and pd.api.types.is_numeric_dtype(frame[column].dtype)
        and not pd.api.types.is_bool_dtype(frame[column].dtype)
    ]
    if TARGET not in frame.columns and len(values) == 1:
        renames[values[0]] = TARGET
    rename_text = " and ".join(f"{source!r} to {target!r}" for source, target in renames.items())
    rename_call = f"df.rename(columns={renames!r})"
    if len(dated) > 1:
        return (
            f"{found}; {expected}: columns {dated} all hold dates; rename the one with the time stamps "
            f"to {TIME!r} (e.g. df.rename(columns={{{dated[0]!r}: {TIME!r}}}))."
        )
    if dated and isinstance(frame.index, pd.DatetimeIndex) and ID not in frame.columns:
        return (
            f"{found} and a DatetimeIndex; {expected}: both the index and column {dated[0]!r} hold dates. "
            f"Rename {rename_text} ({rename_call}) to take the time from the column, or drop {dated[0]!r} "
            f"to take it from the index."
        )
    if dated:
        target = (
            "" if TARGET in frame.columns or TARGET in renames.values() else f", and name the target column {TARGET!r}"
        )
        return f"{found}; {expected}: rename {rename_text} ({rename_call}){target}."
    index_holds_times = isinstance(frame.index, pd.DatetimeIndex) or (
        frame.index.name is not None and _is_time_index(frame.index)
    )
    if ID in frame.columns and index_holds_times:
        return f"{found}; {expected}: move the time index into {TIME!r} with df.reset_index(names={TIME!r})."
    if ID in frame.columns:
        return f"{found}; {expected}: name the column of time stamps (datetimes or integers) {TIME!r}."
    return (
        f"{found} and an index of dtype {frame.index.dtype}; {expected}, or a single series with a "
        f"DatetimeIndex or an integer index."
    )


def validate(
    df: pd.DataFrame | pd.Series,
    *,
    covariates: Sequence[str] = (),
    static_covariates: Sequence[str] = (),
    freq: str | int | None = None,
    fill: str | None = None,
    min_length: int = 1,
    short_series: str = "error",
) -> pd.DataFrame:
    """Check a long-format frame and return a cleaned, sorted copy (the input is never modified).

    Args:
        df: long-format frame (`unique_id`, `ds`, `y`, covariates; see `pipelines.columns`), or a
            single series with its time as index (see `to_long_format`).
        covariates: time-varying numeric covariate columns (checked and filled like the target).
        static_covariates: columns that must be constant within each series (any dtype).
        freq: pandas offset alias or integer step; None infers it per series (all must agree).
        fill: missing value and gap policy, one of `FILL_POLICIES` (see the module docstring).
        min_length: the fewest rows a series may have (after filling).
        short_series: `"error"` raises for a shorter series, `"drop"` drops it with a warning.

    Returns:
        The frame sorted by (series, time) with a RangeIndex, gaps filled, values finite.

    Raises:
        ValidationError: naming the problem, the series, the column and the first offending timestamp.
    """
    return check_frame(
        df,
        covariates=covariates,
        static_covariates=static_covariates,
        freq=freq,
        fill=fill,
        min_length=min_length,
        short_series=short_series,
    ).frame


def check_frame(
    df: pd.DataFrame | pd.Series,
    *,
    covariates: Sequence[str] = (),
    static_covariates: Sequence[str] = (),
    freq: str | int | Frequency | None = None,
    fill: str | None = None,
    min_length: int = 1,
    short_series: str = "error",
    copy: bool = True,
    min_length_reason: str | None = None,
    timezone: str | None = None,
    fill_fixed: bool = False,
) -> CheckedFrame:
    """`validate`, also returning the frequency and the series layout it established.

    `copy=False` lets a caller that owns `df` (a frame it built itself) skip one copy of it;
    `df` may then be modified. `min_length_reason` says where `min_length` comes from, for the
    short-series error (e.g. `"min_past 1 + horizon 12 rows for one training window"`). Zoned times are
    converted to `timezone` where it is given (the same instants, read on that zone's clock). `fill_fixed`: `fill`
    was fixed by a fit (a fitted model's history), so gaps and missing values are not told to choose a policy.
    """
    if fill not in FILL_POLICIES:
        raise ValueError(f"fill must be one of {list(FILL_POLICIES)}; got {fill!r}")
    if short_series not in SHORT_SERIES_POLICIES:
        raise ValueError(f"short_series must be one of {list(SHORT_SERIES_POLICIES)}; got {short_series!r}")
    frame = to_long_format(df)
    value_cols = [TARGET, *covariates]
    _check_columns(frame, [ID, TIME, *value_cols, *static_covariates])
    if len(frame) == 0:
        raise ValidationError("Expected at least one row, found an empty frame.")
    id_column = frame[ID]
    ids = id_column.to_numpy()
    missing_ids = pd.isna(ids)
    if missing_ids.any():
        raise ValidationError(f"Column {ID!r} has a missing series id at row {int(np.flatnonzero(missing_ids)[0])}.")
    _check_id_types(id_column)
    time_column = frame[TIME]
    times = _parse_times(frame, time_column)
    if timezone is not None and getattr(times, "tz", None) is not None and str(times.tz) != timezone:
        times = times.tz_convert(timezone)
    elif timezone is not None and isinstance(times, pd.DatetimeIndex) and times.tz is None and _all_midnights(times):
        # calendar days (e.g. read from text with offsets) are days of the model's zone
        times = times.tz_localize(timezone, ambiguous=np.ones(len(times), dtype=bool), nonexistent="shift_forward")
    frame, codes, times, ids = _sorted_copy(frame, ids, times, copy, time_column.dtype != times.dtype)
    series_starts = _series_starts(codes)
    _check_duplicates(frame, codes, times)
    frame = numeric_columns(frame, value_cols)
    frame, codes, times, ids = _trim_unobserved_ends(frame, codes, times, ids, series_starts)
    sorted_frame = frame
    series_starts = _series_starts(codes)
    _check_static(frame, static_covariates)
    freq = _resolve_frequency(frame, times, series_starts, freq)
    gap_rows = _check_grid(frame, codes, times, series_starts, freq)

    values = _value_matrix(frame, value_cols)
    missing = ~np.isfinite(values)
    if fill is None:
        _raise_on_gaps(frame, times, gap_rows, freq, FITTED_FILL_REMEDY if fill_fixed else FILL_REMEDY)
        _raise_on_missing(frame, value_cols, missing, FITTED_FILL_REMEDY if fill_fixed else FILL_REMEDY.capitalize())
    elif fill == "drop_series":
        bad_codes = np.unique(np.concatenate([codes[gap_rows], codes[missing.any(axis=1)]]))
        frame, codes = _drop_series(frame, codes, bad_codes, "missing values or gaps")
    else:
        if gap_rows.size:
            frame = _insert_gap_rows(frame, static_covariates, codes, series_starts, gap_rows, freq)
            codes = pd.factorize(frame[ID].to_numpy(), sort=True)[0]
        frame = _fill_missing(frame, value_cols, _series_starts(codes), fill)

    lengths = np.bincount(codes)
    short_codes = np.flatnonzero(lengths < min_length)
    if short_codes.size:
        if short_series == "error":
            first_row = int(np.searchsorted(codes, short_codes[0]))
            raise ValidationError(
                short_series_message(frame[ID].iloc[first_row], lengths[short_codes[0]], min_length, min_length_reason)
                + _short_series_count(short_codes.size, lengths.size)
            )
        frame, codes = _drop_series(frame, codes, short_codes, f"fewer than {min_length} rows")
    series_starts = _series_starts(codes)
    # No row filled (in place), inserted or dropped: the arrays read above still hold.
    unchanged = frame is sorted_frame and not missing.any()
    series_ids = (ids if unchanged else frame[ID].to_numpy())[series_starts[:-1]]
    checked = CheckedFrame(frame=frame, freq=freq, series_ids=series_ids, series_starts=series_starts)
    if unchanged:
        values.flags.writeable = False
        checked._columns.update({column: values[:, k] for k, column in enumerate(value_cols)}, **{TIME: times})
    return checked


def short_series_message(series_id, length: int, min_length: int, reason: str | None = None) -> str:
    """`Series 'b' has 10 rows; expected at least 13 = <reason>.`: one short series, and why it is short."""
    why = f" = {reason}" if reason else ""
    return f"Series {shown(series_id)} has {length} rows; expected at least {min_length}{why}."


def _short_series_count(n_short: int, n_series: int) -> str:
    """How many series are too short; `short_series='drop'` is offered only when some series would remain."""
    if n_short < n_series:
        return (
            f" Too short: {n_short} of {n_series} series; short_series='drop' drops those and keeps "
            f"the other {n_series - n_short}."
        )
    return f" Every one of the {n_series} series is too short." if n_series > 1 else ""


def _check_id_types(ids: pd.Series) -> None:
    """Series ids are all text or all numbers: `1` and `'1'` would be two series that print alike."""
    kind = pd.api.types.infer_dtype(ids, skipna=False)
    if kind.startswith("mixed"):
        kinds = ids.map(lambda value: "text" if isinstance(value, str) else type(value).__name__)
        row = int(np.flatnonzero((kinds != kinds.iloc[0]).to_numpy())[0])
        raise ValidationError(
            f"Column {ID!r} mixes value types: row 0 holds {shown(ids.iloc[0])} ({kinds.iloc[0]}) and row {row} "
            f"holds {shown(ids.iloc[row])} ({kinds.iloc[row]}); give every series id as text (or every one as a number)."
        )


def _is_time_index(index: pd.Index) -> bool:
    return isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)) or pd.api.types.is_integer_dtype(index.dtype)


def _check_time_index(index: pd.Index) -> None:
    if not _is_time_index(index):
        raise ValidationError(
            f"Expected a single series with a DatetimeIndex, a PeriodIndex or an integer index (or a series of {TARGET!r} "
            f"indexed by ({ID!r}, {TIME!r})), found an index of dtype {index.dtype}."
        )


def _check_columns(frame: pd.DataFrame, required: list[str]) -> None:
    missing = [column for column in dict.fromkeys(required) if column not in frame.columns]
    if missing:
        raise ValidationError(f"Missing columns {missing}; the frame has columns {list(frame.columns)}.")


def parse_time_column(frame: pd.DataFrame) -> pd.DatetimeIndex | np.ndarray:
    """The time column as int64 values or as a nanosecond DatetimeIndex (time zone kept; periods at their start).

    Raises ValidationError for other dtypes, unparsable values, missing timestamps and a mix of
    time zone aware and naive (or differently zoned) timestamps.
    """
    return _parse_times(frame, frame[TIME])


def _parse_times(frame: pd.DataFrame, column: pd.Series) -> pd.DatetimeIndex | np.ndarray:
    """`parse_time_column` of `frame` given its time column."""
    if pd.api.types.is_integer_dtype(column.dtype):
        return column.to_numpy(dtype=np.int64)
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column.dtype):
        times = pd.DatetimeIndex(column).as_unit("ns")
    elif isinstance(column.dtype, pd.PeriodDtype):  # a period stands for its first instant
        times = pd.PeriodIndex(column).to_timestamp(how="start").as_unit("ns")
    elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        times = _parse_object_times(frame)
    else:
        raise ValidationError(
            f"Column {TIME!r} must hold datetimes or integers, found dtype {column.dtype} "
            f"(first value {shown(column.iloc[0])} of series {shown(frame[ID].iloc[0])})."
        )
    if times.hasnans:
        row = int(np.flatnonzero(times.isna())[0])
        raise ValidationError(
            f"Column {TIME!r} has a missing timestamp in series {shown(frame[ID].iloc[row])} at row {row}."
        )
    return times


def _parses_alone(value, dayfirst: bool) -> bool:
    """Whether one text value reads as a time stamp on its own (it failed only the format of the column's first)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return not pd.isna(pd.to_datetime(value, dayfirst=dayfirst))
        except (ValueError, TypeError, OverflowError):
            return False


def _parse_object_times(frame: pd.DataFrame) -> pd.DatetimeIndex:
    column = frame[TIME]
    if column.empty:  # no text to read a kind of time from: an empty frame is refused where rows are needed
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    awareness = column.map(lambda value: getattr(value, "tzinfo", None) is not None).to_numpy()
    if awareness.any() and not awareness.all():
        row = int(np.flatnonzero(awareness != awareness[0])[0])
        raise ValidationError(
            f"Column {TIME!r} mixes time zone aware and naive timestamps: series {shown(frame[ID].iloc[row])} "
            f"has {shown(column.iloc[row])} at row {row} while row 0 has {shown(column.iloc[0])}."
        )
    if awareness.all():
        zones = column.map(lambda value: str(value.tzinfo)).to_numpy()
        if (zones != zones[0]).any():
            row = int(np.flatnonzero(zones != zones[0])[0])
            raise ValidationError(
                f"Column {TIME!r} mixes time zones: series {shown(frame[ID].iloc[row])} has {shown(column.iloc[row])} "
                f"at row {row} while row 0 is in {zones[0]}."
            )
    dayfirst = _reads_day_first(frame, column)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas 2's notice about mixed offsets, handled below
        # pandas' notice that it parses value by value: each value is then checked, and the grid after
        warnings.filterwarnings("ignore", message="Could not infer format", category=UserWarning)
        try:
            parsed = pd.to_datetime(column, errors="coerce", dayfirst=dayfirst)
        except ValueError:  # pandas 3 refuses text with different UTC offsets ("+01:00" and "+02:00")
            parsed = None
    if parsed is None or parsed.dtype == object:  # pandas 2 parses such text to separate fixed zones
        offsets = column.map(_utc_offset)
        if offsets.notna().all():  # one zone's clock across daylight saving (+01:00, +02:00): the instants, in UTC
            instants = pd.DatetimeIndex(pd.to_datetime(column, utc=True, dayfirst=dayfirst)).as_unit("ns")
            clock = instants.tz_localize(None) + pd.to_timedelta(offsets.to_numpy())
            return clock if _all_midnights(clock) else instants
        row = int(np.flatnonzero((offsets != offsets.iloc[0]).to_numpy())[0])
        raise ValidationError(
            f"Column {TIME!r} mixes time zones: series {shown(frame[ID].iloc[row])} has {shown(column.iloc[row])} "
            f"at row {row} (UTC offset {offsets.iloc[row]}) while row 0 has {shown(column.iloc[0])} "
            f"(UTC offset {offsets.iloc[0]}); write every time stamp in one zone, e.g. UTC."
        )
    unparsed = parsed.isna().to_numpy() & column.notna().to_numpy()
    if unparsed.any():
        row = int(np.flatnonzero(unparsed)[0])
        if _parses_alone(column.iloc[row], dayfirst):
            raise ValidationError(
                f"Column {TIME!r} mixes date formats: series {shown(frame[ID].iloc[row])} has "
                f"{shown(column.iloc[row])} at row {row}, which does not follow the format of row 0, "
                f"{shown(column.iloc[0])}; write every time stamp in one format, or parse the column first "
                "(pd.to_datetime(df['ds'], format='mixed'))."
            )
        raise ValidationError(
            f"Column {TIME!r} must hold datetimes or integers; series {shown(frame[ID].iloc[row])} "
            f"has {shown(column.iloc[row])} at row {row}.{_period_text_hint(column.iloc[row])}"
        )
    times = pd.DatetimeIndex(parsed).as_unit("ns")
    if times.tz is not None and isinstance(column.dropna().iloc[0], str):  # text with one UTC offset
        clock = times.tz_localize(None)
        return clock if _all_midnights(clock) else times
    return times


def _all_midnights(clock: pd.DatetimeIndex) -> bool:
    """Whether text stamps with UTC offsets, read on their own clock, are all midnights: days written from a zone
    (as pandas writes them), read as those calendar days without a zone, whether or not their offset changes
    with daylight saving (a zoned model reads them as days of its zone, `check_frame`)."""
    return bool((clock == clock.normalize()).all())


_DAY_AND_MONTH_TEXT = re.compile(r"\s*\d{1,2}[./-]\d{1,2}[./-]\d{2,4}(?!\d)")
"""Dates written as day and month numbers before the year ('03/04/2020', '03.04.20'): day first or month first."""


def _reads_day_first(frame: pd.DataFrame, column: pd.Series) -> bool:
    """Whether text dates of `_DAY_AND_MONTH_TEXT` put the day first (`03/04/2020`: 3 April), as most of the world
    writes them: the order in which every value is a date; where both orders are (no day above 12), the one that
    puts every series on a regular grid; where both orders do that too, day first for dots (`03.04.2020`), else a
    `ValidationError`, since the data cannot tell (12 days of January written day first read as 12 months month
    first). False for other text."""
    present = column.dropna()
    if present.empty or not (isinstance(present.iloc[0], str) and _DAY_AND_MONTH_TEXT.match(present.iloc[0])):
        return False
    if not present.map(lambda value: isinstance(value, str) and bool(_DAY_AND_MONTH_TEXT.match(value))).all():
        return False
    readings = {}
    for dayfirst in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas' notice that it parses each value on its own
            parsed = pd.to_datetime(present, errors="coerce", dayfirst=dayfirst)
        if not parsed.isna().any():
            readings[dayfirst] = parsed
    if len(readings) < 2 or readings[True].equals(readings[False]):
        return next(iter(readings), False)
    ids = frame[ID].loc[present.index]
    regular = {dayfirst: _on_regular_grids(ids, parsed) for dayfirst, parsed in readings.items()}
    if regular[True] != regular[False]:
        return regular[True]
    if "." in present.iloc[0][:6]:  # 03.04.2020: dots are written day first (German, Russian, ...)
        return True
    example = present.iloc[int(np.flatnonzero((readings[True] != readings[False]).to_numpy())[0])]
    raise ValidationError(
        f"Column {TIME!r} holds dates such as {example!r} that read as {readings[True][present == example].iloc[0]:%Y-%m-%d} "
        f"(day first) or {readings[False][present == example].iloc[0]:%Y-%m-%d} (month first), and no day is above 12 "
        "to tell which; write them as YYYY-MM-DD."
    )


def _on_regular_grids(ids: pd.Series, times: pd.Series) -> bool:
    """Whether every series of at least 3 distinct times fills a grid of its inferred frequency without a gap."""
    for _, series in times.groupby(ids.to_numpy(), sort=False):
        unique = pd.DatetimeIndex(series).unique().sort_values()
        if len(unique) < 3:
            continue
        freq = infer_series_frequency(unique)
        if freq is None or len(grid_between(unique[0], unique[-1], freq)) != len(unique):
            return False
    return True


DECIMAL_COMMA = re.compile(r"\s*[+-]?[\d.]*\d,\d+\s*")
"""A number written with a decimal comma (and perhaps thousands points), as text."""
_QUARTER_TEXT = re.compile(r"\d{4} ?-? ?Q[1-4]")
_ISO_WEEK_TEXT = re.compile(r"\d{4} ?-? ?W\d{2}")


def _period_text_hint(value) -> str:
    """How to read quarters or ISO weeks written as text ('1998 Q1', '1991 W06', as R's tsibble writes them)."""
    text = str(value).strip()
    if _QUARTER_TEXT.fullmatch(text):
        return f" Read quarters as periods: df[{TIME!r}] = pd.PeriodIndex(df[{TIME!r}].str.replace(' ', ''), freq='Q')."
    if _ISO_WEEK_TEXT.fullmatch(text):
        return (
            f" Read ISO weeks as their Mondays: "
            f"df[{TIME!r}] = pd.to_datetime(df[{TIME!r}].str.replace(' ', '').str.replace('-', '') + '1', "
            "format='%GW%V%u')."
        )
    return ""


def _utc_offset(value):
    """The UTC offset of one time stamp (text or Timestamp); None where it has none or does not parse."""
    try:
        return pd.Timestamp(value).utcoffset()
    except (ValueError, TypeError):
        return None


def _sorted_copy(frame: pd.DataFrame, ids: np.ndarray, times, copy: bool, convert_times: bool):
    """Copy of the frame sorted by (series id, time), with its series codes, times and ids in that order (`ids`:
    the frame's id column as an array; `times` its parsed time column, written back where `convert_times`).

    An already sorted frame is copied only when `copy` is True.
    """
    if ids.size < 2 or bool(np.all(ids[1:] >= ids[:-1])):  # ids already sorted: their codes count the changes
        codes = np.concatenate([[0], np.cumsum(ids[1:] != ids[:-1])]).astype(np.intp)
    else:
        codes = pd.factorize(ids, sort=True)[0]
    values = time_values(times)
    in_order = np.all((np.diff(codes) > 0) | ((np.diff(codes) == 0) & (np.diff(values) >= 0)))
    if in_order:
        sorted_frame = frame.copy() if copy else frame
    else:
        order = np.lexsort((values, codes))
        sorted_frame = frame.take(order)
        codes, times, ids = codes[order], times[order], ids[order]
    index = sorted_frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        sorted_frame.index = pd.RangeIndex(len(sorted_frame))
    if not in_order or convert_times:
        sorted_frame[TIME] = times
    return sorted_frame, codes, times, ids


def _trim_unobserved_ends(frame: pd.DataFrame, codes: np.ndarray, times, ids: np.ndarray, series_starts: np.ndarray):
    """The sorted frame (and its codes, times and ids) without each series' rows before its first observed target
    or after its last; warns of the series whose end was dropped. A series with no observed target is kept whole,
    for the fill policy to reject or drop."""
    target = frame[TARGET].to_numpy(dtype=np.float64, na_value=np.nan)
    observed = ~np.isnan(target)
    if observed.all():
        return frame, codes, times, ids
    _, _, has_previous, has_following = _observed_neighbours(observed, series_starts)
    never_observed = ~(has_previous | has_following)
    keep = observed | (has_previous & has_following) | never_observed
    if keep.all():
        return frame, codes, times, ids
    after_last = ~keep & has_previous
    if after_last.any():
        ended = pd.unique(ids[after_last])
        listed = ", ".join(shown(series_id) for series_id in ended[:_SHOWN_IDS])
        more = f" and {ended.size - _SHOWN_IDS} more" if ended.size > _SHOWN_IDS else ""
        warnings.warn(
            f"Dropped {int(after_last.sum())} rows after the last observed {TARGET!r} of {ended.size} series "
            f"({listed}{more}): their forecasts start after their last observed value.",
            UserWarning,
            stacklevel=4,
        )
    rows = np.flatnonzero(keep)
    return frame.take(rows).reset_index(drop=True), codes[rows], times[rows], ids[rows]


def _series_starts(codes: np.ndarray) -> np.ndarray:
    """Row offsets where each series starts in a frame sorted by series, plus the total length."""
    boundaries = np.flatnonzero(np.diff(codes)) + 1
    return np.concatenate([[0], boundaries, [codes.size]]).astype(np.int64)


def _describe(frame: pd.DataFrame, row: int) -> str:
    return f"series {shown(frame[ID].iloc[row])} at {TIME}={frame[TIME].iloc[row]}"


def _check_duplicates(frame, codes, times) -> None:
    values = time_values(times)
    repeated = np.flatnonzero((np.diff(codes) == 0) & (np.diff(values) == 0))
    if repeated.size:
        row = int(repeated[0]) + 1
        raise ValidationError(
            f"Duplicate ({ID}, {TIME}) pair: {_describe(frame, row)} appears more than once; "
            f"{repeated.size} duplicate {'row' if repeated.size == 1 else 'rows'} in all.{_clock_hint(times, row)}"
        )


def _clock_hint(times, row: int) -> str:
    """Where a repeated time stamp may be a local clock's hour that daylight saving repeats, how to avoid it."""
    if not isinstance(times, pd.DatetimeIndex) or times.tz is not None:
        return ""
    stamp = times[row]
    if stamp == stamp.normalize() or stamp.month not in (3, 4, 10, 11):
        return ""
    return (
        " If these are local clock times, the hour that daylight saving repeats appears twice: write the time "
        "stamps with their UTC offset (e.g. '2021-10-31T02:00+01:00') or in UTC."
    )


def numeric_columns(frame: pd.DataFrame, value_cols: Sequence[str]) -> pd.DataFrame:
    """`frame` with `value_cols` checked to be real-valued (`check_numeric`), those held as Python objects
    (numbers and missing values) turned into numbers; the frame itself when there are none."""
    check_numeric(frame, value_cols)
    held_as_objects = [column for column in value_cols if frame[column].dtype == object]
    if not held_as_objects:
        return frame
    return frame.assign(**{column: pd.to_numeric(frame[column]) for column in held_as_objects})


def _is_real_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_numeric(frame: pd.DataFrame, value_cols: Sequence[str]) -> None:
    """Raise `ValidationError` for the first of `value_cols` that is not real-valued, naming its first bad value.

    Booleans count as numbers (0/1 flags) except in the target, which must hold quantities.
    """
    for column in value_cols:
        series = frame[column]
        if column == TARGET and pd.api.types.is_bool_dtype(series.dtype):
            raise ValidationError(
                f"Column {TARGET!r} holds booleans (True/False); a forecast target must be numeric. "
                f"Convert it with df[{TARGET!r}].astype(float) to forecast the share of True."
            )
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_complex_dtype(series.dtype):
            continue
        if series.dtype == object and series.dropna().map(_is_real_number).all():
            continue  # numbers held as objects (a nullable column some libraries hand over so), read by `numeric_columns`
        # Error path only: name the first value that is not a number (e.g. a string "1") ...
        not_real = ~series.map(lambda value: _is_real_number(value) or value is None or value is pd.NA).to_numpy(
            dtype=bool
        )
        row = int(np.flatnonzero(not_real)[0]) if not_real.any() else 0
        message = f"Column {column!r} must be numeric, found dtype {series.dtype}: {_describe(frame, row)} has {shown(series.iloc[row])}"
        # ... and, for text read from a file (where every value is a string), the first that is not even a number
        # written as text: the cell to fix.
        unparsable = (pd.to_numeric(series, errors="coerce").isna() & series.notna()).to_numpy(dtype=bool)
        cell = int(np.flatnonzero(unparsable)[0]) if unparsable.any() else row
        if cell != row:
            message += (
                f"; the first value that is not a number: {_describe(frame, cell)} has {shown(series.iloc[cell])}"
            )
        if isinstance(series.iloc[cell], str) and DECIMAL_COMMA.fullmatch(series.iloc[cell]):
            message += (
                " (a number written with a decimal comma: a CSV file separated by commas is read with decimal points, "
                "one separated by semicolons with decimal commas, each column with one decimal mark throughout)"
            )
        raise ValidationError(f"{message}.")


def _check_static(frame: pd.DataFrame, static_covariates: Sequence[str]) -> None:
    if not static_covariates:
        return
    ids = frame[ID].to_numpy()
    same_series = np.concatenate([[False], ids[1:] == ids[:-1]])
    for column in static_covariates:
        values = frame[column]
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise ValidationError(f"Static covariate {column!r} is missing for {_describe(frame, row)}.")
        array = values.to_numpy()
        changes = np.flatnonzero(same_series[1:] & (array[1:] != array[:-1])) + 1
        if changes.size:
            row = int(changes[0])
            raise ValidationError(
                f"Static covariate {column!r} must be constant within a series: {_describe(frame, row)} "
                f"has {shown(array[row])} after {shown(array[row - 1])}."
            )


def _resolve_frequency(frame, times, series_starts, freq) -> Frequency:
    """The given frequency (checked against the time dtype) or the one inferred per series."""
    integer_times = isinstance(times, np.ndarray)
    if freq is not None:
        freq = parse_frequency(freq)
        if integer_times != isinstance(freq, int):
            kind = "integer" if integer_times else "datetime"
            raise ValidationError(
                f"freq={freq!r} does not fit the {kind} time column: integer times need an integer step, "
                f"datetimes a pandas offset alias."
            )
        return freq
    ids = frame[ID].to_numpy()
    n_series = series_starts.size - 1
    reference, reference_position = None, 0
    while reference is None and reference_position < n_series:
        reference = infer_series_frequency(
            times[series_starts[reference_position] : series_starts[reference_position + 1]]
        )
        reference_position += 1
    if reference is None:
        raise ValidationError(
            _calendar_day_message(frame, times, series_starts)
            or "Cannot infer the frequency: no series has enough regular timestamps. Pass freq= (e.g. 'D' or an "
            "integer step)."
        )
    # Only series that leave the reference grid somewhere need their own inference.
    for position in _series_off_grid(times, series_starts, reference):
        start, stop = series_starts[position], series_starts[position + 1]
        inferred = infer_series_frequency(times[start:stop])
        if inferred is not None and inferred != reference:
            raise ValidationError(
                f"Series disagree on the frequency: {shown(ids[series_starts[reference_position - 1]])} has "
                f"{_freq_name(reference)}, {shown(ids[start])} has {_freq_name(inferred)}. Pass freq= to choose one."
            )
    return reference


def _calendar_day_message(frame, times, series_starts) -> str | None:
    """Why no frequency fits time stamps a whole number of months apart on one day of the month other than its
    first or last (the 15th of every month), which no pandas offset describes; None for any other pattern."""
    if isinstance(times, np.ndarray):
        return None
    for start, stop in itertools.pairwise(series_starts):
        stamps = times[start:stop]
        if len(stamps) < 3:
            continue
        months = np.diff(stamps.year * 12 + stamps.month)
        same_day = (stamps.day == stamps.day[0]).all() and (stamps.time == stamps.time[0]).all()
        if not (same_day and months[0] > 0 and (months == months[0]).all()) or stamps.day[0] == 1:
            return None
        step = int(months[0])
        return (
            f"Cannot infer the frequency: series {shown(frame[ID].iloc[start])} has time stamps {step} month"
            f"{'s' if step > 1 else ''} apart on day {stamps.day[0]} of the month (from {stamps[0]}), which no pandas "
            f"frequency describes. {_restamp_hint(step)}"
        )
    return None


def _freq_name(freq: Frequency) -> str:
    return f"step {freq}" if isinstance(freq, int) else f"frequency {freq.freqstr!r}"


def _series_off_grid(times, series_starts, freq) -> np.ndarray:
    """Positions of the series with a consecutive pair of rows that is not exactly one step apart."""
    within = _within_series_mask(series_starts)
    expected = time_values(shift_times(times[:-1], freq))
    off_rows = np.flatnonzero(within & (time_values(times)[1:] != expected)) + 1
    return np.unique(np.searchsorted(series_starts, off_rows, side="right") - 1)


def _within_series_mask(series_starts: np.ndarray) -> np.ndarray:
    """For each consecutive row pair (i, i+1): True when both rows belong to the same series."""
    total = int(series_starts[-1])
    within = np.ones(max(total - 1, 0), dtype=bool)
    within[series_starts[1:-1] - 1] = False
    return within


def _check_grid(frame, codes, times, series_starts, freq) -> np.ndarray:
    """Rows that follow a gap (more than one step after the previous row of their series).

    Raises when a timestamp is off the grid (not a whole number of steps after the previous one).
    """
    values = time_values(times)
    within = _within_series_mask(series_starts)
    if is_fixed_step(freq):
        step = step_size(freq)
        clock = times if isinstance(times, np.ndarray) else fixed_step_clock(times, freq)
        diffs = np.diff(values if clock is times else time_values(clock))
        off_grid = within & (diffs % step != 0)
        after_gap = within & (diffs > step) & ~off_grid
    else:
        expected = time_values(shift_times(times[:-1], freq))
        off_grid = within & (values[1:] < expected)
        after_gap = within & (values[1:] > expected)
        if off_grid.any() or after_gap.any():  # rows between the calendar's anchors show up as gaps
            _check_anchors(frame, times, np.union1d(series_starts[:-1], np.flatnonzero(after_gap) + 1), freq)
    if off_grid.any():
        row = int(np.flatnonzero(off_grid)[0]) + 1
        raise ValidationError(
            f"Timestamp off the {_freq_name(freq)} grid: {_describe(frame, row)} follows {frame[TIME].iloc[row - 1]}."
        )
    return np.flatnonzero(after_gap) + 1


def _check_anchors(frame, times: pd.DatetimeIndex, rows: np.ndarray, freq: pd.DateOffset) -> None:
    """The time stamps at `rows` (each series' first row and every row after a gap) lie on anchors of the calendar
    offset `freq` (a month's first day for `"MS"`, a Sunday for `"W-SUN"`), so every row, a whole number of steps
    after one of them, does too. Time stamps between the anchors (monthly data stamped on the 15th under `"MS"`)
    would otherwise read as a gap before every row, and a fill policy would fill those gaps with invented rows.
    `x` is on an anchor when one step forward and one back return it."""
    stamps = times[rows]
    anchors = shift_times(shift_times(stamps, freq), -freq)
    off = np.flatnonzero(anchors != stamps)
    if off.size:
        row = int(rows[off[0]])
        raise ValidationError(
            f"Timestamp off the {_freq_name(freq)} calendar: {_describe(frame, row)} is not one of its steps (the "
            f"step before it is {anchors[off[0]]}). {_restamp_hint(months_per_step(freq), _is_period_end(freq))}"
        )


def _is_period_end(freq: pd.DateOffset) -> bool:
    """Whether `freq` steps at the ends of months, quarters or years ('ME', 'QE', 'YE')."""
    return isinstance(freq, (pd.offsets.MonthEnd, pd.offsets.QuarterEnd, pd.offsets.YearEnd))


def _restamp_hint(months: int | None, period_ends: bool = False) -> str:
    """How to put time stamps `months` calendar months apart on a pandas calendar (None: not a month multiple), at
    the periods' ends for a period-end frequency ('ME', 'QE', 'YE')."""
    if months is None:
        return (
            "Fit with the frequency the time stamps follow (e.g. 'W-WED' for Wednesdays; freq left out infers it); "
            "a fitted model reads time stamps on its own frequency only."
        )
    code = {3: "Q", 12: "Y"}.get(months, "M")
    if period_ends:
        return (
            f"Stamp every row by the last day of its period, e.g. df[{TIME!r}] = "
            f"df[{TIME!r}].dt.to_period({code!r}).dt.end_time.dt.normalize(), or fit with the period starts' "
            f"frequency ('{code}S')."
        )
    return (
        f"Stamp every row by the first day of its period, e.g. df[{TIME!r}] = "
        f"df[{TIME!r}].dt.to_period({code!r}).dt.to_timestamp(); the forecasts then come at period starts."
    )


def _value_matrix(frame: pd.DataFrame, value_cols: Sequence[str]) -> np.ndarray:
    """Float64 `(n_rows, n_columns)`: the value columns, missing values as NaN."""
    return np.column_stack([frame[column].to_numpy(dtype=np.float64, na_value=np.nan) for column in value_cols])


FILL_POLICY_NAMES = "fill='ffill', 'interpolate', 'zero' or 'drop_series'"
FILL_REMEDY = f"choose a fill policy ({FILL_POLICY_NAMES})."
"""What a gap or a missing value asks for, where the fill policy is still to be chosen."""
FITTED_FILL_REMEDY = (
    f"fill them: this model was fitted without a fill policy (one fitted with {FILL_POLICY_NAMES} fills them)."
)
"""The same for a fitted model's history, whose policy its fit fixed."""


def _raise_on_gaps(frame, times, gap_rows, freq, remedy: str) -> None:
    if gap_rows.size:
        row = int(gap_rows[0])
        first_missing = shift_times(times[row - 1 : row], freq)[0]
        raise ValidationError(
            f"Gap in series {shown(frame[ID].iloc[row])}: no row at {TIME}={first_missing} "
            f"(expected one row per {_freq_name(freq)}; next row is {frame[TIME].iloc[row]}). "
            f"{gap_rows.size} {'gap' if gap_rows.size == 1 else 'gaps'} in all; {remedy}"
        )


def _raise_on_missing(frame, value_cols, missing, remedy: str) -> None:
    if missing.any():
        row, column = (int(index) for index in np.argwhere(missing)[0])
        raise ValidationError(
            f"Column {value_cols[column]!r} has a missing or infinite value ({frame[value_cols[column]].iloc[row]}) in "
            f"{_describe(frame, row)}; {int(missing.sum())} such values in all. {remedy}"
        )


def _drop_series(frame, codes, drop_codes, reason: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The frame without the series `drop_codes` (with a warning naming them) and its renumbered codes."""
    if drop_codes.size == 0:
        return frame, codes
    keep = ~np.isin(codes, drop_codes)
    if not keep.any():
        raise ValidationError(f"Every series was dropped ({reason}); nothing is left to window.")
    dropped_ids = frame[ID].to_numpy()[np.searchsorted(codes, drop_codes)]
    warnings.warn(
        f"Dropped {dropped_ids.size} series with {reason}: {shown_ids(dropped_ids)}.", UserWarning, stacklevel=4
    )
    kept_codes = codes[keep]
    renumbered = np.concatenate([[0], np.cumsum(np.diff(kept_codes) != 0)])
    return frame.loc[keep].reset_index(drop=True), renumbered


def _insert_gap_rows(frame, static_covariates, codes, series_starts, gap_rows, freq) -> pd.DataFrame:
    """The frame with one row (missing values, static covariates kept) per absent grid timestamp."""
    gap_codes = np.unique(codes[gap_rows])
    times = frame[TIME]
    new_rows = []
    for code in gap_codes:
        start, stop = series_starts[code], series_starts[code + 1]
        observed = times.iloc[start:stop]
        grid = grid_between(observed.iloc[0], observed.iloc[-1], freq)
        absent = grid[~pd.Index(grid).isin(pd.Index(observed))]
        template = frame.iloc[[start]][[ID, *static_covariates]]
        rows = template.loc[template.index.repeat(len(absent))].reset_index(drop=True)
        rows[TIME] = absent
        new_rows.append(rows)
    combined = pd.concat([frame, *new_rows], ignore_index=True)
    combined_codes = pd.factorize(combined[ID].to_numpy(), sort=True)[0]
    order = np.lexsort((time_values(parse_time_column(combined)), combined_codes))
    return combined.take(order).reset_index(drop=True)


def _observed_neighbours(observed: np.ndarray, series_starts: np.ndarray):
    """For every row of a series-contiguous column: the nearest observed row at or before it and at or after it
    (`previous`, `following`), and whether each lies in the row's own series (`has_previous`, `has_following`)."""
    positions = np.arange(observed.size)
    lengths = np.diff(series_starts)
    previous = np.maximum.accumulate(np.where(observed, positions, -1))
    following = np.minimum.accumulate(np.where(observed, positions, positions.size)[::-1])[::-1]
    has_previous = previous >= np.repeat(series_starts[:-1], lengths)
    has_following = following < np.repeat(series_starts[1:], lengths)
    return previous, following, has_previous, has_following


def _fill_missing(frame, value_cols, series_starts, fill) -> pd.DataFrame:
    """Fill NaN and +-inf in `value_cols` per series with the `fill` policy (vectorised)."""
    positions = np.arange(frame.shape[0])
    for column in value_cols:
        values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        observed = np.isfinite(values)
        if observed.all():
            continue
        if fill == "zero":
            frame[column] = np.where(observed, values, 0.0)
            continue
        previous, following, has_previous, has_following = _observed_neighbours(observed, series_starts)
        nothing_observed = ~observed & ~has_previous & ~has_following
        if nothing_observed.any():
            row = int(np.flatnonzero(nothing_observed)[0])
            raise ValidationError(
                f"Column {column!r} has no finite value at all in series {shown(frame[ID].iloc[row])}; "
                f"fill={fill!r} has nothing to fill from (use fill='zero' or 'drop_series')."
            )
        before = values[np.clip(previous, 0, None)]
        after = values[np.clip(following, None, positions.size - 1)]
        if fill == "ffill":
            filled = np.where(has_previous, before, after)
        else:
            span = np.maximum(following - previous, 1)
            weight = (positions - previous) / span
            interpolated = before + (after - before) * weight
            filled = np.where(has_previous & has_following, interpolated, np.where(has_previous, before, after))
        frame[column] = np.where(observed, values, filled)
    return frame
