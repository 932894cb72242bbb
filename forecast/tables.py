"""Long frames from and to CSV or Parquet files, chosen by the file's suffix.

Series ids are text. `unique_id` is read as the exact text of a CSV cell (`001` stays `"001"`,
`NA` stays `"NA"`) and as strings from Parquet (an integer id `7` becomes `"7"`), so a model
fitted on text ids finds its series in every file.

Writes are atomic, serialised and leave nothing behind:

- The frame goes to a temporary file `.<name>.<8 characters>.tmp` in the target's directory, is
  flushed to disk and renamed over the target (`os.replace`, atomic on POSIX): a reader sees the old
  file or the new one, never half of one, and a failed or killed write leaves the old file as it was.
- The temporary file is created the way a plain `open()` creates a file (mode 0666 less the umask);
  a file that replaces an existing one keeps that file's mode.
- Every writer of a target holds an advisory lock (`fcntl.flock` on `.<name>.lock` beside it) from
  before it reads the target (`update_frame_atomic`, a read-modify-write) until after the rename,
  so two processes adding rows to one file never lose each other's rows. The lock file is removed on
  release (a waiter that then holds a removed file's lock notices and locks the new one).
- Since every writer holds the lock while its temporary file exists, a temporary file found by the lock
  holder was left by a killed writer (SIGKILL, power loss): it is removed. SIGTERM during a write, in a
  process without a SIGTERM handler of its own, raises `SystemExit(143)` instead of dying at once, so
  the temporary file is removed before the process exits.

The locks bind the processes that write through this module, on one host or on an NFS share (Linux
maps `flock` to NFS locks); they need POSIX (`fcntl`).
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import re
import secrets
import signal
import socket
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from forecast.writable import unwritable_reason
from pipelines.columns import ID, TIME
from pipelines.validation import ValidationError, parse_time_column

logger = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".parquet")
LOCK_TIMEOUT_S = 600.0
"""Seconds a writer waits for another writer of the same file before giving up with TimeoutError."""
_LOCK_POLL_S = 0.05
_EXIT_ON_SIGTERM = 128 + signal.SIGTERM
_CSV_MISSING = [
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"),
    *("<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
]
"""The cells `pandas.read_csv` reads as missing by default (its documented `na_values` list)."""


def check_table_path(path: str | os.PathLike) -> Path:
    """`path` as a Path; ValueError unless it ends in .csv or .parquet."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(f"expected a .csv or .parquet file; got {str(path)!r}")
    return path


def check_output_path(path: str | os.PathLike) -> Path:
    """`check_table_path`, and ValueError unless a file can be written there: `path` is no directory, and the nearest
    existing directory on its way is writable (checked before any work, so that a failure writes nothing)."""
    path = check_table_path(path)
    if path.is_dir():
        raise ValueError(f"cannot write {path}: it is a directory")
    unwritable = unwritable_reason(path)
    if unwritable is not None:
        raise ValueError(f"cannot write {path}: {unwritable}")
    return path


def text_ids(values: pd.Series) -> pd.Series:
    """`values` as strings (`7` -> `"7"`), missing values left missing."""
    return values.map(str, na_action="ignore").astype(object)


def read_frame(path: str | os.PathLike, id_column: str = "unique_id", time_column: str = "ds") -> pd.DataFrame:
    """A frame from a CSV or Parquet file, with `id_column` as text.

    A CSV id cell is kept exactly as written (an empty cell is missing); a non-integer CSV `time_column`
    is parsed as datetimes.
    """
    path = _existing(path)
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
        if id_column in frame.columns:
            frame[id_column] = text_ids(frame[id_column])
        return frame
    frame = _read_csv_with_text(path, [id_column])
    if id_column in frame.columns:
        frame[id_column] = frame[id_column].mask(frame[id_column] == "")
    if len(frame) and time_column in frame.columns and not pd.api.types.is_integer_dtype(frame[time_column]):
        ids = frame[id_column] if id_column in frame.columns else "series"
        try:
            times = parse_time_column(pd.DataFrame({ID: ids, TIME: frame[time_column]}))  # day first where it reads so
        except ValidationError as error:
            raise ValidationError(_in_file_terms(str(error), time_column)) from None
        frame[time_column] = pd.Series(times, index=frame.index)
    return frame


def _in_file_terms(message: str, time_column: str) -> str:
    """A time-column error of `parse_time_column` said of the CSV file: its own column name, and lines of the file
    (the header is line 1) instead of rows counted from 0."""
    message = message.replace(f"Column {TIME!r}", f"Column {time_column!r}")
    return re.sub(r"\brow (\d+)", lambda match: f"line {int(match.group(1)) + 2}", message)


