"""The `forecast` command: train, predict, backtest, demo, experiment, job.

```
forecast train data.csv --model-dir model/ --horizon 12 --lookback 24 --quantiles 0.1,0.9
forecast predict model/ data.csv --output forecasts.parquet
forecast backtest data.parquet --output backtest.csv --n-windows 3 --horizon 12
forecast demo
forecast job run spec.yaml --as-of 2026-11-22T02:00
```

Frames are long format (`unique_id, ds, y` plus covariate columns), read from
CSV or Parquet by the file's suffix; a CSV `ds` column that is not integer is
parsed as datetimes. Output files are written to a temporary file in the
target directory and renamed over the target (`os.replace`), so a reader never
sees half a file.

A mistake in the input (bad data, a missing file, an invalid option) prints
one line `error: ...` on stderr and exits with status 1 (2 for a usage error);
`forecast --debug ...` or `FORECAST_DEBUG=1` shows the traceback instead.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from forecast.jobs.cli import job_app
from forecast.redaction import redact
from forecast.tables import check_table_path, read_frame, write_frame_atomic

app = typer.Typer(
    help="Forecast time series with recurrent networks (LSTM family): train, predict, backtest, demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The names of `layers.available()`, listed here so that `--help` needs no Keras (a test keeps them equal).
CELLS = ("clockwork", "cifg_lstm", "elman", "gru", "irnn", "lstm", "lstm1997", "peephole_lstm", "scrn")
EXIT_USER_ERROR = 1
# Errors that describe a problem with the user's input, files or settings: shown as one line, not a traceback.
USER_ERRORS = (ValueError, LookupError, OSError, FloatingPointError, RuntimeError)

# Options shared by `train` and `backtest`; they mirror the Forecaster's constructor.
Cell = Annotated[str, typer.Option(help=f"Recurrent layer: one of {', '.join(CELLS)}.")]
Units = Annotated[int, typer.Option(help="Hidden units per recurrent layer.")]
NumLayers = Annotated[int, typer.Option(help="Stacked recurrent layers.")]
Lookback = Annotated[int, typer.Option(help="Past steps read before each forecast origin.")]
Horizon = Annotated[int, typer.Option(help="Steps forecast after each origin.")]
Quantiles = Annotated[str | None, typer.Option(help="Comma-separated quantile levels, e.g. 0.1,0.5,0.9.")]
Strategy = Annotated[str, typer.Option(help="'direct' (all steps at once) or 'recursive'.")]
Loss = Annotated[str, typer.Option(help="Point-forecast loss: mae, mse, smape (scale-free) or mase.")]
Dropout = Annotated[float, typer.Option(help="Input dropout of the recurrent layers.")]
Freq = Annotated[str | None, typer.Option(help="Pandas offset alias or integer step of ds (default: inferred).")]
PastCovariates = Annotated[str | None, typer.Option(help="Comma-separated columns observed up to the origin only.")]
FutureCovariates = Annotated[str | None, typer.Option(help="Comma-separated columns known for the horizon too.")]
StaticCovariates = Annotated[str | None, typer.Option(help="Comma-separated columns constant per series.")]
Calendar = Annotated[
    str | None, typer.Option(help="'auto' or comma-separated calendar fields (month, dayofweek, ...).")
]
Scaler = Annotated[str, typer.Option(help="Target scaling: window_mean, last, standard, minmax, robust, mean or none.")]
CovariateScaler = Annotated[
    str, typer.Option(help="Scaling of numeric covariates: standard, robust or none (0/1 flags are kept).")
]
Fill = Annotated[
    str | None, typer.Option(help="Missing values and gaps: ffill, interpolate, zero or drop_series (default: error).")
]
ShortSeries = Annotated[str, typer.Option(help="Series too short for a window: 'error' or 'drop' (with a warning).")]
Epochs = Annotated[str, typer.Option(help="Most passes over the training windows, or 'auto' (planned).")]
BatchSize = Annotated[str, typer.Option(help="Windows per gradient step, or 'auto' (1/50 of the windows, 16-256).")]
MinSteps = Annotated[int, typer.Option(help="Optimizer steps an automatic plan gives at least.")]
MinPast = Annotated[int, typer.Option(help="Fewest observed past rows of a window (shorter pasts are padded).")]
SeasonLength = Annotated[int | None, typer.Option(help="Seasonal period (default: from the calendar or inferred).")]
Deseasonalize = Annotated[
    bool, typer.Option("--deseasonalize/--no-deseasonalize", help="Divide seasonal series by their seasonal indices.")
]
EnsembleSize = Annotated[int, typer.Option(help="Networks trained together and combined by the median.")]
EnsembleLookbacks = Annotated[str | None, typer.Option(help="Comma-separated lookback of every ensemble member.")]
Calibration = Annotated[str, typer.Option(help="Interval calibration: 'conformal' or 'none'.")]
CombineWith = Annotated[
    str, typer.Option(help="Average the network's forecast with 'ets' (exponential smoothing) or 'none'.")
]
LearningRate = Annotated[float, typer.Option(help="Adam step size.")]
Clipnorm = Annotated[float | None, typer.Option(help="Gradient-norm clipping threshold (0 turns it off).")]
Distribution = Annotated[
    str | None, typer.Option(help="'mirrored': train on every local GPU, data-parallel (default: one device).")
]
ValidationWindows = Annotated[int, typer.Option(help="Last windows per series held out for early stopping (0: none).")]
RefitOnAllWindows = Annotated[
    bool,
    typer.Option(
        "--refit-on-all-windows/--no-refit-on-all-windows",
        help="After early stopping, train again on every window for the best number of epochs.",
    ),
]
Patience = Annotated[int, typer.Option(help="Epochs without improvement before early stopping.")]
Seed = Annotated[int, typer.Option(help="Random seed (reproducible runs).")]
Verbose = Annotated[int, typer.Option(help="Keras progress output: 1 bar, 2 line per epoch, 0 silent.")]
Tracking = Annotated[bool, typer.Option("--tracking/--no-tracking", help="Log the run to MLflow.")]
Experiment = Annotated[str, typer.Option(help="MLflow experiment name.")]
RunName = Annotated[str | None, typer.Option(help="MLflow run name.")]
RegisterAs = Annotated[str | None, typer.Option(help="Register the trained model under this name.")]
TrackingErrors = Annotated[str, typer.Option(help="When MLflow is unreachable: 'warn' (train anyway) or 'raise'.")]

# name: (option, default); the defaults are the Forecaster's.
_FORECASTER_OPTIONS = {
    "cell": (Cell, "lstm"),
    "units": (Units, 64),
    "num_layers": (NumLayers, 1),
    "lookback": (Lookback, 24),
    "horizon": (Horizon, 12),
    "quantiles": (Quantiles, None),
    "strategy": (Strategy, "direct"),
    "loss": (Loss, "mae"),
    "dropout": (Dropout, 0.0),
    "freq": (Freq, None),
    "past_covariates": (PastCovariates, None),
    "future_covariates": (FutureCovariates, None),
    "static_covariates": (StaticCovariates, None),
    "calendar": (Calendar, None),
    "scaler": (Scaler, "window_mean"),
    "covariate_scaler": (CovariateScaler, "standard"),
    "min_past": (MinPast, 1),
    "season_length": (SeasonLength, None),
    "deseasonalize": (Deseasonalize, True),
    "fill": (Fill, None),
    "short_series": (ShortSeries, "error"),
    "epochs": (Epochs, "auto"),
    "batch_size": (BatchSize, "auto"),
    "min_steps": (MinSteps, 1000),
    "learning_rate": (LearningRate, 1e-3),
    "clipnorm": (Clipnorm, 1.0),
    "distribution": (Distribution, None),
    "ensemble_size": (EnsembleSize, 1),
    "ensemble_lookbacks": (EnsembleLookbacks, None),
    "calibration": (Calibration, "conformal"),
    "combine_with": (CombineWith, "ets"),
    "validation_windows": (ValidationWindows, 1),
    "refit_on_all_windows": (RefitOnAllWindows, False),
    "patience": (Patience, 10),
    "seed": (Seed, 0),
    "verbose": (Verbose, 1),
    "tracking": (Tracking, True),
    "experiment": (Experiment, "forecast"),
    "run_name": (RunName, None),
    "register_as": (RegisterAs, None),
    "tracking_errors": (TrackingErrors, "warn"),
}


def forecaster_options(command):
    """Give `command(..., **settings)` one option per Forecaster setting (typer reads `__signature__`)."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind is not p.VAR_KEYWORD]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=option, default=default)
        for name, (option, default) in _FORECASTER_OPTIONS.items()
    ]
    command.__signature__ = inspect.Signature(own + shared)
    return command


