"""Training on several devices (tf.distribute): a mirrored fit equals a one-device fit; multi-worker's state."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone

from forecast.distribution import check_distribution, resolve_strategy
from forecast.forecaster import Forecaster
from pipelines.settings import settings_to_json

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-4
"""Relative tolerance of mirrored vs one-device forecasts and losses: the replicas' gradients are summed in
another order (batches that split evenly; forecast.distribution describes the one Keras difference)."""


def run_python(code: str, tmp_path: Path, *arguments: str, timeout: int = 600) -> subprocess.CompletedProcess:
    script = tmp_path / f"script_{abs(hash(code))}.py"
    script.write_text(textwrap.dedent(code))
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
    }
    return subprocess.run(
        [sys.executable, str(script), *arguments],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=timeout,
    )


MIRRORED = """
import sys
import numpy as np, pandas as pd, tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import mlflow
from forecast.forecaster import Forecaster
from forecast.settings import Tracking
from forecast.loading import load_forecaster

rng = np.random.default_rng(0)
# 4 series of 37 windows: 148 windows, so every batch of 16 (and the last one, of 4) splits evenly in two.
frame = pd.DataFrame({
    "unique_id": np.repeat(["a", "b", "c", "d"], 40),
    "ds": np.tile(pd.date_range("2020-01-01", periods=40, freq="MS"), 4),
    "y": np.concatenate([5 + k + np.sin(np.arange(40) / 2) + rng.normal(0, 0.1, 40) for k in range(4)]),
})
# A smooth loss (mse): with the kinks of mae or pinball, rounding differences could flip the sign of an error.
# No clipping: Keras clips each replica's gradient before the sum (see forecast.distribution).
settings = dict(lookback=8, horizon=3, units=8, epochs=3, batch_size=16, seed=1, verbose=0, validation_windows=0, combine_with=None,
                loss="mse", clipnorm=None)
one = Forecaster(tracking=False, **settings).fit(frame)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
mirrored = Forecaster(distribution=strategy, tracking=Tracking(experiment="mirrored"), **settings).fit(frame)
assert mirrored.model_.distribute_strategy.num_replicas_in_sync == 2
expected, found = one.predict(), mirrored.predict()
assert (expected[["unique_id", "ds"]] == found[["unique_id", "ds"]]).all().all()
np.testing.assert_allclose(found["y_hat"], expected["y_hat"], rtol=float(sys.argv[1]))
np.testing.assert_allclose(mirrored.history_["loss"], one.history_["loss"], rtol=float(sys.argv[1]))
reloaded = load_forecaster(mirrored.save("model"))
assert reloaded.distribution is None
np.testing.assert_allclose(reloaded.predict()["y_hat"], found["y_hat"], rtol=1e-6)
served = mlflow.pyfunc.load_model(mirrored.model_uri_).predict(frame)
np.testing.assert_allclose(served["y_hat"], found["y_hat"], rtol=1e-6)
assert mlflow.get_run(mirrored.run_id_).data.params["distribution"].startswith("<tensorflow")

from forecast.text import LanguageModel
text = pd.Series(["abcabcabd" * 30])
lm_settings = dict(units=8, seq_len=12, epochs=1, batch_size=16, tracking=False, verbose=0)
lm_one = LanguageModel(**lm_settings).fit(text)
lm_mirrored = LanguageModel(distribution=strategy, **lm_settings).fit(text)
np.testing.assert_allclose(lm_mirrored.history_["loss"], lm_one.history_["loss"], rtol=float(sys.argv[1]))
print("ok")
"""


@pytest.mark.slow
def test_a_mirrored_fit_on_two_devices_equals_a_one_device_fit(tmp_path):
    result = run_python(MIRRORED, tmp_path, str(TOLERANCE))
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.split()[-1] == "ok"


ODD_BATCH = """
import numpy as np, pandas as pd, tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from forecast.forecaster import Forecaster

frame = pd.DataFrame({"unique_id": np.repeat(["a", "b"], 40), "ds": np.tile(np.arange(40), 2),
                      "y": np.sin(np.arange(80) / 3.0) + 2.0})
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
model = Forecaster(lookback=6, horizon=3, units=4, epochs=1, batch_size=37, verbose=0, tracking=False,
                   combine_with=None, distribution=strategy).fit(frame)
print(model.batch_size_)
"""


WORKER = """
import json, os, sys
index, ports = int(sys.argv[1]), sys.argv[2].split(",")
os.environ["TF_CONFIG"] = json.dumps(
    {"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]}, "task": {"type": "worker", "index": index}}
)
import numpy as np, pandas as pd, tensorflow as tf
from forecast.forecaster import Forecaster

strategy = tf.distribute.MultiWorkerMirroredStrategy()
frame = pd.DataFrame({
    "unique_id": np.repeat(["a", "b"], 30),
    "ds": np.tile(np.arange(30), 2),
    "y": np.sin(np.arange(60) / 3.0) + 2.0,
})
model = Forecaster(lookback=6, horizon=3, units=4, epochs=2, batch_size=8, verbose=0, tracking=False,
                   combine_with=None, distribution=strategy).fit(frame)
print(json.dumps({"forecasts": model.predict()["y_hat"].tolist()}))
"""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    ports = [handle.getsockname()[1] for handle in sockets]
    for handle in sockets:
        handle.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_one_model_with_multi_worker_mirrored_strategy(tmp_path):
    """Two workers on 127.0.0.1 (Keras's own fit fails there, keras issue 20585; the Forecaster's training loop
    runs the steps with strategy.run): they train the same weights, so they forecast the same values."""
    ports = ",".join(map(str, free_ports(2)))
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(index), ports],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for index in range(2)
    ]
    outcomes = [worker.communicate(timeout=600) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [err[-500:] for _, err in outcomes]
    first, second = (json.loads(out.strip().splitlines()[-1])["forecasts"] for out, _ in outcomes)
    assert len(first) == 2 * 3 and np.isfinite(first).all()
    np.testing.assert_allclose(first, second, rtol=1e-6)


def test_the_distribution_setting_is_checked_and_resolved():
    assert resolve_strategy(None) is tf.distribute.get_strategy()
    assert isinstance(resolve_strategy("mirrored"), tf.distribute.MirroredStrategy)
    with pytest.raises(ValueError, match="distribution must be None, 'mirrored' or a tf.distribute.Strategy"):
        check_distribution("tpu")
    with pytest.raises(ValueError, match="distribution must be"):
        Forecaster(distribution="everywhere", tracking=False).fit(None)


def test_a_clone_shares_the_strategy_and_a_saved_model_keeps_only_its_name():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    model = Forecaster(distribution=strategy, tracking=False)
    assert clone(model).distribution is strategy
    assert settings_to_json(model)["distribution"] is None
    assert settings_to_json(Forecaster(distribution="mirrored"))["distribution"] == "mirrored"


@pytest.mark.slow
def test_an_odd_global_batch_is_rounded_to_a_multiple_of_the_replicas(tmp_path):
    """Keras fails on a batch that splits unevenly across replicas; the Forecaster rounds the batch up."""
    result = run_python(ODD_BATCH, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == "38"
