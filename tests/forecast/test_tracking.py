"""MLflow tracking in a temporary SQLite store, an unreachable server, and the logged figures."""

import http.server
import os
import shutil
import threading
import time
import warnings

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from mlflow import MlflowClient

from forecast.plots import plot_forecasts, plot_learning_curve
from forecast.tracked import epoch_metrics_logger
from forecast.tracking import (
    Tracker,
    TrackingError,
    TrackingWarning,
    flatten,
    resolve_tracking_uri,
    tracking_run,
)

UNREACHABLE = "http://127.0.0.1:9"


def test_resolve_tracking_uri_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/elsewhere.db")
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path}/elsewhere.db"


def test_default_tracking_uri_is_sqlite_mlflow_db_in_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path}/mlflow.db"


def test_a_run_records_params_metrics_by_step_and_artifacts(module_mlflow_tracking_uri, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("hello")
    with tracking_run(experiment="tracking-tests", run_name="full") as tracker:
        assert mlflow.active_run().info.run_id == tracker.run_id
        tracker.log_params({"units": 8, "cell": "lstm", "optimizer": {"name": "adam", "lr": 0.01}, "sizes": [1, 2]})
        tracker.log_params({"long": "x" * 7000})
        for step, loss in enumerate([1.0, 0.5, 0.25]):
            tracker.log_metrics({"loss": loss}, step=step)
        tracker.log_metrics({"final": {"smape": 12.5}})
        tracker.log_figure(plot_learning_curve({"loss": [1.0, 0.5]}), "plots/curve.png")
        tracker.log_dict({"lookback": 24}, "config.json")
        tracker.log_artifact(note)
        tracker.set_tags({"stage": "test"})
    client = MlflowClient()
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "full"
    params = run.data.params
    assert params["units"] == "8" and params["cell"] == "lstm" and params["sizes"] == "[1, 2]"
    assert params["optimizer.name"] == "adam" and params["optimizer.lr"] == "0.01"
    assert len(params["long"]) == 6000 and params["long"].endswith("...[truncated]")
    history = client.get_metric_history(tracker.run_id, "loss")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    assert run.data.metrics["final.smape"] == 12.5
    assert run.data.tags["stage"] == "test"
    artifacts = {a.path for a in client.list_artifacts(tracker.run_id)}
    assert {"config.json", "note.txt", "plots"} <= artifacts
    assert [a.path for a in client.list_artifacts(tracker.run_id, "plots")] == ["plots/curve.png"]
    assert mlflow.active_run() is None


def test_a_block_that_raises_ends_its_run_failed(module_mlflow_tracking_uri):
    with pytest.raises(ZeroDivisionError), tracking_run(experiment="tracking-tests") as tracker:
        tracker.log_metrics({"loss": 1.0})
        1 / 0
    assert MlflowClient().get_run(tracker.run_id).info.status == "FAILED"
    assert mlflow.active_run() is None


def test_a_run_inside_an_active_run_is_nested(module_mlflow_tracking_uri):
    with mlflow.start_run() as outer, tracking_run(experiment="nested-elsewhere") as tracker:
        pass
    run = MlflowClient().get_run(tracker.run_id)
    assert run.data.tags["mlflow.parentRunId"] == outer.info.run_id
    # in its parent's experiment, where MLflow shows it under the parent ("nested-elsewhere" is not made)
    assert run.info.experiment_id == outer.info.experiment_id
    assert MlflowClient().get_experiment_by_name("nested-elsewhere") is None


def test_epoch_callback_logs_every_epoch_of_a_keras_fit(module_mlflow_tracking_uri):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.arange(16, dtype="float32").reshape(8, 2) / 16
    with tracking_run(experiment="tracking-tests") as tracker:
        history = model.fit(
            x,
            x[:, :1],
            validation_split=0.25,
            epochs=3,
            batch_size=4,
            verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=epoch_metrics_logger(tracker))],
        )
    client = MlflowClient()
    for key in ("loss", "val_loss"):
        logged = sorted(client.get_metric_history(tracker.run_id, key), key=lambda m: m.step)
        assert [m.step for m in logged] == [0, 1, 2]
        assert [m.value for m in logged] == pytest.approx(history.history[key])


