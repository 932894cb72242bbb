"""Which combination rule? The rules of `combine_with="auto"` replayed on validation splits, against AutoETS.

Protocol (nothing is chosen on a test part): for each set, `Forecaster(lookback, horizon, seed)` is fitted once
on the validation split of `benchmarks.accuracy` (each training part without its last h values) and forecasts
those h values three times: with the weights it chose (the shipped rule), with ETS alone (weight 0) and with the
network alone (weight 1). Every other rule blends the last two with the weights it would have chosen from the
same validation evidence (`forecast.combination.Evidence`, captured during the fit), so that the rules differ
only in the choice. Each row prints MASE / AutoETS's MASE on the same split, and the geometric mean over the sets.

`--panels N1,N2`: the shipped rule against ETS alone on random panels of N series of each set (three panels
per size), the evidence behind `forecast.combination.MIN_EVIDENCE_WINDOWS`.

Run: `python -m benchmarks.combination [--datasets m1_quarterly,...] [--panels 3,10,30] [--seed 0]`
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

import forecast.forecaster as forecaster_module
from benchmarks.accuracy import DATASETS, SINGLES, Dataset, Run, forecaster_params, load_set, run_statsforecast, score
from forecast.combination import (
    EQUAL_WEIGHT_MARGIN,
    NETWORK_OPTIMISM,
    PRIOR_WINDOWS,
    WEIGHTS,
    Combination,
    Evidence,
    choose,
)
from forecast.forecaster import Forecaster
from pipelines.columns import ID, TIME

HALF = WEIGHTS.index(0.5)


def per_series(
    prior_windows: float, margin: float, optimism: float = NETWORK_OPTIMISM
) -> Callable[[Evidence, Sequence], dict[str, float]]:
    """`forecast.combination.choose` with other constants."""
    return lambda found, ids: (
        choose(found, ids, prior_windows=prior_windows, equal_weight_margin=margin, network_optimism=optimism).weights
    )


def one_weight(found: Evidence, ids: Sequence) -> dict[str, float]:
    """The data set's best weight for every series."""
    return dict.fromkeys(map(str, ids), float(WEIGHTS[int(np.argmin(found.overall))]))


def fixed(weight: float) -> Callable[[Evidence, Sequence], dict[str, float]]:
    return lambda found, ids: dict.fromkeys(map(str, ids), weight)


RULES: dict[str, Callable[[Evidence, Sequence], dict[str, float]]] = {
    "shipped without the optimism penalty": per_series(PRIOR_WINDOWS, EQUAL_WEIGHT_MARGIN, 0.0),
    "optimism penalty c = 0.15": per_series(PRIOR_WINDOWS, EQUAL_WEIGHT_MARGIN, 0.15),
    "per series, K_0 = 4, no margin": per_series(4.0, 0.0),
    f"per series, K_0 = {PRIOR_WINDOWS:g}, no margin": per_series(PRIOR_WINDOWS, 0.0),
    "one weight per data set": one_weight,
    "equal weights": fixed(0.5),
}


class EvidenceSpy:
    """Keeps the evidence the Forecaster's `choose` is given during a fit."""

    def __init__(self) -> None:
        self.found: Evidence | None = None
        self._choose = forecaster_module.choose

    def __enter__(self) -> EvidenceSpy:
        def spy(found, ids, *args, **kwargs):
            self.found = found
            return self._choose(found, ids, *args, **kwargs)

        forecaster_module.choose = spy
        return self

    def __exit__(self, *exc) -> None:
        forecaster_module.choose = self._choose


def forecasts_with(model: Forecaster, ids: Sequence, weight: float) -> pd.DataFrame:
    """`model`'s forecasts with one weight on the network for every series (its choice restored after)."""
    chosen = model.combination_
    model.combination_ = Combination.fixed(weight, ids, rule="benchmark")
    try:
        return model.predict()
    finally:
        model.combination_ = chosen


def replay(data: Dataset, seed: int) -> tuple[dict[str, pd.DataFrame], Evidence | None]:
    """The forecasts of the held-out values under the shipped rule, ETS alone, the network alone and `RULES`, and
    the evidence the fit chose on."""
    with EvidenceSpy() as spy:
        model = Forecaster(**forecaster_params("default", data), seed=seed).fit(data.train)
    ids = data.train[ID].unique()
    ets = forecasts_with(model, ids, 0.0)
    network = ets if model.model_ is None else forecasts_with(model, ids, 1.0)
    out = {"shipped": model.predict(), "ETS alone": ets, "the network alone": network}
    for name, rule in RULES.items():
        weights = fixed(0.0)(None, ids) if spy.found is None else rule(spy.found, ids)
        out[name] = blended(ets, network, ets[ID].astype(str).map(weights).to_numpy(np.float64))
    return out, spy.found


