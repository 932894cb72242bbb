"""Seeded data generators for the long-time-lag experiments of the 1997 LSTM paper.

Every generator draws `n` fresh sequences from a `numpy.random.Generator` and
returns a `SequenceBatch`: the sequences padded with zeros to the longest one,
their true lengths, and the target read at each sequence's last real step.

Reference: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural
Computation 9(8):1735-1780, 1997, Section 5 (experiments 3-6); the
two-sequence problem is from Bengio, Simard & Frasconi, "Learning long-term
dependencies with gradient descent is difficult", IEEE TNN 5(2), 1994.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.checks import check_integer

NOISE_VARIANCE = 0.2
TEMPORAL_ORDER_SYMBOLS = ("E", "B", "a", "b", "c", "d", "X", "Y")
TEMPORAL_ORDER_LENGTHS = (100, 110)
TEMPORAL_ORDER_2_POSITIONS = ((10, 20), (50, 60))
TEMPORAL_ORDER_3_POSITIONS = ((10, 20), (33, 43), (66, 76))
ADDING_FIRST_MARK_WINDOW = 10
MINIMUM_MARKED_PAIRS_LENGTH = 12

_START, _TRIGGER = 0, 1
_DISTRACTORS = np.arange(2, 6)
_X, _Y = 6, 7


@dataclass(frozen=True)
class SequenceBatch:
    """Variable-length sequences padded with zeros, with one target per sequence.

    Attributes:
        inputs: float32 array `(n, max_length, features)`; steps at and after
            a sequence's length are zero.
        lengths: int64 array `(n,)`, each sequence's number of real steps.
        targets: float32 array `(n, outputs)`, the target at the last real step.
    """

    inputs: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """Boolean array `(n, max_length)`: True on real steps, False on padding."""
        return np.arange(self.inputs.shape[1]) < self.lengths[:, None]

    def __len__(self) -> int:
        return int(self.lengths.shape[0])


def sequence_lengths(n: int, minimum_length: int, rng: np.random.Generator) -> np.ndarray:
    """Lengths drawn uniformly from the integers in `[T, T + T // 10]` (both ends included)."""
    check_integer("n", n)
    return rng.integers(minimum_length, minimum_length + minimum_length // 10, size=n, endpoint=True)


def two_sequence(
    n: int,
    length: int,
    rng: np.random.Generator,
    informative_elements: int = 1,
    noisy_information: bool = False,
) -> SequenceBatch:
    """Two-sequence problem (experiments 3a and 3b, after Bengio et al. 1994).

    ```
    class 1 or 2, each with probability 0.5
    x_t = +1.0 (class 1) or -1.0 (class 2)        for t < N   (+ noise in 3b)
    x_t ~ Normal(mean 0, variance 0.2)            for t >= N
    target = 1.0 (class 1) or 0.0 (class 2), at the sequence end
    length uniform in [T, T + T/10]
    ```

    Args:
        n: number of sequences.
        length: the minimal sequence length `T`.
        rng: source of randomness.
        informative_elements: `N`, how many leading elements carry the class
            (1 or 3 in the paper).
        noisy_information: experiment 3b: add the same Gaussian noise to the
            informative elements too.
    """
    check_integer("informative_elements", informative_elements)
    if length <= informative_elements:
        raise ValueError(
            f"two_sequence needs length > informative_elements; found length={length}, "
            f"informative_elements={informative_elements}."
        )
    lengths = sequence_lengths(n, length, rng)
    is_first_class = rng.random(n) < 0.5
    noise = rng.normal(0.0, np.sqrt(NOISE_VARIANCE), size=(n, int(lengths.max())))
    sign = np.where(is_first_class, 1.0, -1.0)[:, None]
    informative = noise[:, :informative_elements] if noisy_information else 0.0
    values = noise.copy()
    values[:, :informative_elements] = sign + informative
    inputs = _zero_padding(values, lengths)[:, :, None]
    targets = is_first_class.astype("float32")[:, None]
    return SequenceBatch(inputs.astype("float32"), lengths, targets)


def adding(n: int, length: int, rng: np.random.Generator) -> SequenceBatch:
    """Adding problem (experiment 4): output the scaled sum of two marked values.

    ```
    pair_t = (value_t ~ Uniform[-1, 1], marker_t)
    X1: one of the first 10 pairs; X2: one of the first T/2 - 1 still unmarked pairs
    marker = 1.0 on X1 and X2, -1.0 on the first and last pair otherwise, 0.0 elsewhere
    if the first pair is marked its value is 0 (so X1 = 0 in the paper's case)
    target = 0.5 + (X1 + X2) / 4
    length uniform in [T, T + T/10]
    ```

    X2 can land on the first pair when X1 is elsewhere; that pair then gets
    the same rule, so the target is always the function of the two marked
    values in the input.
    """
    values, markers, first_value, second_value, lengths = _marked_pairs(
        n, length, rng, low=-1.0, high=1.0, first_pair_value=0.0
    )
    targets = 0.5 + (first_value + second_value) / 4.0
    return _pairs_batch(values, markers, lengths, targets)


def multiplication(n: int, length: int, rng: np.random.Generator) -> SequenceBatch:
    """Multiplication problem (experiment 5): output the product of two marked values.

    ```
    as `adding`, but value_t ~ Uniform[0, 1], a marked first pair has value 1.0
    (so X1 = 1.0 in the paper's case), and target = X1 * X2
    ```
    """
    values, markers, first_value, second_value, lengths = _marked_pairs(
        n, length, rng, low=0.0, high=1.0, first_pair_value=1.0
    )
    return _pairs_batch(values, markers, lengths, first_value * second_value)


def temporal_order(
    n: int,
    rng: np.random.Generator,
    relevant_positions: tuple[tuple[int, int], ...] = TEMPORAL_ORDER_2_POSITIONS,
) -> SequenceBatch:
    """Temporal order problem (experiments 6a and 6b): classify the order of X and Y.

    ```
    symbols (one-hot, 8 inputs): E, B, a, b, c, d, X, Y
    sequence: E at step 0, B at the last step, a/b/c/d at random elsewhere,
              except X or Y at t_k ~ Uniform{lo_k..hi_k} for each relevant window k
    length uniform in [100, 110]
    6a: windows [10, 20], [50, 60]; classes XX -> Q, XY -> R, YX -> S, YY -> U
    6b: windows [10, 20], [33, 43], [66, 76]; eight classes XXX -> 0, ..., YYY -> 7
    class index = the X/Y choices read as a binary number (X = 0, Y = 1, first most significant)
    target: one-hot class (4 or 8 outputs) at the sequence end
    ```

    Steps are counted from 0 (the E).
    """
    check_integer("n", n)
    _check_windows(relevant_positions)
    lengths = rng.integers(TEMPORAL_ORDER_LENGTHS[0], TEMPORAL_ORDER_LENGTHS[1], size=n, endpoint=True)
    max_length = int(lengths.max())
    rows = np.arange(n)
    symbols = rng.choice(_DISTRACTORS, size=(n, max_length))
    symbols[:, 0] = _START
    symbols[rows, lengths - 1] = _TRIGGER
    is_y = rng.random((n, len(relevant_positions))) < 0.5
    for window, (low, high) in enumerate(relevant_positions):
        positions = rng.integers(low, high, size=n, endpoint=True)
        symbols[rows, positions] = np.where(is_y[:, window], _Y, _X)
    inputs = np.eye(len(TEMPORAL_ORDER_SYMBOLS), dtype="float32")[symbols]
    inputs = _zero_padding(inputs, lengths)
    place_values = 2 ** np.arange(len(relevant_positions) - 1, -1, -1)
    classes = is_y.astype("int64") @ place_values
    targets = np.eye(2 ** len(relevant_positions), dtype="float32")[classes]
    return SequenceBatch(inputs, lengths, targets)


def _marked_pairs(n, length, rng, low, high, first_pair_value):
    if length < MINIMUM_MARKED_PAIRS_LENGTH:
        raise ValueError(
            f"the adding and multiplication problems need length >= "
            f"{MINIMUM_MARKED_PAIRS_LENGTH} so both marks come before the last pair; "
            f"found length={length}."
        )
    lengths = sequence_lengths(n, length, rng)
    rows = np.arange(n)
    values = rng.uniform(low, high, size=(n, int(lengths.max())))
    first = rng.integers(0, ADDING_FIRST_MARK_WINDOW, size=n)
    # The r-th still unmarked pair among the first T/2 - 1 ones skips X1's pair.
    rank = rng.integers(0, length // 2 - 1, size=n)
    second = rank + (rank >= first)
    markers = np.zeros_like(values)
    markers[:, 0] = -1.0
    markers[rows, lengths - 1] = -1.0
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    values[:, 0] = np.where(markers[:, 0] == 1.0, first_pair_value, values[:, 0])
    return values, markers, values[rows, first], values[rows, second], lengths


def _pairs_batch(values, markers, lengths, targets):
    inputs = _zero_padding(np.stack([values, markers], axis=-1), lengths)
    return SequenceBatch(inputs.astype("float32"), lengths, targets.astype("float32")[:, None])


def _zero_padding(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    is_real = np.arange(values.shape[1]) < lengths[:, None]
    if values.ndim == 3:
        is_real = is_real[:, :, None]
    return np.where(is_real, values, 0.0).astype("float32")


def _check_windows(relevant_positions) -> None:
    if not relevant_positions:
        raise ValueError("temporal_order needs at least one relevant window; found none.")
    previous_high = 0
    for low, high in relevant_positions:
        if not previous_high < low <= high < TEMPORAL_ORDER_LENGTHS[0] - 1:
            raise ValueError(
                "relevant windows (low, high) must be ordered, disjoint and satisfy "
                f"0 < low <= high < {TEMPORAL_ORDER_LENGTHS[0] - 1} so they miss the E and "
                f"B symbols; found {tuple(relevant_positions)}."
            )
        previous_high = high
