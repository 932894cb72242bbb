"""`data.path` on engine `local`: a CSV or Parquet file, series ids read as text.

A file that is no table (empty, a row with more fields than the header, a date that does not parse,
not UTF-8) fails in one line naming it: `cannot read data.csv: line 218 has 4 fields, the header 3`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from forecast.jobs.engines.local import long_format
from forecast.jobs.errors import describe
from forecast.jobs.references import has_reference, relative_to_spec
from forecast.jobs.registry import Source, register_source
from forecast.tables import check_table_path, read_frame


def check_file_path(path: str) -> None:
    """ValueError unless `path` ends in .csv or .parquet (unknown while its file name holds a reference)."""
    if not has_reference(Path(path).name):
        check_table_path(path)


@register_source
class FileSource(Source):
    """A CSV or Parquet file (`forecast.tables.read_frame`: a CSV id cell is kept as written)."""

    key = "path"
    spec = str
    engine = "local"
    description = "a CSV or Parquet file"

    def check(self, value: str) -> None:
        check_file_path(value)

    def relative_to(self, value: str, directory: Path) -> str:
        return relative_to_spec(value, directory)

    def read(self, engine, value: str, columns: Mapping[str, str]) -> pd.DataFrame:
        try:
            frame = read_frame(value, id_column=columns["unique_id"], time_column=columns["ds"])
        except ValueError as error:  # pandas' parser errors and the time column's ValidationError included
            raise ValueError(f"cannot read {value}: {_reason(error)}") from None
        return long_format(frame, columns)


def _reason(error: ValueError) -> str:
    """Why `read_frame` could not read a file, short: pandas' parser messages reworded."""
    if isinstance(error, pd.errors.EmptyDataError):
        return "the file is empty"
    return describe(error)
