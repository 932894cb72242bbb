"""Windowing speed and memory: `pipelines.windows.SeriesWindows` against `keras.utils.timeseries_dataset_from_array`.

Cases: one series of 1,000,000 steps, and 1,000 series of 1,000 steps; lookback 64 and 512,
horizon 8, batches of 256 windows, no shuffling, no scaling (`scaler=None`, as Keras does not
scale). Both sides produce `tf.data` batches of (past, target) and are iterated the same way.

- ours: `SeriesWindows(...).fit_transform(frame).to_dataset(...)` from a long-format frame
  (validation, sorting, frequency inference included in the setup time).
- keras: `timeseries_dataset_from_array(values, None, sequence_length=lookback + horizon,
  batch_size=256)` per series (it knows only one series; a series' last batch may be
  smaller), the per-series datasets concatenated in a balanced tree and split into
  (past, target) by a `map`; it starts from ready NumPy arrays (no validation).

Reported per case: setup seconds (building the dataset), windows per second while iterating
`--batches` batches (after one warm-up batch), and peak memory. Memory is the peak resident set
size (RSS, sampled every 2 ms from /proc/self/statm by a thread) minus the RSS just before the
measured section; each measurement runs in a fresh subprocess so earlier cases do not pollute it.
RSS rather than tracemalloc because TensorFlow's allocations are invisible to tracemalloc.

`--big` also windows a 10,000,000-row frame (1,000 hourly series of 10,000 steps, string ids)
and reports the peak memory of `fit_transform` plus gathering batches, measured with
tracemalloc (NumPy and pandas allocations), next to the frame's own size
(`DataFrame.memory_usage(deep=True)`), for lookback 64 and 512.

Run: `python benchmarks/windows_speed.py [--batches 100] [--big]`
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd

HORIZON = 8
BATCH_SIZE = 256
CASES = {"1 x 1,000,000": (1, 1_000_000), "1,000 x 1,000": (1_000, 1_000)}
LOOKBACKS = (64, 512)


def make_values(n_series: int, length: int) -> np.ndarray:
    """Random walks, shape (n_series, length), float32."""
    rng = np.random.default_rng(0)
    return np.cumsum(rng.normal(size=(n_series, length)), axis=1).astype(np.float32)


def make_frame(values: np.ndarray, freq: str = "h") -> pd.DataFrame:
    n_series, length = values.shape
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"series_{number:05d}" for number in range(n_series)], length),
            "ds": np.tile(pd.date_range("2000-01-01", periods=length, freq=freq).to_numpy(), n_series),
            "y": values.ravel(),
        }
    )


class PeakRss:
    """Samples the resident set size in a thread; `peak - start` is the extra memory of the section."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page

    def __enter__(self):
        self.start = self.peak = self.rss()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def delta(self) -> int:
        return self.peak - self.start


def ours_dataset(frame: pd.DataFrame, lookback: int):
    from pipelines.windows import SeriesWindows

    windows = SeriesWindows(lookback, HORIZON, scaler=None).fit_transform(frame)
    return windows.to_dataset(batch_size=BATCH_SIZE), len(windows)


def keras_dataset(values: np.ndarray, lookback: int):
    import keras
    import tensorflow as tf

    datasets = [
        keras.utils.timeseries_dataset_from_array(
            series, None, sequence_length=lookback + HORIZON, batch_size=BATCH_SIZE
        )
        for series in values
    ]
    while len(datasets) > 1:  # balanced concatenation keeps the nesting depth at log2(n_series)
        paired = [first.concatenate(second) for first, second in zip(datasets[::2], datasets[1::2])]
        datasets = paired + datasets[len(paired) * 2 :]
    dataset = datasets[0].map(
        lambda window: ({"past": window[:, :lookback, None]}, window[:, lookback:]), num_parallel_calls=tf.data.AUTOTUNE
    )
    n_windows = values.shape[0] * (values.shape[1] - lookback - HORIZON + 1)
    return dataset.prefetch(tf.data.AUTOTUNE), n_windows


