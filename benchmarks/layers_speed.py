"""Training speed of this package's recurrent layers against `keras.layers.LSTM`.

Trains `layers.lstm.LSTM` and `keras.layers.LSTM` side by side in one
process on the same data (a sequence-to-one regression: recurrent layer ->
Dense(1), Adam, MSE) and prints sequences per second and the ratio
ours / Keras, then the same ratio for every other cell of the package.
Each comparison runs interleaved (ours, Keras, ours, Keras, ...) after a
warm-up that traces and compiles both models; the reported ratio is the
median of the per-round ratios, which is robust to other load on the CPU.
Both models always get the same `jit_compile` setting; by default the
table is printed for `jit_compile=False` and `jit_compile=True` (XLA).

    python -m benchmarks.layers_speed            # units 64 and 256
    python -m benchmarks.layers_speed --quick    # a small, fast run
    python -m benchmarks.layers_speed --units 64 --steps 50 --rounds 5
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

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


def make_layer(name: str, units: int) -> keras.layers.Layer | None:
    """A new layer for a cell name, or None if its module is not present."""
    try:
        registry = importlib.import_module("layers.registry")
    except ImportError:
        registry = None
    try:
        if registry is not None:
            return registry.get(name, units)
        module_name, class_name, flags = _FALLBACK_LAYERS[name]
        module = importlib.import_module(module_name)
        return getattr(module, class_name)(units, **flags)
    except (ImportError, AttributeError):
        return None


def build_model(
    recurrent: keras.layers.Layer, steps: int, jit_compile: bool
) -> keras.Model:
    inputs = keras.Input((steps, FEATURES))
    outputs = keras.layers.Dense(1)(recurrent(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
    return model


def sequences_per_second(
    model: keras.Model, x: np.ndarray, y: np.ndarray
) -> float:
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
    return len(x) / (time.perf_counter() - start)


def compare(
    ours: keras.Model,
    reference: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    rounds: int,
) -> tuple[float, float, float]:
    """Median sequences/second of both models and median per-round ratio."""
    warm_up = slice(0, BATCH_SIZE)
    for model in (ours, reference):
        model.fit(x[warm_up], y[warm_up], batch_size=BATCH_SIZE, verbose=0)
    ours_speeds, reference_speeds = [], []
    for _ in range(rounds):
        ours_speeds.append(sequences_per_second(ours, x, y))
        reference_speeds.append(sequences_per_second(reference, x, y))
    ratios = [a / b for a, b in zip(ours_speeds, reference_speeds)]
    return (
        statistics.median(ours_speeds),
        statistics.median(reference_speeds),
        statistics.median(ratios),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument(
        "--batches", type=int, default=4, help="batches per timed run"
    )
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
        "--quick",
        action="store_true",
        help="units 32, 20 steps, 2 batches, 2 rounds, XLA off",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.steps, args.batches, args.rounds = [32], 20, 2, 2
        args.jit = "off"
    jit_settings = {"both": [False, True], "off": [False], "on": [True]}[
        args.jit
    ]

    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH_SIZE * args.batches, args.steps, FEATURES))
    x = x.astype("float32")
    y = x[:, -5:, 0].mean(axis=1, keepdims=True)

    header = (
        f"{'layer':<14}{'units':>6}{'xla':>5}"
        f"{'ours seq/s':>12}{'keras seq/s':>13}{'ratio':>7}"
    )
    print(
        f"batch {BATCH_SIZE}, {args.steps} steps, {FEATURES} features, "
        f"{args.batches} batches per run, median of {args.rounds} rounds; "
        "ratio = ours / keras.layers.LSTM (same units, same jit_compile)"
    )
    print(header)
    print("-" * len(header))
    missing = []
    for jit_compile in jit_settings:
        for units in args.units:
            for name in args.layers:
                layer = make_layer(name, units)
                if layer is None:
                    missing.append(name)
                    continue
                ours = build_model(layer, args.steps, jit_compile)
                reference = build_model(
                    keras.layers.LSTM(units), args.steps, jit_compile
                )
                ours_speed, reference_speed, ratio = compare(
                    ours, reference, x, y, args.rounds
                )
                print(
                    f"{name:<14}{units:>6}{'on' if jit_compile else 'off':>5}"
                    f"{ours_speed:>12.0f}{reference_speed:>13.0f}{ratio:>7.2f}",
                    flush=True,
                )
    for name in sorted(set(missing)):
        print(f"note: {name} skipped (its module is not present yet)")


if __name__ == "__main__":
    main()