def read_frame_like(path: str | os.PathLike, like: pd.DataFrame) -> pd.DataFrame:
    """A table written by `write_frame_atomic`, read back with the column types of `like`.

    CSV stores no types, and inferring them again rewrites what was written: ids `001` become the
    number 1, a model version `""` becomes NaN, timestamps stay text. Here a column that is text in
    `like` keeps the file's exact text, a datetime column of `like` is parsed as ISO 8601 (into `like`'s
    time zone), other columns are inferred. Parquet keeps its own types; `like`'s text columns are made
    text there too (files written before ids were text held integers).
    """
    path = _existing(path)
    text = [
        column
        for column in like.columns
        if pd.api.types.is_object_dtype(like[column]) or pd.api.types.is_string_dtype(like[column])
    ]
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
        for column in frame.columns.intersection(text):
            frame[column] = text_ids(frame[column])
        return frame
    frame = _read_csv_with_text(path, text)
    for column in frame.columns.intersection(like.columns):
        if pd.api.types.is_datetime64_any_dtype(like[column]):
            zone = like[column].dt.tz
            parsed = pd.to_datetime(frame[column], format="ISO8601", utc=zone is not None)
            frame[column] = parsed if zone is None else parsed.dt.tz_convert(zone)
    return frame


_RAGGED_LINE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
"""pandas' message for a CSV line with more fields than the header."""

DECIMAL_COMMA_NUMBER = re.compile(r"\s*[+-]?(?=[\d,])(\d{1,3}(\.\d{3})+|\d+)?(,\d+)?([eE][+-]?\d+)?\s*")
"""A number written with a decimal comma and optional thousands points (`1234,5`, `1.234,5`, `-3`, `,5`,
`1,5E-03`)."""


def csv_dialect(path: Path) -> dict[str, str]:
    """`read_csv`'s `sep` for the file: commas, except for a header separated by semicolons and holding no comma, as
    spreadsheets write CSV where the comma marks decimals (Excel in most of Europe); such a file's numbers are read
    by `_decimal_comma_columns`."""
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    if ";" not in header or "," in header:
        return {}
    return {"sep": ";"}


def _decimal_comma_columns(
    frame: pd.DataFrame, text: list[str], read_as_text: Callable[[list[str]], pd.DataFrame]
) -> None:
    """Numbers of a semicolon file written with decimal commas (`DECIMAL_COMMA_NUMBER`), column by column (not the
    `text` columns).

    A text column whose every value is such a number, at least one with the comma, is made numbers. Where one
    is, the file writes decimal commas, so a column that pandas read with decimal points is read again as text
    (`read_as_text`): whole numbers with thousands points (`1.234`) are made numbers, a decimal point (`1.5`) leaves
    the column text, for validation to name its first odd value. A file without decimal commas keeps pandas'
    reading."""
    converted = False
    for column in frame.columns.difference(text):
        values = frame[column]
        if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            given = values.dropna().astype(str)
            if given.str.contains(",", regex=False).any() and given.str.fullmatch(DECIMAL_COMMA_NUMBER).all():
                frame[column] = _comma_numbers(values)
                converted = True
    dotted = [column for column in frame.columns.difference(text) if pd.api.types.is_float_dtype(frame[column])]
    if not (converted and dotted):
        return
    raw = read_as_text(dotted)
    for column in dotted:
        given = raw[column].dropna()
        if given.str.contains(".", regex=False).any():
            matched = given.str.fullmatch(DECIMAL_COMMA_NUMBER).all()
            frame[column] = _comma_numbers(raw[column]) if matched else raw[column].astype(object)


def _comma_numbers(values: pd.Series) -> pd.Series:
    """Text numbers with decimal commas and thousands points as floats (missing values kept)."""
    written = values.astype(str).str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(written.where(values.notna()))


def _read_csv_with_text(path: Path, text: list[str]) -> pd.DataFrame:
    """`pandas.read_csv` with the `text` columns as the cells' exact text (Python strings, `NA` and the
    empty cell included); the other columns are inferred and their missing cells detected as usual. A line with
    more fields than the header is refused naming it (`line 218 has 4 fields, the header 3`); where every line
    ends with an empty field (a delimiter closing each line), that field is dropped (pandas would shift the columns).

    pandas 3 detects missing cells before it applies `converters`, so the text columns are excluded
    from missing-value detection by name (`keep_default_na=False` with a per-column list).
    """
    dialect = csv_dialect(path)
    header = pd.read_csv(path, nrows=0, **dialect).columns
    text = [column for column in header if column in set(text)]
    missing = {column: _CSV_MISSING for column in header if column not in text}
    options = {"dtype": dict.fromkeys(text, str), "keep_default_na": False, "na_values": missing, **dialect}
    try:
        frame = pd.read_csv(path, **options)
    except pd.errors.ParserError as error:
        ragged = _RAGGED_LINE.search(str(error))
        if ragged is None:
            raise
        expected, line, found = ragged.groups()
        raise ValueError(f"line {line} has {found} fields, the header {expected}") from None
    if not isinstance(frame.index, pd.RangeIndex):  # every line holds one field more than the header names
        extra = frame[header[-1]]  # pandas made the first field the index: the last column holds the extra field
        if not (extra.isna() | (extra.astype(str) == "")).all():
            raise ValueError(f"line 2 has {len(header) + 1} fields, the header {len(header)} (and so has every line)")
        with warnings.catch_warnings():  # a delimiter ends every line: its empty field is dropped
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False, **options)
    for column in text:
        frame[column] = frame[column].astype(object)
    if dialect:

        def read_as_text(columns: list[str]) -> pd.DataFrame:
            na_values = dict.fromkeys(columns, _CSV_MISSING)
            return pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False, na_values=na_values, **dialect)

        _decimal_comma_columns(frame, text, read_as_text)
    return frame


