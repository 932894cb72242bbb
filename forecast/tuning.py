"""Hyperparameter search for any forecaster: Optuna's TPE sampler over a declared search space, each configuration
scored by rolling-origin validation, every trial a nested MLflow run, the best configuration refitted.

The objective of a trial with parameters `θ` is the backtest score of an unfitted clone of the estimator with
`θ` (`clone(estimator).set_params(**θ).backtest(df, n_windows, step)`: fitted on each series' history up to its
first origin, forecasting the `horizon` steps after each of the `n_windows` origins of
`forecast.backtesting.series_cutoffs`), summarised by `metric` over series and origins (MASE by default,
with the period of the base estimator's backtest, the same for every trial):

```
score(θ) = mean_{i, k} metric(y_{i, c_k+1 .. c_k+h}, ŷ_{i, c_k+1 .. c_k+h}(θ)),    lower is better
```

The sampler is TPE (Bergstra, Bardenet, Bengio & Kégl, "Algorithms for hyper-parameter optimization", NeurIPS
2011; Optuna, Akiba et al., KDD 2019), seeded. A network reports its validation loss after every epoch
(`forecast.pruning.PruningCallback`) and the pruner stops a trial that lags the others at the same epoch
(by default the median rule after five trials and five epochs; a network whose `loss` is searched reports losses
that do not compare across trials, so pass `pruner=optuna.pruners.NopPruner()` then). A diverging trial (a
non-finite loss), or a configuration that the settings or the data refuse (a `ValueError`: `lookback` below a
fixed `min_past`, series too short for it), fails with a one-line warning and the search goes on; a trial stopped
by Ctrl-C or SIGTERM is recorded as failed before the search stops. The first trial of a new study is the
estimator as given, when its values lie inside the space: the search starts from the default it should beat. A
trial that draws the parameters of a completed one takes its score instead of fitting again (TPE redraws a few
categories often; the estimator's training is seeded, so a refit would repeat it).

The study lives in an Optuna storage (by default the SQLite file `optuna.db` beside MLflow's SQLite store) under
a name derived from the estimator, the space, the validation settings and the data, so running the same search
again resumes it: its trials are kept, and `n_trials` more are run. With `n_jobs > 1`, that many worker
processes (started with `spawn`: TensorFlow is not fork-safe) share the study through the storage; a script
that calls `tune` with `n_jobs > 1` needs the `if __name__ == "__main__":` guard that `spawn` needs.

MLflow: one parent run `tune-<study>` (the search settings, the space as `search_space.yaml`, the best
parameters and score), one nested run per trial (its parameters, `val_loss` per epoch, the score, the tag
`optuna.state`: COMPLETE, PRUNED or FAIL) and one nested run for the best configuration refitted on the whole of
`df` (a tracked fit: the logged model, registered under `register_as` when given).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient
from sklearn.base import clone

from forecast.backtesting import drops_short_series, history_until, kept_by_fit, series_cutoffs
from forecast.base import BaseForecaster, mase_season_length, text_ids
from forecast.metrics import OVERALL
from forecast.redaction import redact
from forecast.tracking import Tracker, resolve_tracking_uri, tracking_run
from pipelines.columns import ID
from pipelines.settings import Integer, Setting, settings_of, settings_to_json
from pipelines.validation import CheckedFrame, to_long_format

if TYPE_CHECKING:
    import optuna

PARAMETER_TYPES = ("int", "float", "categorical")
METRICS = ("mase", "smape", "mape", "mae", "rmse", "pinball")
"""The scores a search can minimise (`forecast.metrics.evaluate`'s, lower is better)."""
NOT_SEARCHABLE = {
    "horizon": "it defines the forecasting task, not the model",
    "freq": "it describes the data, not the model",
    "tracking": "the search records every trial itself",
    "distribution": "it names this machine's devices, not a model",
    "verbose": "it changes what training prints, not the model",
}
TRIAL_FAILURES = (FloatingPointError, ValueError)
"""What fails one trial and lets the search go on: a diverging network, a configuration the settings or the data
refuse."""
RUNTIME_SETTINGS = ("tracking", "verbose", "distribution")
"""Settings that leave the model unchanged: they do not name a study (`default_study_name`)."""
STORAGE_FILE = "optuna.db"
EXPERIMENT = "forecast"
STATE_TAG = "optuna.state"


# ------------------------------------------------------------------------------------------------ search space


@dataclass(frozen=True, kw_only=True)
class Parameter:
    """One searched setting: integers or reals in `[low, high]` (on a log scale, or in steps), or one of `choices`."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.trial.Trial) -> Any:
        """The trial's value of this parameter (Optuna's `suggest_int`, `suggest_float`, `suggest_categorical`)."""
        if self.type == "int":
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        if self.type == "float":
            return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))

    def contains(self, value: Any) -> bool:
        """Whether `value` is one this parameter can take."""
        if self.type == "categorical":
            return any(value == choice and type(value) is type(choice) for choice in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            return False
        if self.type == "int" and value != int(value):
            return False
        if not self.low <= value <= self.high:
            return False
        steps = 0.0 if self.step is None else (value - self.low) / self.step
        return bool(np.isclose(steps, round(steps)))

    def to_dict(self) -> dict[str, Any]:
        """The parameter as written in a search space file."""
        if self.type == "categorical":
            return {"type": self.type, "choices": list(self.choices)}
        spec = {"type": self.type, "low": self.low, "high": self.high}
        if self.log:
            spec["log"] = True
        if self.step is not None:
            spec["step"] = self.step
        return spec


@dataclass(frozen=True, kw_only=True)
class SearchSpace:
    """The settings a search varies, each checked against the estimator's declaration of it.

    Written as a mapping from setting names to ranges, in YAML (`from_yaml`) or Python (`from_dict`):

    ```
    units: {type: int, low: 16, high: 128, log: true}
    learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    dropout: {type: float, low: 0.0, high: 0.3, step: 0.1}
    cell: {type: categorical, choices: [lstm, gru]}
    combine_with: {type: categorical, choices: [null, ets]}
    ```

    Every bound and choice must be a value of the setting (its kind, `pipelines.settings`); an unknown setting,
    a bound outside the setting's values or a malformed entry is a `ValueError` of one line naming the field.
    Categorical choices are numbers, text, true/false or null (Optuna's categorical values).
    """

    parameters: tuple[Parameter, ...]

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], estimator: Any) -> SearchSpace:
        """The space `spec` for `estimator` (an estimator class or instance with declared settings)."""
        if not isinstance(spec, Mapping) or not spec:
            raise ValueError(f"search space must be a non-empty mapping of setting names to ranges; got {spec!r}")
        settings = {setting.name: setting for setting in settings_of(estimator)}
        return cls(parameters=tuple(_parameter(str(name), value, settings) for name, value in spec.items()))

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, estimator: Any) -> SearchSpace:
        """The space written in the YAML file `path` (a mapping of setting names to ranges)."""
        try:
            spec = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a safe loader
        except FileNotFoundError:
            raise FileNotFoundError(f"search space file {path} does not exist") from None
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ValueError(f"search space file {path} is not valid YAML: {' '.join(str(error).split())}") from None
        try:
            return cls.from_dict(spec, estimator)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

    @property
    def names(self) -> list[str]:
        return [parameter.name for parameter in self.parameters]

    def suggest(self, trial: optuna.trial.Trial) -> dict[str, Any]:
        """The trial's value of every parameter."""
        return {parameter.name: parameter.suggest(trial) for parameter in self.parameters}

    def values_of(self, estimator: Any) -> dict[str, Any] | None:
        """The estimator's own values of the searched settings, or None when one lies outside the space."""
        values = {parameter.name: getattr(estimator, parameter.name) for parameter in self.parameters}
        inside = all(parameter.contains(values[parameter.name]) for parameter in self.parameters)
        return values if inside else None

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The space as written in a search space file."""
        return {parameter.name: parameter.to_dict() for parameter in self.parameters}


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (the safe loader keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parameter(name: str, spec: Any, settings: Mapping[str, Setting]) -> Parameter:
    """One validated parameter (errors: `search space: <name>...`, one line)."""
    where = f"search space: {name}"
    if name not in settings:
        close = difflib.get_close_matches(name, list(settings), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        searchable = sorted(set(settings) - set(NOT_SEARCHABLE))
        raise ValueError(f"search space: unknown parameter {name!r}{hint}; the settings to search: {searchable}")
    if name in NOT_SEARCHABLE:
        raise ValueError(f"{where} cannot be searched: {NOT_SEARCHABLE[name]}")
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where} must be a mapping with a type ({', '.join(PARAMETER_TYPES)}); got {spec!r}")
    kind = spec.get("type")
    if kind not in PARAMETER_TYPES:
        raise ValueError(f"{where}.type must be one of {', '.join(PARAMETER_TYPES)}; got {kind!r}")
    keys = ("type", "choices") if kind == "categorical" else ("type", "low", "high", "log", "step")
    unknown = [key for key in spec if key not in keys]
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; a {kind} parameter takes {', '.join(keys)}")
    setting = settings[name]
    if kind == "categorical":
        return Parameter(name=name, type=kind, choices=_choices(where, setting, spec.get("choices")))
    low, high = (_bound(where, setting, kind, key, spec.get(key)) for key in ("low", "high"))
    if low > high:
        raise ValueError(f"{where}: low must be at most high; got low={low!r}, high={high!r}")
    if kind == "float" and isinstance(setting.kind, Integer):
        raise ValueError(f"{where}.type must be int: {name} takes integers ({setting.kind.describe()})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ValueError(f"{where}.log must be true or false; got {log!r}")
    step = spec.get("step")
    if step is not None:
        valid = (isinstance(step, int) if kind == "int" else isinstance(step, (int, float))) and step > 0
        if isinstance(step, bool) or not valid:
            raise ValueError(
                f"{where}.step must be a positive {'integer' if kind == 'int' else 'number'}; got {step!r}"
            )
        if log:
            raise ValueError(
                f"{where}: log and step cannot be combined (Optuna samples either on a log scale or in steps)"
            )
    if log and low <= 0:
        raise ValueError(f"{where}: a log scale needs low > 0; got low={low!r}")
    return Parameter(name=name, type=kind, low=low, high=high, log=log, step=step)


def _bound(where: str, setting: Setting, kind: str, key: str, value: Any) -> float:
    if value is None:
        raise ValueError(f"{where}.{key} is required for a {kind} parameter")
    number = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
    if isinstance(value, bool) or not number:
        hint = " (YAML reads 1e-4 as text: write 1.0e-4)" if isinstance(value, str) and _is_number(value) else ""
        raise ValueError(f"{where}.{key} must be {'an integer' if kind == 'int' else 'a number'}; got {value!r}{hint}")
    _check_value(where, setting, key, value)
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _choices(where: str, setting: Setting, choices: Any) -> tuple[Any, ...]:
    if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or not choices:
        raise ValueError(f"{where}.choices must be a non-empty list; got {choices!r}")
    for choice in choices:
        if choice is not None and not isinstance(choice, (bool, int, float, str)):
            raise ValueError(
                f"{where}.choices must be numbers, text, true/false or null (Optuna's categorical values); "
                f"got {choice!r}"
            )
        _check_value(where, setting, "choices", choice)
    return tuple(choices)


def _check_value(where: str, setting: Setting, key: str, value: Any) -> None:
    """The setting's own check of a bound or choice, its message prefixed with the field."""
    try:
        setting.kind.check(setting.name, value)
    except ValueError as error:
        hint = " (YAML writes None as null)" if isinstance(value, str) and value.lower() == "none" else ""
        raise ValueError(f"{where}.{key}: {' '.join(str(error).split())}{hint}") from None


# ------------------------------------------------------------------------------------------------------ search


@dataclass(frozen=True)
class TuningResult:
    """What a search found.

    study: the Optuna study (every trial of it, earlier runs' included).
    best_params: the searched settings of the best trial.
    best_score: its score (`metric` over the validation origins).
    best_estimator: a clone of the estimator with `best_params`, fitted on the whole of `df`.
    run_id: the parent MLflow run (None without tracking).
    """

    study: optuna.Study
    best_params: dict[str, Any]
    best_score: float
    best_estimator: BaseForecaster
    run_id: str | None


def tune(
    estimator: BaseForecaster,
    df: pd.DataFrame | pd.Series,
    space: SearchSpace | Mapping[str, Any] | str | os.PathLike,
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    n_windows: int = 1,
    step: int | None = None,
    metric: str = "mase",
    season_length: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    n_jobs: int = 1,
    pruner: optuna.pruners.BasePruner | None = None,
    tracking: bool = True,
    experiment: str = EXPERIMENT,
    register_as: str | None = None,
    seed: int = 0,
) -> TuningResult:
    """Search `space` for the settings of `estimator` that forecast `df` best, and refit the best (see module).

    Args:
        estimator: any forecaster (`Forecaster`, `ExponentialSmoothing`, ...); its other settings stay fixed.
        df: the history (long frame); the validation origins are the last `n_windows` of every series, and the
            best configuration is refitted on all of it.
        space: a `SearchSpace`, its mapping, or the path of its YAML file.
        n_trials: trials to run in this call (a resumed study keeps its earlier ones); None: until `timeout`.
        timeout: seconds after which no new trial starts (per worker); None: until `n_trials`.
        n_windows, step: the backtest origins (`step=None`: `horizon`, non-overlapping windows).
        metric: the score to minimise, one of `METRICS`.
        season_length: MASE period (None: the one `estimator.backtest` takes).
        storage: an Optuna storage URL (None: `sqlite:///<dir>/optuna.db` beside MLflow's SQLite store, see
            `default_storage`; give a PostgreSQL URL to share a study between machines).
        study_name: the study to create or resume (None: `default_study_name`).
        n_jobs: worker processes running trials at once.
        pruner: an Optuna pruner (None: `MedianPruner(n_startup_trials=5, n_warmup_steps=5)`).
        tracking: record the search in MLflow (`MLFLOW_TRACKING_URI`, else MLflow's default store).
        experiment: the MLflow experiment.
        register_as: register the refitted best model under this name (a new version; None: the name the
            estimator's own `Tracking` registers under, if any).
        seed: seeds the sampler (and nothing else: the estimator's own `seed` setting seeds its training).

    Returns:
        `TuningResult`.

    Raises:
        ValueError: for a bad space, argument or frame (one line naming it), or a study of that name made for
            another search.
        RuntimeError: when no trial of the study has completed.
    """
    optuna = _optuna()
    _check_arguments(estimator, n_trials, timeout, n_jobs, metric)
    space = _as_space(space, estimator)
    if metric == "pinball" and not estimator.get_params().get("quantiles") and "quantiles" not in space.names:
        raise ValueError(
            f"metric='pinball' scores quantile forecasts, and this {type(estimator).__name__} makes none; give it "
            "quantiles (quantiles=[0.1, 0.9]; on the command line --set quantiles=0.1,0.9) or another metric"
        )
    base = clone(estimator)
    base._check_params()
    checked = base._check_frame(text_ids(to_long_format(df)), "backtest")
    step = base.horizon if step is None else step
    cutoffs = series_cutoffs(checked.frame, n_windows, step, base.horizon, drops_short_series(base))
    if season_length is None:
        season_length = mase_season_length(base, checked)
    search = {
        "estimator": f"{type(base).__module__}.{type(base).__name__}",
        "settings": _model_settings(base),
        "space": space.to_dict(),
        "n_windows": n_windows,
        "step": step,
        "metric": metric,
        "season_length": int(season_length),
        "data": _fingerprint(checked.frame),
    }
    study_name = study_name or default_study_name(search)
    storage = storage or default_storage()
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="minimize",
        pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5),
        load_if_exists=True,
    )
    _check_same_search(study, search, storage)
    first_trial = len(study.trials)
    if "search" not in study.user_attrs:
        study.set_user_attr("search", search)
        values = space.values_of(base)
        if values is not None:
            study.enqueue_trial(values, user_attrs={"base": True})
    with tracking_run(
        enabled=tracking,
        experiment=experiment,
        run_name=f"tune-{study_name}",
        tags={"optuna.study": study_name, "optuna.first_trial": first_trial},
    ) as parent:
        parent.log_params(
            {
                "estimator": search["estimator"],
                **{f"fixed.{name}": value for name, value in search["settings"].items() if name not in space.names},
                **{f"tune.{key}": search[key] for key in ("n_windows", "step", "metric", "season_length")},
                "tune.n_trials": n_trials,
                "tune.timeout": timeout,
                "tune.n_jobs": n_jobs,
                "tune.seed": seed,
                "tune.storage": redact(storage),
                "tune.study_name": study_name,
            }
        )
        parent.log_dict(space.to_dict(), "search_space.yaml")
        objective = Objective(
            estimator=base,
            checked=checked,
            cutoffs=cutoffs,
            space=space,
            metric=metric,
            season_length=int(season_length),
            study_name=study_name,
            experiment=experiment,
            parent_run_id=parent.run_id,
        )
        seeds = np.random.SeedSequence([seed, first_trial]).generate_state(n_jobs)
        if n_jobs == 1:
            study.sampler = optuna.samplers.TPESampler(seed=int(seeds[0]))
            with _one_line_trial_failures(), _stops_recorded():
                study.optimize(objective, n_trials=n_trials, timeout=timeout, catch=TRIAL_FAILURES)
        else:
            _optimize_in_processes(objective, storage, study.pruner, seeds, n_trials, timeout, n_jobs)
            study = optuna.load_study(study_name=study_name, storage=storage)
        best = _best_trial(study, optuna)
        _warn_if_no_setting_mattered(study, optuna)
        parent.log_params({f"best.{name}": value for name, value in best.params.items()})
        parent.log_metrics({f"best_{metric}": best.value, **_trial_counts(study, optuna)})
        parent.set_tags({"optuna.best_trial": best.number})
        refitted = _refit_best(base, best, df, parent, experiment, study_name, register_as, metric)
    return TuningResult(
        study=study,
        best_params=dict(best.params),
        best_score=float(best.value),
        best_estimator=refitted,
        run_id=parent.run_id,
    )


