"""`data.path` on engine `local`: a CSV or Parquet file, series ids read as text."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from forecast.jobs.engines.local import long_format
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
        frame = read_frame(value, id_column=columns["unique_id"], time_column=columns["ds"])
        return long_format(frame, columns)
