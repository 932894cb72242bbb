"""Long frames from and to CSV or Parquet files, chosen by the file's suffix.

Writes are atomic: the frame goes to a temporary file in the target's
directory, which is then renamed over the target (`os.replace`, atomic on
POSIX), so a reader sees the old file or the new one, never half of one, and
a failed or killed write leaves the old file as it was.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet")


def check_table_path(path: str | os.PathLike) -> Path:
    """`path` as a Path; ValueError unless it ends in .csv or .parquet."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(f"expected a .csv or .parquet file; got {str(path)!r}")
    return path


def read_frame(path: str | os.PathLike) -> pd.DataFrame:
    """A frame from a CSV or Parquet file; a non-integer CSV `ds` column is parsed as datetimes."""
    path = check_table_path(path)
    if not path.exists():
        raise FileNotFoundError(f"file {path} does not exist")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    frame = pd.read_csv(path)
    if "ds" in frame.columns and not pd.api.types.is_integer_dtype(frame["ds"]):
        frame["ds"] = pd.to_datetime(frame["ds"])
    return frame


def write_frame_atomic(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write `frame` as CSV or Parquet (by suffix) through a temporary file in the same directory."""
    path = check_table_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        if path.suffix.lower() == ".parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
