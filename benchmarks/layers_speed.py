"""Speed of this package's recurrent layers against `keras.layers.LSTM` (and PyTorch's `nn.LSTM` when installed).

Everything runs in one process (but PyTorch, in a child process of its own). Every comparison is interleaved (ours, Keras, Keras, ours, ... so that load from
other processes hits both alike) after a warm-up that traces both; the figures are medians over the rounds, and
each ratio is the median of the per-round ratios, in wall time and (in parentheses) in the CPU time the process
used, which other processes on a shared machine disturb much less.

1. training: `fit` throughput in sequences per second (Adam, MSE, a Dense(1) head on the last output; one epoch
   of shuffled NumPy batches; `jit_compile=False` for both) of `layers.LSTM` with `implementation="auto"` (the
   path it chose is printed) and of `keras.layers.LSTM`, at the package's working sizes (batch 64; 30 and 100
   steps; 32 and 64 units) and at batch 256, 100 steps, 64 and 256 units; 8 features.
2. inference: `predict` throughput of the same models at the same sizes.
3. cells: training throughput of every layer of `layers.available()` relative to `keras.layers.LSTM` at
   batch 64, 100 steps, 64 units (`keras.layers.GRU` too, as the GRU's own reference).
4. PyTorch: one training step of `torch.nn.LSTM` + `Linear` with Adam (forward, backward, update) per batch at
   the training sizes, against Keras's `fit` (Keras's LSTM and ours), against the same `fit` without the LSTM
   (what `fit` costs per batch whatever the layer), and against our layer trained in the same kind of loop as
   PyTorch's (a compiled step per batch of in-memory tensors: the layers compared without the loops); skipped
   with a note when `torch` is not installed (`--torch-threads 1` where other processes load the CPU: PyTorch's
   OpenMP threads collapse there).
5. `--loop-options`: the Forecaster's network (`forecast.network.build_network`, LSTM and GRU, 64 units,
   lookback 30, horizon 18, batch 64 and 256, one input feature, MAE, Adam with clipnorm) trained with `fit`
   under the training-loop options: today's (NumPy arrays, `steps_per_execution=1`, no XLA),
   `steps_per_execution` 8 and 32, a `tf.data` pipeline, XLA; throughput relative to today's, and the time of
   the first fit call (tracing and compiling).
6. `--kernel-grid`: `layers.LSTM` forced onto BlockLSTMV2 against the generic loop, forward and backward of the
   layer alone (the kernel with the batch in parallel parts), batch 16-512 x units 32-256: the measurements
   behind `tensorflow_kernels.BLOCK_LSTM_MAX_UNITS`.
7. `--forecaster`: `Forecaster.fit` on M3 monthly with the layers as shipped and with every LSTM on the generic
   loop (as before the fused kernels), same settings and seed: fit seconds, epochs, sMAPE and MASE.

    python -m benchmarks.layers_speed                  # sections 1-4
    python -m benchmarks.layers_speed --quick          # sections 1 and 2 only, fewer rounds: about 2 minutes
    python -m benchmarks.layers_speed --loop-options   # section 5 only
    python -m benchmarks.layers_speed --kernel-grid    # section 6 only
    python -m benchmarks.layers_speed --pytorch        # section 4 only (at --sizes, when given)
    python -m benchmarks.layers_speed --forecaster     # section 7 only: about 7 minutes on 2 cores
    python -m benchmarks.layers_speed --sizes 64x30x32 128x50x64 --paths fused loop   # chosen paths and sizes
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
import numpy as np

import layers
from layers import tensorflow_kernels

FEATURES = 8
WORKING_SIZES = ("64x30x32", "64x30x64", "64x100x32", "64x100x64")
LARGE_SIZES = ("256x100x64", "256x100x256")
CELLS_SIZE = "64x100x64"
PATHS = ("auto", "fused", "loop")


class Size(NamedTuple):
    batch: int
    steps: int
    units: int

    @classmethod
    def parse(cls, text: str) -> Size:
        batch, steps, units = (int(part) for part in text.split("x"))
        return cls(batch, steps, units)

    def __str__(self) -> str:
        return f"{self.batch}x{self.steps}x{self.units}"


class Timing(NamedTuple):
    wall: float
    cpu: float


def timed(run: Callable[[], object]) -> Timing:
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    run()
    return Timing(time.perf_counter() - start_wall, time.process_time() - start_cpu)


def race(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[Timing]]:
    """Times every run once per round, in an order that alternates between rounds."""
    timings: dict[str, list[Timing]] = {name: [] for name in runs}
    names = list(runs)
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else reversed(names):
            timings[name].append(timed(runs[name]))
    return timings


def median_ratio(ours: list[Timing], reference: list[Timing], clock: str = "wall") -> float:
    """Median over rounds of reference time / our time on `clock` ("wall" or "cpu"): our relative speed."""
    return statistics.median(getattr(r, clock) / getattr(o, clock) for o, r in zip(ours, reference))


def ratios(ours: list[Timing], reference: list[Timing]) -> str:
    """`wall ratio (cpu ratio)`, e.g. `1.52 (1.47)`."""
    return f"{median_ratio(ours, reference):.2f} ({median_ratio(ours, reference, 'cpu'):.2f})"


def data(size: Size, batches: int, features: int = FEATURES) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(size.batch * batches, size.steps, features)).astype("float32")
    return x, x[:, -5:, 0].mean(axis=1, keepdims=True)


STEPS_PER_EXECUTION = 1  # --steps-per-execution: Keras's default, for every model of sections 1-4


def model_with(recurrent: keras.layers.Layer, size: Size, features: int = FEATURES) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size.steps, features))
    model = keras.Model(inputs, keras.layers.Dense(1)(recurrent(inputs)))
    model.compile(optimizer="adam", loss="mse", jit_compile=False, steps_per_execution=STEPS_PER_EXECUTION)
    return model


def chosen_path(layer: keras.layers.Layer, batch: int) -> str:
    """The kernel `implementation="auto"` runs for `batch` (`fused x4`: BlockLSTMV2 in 4 parallel parts)."""
    plan = tensorflow_kernels.plan(layer, dtype="float32", gpu=tensorflow_kernels.gpu_available(), xla=False)
    if plan.kernel == "block_lstm":
        return f"fused x{tensorflow_kernels.block_lstm_part_count(batch)}"
    return {"cudnn": "cudnn", "loop": "loop"}[plan.kernel]


def batches_for(seconds: float, size: Size, task: str = "training") -> int:
    """Batches per timed run so that one run of Keras's LSTM takes about `seconds` (at least 4)."""
    x, y = data(size, 8)
    model = model_with(keras.layers.LSTM(size.units), size)
    if task == "training":
        model.fit(x, y, batch_size=size.batch, verbose=0)
        per_batch = timed(lambda: model.fit(x, y, batch_size=size.batch, verbose=0)).wall / 8
    else:
        model.predict(x, batch_size=size.batch, verbose=0)
        per_batch = timed(lambda: model.predict(x, batch_size=size.batch, verbose=0)).wall / 8
    return max(4, round(seconds / per_batch))


