"""Choosing, per series, how much of the network's forecast to blend with exponential smoothing's.

The Forecaster forecasts every series twice: with its global network and with ETS fitted to the series' own
history (`forecast.exponential_smoothing`). A blend with weight `w` on the network,

```
y_hat(w) = w y_net + (1 - w) y_ets,        w in W = {0, 1/4, 1/2, 3/4, 1}
```

is scored on held-out windows the network was not trained on (rolling validation origins), each absolute error
divided by the series' MASE scale `s_i` (`forecast.metrics.positive_mase_scales`), so that series of any level
weigh alike:

```
L_i(w) = mean over the windows k of series i and steps t of |y_ikt - y_hat_ikt(w)| / s_i      (K_i windows)
L(w)   = mean over series of L_i(w)                                                            (the data set)
```

A series with one short validation window should not flip on noise, so its own evidence is shrunk towards the
data set's, in proportion to how many windows it has (the empirical-Bayes shrinkage of a mean towards the grand
mean; `PRIOR_WINDOWS` plays the prior's sample size). The held-out windows also flatter the network, so every
weight on it pays a penalty in proportion to the statistical forecast's loss before the choice:

```
L~_i(w) = (K_i L_i(w) + K_0 L(w)) / (K_i + K_0)
P_i(w)  = L~_i(w) + c w L~_i(0)                                              (c = NETWORK_OPTIMISM)
w_i     = 1/2                   if P_i(1/2) <= (1 + m) min_w P_i(w)          (m = EQUAL_WEIGHT_MARGIN)
        = argmin_w P_i(w)       otherwise
```

Equal weights are the prior: estimated combination weights are noisy and rarely beat the simple average out of
sample (the "forecast combination puzzle"; Smith & Wallis, Oxford Bulletin of Economics and Statistics 71(3),
2009), so a series leaves 1/2 only when another weight is better by the margin `m`. A series without a
validation window (too short) takes the data set's weight, the same rule applied to `L(w)`; so does a series the
model never saw. Without any validation window there is no evidence for the network at all, and the
conservative rule is ETS alone (`w = 0`), a model that needs no training windows (`no_evidence`).

Why the penalty: on the validation splits a blend did worse against the statistical forecast on the values
forecast than on the held-out windows, in proportion to its weight on the network. Part of that is known: the
seasonal indices that divide the network's inputs were fitted on the held-out values too, and from the later
origins the statistical forecast continues parameters fitted at the earliest one. Early stopping's choice of
epoch is not: windows it never saw showed the same gap. The rest comes with the forecast itself, which starts
`(K - 1) s + h` values after the network's training data (`forecast.holdout`), where held-out windows start
0 to `(K - 1) s` after it (docs/benchmarks/validation.md).

`K_0` and `m` were chosen on the validation parts of six M1/M3 sets and 20 single series (the last horizon of
each training part, never a test part; `python -m benchmarks.combination`, docs/benchmarks/validation.md):
the geometric-mean MASE ratio to AutoETS was 0.983 with `K_0 = 12, m = 2%`, against 0.990 for `K_0 = 4`
without the margin, 0.992 for one weight per data set and 1.005 for equal weights everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.columns import ID

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The weights on the network that are tried (0: ETS alone, 1: the network alone)."""
PRIOR_WINDOWS = 12.0
"""`K_0`: how many validation windows of its own a series needs for its evidence to weigh as much as the data
set's. With the default three windows (errors correlated along the horizon and between overlapping windows) a
series' own evidence has weight 1/5."""
EQUAL_WEIGHT_MARGIN = 0.02
"""`m`: how much better (as a share of the loss) another weight must be than equal weights to be chosen."""
NETWORK_OPTIMISM = 0.075
"""`c`: how much the held-out windows flatter the network, per unit of weight on it, as a share of the statistical
forecast's loss. On the validation splits of the seven M1/M3 collections (seeds 0 and 1: 14 fits; the last h
values of each training part, never a test part), a blend's MASE divided by the statistical forecast's exceeded
the same ratio on the fit's own held-out windows by about `c w`: a least-squares slope of 0.071 in the median fit
and 0.101 on average. Any `c` from 0.05 to 0.125 scored alike there (geometric-mean MASE ratio to the statistical
forecast 0.988-0.989, against 0.994 without the penalty; docs/benchmarks/validation.md)."""
EQUAL = WEIGHTS.index(0.5)
MIN_EVIDENCE_WINDOWS = 150
"""The fewest validation windows, over the whole data set, on which the network is judged at all. Early stopping
picks the network's epoch on the same windows, so on a few of them its validation loss flatters it. On random
panels of the validation parts of M1 and M3 (docs/benchmarks/validation.md; the shipped choice against ETS alone
from the same fit, geometric mean of MASE ratios over 42 panels per size) the network lost at 10 series (30
windows, 1.009), 16 (1.010) and 22 (66 windows, 1.014), was level at 40 (120 windows, 1.000), and won at 100
(300 windows, 0.990) and on the whole collections. Below this many windows the rule is ETS alone, and no network
is trained (`too_little_evidence`); a few long series earn the network's evidence with more origins
(`validation_windows`)."""
ABANDON_MARGIN = 0.10
"""The network is no longer trained once ETS alone beats every blend with the network by this share of its
loss on the validation windows (`Combination.ets_wins_by_margin`)."""


