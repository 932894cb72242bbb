"""Batch forecasting on Apache Spark (`forecast.spark.predict` on `local[2]`) against one local process.

The same saved model (an LSTM Forecaster: 32 units, lookback 24, horizon 12, point forecasts, fitted for
one epoch on the largest set of series: a global model forecasts only series it was fitted on) forecasts
synthetic monthly series of `--length` rows, 10,000 to 100,000 of them, from a Parquet file to a
Parquet output, two ways:

- local: one Python process, `load_forecaster(path).predict(pd.read_parquet(data))` then `to_parquet`
  (the forecast job's path);
- spark: `forecast.spark.predict(spark.read.parquet(data), path)` written with
  `forecast.spark.write_forecasts` on `local[2]` (`--partitions` shuffle partitions, a model load
  and XLA compile per partition, `series_per_chunk` series per `predict` call).

Both are measured warm: TensorFlow is imported in this process and in Spark's Python workers (a small
Spark forecast runs first, untimed) and the JVM is started; its start-up and that warm-up are printed
apart. The sizes are run interleaved (local, spark, local, spark, ... per round) so that load from other
processes on a shared machine hits both alike; the figures are medians over `--rounds`. Reported per
size: seconds and forecasts (series) per second for each, the ratio spark / local of the throughputs,
how each scales from the smallest size (time ratio against size ratio: 1.0 is linear), and the marginal
rate between consecutive sizes (series added over seconds added: the throughput once each engine's fixed
costs, such as Spark's stages and its model load per partition, are paid).

On one 2-core machine Spark cannot beat one process that already keeps both cores busy with
TensorFlow: what it buys is the same code on a cluster. The ratio here is its overhead (shuffle,
Arrow transfers, a model load per partition).

    python -m benchmarks.spark_forecast                       # 10k, 30k, 100k series, one round
    python -m benchmarks.spark_forecast --sizes 2000 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LOOKBACK = 24
HORIZON = 12


def synthetic_series(n_series: int, length: int, seed: int = 0) -> pd.DataFrame:
    """Monthly series: a level, a trend, a yearly cycle and noise, with ids `s000000` ..."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    level = rng.uniform(50, 150, (n_series, 1))
    trend = rng.normal(0, 0.5, (n_series, 1))
    season = rng.uniform(0, 10, (n_series, 1)) * np.sin(2 * np.pi * t / 12)
    values = level + trend * t + season + rng.normal(0, 2, (n_series, length))
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{number:06d}" for number in range(n_series)], length),
            "ds": np.tile(pd.date_range("2015-01-01", periods=length, freq="MS").to_numpy(), n_series),
            "y": values.ravel(),
        }
    )


def train_model(directory: Path, n_series: int, length: int) -> Path:
    """One epoch over every series (a global model forecasts only the series it was fitted on)."""
    from forecast.forecaster import Forecaster

    model = Forecaster(
        cell="lstm",
        units=32,
        lookback=LOOKBACK,
        horizon=HORIZON,
        epochs=1,
        batch_size=1024,
        validation_windows=0,
        # The network alone: this measures Spark's overhead on the network's predict. With the default ETS
        # combination every series also costs an ETS fit (about 10 ms), which spreads across Spark's workers.
        combine_with=None,
        tracking=False,
        verbose=0,
        seed=0,
    )
    model.fit(synthetic_series(n_series, length, seed=1))
    return model.save(directory / "model")


def start_spark(partitions: int):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("lstm-forecast-benchmark")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def run_local(model_path: Path, data: Path, output: Path) -> float:
    from forecast.loading import load_forecaster

    started = time.perf_counter()
    forecasts = load_forecaster(model_path).predict(pd.read_parquet(data))
    forecasts.to_parquet(output, index=False)
    return time.perf_counter() - started


