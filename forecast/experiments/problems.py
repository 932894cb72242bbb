"""The long-time-lag problems of the 1997 LSTM paper, by name, with their criteria.

| name                  | experiment | inputs | outputs | tolerance | paper's LSTM needed |
|-----------------------|------------|--------|---------|-----------|---------------------|
| `two-sequence`        | 3a         | 1      | 1       | 0.2       |                     |
| `two-sequence-noisy`  | 3b         | 1      | 1       | 0.2       |                     |
| `adding`              | 4          | 2      | 1       | 0.04      | 74,000 (T = 100), 209,000 (T = 500) sequences |
| `multiplication`      | 5          | 2      | 1       | 0.04      |                     |
| `temporal-order`      | 6a         | 8      | 4       | 0.3       | 31,390 sequences    |
| `temporal-order-3`    | 6b         | 8      | 8       | 0.3       | 571,100 sequences   |

Every target lies in [0, 1], so every problem is read through sigmoid output
units, as in the paper.

Reference: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural
Computation 9(8), 1997, Section 5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from forecast.experiments import generators
from forecast.experiments.generators import SequenceBatch

DEFAULT_LENGTH = 100
PAPER_SEQUENCES = {
    ("adding", 100): 74_000,
    ("adding", 500): 209_000,
    ("temporal-order", None): 31_390,
    ("temporal-order-3", None): 571_100,
}


@dataclass(frozen=True)
class Problem:
    """One experiment: how to draw sequences and when a prediction counts as correct.

    Attributes:
        name: registry name, e.g. `"adding"`.
        experiment: the paper's experiment number, e.g. `"4"`.
        length: the minimal sequence length `T` (None for temporal order,
            whose lengths are fixed to [100, 110]).
        generate: `generate(n, rng) -> SequenceBatch` draws `n` fresh sequences.
        tolerance: a sequence is correct when every output's absolute error is below it.
        input_features: features per step.
        output_units: outputs read at the sequence end.
        paper_sequences: training sequences the paper's LSTM needed, where the
            paper reports a number for this problem and length, else None.
    """

    name: str
    experiment: str
    length: int | None
    generate: Callable[[int, np.random.Generator], SequenceBatch]
    tolerance: float
    input_features: int
    output_units: int
    paper_sequences: int | None

    @property
    def longest_length(self) -> int:
        """The longest sequence the generator draws: `T + T // 10`, or 110 for temporal order."""
        return generators.TEMPORAL_ORDER_LENGTHS[1] if self.length is None else self.length + self.length // 10


def available_problems() -> tuple[str, ...]:
    """Names accepted by `get_problem`."""
    return tuple(_BUILDERS)


def get_problem(name: str, length: int | None = None, informative_elements: int = 1) -> Problem:
    """The problem called `name` at minimal length `length` (default 100).

    Args:
        name: one of `available_problems()`.
        length: minimal sequence length `T`; must be None for the temporal
            order problems, whose lengths the paper fixes to [100, 110].
        informative_elements: `N` of the two-sequence problems (1 or 3 in the
            paper); must stay 1 for the other problems.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown problem {name!r}; expected one of {', '.join(_BUILDERS)}.")
    if name.startswith("temporal-order") and length is not None:
        raise ValueError(f"{name} has the paper's fixed lengths 100-110; found length={length} (leave it unset).")
    if not name.startswith("two-sequence") and informative_elements != 1:
        raise ValueError(
            f"informative_elements applies to the two-sequence problems only; found "
            f"informative_elements={informative_elements} for {name}."
        )
    if length is None and not name.startswith("temporal-order"):
        length = DEFAULT_LENGTH
    return _BUILDERS[name](length, informative_elements)


def _two_sequence(length, informative_elements, noisy):
    generate = partial(
        _with_length(generators.two_sequence, length),
        informative_elements=informative_elements,
        noisy_information=noisy,
    )
    name = "two-sequence-noisy" if noisy else "two-sequence"
    return Problem(name, "3b" if noisy else "3a", length, generate, 0.2, 1, 1, None)


def _adding(length, _informative_elements):
    generate = _with_length(generators.adding, length)
    return Problem("adding", "4", length, generate, 0.04, 2, 1, PAPER_SEQUENCES.get(("adding", length)))


def _multiplication(length, _informative_elements):
    generate = _with_length(generators.multiplication, length)
    return Problem("multiplication", "5", length, generate, 0.04, 2, 1, None)


def _temporal_order(name, experiment, positions):
    def build(_length, _informative_elements):
        generate = partial(_temporal_order_batch, relevant_positions=positions)
        symbols = len(generators.TEMPORAL_ORDER_SYMBOLS)
        return Problem(
            name, experiment, None, generate, 0.3, symbols, 2 ** len(positions), PAPER_SEQUENCES[(name, None)]
        )

    return build


def _temporal_order_batch(n, rng, relevant_positions):
    return generators.temporal_order(n, rng, relevant_positions=relevant_positions)


def _with_length(generator, length):
    def generate(n, rng, **options):
        return generator(n, length, rng, **options)

    return generate


_BUILDERS = {
    "two-sequence": partial(_two_sequence, noisy=False),
    "two-sequence-noisy": partial(_two_sequence, noisy=True),
    "adding": _adding,
    "multiplication": _multiplication,
    "temporal-order": _temporal_order("temporal-order", "6a", generators.TEMPORAL_ORDER_2_POSITIONS),
    "temporal-order-3": _temporal_order("temporal-order-3", "6b", generators.TEMPORAL_ORDER_3_POSITIONS),
}
