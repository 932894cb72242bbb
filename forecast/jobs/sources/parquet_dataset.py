"""`data.path` on engine `spark`: a Parquet file or directory (partitioned directories included)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from forecast.jobs.references import relative_to_spec
from forecast.jobs.registry import Source, register_source


@register_source
class ParquetDatasetSource(Source):
    """Parquet files read by Spark (`forecast.spark.read_table`), ids cast to text, dates to timestamps."""

    key = "path"
    spec = str
    engine = "spark"
    description = "a Parquet file or directory"

    def relative_to(self, value: str, directory: Path) -> str:
        return relative_to_spec(value, directory)

    def read(self, engine, value: str, columns: Mapping[str, str]):
        from forecast import spark as fs

        return fs.read_table(engine.session, path=value, columns=columns)
