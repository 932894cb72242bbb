"""`output.path` on engine `local`: a CSV or Parquet file, written atomically and idempotently.

With `{as_of}` in the path each run writes its own file (`forecast_20261122T020000.parquet`),
replaced whole by a rerun of the same `as_of`. Without it one file holds every run: a run replaces
its own rows (same job and `as_of`) and keeps the others, in a read-modify-write under the file's
advisory lock (`forecast.tables.update_frame_atomic`), so concurrent runs wait for each other
and the rows of other runs are read back with the types they were written with.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pandas as pd

from forecast.jobs.engine import RunLabel, Written, check_stored_columns
from forecast.jobs.references import relative_to_spec
from forecast.jobs.registry import Sink, register_sink
from forecast.jobs.sources.file import check_file_path
from forecast.run_columns import AS_OF_COLUMN, JOB_COLUMN, format_as_of
from forecast.tables import read_frame, update_frame_atomic, write_frame_atomic

AS_OF_FIELD = "{as_of}"
RUN_COLUMNS = (JOB_COLUMN, AS_OF_COLUMN)
"""The columns that tell the runs in a file apart: a file without them holds no runs of this sink."""


@register_sink
class FileSink(Sink):
    """A CSV or Parquet file per run (`{as_of}` in the path) or for all runs."""

    key = "path"
    spec = str
    engine = "local"
    description = "a CSV or Parquet file, one per run with {as_of} in its name"

    def check(self, value: str) -> None:
        check_file_path(value)

    def relative_to(self, value: str, directory: Path) -> str:
        return relative_to_spec(value, directory)

    def paths(self, value: str, as_of: pd.Timestamp | None) -> list[str]:
        return [value if as_of is None else value.replace(AS_OF_FIELD, format_as_of(as_of))]

    def write(self, engine, forecasts: pd.DataFrame, value: str, run: RunLabel) -> Written:
        forecasts = forecasts.assign(**run.columns())
        (path,) = self.paths(value, run.as_of)
        if AS_OF_FIELD in value:
            write_frame_atomic(forecasts, path)
            return Written(location=path, rows=len(forecasts))

        def merged(previous: pd.DataFrame | None) -> pd.DataFrame:
            """One file for all runs: keep other runs' rows, replace this run's."""
            if previous is None:
                return forecasts
            previous = previous.loc[~_of_run(previous, run, path)]
            return pd.concat([previous, forecasts], ignore_index=True) if len(previous) else forecasts

        update_frame_atomic(path, merged, like=forecasts)
        return Written(location=path, rows=len(forecasts))

    def remove(self, engine, value: str, run: RunLabel) -> None:
        (path,) = self.paths(value, run.as_of)
        if AS_OF_FIELD in value:
            Path(path).unlink(missing_ok=True)
        elif Path(path).exists():
            like = read_frame(path).assign(**run.columns())  # as_of read back as a timestamp
            update_frame_atomic(path, lambda previous: previous.loc[~_of_run(previous, run, path)], like=like)

    def read_forecasts(self, engine, value: str, job: str) -> pd.DataFrame:
        if AS_OF_FIELD in value:
            files = sorted(glob.glob("*".join(glob.escape(part) for part in value.split(AS_OF_FIELD))))
        else:
            files = [value] if Path(value).exists() else []
        frames = [read_frame(file) for file in files]
        for file, frame in zip(files, frames):
            check_stored_columns("file", file, frame.columns, RUN_COLUMNS)
        if not frames:
            return pd.DataFrame(columns=["unique_id", "ds", "y_hat", JOB_COLUMN, AS_OF_COLUMN])
        stored = pd.concat(frames, ignore_index=True)
        stored[AS_OF_COLUMN] = pd.to_datetime(stored[AS_OF_COLUMN], format="ISO8601")
        return stored.loc[stored[JOB_COLUMN].astype(str) == job].reset_index(drop=True)


def _of_run(frame: pd.DataFrame, run: RunLabel, path: str) -> pd.Series:
    """Which rows of `frame` (the file at `path`) belong to `run`'s job and as_of."""
    check_stored_columns("file", path, frame.columns, RUN_COLUMNS)
    return (frame[JOB_COLUMN] == run.job) & (frame[AS_OF_COLUMN] == run.as_of)