def compare_training_and_inference(
    sizes: Sequence[Size], paths: Sequence[str], rounds: int, seconds: float, inference: bool
) -> None:
    """Sections 1 and 2: layers.LSTM per path vs keras.layers.LSTM, fit (and predict) throughput."""
    columns = "".join(f"{path + ' seq/s':>15}{'x keras (cpu)':>15}" for path in paths)
    for task in ("training", "inference") if inference else ("training",):
        print(
            f"\n{task} throughput ({'fit, Adam, Dense(1) head' if task == 'training' else 'predict'}), "
            f"{FEATURES} features; x keras = layers.LSTM speed / keras.layers.LSTM speed in wall time (in CPU time), "
            f"median of {rounds} rounds"
        )
        header = f"{'batch x steps x units':<22}{'auto path':>11}{'keras seq/s':>13}{columns}"
        print(header)
        print("-" * len(header))
        for size in sizes:
            batches = batches_for(seconds, size, task)
            x, y = data(size, batches)
            reference = model_with(keras.layers.LSTM(size.units), size)
            ours = {path: model_with(layers.LSTM(size.units, implementation=path), size) for path in paths}
            auto_path = chosen_path(layers.LSTM(size.units), size.batch)
            runs: dict[str, Callable[[], object]] = {}
            for name, model in {"keras": reference, **ours}.items():
                if task == "training":
                    model.fit(x[: 2 * size.batch], y[: 2 * size.batch], batch_size=size.batch, verbose=0)
                    runs[name] = lambda m=model, x=x, y=y, b=size.batch: m.fit(x, y, batch_size=b, verbose=0)
                else:
                    model.predict(x[: 2 * size.batch], batch_size=size.batch, verbose=0)
                    runs[name] = lambda m=model, x=x, b=size.batch: m.predict(x, batch_size=b, verbose=0)
            timings = race(runs, rounds)
            sequences = len(x)
            row = f"{size!s:<22}{auto_path:>11}{sequences / statistics.median(t.wall for t in timings['keras']):>13.0f}"
            for path in paths:
                row += f"{sequences / statistics.median(t.wall for t in timings[path]):>15.0f}"
                row += f"{ratios(timings[path], timings['keras']):>15}"
            print(row, flush=True)