@app.command()
@forecaster_options
def train(
    data: Annotated[Path, typer.Argument(help="Training frame (.csv or .parquet).")],
    model_dir: Annotated[Path, typer.Option("--model-dir", "-m", help="Directory to save the fitted model in.")],
    **settings,
) -> None:
    """Train a Forecaster on DATA and save it to --model-dir."""
    model = _forecaster(**settings)
    model.fit(_read(data))
    model.save(model_dir)
    typer.echo(f"Trained on {len(model.series_ids_)} series for {model.epochs_trained_} epochs; saved to {model_dir}")
    if model.run_id_ is not None:
        typer.echo(f"MLflow run {model.run_id_}; model {model.model_uri_}")


@app.command()
def predict(
    model_dir: Annotated[Path, typer.Argument(help="Directory written by `forecast train`.")],
    data: Annotated[Path, typer.Argument(help="History of the series to forecast (.csv or .parquet).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Forecast file to write (.csv or .parquet).")],
    future: Annotated[
        Path | None, typer.Option(help="Future covariates for the horizon steps (.csv or .parquet).")
    ] = None,
) -> None:
    """Forecast the horizon after each series' last timestamp in DATA."""
    from forecast.loading import load_forecaster

    _check_suffix(output)
    model = load_forecaster(model_dir)
    forecasts = model.predict(_read(data), None if future is None else _read(future))
    write_frame_atomic(forecasts, output)
    typer.echo(f"Wrote {len(forecasts)} forecast rows for {forecasts['unique_id'].nunique()} series to {output}")


