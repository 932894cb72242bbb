"""M3 monthly at full strength: our global recurrent models beside SeasonalNaive, AutoETS and AutoTheta.

The data and scoring are those of `forecast demo` (`forecast.demo`): the 1,428 M3
monthly series with the official split (the last 18 months are the test part),
sMAPE as in the M3 competition and MASE with seasonal period 12, both averaged
over series. Each recurrent cell (`--cells`, default `lstm,gru,cifg_lstm`) trains
one global Forecaster with the demo's settings. When `statsforecast` is
installed, AutoETS and AutoTheta (Nixtla's implementations, season length 12)
run in the same process on the same split.

Reference points measured side by side on this data: SeasonalNaive sMAPE 17.23,
AutoTheta 14.97, AutoETS 14.16; published global deep models reach about 13.

Latency: the first cell's model is saved and loaded back, and `predict` is
timed for one series' history (the full path: validation, windowing, the
network call, the output frame), `--repeats` times after two warm-up calls;
the network call alone is timed the same way, and so is the least that any
predict taking and returning pandas frames does (`_pandas_round_trip`: read three
columns, scale, call the network, build the output frame). p50 and p90 in
milliseconds.

Run: `python benchmarks/m3.py [--quick] [--cells lstm,gru] [--epochs 30] [--units 64]`
(`--quick`: the first 300 series, 3 epochs, `lstm` only).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.baselines import SeasonalNaive
from forecast.demo import HORIZON, SEASON_LENGTH, demo_forecaster, load_m3_monthly, score
from forecast.forecaster import Forecaster

QUICK_SERIES = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cells", default="lstm,gru,cifg_lstm", help="comma-separated names of layers.registry.available()"
    )
    parser.add_argument("--epochs", default="auto", help="an integer or 'auto' (the Forecaster's plan)")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--lookback", type=int, default=2 * HORIZON)
    parser.add_argument("--max-series", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=200, help="timed predict calls for the latency figures")
    parser.add_argument("--quick", action="store_true", help=f"first {QUICK_SERIES} series, 3 epochs, lstm only")
    parser.add_argument("--tracking", action="store_true", help="log each model's run to MLflow")
    args = parser.parse_args()
    cells = ["lstm"] if args.quick else [c.strip() for c in args.cells.split(",") if c.strip()]
    epochs = 3 if args.quick else (args.epochs if args.epochs == "auto" else int(args.epochs))
    max_series = QUICK_SERIES if args.quick else args.max_series

    train, test = load_m3_monthly(max_series)
    lookback = args.lookback
    print(
        f"M3 monthly: {train['unique_id'].nunique()} series, horizon {HORIZON}, lookback {lookback}, units {args.units}, up to {epochs} epochs"
    )
    rows: dict[str, dict[str, float]] = {}
    models: dict[str, Forecaster] = {}
    for cell in cells:
        started = time.perf_counter()
        model = demo_forecaster(cell, args.units, epochs, lookback, verbose=2, tracking=args.tracking, register_as=None)
        model.fit(train)
        rows[f"Forecaster({cell})"] = {
            **score(model.predict(), train, test),
            "seconds": time.perf_counter() - started,
            "epochs": model.epochs_trained_,
        }
        models[cell] = model
        print(f"{cell}: {rows[f'Forecaster({cell})']}", flush=True)
    started = time.perf_counter()
    baseline = SeasonalNaive(horizon=HORIZON, season_length=SEASON_LENGTH).fit(train).predict()
    rows["SeasonalNaive"] = {**score(baseline, train, test), "seconds": time.perf_counter() - started}
    rows.update(statistical_models(train, test))

    table = pd.DataFrame(rows).T.sort_values("smape")
    table.index.name = "model"
    print()
    print(table.round(3).to_string())
    print()
    print(latency_report(models[cells[0]], train, args.repeats))


def statistical_models(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, dict[str, float]]:
    """AutoETS and AutoTheta from statsforecast on the same split (empty when it is not installed)."""
    try:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS, AutoTheta
    except ImportError:
        print("statsforecast is not installed: AutoETS and AutoTheta skipped")
        return {}
    rows = {}
    for name, model in (
        ("AutoETS", AutoETS(season_length=SEASON_LENGTH)),
        ("AutoTheta", AutoTheta(season_length=SEASON_LENGTH)),
    ):
        started = time.perf_counter()
        forecasts = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=train, h=HORIZON)
        forecasts = forecasts.reset_index() if "unique_id" not in forecasts.columns else forecasts
        forecasts = forecasts.rename(columns={name: "y_hat"})[["unique_id", "ds", "y_hat"]]
        rows[name] = {**score(forecasts, train, test), "seconds": time.perf_counter() - started}
        print(f"{name}: {rows[name]}", flush=True)
    return rows


def latency_report(model: Forecaster, train: pd.DataFrame, repeats: int) -> str:
    """p50/p90 milliseconds of `predict` for one series after save/load, of the network call alone,
    and of Keras's own `Model.predict` and `Model.predict_on_batch` on the same inputs (the competitors)."""
    with tempfile.TemporaryDirectory() as directory:
        loaded = Forecaster.load(model.save(Path(directory) / "model"))
    first = train["unique_id"].iloc[0]
    history = train[train["unique_id"] == first].tail(model.lookback).reset_index(drop=True)
    inputs = loaded.pipeline_.predict_windows(history).as_inputs()
    full = _timings(lambda: loaded.predict(history), repeats)
    network = _timings(lambda: loaded._call_network(inputs), repeats)
    floor = _timings(lambda: _pandas_round_trip(loaded, history, inputs), repeats)
    keras_predict = _timings(lambda: loaded.model_.predict(inputs, verbose=0), repeats)
    keras_batch = _timings(lambda: loaded.model_.predict_on_batch(inputs), repeats)
    return (
        f"predict latency, one series after load ({repeats} calls): "
        f"Forecaster.predict p50 {full[0]:.2f} ms, p90 {full[1]:.2f} ms; "
        f"network call p50 {network[0]:.2f} ms, p90 {network[1]:.2f} ms; "
        f"the least a pandas-in, pandas-out predict does p50 {floor[0]:.2f} ms ({floor[0] / network[0]:.2f}x the "
        "network call); "
        f"Keras Model.predict p50 {keras_predict[0]:.2f} ms, Model.predict_on_batch p50 {keras_batch[0]:.2f} ms; "
        f"p50 ratios: Forecaster.predict / network call {full[0] / network[0]:.2f} (target at most 3), "
        f"network call / predict_on_batch {network[0] / keras_batch[0]:.2f}, "
        f"Forecaster.predict / Model.predict {full[0] / keras_predict[0]:.3f}"
    )


