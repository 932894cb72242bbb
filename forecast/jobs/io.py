"""Reading a job's data and writing its forecasts: atomic, idempotent, safe under concurrent runs.

Sources are opened read-only (a SQLite file with ``mode=ro``, so a missing file is an error instead of
a new empty database; PostgreSQL in a read-only transaction), and series ids come out as text from
every source.

Files are written atomically (:func:`forecast.tables.write_frame_atomic`). A single file holding all
runs (an ``output.path`` without ``{as_of}``) is a read-modify-write under the file's advisory lock
(:func:`forecast.tables.update_frame_atomic`): concurrent runs wait for each other, and the rows of
other runs are read back with the types they were written with.

SQL tables are written in one transaction that first deletes the rows of the same ``(job, as_of)``,
so running the same ``as_of`` twice leaves exactly one set of rows. Writers of one table are
serialised by the database: PostgreSQL takes a transaction-scoped advisory lock named after the
table (``pg_advisory_xact_lock``) before the delete, SQLite starts the transaction with ``BEGIN
IMMEDIATE`` (the database's write lock). Without that, two runs of the same ``as_of`` under READ
COMMITTED both delete nothing and both insert, duplicating the rows.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from forecast.jobs.spec import DataSpec, OutputSpec, expand_env
from forecast.tables import LOCK_TIMEOUT_S, read_frame, text_ids, update_frame_atomic, write_frame_atomic

logger = logging.getLogger(__name__)

JOB_COLUMN = "job"
AS_OF_COLUMN = "as_of"
MODEL_VERSION_COLUMN = "model_version"
ID_COLUMN = "unique_id"


def read_source(spec: DataSpec) -> pd.DataFrame:
    """Read the job's data and rename its columns to ``unique_id`` (text), ``ds``, ``y``.

    Transient failures (I/O and database errors) are retried ``spec.retries``
    times with exponential backoff; a missing file is not transient.
    """
    import sqlalchemy

    mapping = spec.columns
    attempt = 0
    while True:
        try:
            if spec.path is not None:
                frame = read_frame(spec.path, id_column=mapping.unique_id, time_column=mapping.ds)
            else:
                frame = _read_sql(spec.sql.url, spec.sql.query)
                if mapping.unique_id in frame.columns:
                    frame[mapping.unique_id] = text_ids(frame[mapping.unique_id])
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
    missing = [column for column in (mapping.unique_id, mapping.ds, mapping.y) if column not in frame.columns]
    if missing:
        raise ValueError(f"job data lacks column(s) {missing}; found {list(frame.columns)}")
    return frame.rename(columns={mapping.unique_id: ID_COLUMN, mapping.ds: "ds", mapping.y: "y"})


def _read_sql(url: str, query: str) -> pd.DataFrame:
    import sqlalchemy

    engine = sqlalchemy.create_engine(read_only_url(expand_env(url)))
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(postgresql_readonly=True)
            return pd.read_sql_query(sqlalchemy.text(query), connection)
    finally:
        engine.dispose()


def read_only_url(url: str):
    """A SQLAlchemy URL that opens a SQLite file read-only (``file:...?mode=ro``); other URLs as they are.

    Raises FileNotFoundError for a SQLite file that does not exist (SQLite would create an empty one).
    """
    import sqlalchemy

    parsed = sqlalchemy.engine.make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return parsed
    path = Path(database)
    if not path.is_file():
        raise FileNotFoundError(f"SQLite database {path} does not exist")
    return parsed.set(
        database=f"file:{quote(str(path.resolve()))}", query={**parsed.query, "mode": "ro", "uri": "true"}
    )


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
    if "{as_of}" in template:
        write_frame_atomic(forecasts, path)
        return str(path)

    def merged(previous: pd.DataFrame | None) -> pd.DataFrame:
        """One file for all runs: keep other runs' rows, replace this run's."""
        if previous is None:
            return forecasts
        previous = previous.loc[~((previous[JOB_COLUMN] == job) & (previous[AS_OF_COLUMN] == as_of))]
        return pd.concat([previous, forecasts], ignore_index=True) if len(previous) else forecasts

    update_frame_atomic(path, merged, like=forecasts)
    return str(path)


def _write_sql(forecasts: pd.DataFrame, url: str, table: str, job: str, as_of: pd.Timestamp) -> str:
    import sqlalchemy

    engine = _sink_engine(expand_env(url))
    try:
        with engine.begin() as connection:
            _serialise_writers(connection, table)
            if sqlalchemy.inspect(connection).has_table(table):
                # Reflect the table so the as_of parameter is bound with the column's own type.
                existing = sqlalchemy.Table(table, sqlalchemy.MetaData(), autoload_with=connection)
                id_type = existing.c[ID_COLUMN].type if ID_COLUMN in existing.c else None
                if id_type is not None and not isinstance(id_type, sqlalchemy.String):
                    raise ValueError(
                        f"table {table} stores {ID_COLUMN} as {id_type}, but series ids are text: "
                        f"change the column to a text type (or write to a new table)"
                    )
                connection.execute(
                    sqlalchemy.delete(existing).where(
                        existing.c[JOB_COLUMN] == job, existing.c[AS_OF_COLUMN] == as_of.to_pydatetime()
                    )
                )
            forecasts.to_sql(table, connection, if_exists="append", index=False)
    finally:
        engine.dispose()
    return f"table {table}"


def _sink_engine(url: str):
    """An engine whose SQLite transactions start with BEGIN IMMEDIATE and wait up to LOCK_TIMEOUT_S for the lock."""
    import sqlalchemy

    if sqlalchemy.engine.make_url(url).get_backend_name() != "sqlite":
        return sqlalchemy.create_engine(url)
    engine = sqlalchemy.create_engine(url, connect_args={"timeout": LOCK_TIMEOUT_S})

    @sqlalchemy.event.listens_for(engine, "connect")
    def _driver_without_transactions(dbapi_connection, connection_record) -> None:
        # pysqlite would BEGIN (deferred) on its own before the first write; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:
        # The write lock from the start: a concurrent writer waits here instead of failing on upgrade.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def sink_lock_key(table: str) -> int:
    """The PostgreSQL advisory lock key (a signed 64-bit integer) that serialises the writers of `table`."""
    digest = hashlib.blake2b(f"lstm-forecast job sink {table}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _serialise_writers(connection, table: str) -> None:
    """Make concurrent writers of `table` take turns until this transaction ends."""
    import sqlalchemy

    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": sink_lock_key(table)})
    elif dialect != "sqlite":  # SQLite: BEGIN IMMEDIATE already holds the database's write lock
        logger.warning(
            "no writer lock for %s databases: concurrent runs of the same as_of may duplicate rows in table %s",
            dialect,
            table,
        )
