"""The `forecast` command: train, predict, backtest, tune, demo, experiment, job, model.

```
forecast train data.csv --model-dir model/ --horizon 12 --lookback 24 --quantiles 0.1,0.9
forecast predict model/ data.csv --output forecasts.parquet
forecast backtest data.parquet --output backtest.csv --n-windows 3 --horizon 12
forecast tune data.csv --space space.yaml --n-trials 20 --horizon 12
forecast demo
forecast job run spec.yaml --as-of 2026-11-22T02:00
forecast model promote m3-monthly-lstm 4 --alias champion
```

Frames are long format (`unique_id, ds, y` plus covariate columns; `--id-col`, `--time-col` and `--target-col`
name other columns), read from CSV or Parquet by the file's suffix; a CSV `ds` column that is not integer is
parsed as datetimes. Output files are written to a temporary file in the target directory and renamed over the
target (`os.replace`), so a reader never sees half a file.

The options of `train` and `backtest` are the Forecaster's settings, generated from their one declaration
(`forecast.settings`): the same names, kinds, defaults and help. They are parsed and checked before TensorFlow
is imported, so `--help` and every usage error answer at once; TensorFlow loads when the work starts.

A warning (e.g. covariates that reach no forecast) prints one line `warning: ...` on stderr. A mistake in the
input (bad data, a missing or unreadable file, an invalid setting) prints one line `error: ...` on stderr and
exits with status 1; a usage error (an unknown option, a malformed value) prints one
line and exits with status 2. `forecast --debug ...` or `FORECAST_DEBUG=1` shows the traceback instead.
SIGTERM at any moment, TensorFlow's import included, exits with status 143.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from forecast.cli_support import (
    DATA_HELP,
    check_model_dir,
    check_outputs,
    import_tensorflow_quietly,
    in_file_columns,
    one_line,
    read_data,
)
from forecast.jobs.cli import job_app
from forecast.settings import ForecasterSettings, tracking_settings
from pipelines.settings import Setting, settings_of

app = typer.Typer(
    help="Forecast time series with recurrent networks (LSTM family): train, predict, backtest, demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# typer carries its own copy of click: its exceptions are the ones the commands raise and the parser throws.
UsageError = typer.BadParameter.__base__
ClickError = UsageError.__base__
EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_INTERRUPTED = 128 + signal.SIGINT
# Errors that describe a problem with the user's input, files or settings: shown as one line, not a traceback.
USER_ERRORS = (ValueError, LookupError, OSError, FloatingPointError, RuntimeError)

IdColumn = Annotated[
    str, typer.Option("--id-col", help="Column of the series ids in the files (read as unique_id, written back).")
]
TimeColumn = Annotated[
    str, typer.Option("--time-col", help="Column of the time stamps in the files (read as ds, written back).")
]
TargetColumn = Annotated[
    str, typer.Option("--target-col", help="Column of the values in the files (read as y, written back).")
]


# ------------------------------------------------------------------------------------- options from declarations


def _option(setting: Setting, default: Any = None) -> inspect.Parameter:
    """One command-line option of a declared setting (its value stays None when the option is not given)."""
    shown = setting.kind.show(setting.default if default is None else default)
    help_text = f"{setting.help[0].upper()}{setting.help[1:]} [{setting.kind.describe()}; default: {shown}]"
    if setting.kind.is_flag:
        flag = setting.option_name[2:]
        option = typer.Option(f"--{flag}/--no-{flag}", help=help_text, show_default=False)
        annotation = Annotated[bool | None, option]
    else:
        option = typer.Option(setting.option_name, help=help_text, metavar=setting.kind.metavar(), show_default=False)
        annotation = Annotated[str | None, option]
    return inspect.Parameter(setting.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=None)


def _declared_options(settings_class: type) -> list[inspect.Parameter]:
    """The options of every command-line setting of `settings_class` (composed settings add theirs)."""
    parameters = []
    for setting in settings_of(settings_class):
        if not setting.cli:
            continue
        parameters.append(_option(setting))
        nested = getattr(setting.kind, "nested", None)
        if nested is not None:
            parameters += [_option(inner) for inner in settings_of(nested)]
    return parameters


def with_forecaster_options(command):
    """Give `command(..., **options)` one option per Forecaster setting (typer reads `__signature__`)."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind is not p.VAR_KEYWORD]
    command.__signature__ = inspect.Signature(own + _declared_options(ForecasterSettings))
    return command


