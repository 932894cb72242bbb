"""The estimator contract shared by every forecaster: the Forecaster, its ensembles and the baselines.

Frames are in long format (`unique_id`, `ds`, `y`; see `pipelines.columns`). A subclass
stores its constructor arguments unchanged (scikit-learn convention) and implements:

- `_check_frame(df, purpose)`: validate a user frame once, at the edge (the default checks the
  three columns and the grid with `pipelines.validation.check_frame`);
- `_fit(checked, listeners)`: learn from a validated frame, calling each `EpochListener` after every training
  epoch (the tracking side's; a model that trains nothing ignores them); it returns what logging a fit needs
  (`None` for models with nothing to report) and sets only `_`-suffixed attributes;
- `_predict_origins(checked, origin_rows, future_df)`: forecast the `horizon` steps after each
  origin, given as a row of `checked.frame`, from the rows of its series up to it, returning
  `unique_id, ds, y_hat[, y_hat_qXX...]` with `horizon` rows per origin, in the order of
  `origin_rows` (step 1 first). The steps after an origin that the frame holds (a backtest) take
  their future covariates from it; the steps after a series' last row (a forecast) take them
  from `future_df`. It receives every origin of a call at once, so a model can batch them.

`predict` is `_predict_origins` at each series' last row; `backtest` is it at the rolling
origins of `forecast.backtesting.series_cutoffs`. `save`/`load` write and read one
directory for every forecaster (`_save_model`/`_load_model` add a subclass's own files).

Tracking is not part of the estimator: an estimator with a true `tracking` parameter has its
`fit` and `backtest` run by `forecast.tracked`, which opens the MLflow run around the
same methods and logs what they return.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from forecast.backtesting import Backtest, check_forecasts, drops_short_series, rolling_origin, series_cutoffs
from forecast.metrics import evaluate
from forecast.saved_format import FORMAT_VERSION, PARAMS, PIPELINE, STATE, FormatError, migrate
from forecast.saving import SavedModelError, replace_directory
from pipelines.columns import ID, TARGET, TIME, series_names
from pipelines.frequency import frequency_to_json, parse_frequency
from pipelines.seasonality import resolve_season_length
from pipelines.settings import check_settings, settings_from_json, settings_to_json
from pipelines.validation import CheckedFrame, check_frame, to_long_format

EpochListener = Callable[[int, Mapping[str, Any] | None], None]
"""Called after every training epoch with its number and logs (`loss`, `val_loss`, ...); a Keras callback may
stand in its place (it is then one, with every hook: it loads TensorFlow itself)."""

PARAMS_FILE, STATE_FILE, PIPELINE_FILE = PARAMS, STATE, PIPELINE
HISTORY_FILE = "history.parquet"
LOAD_ATTEMPTS = 5
"""Reads of a saved forecaster before `load` gives up on a directory that saves keep replacing."""
_OWN_PACKAGES = ("forecast",)
_FORECASTERS: dict[str, type] = {}
"""Every forecaster class by `module.name`, registered when its class is defined (`__init_subclass__`)."""


class BaseForecaster(BaseEstimator):
    """Base class of forecasters: `fit`, `predict`, `backtest`, `save` and `load` on long frames.

    Subclasses store their constructor arguments unchanged, including `horizon` (steps forecast
    from each origin) and optionally `freq` (pandas offset alias or integer step; `None` infers
    it from the series, which must agree).

    Fitted attributes: `freq_` (pandas offset, or integer step for integer `ds`),
    `series_ids_` (sorted ids seen in fit), `train_df_` (the validated training frame, used by
    `predict()` without a frame), `fitted_settings_` (the settings of the fit but `fit_only_settings`: `predict`,
    a backtest without refit and `save` stop with a message when `set_params` has changed one since),
    and `run_id_`, `model_uri_`, `registered_model_version_` (the MLflow run and logged model of a tracked fit;
    None otherwise).
    """

    horizon: int
    fit_only_settings: frozenset[str] = frozenset({"tracking", "verbose"})
    """Settings that a fitted model's forecasts do not depend on: `set_params` may change them after `fit`."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            _FORECASTERS[f"{cls.__module__}.{cls.__name__}"] = cls

    # ----------------------------------------------------------------- fit

    def fit(self, df: pd.DataFrame | pd.Series) -> BaseForecaster:
        """Validate `df` once and fit the model on it (an MLflow run when the estimator's `tracking` is on)."""
        self._forget_fit()  # a fit that fails, even in validation, leaves no earlier model behind
        self._check_params()
        checked = self._check_frame(text_ids(to_long_format(df)), "fit")
        if self._tracked():
            from forecast.tracked import tracked_fit

            tracked_fit(self, checked)
        else:
            self._fit_checked(checked)
        return self

    def _fit_checked(self, checked: CheckedFrame, listeners: Sequence[EpochListener] = ()) -> Any:
        """Fit on a validated frame and set the fitted attributes; returns what `_fit` reports.

        A failed fit leaves no fitted attribute behind (not even those of an earlier fit).
        """
        self._forget_fit()
        try:
            report = self._fit(checked, listeners)
        except BaseException:
            self._forget_fit()
            raise
        self.freq_ = checked.freq
        self.series_ids_ = checked.series_ids
        self.train_df_ = checked.frame
        self.run_id_ = self.model_uri_ = self.registered_model_version_ = None
        self.fitted_settings_ = self._forecast_settings()
        return report

    def _forecast_settings(self) -> dict[str, Any]:
        """A copy of the settings a fitted model's forecasts depend on (all but `fit_only_settings`)."""
        params = self.get_params(deep=False)
        return {name: copy.deepcopy(value) for name, value in params.items() if name not in self.fit_only_settings}

    def _check_fitted_settings(self, purpose: str) -> None:
        """A fitted model forecasts with the settings it was fitted with: one changed since by `set_params` (other than
        `fit_only_settings`) would mix with what `fit` learned, so `purpose` stops with the names and values."""
        fitted = getattr(self, "fitted_settings_", None)  # None: unpickled from a version that did not keep them
        if fitted is None:
            return
        current = {name: getattr(self, name) for name in fitted}  # what get_params reads, without its introspection
        changed = [
            name for name, value in fitted.items() if value is not current[name] and not _same(value, current[name])
        ]
        if changed:
            was = ", ".join(f"{name}={fitted[name]!r}" for name in changed)
            now = ", ".join(f"{name}={current[name]!r}" for name in changed)
            raise ValueError(
                f"cannot {purpose}: this {type(self).__name__} was fitted with {was}, set since to {now}; "
                "set them back, or fit again with the new settings"
            )

    def _forget_fit(self) -> None:
        for name in [name for name in vars(self) if name.endswith("_") and not name.startswith("_")]:
            delattr(self, name)

    # ------------------------------------------------------------- predict

    def predict(
        self, df: pd.DataFrame | pd.Series | None = None, future_df: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast the `horizon` steps after each series' last timestamp in `df`.

        Args:
            df: history of the series to forecast (`None`: the frame given to `fit`). A series `fit` did not
                see is forecast from this history alone, as a global model forecasts a new series.
            future_df: future-known covariates for the horizon steps (`unique_id`, `ds` and the
                covariate columns); models without future covariates ignore it.

        Returns:
            `unique_id, ds, y_hat[, y_hat_qXX...]`, `horizon` rows per series with the real future
            timestamps, sorted by series and time.
        """
        check_is_fitted(self)
        self._check_fitted_settings("predict")
        future_df = text_ids(future_df) if isinstance(future_df, pd.DataFrame) else future_df  # ids as in df
        if df is None:
            checked = self._training_frame()
        else:
            checked = self._check_frame(text_ids(to_long_format(df)), "predict")
        ends = checked.series_starts[1:] - 1  # in series order: the forecasts come sorted by series and time
        forecasts = self._predict_origins(checked, ends, future_df)
        check_forecasts(forecasts, len(ends), self.horizon)
        return forecasts

    def _training_frame(self) -> CheckedFrame:
        """The training frame as a `CheckedFrame` (it was validated by `fit` or written by `save`)."""
        return CheckedFrame.of_sorted(self.train_df_, self.freq_)

    # ------------------------------------------------------------ backtest

    def backtest(
        self,
        df: pd.DataFrame | pd.Series,
        n_windows: int = 1,
        step: int | None = None,
        refit: bool | int = False,
        season_length: int | None = None,
        metrics: Sequence[str] | None = None,
    ) -> Backtest:
        """Rolling-origin evaluation on the last `n_windows` origins of every series.

        Args:
            df: full history (the actuals of every window come from it).
            n_windows: origins per series, placed by `forecast.backtesting.series_cutoffs`.
            step: rows between origins (`None`: `horizon`, non-overlapping windows).
            refit: `False` predicts every origin in one batched call with one model (this fitted
                estimator, or a clone fitted on the history up to each series' first origin when it is
                not fitted); `True` or `k` refits a clone on the history up to the first origin of
                every block of `k` windows (`True` = every window).
            season_length: MASE period (`None`: the estimator's `season_length` if it has one, else the period
                the Forecaster would find in `df`: the calendar's, or the one most series show for integer
                time stamps; see `pipelines.seasonality.resolve_season_length`).
            metrics: metric names for `forecast.metrics.evaluate` (`None`: its default).

        Returns:
            `Backtest(forecasts, metrics)`: forecasts `unique_id, ds, cutoff, y, y_hat[, ...]` and
            the per-series/per-cutoff score table.

        A fitted estimator without refit is scored on origins that may lie inside its own training
        data; that is an in-sample score, and a `UserWarning` says how many origins are affected. A series
        it was not fitted on is forecast from every origin as `predict` forecasts a new series, from its
        history up to that origin alone.
        """
        self._check_params()
        fitted = self.__sklearn_is_fitted__()
        if fitted and not refit:
            self._check_fitted_settings("backtest")
        frame = text_ids(to_long_format(df))
        checked = self._check_frame(frame, "backtest")
        step = self.horizon if step is None else step
        cutoffs = series_cutoffs(checked.frame, n_windows, step, self.horizon, drops_short_series(self))
        if fitted and not refit:
            warn_in_sample_origins(self.train_df_, cutoffs)
        if self._tracked():
            from forecast.tracked import tracked_backtest

            return tracked_backtest(self, checked, cutoffs, step, refit, season_length, metrics)
        return self._backtest_checked(checked, cutoffs, refit, season_length, metrics)

    def _backtest_checked(
        self,
        checked: CheckedFrame,
        cutoffs: pd.DataFrame,
        refit: bool | int,
        season_length: int | None,
        metrics: Sequence[str] | None,
    ) -> Backtest:
        forecasts = rolling_origin(self, checked, cutoffs, refit)
        if season_length is None:
            season_length = mase_season_length(self, checked)
        scores = evaluate(forecasts, train_df=checked.frame, season_length=season_length, metrics=metrics)
        return Backtest(forecasts=forecasts, metrics=scores)

    # ------------------------------------------------------------ save/load

    def save(self, path: str | Path) -> Path:
        """Write the fitted forecaster to the directory `path`, atomically.

        The directory holds `params.json` (constructor arguments), `fitted.json` (the format version, the
        estimator's class and module, the series, the frequency and the subclass's learned state),
        `history.parquet` (the rows `predict()` without a frame needs) and the subclass's own files. It is
        written beside `path` and swapped in whole (`forecast.saving.replace_directory`): a reader, and
        a crash at any moment, finds the complete earlier model or the complete new one at `path`.
        """
        check_is_fitted(self)
        self._check_fitted_settings("save")
        with replace_directory(Path(path), marker=STATE_FILE) as directory:
            _write_json(directory / PARAMS_FILE, settings_to_json(self))
            state = {
                "format_version": FORMAT_VERSION,
                "estimator": type(self).__name__,
                "module": type(self).__module__,
                "series_ids": [_json_scalar(i) for i in self.series_ids_],
                "freq": frequency_to_json(self.freq_),
                "run_id": self.run_id_,
                "model_uri": self.model_uri_,
                "registered_model_version": self.registered_model_version_,
                **self._fitted_state(),
            }
            _write_json(directory / STATE_FILE, state)
            self._saved_history().to_parquet(directory / HISTORY_FILE, index=False)
            self._save_model(directory)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> BaseForecaster:
        """Read a forecaster written by `save` (by this version or an earlier one: `forecast.saved_format`).

        Called on a subclass, the directory must hold that class; called on `BaseForecaster`, it returns
        whichever forecaster the directory holds (its module, named in `fitted.json`, is imported when it is
        one of this package's). Raises `SavedModelError` naming the file for a directory that is not a saved
        forecaster or holds a corrupt file.

        The files are read one after another, while another process may `save` over the directory (it swaps a
        whole new directory in). A load during which the directory was replaced read parts of two models, so it
        is read again, up to `LOAD_ATTEMPTS` times: the forecaster returned is one model, never a mix.
        """
        directory = Path(path)
        for _ in range(LOAD_ATTEMPTS):
            before = _directory_identity(directory)
            try:
                estimator = cls._load_once(directory)
            except Exception:
                if _directory_identity(directory) == before:
                    raise
                continue  # a save replaced it while it was read: whatever failed may be the mix
            if _directory_identity(directory) == before:
                return estimator
        raise SavedModelError(f"{directory} was replaced {LOAD_ATTEMPTS} times while being read; load it again")

    @classmethod
    def _load_once(cls, directory: Path) -> BaseForecaster:
        """`load`'s reading of the files, without the check that they all came from one model."""
        if not directory.is_dir():
            raise SavedModelError(f"{directory} is not a saved forecaster: no such directory")
        documents = {name: _read_json(directory / name) for name in (PARAMS_FILE, STATE_FILE)}
        if (directory / PIPELINE_FILE).exists():
            documents[PIPELINE_FILE] = _read_json(directory / PIPELINE_FILE)
        try:
            documents = migrate(documents)
        except (FormatError, KeyError, TypeError) as error:
            raise SavedModelError(f"{directory} is not a saved forecaster this version reads: {error}") from None
        state, params = documents[STATE_FILE], documents[PARAMS_FILE]
        estimator_class = cls._resolve_class(state["estimator"], state["module"], directory)
        try:
            estimator = estimator_class(**settings_from_json(estimator_class, params))
            check_settings(estimator)  # each value against its declaration (a damaged params.json names it)
            estimator.freq_ = parse_frequency(state["freq"])
            estimator.series_ids_ = np.asarray(state["series_ids"])
            estimator.run_id_ = state.get("run_id")
            estimator.model_uri_ = state.get("model_uri")
            estimator.registered_model_version_ = state.get("registered_model_version")
        except (KeyError, TypeError, ValueError) as error:
            raise SavedModelError(
                f"{directory / STATE_FILE} or {PARAMS_FILE} does not describe a {state['estimator']} "
                f"({type(error).__name__}: {error})"
            ) from None
        try:
            estimator.train_df_ = pd.read_parquet(directory / HISTORY_FILE)
        except Exception as error:
            raise SavedModelError(
                f"{directory / HISTORY_FILE} cannot be read ({type(error).__name__}: {error})"
            ) from None
        estimator._load_model(directory, state, documents)
        estimator.fitted_settings_ = estimator._forecast_settings()
        return estimator

    @classmethod
    def _resolve_class(cls, name: str, module: str, directory: Path) -> type[BaseForecaster]:
        if cls is not BaseForecaster:
            if name != cls.__name__:
                raise SavedModelError(f"{directory} holds a {name}, not a {cls.__name__}; load it with {name}.load")
            return cls
        if f"{module}.{name}" not in _FORECASTERS and module.partition(".")[0] in _OWN_PACKAGES:
            importlib.import_module(
                module
            )  # registers the class (a module of this package, never a path of the file's)
        found = _FORECASTERS.get(f"{module}.{name}")
        if found is None:
            known = f"known so far: {sorted(_FORECASTERS)}" if _FORECASTERS else "none is imported yet"
            raise SavedModelError(
                f"{directory} holds a {module}.{name}, which is not a known forecaster ({known}); import the module "
                "that defines it first"
            )
        return found

    def _fitted_state(self) -> dict:
        """JSON-serializable learned state beyond series and frequency (written to `fitted.json`)."""
        return {}

    def _saved_history(self) -> pd.DataFrame:
        """The training rows `predict()` without a frame needs after loading (all of them by default)."""
        return self.train_df_

    def _save_model(self, directory: Path) -> None:
        """Write the subclass's own files (a network, a pipeline) into `directory`."""

    def _load_model(self, directory: Path, state: dict, documents: dict[str, dict]) -> None:
        """Read what `_save_model` and `_fitted_state` wrote (`documents`: the migrated JSON files)."""

    # --------------------------------------------------------------- hooks

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "freq_")

    def _check_params(self) -> None:
        """Check the constructor arguments against their declarations (subclasses add what relates several)."""
        check_settings(self)

    def _check_frame(self, df: pd.DataFrame, purpose: str) -> CheckedFrame:
        """Validate a long frame once for `purpose` (`"fit"`, `"predict"` or `"backtest"`)."""
        fitted = self.__sklearn_is_fitted__()
        return check_frame(df, freq=self.freq_ if fitted else getattr(self, "freq", None))

    def _fit(self, checked: CheckedFrame, listeners: Sequence[EpochListener]) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _fit(checked, listeners)")

    def _predict_origins(
        self, checked: CheckedFrame, origin_rows: np.ndarray, future_df: pd.DataFrame | None
    ) -> pd.DataFrame:
        raise NotImplementedError(
            f"{type(self).__name__} must implement _predict_origins(checked, origin_rows, future_df)"
        )

    def _tracked(self) -> bool:
        return bool(getattr(self, "tracking", False))


def _directory_identity(directory: Path) -> tuple[int, int, int, int] | None:
    """The identity of the directory at `directory`: device, inode and the times of its last change; None where there
    is none. A save swaps in a new directory, so it changes exactly when the model there is replaced (the times tell
    a new directory from an old one whose freed inode number it reuses)."""
    try:
        found = directory.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino, found.st_ctime_ns, found.st_mtime_ns


def _same(fitted: Any, current: Any) -> bool:
    """Whether a setting holds the value it had at fit (a list and a tuple of the same values are the same)."""
    if isinstance(fitted, (list, tuple)) and isinstance(current, (list, tuple)):
        return list(fitted) == list(current)
    try:
        return bool(fitted == current)
    except (TypeError, ValueError):  # arrays and other values without a truth value
        return fitted is current


def text_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its series ids written as names (`pipelines.columns.series_names`: numbers as text); a frame without
    the id column unchanged. Forecasts carry the text ids."""
    if ID not in frame.columns:
        return frame
    ids = series_names(frame[ID])
    return frame if ids is frame[ID] else frame.assign(**{ID: ids})


def warn_in_sample_origins(train_df: pd.DataFrame, cutoffs: pd.DataFrame) -> None:
    """Warn when a fitted model is backtested at origins whose forecast steps it was trained on."""
    import warnings

    trained_end = train_df.groupby(ID, sort=False)[TIME].max()
    inside = (cutoffs["cutoff"] < cutoffs[ID].map(trained_end)).to_numpy()
    if inside.any():
        warnings.warn(
            f"{int(inside.sum())} of {inside.size} backtest origins lie inside the data this model was fitted on, "
            "so their scores are in-sample; backtest an unfitted clone (sklearn.base.clone) or use refit=True "
            "(--refit on the command line) for out-of-sample scores",
            UserWarning,
            stacklevel=3,
        )


def _json_scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _write_json(path: Path, payload) -> None:
    path.write_text(json.dumps(payload, indent=2, default=_json_scalar))


def _read_json(path: Path) -> dict:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise SavedModelError(f"{path.parent} is not a saved forecaster: {path.name} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SavedModelError(f"{path} is corrupt: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise SavedModelError(f"{path} is corrupt: expected a JSON object, found {type(document).__name__}")
    return document


def mase_season_length(estimator: Any, checked: CheckedFrame) -> int:
    """The MASE period of a backtest of `estimator` on `checked`: its `season_length` setting, else the period a
    Forecaster would find there (`pipelines.seasonality.resolve_season_length`)."""
    return resolve_season_length(
        getattr(estimator, "season_length", None), checked.freq, checked.values(TARGET), checked.series_starts
    )
