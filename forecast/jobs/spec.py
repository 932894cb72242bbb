"""The forecast job specification: a validated YAML file, data only.

A spec names where the data comes from, which model makes the forecast,
where the forecasts go, when the job runs and where its runs are tracked:

```
name: m3-monthly
data:
  path: data/m3_monthly.parquet          # or: sql: {url: ..., query: ...}
  columns: {unique_id: series, ds: date, y: value}
model:
  uri: models:/m3-monthly-lstm@champion  # or runs:/<id>/model, models:/name/3, a Forecaster directory
  retrain:                               # optional; default {policy: never}
    policy: on_degradation               # or never / every_n_runs (n) / data_growth (n)
    k: 3                                 # realized MASE of the last 3 scored runs ...
    factor: 1.25                         # ... above 1.25 x the model's validation MASE: retrain
    alias: champion                      # the alias a retrained model takes only if it is better
    promote: {metric: mase, margin: 0.02, windows: 1}
horizon: 18
quantiles: [0.1, 0.9]
output:
  path: out/forecast_{as_of}.parquet     # or: sql: {url: ..., table: forecasts}
  root: out                              # optional: every output path must lie inside this directory
accuracy:                                # optional: where realized accuracy goes besides MLflow
  path: out/accuracy_{as_of}.csv         # or: sql: {url: ..., table: accuracy}
schedule: {cron: "0 2 * * *", timezone: Europe/Paris}
tracking: {experiment: forecast-jobs, required: false}
```

The keys under `data:` and `output:` that name a source or a sink (`path`, `sql`,
`table`) are those registered in `forecast.jobs.registry`: one module per source or sink, one
field here per key. `engine: spark` runs the same job on Apache Spark (`forecast.spark`, the
`spark` extra): the data is a Parquet directory (`data.path`) or a table of the Spark catalog
(`data.table`), the forecasts go to a Parquet dataset partitioned by `as_of` (`output.path`, a
directory; each run replaces only its own `as_of`), and `spark: {master: ..., conf: {...},
num_partitions: ..., series_per_chunk: ...}` configures the session.

Secrets never live in the file: any string may reference an environment variable as `${NAME}`
(`forecast.jobs.references`). Each run substitutes them in a copy of the spec
(`JobSpec.expanded`) and validates that copy again; the spec itself, the logs and the MLflow
parameters keep `${NAME}`. The spec is data, never code: no field names a Python object. The file
is UTF-8 YAML; a key given twice in one mapping is an error (YAML loaders would silently keep the
last one).

Relative file paths (the data, the outputs, `output.root`, a model directory) are relative to the
spec file; a path that starts with a reference is resolved once the reference is substituted.
`output.root` confines the outputs: every path a sink writes (forecasts and accuracy), after
`{as_of}` and `${NAME}` are substituted and `..` and symbolic links resolved, must lie inside
it, or the spec (when loaded) or the run fails.

Every run scores the forecasts of the job's earlier runs against the actuals that have arrived since
(`forecast.jobs.realized`) and logs the scores to MLflow; `accuracy:` also stores them, in a
file or table written with the same rules as the forecasts (one of the local engine's sinks,
whatever the engine: the scores are a small pandas table). `model.retrain` decides when a fresh
model is fitted (`forecast.jobs.models`, `forecast.jobs.degradation`) and, with an `alias`,
whether it takes the alias (`forecast.jobs.promotion`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import Field, PrivateAttr, Strict, ValidationError, create_model, field_validator, model_validator

from forecast.jobs import registry
from forecast.jobs.errors import SpecError
from forecast.jobs.references import expand_references, has_reference, relative_to_spec
from forecast.jobs.registry import SpecSection
from forecast.model_uri import registered_name
from forecast.redaction import redact


class ColumnMapping(SpecSection):
    """Source column names for the long-format columns `unique_id`, `ds`, `y`."""

    unique_id: str = "unique_id"
    ds: str = "ds"
    y: str = "y"


class _DataSettings(SpecSection):
    """`data:`: exactly one source key (a field per registered source, added below) and how to read it."""

    columns: ColumnMapping = ColumnMapping()
    retries: int = Field(3, strict=True, ge=0, le=10, description="extra attempts after a transient read failure")
    retry_backoff_s: float = Field(1.0, strict=True, ge=0, le=60)
    until_as_of: bool = Field(
        False,
        strict=True,
        description="keep only the rows with ds at most the run's as_of, so that a run for a past as_of sees "
        "the data as it stood then (backfills, replays)",
    )

    @property
    def source(self) -> tuple[str, Any]:
        """The source key given and its value."""
        return _the_one(self, registry.source_specs())

    @model_validator(mode="after")
    def _one_source(self) -> _DataSettings:
        _check_one(self, registry.source_specs())
        return self


class _OutputSettings(SpecSection):
    """`output:`: exactly one sink key (a field per registered sink, added below) and the outputs' root."""

    root: str | None = Field(
        None, description="a directory every output path must lie inside (after {as_of}, ${NAME}, '..' and links)"
    )

    @property
    def sink(self) -> tuple[str, Any]:
        """The sink key given and its value."""
        return _the_one(self, registry.sink_specs())

    @model_validator(mode="after")
    def _one_sink(self) -> _OutputSettings:
        _check_one(self, registry.sink_specs())
        return self