def forecaster_settings(options: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments from the given options (None: not given), parsed and checked without TensorFlow."""
    arguments: dict[str, Any] = {}
    for setting in settings_of(ForecasterSettings):
        nested = getattr(setting.kind, "nested", None)
        given = options.get(setting.name)
        if nested is not None:
            inner = {
                each.name: _parsed(each, options.get(each.name))
                for each in settings_of(nested)
                if options.get(each.name) is not None
            }
            if given is False:
                arguments[setting.name] = False
            elif inner:
                try:
                    arguments[setting.name] = nested(**inner)
                except ValueError as error:
                    raise UsageError(str(error)) from None
            elif given is not None:
                arguments[setting.name] = given
        elif given is not None:
            arguments[setting.name] = _parsed(setting, given)
    try:
        ForecasterSettings(**arguments)._check_params()  # every setting checked here, before TensorFlow loads
    except ValueError as error:
        raise UsageError(str(error)) from None
    return arguments


def _parsed(setting: Setting, given: Any) -> Any:
    if isinstance(given, bool):
        return given
    try:
        return setting.parse(given)
    except ValueError as error:
        message = str(error).removeprefix(f"{setting.option_name} ")
        raise typer.BadParameter(message, param_hint=setting.option_name) from None


# -------------------------------------------------------------------------------------------------- commands


@app.command()
@with_forecaster_options
def train(
    data: Annotated[Path, typer.Argument(help=f"Training data: {DATA_HELP}.", metavar="DATA")],
    model_dir: Annotated[Path, typer.Option("--model-dir", "-m", help="Directory to save the fitted model in.")],
    id_col: IdColumn = "unique_id",
    time_col: TimeColumn = "ds",
    target_col: TargetColumn = "y",
    **options,
) -> None:
    """Train a Forecaster on DATA and save it to --model-dir."""
    settings = forecaster_settings(options)
    check_model_dir(model_dir)
    frame = read_data(data, id_col, time_col, target_col)
    model = _new_forecaster(settings)
    model.fit(frame)
    model.save(model_dir)
    network = f"the network for {model.epochs_trained_} epochs" if model.model_ is not None else "no network"
    typer.echo(f"Trained on {len(model.series_ids_)} series ({network}); saved to {model_dir}")
    typer.echo(describe_period(model))
    if model.network_skipped_:  # the combination then says the same: every series weight 0
        typer.echo(f"No network: {model.network_skipped_}")
    else:
        typer.echo(f"Combination: {model.combination_.summary()}")
    typer.echo(f"Statistical half: weight {model.theta_weight_:g} on Theta beside ETS ({model.theta_rule_})")
    if model.run_id_ is not None:
        logged = model.model_uri_ or "not logged (see the warning above)"
        typer.echo(f"MLflow run {model.run_id_}; model {logged}")
    register_as = tracking_settings(model.tracking).register_as if model.tracking else None
    if register_as is not None and model.registered_model_version_ is not None:
        typer.echo(f"Registered as models:/{register_as}/{model.registered_model_version_}")
    elif register_as is not None:
        typer.echo(f"warning: the model was not registered as {register_as!r} (see the warning above)", err=True)


def describe_period(model) -> str:
    """Where a fitted Forecaster's seasonal period came from: given, the calendar's, or inferred from integer stamps
    (where a spurious one is possible: annual data stamped by integer years, say)."""
    from pipelines.frequency import frequency_to_json  # pandas: not loaded for --help

    period = model.pipeline_.season_length_
    if model.season_length is not None:
        return f"Period: {period} (given)"
    if isinstance(model.freq_, int):
        return f"Period: {period} (inferred from the data: integer time stamps; --season-length sets it)"
    return f"Period: {period} (from the calendar: {frequency_to_json(model.freq_)})"


@app.command()
def predict(
    model_dir: Annotated[Path, typer.Argument(help="Directory written by `forecast train`.", metavar="MODEL_DIR")],
    data: Annotated[Path, typer.Argument(help=f"History of the series to forecast: {DATA_HELP}.", metavar="DATA")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Forecast file to write (.csv or .parquet).")],
    future: Annotated[
        Path | None, typer.Option(help="Future covariates for the horizon steps (.csv or .parquet).")
    ] = None,
    id_col: IdColumn = "unique_id",
    time_col: TimeColumn = "ds",
    target_col: TargetColumn = "y",
) -> None:
    """Forecast the horizon after each series' last timestamp in DATA."""
    from forecast.tables import write_frame_atomic

    check_outputs({"--output": output}, inputs=[data, *([] if future is None else [future])])
    history = read_data(data, id_col, time_col, target_col)
    future_frame = None if future is None else read_data(future, id_col, time_col, target_col, needs_target=False)
    _start_work()
    from forecast.loading import load_forecaster

    model = load_forecaster(model_dir)
    if future_frame is not None and not getattr(model, "future_covariates", ()):
        typer.echo(f"warning: --future {future} is not read: the model {model_dir} uses no future covariates", err=True)
    forecasts = model.predict(history, future_frame)
    write_frame_atomic(in_file_columns(forecasts, id_col, time_col, target_col), output)
    series = forecasts["unique_id"].unique()
    new = len(set(series.tolist()) - set(model.series_ids_.tolist()))
    unseen = f" ({new} not in the training data: forecast from their history alone)" if new else ""
    typer.echo(f"Wrote {len(forecasts)} forecast rows for {len(series)} series{unseen} to {output}")


@app.command()
@with_forecaster_options
def backtest(
    data: Annotated[Path, typer.Argument(help=f"Full history: {DATA_HELP}.", metavar="DATA")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Backtest forecasts file (.csv or .parquet).")],
    metrics_output: Annotated[
        Path | None, typer.Option(help="Score table file (.csv or .parquet); default: printed only.")
    ] = None,
    n_windows: Annotated[int, typer.Option(help="Forecast origins per series.", min=1)] = 1,
    step: Annotated[int | None, typer.Option(help="Steps between origins (default: horizon).", min=1)] = None,
    refit: Annotated[int, typer.Option(help="Refit every k windows (0: one model for all windows).", min=0)] = 0,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            help="Backtest this saved model (written by `forecast train`) instead of training one: origins inside "
            "its training data score in-sample (a warning says how many); series it never saw are forecast from "
            "their history up to each origin. Takes no Forecaster options but the tracking ones."
        ),
    ] = None,
    id_col: IdColumn = "unique_id",
    time_col: TimeColumn = "ds",
    target_col: TargetColumn = "y",
    **options,
) -> None:
    """Rolling-origin evaluation of a Forecaster on DATA (fitted up to each series' first origin), or of a saved
    model (--model-dir)."""
    from forecast.tables import write_frame_atomic

    settings = forecaster_settings(options)
    model_settings = [name for name in settings if name != "tracking"]
    if model_dir is not None and model_settings:
        given = ", ".join(f"--{name.replace('_', '-')}" for name in model_settings)
        raise UsageError(f"--model-dir backtests the saved model with its own settings; leave out {given}")
    if getattr(settings.get("tracking"), "register_as", None) is not None:
        raise UsageError(
            "--register-as: a backtest registers no model (its fits see only the history up to an origin); "
            "register with `forecast train --register-as`"
        )
    check_outputs({"--output": output, "--metrics-output": metrics_output}, inputs=[data])
    frame = read_data(data, id_col, time_col, target_col)
    if model_dir is None:
        model = _new_forecaster(settings)
    else:
        _start_work()
        from forecast.loading import load_forecaster

        model = load_forecaster(model_dir)
        if "tracking" in settings:  # where the backtest's run goes, not a setting of the model
            model.set_params(tracking=settings["tracking"])
    result = model.backtest(frame, n_windows=n_windows, step=step, refit=refit or False)
    write_frame_atomic(in_file_columns(result.forecasts, id_col, time_col, target_col), output)
    if metrics_output is not None:
        write_frame_atomic(in_file_columns(result.metrics, id_col, time_col, target_col), metrics_output)
    typer.echo(result.metrics[result.metrics["unique_id"] == "overall"].to_string(index=False))
    typer.echo(
        "overall = the mean over series and origins; mae and rmse add up each series' own units, "
        "so compare series of different scales with smape and mase (scale-free)."
    )