def test_disabled_tracking_touches_no_store(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", UNREACHABLE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tracking_run(enabled=False) as tracker:
            tracker.log_params({"a": 1})
            tracker.log_metrics({"loss": 1.0}, step=0)
    assert tracker.run_id is None and not tracker.active


@pytest.fixture
def unreachable_store(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", UNREACHABLE)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")


def test_an_unreachable_store_warns_and_the_work_goes_on(unreachable_store):
    with (
        pytest.warns(TrackingWarning, match=r"MLflow tracking store http://127\.0\.0\.1:9 is unavailable"),
        tracking_run(experiment="anything") as tracker,
    ):
        tracker.log_metrics({"loss": 1.0})
        result = "trained"
    assert result == "trained" and tracker.run_id is None


def test_an_unreachable_store_raises_when_asked(unreachable_store):
    with (
        pytest.raises(TrackingError, match=r"http://127\.0\.0\.1:9"),
        tracking_run(experiment="anything", on_error="raise"),
    ):
        pass


def test_a_logging_failure_mid_run_disables_the_tracker_with_a_warning():
    class BrokenClient:
        tracking_uri = "sqlite:///broken.db"

        def log_batch(self, *args, **kwargs):
            raise OSError("disk full")

    tracker = Tracker(BrokenClient(), run_id="abc")
    with pytest.warns(TrackingWarning, match="disk full"):
        tracker.log_metrics({"loss": 1.0})
    assert not tracker.active
    with pytest.raises(TrackingError, match="disk full"):
        Tracker(BrokenClient(), run_id="abc", on_error="raise").log_params({"a": 1})


def test_bad_on_error_is_rejected():
    with pytest.raises(ValueError, match="on_error must be one of"), tracking_run(enabled=False, on_error="ignore"):
        pass


def test_flatten_joins_nested_keys():
    assert flatten({"a": {"b": 1, "c": {"d": 2}}, "e": 3, "f": {}}) == {"a.b": 1, "a.c.d": 2, "e": 3, "f": {}}


def test_forecast_plot_draws_one_panel_per_series_with_band_and_saves_png(tmp_path):
    history = pd.DataFrame(
        {"unique_id": ["a"] * 5 + ["b"] * 5 + ["c"] * 5, "ds": list(range(5)) * 3, "y": np.arange(15.0)}
    )
    forecasts = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b", "c", "c"],
            "ds": [5, 6] * 3,
            "y_hat": [5.0, 6, 10, 11, 15, 16],
            "y_hat_q10": [4.0, 5, 9, 10, 14, 15],
            "y_hat_q90": [6.0, 7, 11, 12, 16, 17],
        }
    )
    figure = plot_forecasts(history, forecasts, actual_df=forecasts.rename(columns={"y_hat": "y"}), n_series=2)
    assert isinstance(figure, Figure)
    assert [axis.get_title(loc="left") for axis in figure.axes] == ["a", "b"]
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert labels == ["history", "actual", "forecast", "80% interval"]
    history_line = figure.axes[0].lines[0]
    assert history_line.get_ydata().tolist() == [0, 1, 2, 3, 4]
    path = tmp_path / "forecast.png"
    figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_forecast_plot_draws_each_backtest_origin():
    history = pd.DataFrame({"unique_id": ["a"] * 6, "ds": range(6), "y": np.arange(6.0)})
    forecasts = pd.DataFrame(
        {"unique_id": ["a"] * 4, "ds": [3, 4, 4, 5], "cutoff": [2, 2, 3, 3], "y_hat": [2.0, 2, 3, 3]}
    )
    figure = plot_forecasts(history, forecasts)
    # the history before the first forecast, then one line per origin
    assert len(figure.axes[0].lines) == 3


