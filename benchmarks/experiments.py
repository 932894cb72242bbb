"""Benchmark: the 1997 LSTM experiments for every recurrent cell, beside the paper's numbers.

Runs the adding problem (experiment 4, T = 100) and temporal order 6a
(experiment 6a) for each cell with the same budget of fresh training
sequences, and prints one table row per run: solved or not (>= 95% of the
2,560 test sequences within the tolerance), training sequences used, test
accuracy, wrong test sequences, wall time, and the sequences the paper's LSTM
needed (74,000 for adding at T = 100, 31,390 for 6a). The paper stopped only
when the 2,000 most recent training sequences were all correct, a stricter
rule than the 95% target here; compare the wrong-sequence counts for that.

The table is printed (and written as markdown with `--markdown`) after every
run, so an interrupted benchmark still leaves the rows it finished.

```
python benchmarks/experiments.py
python benchmarks/experiments.py --problems adding --cells lstm elman --budget 100000 --markdown table.md
```

Reference: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural
Computation 9(8), 1997, Section 5.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from forecast.experiments.problems import available_problems
from forecast.experiments.runner import Checkpoint, ExperimentConfig, run_experiment
from layers import registry

DEFAULT_PROBLEMS = ("adding", "temporal-order")
DEFAULT_CELLS = ("lstm", "elman", "lstm1997", "gru", "peephole_lstm", "cifg_lstm", "irnn")
_COLUMNS = (
    ("problem", "Problem"),
    ("experiment", "Exp."),
    ("T", "T"),
    ("cell", "Cell"),
    ("solved", "Solved"),
    ("training_sequences", "Training sequences"),
    ("test_accuracy", "Test accuracy"),
    ("test_wrong", "Wrong / test"),
    ("test_mae", "Test MAE"),
    ("wall_time_s", "Wall time (s)"),
    ("paper_sequences", "Paper's LSTM (sequences)"),
)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; the defaults are the benchmark's settings."""
    defaults = ExperimentConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", choices=available_problems(), default=list(DEFAULT_PROBLEMS))
    parser.add_argument("--cells", nargs="+", choices=registry.available(), default=list(DEFAULT_CELLS))
    parser.add_argument("--length", type=int, default=100, help="T of the non-temporal-order problems.")
    parser.add_argument("--budget", type=int, default=defaults.budget, help="Training sequences per run.")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--units", type=int, default=defaults.units)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--clipnorm", type=float, default=defaults.clipnorm)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--test-size", type=int, default=defaults.test_size)
    parser.add_argument("--validation-size", type=int, default=defaults.validation_size)
    parser.add_argument("--check-every", type=int, default=defaults.check_every)
    parser.add_argument("--target-accuracy", type=float, default=defaults.target_accuracy)
    parser.add_argument("--markdown", type=Path, default=None, help="Also write the table to this file.")
    parser.add_argument(
        "--no-chrono", action="store_true", help="Keep the default gate biases of the forget-gate LSTM and GRU cells."
    )
    parser.add_argument("--tracking", action="store_true", help="Log every run to MLflow.")
    return parser.parse_args(argv)


def markdown_table(rows: Sequence[dict[str, object]]) -> str:
    """Rows of `ExperimentResult.summary()` as a markdown table."""
    lines = [
        "| " + " | ".join(title for _, title in _COLUMNS) + " |",
        "|" + "|".join("---" for _ in _COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_format(key, row[key]) for key, _ in _COLUMNS) + " |")
    return "\n".join(lines)


def _format(key: str, value: object) -> str:
    if value is None:
        return "-"
    if key == "solved":
        return "yes" if value else "no"
    if key in ("training_sequences", "paper_sequences"):
        return f"{value:,}"
    if key == "test_accuracy":
        return f"{value:.2%}"
    if key == "test_mae":
        return f"{value:.4f}"
    if key == "wall_time_s":
        return f"{value:.0f}"
    return str(value)


def _settings(arguments: argparse.Namespace) -> str:
    return (
        f"Budget {arguments.budget:,} training sequences per run; batch {arguments.batch_size}, "
        f"{arguments.units} units, Adam learning rate {arguments.learning_rate}, "
        f"clipnorm {arguments.clipnorm}, seed {arguments.seed}; solved = at least "
        f"{arguments.target_accuracy:.0%} of {arguments.test_size:,} test sequences within the paper's "
        f"tolerance (adding 0.04, temporal order 0.3), checked every {arguments.check_every:,} sequences "
        f"on {arguments.validation_size:,} validation sequences."
    )


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(text)
    os.replace(handle.name, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every problem for every cell and print the growing table."""
    arguments = parse_arguments(argv)
    rows: list[dict[str, object]] = []
    # Cell by cell, so an interrupted benchmark has compared whole cells.
    for cell in arguments.cells:
        for problem in arguments.problems:
            config = ExperimentConfig(
                problem=problem,
                cell=cell,
                length=None if problem.startswith("temporal-order") else arguments.length,
                budget=arguments.budget,
                batch_size=arguments.batch_size,
                units=arguments.units,
                learning_rate=arguments.learning_rate,
                chrono=not arguments.no_chrono,
                clipnorm=arguments.clipnorm,
                seed=arguments.seed,
                test_size=arguments.test_size,
                validation_size=arguments.validation_size,
                check_every=arguments.check_every,
                target_accuracy=arguments.target_accuracy,
            )
            print(f"== {problem} / {cell}", flush=True)
            result = run_experiment(config, tracking=arguments.tracking, progress=_print_checkpoint)
            rows.append(result.summary())
            rows.sort(key=lambda row: (arguments.problems.index(row["problem"]), arguments.cells.index(row["cell"])))
            table = f"{_settings(arguments)}\n\n{markdown_table(rows)}\n"
            print(table, flush=True)
            if arguments.markdown is not None:
                _write_atomically(arguments.markdown, table)
    return 0


def _print_checkpoint(checkpoint: Checkpoint) -> None:
    print(
        f"  {checkpoint.training_sequences:>9,} sequences  loss {checkpoint.training_loss:.5f}  "
        f"validation accuracy {checkpoint.validation_accuracy:.4f}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