DEMO_DEFAULTS = {
    "epochs": "auto",
    "units": 64,
    "lookback": 36,
    "cell": "lstm",
    "seed": 0,
    "verbose": 2,
    "tracking": True,
}
"""The Forecaster settings the demo takes, with the demo's values (`forecast.demo.demo_forecaster`)."""


def with_demo_options(command):
    """Give `demo(..., **options)` the options of the Forecaster settings in `DEMO_DEFAULTS`."""
    declared = {setting.name: setting for setting in settings_of(ForecasterSettings)}
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind is not p.VAR_KEYWORD]
    shared = [_option(declared[name], default) for name, default in DEMO_DEFAULTS.items()]
    command.__signature__ = inspect.Signature(own + shared)
    return command


@app.command()
@with_demo_options
def demo(
    max_series: Annotated[
        int | None, typer.Option(help="Use only the first N series (default: all 1,428).", min=1)
    ] = None,
    **options,
) -> None:
    """Train a global LSTM on M3 monthly and score it beside SeasonalNaive (sMAPE, MASE)."""
    settings = {**DEMO_DEFAULTS, **forecaster_settings(options)}
    _start_work()
    from forecast.demo import run_demo

    run_demo(
        epochs=settings["epochs"],
        max_series=max_series,
        units=settings["units"],
        lookback=settings["lookback"],
        cell=settings["cell"],
        seed=settings["seed"],
        verbose=settings["verbose"],
        tracking=settings["tracking"] is not False,
    )


@app.callback()
def options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of an error (also: FORECAST_DEBUG=1).")
    ] = False,
) -> None:
    """Forecast time series with recurrent networks (LSTM family): train, predict, backtest, demo."""


