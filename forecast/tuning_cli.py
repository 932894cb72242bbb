"""`forecast tune DATA --space space.yaml`: hyperparameter search for a forecaster (`forecast.tuning`).

`tune_command` is a plain function with typer-annotated parameters; `forecast/cli.py` registers it on the
`forecast` app:

```
forecast tune history.csv --space examples/tuning/space.yaml --horizon 8 --lookback 16 --n-trials 20
forecast tune history.csv --space space.yaml --horizon 8 --timeout 3600 --n-jobs 2 --register-as m3-quarterly
forecast tune history.csv --space ets_space.yaml --estimator ets --horizon 8 --n-trials 4
```

The estimator's fixed settings come from `--horizon`, `--lookback`, `--epochs`, `--seed` and `--set NAME=VALUE`
(any other declared setting, parsed by its kind). The space, the settings and the options are checked before
TensorFlow or Optuna load, so `--help` and every usage error answer at once. Running the same command again
resumes the study: its trials are kept and `--n-trials` more run.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

from forecast.cli_support import check_model_dir, import_tensorflow_quietly, read_data
from pipelines.settings import Setting, settings_of

ESTIMATORS = {
    "forecaster": "forecast.forecaster.Forecaster",
    "ets": "forecast.baselines.ExponentialSmoothing",
    "theta": "forecast.baselines.Theta",
    "seasonal-naive": "forecast.baselines.SeasonalNaive",
    "naive": "forecast.baselines.Naive",
    "drift": "forecast.baselines.Drift",
}
"""The forecasters `--estimator` names, by module and class."""
SETTINGS_CLASSES = {"forecaster": "forecast.settings.ForecasterSettings"}
"""Where an estimator's settings can be checked without TensorFlow (the baselines load none)."""
COMMAND_SETTINGS = ("tracking", "verbose")
"""Settings the command decides: the search records its own runs (`--tracking`), and trials train quietly."""
FLAG_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def tune_command(
    data: Annotated[
        Path,
        typer.Argument(
            help="History in long format (CSV or Parquet: unique_id, ds, y); the validation origins are the last "
            "--n-windows of every series.",
            metavar="DATA",
        ),
    ],
    space: Annotated[
        Path,
        typer.Option(help="YAML search space: setting: {type: int|float|categorical, low, high, log, step, choices}."),
    ],
    estimator: Annotated[
        str, typer.Option(help=f"The forecaster to tune: {', '.join(ESTIMATORS)}.", metavar="NAME")
    ] = "forecaster",
    horizon: Annotated[int | None, typer.Option(help="Steps forecast after each origin (a fixed setting).")] = None,
    lookback: Annotated[int | None, typer.Option(help="Past steps the network sees (a fixed setting).")] = None,
    epochs: Annotated[
        str | None, typer.Option(help="Most epochs of every fit: an integer or auto.", metavar="INTEGER|auto")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the sampler and the estimator's training.", min=0)] = 0,
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help="Another fixed setting, NAME=VALUE (repeatable).", metavar="NAME=VALUE"),
    ] = None,
    n_trials: Annotated[
        int | None, typer.Option(help="Trials to run now (a resumed study keeps its own).", min=1)
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds (above 0) after which no new trial starts.", callback=_positive)
    ] = None,
    n_windows: Annotated[int, typer.Option(help="Validation origins per series.", min=1)] = 1,
    step: Annotated[int | None, typer.Option(help="Steps between origins (default: horizon).", min=1)] = None,
    metric: Annotated[str, typer.Option(help="Score to minimise: mase, smape, mape, mae, rmse or pinball.")] = "mase",
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default: sqlite optuna.db beside MLflow's store).")
    ] = None,
    study_name: Annotated[
        str | None, typer.Option(help="Study to create or resume (default: named after the search).")
    ] = None,
    n_jobs: Annotated[int, typer.Option(help="Worker processes running trials at once.", min=1)] = 1,
    register_as: Annotated[str | None, typer.Option(help="Register the refitted best model under this name.")] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment of the search.")] = "forecast",
    tracking: Annotated[bool, typer.Option("--tracking/--no-tracking", help="Record the search in MLflow.")] = True,
    model_dir: Annotated[
        Path | None, typer.Option("--model-dir", "-m", help="Also save the refitted best model here.")
    ] = None,
    id_col: Annotated[
        str, typer.Option("--id-col", help="Column of the series ids (read as unique_id).")
    ] = "unique_id",
    time_col: Annotated[str, typer.Option("--time-col", help="Column of the time stamps (read as ds).")] = "ds",
    target_col: Annotated[str, typer.Option("--target-col", help="Column of the values (read as y).")] = "y",
) -> None:
    """Search hyperparameters of a forecaster on DATA (Optuna TPE, pruning, MLflow runs) and refit the best."""
    if estimator not in ESTIMATORS:
        raise typer.BadParameter(
            f"expected one of {', '.join(ESTIMATORS)}; got {estimator!r}", param_hint="--estimator"
        )
    if n_trials is None and timeout is None:
        raise typer.BadParameter("give --n-trials or --timeout (or both): the search needs an end")
    given = {"horizon": horizon, "lookback": lookback, "epochs": epochs, "seed": seed}
    settings_class = _load(SETTINGS_CLASSES.get(estimator, ESTIMATORS[estimator]))
    owner = ESTIMATORS[estimator].rpartition(".")[2]
    settings = estimator_settings(settings_class, owner, given, assignments or [])
    from forecast.tuning import SearchSpace, tune

    search_space = SearchSpace.from_yaml(space, settings_class)
    if model_dir is not None:
        check_model_dir(model_dir)
    frame = read_data(data, id_col, time_col, target_col)
    import_tensorflow_quietly()  # the network's imports, before the estimator class loads them noisily
    model = _load(ESTIMATORS[estimator])(**settings)
    result = tune(
        model,
        frame,
        search_space,
        n_trials=n_trials,
        timeout=timeout,
        n_windows=n_windows,
        step=step,
        metric=metric,
        storage=storage,
        study_name=study_name,
        n_jobs=n_jobs,
        tracking=tracking,
        experiment=experiment,
        register_as=register_as,
        seed=seed,
    )
    typer.echo(summary(result, metric))
    if model_dir is not None:
        result.best_estimator.save(model_dir)
        typer.echo(f"Saved the refitted best model to {model_dir}")