def blended(ets: pd.DataFrame, network: pd.DataFrame, weight: float | np.ndarray) -> pd.DataFrame:
    """`w y_net + (1 - w) y_ets` of two forecast frames in the same row order (`w` per row or one for all)."""
    y_hat = weight * network["y_hat"].to_numpy() + (1.0 - weight) * ets["y_hat"].to_numpy()
    return ets[[ID, TIME]].assign(y_hat=y_hat)


def optimism_slope(forecasts: dict[str, pd.DataFrame], found: Evidence | None, data: Dataset) -> float | None:
    """How much the held-out windows flatter the network (`forecast.combination.NETWORK_OPTIMISM`): the
    least-squares slope `c` of `D(w) - H(w) ~ c w` over the weights, where `D(w)` is the MASE of the blend with
    weight `w` on the values forecast divided by ETS alone's, and `H(w) = L(w) / L(0)` the same ratio on the fit's
    own held-out windows (None without evidence)."""
    if found is None:
        return None
    ets, network = forecasts["ETS alone"], forecasts["the network alone"]
    weights = np.asarray(WEIGHTS)
    deployed = np.array([mean_mase([blended(ets, network, w)], [data]) for w in weights])
    gap = deployed / deployed[0] - found.overall / found.overall[0]
    return float((gap * weights).sum() / (weights**2).sum())


def mean_mase(frames: Sequence[pd.DataFrame], parts: Sequence[Dataset]) -> float:
    return float(np.mean([score(Run(frame, 0.0), part)["mase"] for frame, part in zip(frames, parts, strict=True)]))


def compare_rules(keys: Sequence[str], seed: int) -> None:
    ratios: dict[str, list[float]] = {}
    print(f"MASE / AutoETS's on the validation splits (seed {seed})")
    for key in keys:
        bench = load_set(key, "validation")
        replays = [replay(part, seed) for part in bench.parts]
        autoets = mean_mase([run_statsforecast("AutoETS", part).forecasts for part in bench.parts], bench.parts)
        for name in replays[0][0]:
            ratio = mean_mase([forecasts[name] for forecasts, _ in replays], bench.parts) / autoets
            ratios.setdefault(name, []).append(ratio)
        slopes = [optimism_slope(forecasts, found, part) for (forecasts, found), part in zip(replays, bench.parts)]
        slopes = [f"{slope:.3f}" for slope in slopes if slope is not None]
        print(f"{bench.title}: " + ", ".join(f"{name} {values[-1]:.3f}" for name, values in ratios.items()), flush=True)
        print(f"  how much the held-out windows flatter the network, c: {', '.join(slopes) or 'no evidence'}")
    print(f"\n{'rule':<36}" + "".join(f"{key:>14}" for key in keys) + f"{'geo. mean':>11}")
    for name, values in ratios.items():
        geometric = float(np.exp(np.mean(np.log(values))))
        print(f"{name:<36}" + "".join(f"{v:>14.3f}" for v in values) + f"{geometric:>11.3f}")


def compare_panels(keys: Sequence[str], sizes: Sequence[int], seed: int, panels: int = 3) -> None:
    print(f"\nSmall panels of each validation split ({panels} random panels per size): MASE shipped / ETS alone")
    rng = np.random.default_rng(seed)
    for key in keys:
        (data,) = load_set(key, "validation").parts
        ids = data.train[ID].unique()
        for size in sizes:
            results = []
            for _ in range(panels):
                pick = rng.choice(ids, size, replace=False)
                panel = Dataset(
                    key=key,
                    title=data.title,
                    train=data.train[data.train[ID].isin(pick)],
                    test=data.test[data.test[ID].isin(pick)],
                    horizon=data.horizon,
                    season_length=data.season_length,
                )
                forecasts, _ = replay(panel, seed)
                results.append([mean_mase([forecasts[n]], [panel]) for n in ("shipped", "ETS alone")])
            shipped, ets = np.mean(results, axis=0)
            print(f"{data.title}, {size} series: {shipped:.3f} / {ets:.3f}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join([k for k in DATASETS if k != "m3_monthly"] + [SINGLES]))
    parser.add_argument("--panels", default="", help="comma-separated panel sizes (e.g. 3,10,30); none by default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    keys = [key for key in args.datasets.split(",") if key]
    compare_rules(keys, args.seed)
    if args.panels:
        sizes = [int(size) for size in args.panels.split(",")]
        compare_panels([key for key in keys if key != SINGLES], sizes, args.seed)


if __name__ == "__main__":
    main()