def _the_one(section: SpecSection, specs: dict) -> tuple[str, Any]:
    return next((key, getattr(section, key)) for key in specs if getattr(section, key) is not None)


def _check_one(section: SpecSection, specs: dict) -> None:
    if sum(getattr(section, key) is not None for key in specs) != 1:
        choices = [f"'{key}' ({_described(meanings)})" for key, (_, meanings) in specs.items()]
        raise ValueError(f"give exactly one of {', '.join(choices[:-1])} or {choices[-1]}")


def _described(meanings: dict[str, str]) -> str:
    """What a key means on each engine: `a CSV or Parquet file; engine spark: a Parquet file or directory`."""
    return "; ".join(
        description if engine == "local" else f"engine {engine}: {description}"
        for engine, description in meanings.items()
    )


def _section(name: str, base: type[SpecSection], specs: dict, doc: str) -> type[SpecSection]:
    """`base` with one optional field per registered key."""
    fields = {
        key: (spec | None, Field(None, description=_described(meanings))) for key, (spec, meanings) in specs.items()
    }
    return create_model(name, __base__=base, __module__=__name__, __doc__=doc, **fields)


class _AccuracySettings(SpecSection):
    """`accuracy:`: how realized accuracy is scored and, with one sink key, where it is stored besides MLflow."""

    season_length: int | None = Field(
        None,
        strict=True,
        ge=1,
        description="the MASE period (none: the model's season_length, else its frequency's period)",
    )

    @property
    def sink(self) -> tuple[str, Any] | None:
        """The sink key given and its value, or None when the scores go to MLflow only."""
        given = [(key, getattr(self, key)) for key in _accuracy_sinks() if getattr(self, key) is not None]
        return given[0] if given else None

    @model_validator(mode="after")
    def _at_most_one_sink(self) -> _AccuracySettings:
        given = [key for key in _accuracy_sinks() if getattr(self, key) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of {', '.join(repr(key) for key in _accuracy_sinks())}")
        return self


ACCURACY_ENGINE = "local"
"""The engine whose sinks store realized accuracy, on every engine: the scores are a small pandas table."""


def _accuracy_sinks() -> dict:
    return {key: value for key, value in registry.sink_specs().items() if ACCURACY_ENGINE in value[1]}


DataSpec = _section("DataSpec", _DataSettings, registry.source_specs(), "Where a job's data comes from.")
OutputSpec = _section("OutputSpec", _OutputSettings, registry.sink_specs(), "Where a job's forecasts go.")
AccuracySpec = _section(
    "AccuracySpec",
    _AccuracySettings,
    {key: (spec, {ACCURACY_ENGINE: meanings[ACCURACY_ENGINE]}) for key, (spec, meanings) in _accuracy_sinks().items()},
    "How realized accuracy is scored and where it is stored besides MLflow.",
)


class PromoteSpec(SpecSection):
    """When a retrained model (the challenger) takes the alias from the job's current model (the champion).

    Both are backtested on the same origins, the last `windows` origins of every series (`horizon`
    steps apart, so the last window ends with the data), and scored with `metric`; the challenger
    takes the alias only if `challenger < champion * (1 - margin)` (`forecast.jobs.promotion`).
    """

    metric: Literal["mase", "smape"] = Field("mase", description="the backtest score compared (lower is better)")
    margin: float = Field(
        0.0,
        strict=True,
        ge=0.0,
        lt=1.0,
        description="the share by which the challenger must beat the champion, e.g. 0.02",
    )
    windows: int = Field(1, strict=True, ge=1, le=100, description="the most recent backtest windows of every series")


class RetrainPolicy(SpecSection):
    """When to fit a fresh model with the parameters of the current one, and whether it replaces it.

    `never`: always use the model as it is; `every_n_runs`: retrain on every n-th run of this job;
    `data_growth`: retrain when the longest series has grown by at least `n` steps since the model
    was trained; `on_degradation`: retrain when the realized MASE of the last `k` scored runs of the
    model exceeds `factor` times its validation MASE (`forecast.jobs.degradation`).

    A retrained model is registered as a new version (of `register_as`, else of the model's own
    name). With an `alias` (that of `model.uri`, e.g. `champion`) it takes the alias only if it
    beats the current model on a backtest (`promote`); otherwise the run goes on with the current
    model and records why.
    """

    policy: Literal["never", "every_n_runs", "data_growth", "on_degradation"] = Field(
        "never", description="when to fit a fresh model"
    )
    n: int | None = Field(None, strict=True, ge=1, description="every_n_runs, data_growth: runs, or steps of growth")
    k: int | None = Field(
        None, strict=True, ge=1, le=1000, description="on_degradation: the scored runs whose MASE is averaged"
    )
    factor: float | None = Field(
        None,
        strict=True,
        ge=1.0,
        description="on_degradation: retrain when realized MASE > factor x the validation MASE",
    )
    register_as: str | None = Field(None, description="registered model name for retrained versions")
    alias: str | None = Field(None, description="the alias a retrained version takes when it beats the champion")
    promote: PromoteSpec | None = Field(None, description="how a challenger must beat the champion (with alias)")

    @model_validator(mode="after")
    def _fields_of_the_policy(self) -> RetrainPolicy:
        wanted = {"never": (), "every_n_runs": ("n",), "data_growth": ("n",), "on_degradation": ("k", "factor")}
        needed = wanted[self.policy]
        absent = [name for name in needed if getattr(self, name) is None]
        if absent:
            raise ValueError(f"policy '{self.policy}' needs {' and '.join(repr(name) for name in absent)}")
        foreign = [name for name in ("k", "factor") if getattr(self, name) is not None and name not in needed]
        if foreign:
            settings = "is a setting" if len(foreign) == 1 else "are settings"
            raise ValueError(f"{' and '.join(repr(name) for name in foreign)} {settings} of policy 'on_degradation'")
        if self.policy == "on_degradation" and self.n is not None:
            raise ValueError("policy 'on_degradation' takes 'k' and 'factor', not 'n'")
        if self.promote is not None and self.alias is None:
            raise ValueError("'promote' needs 'alias': the alias a better retrained model takes")
        return self

    @property
    def promotion(self) -> PromoteSpec | None:
        """How a retrained model takes the alias (the defaults when only the alias is given), or None without one."""
        if self.alias is None:
            return None
        return self.promote or PromoteSpec()


class ModelSpec(SpecSection):
    uri: str
    retrain: RetrainPolicy = RetrainPolicy()

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, uri: str) -> str:
        if uri.startswith(("models:/", "runs:/")) or "://" not in uri:
            return uri
        raise ValueError(
            f"expected models:/name@alias, models:/name/version, a logged model's models:/m-<id>, "
            f"runs:/<run_id>/<path> or a saved Forecaster directory, found {redact(uri)!r}"
        )

    @model_validator(mode="after")
    def _retrains_into_a_registered_model(self) -> ModelSpec:
        """A model without a registered name (a directory, `runs:/`, `models:/m-<id>`) has none to add retrained
        versions to: refused now, not on the day the policy first asks for a retrain."""
        unnamed = not has_reference(self.uri) and registered_name(self.uri) is None  # `${MODEL_URI}`: checked expanded
        if self.retrain.policy != "never" and self.retrain.register_as is None and unnamed:
            raise ValueError(
                f"retrain.policy {self.retrain.policy} needs retrain.register_as for {redact(self.uri)!r}, which "
                "names no registered model to add the retrained versions to"
            )
        return self