def compare_cells(size: Size, rounds: int, seconds: float) -> None:
    """Section 3: every registered layer's training throughput relative to keras.layers.LSTM."""
    batches = batches_for(seconds, size)
    x, y = data(size, batches)
    print(
        f"\ncells: training throughput relative to keras.layers.LSTM, batch {size.batch}, {size.steps} steps, "
        f"{size.units} units, median of {rounds} rounds (each cell raced against its own Keras LSTM)"
    )
    header = f"{'layer':<16}{'seq/s':>9}{'x keras LSTM (cpu)':>20}"
    print(header)
    print("-" * len(header))
    contenders: dict[str, Callable[[], keras.layers.Layer]] = {
        name: (lambda name=name: layers.get(name, size.units)) for name in layers.available()
    }
    contenders["keras GRU"] = lambda: keras.layers.GRU(size.units)
    for name, make in contenders.items():
        ours, reference = model_with(make(), size), model_with(keras.layers.LSTM(size.units), size)
        for model in (ours, reference):
            model.fit(x[: 2 * size.batch], y[: 2 * size.batch], batch_size=size.batch, verbose=0)
        timings = race(
            {
                "ours": lambda ours=ours: ours.fit(x, y, batch_size=size.batch, verbose=0),
                "keras": lambda reference=reference: reference.fit(x, y, batch_size=size.batch, verbose=0),
            },
            rounds,
        )
        speed = len(x) / statistics.median(t.wall for t in timings["ours"])
        print(f"{name:<16}{speed:>9.0f}{ratios(timings['ours'], timings['keras']):>20}", flush=True)


# The PyTorch side of section 4 runs in its own process, which imports neither Keras nor TensorFlow: the two
# frameworks' thread pools both spin-wait for work and would compete inside one process. The parent still
# interleaves the rounds, through the child's stdin and stdout; the child reports its own wall and CPU seconds.
_TORCH_CHILD = """
import sys, time
import numpy as np
import torch

batch, steps, units, features, batches, threads = map(int, sys.argv[1:])
if threads:
    torch.set_num_threads(threads)
rng = np.random.default_rng(0)
x = rng.normal(size=(batch * batches, steps, features)).astype("float32")
y = x[:, -5:, 0].mean(axis=1, keepdims=True)
torch.manual_seed(0)
lstm = torch.nn.LSTM(features, units, batch_first=True)
head = torch.nn.Linear(units, 1)
optimizer = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-3)
x, y = torch.from_numpy(x), torch.from_numpy(y)

def epoch():
    for start in range(0, len(x), batch):
        optimizer.zero_grad()
        outputs, _ = lstm(x[start : start + batch])
        loss = torch.nn.functional.mse_loss(head(outputs[:, -1]), y[start : start + batch])
        loss.backward()
        optimizer.step()

epoch()
print(torch.__version__, torch.get_num_threads(), flush=True)
for command in sys.stdin:
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    epoch()
    print(time.perf_counter() - start_wall, time.process_time() - start_cpu, flush=True)
"""


