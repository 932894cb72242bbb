"""``forecast job run|schedule SPEC``: the command-line face of scheduled jobs.

Exit codes: 0 success, 1 the job failed (its previous outputs are untouched),
2 the spec is invalid.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from forecast.jobs.spec import SpecError, load_spec

job_app = typer.Typer(
    help="Run forecast jobs described by a YAML spec, once or on a cron schedule.", no_args_is_help=True
)

EXIT_FAILED = 1
EXIT_INVALID_SPEC = 2


def _load(spec_path: Path):
    try:
        return load_spec(spec_path)
    except SpecError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INVALID_SPEC) from None


@job_app.command("run")
def run_command(
    spec_path: Path = typer.Argument(..., help="the job's YAML spec"),
    as_of: str | None = typer.Option(None, "--as-of", help="the run's reference time (ISO 8601); default: now, UTC"),
) -> None:
    """Perform one run: read the data, forecast with the model, write the outputs, record the run."""
    from forecast.jobs.runner import JobFailed, run_job

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = _load(spec_path)
    try:
        result = run_job(spec, as_of)
    except JobFailed as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(
        f"job {result.job} as_of {result.as_of.isoformat()}: {result.rows_written} forecast rows "
        f"from model {result.model_uri} (version {result.model_version or '-'}) -> {result.output}"
    )


@job_app.command("schedule")
def schedule_command(
    spec_path: Path = typer.Argument(..., help="the job's YAML spec, with a 'schedule' section"),
) -> None:
    """Run the job on its cron schedule in this process until SIGINT/SIGTERM."""
    from forecast.jobs.runner import job_state_path, run_job
    from forecast.jobs.scheduler import JobScheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = _load(spec_path)
    if spec.schedule is None:
        typer.echo(f"error: job spec {spec_path} is invalid: schedule: required for 'forecast job schedule'", err=True)
        raise typer.Exit(EXIT_INVALID_SPEC)
    scheduler = JobScheduler(
        spec.name, spec.schedule, lambda as_of: run_job(spec, as_of), state_path=job_state_path(spec_path, spec)
    )
    typer.echo(f"job {spec.name}: scheduled '{spec.schedule.cron}' ({spec.schedule.timezone}); Ctrl-C to stop")
    scheduler.serve()
