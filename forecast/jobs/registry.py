"""Sources, sinks and engines of forecast jobs, found by the spec key that selects them.

A job spec names its source by one key under `data:` and its sink by one key under `output:`
(`data.sql: {url: ..., query: ...}`, `output.path: out/forecast_{as_of}.csv`). A key has one value
type, its *spec* (a `SpecSection` model, or `str`), and one implementation per engine that
serves it (`output.path` is a file for `engine: local` and a partitioned Parquet dataset for
`engine: spark`). The modules of `forecast.jobs.sources`, `forecast.jobs.sinks` and
`forecast.jobs.engines` register themselves when imported, and `discover` imports them all;
the spec's `data` and `output` sections have one optional field per registered key
(`forecast.jobs.spec`). So a new source or sink is one new module, for example:

```
# forecast/jobs/sources/sftp.py
class SftpSource(SpecSection):              # the value of data.sftp
    host: str
    path: str

@register_source
class SftpCsv(Source):
    key = "sftp"
    spec = SftpSource
    engine = "local"
    description = "a CSV file on an SFTP server"

    def read(self, engine, value, columns):
        ...                                 # a long frame: unique_id (text), ds, y
```

Only light modules may be imported at the top of these modules (pandas, pydantic): loading a spec
imports them all, and `forecast --help` loads specs' code without TensorFlow, MLflow or Spark.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from forecast.jobs.engine import Engine, Frame, RunLabel, Written

PLUGIN_PACKAGES = ("forecast.jobs.sources", "forecast.jobs.sinks", "forecast.jobs.engines")

_SOURCES: dict[tuple[str, str], Source] = {}
_SINKS: dict[tuple[str, str], Sink] = {}
_ENGINES: dict[str, type[Engine]] = {}
_discovered = False


class SpecSection(BaseModel):
    """A section of a job spec: unknown keys are errors, and the values are fixed once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(ABC):
    """What sources and sinks have in common: the key that selects them, their spec and their engine.

    Attributes:
        key: the key under `data:` (a source) or `output:` (a sink) that selects it.
        spec: the type of the key's value: a `SpecSection` model, or `str`.
        engine: the engine it serves (`"local"`, `"spark"`).
        description: a few words for messages, e.g. `"a CSV or Parquet file"`.
    """

    key: ClassVar[str]
    spec: ClassVar[Any]
    engine: ClassVar[str]
    description: ClassVar[str]

    def check(self, value: Any) -> None:
        """Raise ValueError (one line) for a value this engine cannot use.

        The value may still hold `${NAME}` references; check what they cannot change. Each run
        validates the spec again with the references substituted. By default every value is usable.
        """
        return None

    def relative_to(self, value: Any, directory: Path) -> Any:
        """`value` with its relative file paths taken relative to `directory` (the spec file's)."""
        return value


class Source(Endpoint):
    """Reads a job's data on one engine."""

    @abstractmethod
    def read(self, engine: Engine, value: Any, columns: Mapping[str, str]) -> Frame:
        """The data in long format: `unique_id` (text), `ds`, `y`, and any other columns as they are.

        `columns` maps `unique_id`, `ds` and `y` to the source's own column names.
        """


class Sink(Endpoint):
    """Writes a job's forecasts on one engine, and reads back the forecasts of earlier runs."""

    @abstractmethod
    def write(self, engine: Engine, forecasts: Frame, value: Any, run: RunLabel) -> Written:
        """Store one run's forecasts, tagged with `run`'s columns, replacing earlier rows of the same job and as_of."""

    @abstractmethod
    def read_forecasts(self, engine: Engine, value: Any, job: str) -> Frame:
        """Every stored forecast row of `job`, with `as_of` as a timestamp (none stored: no rows)."""

    def remove(self, engine: Engine, value: Any, run: RunLabel) -> None:
        """Delete the rows of `run`'s job and as_of (a file of that run alone: the file).

        Sinks that store realized accuracy implement it: a run whose forecasts write fails takes back
        the accuracy rows it wrote (`forecast.jobs.accuracy.accuracy_written`).
        """
        raise NotImplementedError(f"{self.description} cannot remove a run's rows")

    def paths(self, value: Any, as_of: pd.Timestamp | None) -> list[str]:
        """The files or directories a run for `as_of` writes (`output.root` must hold them).

        `as_of` None: those of any run (a `{as_of}` field left as it is).
        """
        return []


def register_source(cls: type[Source]) -> type[Source]:
    """Class decorator: make `cls` the source of `data.<cls.key>` on `cls.engine`."""
    _register(_SOURCES, cls, "data")
    return cls


def register_sink(cls: type[Sink]) -> type[Sink]:
    """Class decorator: make `cls` the sink of `output.<cls.key>` on `cls.engine`."""
    _register(_SINKS, cls, "output")
    return cls


def register_engine(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make `cls` the engine named `cls.name` (the spec's `engine:`)."""
    if _ENGINES.get(cls.name, cls) is not cls:
        raise ValueError(
            f"engine {cls.name!r} is registered twice: {_ENGINES[cls.name].__module__} and {cls.__module__}"
        )
    _ENGINES[cls.name] = cls
    return cls


def _register(table: dict, cls: type[Endpoint], section: str) -> None:
    for (key, engine), registered in table.items():
        if key != cls.key:
            continue
        if engine == cls.engine and type(registered) is not cls:
            raise ValueError(f"{section}.{key} on engine {engine} is registered twice: {type(registered).__module__}")
        if registered.spec != cls.spec:
            raise ValueError(
                f"{section}.{key} has the spec {registered.spec} on {engine} but {cls.spec} on {cls.engine}"
            )
    table[(cls.key, cls.engine)] = cls()


def discover() -> None:
    """Import every module of the plug-in packages, so that all sources, sinks and engines are registered."""
    global _discovered
    if _discovered:
        return
    for package_name in PLUGIN_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")
    _discovered = True


def source(key: str, engine: str) -> Source | None:
    """The source of `data.<key>` on `engine`, or None when that engine has none."""
    discover()
    return _SOURCES.get((key, engine))


def sink(key: str, engine: str) -> Sink | None:
    """The sink of `output.<key>` on `engine`, or None when that engine has none."""
    discover()
    return _SINKS.get((key, engine))


def source_specs() -> dict[str, tuple[Any, dict[str, str]]]:
    """Every source key with its spec and, per engine serving it, its description."""
    discover()
    return _specs(_SOURCES)


def sink_specs() -> dict[str, tuple[Any, dict[str, str]]]:
    """Every sink key with its spec and, per engine serving it, its description."""
    discover()
    return _specs(_SINKS)


def _specs(table: dict[tuple[str, str], Endpoint]) -> dict[str, tuple[Any, dict[str, str]]]:
    found: dict[str, tuple[Any, dict[str, str]]] = {}
    for (key, engine), endpoint in sorted(table.items()):
        found.setdefault(key, (endpoint.spec, {}))[1][engine] = endpoint.description
    return found


def engine(name: str) -> type[Engine]:
    """The engine class named `name`; ValueError listing the known names otherwise."""
    discover()
    if name not in _ENGINES:
        raise ValueError(f"unknown engine {name!r}; expected one of {sorted(_ENGINES)}")
    return _ENGINES[name]


def served_by(engine_name: str) -> tuple[frozenset[str], frozenset[str]]:
    """The source keys and the sink keys that `engine_name` serves."""
    discover()
    return (
        frozenset(key for key, engine in _SOURCES if engine == engine_name),
        frozenset(key for key, engine in _SINKS if engine == engine_name),
    )