class TorchChild:
    """A child process that trains torch.nn.LSTM for one epoch each time it is asked (see `_TORCH_CHILD`)."""

    def __init__(self, size: Size, batches: int, threads: int) -> None:
        arguments = [str(v) for v in (size.batch, size.steps, size.units, FEATURES, batches, threads)]
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TORCH_CHILD, *arguments], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.version, self.threads = self.process.stdout.readline().split()
        self.timings: list[Timing] = []  # as the child measured them: its own wall and CPU seconds

    def epoch(self) -> None:
        self.process.stdin.write("epoch\n")
        self.process.stdin.flush()
        wall, cpu = map(float, self.process.stdout.readline().split())
        self.timings.append(Timing(wall, cpu))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def step_loop(model: keras.Model, x: np.ndarray, y: np.ndarray, batch: int) -> Callable[[], None]:
    """One epoch of `model` trained as PyTorch's side trains: a compiled training step (forward, MSE, backward,
    the model's optimizer) per batch, the batches taken in order from tensors already in memory; no shuffling,
    callbacks or logs, which Keras's `fit` adds to every step."""
    import tensorflow as tf

    batches = len(x) // batch
    xs = tf.constant(x[: batches * batch].reshape(batches, batch, *x.shape[1:]))
    ys = tf.constant(y[: batches * batch].reshape(batches, batch, *y.shape[1:]))
    variables = model.trainable_variables
    model.optimizer.build(variables)

    @tf.function
    def step(index):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(xs[index], training=True) - ys[index]))
        model.optimizer.apply(tape.gradient(loss, variables), variables)

    indices = [tf.constant(index) for index in range(batches)]

    def epoch() -> None:
        for index in indices:
            step(index)

    return epoch


def compare_pytorch(sizes: Sequence[Size], rounds: int, seconds: float, threads: int = 0) -> None:
    """Section 4: torch.nn.LSTM training steps vs Keras's fit and ours (when torch is installed).

    Keras's `fit` costs something per batch whatever the layer: the `fit floor` column is `fit` of the same
    model with `Flatten` in place of the LSTM, the most any recurrent layer could reach inside `fit`. The `ours
    loop` column trains our layer in a loop like PyTorch's (`step_loop`), so that `x torch` there compares the
    layers, forward, backward and Adam, without either framework's training-loop overhead.

    `threads`: PyTorch's intra-op threads (0: its default, one per core). On a loaded machine PyTorch's OpenMP
    threads spin at every barrier and 2 threads on 2 busy cores can run 10-50x slower than 1.
    """
    if importlib.util.find_spec("torch") is None:
        print("\nPyTorch: skipped, torch is not installed (pip install torch==2.13.0 for the CPU build)")
        return
    names = {
        "torch": "torch",
        "keras": "keras fit",
        "ours": "ours fit",
        "ours_loop": "ours loop",
        "floor": "fit floor",
    }
    header = (
        f"{'batch x steps x units':<22}"
        + "".join(f"{name + ' seq/s':>17}" for name in names.values())
        + "".join(f"{f'{names[name]} x torch':>20}" for name in ("keras", "ours", "ours_loop", "floor"))
    )
    for index, size in enumerate(sizes):
        batches = batches_for(seconds, size)
        x, y = data(size, batches)
        child = TorchChild(size, batches, threads)
        if index == 0:
            print(
                f"\nPyTorch {child.version} ({child.threads} threads, own process): nn.LSTM + Linear, Adam, MSE, one "
                f"training step per batch; x torch = speed / torch speed in wall time (CPU time), median of {rounds} "
                "rounds; fit floor = Keras fit without the LSTM (Flatten + Dense), ours loop = our layer in a loop "
                "like PyTorch's"
            )
            print(header)
            print("-" * len(header))
        models = {
            "keras": model_with(keras.layers.LSTM(size.units), size),
            "ours": model_with(layers.LSTM(size.units), size),
            "floor": model_with(keras.layers.Flatten(), size),
        }
        runs: dict[str, Callable[[], object]] = {"torch": child.epoch}
        for name, model in models.items():
            model.fit(x[: 2 * size.batch], y[: 2 * size.batch], batch_size=size.batch, verbose=0)
            runs[name] = lambda model=model, x=x, y=y, size=size: model.fit(x, y, batch_size=size.batch, verbose=0)
        runs["ours_loop"] = step_loop(model_with(layers.LSTM(size.units), size), x, y, size.batch)
        runs["ours_loop"]()
        timings = race(runs, rounds)
        timings["torch"] = child.timings
        child.close()
        speed = {name: len(x) / statistics.median(t.wall for t in timings[name]) for name in names}
        print(
            f"{size!s:<22}"
            + "".join(f"{speed[name]:>17.0f}" for name in names)
            + "".join(
                f"{ratios(timings[name], timings['torch']):>20}" for name in ("keras", "ours", "ours_loop", "floor")
            ),
            flush=True,
        )


