"""Reading a job's data and writing its forecasts, atomically and idempotently.

Files are written atomically (:func:`forecast.tables.write_frame_atomic`). SQL tables are written in one
transaction that first deletes the rows of the same ``(job, as_of)``, so
running the same ``as_of`` twice leaves exactly one set of rows.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from forecast.jobs.spec import DataSpec, OutputSpec, expand_env
from forecast.tables import read_frame, write_frame_atomic

logger = logging.getLogger(__name__)

JOB_COLUMN = "job"
AS_OF_COLUMN = "as_of"
MODEL_VERSION_COLUMN = "model_version"


def read_source(spec: DataSpec) -> pd.DataFrame:
    """Read the job's data and rename its columns to ``unique_id``, ``ds``, ``y``.

    Transient failures (I/O and database errors) are retried ``spec.retries``
    times with exponential backoff; a missing file is not transient.
    """
    import sqlalchemy

    attempt = 0
    while True:
        try:
            if spec.path is not None:
                frame = read_frame(spec.path)
            else:
                engine = sqlalchemy.create_engine(expand_env(spec.sql.url))
                try:
                    with engine.connect() as connection:
                        frame = pd.read_sql_query(sqlalchemy.text(spec.sql.query), connection)
                finally:
                    engine.dispose()
            break
        except FileNotFoundError:
            raise
        except (OSError, sqlalchemy.exc.OperationalError) as error:
            if attempt >= spec.retries:
                raise
            delay = spec.retry_backoff_s * 2**attempt
            logger.warning(
                "reading the job data failed (%s); retry %d/%d in %.1fs", error, attempt + 1, spec.retries, delay
            )
            time.sleep(delay)
            attempt += 1
    mapping = spec.columns
    missing = [column for column in (mapping.unique_id, mapping.ds, mapping.y) if column not in frame.columns]
    if missing:
        raise ValueError(f"job data lacks column(s) {missing}; found {list(frame.columns)}")
    return frame.rename(columns={mapping.unique_id: "unique_id", mapping.ds: "ds", mapping.y: "y"})


def format_as_of(as_of: pd.Timestamp) -> str:
    """The ``{as_of}`` text used in output paths: ``20261122T020000``."""
    return as_of.strftime("%Y%m%dT%H%M%S")


def write_forecasts(forecasts: pd.DataFrame, spec: OutputSpec, job: str, as_of: pd.Timestamp) -> str:
    """Write one run's forecasts, replacing any earlier rows of the same job and ``as_of``.

    ``forecasts`` already carries the job, as_of and model version columns.
    Returns a description of where the rows went.
    """
    if spec.path is not None:
        return _write_file(forecasts, spec.path, job, as_of)
    return _write_sql(forecasts, spec.sql.url, spec.sql.table, job, as_of)


def _write_file(forecasts: pd.DataFrame, template: str, job: str, as_of: pd.Timestamp) -> str:
    path = Path(template.replace("{as_of}", format_as_of(as_of)))
    if "{as_of}" not in template and path.exists():
        # One file for all runs: keep other runs' rows, replace this run's.
        previous = read_frame(path)
        for column in forecasts.columns.intersection(previous.columns):
            if pd.api.types.is_datetime64_any_dtype(forecasts[column]):
                previous[column] = pd.to_datetime(previous[column])
        previous = previous.loc[~((previous[JOB_COLUMN] == job) & (previous[AS_OF_COLUMN] == as_of))]
        if len(previous):
            forecasts = pd.concat([previous, forecasts], ignore_index=True)
    write_frame_atomic(forecasts, path)
    return str(path)


def _write_sql(forecasts: pd.DataFrame, url: str, table: str, job: str, as_of: pd.Timestamp) -> str:
    import sqlalchemy

    engine = sqlalchemy.create_engine(expand_env(url))
    try:
        with engine.begin() as connection:
            if sqlalchemy.inspect(connection).has_table(table):
                # Reflect the table so the as_of parameter is bound with the column's own type.
                existing = sqlalchemy.Table(table, sqlalchemy.MetaData(), autoload_with=connection)
                connection.execute(
                    sqlalchemy.delete(existing).where(
                        existing.c[JOB_COLUMN] == job, existing.c[AS_OF_COLUMN] == as_of.to_pydatetime()
                    )
                )
            forecasts.to_sql(table, connection, if_exists="append", index=False)
    finally:
        engine.dispose()
    return f"table {table}"
