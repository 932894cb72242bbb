"""`data.sql` on engine `local`: a query through SQLAlchemy, on a connection that cannot write.

- SQLite is opened with `mode=ro` forced, for a plain path (`sqlite:///data.db`) and for a SQLite
  URI (`sqlite:///file:data.db?uri=true`) alike: a missing file is an error, never a new empty
  database. An authorizer (`sqlite3.Connection.set_authorizer`) refuses what read-only mode lets
  through: `ATTACH` and `DETACH` (an attached file is opened read-write, and `ATTACH` or
  `VACUUM INTO` create files) and `PRAGMA` assignments.
- PostgreSQL runs the query in a read-only transaction.

Series ids come out as text (`7` -> `"7"`), as from files.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pandas as pd
from pydantic import Field

from forecast.jobs.engines.local import long_format
from forecast.jobs.references import sqlite_url_relative_to_spec
from forecast.jobs.registry import Source, SpecSection, register_source
from forecast.tables import text_ids

_PRAGMAS_READING_AN_ARGUMENT = frozenset(
    {
        "foreign_key_check",
        "foreign_key_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "integrity_check",
        "quick_check",
        "table_info",
        "table_list",
        "table_xinfo",
    }
)
"""Pragmas whose argument names what to read (`PRAGMA table_info(t)`), unlike an assignment (`PRAGMA x = 1`)."""


class SqlSource(SpecSection):
    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///data.db or postgresql://user:${PGPASSWORD}@host/db")
    query: str


@register_source
class SqlQuery(Source):
    """The rows of `data.sql.query` on the database at `data.sql.url`."""

    key = "sql"
    spec = SqlSource
    engine = "local"
    description = "a query through SQLAlchemy (url + query)"

    def relative_to(self, value: SqlSource, directory: Path) -> SqlSource:
        return value.model_copy(update={"url": sqlite_url_relative_to_spec(value.url, directory)})

    def read(self, engine, value: SqlSource, columns: Mapping[str, str]) -> pd.DataFrame:
        frame = read_query(value.url, value.query)
        if columns["unique_id"] in frame.columns:
            frame[columns["unique_id"]] = text_ids(frame[columns["unique_id"]])
        return long_format(frame, columns)


def read_query(url: str, query: str) -> pd.DataFrame:
    """The rows of `query` on a read-only connection to `url`."""
    import sqlalchemy

    authorizer = _ReadOnlyAuthorizer()
    engine = read_only_engine(url, authorizer)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(postgresql_readonly=True)
            try:
                return pd.read_sql_query(sqlalchemy.text(query), connection)
            except Exception:
                if authorizer.refused:
                    raise PermissionError(
                        f"data.sql.query may only read, but SQLite was asked to run {authorizer.refused[0]}"
                    ) from None
                raise
    finally:
        engine.dispose()


def read_only_engine(url: str, authorizer: _ReadOnlyAuthorizer):
    """A SQLAlchemy engine for `url` that cannot write (SQLite: `mode=ro` and `authorizer` on every connection)."""
    import sqlalchemy

    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sqlalchemy.create_engine(parsed)
    engine = sqlalchemy.create_engine(read_only_sqlite_url(parsed))

    @sqlalchemy.event.listens_for(engine, "connect")
    def _refuse_writes(dbapi_connection, connection_record) -> None:
        dbapi_connection.set_authorizer(authorizer)

    return engine


def read_only_sqlite_url(url):
    """A SQLite URL (`sqlalchemy.engine.URL`) opening its database file with `mode=ro` and `uri=true`.

    A plain path becomes `file:<absolute path>`; a SQLite URI (`file:...`) keeps its path and
    parameters, but its `mode` becomes `ro`. An in-memory database stays as it is (there is no
    file to protect; ATTACH is still refused). Raises FileNotFoundError when the file does not exist.
    """
    database = url.database or ""
    if database.startswith("file:"):
        location, _, inline = database.partition("?")
        parameters = {**dict(parse_qsl(inline)), **url.query}
        path = unquote(urlsplit(location).path)
        if path in ("", ":memory:") or parameters.get("mode") == "memory":
            return url
    elif database in ("", ":memory:"):
        return url
    else:
        path = str(Path(database).resolve())
        location, parameters = f"file:{quote(path)}", dict(url.query)
    if not Path(path).is_file():
        raise FileNotFoundError(f"SQLite database {path} does not exist")
    return url.set(database=location, query={**parameters, "mode": "ro", "uri": "true"})


class _ReadOnlyAuthorizer:
    """SQLite authorizer callback refusing ATTACH, DETACH and PRAGMA assignments; remembers what it refused."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(self, action: int, first: str | None, second: str | None, database: str | None, trigger) -> int:
        if action == sqlite3.SQLITE_ATTACH:
            self.refused.append(f"ATTACH DATABASE {first!r}")
        elif action == sqlite3.SQLITE_DETACH:
            self.refused.append(f"DETACH DATABASE {first!r}")
        elif (
            action == sqlite3.SQLITE_PRAGMA and second is not None and first.lower() not in _PRAGMAS_READING_AN_ARGUMENT
        ):
            self.refused.append(f"PRAGMA {first} = {second}")
        else:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