def compare_loop_options(
    rounds: int, batches: int, cells: Sequence[str] = ("lstm", "gru"), batch_sizes: Sequence[int] = (64, 256)
) -> None:
    """Section 5: the Forecaster's training loop under steps_per_execution, tf.data and XLA."""
    for cell in cells:
        for batch in batch_sizes:
            compare_loop_options_for(cell, batch, rounds, batches)


def compare_loop_options_for(cell: str, batch: int, rounds: int, batches: int) -> None:
    import tensorflow as tf

    from forecast.network import build_network

    lookback, horizon, units = 30, 18, 64
    windows = batch * batches
    rng = np.random.default_rng(0)
    past = rng.normal(size=(windows, lookback, 1)).astype("float32")
    target = rng.normal(size=(windows, horizon)).astype("float32")

    def network(cell: str, steps_per_execution: int = 1, jit_compile: bool = False) -> keras.Model:
        keras.utils.set_random_seed(0)
        model = build_network(cell, units, 1, lookback, horizon, n_past_features=1)
        model.compile(
            optimizer=keras.optimizers.Adam(2e-3, clipnorm=1.0),
            loss="mae",
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
        )
        return model

    def dataset() -> tf.data.Dataset:
        return (
            tf.data.Dataset.from_tensor_slices(({"past": past}, target))
            .shuffle(windows, seed=0, reshuffle_each_iteration=True)
            .batch(batch)
            .prefetch(tf.data.AUTOTUNE)
        )

    options = {
        "today (NumPy, spe 1, no XLA)": ({}, False),
        "steps_per_execution 8": ({"steps_per_execution": 8}, False),
        "steps_per_execution 32": ({"steps_per_execution": 32}, False),
        "tf.data": ({}, True),
        "tf.data + spe 32": ({"steps_per_execution": 32}, True),
        "XLA (jit_compile=True)": ({"jit_compile": True}, False),
        "XLA + spe 32": ({"steps_per_execution": 32, "jit_compile": True}, False),
    }
    runs, first_fit = {}, {}
    for name, (settings, use_dataset) in options.items():
        model = network(cell, **settings)
        if use_dataset:
            data_set = dataset()
            first_fit[name] = timed(lambda model=model, data_set=data_set: model.fit(data_set.take(2), verbose=0))
            runs[name] = lambda model=model, data_set=data_set: model.fit(data_set, verbose=0)
        else:
            first_fit[name] = timed(
                lambda model=model: model.fit(
                    {"past": past[: 2 * batch]}, target[: 2 * batch], batch_size=batch, verbose=0
                )
            )
            runs[name] = lambda model=model: model.fit(
                {"past": past}, target, batch_size=batch, shuffle=True, verbose=0
            )
    print(
        f"\nForecaster training loop: build_network({cell!r}, {units} units, lookback {lookback}, horizon "
        f"{horizon}), batch {batch}, {windows} windows per epoch, median of {rounds} rounds; first fit = the "
        "seconds of the first fit call on 2 batches (tracing, and XLA compilation)"
    )
    timings = race(runs, rounds)
    baseline = next(iter(options))
    header = f"{'option':<32}{'windows/s':>11}{'x today (cpu)':>15}{'first fit s':>13}"
    print(header)
    print("-" * len(header))
    for name in options:
        speed = windows / statistics.median(t.wall for t in timings[name])
        print(
            f"{name:<32}{speed:>11.0f}{ratios(timings[name], timings[baseline]):>15}{first_fit[name].wall:>13.1f}",
            flush=True,
        )


