"""The choice between the network, ETS and their blends: hand-computed evidence, shrinkage and the blend."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecast import combination
from forecast.combination import WEIGHTS, Combination, blend, choose, ets_wins_by_margin, evidence


def test_evidence_is_the_mean_scaled_absolute_error_of_every_blend_per_series():
    # Series "a": two windows of two steps; "b": one window. Network, ETS and actuals chosen by hand.
    network = np.array([[10.0, 10.0], [12.0, 12.0], [0.0, 4.0]])
    ets = np.array([[14.0, 14.0], [8.0, 8.0], [4.0, 0.0]])
    actual = np.array([[11.0, 13.0], [10.0, 10.0], [2.0, 2.0]])
    scales = np.array([2.0, 2.0, 1.0])
    found = evidence(network, ets, actual, scales, np.array(["a", "a", "b"]))
    assert list(found.series_ids) == ["a", "b"] and list(found.windows) == [2, 1]
    # w = 1/2: "a" forecasts 12, 12 and 10, 10 -> errors (1 + 1) / 2 / 2 = 0.5 and 0 -> 0.25; "b": 2, 2 -> 0.
    half = WEIGHTS.index(0.5)
    assert found.losses[0, half] == pytest.approx(0.25) and found.losses[1, half] == pytest.approx(0.0)
    # w = 0 (ETS): "a" errors |11-14|, |13-14| -> 2/2 = 1; |10-8| twice -> 2/2 = 1; mean 1. "b": 2 -> 2.
    assert found.losses[:, 0] == pytest.approx([1.0, 2.0])
    # w = 1 (network): "a" (1 + 3) / 2 / 2 = 1, 2 / 2 = 1 -> 1; "b": (2 + 2) / 2 = 2.
    assert found.losses[:, -1] == pytest.approx([1.0, 2.0])
    assert found.overall[half] == pytest.approx(0.125)


def make_evidence(losses: dict[str, list[float]], windows: dict[str, int]) -> combination.Evidence:
    ids = sorted(losses)
    return combination.Evidence(
        series_ids=np.array(ids),
        losses=np.array([losses[i] for i in ids], dtype=float),
        windows=np.array([windows[i] for i in ids], dtype=float),
    )


def test_a_series_with_many_windows_follows_its_own_evidence_and_one_with_one_window_the_data_set():
    # Across the data set the network alone is best; "etsy" has 40 windows where ETS is clearly best;
    # "noisy" has one window where ETS is slightly best.
    found = make_evidence(
        {
            "etsy": [0.5, 0.7, 0.9, 1.1, 1.3],
            "noisy": [0.95, 0.97, 0.99, 1.0, 1.0],
            **{f"s{k}": [2.0, 1.6, 1.3, 1.1, 1.0] for k in range(8)},
        },
        {"etsy": 40, "noisy": 1, **{f"s{k}": 3 for k in range(8)}},
    )
    chosen = choose(found, all_series=[*found.series_ids, "unseen"])
    assert chosen.weights["etsy"] == 0.0
    assert chosen.weights["noisy"] == 1.0  # (1 * 0.95 + 12 * L(0)) / 13 loses to the shrunk network loss
    assert chosen.weights["unseen"] == chosen.default_weight == 1.0
    # The shrunk loss, by hand, for "noisy" at w = 1: (1 * 1.0 + 12 * overall[4]) / 13.
    overall = found.overall
    row = chosen.table.set_index("unique_id").loc["noisy"]
    assert row["loss_blend"] == pytest.approx((1.0 + 12 * overall[4]) / 13)
    assert chosen.rule == "evidence" and chosen.uses_network


def test_without_any_validation_window_the_rule_is_ets_alone():
    found = make_evidence({"a": [np.nan] * 5}, {"a": 0})
    chosen = choose(found, all_series=["a", "b"])
    assert chosen.rule == "no evidence" and chosen.weight_of(["a", "b", "new"]).tolist() == [0.0, 0.0, 0.0]
    assert not chosen.uses_network


def test_equal_weights_stay_unless_another_weight_beats_them_by_the_margin():
    # One series: its shrunk loss is its own loss (the data set's is the same). Within 2% of the best, 1/2 stays.
    # Without the penalty on the network's share, so that the margin alone decides.
    def weight(losses):
        found = make_evidence({"a": losses}, {"a": 3})
        return choose(found, all_series=["a"], network_optimism=0.0).weights["a"]

    assert weight([1.0, 1.0, 1.0, 1.0, 1.0]) == 0.5
    assert weight([1.0, 1.0, 1.019, 1.0, 1.0]) == 0.5  # 1.019 <= 1.02 * 1.0
    assert weight([1.1, 1.0, 1.021, 0.99, 1.0]) == 0.75  # 1.021 > 1.02 * 0.99
    assert weight([1.0, 1.0, 1.03, 1.0, 1.0]) == 0.0  # a tie among the others: the smaller weight on the network


def test_every_weight_on_the_network_pays_the_optimism_penalty_before_the_choice():
    # P(w) = L(w) + c w L(0) with c = 0.075, by hand, for one series (its own loss is the data set's).
    def weight(losses):
        return choose(make_evidence({"a": losses}, {"a": 3}), all_series=["a"]).weights["a"]

    assert combination.NETWORK_OPTIMISM == 0.075
    # L = 1, .96, .93, .91, .90 -> P = 1, .97875, .9675, .96625, .975: 3/4 is best, 1/2 within 2% of it stays
    # (without the penalty the network alone wins: .93 > 1.02 * .90).
    assert weight([1.0, 0.96, 0.93, 0.91, 0.90]) == 0.5
    assert choose(make_evidence({"a": [1.0, 0.96, 0.93, 0.91, 0.90]}, {"a": 3}), ["a"], network_optimism=0.0).weights[
        "a"
    ] == pytest.approx(1.0)
    # L = 1, .99, .985, .99, 1 -> P = 1, 1.00875, 1.0225, 1.04625, 1.075: ETS alone, 1/2 is 2.25% behind.
    assert weight([1.0, 0.99, 0.985, 0.99, 1.0]) == 0.0
    # A network far ahead keeps its whole weight: P = 2, 1.6375, 1.275, .9125, .55.
    assert weight([2.0, 1.6, 1.2, 0.8, 0.4]) == 1.0


def test_ets_wins_by_a_margin_only_when_every_blend_with_the_network_is_worse_by_it():
    assert ets_wins_by_margin(make_evidence({"a": [1.0, 1.2, 1.3, 1.4, 1.5]}, {"a": 3}))
    assert not ets_wins_by_margin(make_evidence({"a": [1.0, 1.05, 1.3, 1.4, 1.5]}, {"a": 3}))
    assert not ets_wins_by_margin(make_evidence({"a": [np.nan] * 5}, {"a": 0}))


def test_blend_moves_every_quantile_with_the_median():
    outputs = np.array([[[8.0, 10.0, 13.0]]])  # one window, one step, quantiles q10, q50, q90
    ets = np.array([[14.0]])
    blended = blend(outputs, ets, np.array([0.25]), median_index=1)
    # median: 0.25 * 10 + 0.75 * 14 = 13; every quantile moves by +3.
    np.testing.assert_allclose(blended, [[[11.0, 13.0, 16.0]]])
    np.testing.assert_allclose(blend(outputs[..., 1], ets, np.array([0.25]), median_index=None), [[13.0]])


def test_a_combination_round_trips_through_json():
    found = make_evidence({"a": [0.5, 0.6, 0.7, 0.8, 0.9], "b": [2.0, 1.0, 1.5, 1.7, 1.9]}, {"a": 2, "b": 3})
    chosen = choose(found, all_series=["a", "b"])
    again = Combination.from_config(json.loads(json.dumps(chosen.get_config())))
    assert again.weights == chosen.weights and again.default_weight == chosen.default_weight
    pd.testing.assert_frame_equal(again.table, chosen.table, check_dtype=False)