class SparkSpec(SpecSection):
    """The Spark session and partitioning of an `engine: spark` job (see `forecast.spark`)."""

    master: str | None = Field(None, description="e.g. local[4] or spark://host:7077; None: spark-submit's")
    conf: dict[str, str] = Field(default_factory=dict, description="Spark settings, e.g. spark.driver.memory")
    num_partitions: int | None = Field(None, strict=True, ge=1, description="partitions of the series (None: Spark's)")
    series_per_chunk: int = Field(2000, strict=True, ge=1, description="series per predict call inside a partition")


class ScheduleSpec(SpecSection):
    cron: str = Field(description="five-field crontab expression, e.g. '0 2 * * *'")
    timezone: str = "UTC"
    misfire_grace_s: int = Field(
        3600, strict=True, ge=1, description="a run missed by at most this long (downtime) still runs, once"
    )

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        if has_reference(cron):
            return cron
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

        if has_reference(timezone):
            return timezone
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {timezone!r}") from None
        return timezone


class TrackingSpec(SpecSection):
    experiment: str = "forecast-jobs"
    required: bool = Field(False, strict=True, description="fail before writing when the tracking store is unreachable")


class JobSpec(SpecSection):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    data: DataSpec
    model: ModelSpec
    horizon: int = Field(strict=True, ge=1)
    quantiles: tuple[Annotated[float, Strict()], ...] | None = None
    output: OutputSpec
    accuracy: AccuracySpec = AccuracySpec()
    schedule: ScheduleSpec | None = None
    tracking: TrackingSpec = TrackingSpec()
    engine: str = Field("local", description="the engine that runs the job: local (pandas) or spark")
    spark: SparkSpec | None = None
    _directory: Path | None = PrivateAttr(None)
    """The spec file's directory, which relative paths are relative to (None: the working directory)."""

    @field_validator("quantiles")
    @classmethod
    def _quantiles_in_unit_interval(cls, quantiles: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if quantiles is not None and not all(0.0 < q < 1.0 for q in quantiles):
            raise ValueError(f"quantiles must lie strictly between 0 and 1, found {list(quantiles)}")
        return quantiles

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, engine: str) -> str:
        registry.engine(engine)
        return engine

    @model_validator(mode="after")
    def _fits_the_engine(self) -> JobSpec:
        if self.spark is not None and self.engine != "spark":
            raise ValueError("the spark settings need engine: spark")
        for section, (key, value), lookup, specs in (
            ("data", self.data.source, registry.source, registry.source_specs()),
            ("output", self.output.sink, registry.sink, registry.sink_specs()),
        ):
            endpoint = lookup(key, self.engine)
            if endpoint is None:
                meanings = specs[key][1]
                what = " or ".join(dict.fromkeys(meanings.values()))
                raise ValueError(f"{section}.{key} is {what} and needs engine: {' or '.join(meanings)}")
            try:
                endpoint.check(value)
            except ValueError as error:
                raise ValueError(f"{section}.{key}: {error}") from None
        if self.accuracy.sink is not None:
            key, value = self.accuracy.sink
            try:
                registry.sink(key, ACCURACY_ENGINE).check(value)
            except ValueError as error:
                raise ValueError(f"accuracy.{key}: {error}") from None
        if self.model.retrain.policy != "never" and not registry.engine(self.engine).capabilities().retrain:
            raise ValueError(
                f"engine: {self.engine} forecasts with a trained model: model.retrain.policy must be 'never'"
            )
        return self

    def expanded(self) -> JobSpec:
        """This spec for one run: every `${NAME}` substituted, validated again, relative paths resolved.

        Raises SpecError naming the field of an unset variable, or the field a substituted value makes invalid.
        """
        raw = expand_references(self.model_dump(mode="json", exclude_none=True))
        try:
            spec = JobSpec.model_validate(raw)
        except ValidationError as error:
            raise SpecError(
                f"job {self.name}, with its environment variables substituted, is invalid: {_problems(error)}"
            ) from None
        spec = _relative_to(spec, self._directory)
        spec._directory = self._directory
        return spec

    def check_output_root(self, as_of: pd.Timestamp | None) -> None:
        """SpecError unless every path the sink writes for `as_of` (None: any) lies inside `output.root`.

        Paths and root are compared with `..` and symbolic links resolved; paths that still hold a
        `${NAME}` reference are checked when a run has substituted it.
        """
        root = self.output.root
        if root is None or has_reference(root):
            return
        key, value = self.output.sink
        paths = registry.sink(key, self.engine).paths(value, as_of)
        if self.accuracy.sink is not None:
            key, value = self.accuracy.sink
            paths += registry.sink(key, ACCURACY_ENGINE).paths(value, as_of)
        real_root = Path(os.path.realpath(root))
        for path in paths:
            if has_reference(path):
                continue
            real = Path(os.path.realpath(path))
            if not real.is_relative_to(real_root):
                shown = str(real) if os.path.normpath(path) == str(real) else f"{path} (that is, {real})"
                raise SpecError(f"output path {shown} lies outside output.root {real_root}")