def write_frame_atomic(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write `frame` as CSV or Parquet (by suffix) through a temporary file, holding the target's lock."""
    path = check_table_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with table_lock(path):
        _write(frame, path)


def update_frame_atomic(
    path: str | os.PathLike,
    update: Callable[[pd.DataFrame | None], pd.DataFrame],
    like: pd.DataFrame,
) -> None:
    """Replace the table at `path` by `update(current)`, with no other writer in between.

    `current` is the file's rows read with the column types of `like` (`read_frame_like`), or
    None when there is no file yet. The lock is held from before the read until after the rename, so a
    concurrent update waits and then sees this one's rows.
    """
    path = check_table_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with table_lock(path):
        current = read_frame_like(path, like) if path.exists() else None
        _write(update(current), path)


def _existing(path: str | os.PathLike) -> Path:
    path = check_table_path(path)
    if not path.exists():
        raise FileNotFoundError(f"file {path} does not exist")
    return path


def _write(frame: pd.DataFrame, path: Path) -> None:
    """The atomic write proper; the caller holds the lock of `path`."""
    _remove_stale_temporaries(path)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL with mode 0666: the umask applies as for open(); mkstemp would make it 0600.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    with _exit_on_sigterm():
        try:
            if path.suffix.lower() == ".parquet":
                with os.fdopen(descriptor, "wb") as handle:
                    frame.to_parquet(handle, index=False)
                    handle.flush()
                    os.fsync(handle.fileno())
            else:
                with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                    frame.to_csv(handle, index=False)
                    handle.flush()
                    os.fsync(handle.fileno())
            if mode is not None:
                os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def _remove_stale_temporaries(path: Path) -> None:
    """Remove temporary files of `path` left by killed writers (the caller holds the lock, so no live writer owns one).

    The name pattern also matches the `tempfile.mkstemp` names of earlier versions.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if pattern.fullmatch(candidate.name):
            size = candidate.stat().st_size
            candidate.unlink(missing_ok=True)
            logger.warning("removed %s (%d bytes), left by a writer of %s that was killed", candidate, size, path)


@contextmanager
def table_lock(path: str | os.PathLike, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the advisory lock that every writer of the table file `path` takes (`.<name>.lock` beside it).

    Waits while another process holds it; raises TimeoutError naming the holder (pid and host) after
    `timeout_s` seconds. The writers of this module take it themselves, and it is not re-entrant: while
    holding it, read the file, but do not call those writers for the same path (use
    `update_frame_atomic` for a read-modify-write).
    """
    path = Path(path)
    lock_path = path.with_name(f".{path.name}.lock")
    deadline = time.monotonic() + timeout_s
    waiting_logged = False
    while True:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip() or "another process"
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"{path} is being written by {holder} for more than {timeout_s:.0f} s "
                            f"(lock file {lock_path})"
                        ) from None
                    if not waiting_logged:
                        logger.info("waiting for %s to finish writing %s", holder, path)
                        waiting_logged = True
                    time.sleep(_LOCK_POLL_S)
        except BaseException:
            os.close(descriptor)
            raise
        # The previous holder removes the lock file on release: a lock on a removed file locks nothing.
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        held = os.fstat(descriptor)
        if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
            break
        os.close(descriptor)
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        lock_path.unlink(missing_ok=True)
        os.close(descriptor)


def _raise_exit(signum: int, frame) -> None:
    raise SystemExit(_EXIT_ON_SIGTERM)


@contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    """SIGTERM raises SystemExit(143) for the duration of a write, so the temporary file is removed.

    Only where the process keeps Python's default (die at once) and only in the main thread (the only
    one that may set handlers); a process with its own SIGTERM handler, like the job scheduler's
    graceful stop, keeps it.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
