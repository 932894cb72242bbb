"""Training speed of this package's recurrent layers vs `keras.layers.LSTM`.

Trains `layers.lstm.LSTM` and `keras.layers.LSTM` side by side in one
process on the same data (a sequence-to-one regression: recurrent layer ->
Dense(1), Adam, MSE) and prints sequences per second and the ratio
ours / Keras, then the same ratio for every other cell of the package.
Each comparison runs interleaved (ours, Keras, ours, Keras, ...) after a
warm-up that traces and compiles both models; the reported ratio is the
median of the per-round ratios. A second ratio compares the CPU seconds
each model used, which other processes on a shared machine disturb much
less than wall time.
Both models always get the same `jit_compile` setting; by default the
table is printed for `jit_compile=False` and `jit_compile=True` (XLA).

    python -m benchmarks.layers_speed            # units 64 and 256
    python -m benchmarks.layers_speed --quick    # a small, fast run
    python -m benchmarks.layers_speed --units 64 --steps 50 --rounds 5
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import statistics
import time
from typing import NamedTuple

import keras
import numpy as np

BATCH_SIZE = 256
FEATURES = 8

# name -> (module, class, constructor flags); used when layers.registry is
# not importable.
_FALLBACK_LAYERS = {
    "elman": ("layers.elman", "Elman", {}),
    "irnn": ("layers.elman", "IRNN", {}),
    "lstm": ("layers.lstm", "LSTM", {}),
    "lstm1997": ("layers.lstm", "LSTM", {"forget_gate": False}),
    "peephole_lstm": ("layers.lstm", "LSTM", {"peepholes": True}),
    "cifg_lstm": ("layers.lstm", "LSTM", {"coupled": True}),
    "gru": ("layers.gru", "GRU", {}),
    "clockwork": ("layers.clockwork", "Clockwork", {}),
    "scrn": ("layers.scrn", "SCRN", {}),
}


def make_layer(name: str, units: int, input_projection: str) -> keras.layers.Layer | None:
    """A new layer for a cell name; None if its module is not present or
    the layer does not take `input_projection`."""
    try:
        registry = importlib.import_module("layers.registry")
    except ImportError:
        registry = None
    try:
        if registry is not None:
            return registry.get(name, units, input_projection=input_projection)
        module_name, class_name, flags = _FALLBACK_LAYERS[name]
        module = importlib.import_module(module_name)
        layer_class = getattr(module, class_name)
        return layer_class(units, input_projection=input_projection, **flags)
    except (ImportError, AttributeError, TypeError):
        return None


def build_model(recurrent: keras.layers.Layer, steps: int, jit_compile: bool) -> keras.Model:
    inputs = keras.Input((steps, FEATURES))
    outputs = keras.layers.Dense(1)(recurrent(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
    return model


class Timing(NamedTuple):
    """One timed `fit`: sequences per wall second and CPU seconds used."""

    sequences_per_second: float
    cpu_seconds: float


def timed_fit(model: keras.Model, x: np.ndarray, y: np.ndarray) -> Timing:
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
    wall = time.perf_counter() - start_wall
    return Timing(len(x) / wall, time.process_time() - start_cpu)


class Comparison(NamedTuple):
    ours_sequences_per_second: float
    keras_sequences_per_second: float
    ratio: float
    cpu_ratio: float


def compare(
    ours: keras.Model,
    reference: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    rounds: int,
) -> Comparison:
    """Medians over interleaved rounds of both models' speeds and ratios.

    `ratio` is ours / Keras in sequences per wall second; `cpu_ratio` is
    Keras's CPU seconds / ours for the same work, which other processes on
    a shared machine disturb much less than wall time.
    """
    warm_up = slice(0, BATCH_SIZE)
    for model in (ours, reference):
        model.fit(x[warm_up], y[warm_up], batch_size=BATCH_SIZE, verbose=0)
    ours_timings, reference_timings = [], []
    for _ in range(rounds):
        ours_timings.append(timed_fit(ours, x, y))
        reference_timings.append(timed_fit(reference, x, y))
    pairs = list(zip(ours_timings, reference_timings))
    return Comparison(
        statistics.median(t.sequences_per_second for t in ours_timings),
        statistics.median(t.sequences_per_second for t in reference_timings),
        statistics.median(a.sequences_per_second / b.sequences_per_second for a, b in pairs),
        statistics.median(b.cpu_seconds / a.cpu_seconds for a, b in pairs),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batches", type=int, default=4, help="batches per timed run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--layers",
        nargs="+",
        choices=list(_FALLBACK_LAYERS),
        default=list(_FALLBACK_LAYERS),
        help="which of this package's layers to compare",
    )
    parser.add_argument(
        "--jit",
        choices=["both", "off", "on"],
        default="both",
        help="jit_compile setting given to both models",
    )
    parser.add_argument(
        "--input-projection",
        nargs="+",
        choices=["step", "sequence"],
        default=["step", "sequence"],
        help="input_projection settings of this package's layers to time",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="units 32, 20 steps, 2 batches, 2 rounds, XLA off",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.steps, args.batches, args.rounds = [32], 20, 2, 2
        args.jit, args.input_projection = "off", ["step"]
    jit_settings = {"both": [False, True], "off": [False], "on": [True]}[args.jit]

    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH_SIZE * args.batches, args.steps, FEATURES))
    x = x.astype("float32")
    y = x[:, -5:, 0].mean(axis=1, keepdims=True)

    header = (
        f"{'layer':<14}{'projection':>11}{'units':>6}{'xla':>5}"
        f"{'ours seq/s':>12}{'keras seq/s':>13}{'ratio':>7}"
        f"{'cpu ratio':>11}"
    )
    print(
        f"batch {BATCH_SIZE}, {args.steps} steps, {FEATURES} features, "
        f"{args.batches} batches per run, median of {args.rounds} rounds; "
        "ratio = ours / keras.layers.LSTM in sequences per second, "
        "cpu ratio = Keras CPU seconds / ours (same units, same jit_compile)"
    )
    print(header)
    print("-" * len(header))
    missing = []
    for jit_compile in jit_settings:
        for units in args.units:
            for name, projection in itertools.product(args.layers, args.input_projection):
                layer = make_layer(name, units, projection)
                if layer is None:
                    missing.append(f"{name} ({projection})")
                    continue
                ours = build_model(layer, args.steps, jit_compile)
                reference = build_model(keras.layers.LSTM(units), args.steps, jit_compile)
                result = compare(ours, reference, x, y, args.rounds)
                xla = "on" if jit_compile else "off"
                print(
                    f"{name:<14}{projection:>11}{units:>6}{xla:>5}"
                    f"{result.ours_sequences_per_second:>12.0f}"
                    f"{result.keras_sequences_per_second:>13.0f}"
                    f"{result.ratio:>7.2f}{result.cpu_ratio:>11.2f}",
                    flush=True,
                )
    for name in sorted(set(missing)):
        print(f"note: {name} skipped: its module is not present yet or it does not take input_projection")


if __name__ == "__main__":
    main()
