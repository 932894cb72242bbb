"""The package's shape: imports flow one way without cycles, and the estimator works without MLflow."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("layers", "pipelines", "forecast")
# Which packages each package may import (docs/architecture.md, "Import rules": forecast -> pipelines, forecast -> layers, never back).
ALLOWED = {"layers": {"layers"}, "pipelines": {"pipelines"}, "forecast": {"forecast", "pipelines", "layers"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module `path` imports, at module level or inside functions (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    type_checking_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_checking_only |= {id(child) for child in ast.walk(node)}
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != this:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a list of modules, first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_of_the_whole_project_has_no_cycle():
    graph = import_graph()
    assert "forecast.forecaster" in graph and graph["forecast.tracked"] >= {"forecast.pyfunc", "forecast.tracking"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_spark_batch_forecasting_does_not_import_the_jobs_that_run_on_it():
    graph = import_graph()
    assert graph["forecast.jobs.engines.spark"] >= {"forecast.spark"}  # the jobs' Spark engine uses it ...
    assert not any(target.startswith("forecast.jobs") for target in graph["forecast.spark"])  # ... not back


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_imports_flow_from_forecast_to_pipelines_and_layers_never_back():
    wrong = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if target.split(".")[0] not in ALLOWED[module.split(".")[0]]
    ]
    assert not wrong, wrong


def run_python(code: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", "HOME": str(home)},
    )


@pytest.mark.slow
def test_an_untracked_forecaster_fits_predicts_and_pickles_without_importing_mlflow(tmp_path):
    result = run_python(
        f"""
        import pickle, sys
        import numpy as np, pandas as pd
        import forecast.forecaster
        assert "mlflow" not in sys.modules, "importing the estimator imported mlflow"
        from forecast.forecaster import Forecaster
        frame = pd.DataFrame({{"unique_id": np.repeat(["a", "b"], 30), "ds": np.tile(np.arange(30), 2),
                              "y": np.sin(np.arange(60) / 3.0) + 2.0}})
        model = Forecaster(lookback=6, horizon=3, units=4, epochs=1, tracking=False, verbose=0).fit(frame)
        forecasts = model.predict()
        restored = pickle.loads(pickle.dumps(model))
        pd.testing.assert_frame_equal(restored.predict(), forecasts)
        model.save({str(tmp_path / "model")!r})
        assert "mlflow" not in sys.modules, "fit, predict or save imported mlflow"
        print("ok", len(forecasts))
        """,
        home=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["ok", "6"]