def default_storage(tracking_uri: str | None = None) -> str:
    """The Optuna storage beside MLflow's store: `sqlite:///<dir>/optuna.db`.

    `<dir>` is the folder of MLflow's SQLite database (`sqlite:///x/mlflow.db` -> `sqlite:///x/optuna.db`),
    or of a local `file:` store; for a tracking server or an in-memory database, the working directory. The
    studies get a file of their own: MLflow's and Optuna's schemas each keep a migration table of the same name.
    """
    uri = tracking_uri or resolve_tracking_uri()
    directory = Path.cwd()
    if uri.startswith("sqlite:"):
        from sqlalchemy.engine import make_url

        database = make_url(uri).database
        if database and database != ":memory:":
            directory = Path(database).absolute().parent
    elif uri.startswith("file:") or "://" not in uri:
        directory = Path(uri.removeprefix("file://").removeprefix("file:")).absolute().parent
    return f"sqlite:///{directory / STORAGE_FILE}"


def default_study_name(search: Mapping[str, Any]) -> str:
    """`<estimator>-<digest>`: the same estimator settings, space, origins, metric and data name the same study."""
    text = json.dumps(search, sort_keys=True, default=str)
    estimator = str(search["estimator"]).rpartition(".")[2].lower()
    return f"{estimator}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