def load_spec(path: str | os.PathLike) -> JobSpec:
    """Read and validate a job spec; raise `SpecError` (one line) naming every invalid field.

    The file must be UTF-8 YAML with no key given twice in one mapping. Relative file paths (data,
    output, output root, a model directory) are taken relative to the spec file, so a spec works from
    any working directory.
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
        raise SpecError(f"job spec {path} is invalid: {_problems(error)}") from None
    directory = Path(path).resolve().parent
    spec = _relative_to(spec, directory)
    spec._directory = directory
    try:
        spec.check_output_root(None)
    except SpecError as error:
        raise SpecError(f"job spec {path} is invalid: {error}") from None
    return spec


def _problems(error: ValidationError) -> str:
    """Pydantic's errors as one line: `field: message; field: message` (a whole-spec check names its field itself)."""
    problems = []
    for issue in error.errors():
        where = ".".join(str(part) for part in issue["loc"])
        message = " ".join(issue["msg"].removeprefix("Value error, ").split())
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping of the spec gives the same key twice (YAML loaders keep the last one silently)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (merge keys `<<` may be overridden)."""

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


def _relative_to(spec: JobSpec, directory: Path | None) -> JobSpec:
    """The spec with its relative file paths taken relative to `directory` (None: left as they are)."""
    if directory is None:
        return spec
    (source_key, source_value), (sink_key, sink_value) = spec.data.source, spec.output.sink
    source = registry.source(source_key, spec.engine)
    sink = registry.sink(sink_key, spec.engine)
    data = spec.data.model_copy(update={source_key: source.relative_to(source_value, directory)})
    output = spec.output.model_copy(update={sink_key: sink.relative_to(sink_value, directory)})
    if output.root is not None:
        output = output.model_copy(update={"root": relative_to_spec(output.root, directory)})
    accuracy = spec.accuracy
    if accuracy.sink is not None:
        accuracy_key, accuracy_value = accuracy.sink
        accuracy_sink = registry.sink(accuracy_key, ACCURACY_ENGINE)
        accuracy = accuracy.model_copy(update={accuracy_key: accuracy_sink.relative_to(accuracy_value, directory)})
    model = spec.model
    if not model.uri.startswith(("models:/", "runs:/")):
        model = model.model_copy(update={"uri": relative_to_spec(model.uri, directory)})
    return spec.model_copy(update={"data": data, "output": output, "accuracy": accuracy, "model": model})
