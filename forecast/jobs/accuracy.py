"""Where a job run puts the realized accuracy of earlier runs: its MLflow run, and the spec's `accuracy:` sink.

Only the earlier runs with news are recorded: those with steps whose actual arrived, or which became
due, since the latest earlier run (`new_steps` of `forecast.jobs.realized.RealizedAccuracy`),
so each job run adds the scores that changed and a run's score is recorded again as its actuals arrive.

MLflow, in the job's run, for every such earlier run:

- metrics `realized/mase`, `realized/smape`, `realized/bias`, `realized/coverage_XX` (the mean
  over series), `realized/series`, `realized/steps` (scored) and `realized/missing` (due
  without an actual), and per step ahead `realized_by_step/mase_h01`, ... ; each logged with
  `step` = the scored forecasts' `as_of` in whole seconds since the Unix epoch (UTC) and
  with that `as_of` as the metric's timestamp. In the MLflow UI, a chart of `realized/mase`
  over "Step", or over "Time (wall)" to read dates, shows accuracy over time: one point per
  forecast run, and a later job run's points where more actuals have arrived;
- the artifact `realized_accuracy.csv`: `forecast.jobs.realized.RealizedAccuracy.table`,
  per series, per step and overall.

The sink (`accuracy.path`: a CSV or Parquet file; `accuracy.sql`: a table) gets the same table
with the columns `job` and `as_of` of the scoring run, written with the forecast sinks' rules
(atomic; rerunning an `as_of` replaces its rows, so re-scoring is idempotent). It is written before
the forecasts and put back as it was when writing the forecasts fails (`accuracy_written`): a run
stores both or neither.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from forecast.jobs import registry
from forecast.jobs.engine import RunLabel, Written
from forecast.jobs.realized import MISSING, NEW_STEPS, SERIES, STEP, STEPS, RealizedAccuracy
from forecast.run_columns import AS_OF_COLUMN, JOB_COLUMN

if TYPE_CHECKING:
    from forecast.jobs.engine import Engine
    from forecast.jobs.spec import AccuracySpec
    from forecast.tracking import Tracker

REALIZED = "realized"
BY_STEP = "realized_by_step"
ARTIFACT = "realized_accuracy.csv"


@dataclass(frozen=True, kw_only=True)
class ScoringLabel(RunLabel):
    """The scoring run a sink writes accuracy rows for: every row is tagged with its `job` and `as_of`.

    The rows keep their own `model_version`: that of the forecasts they score.
    """

    model_version: str | None = None

    def columns(self) -> dict[str, Any]:
        return {JOB_COLUMN: self.job, AS_OF_COLUMN: self.as_of}


def runs_with_news(accuracy: RealizedAccuracy) -> list[pd.Timestamp]:
    """The earlier runs whose scores changed since the latest earlier run was made, oldest first."""
    overall = accuracy.overall
    return list(overall.loc[overall[NEW_STEPS] > 0, AS_OF_COLUMN])


def as_of_step(as_of: pd.Timestamp) -> int:
    """The MLflow `step` of a forecast run: its `as_of` (naive UTC) in whole seconds since the Unix epoch."""
    return (pd.Timestamp(as_of) - pd.Timestamp(0)) // pd.Timedelta(seconds=1)


def metrics_by_run(accuracy: RealizedAccuracy, runs: Sequence[pd.Timestamp]) -> dict[pd.Timestamp, dict[str, float]]:
    """The MLflow metrics of each of `runs` (finite values only): overall and per step ahead."""
    scores = accuracy.scores
    found: dict[pd.Timestamp, dict[str, float]] = {}
    for as_of in runs:
        overall = accuracy.overall[accuracy.overall[AS_OF_COLUMN] == as_of].iloc[0]
        metrics = {f"{REALIZED}/{name}": overall[name] for name in (*scores, SERIES, STEPS, MISSING)}
        steps = accuracy.per_step[accuracy.per_step[AS_OF_COLUMN] == as_of]
        for row in steps.itertuples(index=False):
            step = getattr(row, STEP)
            metrics.update({f"{BY_STEP}/{name}_h{step:02d}": getattr(row, name) for name in scores})
        found[as_of] = {key: float(value) for key, value in metrics.items() if math.isfinite(float(value))}
    return found


def log_realized(tracker: Tracker, accuracy: RealizedAccuracy, runs: Sequence[pd.Timestamp]) -> None:
    """Log the scores of `runs` to the tracker's run: metrics at each run's `as_of`, and the table artifact."""
    if not tracker.active or not runs:
        return
    from mlflow import MlflowClient
    from mlflow.entities import Metric
    from mlflow.utils.validation import MAX_METRICS_PER_BATCH

    entries = [
        Metric(key, value, as_of_step(as_of) * 1000, as_of_step(as_of))
        for as_of, metrics in metrics_by_run(accuracy, runs).items()
        for key, value in metrics.items()
    ]
    client = MlflowClient(tracking_uri=tracker.tracking_uri)
    for start in range(0, len(entries), MAX_METRICS_PER_BATCH):
        chunk = entries[start : start + MAX_METRICS_PER_BATCH]
        tracker.call("log_batch", lambda chunk=chunk: client.log_batch(tracker.run_id, metrics=chunk))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / ARTIFACT
        accuracy.table(runs).to_csv(path, index=False)
        tracker.log_artifact(path)


@contextmanager
def accuracy_written(
    engine: Engine, settings: AccuracySpec, table: pd.DataFrame, job: str, as_of: pd.Timestamp
) -> Iterator[Written | None]:
    """Store `table` in the spec's `accuracy:` sink for the scoring run (`job`, `as_of`) while the body runs.

    Yields where the rows went, or None without a sink or without rows (no earlier run had news). The sink's
    stored rows are read, and so checked (a file or table of other columns is refused), on every run, rows or
    not: a sink set up wrong fails the first run, not the first run with news. When the body (the run's forecasts
    write) fails or is stopped, the rows the sink held for this job and as_of before are put back (or removed when
    it held none), so a failed run leaves no new rows. The sink is the local engine's (the table is pandas on every
    engine), so `engine` is not used by it.
    """
    from forecast.jobs.spec import ACCURACY_ENGINE

    if settings.sink is None:
        yield None
        return
    key, value = settings.sink
    sink = registry.sink(key, ACCURACY_ENGINE)
    stored = sink.read_forecasts(engine, value, job)
    if table.empty:
        yield None
        return
    label = ScoringLabel(job=job, as_of=as_of)
    earlier = stored.loc[stored[AS_OF_COLUMN] == as_of]
    written = sink.write(engine, table, value, label)
    try:
        yield written
    except BaseException:
        if earlier.empty:
            sink.remove(engine, value, label)
        else:
            sink.write(engine, earlier, value, label)
        raise