def compare_kernels(batches: Sequence[int], units: Sequence[int], steps: int, rounds: int) -> None:
    """Section 6: BlockLSTMV2 against the generic loop, forward and backward of the layer alone.

    The table behind `layers.tensorflow_kernels.BLOCK_LSTM_MAX_UNITS`: on another CPU, rerun it and move the
    bound to where the ratio crosses 1.
    """
    import tensorflow as tf

    print(
        f"\nkernel grid: layers.LSTM fused / loop speed, forward and backward of the layer ({steps} steps, "
        f"{FEATURES} features), wall (cpu), median of {rounds} rounds"
    )
    header = f"{'batch':<8}" + "".join(f"{f'{u} units':>16}" for u in units)
    print(header)
    print("-" * len(header))
    for batch in batches:
        row = f"{batch:<8}"
        for unit_count in units:
            x = tf.constant(data(Size(batch, steps, unit_count), 1)[0])
            steps_of = {}
            for path in ("fused", "loop"):
                layer = layers.LSTM(unit_count, implementation=path)
                layer.build(x.shape)

                @tf.function
                def step(layer=layer, x=x):
                    with tf.GradientTape() as tape:
                        loss = tf.reduce_sum(layer(x, training=True))
                    return tape.gradient(loss, layer.trainable_weights)

                step()
                steps_of[path] = lambda step=step: [g.numpy() for g in step()]
            calls = max(1, round(0.1 / timed(steps_of["loop"]).wall))
            timings = race(
                {path: lambda run=run, calls=calls: [run() for _ in range(calls)] for path, run in steps_of.items()},
                rounds,
            )
            row += f"{ratios(timings['fused'], timings['loop']):>16}"
        print(row, flush=True)


@contextlib.contextmanager
def recurrent_layers_on_the_loop():
    """Every `LSTM` and `GRU` of `layers` built inside runs the generic loop (`implementation="loop"`), as all of
    them did before the fused kernels."""
    from layers.base import FusedRecurrentLayer

    fused_init = FusedRecurrentLayer.__init__

    def loop_init(self, *args, implementation="auto", **kwargs):
        fused_init(self, *args, implementation="loop", **kwargs)

    FusedRecurrentLayer.__init__ = loop_init
    try:
        yield
    finally:
        FusedRecurrentLayer.__init__ = fused_init