@dataclass(frozen=True)
class Evidence:
    """Scaled absolute errors of every candidate weight on the validation windows.

    Attributes:
        series_ids: the series, sorted.
        losses: `(n_series, len(WEIGHTS))` mean scaled absolute error `L_i(w)` (NaN without windows).
        windows: `(n_series,)` validation windows `K_i` of every series.
    """

    series_ids: np.ndarray
    losses: np.ndarray
    windows: np.ndarray

    @property
    def overall(self) -> np.ndarray:
        """`L(w)`: the mean over series with windows (NaN where no series has one)."""
        has = self.windows > 0
        if not has.any():
            return np.full(len(WEIGHTS), np.nan)
        return self.losses[has].mean(axis=0)


def evidence(
    network: np.ndarray, ets: np.ndarray, actual: np.ndarray, scales: np.ndarray, series: np.ndarray
) -> Evidence:
    """The loss of every weight per series from point forecasts of validation windows.

    Args:
        network, ets, actual: `(n_windows, horizon)` the network's point forecast (its median), ETS's, and
            what happened, in the series' units.
        scales: `(n_windows,)` the MASE scale of each window's series (positive).
        series: `(n_windows,)` each window's series id.
    """
    weights = np.asarray(WEIGHTS)[:, None, None]
    blends = weights * network[None] + (1.0 - weights) * ets[None]
    errors = np.abs(actual[None] - blends).mean(axis=2) / scales[None]  # (weights, windows)
    ids, codes = np.unique(np.asarray(series).astype(str), return_inverse=True)
    counts = np.bincount(codes, minlength=len(ids))
    totals = np.stack([np.bincount(codes, weights=row, minlength=len(ids)) for row in errors], axis=1)
    return Evidence(series_ids=ids, losses=totals / counts[:, None], windows=counts.astype(np.float64))


@dataclass(frozen=True)
class Combination:
    """The weight on the network of every series, chosen from validation evidence, and why.

    Attributes:
        weights: series id -> `w_i`.
        default_weight: the weight of a series without its own (unseen in fit, or without validation windows).
        rule: `"evidence"` (chosen on validation windows) or `"no evidence"` (no validation window: ETS alone).
        table: one row per series: `unique_id`, `windows` (`K_i`), `loss_ets`, `loss_network`,
            `loss_blend` (the loss at its chosen weight, shrunk), `weight` (for MLflow and the curious).
    """

    weights: dict[str, float]
    default_weight: float
    rule: str
    table: pd.DataFrame

    def weight_of(self, series_ids: Sequence) -> np.ndarray:
        """`w` for each of `series_ids` (the default weight for a series without its own)."""
        return np.array([self.weights.get(str(i), self.default_weight) for i in series_ids], dtype=np.float64)

    @property
    def uses_network(self) -> bool:
        """Whether any series (or an unseen one) gets part of its forecast from the network."""
        return self.default_weight > 0 or any(weight > 0 for weight in self.weights.values())

    def summary(self) -> str:
        """One line: how many series take each weight."""
        values = pd.Series(self.weights, dtype=np.float64)
        counts = values.value_counts().sort_index()
        parts = [f"{count} series w={weight:g}" for weight, count in counts.items()]
        return f"{self.rule}: {', '.join(parts) or 'no series'}; other series w={self.default_weight:g}"

    def get_config(self) -> dict:
        return {
            "weights": [[key, value] for key, value in self.weights.items()],
            "default_weight": self.default_weight,
            "rule": self.rule,
            "table": self.table.to_dict(orient="list"),
        }

    @classmethod
    def from_config(cls, config: dict) -> Combination:
        table = pd.DataFrame(config["table"])
        if ID in table.columns:
            table[ID] = table[ID].astype(str).astype(object)
        return cls(
            weights={str(key): float(value) for key, value in config["weights"]},
            default_weight=float(config["default_weight"]),
            rule=config["rule"],
            table=table,
        )

    @classmethod
    def fixed(cls, weight: float, series_ids: Sequence, rule: str) -> Combination:
        """The same weight for every series (`combine_with="ets"` is 1/2, `None` is 1)."""
        ids = [str(i) for i in series_ids]
        table = pd.DataFrame({ID: pd.Series(ids, dtype=object), "weight": np.full(len(ids), float(weight))})
        return cls(weights=dict.fromkeys(ids, float(weight)), default_weight=float(weight), rule=rule, table=table)


