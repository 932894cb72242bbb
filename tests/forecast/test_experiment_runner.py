"""The experiment runner and its CLI command, on tiny budgets."""

import mlflow
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from forecast.experiments.cli import experiment_command
from forecast.experiments.generators import adding
from forecast.experiments.problems import get_problem
from forecast.experiments.runner import ExperimentConfig, build_model, run_experiment

TINY = dict(
    problem="adding",
    cell="lstm",
    length=20,
    units=4,
    batch_size=16,
    budget=64,
    check_every=32,
    test_size=40,
    validation_size=32,
)


@pytest.fixture(scope="module")
def tracked_tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)  # MLflow puts the artifacts of a SQLite store beside the working directory
        result = run_experiment(
            ExperimentConfig(**TINY, clipnorm=1.0, target_accuracy=1.0), tracking=True, tracking_experiment="h8-test"
        )
    return uri, result


def test_tiny_run_reports_every_field_consistently(tracked_tiny_run):
    _, result = tracked_tiny_run
    assert result.training_sequences == 64
    assert [c.training_sequences for c in result.checkpoints] == [32, 64]
    assert all(np.isfinite(c.training_loss) and 0 <= c.validation_accuracy <= 1 for c in result.checkpoints)
    assert result.test_wrong == round((1 - result.test_accuracy) * 40)
    assert result.solved == (result.test_accuracy >= 1.0)
    assert result.test_mean_squared_error <= result.test_mean_absolute_error  # errors lie in [-1, 1]
    assert result.wall_time_seconds > 0
    assert result.problem.length == 20 and result.problem.paper_sequences is None
    # gradient flow over the shortest of the first test sequences: at least T = 20 lags
    assert result.initial_gradient_flow.shape == result.final_gradient_flow.shape
    assert result.final_gradient_flow.shape[0] >= 20
    assert np.all(np.isfinite(result.final_gradient_flow)) and result.final_gradient_flow[0] > 0
    summary = result.summary()
    assert summary["cell"] == "lstm" and summary["training_sequences"] == 64 and summary["T"] == 20


def test_tracked_run_logs_params_metrics_and_gradient_flow_plot(tracked_tiny_run):
    uri, result = tracked_tiny_run
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "adding-lstm-T20"
    assert run.data.params["cell"] == "lstm" and run.data.params["clipnorm"] == "1.0"
    assert run.data.params["experiment"] == "4" and run.data.params["length"] == "20"
    assert run.data.metrics["test_accuracy"] == pytest.approx(result.test_accuracy)
    assert run.data.metrics["training_sequences"] == 64
    history = client.get_metric_history(result.run_id, "validation_accuracy")
    assert [(m.step, m.value) for m in history] == [
        (c.training_sequences, pytest.approx(c.validation_accuracy)) for c in result.checkpoints
    ]
    assert "gradient_flow.png" in [artifact.path for artifact in client.list_artifacts(result.run_id)]


def test_run_stops_at_the_first_check_that_meets_the_target():
    # Outputs near 0.5 already put ~16% of adding targets within 0.04, so a 5% target
    # is met at the first check and the run stops there, far below its budget.
    result = run_experiment(ExperimentConfig(**{**TINY, "budget": 6400, "validation_size": 400}, target_accuracy=0.05))
    assert result.training_sequences == 32
    assert len(result.checkpoints) == 1
    assert result.checkpoints[0].validation_accuracy >= 0.05


def test_masked_model_reads_the_output_at_each_sequences_last_real_step():
    problem = get_problem("adding", length=20)
    model = build_model(problem, "lstm", 3)
    batch = adding(6, 20, np.random.default_rng(0))
    padded = np.asarray(model({"sequences": batch.inputs, "mask": batch.mask}))
    for row in range(6):
        real = batch.inputs[row : row + 1, : batch.lengths[row]]
        alone = np.asarray(model({"sequences": real, "mask": np.ones(real.shape[:2], bool)}))
        np.testing.assert_allclose(padded[row], alone[0], rtol=1e-5, atol=1e-6)
    assert padded.shape == (6, 1) and np.all((padded > 0) & (padded < 1))


def test_config_errors_name_the_parameter_and_the_value():
    with pytest.raises(ValueError, match="budget must be a positive integer; got 0"):
        ExperimentConfig(budget=0)
    with pytest.raises(ValueError, match="unknown cell 'lstm2'; expected one of"):
        ExperimentConfig(cell="lstm2")
    with pytest.raises(ValueError, match="unknown problem 'adder'"):
        ExperimentConfig(problem="adder")
    with pytest.raises(ValueError, match="clipnorm must be a positive number"):
        ExperimentConfig(clipnorm=0.0)
    with pytest.raises(ValueError, match="learning_rate must be a positive number; got inf"):
        ExperimentConfig(learning_rate=float("inf"))


def cli_app():
    app = typer.Typer()

    @app.callback()
    def main():
        """Test app with one registered command."""

    app.command("experiment")(experiment_command)
    return app


def test_cli_runs_an_experiment_and_prints_the_result():
    arguments = ["experiment", "adding", "--cell", "lstm", "--T", "20", "--budget", "32", "--batch-size", "16"]
    arguments += ["--units", "4", "--check-every", "32", "--test-size", "24", "--validation-size", "16"]
    arguments += ["--target-accuracy", "1.0", "--learning-rate", "0.01", "--no-tracking"]
    outcome = CliRunner().invoke(cli_app(), arguments)
    assert outcome.exit_code == 0, outcome.output
    assert "problem: adding (experiment 4), T = 20" in outcome.output
    assert "training sequences: 32" in outcome.output
    assert "of 24 wrong" in outcome.output
    assert "MLflow run" not in outcome.output


def test_cli_rejects_an_unknown_problem_with_the_valid_names():
    outcome = CliRunner().invoke(cli_app(), ["experiment", "adder", "--no-tracking"])
    assert outcome.exit_code == 2
    assert "unknown problem 'adder'" in outcome.output and "temporal-order" in outcome.output


@pytest.mark.parametrize("cell", ["lstm", "peephole_lstm", "cifg_lstm", "gru"])
def test_chrono_initializes_gated_cells_at_the_longest_sequence(cell):
    problem = get_problem("adding", length=100)
    assert problem.longest_length == 110
    assert get_problem("temporal-order").longest_length == 110
    recurrent = build_model(problem, cell, 8, chrono=True).get_layer(index=2)
    assert recurrent.cell.chrono_timescale == 110
    plain = build_model(problem, cell, 8).get_layer(index=2)
    assert plain.cell.chrono_timescale is None


def test_chrono_leaves_cells_without_a_forget_gate_alone():
    problem = get_problem("adding", length=100)
    recurrent = build_model(problem, "lstm1997", 8, chrono=True).get_layer(index=2)
    assert recurrent.cell.chrono_timescale is None and not recurrent.cell.forget_gate
