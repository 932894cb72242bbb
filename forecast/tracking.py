"""MLflow tracking for training and evaluation runs, degrading to a no-op when the store is unavailable.

Where runs go: `MLFLOW_TRACKING_URI` when set (or a URI set in-process with
`mlflow.set_tracking_uri`), otherwise MLflow's own default. Since MLflow 3.7 (installed: 3.x) that
default is the SQLite file `mlflow.db` in the working directory,
`sqlite:///<cwd>/mlflow.db`; MLflow keeps using a legacy `./mlruns` folder instead when one with
runs already exists there. Open the dashboard with
`mlflow ui --backend-store-uri sqlite:///mlflow.db`.

A run that cannot be created (unreachable server, unwritable store) warns and continues untracked,
or raises `TrackingError` with `on_error="raise"`; the same holds for any later logging call.

Two safeguards keep tracking from hurting the work it records:

- Time. Against an HTTP server, each MLflow request inside a run gives up after
  `HTTP_TIMEOUT_S` seconds and `HTTP_RETRIES` retries (MLflow's own defaults retry for
  minutes), unless `MLFLOW_HTTP_REQUEST_TIMEOUT` / `MLFLOW_HTTP_REQUEST_MAX_RETRIES` are set:
  a half-working server costs seconds, then the work goes on untracked (or fails, with `raise`).
- A new SQLite store. MLflow creates the tables of a missing database on first use; several
  processes doing that at once break the store for good. Opening a run on a SQLite store holds an
  advisory lock (`.<database>.lock` beside it) while the store is created or checked.

URLs in messages have their credentials masked (`forecast.redaction.redact`).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mlflow
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import MAX_METRICS_PER_BATCH, MAX_PARAM_VAL_LENGTH, MAX_PARAMS_TAGS_PER_BATCH

from forecast.redaction import redact

ON_ERROR_CHOICES = ("warn", "raise")
PROBE_TIMEOUT_S = 5.0
"""Seconds to wait for an HTTP tracking server to accept a connection before calling it unreachable."""
HTTP_TIMEOUT_S = 10
"""Seconds one MLflow HTTP request may take inside a run (unless `MLFLOW_HTTP_REQUEST_TIMEOUT` is set)."""
HTTP_RETRIES = 2
"""Retries of a failed MLflow HTTP request inside a run (unless `MLFLOW_HTTP_REQUEST_MAX_RETRIES` is set)."""
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": str(HTTP_TIMEOUT_S),
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(HTTP_RETRIES),
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


class TrackingError(RuntimeError):
    """The MLflow tracking store could not be used and `on_error="raise"` was asked for."""


class TrackingWarning(UserWarning):
    """The MLflow tracking store could not be used; the work continues without tracking."""


def resolve_tracking_uri() -> str:
    """The tracking URI runs go to: `MLFLOW_TRACKING_URI`, else MLflow's default (`sqlite:///<cwd>/mlflow.db`)."""
    return mlflow.get_tracking_uri()


def existing_store() -> str:
    """The tracking URI (`resolve_tracking_uri`), or LookupError when it names a SQLite database that does not exist
    (for commands that work on what a store holds, where MLflow would create an empty one and its directories), or
    ConnectionError within seconds when it names an HTTP server that does not answer (MLflow retries for minutes)."""
    uri = resolve_tracking_uri()
    database = _sqlite_database(uri)
    if database is not None and not database.exists():
        raise LookupError(f"no tracking store at {database} (MLFLOW_TRACKING_URI={uri}): the database does not exist")
    _probe(uri)
    return uri


