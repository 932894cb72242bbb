"""The forecast job specification: a validated YAML file, data only.

A spec names where the data comes from, which model makes the forecast,
where the forecasts go, when the job runs and where its runs are tracked::

    name: m3-monthly
    data:
      path: data/m3_monthly.parquet          # or: sql: {url: ..., query: ...}
      columns: {unique_id: series, ds: date, y: value}
    model:
      uri: models:/m3-monthly-lstm@champion  # or runs:/<id>/model, models:/name/3, a Forecaster directory
      retrain: {policy: never}               # or {policy: every_n_runs, n: 7} / {policy: data_growth, n: 30}
    horizon: 18
    quantiles: [0.1, 0.9]
    output:
      path: out/forecast_{as_of}.parquet     # or: sql: {url: ..., table: forecasts}
    schedule: {cron: "0 2 * * *", timezone: Europe/Paris}
    tracking: {experiment: forecast-jobs, required: false}

``engine: spark`` runs the same job on Apache Spark (``forecast.spark``, the ``spark`` extra): the data
is a Parquet directory (``data.path``) or a table of the Spark catalog (``data.table``), the forecasts go
to a Parquet dataset partitioned by ``as_of`` (``output.path``, a directory; each run replaces only its
own ``as_of``), and ``spark: {master: ..., conf: {...}, num_partitions: ..., series_per_chunk: ...}``
configures the session.

Secrets never live in the file: any string may reference an environment
variable as ``${NAME}``; it is substituted when the job runs
(:func:`expand_env`) and shown as ``${NAME}`` everywhere else (logs, MLflow
parameters). The spec is data, never code: no field names a Python object.
The file is UTF-8 YAML; a key given twice in one mapping is an error (YAML
loaders would silently keep the last one).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from forecast.redaction import redact
from forecast.tables import check_table_path

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SpecError(ValueError):
    """A job spec that cannot be read or does not validate; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMapping(_Strict):
    """Source column names for the long-format columns ``unique_id``, ``ds``, ``y``."""

    unique_id: str = "unique_id"
    ds: str = "ds"
    y: str = "y"


class SqlSource(_Strict):
    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///data.db or postgresql://user:${PGPASSWORD}@host/db")
    query: str


class DataSpec(_Strict):
    path: str | None = None
    sql: SqlSource | None = None
    table: str | None = Field(None, description="a table of the Spark catalog (engine: spark only)")
    columns: ColumnMapping = ColumnMapping()
    retries: int = Field(3, ge=0, le=10, description="extra attempts after a failed read")
    retry_backoff_s: float = Field(1.0, ge=0, le=60)

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if sum(source is not None for source in (self.path, self.sql, self.table)) != 1:
            raise ValueError(
                "give exactly one of 'path' (CSV or Parquet file), 'sql' (url + query) or 'table' (engine: spark)"
            )
        return self


class RetrainPolicy(_Strict):
    """When to fit a fresh model with the parameters of the current one.

    ``never``: always use the model as it is; ``every_n_runs``: retrain on
    every n-th run of this job; ``data_growth``: retrain when the longest
    series has grown by at least ``n`` steps since the model was trained.
    """

    policy: Literal["never", "every_n_runs", "data_growth"] = "never"
    n: int | None = Field(None, ge=1)
    register_as: str | None = Field(None, description="registered model name for retrained versions")
    alias: str | None = Field(None, description="alias moved to each retrained version")

    @model_validator(mode="after")
    def _n_when_needed(self) -> RetrainPolicy:
        if self.policy != "never" and self.n is None:
            raise ValueError(f"policy '{self.policy}' needs 'n' (a positive integer)")
        return self


class ModelSpec(_Strict):
    uri: str
    retrain: RetrainPolicy = RetrainPolicy()

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, uri: str) -> str:
        if uri.startswith(("models:/", "runs:/")) or "://" not in uri:
            return uri
        raise ValueError(
            f"expected models:/name@alias, models:/name/version, runs:/<run_id>/<path> "
            f"or a saved Forecaster directory, found {redact(uri)!r}"
        )


class SqlSink(_Strict):
    url: str
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class OutputSpec(_Strict):
    path: str | None = Field(None, description="CSV or Parquet path; may contain {as_of}")
    sql: SqlSink | None = None

    @model_validator(mode="after")
    def _one_sink(self) -> OutputSpec:
        if (self.path is None) == (self.sql is None):
            raise ValueError("give exactly one of 'path' (CSV or Parquet file) or 'sql' (url + table)")
        return self


class SparkSpec(_Strict):
    """The Spark session and partitioning of an ``engine: spark`` job (see ``forecast.spark``)."""

    master: str | None = Field(None, description="e.g. local[4] or spark://host:7077; None: spark-submit's")
    conf: dict[str, str] = Field(default_factory=dict, description="Spark settings, e.g. spark.driver.memory")
    num_partitions: int | None = Field(None, ge=1, description="partitions of the series (None: Spark's)")
    series_per_chunk: int = Field(2000, ge=1, description="series per predict call inside a partition")


