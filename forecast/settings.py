"""The settings of the Forecaster and its tracking, each declared once (`pipelines.settings`).

The `Forecaster`'s constructor arguments are the fields of `ForecasterSettings`: the windowing settings of
`pipelines.window_settings.WindowSettings` (the ones `SeriesWindows` takes, passed on to the pipeline it fits)
followed by the network, training, combination and tracking settings below. The command line
(`forecast train --help`), the validation of every value and the settings reference of the docs are generated
from these declarations; this module imports neither TensorFlow nor MLflow, so the command line checks its
options before either loads.

Tracking is one composed setting: `tracking=False` (no MLflow run), `True` (a run with the defaults of
`Tracking`) or `Tracking(experiment=..., run_name=..., register_as=..., errors=...)`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from pipelines.settings import (
    Choice,
    Flag,
    Integer,
    IntegerOrAuto,
    Kind,
    Levels,
    Number,
    Setting,
    Text,
    check_settings,
    declared,
    settings_dataclass,
    settings_of,
)
from pipelines.window_settings import WindowSettings

CELLS = ("clockwork", "cifg_lstm", "elman", "gru", "irnn", "lstm", "lstm1997", "peephole_lstm", "scrn")
"""The names of `layers.registry.available()`, listed here so that checking a setting needs no Keras (a test
keeps the two equal)."""
STRATEGIES = ("direct", "recursive")
POINT_LOSSES = ("mae", "mse", "smape", "mase")
CALIBRATIONS = (None, "conformal")
COMBINATIONS = ("auto", "ets", None)
NONNEGATIVE = ("auto", True, False)
MAX_UNITS = 65_536
"""The widest recurrent layer accepted (a larger one cannot be allocated on any machine we know of)."""


@settings_dataclass
class Tracking:
    """Where and how a fit or backtest is recorded in MLflow (`forecast.tracked`).

    The tracking store is `MLFLOW_TRACKING_URI`, else MLflow's default (`mlflow.db` in the working directory).
    """

    experiment: str = declared(Setting("experiment", Text(), "forecast", "MLflow experiment name"))
    run_name: str | None = declared(
        Setting("run_name", Text(allow_none=True), None, "MLflow run name (none: MLflow picks one)")
    )
    register_as: str | None = declared(
        Setting(
            "register_as", Text(allow_none=True), None, "also register the logged model under this name (a new version)"
        )
    )
    errors: str = declared(
        Setting(
            "errors",
            Choice(("warn", "raise")),
            "warn",
            "when the tracking store is unreachable: warn (and train without tracking) or raise",
            option="tracking-errors",
        )
    )

    def __post_init__(self) -> None:
        check_settings(self)
        name = self.register_as
        if name is not None and (not name.strip() or "/" in name or ":" in name):
            raise ValueError(
                f"register_as must be a registered model name, not blank and without '/' or ':' (MLflow's rule, "
                f"checked before any training); got {name!r}."
            )

    def get_config(self) -> dict[str, Any]:
        return {setting.name: getattr(self, setting.name) for setting in settings_of(self)}

    def __repr__(self) -> str:
        changed = [
            f"{setting.name}={getattr(self, setting.name)!r}"
            for setting in settings_of(self)
            if getattr(self, setting.name) != setting.default
        ]
        return f"Tracking({', '.join(changed)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tracking) and self.get_config() == other.get_config()

    __hash__ = None


def tracking_settings(tracking: bool | Tracking, default: Tracking | None = None) -> Tracking | None:
    """The `Tracking` a `tracking` setting stands for (None: no tracking; `True`: `default` or the defaults)."""
    if tracking is True:
        return default or Tracking()
    return tracking or None


def unregistered(tracking: bool | Tracking) -> bool | Tracking:
    """`tracking` without `register_as`: the fits inside a backtest see only the history up to an origin, and a
    registered model must not be one of them."""
    if isinstance(tracking, Tracking) and tracking.register_as is not None:
        return Tracking(**{**tracking.get_config(), "register_as": None})
    return tracking


class TrackingKind(Kind):
    """`True`, `False` or a `Tracking`; on the command line `--tracking/--no-tracking` plus one option
    per `Tracking` setting."""

    is_flag = True
    nested = Tracking

    def check(self, name: str, value: Any) -> None:
        if value is True or value is False or isinstance(value, Tracking):
            return
        raise ValueError(f"{name} must be True, False or a Tracking(...); got {value!r}.")

    def describe(self) -> str:
        return "true or false (in Python also Tracking(experiment=..., run_name=..., register_as=..., errors=...))"

    def to_json(self, value: Any) -> Any:
        return value.get_config() if isinstance(value, Tracking) else value

    def from_json(self, value: Any) -> Any:
        return Tracking(**value) if isinstance(value, dict) else value

    def show(self, value: Any) -> str:
        return "false" if value is False else "true"


class Distribution(Kind):
    """None (one device), `"mirrored"` (every local GPU) or a `tf.distribute.Strategy` built by the caller."""

    def check(self, name: str, value: Any) -> None:
        if value is None or value == "mirrored":
            return
        import tensorflow as tf  # only reached for a strategy object, which means TensorFlow is imported already

        if not isinstance(value, tf.distribute.Strategy):
            raise ValueError(f"{name} must be None, 'mirrored' or a tf.distribute.Strategy; got {value!r}.")

    def parse(self, name: str, text: str) -> str | None:
        return Choice((None, "mirrored")).parse(name, text)

    def describe(self) -> str:
        return "none (one device), mirrored (every local GPU, data-parallel) or a tf.distribute.Strategy"

    def metavar(self) -> str:
        return "none|mirrored"

    def to_json(self, value: Any) -> Any:
        # A strategy object names this machine's devices, not the model: a saved model keeps only the names.
        return value if value in (None, "mirrored") else None


class Lookbacks(Kind):
    """Positive integers, one per ensemble member (`36,24,12`), or None."""

    def check(self, name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not len(value):
            raise ValueError(f"{name} must be a non-empty list of positive integers or None; got {value!r}.")
        for item in value:
            if isinstance(item, bool) or not isinstance(item, numbers.Integral) or item < 1:
                raise ValueError(f"{name} must be a non-empty list of positive integers or None; got {list(value)!r}.")

    def parse(self, name: str, text: str) -> tuple[int, ...] | None:
        if text.strip().lower() in ("", "none"):
            return None
        try:
            return tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise ValueError(f"--{name.replace('_', '-')} must be {self.describe()}; got {text!r}") from None

    def describe(self) -> str:
        return "positive integers, one per ensemble member (36,24,12), or none"

    def metavar(self) -> str:
        return "LOOKBACKS"

    def to_json(self, value: Any) -> Any:
        return None if value is None else [int(item) for item in value]

    def from_json(self, value: Any) -> Any:
        return None if value is None else tuple(value)


# The network settings the Forecaster and the language model (`forecast.text.LanguageModel`) share.
CELL = Setting("cell", Choice(CELLS), "lstm", "recurrent layer (layers.available())")
NUM_LAYERS = Setting("num_layers", Integer(maximum=64), 1, "stacked recurrent layers")
CLIPNORM = Setting(
    "clipnorm",
    Number(low=0.0, low_inclusive=False, allow_none=True),
    1.0,
    "largest norm of each weight's gradient (Pascanu et al. 2013); none: no clipping",
)
DISTRIBUTION = Setting(
    "distribution",
    Distribution(),
    None,
    "train on several devices: none (one device), mirrored (every local GPU), or in Python a tf.distribute.Strategy; "
    "batch_size is then the global batch size",
)


@settings_dataclass
class ForecasterSettings(WindowSettings):
    """The Forecaster's settings: the windowing settings, then the network, training, combination and tracking."""

    cell: str = declared(CELL)
    units: int = declared(
        Setting("units", Integer(maximum=MAX_UNITS), 64, "hidden units of every recurrent layer and of the decoder")
    )
    num_layers: int = declared(NUM_LAYERS)
    quantiles: Sequence[float] | None = declared(
        Setting(
            "quantiles",
            Levels(),
            None,
            "quantile levels to forecast (columns y_hat_q10, ...) with the pinball loss; y_hat is then the median; "
            "none trains a point forecast with the loss",
        )
    )
    strategy: str = declared(
        Setting(
            "strategy",
            Choice(STRATEGIES),
            "direct",
            "direct (all horizon steps in one output) or recursive (a one-step network fed back horizon times; "
            "no past covariates)",
        )
    )
    loss: str = declared(
        Setting(
            "loss",
            Choice(POINT_LOSSES),
            "mae",
            "point-forecast loss: mae, mse, smape (the M3 score, scale-free) or mase (each window's MAE over its "
            "series' in-sample seasonal-naive MAE); ignored with quantiles",
        )
    )
    dropout: float = declared(
        Setting(
            "dropout", Number(low=0.0, high=1.0, high_inclusive=False), 0.0, "input dropout of the recurrent layers"
        )
    )
    epochs: int | str = declared(
        Setting(
            "epochs",
            IntegerOrAuto(),
            "auto",
            "most passes over the training windows; auto plans five optimizer steps per window (at least 200, at "
            "most min_steps) and, with held-out windows, at least 100 epochs, which early stopping usually ends "
            "sooner (forecast.training)",
        )
    )
    batch_size: int | str = declared(
        Setting(
            "batch_size",
            IntegerOrAuto(),
            "auto",
            "windows per gradient step; auto takes about 1/50 of the training windows, between 16 and 256",
        )
    )
    min_steps: int = declared(
        Setting(
            "min_steps",
            Integer(),
            1000,
            "cap on the optimizer steps an automatic plan gives at least (five per window, at least 200)",
        )
    )
    learning_rate: float = declared(
        Setting("learning_rate", Number(low=0.0, low_inclusive=False), 1e-3, "Adam step size")
    )
    clipnorm: float | None = declared(CLIPNORM)
    distribution: Any = declared(DISTRIBUTION)
    ensemble_size: int = declared(
        Setting(
            "ensemble_size",
            Integer(maximum=64),
            1,
            "networks trained together in one wider model, each from its own random start, combined by the median",
        )
    )
    ensemble_lookbacks: Sequence[int] | None = declared(
        Setting(
            "ensemble_lookbacks",
            Lookbacks(),
            None,
            "the lookback of every ensemble member (each at most lookback); none gives every member lookback",
        )
    )
    calibration: str | None = declared(
        Setting(
            "calibration",
            Choice(CALIBRATIONS),
            "conformal",
            "conformal widens (or narrows) every central interval [q, 1-q] so that it covers 1-2q of the held-out "
            "windows (forecast.calibration); none keeps the pinball-trained quantiles",
        )
    )
    combine_with: str | None = declared(
        Setting(
            "combine_with",
            Choice(COMBINATIONS),
            "auto",
            "auto chooses, per series, the weight of the network's forecast against exponential smoothing's "
            "(0, 1/4, 1/2, 3/4, 1) on held-out windows, shrunk towards the data set's choice, and ETS alone where "
            "nothing can be held out (equal weights with validation_windows=0; forecast.combination); ets averages "
            "the two in equal parts; none gives the network alone",
        )
    )
    nonnegative: str | bool = declared(
        Setting(
            "nonnegative",
            Choice(NONNEGATIVE),
            "auto",
            "auto: a series whose history is never negative never gets a negative forecast or quantile; true: no "
            "series does; false: forecasts are left as they are",
        )
    )
    validation_windows: int = declared(
        Setting(
            "validation_windows",
            Integer(minimum=0),
            3,
            "validation origins per series, the last window and others a third of a horizon apart, held out for "
            "early stopping, the choice of combination and the calibration, as many as the series' length allows "
            "(forecast.holdout; 0: no validation)",
        )
    )
    refit_on_all_windows: bool = declared(
        Setting(
            "refit_on_all_windows",
            Flag(),
            False,
            "after early stopping, train a fresh network on every window for the epochs that scored best",
        )
    )
    patience: int = declared(
        Setting(
            "patience",
            Integer(),
            10,
            "epochs without a better validation loss before stopping (the learning rate halves after half as many); "
            "at least 200 optimizer steps",
        )
    )
    seed: int | None = declared(
        Setting(
            "seed",
            Integer(minimum=0, allow_none=True),
            0,
            "seeds Python, NumPy and the backend so that runs repeat exactly; none leaves the global state alone",
        )
    )
    verbose: int = declared(
        Setting("verbose", Choice((0, 1, 2)), 1, "training output: 0 silent, 1 and 2 one line per epoch")
    )
    tracking: bool | Tracking = declared(
        Setting(
            "tracking",
            TrackingKind(),
            True,
            "log every fit and backtest as an MLflow run: true, false, or in Python Tracking(experiment=..., ...)",
        )
    )

    def _check_params(self) -> None:
        """Every setting against its declaration, then what relates several of them."""
        self.check_window_settings()
        if self.ensemble_lookbacks is not None:
            lookbacks = list(self.ensemble_lookbacks)
            if len(lookbacks) != self.ensemble_size:
                raise ValueError(
                    f"ensemble_lookbacks must give one lookback per member (ensemble_size={self.ensemble_size}); "
                    f"got {lookbacks}"
                )
            if max(lookbacks) > self.lookback:
                raise ValueError(f"ensemble_lookbacks must be at most lookback={self.lookback}; got {lookbacks}")
        if self.strategy == "recursive" and self.past_covariates:
            raise ValueError(
                f"strategy='recursive' cannot use past_covariates {list(self.past_covariates)}: their values after "
                "the origin are unknown; use strategy='direct' or pass them as future_covariates"
            )
