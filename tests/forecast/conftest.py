"""Shared fixtures of the forecast tests: MLflow stores in temporary directories and small long frames.

Creating an MLflow SQLite store runs its schema migrations (seconds), so one migrated database is
made per session and copied for each store a test or module asks for.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def _migrated_mlflow_db(tmp_path_factory) -> Path:
    from mlflow import MlflowClient

    directory = tmp_path_factory.mktemp("mlflow-template")
    database = directory / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{database}").search_experiments()
    return database


def _fresh_store(template: Path, directory: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    shutil.copy(template, directory / "mlflow.db")
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # New experiments put their artifacts under ./mlruns of the working directory.
    monkeypatch.chdir(directory)
    return uri


@pytest.fixture
def mlflow_tracking_uri(_migrated_mlflow_db, tmp_path, monkeypatch) -> str:
    """A fresh SQLite MLflow store in `tmp_path` (MLFLOW_TRACKING_URI set, cwd = tmp_path); yields its URI."""
    return _fresh_store(_migrated_mlflow_db, tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def module_mlflow_tracking_uri(_migrated_mlflow_db, tmp_path_factory) -> Iterator[str]:
    """One SQLite MLflow store shared by the tests of a module (MLFLOW_TRACKING_URI set, cwd = its folder)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _fresh_store(_migrated_mlflow_db, tmp_path_factory.mktemp("mlflow"), monkeypatch)


def make_long_frame(
    start: str | int,
    freq: str | int,
    lengths: dict[str, int],
    seed: int = 0,
    season_length: int = 12,
    tz: str | None = None,
) -> pd.DataFrame:
    """Long frame `unique_id, ds, y`: per series a level, trend, seasonal cycle and seeded noise.

    Integer `start`/`freq` give integer `ds` (`start + k * freq`); otherwise datetimes from
    `pd.date_range(start, periods=n, freq=freq, tz=tz)`. Each series ends at its own length.
    """
    rng = np.random.default_rng(seed)
    pieces = []
    for number, (series_id, length) in enumerate(lengths.items()):
        if isinstance(freq, int):
            ds = start + freq * np.arange(length)
        else:
            ds = pd.date_range(start, periods=length, freq=freq, tz=tz)
        t = np.arange(length)
        y = 10.0 * (number + 1) + 0.3 * t + 2.0 * np.sin(2 * np.pi * t / season_length) + rng.normal(0, 0.5, length)
        pieces.append(pd.DataFrame({"unique_id": series_id, "ds": ds, "y": y}))
    return pd.concat(pieces, ignore_index=True)


@pytest.fixture
def long_frame() -> Callable[..., pd.DataFrame]:
    """The `make_long_frame` factory."""
    return make_long_frame


@pytest.fixture
def monthly_df() -> pd.DataFrame:
    """Three month-start series of 36, 30 and 48 rows."""
    return make_long_frame("2015-01-01", "MS", {"a": 36, "b": 30, "c": 48}, seed=1)


@pytest.fixture
def daily_df() -> pd.DataFrame:
    """Two daily series of 60 and 45 rows, weekly cycle."""
    return make_long_frame("2023-03-01", "D", {"shop_1": 60, "shop_2": 45}, seed=2, season_length=7)


@pytest.fixture
def hourly_df() -> pd.DataFrame:
    """Two hourly series of 96 and 72 rows, daily cycle, time zone Europe/Berlin (crosses no DST change)."""
    return make_long_frame("2024-05-01", "h", {"m1": 96, "m2": 72}, seed=3, season_length=24, tz="Europe/Berlin")


@pytest.fixture
def integer_df() -> pd.DataFrame:
    """Two series with integer ds stepping by 1 (40 and 25 rows, starting at 0 and 100)."""
    first = make_long_frame(0, 1, {"x": 40}, seed=4, season_length=4)
    second = make_long_frame(100, 1, {"y": 25}, seed=5, season_length=4)
    return pd.concat([first, second], ignore_index=True)


def make_network_inputs(
    batch=3, lookback=6, horizon=4, n_past=2, n_future=0, n_static=0, seed=0
) -> dict[str, np.ndarray]:
    """Random float32 inputs of the Forecaster's network (`"past"`, and `"future"`/`"static"` when asked)."""
    rng = np.random.default_rng(seed)
    inputs = {"past": rng.normal(size=(batch, lookback, n_past)).astype("float32")}
    if n_future:
        inputs["future"] = rng.normal(size=(batch, horizon, n_future)).astype("float32")
    if n_static:
        inputs["static"] = rng.normal(size=(batch, n_static)).astype("float32")
    return inputs


@pytest.fixture
def network_inputs() -> Callable[..., dict[str, np.ndarray]]:
    """The `make_network_inputs` factory."""
    return make_network_inputs