def run_spark(session, model_path: Path, data: Path, output: Path, partitions: int, series_per_chunk: int) -> float:
    from forecast import spark as fs

    started = time.perf_counter()
    history = fs.read_table(session, path=data)
    forecasts = fs.predict(history, str(model_path), num_partitions=partitions, series_per_chunk=series_per_chunk)
    fs.write_forecasts(forecasts, output, "2026-01-01")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000], help="series counts")
    parser.add_argument("--length", type=int, default=36, help="rows per series (at least lookback + horizon, 36)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; medians are reported")
    parser.add_argument("--partitions", type=int, default=4, help="Spark shuffle partitions")
    parser.add_argument("--series-per-chunk", type=int, default=2000, help="series per predict call in Spark")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="spark-forecast-benchmark-"))
    try:
        print(f"model: LSTM 32 units, lookback {LOOKBACK}, horizon {HORIZON}; series of {args.length} monthly rows")
        started = time.perf_counter()
        model_path = train_model(workdir, max(args.sizes), args.length)
        print(f"fitted on {max(args.sizes):,} series in {time.perf_counter() - started:.1f} s")
        paths = {}
        for size in args.sizes:
            paths[size] = workdir / f"history_{size}.parquet"
            # Microsecond timestamps: Spark cannot read pandas' default nanoseconds.
            synthetic_series(size, args.length, seed=size).to_parquet(paths[size], index=False, coerce_timestamps="us")

        started = time.perf_counter()
        session = start_spark(args.partitions)
        jvm = time.perf_counter() - started
        warm_data = workdir / "warm.parquet"
        synthetic_series(50, args.length).to_parquet(warm_data, index=False, coerce_timestamps="us")
        started = time.perf_counter()
        run_spark(session, model_path, warm_data, workdir / "warm_out", args.partitions, args.series_per_chunk)
        run_local(model_path, warm_data, workdir / "warm_out.parquet")
        warm = time.perf_counter() - started
        print(f"Spark start (JVM): {jvm:.1f} s; warm-up (Python workers import TensorFlow): {warm:.1f} s")

        times: dict[str, dict[int, list[float]]] = {"local": {}, "spark": {}}
        for round_number in range(args.rounds):
            for size in args.sizes:
                local = run_local(model_path, paths[size], workdir / f"local_{size}.parquet")
                spark = run_spark(
                    session, model_path, paths[size], workdir / f"spark_{size}", args.partitions, args.series_per_chunk
                )
                times["local"].setdefault(size, []).append(local)
                times["spark"].setdefault(size, []).append(spark)
                print(
                    f"round {round_number + 1}, {size:,} series: local {local:.1f} s, spark {spark:.1f} s", flush=True
                )
        session.stop()

        smallest = min(args.sizes)
        print()
        print(
            f"{'series':>8} | {'local s':>8} {'local/s':>9} | {'spark s':>8} {'spark/s':>9} | {'spark/local':>11} |",
            end="",
        )
        print(f" {'scaling local':>13} {'scaling spark':>13} | {'marginal local/s':>16} {'marginal spark/s':>16}")
        medians = {
            engine: {size: statistics.median(values) for size, values in per.items()} for engine, per in times.items()
        }
        previous = None
        for size in args.sizes:
            local, spark = medians["local"][size], medians["spark"][size]
            growth = size / smallest
            marginal = ["", ""]
            if previous is not None:
                added = size - previous
                marginal = [
                    f"{added / (medians[engine][size] - medians[engine][previous]):,.0f}"
                    if medians[engine][size] > medians[engine][previous]
                    else "n/a"
                    for engine in ("local", "spark")
                ]
            print(
                f"{size:>8,} | {local:>8.1f} {size / local:>9,.0f} | {spark:>8.1f} {size / spark:>9,.0f} | "
                f"{local / spark:>11.2f} | {local / medians['local'][smallest] / growth:>13.2f} "
                f"{spark / medians['spark'][smallest] / growth:>13.2f} | {marginal[0]:>16} {marginal[1]:>16}"
            )
            previous = size
        print(
            "\nspark/local: Spark's forecasts per second over the local process's (same run, interleaved); "
            "scaling: time ratio to the smallest size over the size ratio (1.0 = linear); marginal: the series added "
            "since the previous size over the time added (the rate once fixed costs are paid). "
            f"local[2], {args.partitions} partitions, {args.series_per_chunk} series per predict call; "
            "the machine is shared, so every figure is noisy."
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
