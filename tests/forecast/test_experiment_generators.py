"""Generators, criteria and problem registry of the 1997 LSTM experiments.

Every property is re-derived from the generated inputs with plain NumPy,
following the rules of Hochreiter & Schmidhuber (1997), Section 5.
"""

import numpy as np
import pytest

from forecast.experiments import generators
from forecast.experiments.criteria import accuracy, sequences_correct
from forecast.experiments.problems import available_problems, get_problem

N = 2000


def rng(seed=0):
    return np.random.default_rng(seed)


def real_steps(batch):
    return np.arange(batch.inputs.shape[1]) < batch.lengths[:, None]


@pytest.mark.parametrize(
    "make, features",
    [
        (lambda n, r: generators.two_sequence(n, 100, r), 1),
        (lambda n, r: generators.adding(n, 100, r), 2),
        (lambda n, r: generators.multiplication(n, 100, r), 2),
    ],
)
def test_lengths_are_uniform_between_T_and_T_plus_a_tenth_and_padding_is_zero(make, features):
    batch = make(N, rng())
    assert batch.inputs.dtype == np.float32 and batch.targets.dtype == np.float32
    assert batch.inputs.shape == (N, batch.lengths.max(), features)
    assert batch.targets.shape == (N, 1)
    assert set(np.unique(batch.lengths)) == set(range(100, 111))
    assert np.all(batch.inputs[~real_steps(batch)] == 0.0)
    np.testing.assert_array_equal(batch.mask, real_steps(batch))
    assert len(batch) == N


def test_same_seed_same_sequences_other_seed_other_sequences():
    first, again, other = (generators.adding(50, 100, rng(seed)) for seed in (3, 3, 4))
    np.testing.assert_array_equal(first.inputs, again.inputs)
    np.testing.assert_array_equal(first.targets, again.targets)
    assert first.inputs.shape != other.inputs.shape or not np.array_equal(first.inputs, other.inputs)


@pytest.mark.parametrize("informative_elements", [1, 3])
def test_two_sequence_class_is_in_the_first_elements_and_noise_has_variance_0_2(informative_elements):
    batch = generators.two_sequence(N, 100, rng(1), informative_elements=informative_elements)
    values = batch.inputs[:, :, 0]
    is_first_class = batch.targets[:, 0] == 1.0
    assert set(np.unique(batch.targets)) == {0.0, 1.0}
    assert abs(is_first_class.mean() - 0.5) < 0.04
    expected_head = np.where(is_first_class, 1.0, -1.0)[:, None]
    np.testing.assert_array_equal(
        values[:, :informative_elements], np.broadcast_to(expected_head, (N, informative_elements))
    )
    noise = values[:, informative_elements:][real_steps(batch)[:, informative_elements:]]
    assert abs(noise.mean()) < 0.01
    assert abs(noise.var() - 0.2) < 0.01


def test_two_sequence_noisy_adds_the_same_noise_to_the_informative_elements():
    batch = generators.two_sequence(N, 100, rng(2), informative_elements=3, noisy_information=True)
    sign = np.where(batch.targets[:, 0] == 1.0, 1.0, -1.0)[:, None]
    head_noise = batch.inputs[:, :3, 0] - sign
    assert abs(head_noise.mean()) < 0.03
    assert abs(head_noise.var() - 0.2) < 0.02


def marked_positions(batch):
    markers = batch.inputs[:, :, 1]
    rows, columns = np.nonzero(markers == 1.0)
    assert np.all(np.bincount(rows, minlength=len(batch)) == 2), "exactly two marked pairs per sequence"
    return markers, columns.reshape(-1, 2)