def test_learning_curve_pairs_training_and_validation_and_uses_log_scale_for_wide_ranges():
    figure = plot_learning_curve({"loss": [100.0, 10.0, 1.0], "val_loss": [120.0, 15.0, 2.0], "mae": [3.0, 2.0, 1.5]})
    assert [axis.get_title(loc="left") for axis in figure.axes] == ["loss", "mae"]
    assert [line.get_label() for line in figure.axes[0].lines] == ["training", "validation"]
    assert figure.axes[0].get_yscale() == "log" and figure.axes[1].get_yscale() == "linear"


def test_plots_reject_unusable_input():
    with pytest.raises(ValueError, match="expected keys like 'loss'"):
        plot_learning_curve({})
    with pytest.raises(ValueError, match=r"missing \['y_hat'\]"):
        plot_forecasts(pd.DataFrame({"unique_id": [], "ds": [], "y": []}), pd.DataFrame({"unique_id": [], "ds": []}))


def test_the_default_store_is_created_in_the_working_directory(monkeypatch, tmp_path, _migrated_mlflow_db):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    # a migrated copy saves the schema migrations; the run must land in ./mlflow.db
    shutil.copy(_migrated_mlflow_db, tmp_path / "mlflow.db")
    with tracking_run(experiment="default-store") as tracker:
        tracker.log_metrics({"loss": 1.0})
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    assert client.get_run(tracker.run_id).data.metrics == {"loss": 1.0}


FIRST_USE = """
import sys, time
from pathlib import Path
start = Path(sys.argv[1])
while not start.exists():  # every process opens its run at the same moment
    time.sleep(0.01)
from forecast.tracking import tracking_run
with tracking_run(experiment="first-use", on_error="raise") as tracker:
    tracker.log_metrics({"loss": 1.0})
print(tracker.run_id)
"""


@pytest.mark.slow
def test_four_processes_creating_a_missing_sqlite_store_at_once_all_get_their_run(tmp_path):
    import subprocess
    import sys

    database = tmp_path / "store" / "mlflow.db"
    environment = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{database}",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    script = tmp_path / "first_use.py"
    script.write_text(FIRST_USE)
    flag = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(flag)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(1.0)
    flag.touch()
    outcomes = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, [err[-2000:] for _, err in outcomes]
    client = MlflowClient(tracking_uri=f"sqlite:///{database}")
    runs = client.search_runs([client.get_experiment_by_name("first-use").experiment_id])
    assert sorted(run.info.run_id for run in runs) == sorted(out.strip() for out, _ in outcomes)
    assert all(run.info.status == "FINISHED" for run in runs)


class HalfWorkingServer(http.server.BaseHTTPRequestHandler):
    """Answers /health with 200 and every MLflow API call with 503, like an overloaded proxy."""

    def _answer(self):
        self.send_response(200 if self.path.rstrip("/") == "/health" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def half_working_server(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HalfWorkingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in (
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{server.server_address[1]}")
    yield
    server.shutdown()
    server.server_close()


def test_a_half_working_server_costs_seconds_in_warn_mode_and_in_raise_mode(half_working_server):
    started = time.monotonic()
    with pytest.warns(TrackingWarning, match="is unavailable"), tracking_run(experiment="busy") as tracker:
        trained = True
    assert trained and tracker.run_id is None
    assert time.monotonic() - started < 60  # MLflow's default retries take minutes
    started = time.monotonic()
    with pytest.raises(TrackingError, match="503"), tracking_run(experiment="busy", on_error="raise"):
        pass
    assert time.monotonic() - started < 60
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # the bound holds only inside a run


def test_credentials_in_the_tracking_uri_are_masked_in_warnings(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://admin:secret@127.0.0.1:9")
    with pytest.warns(TrackingWarning) as caught, tracking_run(experiment="anything"):
        pass
    text = " ".join(str(warning.message) for warning in caught)
    assert "secret" not in text and "admin:***@127.0.0.1:9" in text


@pytest.mark.parametrize("name", ["  ", "team/model", "models:/m"])
def test_a_registered_model_name_the_registry_refuses_is_refused_at_once(name):
    from forecast.settings import Tracking

    with pytest.raises(ValueError, match="register_as must be a registered model name"):
        Tracking(register_as=name)
    assert Tracking(register_as="team.model-v2_1").register_as == "team.model-v2_1"
