"""Execute every notebook of notebooks/ top to bottom in tiny settings, and check the numbers it reports.

Each notebook has one cell tagged `parameters` (papermill's convention) with its full-size settings; the
test overrides them with small ones, runs the notebook in a temporary working directory against a fresh
SQLite MLflow store (`MLFLOW_TRACKING_URI`), and reads the JSON of key numbers the notebook writes at
the end. The kernel is this interpreter (a kernelspec written for `sys.executable`), so no Jupyter
installation outside the environment is needed. A cell that raises fails the test with its traceback.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import papermill
import pytest

pytestmark = pytest.mark.notebooks

REPOSITORY = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPOSITORY / "notebooks"
KERNEL_NAME = "lstm-forecast-tests"

SMALL_SETTINGS = {
    "01_lstm_from_equations.ipynb": {"BATCH_SIZE": 4, "UNITS": 8},
    "02_forecasting_m3.ipynb": {"MAX_SERIES": 12, "EPOCHS": 2, "UNITS": 8, "BACKTEST_WINDOWS": 2},
    "03_language_model.ipynb": {
        "TRAIN_CHARS": 30_000,
        "VALIDATION_CHARS": 3_000,
        "SEQ_LEN": 50,
        "UNITS": 32,
        "EPOCHS": 2,
        "BATCH_SIZE": 32,
        "GENERATED_CHARS": 40,
    },
    "04_classic_experiments.ipynb": {
        "PROBLEMS": ["adding", "temporal-order"],
        "CELLS": ["elman", "lstm1997"],
        "BUDGET": 64,
        "UNITS": 8,
        "CHECK_EVERY": 64,
        "VALIDATION_SIZE": 64,
        "TEST_SIZE": 64,
    },
}


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory) -> Iterator[str]:
    """A kernelspec that starts ipykernel with this very interpreter, found first on JUPYTER_PATH."""
    jupyter_dir = tmp_path_factory.mktemp("jupyter")
    spec_dir = jupyter_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "lstm-forecast tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("JUPYTER_PATH", _prepend(jupyter_dir, "JUPYTER_PATH"))
        # The kernel imports the packages of this checkout; TensorFlow keeps its start-up chatter.
        monkeypatch.setenv("PYTHONPATH", _prepend(REPOSITORY, "PYTHONPATH"))
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
        yield KERNEL_NAME


def _prepend(path: Path, variable: str) -> str:
    existing = os.environ.get(variable)
    return os.pathsep.join([str(path), existing]) if existing else str(path)


def execute(notebook: str, parameters: dict, working_dir: Path, kernel_name: str) -> dict:
    """Run `notebook` with `parameters` in `working_dir`; return the JSON it wrote to its RESULTS_FILE."""
    results_file = f"{Path(notebook).stem}.json"
    papermill.execute_notebook(
        NOTEBOOKS / notebook,
        working_dir / notebook,
        parameters={**parameters, "RESULTS_FILE": results_file},
        kernel_name=kernel_name,
        cwd=str(working_dir),
        progress_bar=False,
    )
    return json.loads((working_dir / results_file).read_text())


def test_every_notebook_is_tested():
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == sorted(SMALL_SETTINGS)


def test_notebooks_are_stored_without_outputs():
    import nbformat

    for path in NOTEBOOKS.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        tagged = [cell for cell in code_cells if "parameters" in cell.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(tagged)}"
        for cell in code_cells:
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: stored outputs in {cell.source[:40]!r}"
            )


def test_lstm_from_equations(kernel_name, tmp_path, mlflow_tracking_uri):
    from layers.registry import available

    results = execute(
        "01_lstm_from_equations.ipynb", SMALL_SETTINGS["01_lstm_from_equations.ipynb"], tmp_path, kernel_name
    )

    assert set(results["max_abs_difference"]) == {"lstm1997", "lstm", "peephole_lstm", "cifg_lstm"}
    assert max(results["max_abs_difference"].values()) < 1e-10  # float64 cell vs the NumPy equations
    ratios = results["lag50_over_lag1"]
    assert set(ratios) == set(available())
    assert ratios["elman"] < 1e-6  # the gradient vanishes through 49 sigmoid Jacobians
    assert ratios["lstm1997"] > 0.1  # and survives the constant error carousel
    assert results["elman_measured_factor"] <= results["elman_bound_factor"]
    assert (tmp_path / "gradient_flow.png").stat().st_size > 0


def test_forecasting_m3(kernel_name, tmp_path, mlflow_tracking_uri):
    from mlflow import MlflowClient

    settings = SMALL_SETTINGS["02_forecasting_m3.ipynb"]
    results = execute("02_forecasting_m3.ipynb", settings, tmp_path, kernel_name)

    assert results["n_series"] == settings["MAX_SERIES"]
    for table in ("test_scores", "backtest_scores"):
        assert set(results[table]) == {"Forecaster(lstm)", "SeasonalNaive"}
        assert all(math.isfinite(value) for scores in results[table].values() for value in scores.values())
    assert results["backtest_series"] >= 1
    assert results["reload_max_relative_difference"] < 1e-5
    # The runs went to the store the environment names, with the test scores added to the fit run.
    fit_run = MlflowClient(tracking_uri=mlflow_tracking_uri).get_run(results["fit_run_id"])
    assert fit_run.data.metrics["test_smape"] == pytest.approx(results["test_scores"]["Forecaster(lstm)"]["smape"])
    assert fit_run.data.metrics["test_SeasonalNaive_mase"] == pytest.approx(
        results["test_scores"]["SeasonalNaive"]["mase"]
    )
    assert results["mlflow_runs"] >= 2  # fit and backtest


def test_language_model(kernel_name, tmp_path, mlflow_tracking_uri):
    from mlflow import MlflowClient

    settings = SMALL_SETTINGS["03_language_model.ipynb"]
    results = execute("03_language_model.ipynb", settings, tmp_path, kernel_name)

    vocabulary_size = results["vocabulary_size"]
    assert settings["TRAIN_CHARS"] <= results["train_characters"] < settings["TRAIN_CHARS"] + 15_000
    # Better than a uniform guess over the vocabulary, and the same number however it is computed.
    assert 1 < results["validation_perplexity"] < vocabulary_size
    assert 1 < results["unigram_perplexity"] < vocabulary_size
    assert results["recomputed_perplexity"] == pytest.approx(results["validation_perplexity"])
    assert {len(text) for text in results["samples"].values()} == {settings["GENERATED_CHARS"]}
    run = MlflowClient(tracking_uri=mlflow_tracking_uri).get_run(results["run_id"])
    assert run.data.metrics["validation_perplexity"] == pytest.approx(results["validation_perplexity"])


def test_classic_experiments(kernel_name, tmp_path, mlflow_tracking_uri):
    settings = SMALL_SETTINGS["04_classic_experiments.ipynb"]
    results = execute("04_classic_experiments.ipynb", settings, tmp_path, kernel_name)

    rows = results["rows"]
    assert [(row["problem"], row["cell"]) for row in rows] == [
        (problem, cell) for problem in settings["PROBLEMS"] for cell in settings["CELLS"]
    ]
    paper = {"adding": 74_000, "temporal-order": 31_390}  # Hochreiter & Schmidhuber 1997, T = 100 and 6a
    for row in rows:
        assert row["paper_sequences"] == paper[row["problem"]]
        assert 0 < row["training_sequences"] <= settings["BUDGET"]
        assert row["test_wrong"] == round((1 - row["test_accuracy"]) * row["test_size"])
        assert row["test_size"] == settings["TEST_SIZE"]
