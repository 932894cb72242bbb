"""`data.table` on engine `spark`: a table or view of the Spark session's catalog (`db.table`)."""

from __future__ import annotations

from collections.abc import Mapping

from forecast.jobs.registry import Source, register_source


@register_source
class SparkTableSource(Source):
    """A catalog table read by Spark (`forecast.spark.read_table`), ids cast to text, dates to timestamps."""

    key = "table"
    spec = str
    engine = "spark"
    description = "a table of the Spark catalog"

    def read(self, engine, value: str, columns: Mapping[str, str]):
        from forecast import spark as fs

        return fs.read_table(engine.session, table=value, columns=columns)
