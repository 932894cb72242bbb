"""`forecast job run|schedule SPEC`: the command-line face of scheduled jobs.

Exit codes: 0 success, 1 the job failed (its previous outputs are untouched),
2 the spec or an option is invalid (one line on stderr), 143 (128 + SIGTERM) or
130 (SIGINT) the run was stopped: its MLflow run ends KILLED and a temporary
file it was writing is removed, so each output is as before the run or complete. A SIGTERM that arrives after
the outputs are written lets the run be recorded as a success first, then exits 143 saying so.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from forecast.cli_support import import_tensorflow_quietly
from forecast.jobs.errors import JobFailed, SpecError
from forecast.redaction import redact

job_app = typer.Typer(
    help="Run forecast jobs described by a YAML spec, once or on a cron schedule.", no_args_is_help=True
)

EXIT_FAILED = 1
EXIT_INVALID_SPEC = 2


def _load(spec_path: Path):
    """The validated spec (pandas and pydantic load here; TensorFlow only when the run starts)."""
    from forecast.jobs.spec import load_spec

    try:
        return load_spec(spec_path)
    except SpecError as error:
        typer.echo(f"error: {redact(str(error))}", err=True)
        raise typer.Exit(EXIT_INVALID_SPEC) from None


def _as_of(text: str | None):
    import pandas as pd

    from forecast.run_columns import normalise_as_of

    if text is None:
        return None
    try:
        stamp = normalise_as_of(text)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        typer.echo(
            f"error: --as-of {text!r} is not a date and time; expected ISO 8601, e.g. 2026-11-22T02:00 "
            "or 2026-11-22T02:00+01:00",
            err=True,
        )
        raise typer.Exit(EXIT_INVALID_SPEC)
    return stamp


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the run unwinds: MLflow marks it KILLED, temporary files go."""

    signum = signal.SIGTERM


def _raise_terminated(signum: int, frame) -> None:
    raise _Terminated


class _Deferred:
    """A SIGTERM that arrived after the run's outputs were written: the run is recorded, then the command stops."""

    arrived = False

    def __call__(self, signum: int, frame) -> None:
        self.arrived = True

    def defer(self) -> None:
        signal.signal(signal.SIGTERM, self)


@contextmanager
def _sigterm_unwinds() -> Iterator[_Deferred]:
    """SIGTERM raises `_Terminated` during the run, until the outputs are written (`_Deferred.defer`).

    Python's default is to die at once, which leaves the MLflow run RUNNING and a temporary file behind; an unwind
    after the writes would mark a run KILLED whose outputs are whole.
    """
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield _Deferred()
    finally:
        signal.signal(signal.SIGTERM, previous)


@job_app.command("run")
def run_command(
    spec_path: Path = typer.Argument(..., help="the job's YAML spec"),
    as_of: str | None = typer.Option(None, "--as-of", help="the run's reference time (ISO 8601); default: now, UTC"),
) -> None:
    """Perform one run: read the data, forecast with the model, write the outputs, record the run."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = _load(spec_path)
    stamp = _as_of(as_of)
    import_tensorflow_quietly()  # the model's imports, before they print TensorFlow's start-up lines on stderr
    from forecast.jobs.runner import run_job

    try:
        with _sigterm_unwinds() as deferred:
            result = run_job(spec, stamp, on_written=deferred.defer)
    except JobFailed as error:
        typer.echo(f"error: {redact(str(error))}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except KeyboardInterrupt as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        typer.echo(
            f"error: job {spec.name} stopped by {signal.Signals(signum).name}; no output was left half-written",
            err=True,
        )
        raise SystemExit(128 + signum) from None  # said: not typer's status 130, which `forecast` says "stopped" of
    retrained = "; retrained" if result.retrained else ""
    if result.promotion:
        retrained += f", challenger {result.promotion}"
    typer.echo(
        f"job {result.job} as_of {result.as_of.isoformat()}: {result.rows_written} forecast rows "
        f"from model {result.model_uri} (version {result.model_version or '-'}) -> {result.output}; "
        f"scored {result.runs_scored} earlier run(s){retrained}"
    )
    if deferred.arrived:
        typer.echo(
            f"error: job {spec.name} was sent SIGTERM after its outputs were written; the run was completed and "
            "recorded before stopping",
            err=True,
        )
        raise SystemExit(128 + signal.SIGTERM)


@job_app.command("schedule")
def schedule_command(
    spec_path: Path = typer.Argument(..., help="the job's YAML spec, with a 'schedule' section"),
) -> None:
    """Run the job on its cron schedule in this process until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = _load(spec_path)
    if spec.schedule is None:
        typer.echo(f"error: job spec {spec_path} is invalid: schedule: required for 'forecast job schedule'", err=True)
        raise typer.Exit(EXIT_INVALID_SPEC)
    try:
        schedule = spec.expanded().schedule  # the schedule with its ${NAME} references substituted
    except SpecError as error:
        typer.echo(f"error: job spec {spec_path}: {redact(str(error))}", err=True)
        raise typer.Exit(EXIT_INVALID_SPEC) from None
    import_tensorflow_quietly()
    from forecast.jobs.runner import job_state_path, run_job
    from forecast.jobs.scheduler import JobScheduler

    scheduler = JobScheduler(
        spec.name, schedule, lambda as_of: run_job(spec, as_of), state_path=job_state_path(spec_path, spec)
    )
    typer.echo(f"job {spec.name}: scheduled '{schedule.cron}' ({schedule.timezone}); Ctrl-C to stop")
    scheduler.serve()
