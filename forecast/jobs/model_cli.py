"""`forecast model promote NAME VERSION`: move a registered model's alias by hand, overriding the jobs' decisions.

A job moves an alias (`@champion`) to a retrained version only when that version wins a backtest
(`forecast.jobs.promotion`). People who know better move it here; the move is recorded like a
job's decision: an MLflow run (tags `promotion.decision = manual`, the versions before and after)
and a tag on the version. Exit codes: 0 moved, 1 the model or version does not exist or the tracking
store cannot be used (one line, listing what the registry holds), 2 a usage error.

Only typer is imported here: `forecast model --help` never waits for MLflow.
"""

from __future__ import annotations

import re

import typer

model_app = typer.Typer(no_args_is_help=True)

EXIT_FAILED = 1
DEFAULT_EXPERIMENT = "model-promotions"
ALIAS_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,255}")
"""MLflow's alias names: letters, digits, `_` and `-`; `latest` and `v<digits>` are reserved for versions."""
RESERVED_ALIAS = re.compile(r"latest|v\d+", re.IGNORECASE)


def _checked_alias(alias: str) -> str:
    """`alias` if MLflow accepts it as an alias name; a usage error naming `--alias` otherwise."""
    if not ALIAS_PATTERN.fullmatch(alias):
        raise typer.BadParameter(f"expected 1 to 255 letters, digits, '_' or '-', found {alias!r}")
    if RESERVED_ALIAS.fullmatch(alias):
        raise typer.BadParameter(f"{alias!r} is reserved by MLflow for versions; choose another alias")
    return alias


@model_app.callback()
def models() -> None:
    """Manage registered forecast models: move an alias to a version by hand."""
    # A callback keeps `promote` a subcommand: typer runs a one-command app as that command.


@model_app.command("promote")
def promote_command(
    name: str = typer.Argument(..., help="the registered model's name"),
    version: int = typer.Argument(..., min=1, help="the version that takes the alias"),
    alias: str = typer.Option(
        "champion", "--alias", callback=_checked_alias, help="the alias to move (jobs load models:/NAME@ALIAS)"
    ),
    reason: str = typer.Option("", "--reason", help="why, recorded with the move"),
    experiment: str = typer.Option(DEFAULT_EXPERIMENT, "--experiment", help="the MLflow experiment of the record"),
) -> None:
    """Point NAME@ALIAS at VERSION (the tracking store: MLFLOW_TRACKING_URI, else ./mlflow.db)."""
    from forecast.redaction import redact

    try:
        previous = _promote(name, str(version), alias, reason, experiment)
    except Exception as error:  # a missing model or version, an unreachable store: one line
        typer.echo(f"error: {redact(' '.join(str(error).split()))}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    before = f"version {previous}" if previous else "no version"
    typer.echo(f"{name}@{alias}: version {version} (was {before})")


def _promote(name: str, version: str, alias: str, reason: str, experiment: str) -> str | None:
    """Move the alias and record the move; returns the version the alias pointed at before (None: a new alias)."""
    from forecast.tracking import bounded_http_requests

    with bounded_http_requests():  # a server that stops answering midway costs seconds, not minutes
        return _move_and_record(name, version, alias, reason, experiment)


def _move_and_record(name: str, version: str, alias: str, reason: str, experiment: str) -> str | None:
    """`_promote`'s work, its MLflow requests bounded."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from forecast.jobs.promotion import DECISION_TAG, REASON_TAG, move_alias
    from forecast.model_uri import registry_contents
    from forecast.tracking import existing_store, tracking_run

    existing_store()  # a mistyped MLFLOW_TRACKING_URI must not create an empty registry; a dead server fails fast
    client = MlflowClient()
    try:
        client.get_model_version(name, version)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            client.get_registered_model(name)
        except MlflowException:
            raise LookupError(f"no registered model named {name!r}. {registry_contents(client)}") from None
        raise LookupError(f"model {name} has no version {version}. {registry_contents(client)}") from None
    said = f"manual: {reason}" if reason else "manual"
    tags = {DECISION_TAG: "manual", "model": name, "alias": alias}
    with tracking_run(True, experiment, f"promote {name} v{version} to @{alias}", "raise", tags) as tracker:
        previous = move_alias(client, name, alias, version)
        tracker.log_params({"model": name, "alias": alias, "version": version, "previous_version": previous or ""})
        tracker.set_tags({REASON_TAG: said})
        client.set_model_version_tag(name, version, DECISION_TAG, "manual")
        client.set_model_version_tag(name, version, REASON_TAG, said)
    return previous