@pytest.mark.parametrize("length", [100, 30])
def test_adding_marker_rules(length):
    batch = generators.adding(N, length, rng(5))
    markers, positions = marked_positions(batch)
    values = batch.inputs[:, :, 0]
    first_pair_marked = markers[:, 0] == 1.0
    # One mark among the first 10 pairs, the other among the first T/2 - 1 unmarked
    # pairs, i.e. in [0, T/2 - 1] (one place further when the first mark is below it).
    assert np.all(positions[:, 0] < 10)
    assert np.all(positions[:, 1] <= length // 2 - 1)
    assert positions[:, 1].max() == length // 2 - 1
    last = batch.lengths - 1
    rows = np.arange(N)
    assert np.all(markers[rows, last] == -1.0)
    np.testing.assert_array_equal(markers[:, 0] == -1.0, ~first_pair_marked)
    others = real_steps(batch).copy()
    others[:, 0] = False
    others[rows, last] = False
    others[rows[:, None], positions] = False
    assert np.all(markers[others] == 0.0)
    real_values = values[real_steps(batch)]
    assert real_values.min() >= -1.0 and real_values.max() <= 1.0
    assert real_values.min() < -0.99 and real_values.max() > 0.99


def test_adding_first_pair_marked_has_value_zero_and_target_is_the_scaled_sum():
    batch = generators.adding(N, 100, rng(6))
    markers = batch.inputs[:, :, 1]
    values = batch.inputs[:, :, 0]
    first_pair_marked = markers[:, 0] == 1.0
    assert 100 < first_pair_marked.sum() < 300  # about 1/10 + 9/10 * 1/49 of 2000
    assert np.all(values[first_pair_marked, 0] == 0.0)
    assert np.all(values[~first_pair_marked, 0] != 0.0)
    marked_sum = np.where(markers == 1.0, values, 0.0).sum(axis=1)
    np.testing.assert_allclose(batch.targets[:, 0], 0.5 + marked_sum / 4.0, atol=1e-6)
    assert batch.targets.min() >= 0.0 and batch.targets.max() <= 1.0


def test_multiplication_values_in_unit_interval_first_pair_one_and_target_is_the_product():
    batch = generators.multiplication(N, 100, rng(7))
    markers, _ = marked_positions(batch)
    values = batch.inputs[:, :, 0]
    real_values = values[real_steps(batch)]
    assert real_values.min() >= 0.0 and real_values.max() <= 1.0
    first_pair_marked = markers[:, 0] == 1.0
    assert first_pair_marked.any()
    assert np.all(values[first_pair_marked, 0] == 1.0)
    marked_product = np.where(markers == 1.0, values, 1.0).prod(axis=1)
    np.testing.assert_allclose(batch.targets[:, 0], marked_product, atol=1e-6)


def test_marked_pairs_reject_a_length_too_short_for_both_marks():
    with pytest.raises(ValueError, match="length >= 12.*found length=8"):
        generators.adding(4, 8, rng())


def decode_temporal_order(batch, windows):
    """Class index read back from the symbols: X = 0, Y = 1, first window most significant."""
    symbols = batch.inputs.argmax(axis=2)
    x, y = generators.TEMPORAL_ORDER_SYMBOLS.index("X"), generators.TEMPORAL_ORDER_SYMBOLS.index("Y")
    rows, columns = np.nonzero((symbols == x) | (symbols == y))
    assert np.all(np.bincount(rows, minlength=len(batch)) == len(windows)), "one X or Y per window, nowhere else"
    columns = columns.reshape(len(batch), len(windows))
    for k, (low, high) in enumerate(windows):
        assert columns[:, k].min() == low and columns[:, k].max() == high
    is_y = symbols[np.arange(len(batch))[:, None], columns] == y
    classes = np.zeros(len(batch), dtype=int)
    for k in range(len(windows)):
        classes = classes * 2 + is_y[:, k]
    return symbols, classes


@pytest.mark.parametrize(
    "windows, classes",
    [(generators.TEMPORAL_ORDER_2_POSITIONS, 4), (generators.TEMPORAL_ORDER_3_POSITIONS, 8)],
)
def test_temporal_order_symbols_positions_and_classes(windows, classes):
    batch = generators.temporal_order(N, rng(8), relevant_positions=windows)
    assert batch.inputs.shape == (N, batch.lengths.max(), 8)
    assert set(np.unique(batch.lengths)) == set(range(100, 111))
    np.testing.assert_array_equal(batch.inputs.sum(axis=2), real_steps(batch).astype("float32"))
    symbols, decoded = decode_temporal_order(batch, windows)
    names = np.array(generators.TEMPORAL_ORDER_SYMBOLS)[symbols]
    rows = np.arange(N)
    assert np.all(names[:, 0] == "E")
    assert np.all(names[rows, batch.lengths - 1] == "B")
    inner = real_steps(batch).copy()
    inner[:, 0] = False
    inner[rows, batch.lengths - 1] = False
    assert set(np.unique(names[inner])) == {"a", "b", "c", "d", "X", "Y"}
    assert batch.targets.shape == (N, classes)
    np.testing.assert_array_equal(batch.targets.sum(axis=1), np.ones(N))
    np.testing.assert_array_equal(batch.targets.argmax(axis=1), decoded)
    counts = np.bincount(decoded, minlength=classes)
    assert np.all(np.abs(counts / N - 1 / classes) < 0.04)


def test_temporal_order_xy_order_maps_to_the_paper_classes():
    batch = generators.temporal_order(400, rng(9))
    symbols = np.array(generators.TEMPORAL_ORDER_SYMBOLS)[batch.inputs.argmax(axis=2)]
    first = symbols[:, 10:21][np.isin(symbols[:, 10:21], ["X", "Y"])]
    second = symbols[:, 50:61][np.isin(symbols[:, 50:61], ["X", "Y"])]
    paper_classes = {("X", "X"): "Q", ("X", "Y"): "R", ("Y", "X"): "S", ("Y", "Y"): "U"}
    expected = [paper_classes[pair] for pair in zip(first, second)]
    found = np.array(["Q", "R", "S", "U"])[batch.targets.argmax(axis=1)]
    np.testing.assert_array_equal(found, expected)


def test_temporal_order_rejects_overlapping_windows():
    with pytest.raises(ValueError, match="ordered, disjoint"):
        generators.temporal_order(4, rng(), relevant_positions=((10, 20), (15, 30)))


def test_sequences_correct_needs_every_output_strictly_within_tolerance():
    targets = np.array([[0.5], [0.5], [0.5], [0.5]])
    predictions = np.array([[0.53], [0.55], [0.46], [0.75]])
    np.testing.assert_array_equal(sequences_correct(targets, predictions, 0.04), [True, False, True, False])
    # exactly at the tolerance (0.25 is exact in binary) is not below it
    assert not sequences_correct(np.array([0.5]), np.array([0.75]), 0.25)[0]
    one_hot = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]])
    outputs = np.array([[0.8, 0.1, 0.2, 0.0], [0.31, 0.9, 0.0, 0.0], [0.0, 0.0, 0.69, 0.0]])
    np.testing.assert_array_equal(sequences_correct(one_hot, outputs, 0.3), [True, False, False])
    assert accuracy(one_hot, outputs, 0.3) == pytest.approx(1 / 3)
    assert accuracy(targets[:, 0], predictions[:, 0], 0.04) == 0.5


