"""How a job run fails: its exception types, one-line messages, and which failures are worth a retry.

Every message a job prints or records is one line with credentials masked. A database error keeps
the driver's own message and its type, `(sqlite3.OperationalError) no such table: observations`;
SQLAlchemy's `[SQL: ...]`, `[parameters: ...]` and "Background on this error" lines, and the
pandas wrapper that repeats the query, are left out, also where the error is quoted in another
message.

Reads are retried only after transient failures, which may pass by themselves: a lost or refused
connection, a timeout, a locked SQLite database, PostgreSQL's connection, resource and shutdown
errors (SQLSTATE classes 08, 53, 57, 58; serialization failures and deadlocks), and I/O errors other
than a missing file, a denied permission or a wrong kind of file. A permanent failure (a read-only
database, a missing table, a syntax error, a denied permission) fails at once.
"""

from __future__ import annotations

import errno
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from forecast.redaction import redact

logger = logging.getLogger(__name__)

Result = TypeVar("Result")

_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "58")
_TRANSIENT_SQLSTATES = ("40001", "40P01")
_TRANSIENT_MESSAGES = (
    "database is locked",
    "database table is locked",
    "connection refused",
    "connection reset",
    "connection failed",
    "could not connect",
    "server closed the connection",
    "lost connection",
    "broken pipe",
    "timed out",
    "timeout expired",
    "temporarily unavailable",
    "too many connections",
)
_SQLALCHEMY_DETAILS = re.compile(
    r"\n\[SQL: .*?(?:\n\(Background on this error at: \S+\)|\Z)|\n\(Background on this error at: \S+\)", re.DOTALL
)
"""What SQLAlchemy adds below the driver's message: the statement, its parameters and a link."""
_PERMANENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)
_PERMANENT_ERRNOS = (errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.EROFS, errno.EEXIST)


class SpecError(ValueError):
    """A job spec that cannot be read, does not validate, or references an unset variable; one line naming the field."""


class JobFailed(RuntimeError):
    """A job run failed; its previous outputs are untouched."""


def describe(error: BaseException) -> str:
    """`error` in one line with credentials masked; a database error as its driver's type and message."""
    pandas_errors = sys.modules.get("pandas.errors")
    if pandas_errors is not None and isinstance(error, pandas_errors.DatabaseError) and error.__cause__ is not None:
        error = error.__cause__  # pandas repeats the whole query before the driver's message
    text = _SQLALCHEMY_DETAILS.sub("", str(error)) or type(error).__name__
    return redact(" ".join(text.split()))


def is_transient(error: BaseException) -> bool:
    """Whether `error` may pass by itself, so that trying again is worth it (see the module docstring)."""
    database_error = _database_error(error)
    if database_error is not None:
        if database_error.connection_invalidated:
            return True
        original = database_error.orig
        state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
        if state:
            return state.startswith(_TRANSIENT_SQLSTATE_CLASSES) or state in _TRANSIENT_SQLSTATES
        message = str(original).lower()
        return any(fragment in message for fragment in _TRANSIENT_MESSAGES)
    sqlalchemy = sys.modules.get("sqlalchemy")
    for link in _chain(error):
        if sqlalchemy is not None and isinstance(link, sqlalchemy.exc.TimeoutError):  # no pooled connection came free
            return True
        if isinstance(link, OSError):
            return not isinstance(link, _PERMANENT_OS_ERRORS) and link.errno not in _PERMANENT_ERRNOS
    return False


def with_retries(action: Callable[[], Result], *, retries: int, backoff_s: float, what: str) -> Result:
    """`action()`, tried again up to `retries` times after transient failures, waiting `backoff_s * 2**k`."""
    attempt = 0
    while True:
        try:
            return action()
        except Exception as error:
            if attempt >= retries or not is_transient(error):
                raise
            delay = backoff_s * 2**attempt
            logger.warning("%s failed (%s); retry %d/%d in %.1fs", what, describe(error), attempt + 1, retries, delay)
            time.sleep(delay)
            attempt += 1


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and the exceptions it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def _database_error(error: BaseException):
    """The SQLAlchemy DBAPI error in `error`'s chain (it carries the driver's exception as `orig`), or None."""
    sqlalchemy = sys.modules.get("sqlalchemy")  # not imported: no SQLAlchemy error can exist
    if sqlalchemy is None:
        return None
    return next((link for link in _chain(error) if isinstance(link, sqlalchemy.exc.DBAPIError)), None)
