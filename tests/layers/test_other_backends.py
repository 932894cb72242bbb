"""`layers` on another Keras backend: the generic path computes what it computes on TensorFlow.

Keras fixes its backend at import, so the other backend runs in a subprocess: torch, the one other backend
installable beside TensorFlow here (`pip install torch==2.13.0`, CPU build); skipped when torch is missing.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import layers

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")

BATCH, TIME, FEATURES, UNITS = 3, 5, 2, 4

# Builds every registered layer with seeded weights and prints its outputs (with a right-padded and a ragged
# mask, backwards, all steps) as JSON, plus what the layers module did on that backend.
SCRIPT = """
import json, sys
import numpy as np
import keras
import layers

BATCH, TIME, FEATURES, UNITS = {shape}
x = np.random.default_rng(0).normal(size=(BATCH, TIME, FEATURES)).astype("float32")
mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 1, 1, 0, 1]], dtype=bool)
results = {{}}
for name in layers.available():
    layer = layers.get(name, UNITS, return_sequences=True, go_backwards=True)
    layer.build((BATCH, TIME, FEATURES))
    rng = np.random.default_rng(1)
    layer.set_weights([rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") for w in layer.get_weights()])
    results[name] = keras.ops.convert_to_numpy(layer(x, mask=mask)).tolist()
try:
    layers.LSTM(UNITS, implementation="fused")
    fused_error = None
except ValueError as error:
    fused_error = str(error)
print(json.dumps({{
    "outputs": results,
    "fused_error": fused_error,
    "tensorflow_imported": "tensorflow" in sys.modules,
}}))
"""


def run_on(backend: str) -> dict:
    script = SCRIPT.format(shape=(BATCH, TIME, FEATURES, UNITS))
    environment = {**os.environ, "KERAS_BACKEND": backend}
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=True, timeout=300
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # a child process imports torch and builds every layer twice
def test_every_layer_computes_the_same_on_torch_as_on_tensorflow():
    torch_run, tensorflow_run = run_on("torch"), run_on("tensorflow")
    assert set(torch_run["outputs"]) == set(layers.available())
    for name, outputs in torch_run["outputs"].items():
        np.testing.assert_allclose(outputs, tensorflow_run["outputs"][name], atol=1e-5, err_msg=name)
    assert not torch_run["tensorflow_imported"]  # the generic path needs no TensorFlow
    assert "the Keras backend is 'torch'" in torch_run["fused_error"]
    assert tensorflow_run["fused_error"] is None