@app.command()
@forecaster_options
def backtest(
    data: Annotated[Path, typer.Argument(help="Full history (.csv or .parquet).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Backtest forecasts file (.csv or .parquet).")],
    metrics_output: Annotated[
        Path | None, typer.Option(help="Score table file (.csv or .parquet); default: printed only.")
    ] = None,
    n_windows: Annotated[int, typer.Option(help="Forecast origins per series.")] = 1,
    step: Annotated[int | None, typer.Option(help="Steps between origins (default: horizon).")] = None,
    refit: Annotated[int, typer.Option(help="Refit every k windows (0: one model for all windows).")] = 0,
    **settings,
) -> None:
    """Rolling-origin evaluation of a Forecaster on DATA (fitted up to each series' first origin)."""
    _check_suffix(output)
    if metrics_output is not None:
        _check_suffix(metrics_output)
    result = _forecaster(**settings).backtest(_read(data), n_windows=n_windows, step=step, refit=refit or False)
    write_frame_atomic(result.forecasts, output)
    if metrics_output is not None:
        write_frame_atomic(result.metrics, metrics_output)
    typer.echo(result.metrics[result.metrics["unique_id"] == "overall"].to_string(index=False))
    typer.echo(
        "overall = the mean over series and origins; mae and rmse add up each series' own units, "
        "so compare series of different scales with smape and mase (scale-free)."
    )