def _positive(value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"expected a number of seconds above 0; got {value:g}")
    return value


def estimator_settings(
    settings_class: type, owner: str, given: dict[str, Any], assignments: list[str]
) -> dict[str, Any]:
    """Constructor arguments of the estimator `owner` (its settings declared by `settings_class`) from the named
    options (None: not given) and `--set NAME=VALUE`, parsed and checked.

    An option or name that is not a setting of the estimator, or a value its kind refuses, is a usage error
    naming the option.
    """
    declared = {setting.name: setting for setting in settings_of(settings_class)}
    texts: dict[str, tuple[str, Any]] = {}
    for name, value in given.items():
        if value is None:
            continue
        if name not in declared:
            if name == "seed":
                continue  # the sampler's seed; an estimator without a seed of its own has no random start
            raise typer.BadParameter(f"{owner} has no setting {name}", param_hint=f"--{name}")
        texts[name] = (f"--{name}", value)
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not name:
            raise typer.BadParameter(f"expected NAME=VALUE; got {assignment!r}", param_hint="--set")
        if name not in declared or name in COMMAND_SETTINGS:
            known = sorted(set(declared) - set(COMMAND_SETTINGS))
            raise typer.BadParameter(
                f"{name!r} is not a setting of {owner} the search fixes; expected one of {known}",
                param_hint="--set",
            )
        texts[name] = ("--set", value)
    arguments = {name: _parsed(declared[name], hint, value) for name, (hint, value) in texts.items()}
    if "tracking" in declared:
        arguments.update(tracking=False, verbose=0)
    try:
        settings_class(**arguments)._check_params()
    except ValueError as error:
        raise typer.BadParameter(" ".join(str(error).split())) from None
    return arguments


def _parsed(setting: Setting, hint: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if setting.kind.is_flag:
        if value.strip().lower() not in FLAG_TEXT:
            raise typer.BadParameter(f"{setting.name} must be true or false; got {value!r}", param_hint=hint)
        return FLAG_TEXT[value.strip().lower()]
    try:
        return setting.parse(value)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=hint) from None


def _load(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def summary(result, metric: str) -> str:
    """What the search found, in a few lines: the study, the best trial against the estimator as given, the runs."""
    import optuna

    study = result.study
    states = [trial.state for trial in study.trials]
    counts = ", ".join(
        f"{states.count(state)} {label}"
        for state, label in (
            (optuna.trial.TrialState.COMPLETE, "complete"),
            (optuna.trial.TrialState.PRUNED, "pruned"),
            (optuna.trial.TrialState.FAIL, "failed"),
        )
    )
    best = study.best_trial
    complete = optuna.trial.TrialState.COMPLETE
    base = [trial for trial in study.trials if trial.user_attrs.get("base") and trial.state == complete]
    against = f" (the estimator as given, trial {base[0].number}: {base[0].value:.4f})" if base else ""
    lines = [
        f"Study {study.study_name}: {len(study.trials)} trials ({counts}); the same command resumes it.",
        f"Best trial {best.number}: {metric} {best.value:.4f}{against}",
        *(f"  {name} = {value!r}" for name, value in best.params.items()),
    ]
    fitted = result.best_estimator
    if result.run_id is not None:
        lines.append(f"MLflow run {result.run_id}; refitted best model {fitted.model_uri_}")
    if fitted.registered_model_version_ is not None:
        lines.append(f"Registered version {fitted.registered_model_version_}")
    return "\n".join(lines)
