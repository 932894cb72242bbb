"""`${NAME}` in a job spec: a reference to the environment variable `NAME`, substituted when the job runs.

Any string of the spec may hold references (`data.path: ${DATA_DIR}/history.parquet`,
`output.sql.url: postgresql://writer:${PGPASSWORD}@db/sales`, `model.uri: ${MODEL_URI}`, a query).
They are substituted in a copy of the spec made for each run (`expand_references`), so the
spec itself, its logs and its MLflow parameters keep showing `${NAME}`, never the value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from forecast.jobs.errors import SpecError
from forecast.redaction import ENV_REFERENCE


def has_reference(text: str) -> bool:
    """Whether `text` holds a `${NAME}` reference."""
    return ENV_REFERENCE.search(text) is not None


def expand(text: str, field: str) -> str:
    """`text` with every `${NAME}` replaced by the variable's value; SpecError naming `field` if one is unset."""

    def substitute(match) -> str:
        name = match["name"]
        if name not in os.environ:
            raise SpecError(f"environment variable {name} referenced in {field} is not set")
        return os.environ[name]

    return ENV_REFERENCE.sub(substitute, text)


def expand_references(value: Any, field: str = "") -> Any:
    """`value` (a spec's `model_dump`: mappings, lists and scalars) with references expanded in every string.

    `field` is the dotted name of `value` in the spec, for the message about an unset variable.
    """
    if isinstance(value, str):
        return expand(value, field or "the job spec")
    if isinstance(value, dict):
        return {key: expand_references(item, f"{field}.{key}" if field else str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [expand_references(item, f"{field}[{index}]") for index, item in enumerate(value)]
    return value


def relative_to_spec(location: str, directory: Path) -> str:
    """`location` relative to `directory` (the spec file's) unless absolute.

    A location that starts with a reference is left as it is: whether it is relative is known once the
    run has substituted it (`forecast.jobs.spec.JobSpec.expanded` resolves it then).
    """
    if location.startswith("${") or Path(location).is_absolute():
        return location
    return str(directory / location)


def sqlite_url_relative_to_spec(url: str, directory: Path) -> str:
    """A SQLite URL with its database file relative to `directory` (the spec file's) unless absolute.

    `sqlite:///rel.db` and `sqlite:///file:rel.db?uri=true` name a file relative to the spec, like a
    relative `path`; other databases, memory databases and a path that starts with a reference are left as they are.
    """
    import sqlalchemy

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        return url  # a reference that makes the URL; validated once substituted
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return url
    prefix = "file:" if database.startswith("file:") else ""
    location = database.removeprefix(prefix)
    if location.startswith((":memory:", "${")) or Path(location).is_absolute():
        return url
    head, rest = url.split(":///", 1)  # the relative file (and a URI's query) follow the scheme's ':///'
    return f"{head}:///{prefix}{directory}/{rest.removeprefix(prefix)}"