@dataclass
class Objective:
    """One trial: the estimator with the trial's parameters, fitted up to the first origin and scored on all.

    Picklable, so that worker processes run it; the MLflow run of a trial is nested under `parent_run_id`
    through MLflow's `mlflow.parentRunId` tag (None: no tracking).
    """

    estimator: BaseForecaster
    checked: CheckedFrame
    cutoffs: pd.DataFrame
    space: SearchSpace
    metric: str
    season_length: int
    study_name: str
    experiment: str
    parent_run_id: str | None
    history: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.history = history_until(self.checked.frame, self.cutoffs[self.cutoffs["window"] == 0])

    def __call__(self, trial: optuna.trial.Trial) -> float:
        optuna = _optuna()
        params = self.space.suggest(trial)
        tags = {"optuna.study": self.study_name, "optuna.trial": trial.number}
        if self.parent_run_id is not None:
            tags["mlflow.parentRunId"] = self.parent_run_id
        with tracking_run(
            enabled=self.parent_run_id is not None,
            experiment=self.experiment,
            run_name=f"trial-{trial.number}",
            tags=tags,
        ) as tracker:
            tracker.log_params(params)
            earlier = self._earlier_result(trial, params)
            if earlier is None:
                try:
                    score, pruning = self._fit_and_score(trial, params, tracker)
                except BaseException as error:
                    tracker.set_tags({STATE_TAG: "FAIL"})
                    if isinstance(error, SystemExit):  # SIGTERM: Optuna records only an interrupt as failed
                        raise _Stopped(error.code) from None
                    raise
            else:
                trial.set_user_attr("repeat_of", earlier.number)
                tracker.set_tags({"optuna.repeat_of": earlier.number})
                score, pruning = earlier.value, None
            pruned = pruning is not None and pruning.pruned_at is not None
            if not pruned:
                tracker.log_metrics({self.metric: score})
            tracker.set_tags({STATE_TAG: "PRUNED" if pruned else "COMPLETE"})
        if pruned:
            raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at} (val_loss {pruning.reported[-1]:.6g})")
        return score

    def _fit_and_score(self, trial: optuna.trial.Trial, params: dict[str, Any], tracker: Tracker):
        """`(score, pruning callback)`: the candidate fitted up to the first origin, then scored unless pruned
        (score None); the callback is None for an estimator without a network."""
        candidate = clone(self.estimator).set_params(**params)
        pruning = _pruning_callback(trial, candidate)
        try:
            candidate._check_params()
            candidate._fit_checked(candidate._check_frame(self.history, "fit"), [pruning] if pruning else [])
        finally:
            for epoch, value in enumerate(pruning.reported if pruning else []):
                tracker.log_metrics({"val_loss": value}, step=epoch)
        epochs = getattr(candidate, "epochs_trained_", None)
        if epochs is not None:
            trial.set_user_attr("epochs_trained", int(epochs))
            tracker.log_metrics({"epochs_trained": epochs})
        if pruning is not None and pruning.pruned_at is not None:
            return None, pruning
        return self.score(candidate), pruning

    def _earlier_result(self, trial: optuna.trial.Trial, params: dict[str, Any]) -> optuna.trial.FrozenTrial | None:
        """A completed trial with the same parameters (TPE may draw them again, above all from a few categories),
        whose score a seeded estimator would repeat; None for an estimator trained without a seed."""
        if getattr(self.estimator, "seed", 0) is None:
            return None
        complete = trial.study.get_trials(deepcopy=False, states=(_optuna().trial.TrialState.COMPLETE,))
        return next((earlier for earlier in complete if earlier.params == params), None)

    def score(self, fitted: BaseForecaster) -> float:
        """`metric` of the fitted candidate's forecasts from every origin, over series and origins (those its fit
        kept, under `short_series="drop"`: the fit warned of the others)."""
        cutoffs = self.cutoffs[kept_by_fit(fitted, self.cutoffs[ID].to_numpy())]
        result = fitted._backtest_checked(self.checked, cutoffs, False, self.season_length, [self.metric])
        overall = result.metrics[result.metrics[ID] == OVERALL]
        return float(overall[self.metric].iloc[0])


