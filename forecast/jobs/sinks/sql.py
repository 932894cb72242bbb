"""`output.sql` on engine `local`: a table through SQLAlchemy, one transaction per run.

The transaction first deletes the rows of the same `(job, as_of)`, so running the same `as_of`
twice leaves exactly one set of rows. Writers of one table are serialised by the database:
PostgreSQL takes a transaction-scoped advisory lock named after the table (`pg_advisory_xact_lock`)
before the delete, SQLite starts the transaction with `BEGIN IMMEDIATE` (the database's write
lock). Without that, two runs of the same `as_of` under READ COMMITTED both delete nothing and both
insert, duplicating the rows. Series ids are text: a table whose `unique_id` column is numeric is
refused, and so is a table (or view) that lacks a column the sink writes, or whose `as_of` column (or
another timestamp column the sink writes, `ds`) is not a timestamp type (a TEXT column made by hand: the
run's rows could not be told apart from the others), before any row is written. A SQLite database file is
created on the first write, with its directory, as file sinks create theirs.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
from pydantic import Field

from forecast.jobs.engine import RunLabel, Written, check_stored_columns
from forecast.jobs.references import sqlite_url_relative_to_spec
from forecast.jobs.registry import Sink, SpecSection, register_sink
from forecast.run_columns import AS_OF_COLUMN, JOB_COLUMN
from forecast.tables import LOCK_TIMEOUT_S, text_ids

logger = logging.getLogger(__name__)

ID_COLUMN = "unique_id"
RUN_COLUMNS = (JOB_COLUMN, AS_OF_COLUMN)
"""The columns that tell the runs in a table apart: a table without them holds no runs of this sink."""


class SqlSink(SpecSection):
    url: str
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


@register_sink
class SqlTableSink(Sink):
    """Rows appended to `output.sql.table` at `output.sql.url`, replacing those of the same job and as_of."""

    key = "sql"
    spec = SqlSink
    engine = "local"
    description = "a table through SQLAlchemy (url + table)"

    def relative_to(self, value: SqlSink, directory: Path) -> SqlSink:
        return value.model_copy(update={"url": sqlite_url_relative_to_spec(value.url, directory)})

    def paths(self, value: SqlSink, as_of: pd.Timestamp | None) -> list[str]:
        return [database] if (database := sqlite_file(value.url)) else []

    def write(self, engine, forecasts: pd.DataFrame, value: SqlSink, run: RunLabel) -> Written:
        import sqlalchemy

        forecasts = forecasts.assign(**run.columns())
        table = value.table
        if database_file := sqlite_file(value.url):
            Path(database_file).parent.mkdir(parents=True, exist_ok=True)  # as file sinks create theirs
        database = _sink_engine(value.url)
        try:
            with database.begin() as connection:
                _serialise_writers(connection, table)
                if sqlalchemy.inspect(connection).has_table(table):
                    # Reflect the table so the as_of parameter is bound with the column's own type.
                    existing = _stored_table(connection, table, forecasts.columns, _timestamp_columns(forecasts))
                    id_type = existing.c[ID_COLUMN].type if ID_COLUMN in existing.c else None
                    if id_type is not None and not isinstance(id_type, sqlalchemy.String):
                        raise ValueError(
                            f"table {table} stores {ID_COLUMN} as {id_type}, but series ids are text: "
                            f"change the column to a text type (or write to a new table)"
                        )
                    connection.execute(sqlalchemy.delete(existing).where(*_of_run(existing, run)))
                forecasts.to_sql(table, connection, if_exists="append", index=False)
        finally:
            database.dispose()
        return Written(location=f"table {table}", rows=len(forecasts))

    def remove(self, engine, value: SqlSink, run: RunLabel) -> None:
        import sqlalchemy

        database = _sink_engine(value.url)
        try:
            with database.begin() as connection:
                if sqlalchemy.inspect(connection).has_table(value.table):
                    stored = _stored_table(connection, value.table, RUN_COLUMNS)
                    connection.execute(sqlalchemy.delete(stored).where(*_of_run(stored, run)))
        finally:
            database.dispose()

    def read_forecasts(self, engine, value: SqlSink, job: str) -> pd.DataFrame:
        import sqlalchemy

        nothing = pd.DataFrame(columns=[ID_COLUMN, "ds", "y_hat", JOB_COLUMN, AS_OF_COLUMN])
        database_file = sqlite_file(value.url)
        if database_file is not None and not Path(database_file).exists():
            return nothing  # connecting would create the file: a run that fails later must leave none behind
        database = sqlalchemy.create_engine(value.url)
        try:
            with database.connect() as connection:
                if not sqlalchemy.inspect(connection).has_table(value.table):
                    return nothing
                stored = _stored_table(connection, value.table, RUN_COLUMNS)
                # A selectable, not text: SQLAlchemy converts each column by its type (SQLite keeps timestamps as text).
                frame = pd.read_sql(sqlalchemy.select(stored).where(stored.c[JOB_COLUMN] == job), connection)
        finally:
            database.dispose()
        frame[ID_COLUMN] = text_ids(frame[ID_COLUMN])
        frame[AS_OF_COLUMN] = pd.to_datetime(frame[AS_OF_COLUMN])
        return frame


def _stored_table(connection, table: str, needed, timestamps=(AS_OF_COLUMN,)):
    """The existing `table`, reflected (`sqlalchemy.Table`); ValueError naming the columns of `needed` it lacks, or
    the first of `timestamps` (the `as_of` column, and every timestamp column a write writes) that holds no
    timestamps."""
    import sqlalchemy

    stored = sqlalchemy.Table(table, sqlalchemy.MetaData(), autoload_with=connection)
    check_stored_columns("table", table, stored.c.keys(), needed)
    check_timestamp_columns(stored, table, timestamps)
    return stored


def _timestamp_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of `frame` that hold timestamps (`ds`, `as_of`, an accuracy table's `forecast_as_of`)."""
    return [name for name in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[name])]


def check_timestamp_columns(stored, table: str, columns) -> None:
    """ValueError (one line) naming the first of `columns` that the reflected `stored` table keeps in a type other
    than a timestamp: the sink binds timestamps to find a run's rows and writes timestamps, which such a column would
    compare as text (PostgreSQL refuses the comparison, SQLite finds no row and the run's rows pile up)."""
    import sqlalchemy

    for name in columns:
        if name not in stored.c:
            continue
        found = stored.c[name].type
        if not isinstance(found, sqlalchemy.DateTime):
            declared = "no declared type" if isinstance(found, sqlalchemy.types.NullType) else found
            raise ValueError(
                f"table {table} stores {name} as {declared}, but the sink writes timestamps there: change the "
                f"column to a timestamp type (TIMESTAMP) or give the sink a new table"
            )


def _of_run(table, run: RunLabel) -> tuple:
    """The conditions that select the rows of `run`'s job and as_of in `table` (a reflected `sqlalchemy.Table`)."""
    return table.c[JOB_COLUMN] == run.job, table.c[AS_OF_COLUMN] == run.as_of.to_pydatetime()


def sqlite_file(url: str) -> str | None:
    """The database file a SQLite URL names, a plain path or a SQLite URI (None: another database, or memory)."""
    import sqlalchemy

    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database.startswith("file:"):
        database = unquote(urlsplit(database.partition("?")[0]).path)
    return None if database in ("", ":memory:") else database


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