def test_sequences_correct_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"same shape.*\(3, 1\) and \(2, 1\)"):
        sequences_correct(np.zeros(3), np.zeros(2), 0.1)


def test_problem_registry_binds_generators_criteria_and_paper_numbers():
    assert available_problems() == (
        "two-sequence",
        "two-sequence-noisy",
        "adding",
        "multiplication",
        "temporal-order",
        "temporal-order-3",
    )
    expected = {
        "two-sequence": ("3a", 0.2, 1, 1),
        "two-sequence-noisy": ("3b", 0.2, 1, 1),
        "adding": ("4", 0.04, 2, 1),
        "multiplication": ("5", 0.04, 2, 1),
        "temporal-order": ("6a", 0.3, 8, 4),
        "temporal-order-3": ("6b", 0.3, 8, 8),
    }
    for name, (experiment, tolerance, features, outputs) in expected.items():
        problem = get_problem(name)
        batch = problem.generate(8, rng())
        assert (problem.experiment, problem.tolerance, problem.input_features, problem.output_units) == (
            experiment,
            tolerance,
            features,
            outputs,
        )
        assert batch.inputs.shape[2] == features and batch.targets.shape == (8, outputs)
    assert get_problem("adding").paper_sequences == 74_000
    assert get_problem("adding", length=500).paper_sequences == 209_000
    assert get_problem("adding", length=200).paper_sequences is None
    assert get_problem("temporal-order").paper_sequences == 31_390
    assert get_problem("temporal-order-3").paper_sequences == 571_100
    assert get_problem("adding", length=40).generate(20, rng()).lengths.min() >= 40
    assert (
        get_problem("two-sequence", informative_elements=3).generate(5, rng()).inputs[:, :3, 0].std(axis=1).max() == 0
    )


def test_problem_registry_errors_name_what_was_expected():
    with pytest.raises(ValueError, match="unknown problem 'adder'; expected one of two-sequence"):
        get_problem("adder")
    with pytest.raises(ValueError, match="fixed lengths 100-110; found length=50"):
        get_problem("temporal-order", length=50)
    with pytest.raises(ValueError, match="informative_elements=3 for adding"):
        get_problem("adding", informative_elements=3)