class _Stopped(KeyboardInterrupt):
    """A SIGTERM's `SystemExit` inside a trial, raised as the interrupt Optuna records as a failed trial (it leaves a
    trial RUNNING for ever on any other `BaseException`); `_stops_recorded` turns it back into the exit."""

    def __init__(self, code: Any):
        super().__init__(code)
        self.code = code

    def __repr__(self) -> str:
        return f"stopped (exit status {self.code})"


@contextmanager
def _stops_recorded() -> Iterator[None]:
    """The exit a trial's `_Stopped` carries, raised again once Optuna has recorded the trial."""
    try:
        yield
    except _Stopped as stopped:
        raise SystemExit(stopped.code) from None


class _WithoutTraceback(logging.Filter):
    """Optuna's warning that a trial failed, on one line: the error's repr without its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = record.exc_text = None
        return True


@contextmanager
def _one_line_trial_failures() -> Iterator[None]:
    """Optuna's failed-trial warnings without their tracebacks while the block runs (a refused configuration is the
    user's choice of space, not a fault of the program)."""
    logger = logging.getLogger("optuna.study._optimize")
    without = _WithoutTraceback()
    logger.addFilter(without)
    try:
        yield
    finally:
        logger.removeFilter(without)


def _pruning_callback(trial: optuna.trial.Trial, estimator: Any):
    """The Keras callback reporting a network's epochs to `trial`, or None for an estimator without a recurrent
    network (no `cell` setting: the baselines), whose search then never loads TensorFlow."""
    if not hasattr(estimator, "cell"):
        return None
    from forecast.pruning import PruningCallback

    return PruningCallback(trial)


