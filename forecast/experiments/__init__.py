"""The long-time-lag experiments of Hochreiter & Schmidhuber (1997): data, criteria, runner."""

from forecast.experiments.criteria import accuracy, sequences_correct
from forecast.experiments.generators import (
    SequenceBatch,
    adding,
    multiplication,
    temporal_order,
    two_sequence,
)
from forecast.experiments.problems import Problem, available_problems, get_problem
from forecast.experiments.runner import (
    Checkpoint,
    ExperimentConfig,
    ExperimentResult,
    build_model,
    run_experiment,
)

__all__ = [
    "Checkpoint",
    "ExperimentConfig",
    "ExperimentResult",
    "Problem",
    "SequenceBatch",
    "accuracy",
    "adding",
    "available_problems",
    "build_model",
    "get_problem",
    "multiplication",
    "run_experiment",
    "sequences_correct",
    "temporal_order",
    "two_sequence",
]
