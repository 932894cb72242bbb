"""`forecast experiment NAME`: run one long-time-lag experiment of the 1997 LSTM paper.

`experiment_command` is a plain function with typer-annotated parameters;
`forecast/cli.py` registers it on the `forecast` app:

```
forecast experiment adding --cell lstm1997 --T 100 --budget 300000 --clipnorm 1.0
forecast experiment temporal-order --cell gru --no-tracking
```
"""

from __future__ import annotations

from dataclasses import fields
from types import SimpleNamespace
from typing import Annotated

import typer

from forecast.experiments.config import DEFAULT_TRACKING_EXPERIMENT, Checkpoint, ExperimentConfig, ExperimentResult
from forecast.experiments.problems import available_problems

# The field defaults, read without constructing a config (its validation loads Keras).
_DEFAULTS = SimpleNamespace(**{field.name: field.default for field in fields(ExperimentConfig)})


def experiment_command(
    name: Annotated[str, typer.Argument(help=f"Problem: {', '.join(available_problems())}.")],
    cell: Annotated[str, typer.Option(help="Recurrent layer name from layers.registry.")] = _DEFAULTS.cell,
    length: Annotated[
        int | None,
        typer.Option("--T", "--length", help="Minimal sequence length T (default 100; not for temporal order)."),
    ] = None,
    informative_elements: Annotated[
        int, typer.Option(help="N leading elements carrying the class (two-sequence problems).")
    ] = _DEFAULTS.informative_elements,
    budget: Annotated[int, typer.Option(help="Most training sequences to use.")] = _DEFAULTS.budget,
    batch_size: Annotated[int, typer.Option(help="Sequences per Adam step.")] = _DEFAULTS.batch_size,
    units: Annotated[int, typer.Option(help="Hidden units of the recurrent layer.")] = _DEFAULTS.units,
    learning_rate: Annotated[float, typer.Option(help="Adam step size.")] = _DEFAULTS.learning_rate,
    clipnorm: Annotated[
        float | None, typer.Option(help="Clip each gradient to this norm (default: no clipping).")
    ] = _DEFAULTS.clipnorm,
    seed: Annotated[int, typer.Option(help="Seed of the data streams and weight initialisers.")] = _DEFAULTS.seed,
    test_size: Annotated[int, typer.Option(help="Held-out test sequences.")] = _DEFAULTS.test_size,
    validation_size: Annotated[
        int, typer.Option(help="Validation sequences checked during training.")
    ] = _DEFAULTS.validation_size,
    check_every: Annotated[
        int, typer.Option(help="Training sequences between validation checks.")
    ] = _DEFAULTS.check_every,
    target_accuracy: Annotated[
        float, typer.Option(help="Accuracy (fraction within tolerance) that solves the problem.")
    ] = _DEFAULTS.target_accuracy,
    chrono: Annotated[
        bool,
        typer.Option(
            "--chrono/--no-chrono", help="Chrono-initialise forget-gate LSTM and GRU cells (Tallec & Ollivier 2018)."
        ),
    ] = _DEFAULTS.chrono,
    tracking: Annotated[bool, typer.Option("--tracking/--no-tracking", help="Log the run to MLflow.")] = True,
    tracking_experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = DEFAULT_TRACKING_EXPERIMENT,
) -> None:
    """Train a recurrent network on a 1997 LSTM experiment until solved or out of budget."""
    from forecast.experiments.runner import run_experiment

    try:
        config = ExperimentConfig(
            problem=name,
            cell=cell,
            length=length,
            informative_elements=informative_elements,
            budget=budget,
            batch_size=batch_size,
            units=units,
            learning_rate=learning_rate,
            clipnorm=clipnorm,
            seed=seed,
            test_size=test_size,
            validation_size=validation_size,
            check_every=check_every,
            target_accuracy=target_accuracy,
            chrono=chrono,
        )
        result = run_experiment(
            config, tracking=tracking, tracking_experiment=tracking_experiment, progress=_echo_checkpoint
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    typer.echo(format_result(result))


def format_result(result: ExperimentResult) -> str:
    """The result as `key: value` lines."""
    problem = result.problem
    paper = f"{problem.paper_sequences:,} training sequences" if problem.paper_sequences else "not reported"
    lines = [
        f"problem: {problem.name} (experiment {problem.experiment})"
        + (f", T = {problem.length}" if problem.length else ""),
        f"cell: {result.config.cell}",
        f"solved: {'yes' if result.solved else 'no'} "
        f"(target: {result.config.target_accuracy:.0%} of test sequences within {problem.tolerance})",
        f"training sequences: {result.training_sequences:,}",
        f"test accuracy: {result.test_accuracy:.4f} ({result.test_wrong} of {result.config.test_size} wrong)",
        f"test mean absolute error: {result.test_mean_absolute_error:.4f}",
        f"wall time: {result.wall_time_seconds:.1f} s",
        f"paper's LSTM: {paper}",
    ]
    if result.run_id is not None:
        lines.append(f"MLflow run: {result.run_id}")
    return "\n".join(lines)


def _echo_checkpoint(checkpoint: Checkpoint) -> None:
    typer.echo(
        f"{checkpoint.training_sequences:>9,} sequences  loss {checkpoint.training_loss:.5f}  "
        f"validation accuracy {checkpoint.validation_accuracy:.4f}"
    )