def _pandas_round_trip(model: Forecaster, history: pd.DataFrame, inputs: dict[str, np.ndarray]) -> pd.DataFrame:
    """The floor of any `predict` that takes and returns a pandas frame: read the id, time and target columns,
    scale the window by its mean absolute value, call the network, and build the future times and a three-column
    frame. No validation, no ETS, no intervals: a reference for `Forecaster.predict`'s latency, not a forecast."""
    ids = history["unique_id"].to_numpy()
    times = history["ds"].to_numpy()
    y = history["y"].to_numpy(np.float64)
    scale = np.abs(y).mean()
    past = inputs["past"].copy()
    past[0, -len(y) :, 0] = y[-past.shape[1] :] / scale
    outputs = model._call_network({**inputs, "past": past})
    if isinstance(model.freq_, int):
        future = times[-1] + model.freq_ * np.arange(1, model.horizon + 1)
    else:
        future = pd.date_range(times[-1], periods=model.horizon + 1, freq=model.freq_)[1:]
    values = outputs.reshape(-1)[: model.horizon].astype(np.float64) * scale
    return pd.DataFrame({"unique_id": np.repeat(ids[:1], model.horizon), "ds": future, "y_hat": values}, copy=False)


def _timings(call, repeats: int) -> tuple[float, float]:
    call()
    call()
    elapsed = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        elapsed.append(1000.0 * (time.perf_counter() - started))
    return float(np.percentile(elapsed, 50)), float(np.percentile(elapsed, 90))


if __name__ == "__main__":
    main()