def worker(method: str, case: str, lookback: int, batches: int) -> dict:
    import tensorflow as tf  # imported before the measured section on both sides

    n_series, length = CASES[case]
    values = make_values(n_series, length)
    frame = make_frame(values) if method == "ours" else None
    tf.constant(0.0)
    with PeakRss() as memory:
        started = time.perf_counter()
        dataset, n_windows = ours_dataset(frame, lookback) if method == "ours" else keras_dataset(values, lookback)
        iterator = iter(dataset)
        first_inputs, first_target = next(iterator)
        setup = time.perf_counter() - started
        started = time.perf_counter()
        produced = 0
        for _, (_inputs, target) in zip(range(batches), iterator):
            produced += int(target.shape[0])
        elapsed = time.perf_counter() - started
    assert first_inputs["past"].shape[1:] == (lookback, 1) and first_target.shape[1:] == (HORIZON,)
    return {
        "setup_s": setup,
        "windows_per_s": produced / elapsed,
        "peak_mb": memory.delta / 2**20,
        "n_windows": n_windows,
    }


def big_worker(lookback: int) -> dict:
    import tracemalloc

    from pipelines.windows import SeriesWindows

    frame = make_frame(make_values(1_000, 10_000))
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    tracemalloc.start()
    started = time.perf_counter()
    windows = SeriesWindows(lookback, HORIZON, scaler="standard").fit_transform(frame)
    rng = np.random.default_rng(0)
    for _ in range(20):
        windows.batch(rng.integers(0, len(windows), size=BATCH_SIZE))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"frame_mb": frame_mb, "peak_mb": peak / 2**20, "seconds": elapsed, "n_windows": len(windows)}


def run_worker(*arguments: str) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", *arguments],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"Worker {arguments} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=100, help="batches iterated per measurement")
    parser.add_argument("--big", action="store_true", help="also window a 10,000,000-row frame")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.worker[0] == "big":
            result = big_worker(int(args.worker[1]))
        else:
            method, case, lookback = args.worker
            result = worker(method, case, int(lookback), args.batches)
        print(json.dumps(result))
        return

    print(f"Windowing: horizon {HORIZON}, batch {BATCH_SIZE}, {args.batches} batches timed; memory = peak RSS delta")
    header = (
        f"{'case':<15}{'lookback':>9} | {'setup s ours':>12}{'keras':>8} | {'windows/s ours':>15}{'keras':>10}{'ratio':>7}"
        f" | {'peak MB ours':>12}{'keras':>8}{'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for case in CASES:
        for lookback in LOOKBACKS:
            ours = run_worker("ours", case, str(lookback), "--batches", str(args.batches))
            keras = run_worker("keras", case, str(lookback), "--batches", str(args.batches))
            print(
                f"{case:<15}{lookback:>9} | {ours['setup_s']:>12.2f}{keras['setup_s']:>8.2f} | "
                f"{ours['windows_per_s']:>15,.0f}{keras['windows_per_s']:>10,.0f}{ours['windows_per_s'] / keras['windows_per_s']:>7.2f}"
                f" | {ours['peak_mb']:>12.1f}{keras['peak_mb']:>8.1f}{ours['peak_mb'] / max(keras['peak_mb'], 1e-9):>7.2f}",
                flush=True,
            )
    if args.big:
        print(
            "\n10,000,000-row frame (1,000 hourly series x 10,000 steps), fit_transform + 20 random batches; tracemalloc peak"
        )
        for lookback in LOOKBACKS:
            big = run_worker("big", str(lookback))
            print(
                f"lookback {lookback:>4}: frame {big['frame_mb']:,.0f} MB, peak {big['peak_mb']:,.0f} MB "
                f"({big['peak_mb'] / big['frame_mb']:.2f} x frame), {big['n_windows']:,} windows, {big['seconds']:.1f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