@dataclass(frozen=True)
class _WorkerTask:
    objective: Objective
    storage: str
    pruner: Any
    sampler_seed: int
    n_trials: int | None
    timeout: float | None
    tracking_uri: str


def _optimize_in_processes(
    objective: Objective,
    storage: str,
    pruner: Any,
    seeds: np.ndarray,
    n_trials: int | None,
    timeout: float | None,
    n_jobs: int,
) -> None:
    """Run the trials in `n_jobs` spawned processes sharing the study (`n_trials` split between them)."""
    workers = n_jobs if n_trials is None else min(n_jobs, n_trials)
    shares = (
        [None] * workers
        if n_trials is None
        else [n_trials // workers + (i < n_trials % workers) for i in range(workers)]
    )
    tasks = [
        _WorkerTask(objective, storage, pruner, int(seeds[i]), shares[i], timeout, resolve_tracking_uri())
        for i in range(workers)
    ]
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        for done in [pool.submit(_run_worker, task) for task in tasks]:
            done.result()


def _run_worker(task: _WorkerTask) -> None:
    """A worker process: the study loaded from the shared storage, its share of the trials run."""
    import mlflow

    optuna = _optuna()
    mlflow.set_tracking_uri(task.tracking_uri)
    study = optuna.load_study(
        study_name=task.objective.study_name,
        storage=task.storage,
        sampler=optuna.samplers.TPESampler(seed=task.sampler_seed),
        pruner=task.pruner,
    )
    with _one_line_trial_failures():
        study.optimize(task.objective, n_trials=task.n_trials, timeout=task.timeout, catch=TRIAL_FAILURES)


def _refit_best(
    base: BaseForecaster,
    best: optuna.trial.FrozenTrial,
    df: pd.DataFrame | pd.Series,
    parent: Tracker,
    experiment: str,
    study_name: str,
    register_as: str | None,
    metric: str,
) -> BaseForecaster:
    """The best configuration fitted on the whole history, as a tracked fit nested under the parent run."""
    estimator = clone(base).set_params(**best.params)
    run_name = f"tune-{study_name}-best"
    tags = {"optuna.study": study_name, "optuna.best_trial": best.number, "tuning.role": "best-refit"}
    if "tracking" in estimator.get_params():
        from forecast.settings import Tracking, tracking_settings

        own = tracking_settings(base.tracking) or Tracking()  # the estimator's registered name and error policy
        tracked = (
            Tracking(
                experiment=experiment,
                run_name=run_name,
                register_as=register_as or own.register_as,
                errors=own.errors,
            )
            if parent.active
            else False
        )
        estimator.set_params(tracking=tracked).fit(df)
        if estimator.run_id_ is not None:
            refit_run = Tracker(MlflowClient(parent.tracking_uri), estimator.run_id_, parent.on_error)
            refit_run.set_tags(tags)
            refit_run.log_metrics({f"validation_{metric}": best.value})
        return estimator
    with tracking_run(enabled=parent.active, experiment=experiment, run_name=run_name, tags=tags) as tracker:
        estimator.fit(df)
        tracker.log_params(settings_to_json(estimator))
        tracker.log_metrics({f"validation_{metric}": best.value})
        estimator.run_id_ = tracker.run_id
        logged = tracker.call("log_model", lambda: _log_model(estimator, register_as))
        if logged is not None:
            estimator.model_uri_ = logged.model_uri
            estimator.registered_model_version_ = logged.registered_model_version
    return estimator


def _log_model(estimator: BaseForecaster, register_as: str | None):
    """Log a fitted estimator without a tracked fit of its own (a baseline) as a pyfunc model of the active run."""
    from forecast.pyfunc import log_forecaster, quiet_mlflow

    example = estimator.train_df_[estimator.train_df_[ID].isin(estimator.series_ids_[:2])].reset_index(drop=True)
    with quiet_mlflow(verbose=0):
        return log_forecaster(estimator, input_example=example, register_as=register_as)


# ------------------------------------------------------------------------------------------------------ checks


def _optuna():
    try:
        import optuna
    except ImportError:
        raise RuntimeError("hyperparameter search needs Optuna: pip install 'lstm-forecast[tune]'") from None
    return optuna


def _check_arguments(estimator: Any, n_trials: Any, timeout: Any, n_jobs: Any, metric: str) -> None:
    if not isinstance(estimator, BaseForecaster):
        raise TypeError(
            f"tune expects a forecaster (Forecaster, ExponentialSmoothing, ...); got {type(estimator).__name__}"
        )
    if n_trials is None and timeout is None:
        raise ValueError("give n_trials or timeout (or both): the search needs an end")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise ValueError(f"n_trials must be a positive integer or None; got {n_trials!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValueError(f"timeout must be a positive number of seconds or None; got {timeout!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer; got {n_jobs!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)} (lower is better); got {metric!r}")


def _as_space(space: Any, estimator: BaseForecaster) -> SearchSpace:
    if isinstance(space, SearchSpace):
        return SearchSpace.from_dict(space.to_dict(), estimator)
    if isinstance(space, (str, os.PathLike)):
        return SearchSpace.from_yaml(space, estimator)
    return SearchSpace.from_dict(space, estimator)


def _model_settings(estimator: BaseForecaster) -> dict[str, Any]:
    settings = settings_to_json(estimator)
    return {name: value for name, value in settings.items() if name not in RUNTIME_SETTINGS}


def _fingerprint(frame: pd.DataFrame) -> str:
    """A digest of the validated frame's values (the same data resumes the same study)."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def _check_same_search(study: optuna.Study, search: Mapping[str, Any], storage: str) -> None:
    """A resumed study must have been made for the same search: its trials' scores would not compare otherwise."""
    stored = study.user_attrs.get("search")
    if stored is None:
        return
    for key, value in json.loads(json.dumps(search, default=str)).items():
        before = stored.get(key)
        if before != value:
            if isinstance(before, dict) and isinstance(value, dict):  # the settings or the space: what differs
                names = sorted(name for name in {*before, *value} if before.get(name) != value.get(name))
                change = "; ".join(f"{name} {before.get(name)!r}, now {value.get(name)!r}" for name in names)
            else:
                change = f"{before!r}, now {value!r}"
            raise ValueError(
                f"study {study.study_name!r} in {redact(storage)} was made for another search ({key}: {change}); "
                "give another study name to start a new study"
            )


def _best_trial(study: optuna.Study, optuna: Any) -> optuna.trial.FrozenTrial:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        counts = ", ".join(
            f"{count:g} {name.removeprefix('n_')}" for name, count in _trial_counts(study, optuna).items()
        )
        raise RuntimeError(f"no trial of study {study.study_name!r} completed ({counts}); nothing to refit")
    return study.best_trial


def _warn_if_no_setting_mattered(study: optuna.Study, optuna: Any) -> None:
    """Warn where trials of different parameters all scored the same: the search could not rank them."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    distinct = {json.dumps(trial.params, sort_keys=True, default=str) for trial in complete}
    if len(distinct) > 1 and len({trial.value for trial in complete}) == 1:
        warnings.warn(
            f"all {len(complete)} complete trials scored {complete[0].value:.6g}: the searched settings did not "
            "change the forecasts (a Forecaster whose fit trains no network for lack of held-out evidence forecasts "
            "with ETS alone, see its combination_.rule; combine_with=None searches the network itself)",
            UserWarning,
            stacklevel=3,
        )


def _trial_counts(study: optuna.Study, optuna: Any) -> dict[str, float]:
    states = [trial.state for trial in study.get_trials(deepcopy=False)]
    return {
        f"n_{state.name.lower()}": float(states.count(state))
        for state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    }