def choose(
    found: Evidence,
    all_series: Sequence,
    prior_windows: float = PRIOR_WINDOWS,
    equal_weight_margin: float = EQUAL_WEIGHT_MARGIN,
    network_optimism: float = NETWORK_OPTIMISM,
) -> Combination:
    """Every series' weight from the evidence, shrunk towards the data set's and with the network's share penalised
    (see the module docstring)."""
    overall = found.overall
    if np.isnan(overall).all():
        return no_evidence(all_series)
    k = found.windows[:, None]
    shrunk = (k * np.nan_to_num(found.losses, nan=0.0) + prior_windows * overall[None]) / (k + prior_windows)
    penalised = _penalised(shrunk, network_optimism)
    chosen = _equal_unless_beaten(penalised, equal_weight_margin)
    default = float(WEIGHTS[_equal_unless_beaten(_penalised(overall[None], network_optimism), equal_weight_margin)[0]])
    weights = {str(series): float(WEIGHTS[index]) for series, index in zip(found.series_ids, chosen)}
    for series in all_series:
        weights.setdefault(str(series), default)
    rows = np.arange(len(found.series_ids))
    table = pd.DataFrame(
        {
            ID: pd.Series(found.series_ids, dtype=object),
            "windows": found.windows.astype(int),
            "loss_ets": found.losses[:, 0],
            "loss_network": found.losses[:, -1],
            "loss_blend": shrunk[rows, chosen],
            "weight": np.asarray(WEIGHTS)[chosen],
        }
    )
    return Combination(weights=weights, default_weight=default, rule="evidence", table=table)


def _penalised(losses: np.ndarray, network_optimism: float) -> np.ndarray:
    """`P(w) = L(w) + c w L(0)` for every row of `(n, len(WEIGHTS))` losses."""
    return losses + network_optimism * np.asarray(WEIGHTS)[None] * losses[:, :1]


def _equal_unless_beaten(losses: np.ndarray, margin: float) -> np.ndarray:
    """Per row of `(n, len(WEIGHTS))` losses, the index of 1/2 unless the best weight (the first minimum: the
    smallest weight on the network among ties) beats it by `margin` of its loss."""
    best = np.argmin(losses, axis=1)
    rows = np.arange(len(losses))
    keep_equal = losses[:, EQUAL] <= (1.0 + margin) * losses[rows, best]
    return np.where(keep_equal, EQUAL, best)


def no_evidence(all_series: Sequence) -> Combination:
    """ETS alone for every series: nothing was held out on which the network could be judged."""
    return Combination.fixed(0.0, all_series, rule="no evidence")


def too_little_evidence(validation_windows: int) -> str | None:
    """Why `validation_windows` held-out windows are too few to judge the network (None: they are enough)."""
    if validation_windows >= MIN_EVIDENCE_WINDOWS:
        return None
    return (
        f"too little evidence: {validation_windows} validation windows, fewer than the {MIN_EVIDENCE_WINDOWS} "
        "the network is judged on (more series or a larger validation_windows give more)"
    )


def ets_wins_by_margin(found: Evidence, margin: float = ABANDON_MARGIN) -> bool:
    """Whether ETS alone beats every blend that uses the network by `margin` of its loss, over the data set."""
    overall = found.overall
    if np.isnan(overall).any():
        return False
    return bool(overall[0] * (1.0 + margin) < overall[1:].min())


def blend(outputs: np.ndarray, ets: np.ndarray, weights: np.ndarray, median_index: int | None) -> np.ndarray:
    """The blended forecast of every window: `w y_net + (1 - w) y_ets`, every quantile moved with the median.

    Args:
        outputs: `(n, horizon)` point forecasts or `(n, horizon, n_quantiles)` quantile forecasts of the
            network, in the series' units.
        ets: `(n, horizon)` ETS point forecasts.
        weights: `(n,)` the weight on the network of each window's series.
        median_index: the position of the median on the last axis of quantile `outputs` (None for points).

    ```
    q_hat = q_net + (1 - w) (y_ets - y_net)        for every quantile q, y_net the network's median
    ```
    """
    w = weights[:, None]
    if median_index is None:
        return w * outputs + (1.0 - w) * ets
    shift = (1.0 - w) * (ets - outputs[..., median_index])
    return outputs + shift[..., None]
