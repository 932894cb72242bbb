"""The engine interface: what a job run asks of the machinery that reads, forecasts, scores and writes.

One runner (`forecast.jobs.runner`) drives every engine through the same steps:

```
data = engine.read(spec.data, as_of)                # the source named by the spec's data: key
model = engine.load_model(spec.model.uri)           # resolved once: an alias is pinned to a version
earlier = engine.read_forecasts(spec.output, job)   # the forecasts of the job's earlier runs
accuracy = engine.score(earlier, data, season_length=12, before=as_of)   # against the actuals since
retrained = engine.retrain(spec, model, data, as_of)   # when due, where capabilities().retrain
forecasts = engine.forecast(data, model, horizon, quantiles)   # cut to the spec's horizon and quantiles
written = engine.write(forecasts, spec.output, RunLabel(job, as_of, model.version))
```

A *frame* is whatever the engine computes with: a pandas DataFrame for `local`, a Spark
DataFrame for `spark`. Sources and sinks are not methods of an engine: each is a module that
registers itself for a spec key and the engines it serves (`forecast.jobs.registry`); `read`,
`write` and `read_forecasts` find it by the spec's key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pandas as pd

from forecast.jobs import registry
from forecast.jobs.errors import with_retries
from forecast.run_columns import AS_OF_COLUMN, JOB_COLUMN, MODEL_VERSION_COLUMN

if TYPE_CHECKING:
    from forecast.base import BaseForecaster
    from forecast.jobs.models import Retrained
    from forecast.jobs.realized import RealizedAccuracy
    from forecast.jobs.spec import DataSpec, JobSpec, OutputSpec

Frame = Any
"""A pandas DataFrame (engine `local`) or a Spark DataFrame (engine `spark`)."""


class JobModel(Protocol):
    """A model as an engine loaded it: the forecaster, what the spec named, the registered version."""

    uri: str
    forecaster: BaseForecaster
    version: str | None


@dataclass(frozen=True, kw_only=True)
class RunLabel:
    """The run whose forecasts a sink writes; every row is tagged with `columns`."""

    job: str
    as_of: pd.Timestamp
    model_version: str | None

    def columns(self) -> dict[str, Any]:
        """`job`, `as_of` and `model_version` (empty text for a model without a version)."""
        return {JOB_COLUMN: self.job, AS_OF_COLUMN: self.as_of, MODEL_VERSION_COLUMN: self.model_version or ""}


@dataclass(frozen=True, kw_only=True)
class Written:
    """Where a sink put one run's forecasts (a path, a table, a partition) and how many rows."""

    location: str
    rows: int


def check_stored_columns(kind: str, name: str, found: Collection, needed: Collection[str]) -> None:
    """ValueError naming the columns of `needed` that the stored `kind` (`"table"`, `"file"`) `name` lacks."""
    missing = [column for column in needed if column not in found]
    if missing:
        raise ValueError(
            f"{kind} {name} lacks the column(s) {', '.join(missing)} that the sink writes "
            f"(it has {', '.join(map(str, found))}); give the sink a new {kind}"
        )


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What an engine can do: the `data:` and `output:` keys it serves, retraining and scoring."""

    sources: frozenset[str]
    sinks: frozenset[str]
    retrain: bool
    score: bool


class Engine(ABC):
    """Reads, forecasts, scores and writes for a job run; subclasses register with `registry.register_engine`.

    Class attributes:
        name: the spec's `engine:` value.
        can_retrain: whether `retrain` fits a fresh model (the spec refuses a retrain policy otherwise).
    """

    name: ClassVar[str]
    can_retrain: ClassVar[bool]

    @classmethod
    def from_spec(cls, spec: JobSpec) -> Engine:
        """The engine configured by the spec (its settings section, if it has one)."""
        return cls()

    @classmethod
    def capabilities(cls) -> Capabilities:
        """What this engine can do, from its declaration and the sources and sinks registered for it."""
        sources, sinks = registry.served_by(cls.name)
        return Capabilities(sources=sources, sinks=sinks, retrain=cls.can_retrain, score=True)

    def read(self, data: DataSpec, as_of: pd.Timestamp | None = None) -> Frame:
        """The job's data in long format from the spec's source; transient failures are retried.

        With `data.until_as_of` only the rows with `ds` at most `as_of` are kept (`until`); ValueError
        naming the source when that leaves none of its rows.
        """
        key, value = data.source
        source = registry.source(key, self.name)
        frame = with_retries(
            lambda: source.read(self, value, data.columns.model_dump()),
            retries=data.retries,
            backoff_s=data.retry_backoff_s,
            what="reading the job data",
        )
        if not data.until_as_of or as_of is None:
            return frame
        kept = self.until(frame, as_of)
        if self.rows(kept) == 0 and (first := self.earliest(frame)) is not None:
            where = value if isinstance(value, str) else f"data.{key}"
            raise ValueError(
                f"{where} has no rows up to as_of {as_of.isoformat()} (its first ds is {first.isoformat()})"
            )
        return kept

    def write(self, forecasts: Frame, output: OutputSpec, run: RunLabel) -> Written:
        """Store one run's forecasts in the spec's sink, replacing earlier rows of the same job and as_of."""
        key, value = output.sink
        return registry.sink(key, self.name).write(self, forecasts, value, run)

    def read_forecasts(self, output: OutputSpec, job: str) -> Frame:
        """The forecasts of `job`'s earlier runs from the spec's sink, `as_of` a timestamp (for `score`)."""
        key, value = output.sink
        return registry.sink(key, self.name).read_forecasts(self, value, job)

    @abstractmethod
    def load_model(self, uri: str) -> JobModel:
        """Resolve and load the model at `uri` (an alias is pinned to its current version)."""

    def retrain(self, spec: JobSpec, model: JobModel, data: Frame, as_of: pd.Timestamp) -> Retrained:
        """Fit a fresh model with `model`'s parameters on `data` and register it (see `forecast.jobs.models`).

        The result names the model the run goes on with: the fresh one, or `model` when the fresh
        one did not beat it (the spec's `retrain.alias` and `retrain.promote`).
        """
        raise NotImplementedError(f"engine {self.name} cannot retrain")

    @abstractmethod
    def until(self, frame: Frame, as_of: pd.Timestamp) -> Frame:
        """The rows of `frame` with `ds` at most `as_of` (naive UTC); ValueError unless `ds` holds timestamps."""

    @abstractmethod
    def earliest(self, frame: Frame) -> pd.Timestamp | None:
        """The earliest `ds` of `frame`, None when it has no rows."""

    @abstractmethod
    def forecast(self, data: Frame, model: JobModel, horizon: int, quantiles: tuple[float, ...] | None) -> Frame:
        """`unique_id, ds, y_hat[, y_hat_qXX...]` for the first `horizon` steps and the `quantiles` asked for."""

    @abstractmethod
    def rows(self, frame: Frame) -> int:
        """The number of rows of `frame`."""

    @abstractmethod
    def score(
        self, forecasts: Frame, actuals: Frame, *, season_length: int = 1, before: pd.Timestamp | None = None
    ) -> RealizedAccuracy:
        """Realized accuracy of earlier `forecasts` (with `as_of`) against `actuals` (`unique_id, ds, y`).

        Only the runs with an `as_of` before `before` are scored (None: all). See
        `forecast.jobs.realized.realized_accuracy`.
        """
