"""What defines and what reports one run of a 1997 LSTM experiment (no Keras needed to import).

`ExperimentConfig` is validated on construction; `forecast.experiments.runner`
runs it and returns an `ExperimentResult` with its `Checkpoint`s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.experiments.problems import Problem, get_problem
from pipelines.checks import check_integer, check_number

DEFAULT_TRACKING_EXPERIMENT = "lstm-1997-experiments"
CHRONO_CELLS = ("lstm", "peephole_lstm", "cifg_lstm", "gru")
"""Cells with a gate that keeps the previous state (forget gate, GRU update gate), which
`ExperimentConfig.chrono` initialises."""


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines one run.

    Attributes:
        problem: a name from `forecast.experiments.problems.available_problems()`.
        cell: a recurrent layer name from `layers.registry.available()`;
            the default is the paper's LSTM without forget gate, whose
            constant error carousel carries the error over the long lags
            (the forget-gate LSTM starts with f_t near sigmoid(1) = 0.73,
            and 0.73^50 is about 1e-7).
        length: minimal sequence length `T` (None: 100, or the fixed 100-110
            of temporal order).
        informative_elements: `N` of the two-sequence problems.
        budget: most training sequences to use.
        batch_size: sequences per Adam step.
        units: hidden units of the recurrent layer.
        learning_rate: Adam's step size.
        clipnorm: clip each gradient to this norm (None: no clipping).
        seed: seeds the data streams and Keras's weight initialisers.
        test_size: held-out sequences for the final accuracy.
        validation_size: sequences of the fixed set checked during training.
        check_every: training sequences between validation checks.
        target_accuracy: validation (to stop) and test (to count as solved)
            accuracy that solves the problem.
        chrono: start the forget-gate LSTM cells (`lstm`, `peephole_lstm`,
            `cifg_lstm`) and `gru` with chrono initialization at the longest
            sequence length (`LSTMCell(chrono_timescale=...)`,
            `GRUCell(chrono_timescale=...)`, Tallec & Ollivier
            2018), so their memories start out lasting 1 to T steps; without
            it they start with f_t near sigmoid(1) and stay on the plateau.
    """

    problem: str = "adding"
    cell: str = "lstm1997"
    length: int | None = None
    informative_elements: int = 1
    budget: int = 300_000
    batch_size: int = 32
    units: int = 32
    learning_rate: float = 1e-3
    clipnorm: float | None = None
    seed: int = 0
    test_size: int = 2560
    validation_size: int = 2000
    check_every: int = 10_000
    target_accuracy: float = 0.95
    chrono: bool = True

    def __post_init__(self) -> None:
        for name in ("budget", "batch_size", "units", "test_size", "validation_size", "check_every"):
            check_integer(name, getattr(self, name))
        check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False, finite=True)
        check_number("clipnorm", self.clipnorm, low=0.0, low_inclusive=False, allow_none=True, finite=True)
        check_number("target_accuracy", self.target_accuracy, low=0.0, high=1.0, low_inclusive=False)
        get_problem(self.problem, self.length, self.informative_elements)
        # Imported here: `layers` loads Keras, and the command line reads these defaults without it.
        from layers import registry

        if self.cell not in registry.available():
            raise ValueError(f"unknown cell {self.cell!r}; expected one of {', '.join(registry.available())}.")


@dataclass(frozen=True)
class Checkpoint:
    """One validation check during training.

    Attributes:
        training_sequences: sequences trained on so far.
        training_loss: mean squared error of the batches since the previous check.
        validation_accuracy: fraction of validation sequences within tolerance.
        validation_mean_absolute_error: mean absolute error over validation outputs.
    """

    training_sequences: int
    training_loss: float
    validation_accuracy: float
    validation_mean_absolute_error: float


@dataclass(frozen=True)
class ExperimentResult:
    """What a run reports.

    Attributes:
        config: the run's configuration.
        problem: the problem as run (length, tolerance, paper's numbers).
        solved: test accuracy >= `config.target_accuracy`.
        training_sequences: training sequences used until the stop.
        test_accuracy: fraction of test sequences within tolerance.
        test_wrong: number of test sequences outside tolerance (the paper's count).
        test_mean_absolute_error: mean absolute error over test outputs.
        test_mean_squared_error: mean squared error over test outputs.
        wall_time_seconds: training, checks and test evaluation.
        checkpoints: the validation checks, in order.
        initial_gradient_flow: per-lag gradient norms before training
            (`layers.gradient_flow.gradient_flow`; entry k = lag k).
        final_gradient_flow: the same after training.
        run_id: the MLflow run id when tracking was on, else None.
    """

    config: ExperimentConfig
    problem: Problem
    solved: bool
    training_sequences: int
    test_accuracy: float
    test_wrong: int
    test_mean_absolute_error: float
    test_mean_squared_error: float
    wall_time_seconds: float
    checkpoints: tuple[Checkpoint, ...]
    initial_gradient_flow: np.ndarray
    final_gradient_flow: np.ndarray
    run_id: str | None

    def summary(self) -> dict[str, object]:
        """The headline numbers as a flat dict (one table row)."""
        return {
            "problem": self.problem.name,
            "experiment": self.problem.experiment,
            "T": self.problem.length,
            "cell": self.config.cell,
            "solved": self.solved,
            "training_sequences": self.training_sequences,
            "test_accuracy": self.test_accuracy,
            "test_wrong": self.test_wrong,
            "test_size": self.config.test_size,
            "test_mae": self.test_mean_absolute_error,
            "wall_time_s": self.wall_time_seconds,
            "paper_sequences": self.problem.paper_sequences,
        }