class ScheduleSpec(_Strict):
    cron: str = Field(description="five-field crontab expression, e.g. '0 2 * * *'")
    timezone: str = "UTC"
    misfire_grace_s: int = Field(
        3600, ge=1, description="a run missed by at most this long (downtime) still runs, once"
    )

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        if len(cron.split()) != 5:
            raise ValueError(f"expected 5 crontab fields (minute hour day month weekday), found {cron!r}")
        try:
            CronTrigger.from_crontab(cron)
        except ValueError as error:
            raise ValueError(f"invalid crontab expression {cron!r}: {error}") from None
        return cron

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, timezone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {timezone!r}") from None
        return timezone


class TrackingSpec(_Strict):
    experiment: str = "forecast-jobs"
    required: bool = Field(False, description="fail before writing when the tracking store is unreachable")


class JobSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    data: DataSpec
    model: ModelSpec
    horizon: int = Field(ge=1)
    quantiles: tuple[float, ...] | None = None
    output: OutputSpec
    schedule: ScheduleSpec | None = None
    tracking: TrackingSpec = TrackingSpec()
    engine: Literal["local", "spark"] = "local"
    spark: SparkSpec | None = None

    @field_validator("quantiles")
    @classmethod
    def _quantiles_in_unit_interval(cls, quantiles: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if quantiles is not None and not all(0.0 < q < 1.0 for q in quantiles):
            raise ValueError(f"quantiles must lie strictly between 0 and 1, found {list(quantiles)}")
        return quantiles

    @model_validator(mode="after")
    def _fits_the_engine(self) -> JobSpec:
        data, output = self.data, self.output
        if self.engine == "local":
            if data.table is not None:
                raise ValueError("data.table (a table of the Spark catalog) needs engine: spark")
            if self.spark is not None:
                raise ValueError("the spark settings need engine: spark")
            for location in (data.path, output.path):
                if location is not None:
                    check_table_path(location)
            return self
        if data.sql is not None or output.sql is not None:
            raise ValueError(
                "engine: spark reads data.path (a Parquet directory) or data.table and writes output.path "
                "(a Parquet directory); sql sources and sinks are for engine: local"
            )
        if "{as_of}" in output.path:
            raise ValueError("with engine: spark, output.path is a dataset partitioned by as_of: drop '{as_of}'")
        if self.model.retrain.policy != "never":
            raise ValueError("engine: spark forecasts with a trained model: model.retrain.policy must be 'never'")
        return self


def load_spec(path: str | os.PathLike) -> JobSpec:
    """Read and validate a job spec; raise :class:`SpecError` (one line) naming every invalid field.

    The file must be UTF-8 YAML with no key given twice in one mapping. Relative file paths (data,
    output, a model directory) are taken relative to the spec file, so a spec works from any working
    directory.
    """
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise SpecError(f"cannot read job spec {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise SpecError(
            f"job spec {path} is not UTF-8 text: byte 0x{error.object[error.start]:02x} at offset {error.start}"
        ) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no Python objects
    except DuplicateKeyError as error:
        raise SpecError(f"job spec {path}: {error}") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise SpecError(f"job spec {path} is not valid YAML: {error.problem or error.context}{where}") from None
    except yaml.YAMLError as error:
        raise SpecError(f"job spec {path} is not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"job spec {path}: expected a mapping at the top level, found {type(raw).__name__}")
    try:
        spec = JobSpec.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or '<top>'}: {issue['msg']}" for issue in error.errors()
        )
        raise SpecError(f"job spec {path} is invalid: {problems}") from None
    return _relative_to(spec, Path(path).resolve().parent)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping of the spec gives the same key twice (YAML loaders keep the last one silently)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (merge keys ``<<`` may be overridden)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                seen = key in first_line
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if seen:
                where = f"on line {line}" if first_line[key] == line else f"on lines {first_line[key]} and {line}"
                raise DuplicateKeyError(f"key {key!r} is given twice, {where}; keep one")
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def _relative_to(spec: JobSpec, base: Path) -> JobSpec:
    """Resolve relative file paths in the spec against the spec's own directory."""

    def resolved(location: str) -> str:
        return location if Path(location).is_absolute() else str(base / location)

    data, output, model = spec.data, spec.output, spec.model
    if data.path is not None:
        data = data.model_copy(update={"path": resolved(data.path)})
    if output.path is not None:
        output = output.model_copy(update={"path": resolved(output.path)})
    if not model.uri.startswith(("models:/", "runs:/")):
        model = model.model_copy(update={"uri": resolved(model.uri)})
    return spec.model_copy(update={"data": data, "output": output, "model": model})


def expand_env(text: str) -> str:
    """Substitute ``${NAME}`` references with environment variables (missing one -> SpecError)."""

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise SpecError(f"environment variable {name} referenced in the job spec is not set")
        return os.environ[name]

    return _ENV_REFERENCE.sub(substitute, text)