@app.command()
def demo(
    epochs: Annotated[
        str, typer.Option(help="Most training epochs, or 'auto' (planned; early stopping may end sooner).")
    ] = "auto",
    max_series: Annotated[int | None, typer.Option(help="Use only the first N series (default: all 1,428).")] = None,
    units: Annotated[int, typer.Option(help="Hidden units of the LSTM.")] = 64,
    lookback: Annotated[int, typer.Option(help="Past months read per forecast.")] = 36,
    cell: Cell = "lstm",
    seed: Seed = 0,
    verbose: Verbose = 2,
    tracking: Tracking = True,
) -> None:
    """Train a global LSTM on M3 monthly and score it beside SeasonalNaive (sMAPE, MASE)."""
    from forecast.demo import run_demo

    run_demo(
        epochs=epochs if epochs == "auto" else _integer("epochs", epochs),
        max_series=max_series,
        units=units,
        lookback=lookback,
        cell=cell,
        seed=seed,
        verbose=verbose,
        tracking=tracking,
    )


@app.callback()
def options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of an error (also: FORECAST_DEBUG=1).")
    ] = False,
) -> None:
    """Forecast time series with recurrent networks (LSTM family): train, predict, backtest, demo."""


def main(argv: Sequence[str] | None = None) -> None:
    """Run the `forecast` command; a user's mistake ends in one line `error: ...` and exit status 1.

    Usage errors (an unknown option, a bad value) exit with status 2. With `--debug` or
    `FORECAST_DEBUG=1` the traceback of any error is shown instead.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("FORECAST_DEBUG", "") not in ("", "0")
    # TensorFlow's C++ start-up lines and its retracing notices are not the command's output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if not debug and set(args) & COMMANDS_USING_TENSORFLOW and not {"--help", "-h"} & set(args):
        import_tensorflow_quietly()
    try:
        app(args=args, prog_name="forecast")  # usage errors: a message and exit status 2 (click's convention)
    except USER_ERRORS as error:
        if debug:
            raise
        typer.echo(f"error: {one_line(error)}", err=True)
        sys.exit(EXIT_USER_ERROR)


COMMANDS_USING_TENSORFLOW = {"train", "predict", "backtest", "demo", "experiment", "run", "schedule"}


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with the process's stderr closed while its native libraries load.

    TensorFlow 2.21 logs its start-up lines (oneDNN, CUDA drivers) through absl before absl's logging
    is initialised, and such lines ignore ``TF_CPP_MIN_LOG_LEVEL``; they go straight to file
    descriptor 2. Everything TensorFlow logs after the import obeys ``TF_CPP_MIN_LOG_LEVEL``.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type when it has no message)."""
    text = " ".join(redact(str(error)).split())
    return text or type(error).__name__


def _register_experiment_command() -> None:
    from forecast.experiments.cli import experiment_command

    app.command("experiment")(experiment_command)


_register_experiment_command()
app.add_typer(job_app, name="job")


def _read(path: Path) -> pd.DataFrame:
    try:
        return read_frame(path)
    except (FileNotFoundError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None


def _check_suffix(path: Path) -> None:
    try:
        check_table_path(path)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _forecaster(**options):
    from forecast.forecaster import Forecaster

    for name in ("past_covariates", "future_covariates", "static_covariates"):
        options[name] = _names(options[name])
    if options["calendar"] is not None and options["calendar"] != "auto":
        options["calendar"] = _names(options["calendar"])
    if options["quantiles"] is not None:
        options["quantiles"] = tuple(float(q) for q in _names(options["quantiles"]))
    if options["ensemble_lookbacks"] is not None:
        options["ensemble_lookbacks"] = tuple(int(lookback) for lookback in _names(options["ensemble_lookbacks"]))
    for name in ("epochs", "batch_size"):
        if options[name] != "auto":
            options[name] = _integer(name, options[name])
    for name in ("calibration", "combine_with"):
        if options[name] == "none":
            options[name] = None
    if options["freq"] is not None and options["freq"].lstrip("-").isdigit():
        options["freq"] = int(options["freq"])
    for name in ("scaler", "covariate_scaler"):
        if options[name] == "none":
            options[name] = None
    if options["clipnorm"] == 0:
        options["clipnorm"] = None
    return Forecaster(**options)


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"--{name.replace('_', '-')} must be an integer or 'auto'; got {text!r}") from None


def _names(text: str | None) -> tuple[str, ...]:
    return () if not text else tuple(part.strip() for part in text.split(",") if part.strip())