def _register_subcommands() -> None:
    from forecast.experiments.cli import experiment_command
    from forecast.jobs.model_cli import model_app
    from forecast.tuning_cli import tune_command

    app.command("experiment")(experiment_command)
    app.command("tune")(tune_command)
    app.add_typer(job_app, name="job")
    app.add_typer(model_app, name="model")


_register_subcommands()


# ------------------------------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> None:
    """Run the `forecast` command; a user's mistake ends in one line `error: ...` and exit status 1.

    Usage errors (an unknown option, a bad value) exit with status 2. With `--debug` or
    `FORECAST_DEBUG=1` the traceback of any error is shown instead.
    """
    signal.signal(signal.SIGTERM, exit_terminated)
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("FORECAST_DEBUG", "") not in ("", "0")
    # TensorFlow's C++ start-up lines and its retracing notices are not the command's output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # Nor are MLflow's notices that it creates or upgrades the tables of a new SQLite store.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            if not debug:
                warnings.showwarning = show_warning
            status = app(args=args, prog_name="forecast", standalone_mode=False)
    except typer.Abort:  # end of input at a prompt
        status = EXIT_INTERRUPTED
    except ClickError as error:
        if debug:
            raise
        typer.echo(f"error: {_usage_message(error, args)}", err=True)
        sys.exit(EXIT_USAGE)
    except USER_ERRORS as error:
        if debug:
            raise
        message = one_line(error)
        typer.echo(f"error: {in_options(message) if args[:1] in TRAINING_COMMANDS else message}", err=True)
        sys.exit(EXIT_USER_ERROR)
    if status == EXIT_INTERRUPTED:  # typer returns Ctrl-C's KeyboardInterrupt as this status, silently
        typer.echo("error: stopped", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if argv is None:  # the process itself: its work is done and recorded, so a SIGTERM while Python and MLflow
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # shut down (seconds) must not make it exit 143
    sys.exit(status if isinstance(status, int) else 0)


TRAINING_COMMANDS = (["train"], ["predict"], ["backtest"], ["tune"])
"""The commands whose options are the Forecaster's settings and the data file's columns."""
PYTHON_REMEDIES = (
    (
        re.compile(r"fill='ffill', 'interpolate', 'zero' or 'drop_series'"),
        "--fill ffill, interpolate, zero or drop_series",
    ),
    (re.compile(r"Pass freq="), "Pass --freq"),
    (re.compile(r"future_df is required"), "--future is required"),
    (re.compile(r"pass them as future_df"), "pass them in the --future file"),
    (re.compile(r"short_series='drop'"), "--short-series drop"),
    (re.compile(r"combine_with=None"), "--combine-with none"),
    (re.compile(r"df\.rename\(columns=\{'([^']+)': 'unique_id'\}\)"), "--id-col \\1"),
    (re.compile(r"df\.rename\(columns=\{'([^']+)': 'ds'\}\)"), "--time-col \\1"),
    (re.compile(r"df\.rename\(columns=\{'([^']+)': 'y'\}\)"), "--target-col \\1"),
)
"""What the library's messages advise in Python, said as the command line's options."""


def in_options(message: str) -> str:
    """`message` with its Python remedies (`fill='ffill'`, `df.rename(...)`) said as options (`--fill ffill`)."""
    for pattern, option in PYTHON_REMEDIES:
        message = pattern.sub(option, message)
    return message


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A Python warning as one line `warning: ...` on stderr: the source file and line that Python shows belong to
    the package, not to the command's user (`--debug` keeps Python's form); its Python remedies said as options."""
    warning = message if isinstance(message, Warning) else category(message)
    typer.echo(f"warning: {in_options(one_line(warning))}", err=True)


def exit_terminated(signum: int, frame) -> None:
    """SIGTERM ends the command with exit status 143 (128 + 15) after unwinding, not killed by the signal."""
    raise SystemExit(EXIT_TERMINATED)


def _usage_message(error: Exception, args: list[str]) -> str:
    """Click's message on one line, with the command whose `--help` tells more."""
    context = getattr(error, "ctx", None)
    path = context.command_path if context is not None else _command_path(args)
    return f"{' '.join(error.format_message().split())} (see '{path} --help')"


def _command_path(args: list[str]) -> str:
    """`forecast` and the (sub)command names that start `args`."""
    group = typer.main.get_command(app)
    path = ["forecast"]
    for token in args:
        commands = getattr(group, "commands", {})
        if token not in commands:
            break
        path.append(token)
        group = commands[token]
    return " ".join(path)


def _start_work() -> None:
    """Import TensorFlow (quietly) now that the arguments are parsed and checked."""
    import_tensorflow_quietly()


def _new_forecaster(settings: dict[str, Any]):
    _start_work()
    from forecast.forecaster import Forecaster

    return Forecaster(**settings)
