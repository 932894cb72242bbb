"""Train a recurrent network on one 1997 LSTM experiment until it is solved or out of budget.

The protocol follows Hochreiter & Schmidhuber (1997), Section 5, with a
modern optimiser:

```
repeat: draw a fresh batch of training sequences, take one Adam step on the
        mean squared error at each sequence's last real step
every `check_every` sequences: accuracy on a fixed validation set
stop:   validation accuracy >= target_accuracy, or `budget` sequences used
report: accuracy on `test_size` held-out sequences (2,560 in the paper),
        sequences used, wall time, and the gradient flow before and after
```

A sequence is correct when every output's absolute error at its end is below
the problem's tolerance (`forecast.experiments.criteria`). The paper stopped
on a stricter rule (e.g. adding: average training error below 0.01 and the
2,000 most recent sequences all correct) and then counted wrong test
sequences; `ExperimentResult.test_wrong` gives that count for comparison.

Variable lengths are padded to the longest sequence of each batch; a mask
keeps the padded steps out of the recurrence, so the network's output is its
output at each sequence's last real step.

Reference: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural
Computation 9(8), 1997.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from forecast.experiments.config import (
    CHRONO_CELLS,
    DEFAULT_TRACKING_EXPERIMENT,
    Checkpoint,
    ExperimentConfig,
    ExperimentResult,
)
from forecast.experiments.criteria import sequences_correct
from forecast.experiments.generators import SequenceBatch
from forecast.experiments.problems import Problem, get_problem
from forecast.tracking import tracking_run
from layers import registry
from layers.gradient_flow import gradient_flow, plot_gradient_flow

GRADIENT_FLOW_SEQUENCES = 64
_PREDICTION_BATCH_SIZE = 512


def build_model(problem: Problem, cell: str, units: int, chrono: bool = False) -> keras.Model:
    """Recurrent layer `cell` with `units` units, then sigmoid output units.

    ```
    h = RNN_cell(x_1..x_L, mask)      (output at the last real step)
    y_hat = sigmoid(W h + b)          (problem.output_units values in [0, 1])
    ```

    The model takes a dict with `"sequences"` `(batch, time, features)` and
    `"mask"` `(batch, time)` booleans. With `chrono`, a forget-gate LSTM or GRU
    cell gets `chrono_timescale=problem.longest_length`.
    """
    sequences = keras.Input((None, problem.input_features), name="sequences")
    mask = keras.Input((None,), dtype="bool", name="mask")
    options = {"chrono_timescale": problem.longest_length} if chrono and cell in CHRONO_CELLS else {}
    hidden = registry.get(cell, units, **options)(sequences, mask=mask)
    outputs = keras.layers.Dense(problem.output_units, activation="sigmoid", name="readout")(hidden)
    return keras.Model({"sequences": sequences, "mask": mask}, outputs, name=f"{problem.name}_{cell}")


def run_experiment(
    config: ExperimentConfig,
    tracking: bool = False,
    tracking_experiment: str = DEFAULT_TRACKING_EXPERIMENT,
    on_tracking_error: str = "warn",
    progress: Callable[[Checkpoint], None] | None = None,
) -> ExperimentResult:
    """Train `config.cell` on `config.problem` until solved or out of budget; test it.

    The data come from three independent streams spawned from
    `numpy.random.default_rng(config.seed)` (training, validation, test);
    the weights are initialised after `keras.utils.set_random_seed(config.seed)`,
    which seeds Keras's global generators.

    Args:
        config: the run.
        tracking: log parameters, per-check metrics, the result and the
            gradient-flow plot to MLflow (`forecast.tracking.tracking_run`).
        tracking_experiment: MLflow experiment name.
        on_tracking_error: `"warn"` (run untracked when the store is
            unreachable) or `"raise"`.
        progress: called with each `Checkpoint` as it is made.
    """
    problem = get_problem(config.problem, config.length, config.informative_elements)
    training_rng, validation_rng, test_rng = np.random.default_rng(config.seed).spawn(3)
    validation = problem.generate(config.validation_size, validation_rng)
    test = problem.generate(config.test_size, test_rng)
    keras.utils.set_random_seed(config.seed)
    model = build_model(problem, config.cell, config.units, chrono=config.chrono)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm),
        loss="mean_squared_error",
        jit_compile=False,
    )
    run_name = f"{problem.name}-{config.cell}" + (f"-T{problem.length}" if problem.length else "")
    with tracking_run(tracking, tracking_experiment, run_name, on_tracking_error) as tracker:
        tracker.log_params({**asdict(config), "experiment": problem.experiment, "tolerance": problem.tolerance})
        initial_flow = _gradient_flow(model, test)
        start = time.perf_counter()
        checkpoints = _train(model, problem, config, training_rng, validation, tracker, progress)
        test_predictions = _predict(model, test)
        wall_time = time.perf_counter() - start
        final_flow = _gradient_flow(model, test)
        correct = sequences_correct(test.targets, test_predictions, problem.tolerance)
        errors = test.targets - test_predictions
        result = ExperimentResult(
            config=config,
            problem=problem,
            solved=bool(correct.mean() >= config.target_accuracy),
            training_sequences=checkpoints[-1].training_sequences,
            test_accuracy=float(correct.mean()),
            test_wrong=int((~correct).sum()),
            test_mean_absolute_error=float(np.mean(np.abs(errors))),
            test_mean_squared_error=float(np.mean(np.square(errors))),
            wall_time_seconds=wall_time,
            checkpoints=tuple(checkpoints),
            initial_gradient_flow=initial_flow,
            final_gradient_flow=final_flow,
            run_id=tracker.run_id,
        )
        tracker.log_metrics(_result_metrics(result))
        if tracker.active:
            _log_gradient_flow_plot(tracker, config.cell, initial_flow, final_flow)
    return result


def _train(model, problem, config, rng, validation, tracker, progress) -> list[Checkpoint]:
    checkpoints: list[Checkpoint] = []
    losses: list[float] = []
    seen = 0
    next_check = config.check_every
    while seen < config.budget:
        batch = problem.generate(min(config.batch_size, config.budget - seen), rng)
        loss = model.train_on_batch(_model_inputs(batch), batch.targets)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"training loss became {loss} after {seen} sequences ({config.cell} on "
                f"{problem.name}); try a smaller learning_rate or set clipnorm."
            )
        losses.append(loss)
        seen += len(batch)
        if seen >= next_check or seen >= config.budget:
            checkpoint = _check(model, problem, validation, seen, float(np.mean(losses)))
            checkpoints.append(checkpoint)
            losses.clear()
            next_check += config.check_every
            tracker.log_metrics(
                {
                    "training_loss": checkpoint.training_loss,
                    "validation_accuracy": checkpoint.validation_accuracy,
                    "validation_mae": checkpoint.validation_mean_absolute_error,
                },
                step=seen,
            )
            if progress is not None:
                progress(checkpoint)
            if checkpoint.validation_accuracy >= config.target_accuracy:
                break
    return checkpoints


def _check(model, problem, validation, seen, training_loss) -> Checkpoint:
    predictions = _predict(model, validation)
    correct = sequences_correct(validation.targets, predictions, problem.tolerance)
    return Checkpoint(
        training_sequences=seen,
        training_loss=training_loss,
        validation_accuracy=float(correct.mean()),
        validation_mean_absolute_error=float(np.mean(np.abs(validation.targets - predictions))),
    )


def _model_inputs(batch: SequenceBatch) -> dict[str, np.ndarray]:
    return {"sequences": batch.inputs, "mask": batch.mask}


def _predict(model, batch: SequenceBatch) -> np.ndarray:
    return model.predict(_model_inputs(batch), batch_size=_PREDICTION_BATCH_SIZE, verbose=0)


def _gradient_flow(model, batch: SequenceBatch) -> np.ndarray:
    # The first sequences, cut to the shortest of them: every step is real, so
    # the unmasked network sees exactly what the masked one does.
    count = min(GRADIENT_FLOW_SEQUENCES, len(batch))
    steps = int(batch.lengths[:count].min())
    network = keras.Sequential([layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)])
    return gradient_flow(network, batch.inputs[:count, :steps])


def _result_metrics(result: ExperimentResult) -> dict[str, float]:
    return {
        "solved": float(result.solved),
        "training_sequences": float(result.training_sequences),
        "test_accuracy": result.test_accuracy,
        "test_wrong": float(result.test_wrong),
        "test_mae": result.test_mean_absolute_error,
        "test_mse": result.test_mean_squared_error,
        "wall_time_seconds": result.wall_time_seconds,
    }


def _log_gradient_flow_plot(tracker, cell, initial_flow, final_flow) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = plot_gradient_flow(
            {f"{cell} before training": initial_flow, f"{cell} after training": final_flow},
            Path(folder) / "gradient_flow.png",
        )
        tracker.log_artifact(str(path))