class Tracker:
    """Logs to one MLflow run; every method is a no-op when the tracker is disabled (`run_id is None`).

    Attributes:
        run_id: the MLflow run id, or None when tracking is off or unavailable.
        tracking_uri: where the run lives (None when disabled).
    """

    def __init__(self, client: MlflowClient | None = None, run_id: str | None = None, on_error: str = "warn"):
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}; got {on_error!r}")
        self._client = client
        self.run_id = run_id
        self.tracking_uri = client.tracking_uri if client is not None else None
        self.on_error = on_error

    @classmethod
    def disabled(cls) -> Tracker:
        """A tracker that logs nothing."""
        return cls()

    @property
    def active(self) -> bool:
        """True while logging goes to a run."""
        return self.run_id is not None

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters: nested mappings flattened to `outer.inner` keys, values as strings cut to MLflow's limit."""
        entries = [Param(key, _param_value(value)) for key, value in flatten(params).items()]
        for start in range(0, len(entries), MAX_PARAMS_TAGS_PER_BATCH):
            self._call(
                "log_batch",
                lambda chunk=entries[start : start + MAX_PARAMS_TAGS_PER_BATCH]: self._client.log_batch(
                    self.run_id, params=chunk
                ),
            )

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log numeric metrics (nested mappings flattened), all at `step` (0 when None)."""
        timestamp = int(time.time() * 1000)
        entries = [Metric(key, float(value), timestamp, int(step or 0)) for key, value in flatten(metrics).items()]
        for start in range(0, len(entries), MAX_METRICS_PER_BATCH):
            self._call(
                "log_batch",
                lambda chunk=entries[start : start + MAX_METRICS_PER_BATCH]: self._client.log_batch(
                    self.run_id, metrics=chunk
                ),
            )

    def log_figure(self, figure, name: str) -> None:
        """Save a matplotlib figure as the artifact `name` (e.g. `"plots/forecast.png"`)."""
        self._call("log_figure", lambda: self._client.log_figure(self.run_id, figure, artifact_file=name))

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        """Copy a local file or directory into the run's artifacts (under `artifact_path`)."""
        if os.path.isdir(path):
            self._call("log_artifacts", lambda: self._client.log_artifacts(self.run_id, os.fspath(path), artifact_path))
        else:
            self._call("log_artifact", lambda: self._client.log_artifact(self.run_id, os.fspath(path), artifact_path))

    def log_dict(self, dictionary: Mapping[str, Any], name: str) -> None:
        """Store a JSON-serializable mapping as the artifact `name` (`.json` or `.yaml`)."""
        self._call(
            "log_dict",
            lambda: self._client.log_dict(self.run_id, json.loads(json.dumps(dictionary, default=str)), name),
        )

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags (values as strings)."""
        for key, value in tags.items():
            self._call("set_tag", lambda key=key, value=value: self._client.set_tag(self.run_id, key, str(value)))

    def call(self, action: str, operation: Callable[[], Any]) -> Any:
        """Run one MLflow `operation` for this run and return its result; on failure warn (None) or raise."""
        return self._call(action, operation)

    def _call(self, action: str, operation) -> Any:
        if not self.active:
            return None
        try:
            return operation()
        except Exception as error:
            self._fail(f"MLflow {action} to run {self.run_id} at {self.tracking_uri} failed", error)
            return None

    def _fail(self, message: str, error: Exception) -> None:
        message, detail = redact(message), redact(str(error))
        if self.on_error == "raise":
            raise TrackingError(f"{message}: {detail}") from error
        warnings.warn(f"{message} ({detail}); continuing without tracking", TrackingWarning, stacklevel=4)
        self.run_id = None


@contextmanager
def tracking_run(
    enabled: bool = True,
    experiment: str = "lstm-forecast",
    run_name: str | None = None,
    on_error: str = "warn",
    tags: Mapping[str, Any] | None = None,
) -> Iterator[Tracker]:
    """An MLflow run for the duration of a `with` block, yielding its `Tracker`.

    The run is MLflow's active run inside the block (nested under an already active run, in that run's
    experiment), so `mlflow.*.log_model` calls attach to it. It ends `FINISHED`, or `FAILED` when the block raises
    (`KILLED` on KeyboardInterrupt), and the exception propagates.

    Args:
        enabled: False yields a disabled tracker and touches no store.
        experiment: experiment name, created when missing (not used for a run nested under an active one).
        run_name: display name of the run (MLflow picks one when None).
        on_error: `"warn"` continues untracked when the store is unavailable (a `TrackingWarning`
            naming the URI and the error); `"raise"` raises `TrackingError`.
        tags: run tags.
    """
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}; got {on_error!r}")
    if not enabled:
        yield Tracker.disabled()
        return
    uri = resolve_tracking_uri()
    with bounded_http_requests():
        try:
            _probe(uri)
            parent = mlflow.active_run()
            with _store_creation_lock(uri):
                client = MlflowClient(tracking_uri=uri)
                # nested in the parent's experiment, where MLflow shows it under its parent
                experiment_id = parent.info.experiment_id if parent else _experiment_id(client, experiment)
            run = mlflow.start_run(
                experiment_id=experiment_id,
                run_name=run_name,
                nested=parent is not None,
                tags={key: str(value) for key, value in (tags or {}).items()},
            )
        except Exception as error:
            message = f"MLflow tracking store {redact(uri)} is unavailable"
            if on_error == "raise":
                raise TrackingError(f"{message}: {redact(str(error))}") from error
            warnings.warn(
                f"{message} ({redact(str(error))}); continuing without tracking", TrackingWarning, stacklevel=3
            )
            yield Tracker.disabled()
            return
        tracker = Tracker(client, run.info.run_id, on_error)
        status = RunStatus.to_string(RunStatus.FINISHED)
        try:
            yield tracker
        except KeyboardInterrupt:
            status = RunStatus.to_string(RunStatus.KILLED)
            raise
        except BaseException:
            status = RunStatus.to_string(RunStatus.FAILED)
            raise
        finally:
            _end_run(run.info.run_id, status, tracker)


@contextmanager
def bounded_http_requests() -> Iterator[None]:
    """MLflow HTTP requests give up within seconds while the block runs (the user's own settings win)."""
    added = {name: value for name, value in _HTTP_DEFAULTS.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextmanager
def _store_creation_lock(uri: str) -> Iterator[None]:
    """Hold an advisory lock beside a SQLite store while MLflow creates or checks its tables."""
    database = _sqlite_database(uri)
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(f".{database.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sqlite_database(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (None for other stores and in-memory databases)."""
    if not uri.startswith("sqlite:"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    return None if not database or database == ":memory:" else Path(database).absolute()


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}} -> {"a.b": 1}`; other values are kept as they are."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def _param_value(value: Any) -> str:
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, default=str)
        if isinstance(value, (list, tuple))
        else str(value)
    )
    if len(text) > MAX_PARAM_VAL_LENGTH:
        marker = "...[truncated]"
        text = text[: MAX_PARAM_VAL_LENGTH - len(marker)] + marker
    return text


def _probe(uri: str) -> None:
    """Fail fast when an HTTP tracking server refuses or times out, instead of MLflow's minutes of retries."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=PROBE_TIMEOUT_S)
    except (requests.ConnectionError, requests.Timeout) as error:
        raise ConnectionError(f"cannot connect to {redact(uri)}: {redact(str(error))}") from error


def _experiment_id(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name)
        except MlflowException as error:
            # Another process created it between the lookup and the creation (a shared server).
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            experiment = client.get_experiment_by_name(name)
    if experiment.lifecycle_stage != "active":
        raise TrackingError(f"experiment {name!r} is deleted; restore it or choose another name")
    return experiment.experiment_id


def _end_run(run_id: str, status: str, tracker: Tracker) -> None:
    try:
        active = mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            mlflow.end_run(status)
        else:
            tracker._client.set_terminated(run_id, status)
    except Exception as error:
        tracker._fail(f"ending MLflow run {run_id} at {tracker.tracking_uri}", error)
