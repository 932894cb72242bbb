"""The long-time-lag experiments of Hochreiter & Schmidhuber (1997): data, criteria, runner.

The names are resolved on first use (PEP 562): the runner loads Keras, and
the command line imports this package without it.
"""

from importlib import import_module

_EXPORTS = {
    "Checkpoint": "forecast.experiments.config",
    "ExperimentConfig": "forecast.experiments.config",
    "ExperimentResult": "forecast.experiments.config",
    "Problem": "forecast.experiments.problems",
    "SequenceBatch": "forecast.experiments.generators",
    "accuracy": "forecast.experiments.criteria",
    "adding": "forecast.experiments.generators",
    "available_problems": "forecast.experiments.problems",
    "build_model": "forecast.experiments.runner",
    "get_problem": "forecast.experiments.problems",
    "multiplication": "forecast.experiments.generators",
    "run_experiment": "forecast.experiments.runner",
    "sequences_correct": "forecast.experiments.criteria",
    "temporal_order": "forecast.experiments.generators",
    "two_sequence": "forecast.experiments.generators",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'forecast.experiments' has no attribute {name!r}")