def compare_forecaster_fit(max_series: int | None) -> None:
    """Section 7: `Forecaster.fit` on M3 monthly with the layers as shipped (`implementation="auto"`) and with every
    LSTM on the generic loop (as before the fused kernels), otherwise the same: the demo's settings (`lstm`, 64
    units, lookback 36, horizon 18) with `combine_with=None` (the network alone, whose training the layers decide),
    seed 0, no tracking. Prints the wall time of `fit`, the epochs it trained (early stopping decides them, so
    seconds per epoch is the like-for-like figure) and the test part's sMAPE and MASE. The two paths differ in
    float rounding only, which training can amplify. The shipped layers run first, so that any one-time cost in
    the process falls on them."""
    from forecast.demo import HORIZON, LOOKBACK, load_m3_monthly, score
    from forecast.forecaster import Forecaster
    from pipelines.columns import ID

    train, test = load_m3_monthly(max_series)
    print(
        f"\nForecaster.fit on M3 monthly ({train[ID].nunique()} series; lstm, 64 units, lookback {LOOKBACK}, "
        f"horizon {HORIZON}, combine_with=None, seed 0), one run each"
    )
    print(f"{'layers':<28}{'fit s':>9}{'epochs':>8}{'s/epoch':>9}{'sMAPE':>9}{'MASE':>9}")
    per_epoch = {}
    for name in ("as shipped (auto)", "every LSTM on the loop"):
        model = Forecaster(
            cell="lstm",
            units=64,
            lookback=LOOKBACK,
            horizon=HORIZON,
            combine_with=None,
            seed=0,
            verbose=0,
            tracking=False,
        )
        with recurrent_layers_on_the_loop() if "loop" in name else contextlib.nullcontext():
            seconds = timed(lambda model=model: model.fit(train)).wall
            scores = score(model.predict(), train, test)
        epochs = model.epochs_trained_ + (model.refit_epochs_ or 0)
        per_epoch[name] = seconds / epochs
        print(
            f"{name:<28}{seconds:>9.1f}{epochs:>8}{per_epoch[name]:>9.2f}{scores['smape']:>9.3f}{scores['mase']:>9.3f}",
            flush=True,
        )
    speedup = per_epoch["every LSTM on the loop"] / per_epoch["as shipped (auto)"]
    print(f"seconds per epoch, loop / as shipped: {speedup:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=None, help="batch x steps x units, e.g. 64x30x32")
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=["auto"], help="implementations of layers.LSTM")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=2.0, help="target length of one timed run (Keras's LSTM)")
    parser.add_argument("--quick", action="store_true", help="sections 1 and 2, 3 rounds of about 0.6 s")
    parser.add_argument("--loop-options", action="store_true", help="only section 5 (the Forecaster's fit options)")
    parser.add_argument(
        "--steps-per-execution", type=int, default=1, help="batches per compiled call for every model of sections 1-4"
    )
    parser.add_argument("--kernel-grid", action="store_true", help="only section 6 (fused vs loop, layer alone)")
    parser.add_argument("--pytorch", action="store_true", help="only section 4 (PyTorch vs Keras and ours)")
    parser.add_argument("--torch-threads", type=int, default=0, help="PyTorch's threads in section 4 (0: default)")
    parser.add_argument("--forecaster", action="store_true", help="only section 7 (Forecaster.fit on M3 monthly)")
    parser.add_argument("--max-series", type=int, default=None, help="section 7 on the first N series of M3 monthly")
    args = parser.parse_args(argv)
    global STEPS_PER_EXECUTION
    STEPS_PER_EXECUTION = args.steps_per_execution
    if args.quick:
        args.rounds, args.seconds = 3, 0.6
    sizes = [Size.parse(text) for text in (args.sizes or (*WORKING_SIZES, *LARGE_SIZES))]
    if args.loop_options:
        compare_loop_options(args.rounds, batches=40)
        return
    if args.kernel_grid:
        compare_kernels((16, 32, 64, 128, 256, 512), (32, 64, 128, 256), steps=50, rounds=args.rounds)
        return
    if args.pytorch:
        compare_pytorch(sizes, args.rounds, args.seconds, args.torch_threads)
        return
    if args.forecaster:
        compare_forecaster_fit(args.max_series)
        return
    compare_training_and_inference(sizes, args.paths, args.rounds, args.seconds, inference=True)
    if args.quick or args.sizes:
        return
    compare_cells(Size.parse(CELLS_SIZE), args.rounds, args.seconds)
    compare_pytorch(sizes, args.rounds, args.seconds, args.torch_threads)


if __name__ == "__main__":
    main()
