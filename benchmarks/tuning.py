"""Hyperparameter search on a validation split: `forecast.tuning.tune` against the default Forecaster.

Protocol (nothing is chosen on a test part):

1. The validation split of one set (`benchmarks.accuracy.load_set(key, "validation")`): each series' train part
   without its last h values is the history; those h values are held out.
2. `tune(Forecaster(lookback=L, horizon=h, seed=0), history, examples/tuning/space.yaml, n_trials=N)` on the
   series long enough for a training window before the last h values of their history (2h + 1 values): each
   trial is fitted on those histories without their last h values and scored on them (MASE with period m). Trial 0 is the
   default, so the search starts from what it must beat. The study lives in a temporary SQLite file.
3. The best configuration and the default are fitted on the whole history and forecast the held-out h values
   of every series of the split, once per seed: MASE and sMAPE as `benchmarks.accuracy` scores them.
4. `--test`: the same two configurations on the official split (train part -> test part), scored once at the
   end as the final report.

Run: `python -m benchmarks.tuning [--dataset m1_quarterly] [--n-trials 12] [--seeds 0,1,2] [--test]`
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.accuracy import Dataset, Run, load_set, markdown, score
from forecast.forecaster import Forecaster
from forecast.tuning import tune
from pipelines.columns import ID

SPACE = Path(__file__).resolve().parents[1] / "examples" / "tuning" / "space.yaml"


def fit_and_score(params: dict, data: Dataset, seed: int) -> dict:
    """Fit the Forecaster with `params` on `data.train`, forecast `data.test`, and score it."""
    started = time.perf_counter()
    forecasts = Forecaster(**params, seed=seed).fit(data.train).predict()
    return score(Run(forecasts, time.perf_counter() - started), data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="m1_quarterly")
    parser.add_argument("--n-trials", type=int, default=12)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--test", action="store_true", help="also score both configurations on the test split")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    (data,) = load_set(args.dataset, "validation").parts
    default = dict(lookback=data.lookback, horizon=data.horizon, tracking=False, verbose=0)
    lengths = data.train.groupby(ID).size()
    tunable = data.train[data.train[ID].isin(lengths.index[lengths > 2 * data.horizon])]
    print(
        f"{data.title}, validation split: {data.n_series} series, h={data.horizon}, m={data.season_length}, "
        f"L={data.lookback}; {tunable[ID].nunique()} series long enough to tune on; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        result = tune(
            Forecaster(**default, seed=0),
            tunable,
            SPACE,
            n_trials=args.n_trials,
            season_length=data.season_length,
            storage=f"sqlite:///{directory}/optuna.db",
            tracking=False,
        )
        trials = result.study.trials
    print(f"search: {time.perf_counter() - started:.0f} s")
    for trial in trials:
        value = f"{trial.value:.4f}" if trial.state.name == "COMPLETE" else ""
        epochs = trial.user_attrs.get("epochs_trained", "")
        print(f"  trial {trial.number:2d} {trial.state.name:8s} {value:>7s} epochs {epochs!s:>4s} {trial.params}")
    configurations = {"default": default, "tuned": {**default, **result.best_params}}
    print(f"best trial {result.study.best_trial.number}: inner MASE {result.best_score:.4f}, {result.best_params}")
    splits = {"validation": data}
    if args.test:
        (splits["test"],) = load_set(args.dataset, "test").parts
    rows = []
    for split, part in splits.items():
        for name, params in configurations.items():
            scores = [fit_and_score(params, part, seed) for seed in seeds]
            rows.append(
                [
                    split,
                    name,
                    f"{np.mean([s['mase'] for s in scores]):.3f}",
                    " / ".join(f"{s['mase']:.3f}" for s in scores),
                    f"{np.mean([s['smape'] for s in scores]):.3f}",
                    f"{np.mean([s['seconds'] for s in scores]):.0f}",
                ]
            )
    header = ["split", "configuration", "MASE", f"MASE of seeds {args.seeds.replace(',', ' / ')}", "sMAPE", "s per fit"]
    print(markdown(header, rows))


if __name__ == "__main__":
    main()
