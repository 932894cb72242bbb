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
4. training paths (`--pytorch`): training steps per second of one network shape (a recurrent layer, a Dense(1)
   head on its last output, Adam, MSE, 8 features) at 64x30x32, 64x30x64, 64x100x64, 256x100x64 and 256x100x256:
   `torch.nn.LSTM` and `nn.GRU` (CPU build, `--torch-threads` 2, a child process, a step per batch), Keras's
   `keras.layers.LSTM`/`GRU` in `fit` (8 steps per execution, as the Forecaster used `fit`) and ours,
   `layers.LSTM`/`GRU`, through the Forecaster's training path (`forecast.training_loop`); each timed call trains
   3 epochs. Then the achieved GFLOP/s of those steps (`training_flops`) against the CPU's peak (`cpu_peak_gflops`,
   from `lscpu`), a large matmul and a matmul of the LSTM's per-step gate shape, and where our LSTM's step spends
   its time by TensorFlow op type, from TensorFlow's profiler (`--op-profile`: that part alone). PyTorch is left
   out with a note when `torch` is not installed.
5. `--loop-options`: the Forecaster's network (`forecast.network.build_network`, LSTM and GRU, 64 units,
   lookback 30, horizon 18, batch 64 and 256, one input feature, MAE, Adam with clipnorm) trained by `fit` under
   its options (`steps_per_execution` 1, 8 and 32, a `tf.data` pipeline, XLA) and by `forecast.training_loop`;
   steps per second, CPU milliseconds per step and the speed relative to `fit` with 8 steps per execution (the
   Forecaster before the loop), and the time of the first call (tracing, compiling).
6. `--kernel-grid`: `layers.LSTM` forced onto BlockLSTMV2 against the generic loop, forward and backward of the
   layer alone (the kernel with the batch in parallel parts), batch 16-512 x units 32-256: the measurements
   behind `tensorflow_kernels.BLOCK_LSTM_MAX_UNITS`.
7. `--forecaster`: `Forecaster.fit` on M3 monthly (lookback 36, horizon 18, otherwise default settings but
   `combine_with=None`; seed 0) with its network trained by Keras's `fit` (8 steps per execution, before) and by
   `forecast.training_loop` (after): fit seconds, epochs, the network's training seconds (wall and CPU) per
   epoch, sMAPE and MASE.

    python -m benchmarks.layers_speed                  # sections 1-4
    python -m benchmarks.layers_speed --quick          # sections 1 and 2 only, fewer rounds: about 2 minutes
    python -m benchmarks.layers_speed --loop-options   # section 5 only
    python -m benchmarks.layers_speed --kernel-grid    # section 6 only
    python -m benchmarks.layers_speed --pytorch        # section 4 only (at --sizes, when given): about 10 minutes
    python -m benchmarks.layers_speed --forecaster     # section 7 only: about 5 minutes on 2 cores
    python -m benchmarks.layers_speed --op-profile     # where our LSTM's training step spends its time: a minute
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
TRAINING_PATH_SIZES = ("64x30x32", "64x30x64", "64x100x64", "256x100x64", "256x100x256")
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


def model_with(recurrent: keras.layers.Layer, size: Size, steps_per_execution: int | None = None) -> keras.Model:
    """`recurrent` with a Dense(1) head on its last output, compiled with Adam and MSE (`STEPS_PER_EXECUTION` steps
    per execution unless given)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size.steps, FEATURES))
    model = keras.Model(inputs, keras.layers.Dense(1)(recurrent(inputs)))
    model.compile(
        optimizer="adam", loss="mse", jit_compile=False, steps_per_execution=steps_per_execution or STEPS_PER_EXECUTION
    )
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

cell = sys.argv[1]
batch, steps, units, features, batches, threads = map(int, sys.argv[2:])
if threads:
    torch.set_num_threads(threads)
rng = np.random.default_rng(0)
x = rng.normal(size=(batch * batches, steps, features)).astype("float32")
y = x[:, -5:, 0].mean(axis=1, keepdims=True)
torch.manual_seed(0)
recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](features, units, batch_first=True)
head = torch.nn.Linear(units, 1)
optimizer = torch.optim.Adam([*recurrent.parameters(), *head.parameters()], lr=1e-3)
x, y = torch.from_numpy(x), torch.from_numpy(y)

def epoch():
    for start in range(0, len(x), batch):
        optimizer.zero_grad()
        outputs, _ = recurrent(x[start : start + batch])
        loss = torch.nn.functional.mse_loss(head(outputs[:, -1]), y[start : start + batch])
        loss.backward()
        optimizer.step()

epoch()
print(torch.__version__, torch.get_num_threads(), flush=True)
for epochs in sys.stdin:
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(int(epochs)):
        epoch()
    print(time.perf_counter() - start_wall, time.process_time() - start_cpu, flush=True)
"""


class TorchChild:
    """A child process that trains `torch.nn.LSTM` or `nn.GRU` for the epochs it is asked for (`_TORCH_CHILD`)."""

    def __init__(self, cell: str, size: Size, batches: int, threads: int) -> None:
        arguments = [cell, *(str(v) for v in (size.batch, size.steps, size.units, FEATURES, batches, threads))]
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TORCH_CHILD, *arguments], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.version, self.threads = self.process.stdout.readline().split()
        self.timings: list[Timing] = []  # as the child measured them: its own wall and CPU seconds

    def train(self, epochs: int = 1) -> None:
        self.process.stdin.write(f"{epochs}\n")
        self.process.stdin.flush()
        wall, cpu = map(float, self.process.stdout.readline().split())
        self.timings.append(Timing(wall, cpu))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def forecaster_path(
    recurrent: keras.layers.Layer, x: np.ndarray, y: np.ndarray, size: Size, epochs: int
) -> Callable[[], object]:
    """`epochs` epochs of `recurrent` + Dense(1) (Adam, MSE) trained as the Forecaster trains its network: through
    `forecast.training_loop.EpochLoop` (windows resident as tensors, a shuffled epoch per compiled call, the
    callbacks' hooks and `History`); traced before it returns."""
    from forecast.training_loop import EpochLoop

    keras.utils.set_random_seed(0)
    inputs = keras.Input((size.steps, x.shape[-1]), name="past")
    model = keras.Model({"past": inputs}, keras.layers.Dense(1)(recurrent(inputs)))
    model.compile(optimizer="adam", loss="mse", jit_compile=False)
    loop = EpochLoop(model=model, inputs={"past": x}, target=y, batch_size=size.batch, seed=0)
    loop.epoch()
    return lambda: loop.train(epochs)


CELLS = {"lstm": (keras.layers.LSTM, layers.LSTM), "gru": (keras.layers.GRU, layers.GRU)}
FORECASTER_STEPS_PER_EXECUTION = 8
"""Keras's `fit` as the Forecaster ran it before `forecast.training_loop` (8 steps per compiled call)."""
EPOCHS_PER_RUN = 3
"""Epochs in one timed call of section 4 and 5: the Forecaster calls `fit` once for all its epochs, so `fit`'s
cost per call (its data adapter and iterator, the callbacks) is spread over them as it is there."""


def training_flops(cell: str, size: Size, features: int = FEATURES) -> float:
    """FLOPs of one training step of the recurrent layer, counted from its matrix products.

    Forward, per time step, the gate pre-activations `[x_t; h_{t-1}] W` (`g` gate blocks: 4 for the LSTM, 3
    for the GRU) cost `2 g units (features + units) batch`; the backward pass costs two such products (the
    gradients of the inputs and of the weights), so a training step is about 3 forward passes. The element-wise
    gate arithmetic, the Dense head and Adam add well under 5% at these sizes and are left out.
    """
    gates = {"lstm": 4, "gru": 3}[cell]
    return 3 * 2 * gates * size.units * (features + size.units) * size.batch * size.steps


def compare_training_paths(sizes: Sequence[Size], rounds: int, seconds: float, threads: int = 2) -> None:
    """Section 4: training steps per second of one network shape in three frameworks' training paths.

    Every contender trains a recurrent layer with a Dense(1) head on its last output (Adam, MSE) over the same
    data: `torch.nn.LSTM` and `nn.GRU` (CPU build, `threads` threads, own process, a step per batch in order),
    Keras's `keras.layers.LSTM`/`GRU` in `fit` (8 steps per execution, shuffled) and ours, `layers.LSTM`/`GRU`,
    through the Forecaster's training path (`forecaster_path`). Then the achieved GFLOP/s of the training steps
    (`training_flops`) against the CPU's peak and against matrix products of the layer's own shape.
    """
    has_torch = importlib.util.find_spec("torch") is not None
    contenders = [
        *(["torch lstm", "torch gru"] if has_torch else []),
        "keras lstm",
        "keras gru",
        "ours lstm",
        "ours gru",
    ]
    compared = [("ours lstm", "keras lstm"), ("ours gru", "keras gru")]
    if has_torch:
        compared = [("ours lstm", "torch lstm"), ("ours gru", "torch gru"), *compared]
    else:
        print("\nPyTorch: left out, torch is not installed (pip install torch==2.13.0 for the CPU build)")
    header = (
        f"{'batch x steps x units':<22}"
        + "".join(f"{name:>12}" for name in contenders)
        + "".join(f"{f'{ours[5:]} {reference[:-4]}':>14}" for ours, reference in compared)
    )
    speeds: dict[Size, dict[str, float]] = {}
    for index, size in enumerate(sizes):
        batches = batches_for(seconds / EPOCHS_PER_RUN, size)
        x, y = data(size, batches)
        children = {cell: TorchChild(cell, size, batches, threads) for cell in CELLS} if has_torch else {}
        if index == 0:
            torch_note = ""
            if has_torch:
                child = children["lstm"]
                torch_note = f"PyTorch {child.version} ({child.threads} threads, own process, a step per batch); "
            print(
                f"\ntraining steps per second, Dense(1) head, Adam, MSE, {FEATURES} features: {torch_note}Keras in fit "
                f"(steps_per_execution {FORECASTER_STEPS_PER_EXECUTION}); ours through the Forecaster's training "
                f"loop (forecast.training_loop); ratios = our speed / theirs in wall time (CPU time), median of "
                f"{rounds} rounds"
            )
            print(header)
            print("-" * len(header))
        runs: dict[str, Callable[[], object]] = {
            f"torch {cell}": (lambda child=child: child.train(EPOCHS_PER_RUN)) for cell, child in children.items()
        }
        for cell, (keras_layer, our_layer) in CELLS.items():
            reference = model_with(keras_layer(size.units), size, FORECASTER_STEPS_PER_EXECUTION)
            reference.fit(x[: 2 * size.batch], y[: 2 * size.batch], batch_size=size.batch, verbose=0)
            runs[f"keras {cell}"] = lambda model=reference, x=x, y=y, b=size.batch: model.fit(
                x, y, batch_size=b, epochs=EPOCHS_PER_RUN, verbose=0
            )
            runs[f"ours {cell}"] = forecaster_path(our_layer(size.units), x, y, size, EPOCHS_PER_RUN)
        timings = race(runs, rounds)
        for cell, child in children.items():
            timings[f"torch {cell}"] = child.timings
            child.close()
        steps = batches * EPOCHS_PER_RUN
        speeds[size] = {name: steps / statistics.median(t.wall for t in timings[name]) for name in contenders}
        print(
            f"{size!s:<22}"
            + "".join(f"{speeds[size][name]:>12.1f}" for name in contenders)
            + "".join(f"{ratios(timings[ours], timings[reference]):>14}" for ours, reference in compared),
            flush=True,
        )
    print_flops(speeds, sizes, has_torch)
    print_time_by_op(sizes)


def print_flops(speeds: dict[Size, dict[str, float]], sizes: Sequence[Size], has_torch: bool) -> None:
    """The training steps' achieved GFLOP/s beside the CPU's peak, a large matmul (the most TensorFlow reaches on
    this machine) and a matmul of the LSTM's per-step gate shape (the most its kernel's products could reach)."""
    peak, derivation = cpu_peak_gflops()
    print(f"\nachieved GFLOP/s of the training steps above (wall time; `training_flops`); CPU peak {derivation}")
    big = matmul_gflops(2048, 2048, 2048)
    print(
        f"a 2048 x 2048 x 2048 float32 matmul (tf.matmul) reaches {big:.0f} GFLOP/s ({100 * big / peak:.0f}% of that "
        "peak; above 100% the cores run faster than the clock lscpu gives); gate matmul = GFLOP/s of independent "
        "(batch, features + units) x (features + units, 4 units) products"
    )
    names = ["ours lstm", "ours gru", *(["torch lstm", "torch gru"] if has_torch else [])]
    header = (
        f"{'batch x steps x units':<22}{'MFLOP/step':>11}"
        + "".join(f"{name:>12}" for name in names)
        + f"{'ours lstm % peak':>17}{'% 2048 matmul':>15}{'gate matmul':>13}{'ours / gate':>13}"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        achieved = {name: speeds[size][name] * training_flops(name.split()[1], size) / 1e9 for name in names}
        gate_matmul = matmul_gflops(size.batch, FEATURES + size.units, 4 * size.units)
        print(
            f"{size!s:<22}{training_flops('lstm', size) / 1e6:>11.1f}"
            + "".join(f"{achieved[name]:>12.1f}" for name in names)
            + f"{100 * achieved['ours lstm'] / peak:>16.1f}%{100 * achieved['ours lstm'] / big:>14.1f}%"
            + f"{gate_matmul:>13.1f}{achieved['ours lstm'] / gate_matmul:>13.2f}",
            flush=True,
        )


PROFILED_BATCHES = 20
"""Batches of one profiled epoch (`time_by_op`); three such epochs are traced."""


def time_by_op(cell: str, size: Size) -> tuple[dict[str, float], float]:
    """CPU milliseconds per training step spent in each TensorFlow op type, and the wall milliseconds per step,
    of ours through the Forecaster's training path, from TensorFlow's profiler.

    Three epochs of `PROFILED_BATCHES` batches are traced after two untraced ones; every event of the executor's
    and Eigen's threads named `op:OpType` is an op's kernel, summed by type (container events, which hold kernels,
    are left out, so nothing is counted twice).
    """
    import glob
    import os
    import tempfile

    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    x, y = data(size, PROFILED_BATCHES)
    run = forecaster_path(CELLS[cell][1](size.units), x, y, size, 1)
    run()
    epochs = 3
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        wall = timed(lambda: [run() for _ in range(epochs)]).wall
        tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        with open(path, "rb") as file:
            space = xplane_pb2.XSpace.FromString(file.read())
    steps = epochs * PROFILED_BATCHES
    milliseconds: dict[str, float] = {}
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        names = {key: value.name for key, value in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith(("tf_Compute", "tf_numa")):
                continue
            for event in line.events:
                name = names[event.metadata_id]
                _, colon, op_type = name.rpartition(":")
                if colon and "::" not in name:  # "ExecutorState::Process" and the like hold kernels
                    milliseconds[op_type] = milliseconds.get(op_type, 0.0) + event.duration_ps / 1e9 / steps
    return milliseconds, 1e3 * wall / steps


def print_time_by_op(sizes: Sequence[Size], cell: str = "lstm") -> None:
    """Where our training step's time goes (`time_by_op`): the recurrent kernels' CPU time and GFLOP/s per core,
    and everything else (the head, the loss, Adam, the in-graph shuffle, transposes) together. A size the layer
    runs on its generic loop (beyond `BLOCK_LSTM_MAX_UNITS`) has no such kernels: all of it is "other"."""
    kernels = {"lstm": ("BlockLSTMV2", "BlockLSTMGradV2")}.get(cell)
    if kernels is None:
        return
    print(
        f"\nwhere ours ({cell}) spends a training step (TensorFlow's profiler, CPU ms per step summed over threads; "
        "GFLOP/s per core = the kernel's FLOPs (`training_flops`: forward 1/3, backward 2/3) / its CPU time)"
    )
    header = (
        f"{'batch x steps x units':<22}{'wall ms':>9}{'CPU ms':>9}{'forward':>10}{'backward':>10}{'other':>9}"
        f"{'kernels %':>11}{'fwd GFLOP/s':>13}{'bwd GFLOP/s':>13}  largest other ops"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        by_op, wall = time_by_op(cell, size)
        forward, backward = (by_op.get(name, 0.0) for name in kernels)
        total = sum(by_op.values())
        other = total - forward - backward
        flops = training_flops(cell, size)
        largest = sorted((item for item in by_op.items() if item[0] not in kernels), key=lambda item: -item[1])[:3]
        rates = "".join(
            f"{part_flops / milliseconds / 1e6:>13.1f}" if milliseconds else f"{'(loop)':>13}"
            for part_flops, milliseconds in ((flops / 3, forward), (2 * flops / 3, backward))
        )
        print(
            f"{size!s:<22}{wall:>9.2f}{total:>9.2f}{forward:>10.2f}{backward:>10.2f}{other:>9.2f}"
            f"{100 * (forward + backward) / total:>10.0f}%{rates}  "
            + ", ".join(f"{name} {ms:.2f}" for name, ms in largest),
            flush=True,
        )


def cpu_peak_gflops(fma_units: int = 2) -> tuple[float, str]:
    """The CPU's float32 peak from `lscpu`: cores x GHz x FLOPs per cycle, and how it was derived.

    FLOPs per cycle per core: a fused multiply-add counts 2, times the float32 lanes of the widest vector unit
    (16 for AVX-512, 8 for AVX2), times `fma_units` (2 on Xeon Gold/Platinum and most server cores). The clock is
    `lscpu`'s maximum MHz where it gives one, else BogoMIPS / 2 (the TSC rate of an x86 core, as in a VM).
    """
    fields = {}
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    cores = int(fields.get("CPU(s)", "1"))
    if fields.get("CPU max MHz"):
        ghz, clock = float(fields["CPU max MHz"]) / 1000, "max MHz"
    else:
        ghz, clock = float(fields.get("BogoMIPS", "0")) / 2000, "BogoMIPS / 2"
    flags = fields.get("Flags", "").split()
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    per_cycle = 2 * lanes * fma_units
    peak = cores * ghz * per_cycle
    return peak, (
        f"{peak:.0f} GFLOP/s = {cores} cores x {ghz:.2f} GHz ({clock}) x {per_cycle} FLOPs/cycle "
        f"({fma_units} FMA units x {lanes} float32 lanes x 2)"
    )


def matmul_gflops(rows: int, inner: int, columns: int) -> float:
    """GFLOP/s of a float32 `(rows, inner) @ (inner, columns)` product repeated in one compiled call (best of 3)."""
    import tensorflow as tf

    a = tf.random.normal((rows, inner))
    b = tf.random.normal((inner, columns))
    repeats = max(1, int(2e9 / (2 * rows * inner * columns)))

    @tf.function
    def products():
        total = tf.zeros((rows, columns))
        for _ in tf.range(repeats):
            total += tf.matmul(a, b)
        return total

    products()
    best = min(timed(lambda: products().numpy()).wall for _ in range(3))
    return 2 * rows * inner * columns * repeats / best / 1e9


def compare_loop_options(
    rounds: int, batches: int, cells: Sequence[str] = ("lstm", "gru"), batch_sizes: Sequence[int] = (64, 256)
) -> None:
    """Section 5: the Forecaster's network under Keras's `fit` options and under `forecast.training_loop`."""
    for cell in cells:
        for batch in batch_sizes:
            compare_loop_options_for(cell, batch, rounds, batches)


def compare_loop_options_for(cell: str, batch: int, rounds: int, batches: int) -> None:
    import tensorflow as tf

    from forecast.network import build_network
    from forecast.training import steps_per_epoch
    from forecast.training_loop import EpochLoop

    lookback, horizon, units = 30, 18, 64
    windows = batch * batches + batch // 2  # a partial last batch, as the Forecaster's epochs mostly have
    rng = np.random.default_rng(0)
    past = rng.normal(size=(windows, lookback, 1)).astype("float32")
    target = rng.normal(size=(windows, horizon)).astype("float32")

    def network(steps_per_execution: int = 1, jit_compile: bool = False) -> keras.Model:
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

    baseline = f"fit, spe {FORECASTER_STEPS_PER_EXECUTION} (Forecaster before)"
    options = {
        "fit, NumPy, spe 1": ({}, False),
        baseline: ({"steps_per_execution": FORECASTER_STEPS_PER_EXECUTION}, False),
        "fit, spe 32": ({"steps_per_execution": 32}, False),
        "fit, tf.data + spe 32": ({"steps_per_execution": 32}, True),
        "fit, XLA + spe 32": ({"steps_per_execution": 32, "jit_compile": True}, False),
    }
    runs, first_fit = {}, {}
    for name, (settings, use_dataset) in options.items():
        model = network(**settings)
        if use_dataset:
            data_set = dataset()
            first_fit[name] = timed(lambda model=model, data_set=data_set: model.fit(data_set.take(2), verbose=0))
            runs[name] = lambda model=model, data_set=data_set: model.fit(data_set, epochs=EPOCHS_PER_RUN, verbose=0)
        else:
            first_fit[name] = timed(
                lambda model=model: model.fit(
                    {"past": past[: 2 * batch]}, target[: 2 * batch], batch_size=batch, verbose=0
                )
            )
            runs[name] = lambda model=model: model.fit(
                {"past": past}, target, batch_size=batch, epochs=EPOCHS_PER_RUN, shuffle=True, verbose=0
            )
    loop_name = "training_loop (Forecaster now)"
    built: dict[str, EpochLoop] = {}

    def build_and_trace() -> None:
        built["loop"] = EpochLoop(model=network(), inputs={"past": past}, target=target, batch_size=batch, seed=0)
        built["loop"].epoch()

    first_fit[loop_name] = timed(build_and_trace)
    runs[loop_name] = lambda: built["loop"].train(EPOCHS_PER_RUN)
    print(
        f"\nForecaster training loop: build_network({cell!r}, {units} units, lookback {lookback}, horizon "
        f"{horizon}), MAE, Adam with clipnorm, batch {batch}, {windows} windows per epoch, median of {rounds} "
        "rounds; first call = seconds of the first fit on 2 batches, or of building the loop and its first epoch "
        "(tracing, and XLA compilation)"
    )
    timings = race(runs, rounds)
    header = f"{'option':<34}{'steps/s':>9}{'CPU ms/step':>13}{'x before (cpu)':>16}{'first call s':>14}"
    print(header)
    print("-" * len(header))
    steps = steps_per_epoch(windows, batch) * EPOCHS_PER_RUN
    for name in runs:
        speed = steps / statistics.median(t.wall for t in timings[name])
        cpu = 1000 * statistics.median(t.cpu for t in timings[name]) / steps
        print(
            f"{name:<34}{speed:>9.1f}{cpu:>13.2f}{ratios(timings[name], timings[baseline]):>16}"
            f"{first_fit[name].wall:>14.1f}",
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


def keras_fit_training(self, training, validation, epochs, callbacks, strategy):
    """`Forecaster._train_new_network` as it was before `forecast.training_loop`: Keras's `fit` with 8 steps per
    execution (one device) and NumPy arrays."""
    with strategy.scope():
        self.model_ = self._build_model(training)
        self.model_.compile(
            optimizer=self.model_.optimizer,
            loss=self.model_.loss,
            jit_compile=False,
            steps_per_execution=FORECASTER_STEPS_PER_EXECUTION if self.distribution is None else 1,
        )
    inputs, target, *weights = self._training_arrays(training)
    return self.model_.fit(
        inputs,
        target,
        sample_weight=weights[0] if weights else None,
        validation_data=None if validation is None else self._training_arrays(validation),
        epochs=epochs,
        batch_size=self.batch_size_,
        shuffle=True,
        callbacks=list(callbacks),
        verbose=self.verbose,
    )


@contextlib.contextmanager
def forecaster_training(train_new_network: Callable, seconds: list[Timing]):
    """`Forecaster._train_new_network` replaced by `train_new_network` inside, each call's time appended to
    `seconds` (the network's training alone, without windowing and scoring)."""
    from forecast.forecaster import Forecaster

    shipped = Forecaster._train_new_network

    def timed_training(self, *args):
        history = []
        seconds.append(timed(lambda: history.append(train_new_network(self, *args))))
        return history[0]

    Forecaster._train_new_network = timed_training
    try:
        yield
    finally:
        Forecaster._train_new_network = shipped


def compare_forecaster_fit(max_series: int | None, order: Sequence[str] = ("keras fit", "training loop")) -> None:
    """Section 7: `Forecaster.fit` on M3 monthly with the network trained by Keras's `fit` (8 steps per execution,
    as before `forecast.training_loop`) and by the training loop, otherwise the same: the demo's lookback (36) and
    horizon (18), otherwise default settings but `combine_with=None` (the network alone), seed 0, no tracking. Prints the wall time of `fit`, the network's
    training time (wall and CPU) per epoch (early stopping decides the epochs, so per epoch is the like-for-like
    figure) and the test part's sMAPE and MASE. The two paths shuffle with different generators, so their
    numbers agree in distribution (within the spread between seeds), not to float rounding."""
    from forecast.demo import HORIZON, LOOKBACK, load_m3_monthly, score
    from forecast.forecaster import Forecaster
    from pipelines.columns import ID

    paths = {"keras fit": keras_fit_training, "training loop": Forecaster._train_new_network}
    train, test = load_m3_monthly(max_series)
    print(
        f"\nForecaster.fit on M3 monthly ({train[ID].nunique()} series; lookback {LOOKBACK}, horizon {HORIZON}, "
        "otherwise default settings but combine_with=None, seed 0), one run each; training = the network's "
        "training alone"
    )
    header = f"{'network trained by':<20}{'fit s':>8}{'epochs':>8}{'training s/epoch':>18}{'CPU s/epoch':>13}"
    print(header + f"{'sMAPE':>9}{'MASE':>9}")
    print("-" * (len(header) + 18))
    per_epoch: dict[str, Timing] = {}
    for name in order:
        model = Forecaster(lookback=LOOKBACK, horizon=HORIZON, combine_with=None, seed=0, verbose=0, tracking=False)
        training: list[Timing] = []
        with forecaster_training(paths[name], training):
            seconds = timed(lambda model=model: model.fit(train)).wall
        scores = score(model.predict(), train, test)
        epochs = model.epochs_trained_ + (model.refit_epochs_ or 0)
        per_epoch[name] = Timing(sum(t.wall for t in training) / epochs, sum(t.cpu for t in training) / epochs)
        print(
            f"{name:<20}{seconds:>8.1f}{epochs:>8}{per_epoch[name].wall:>18.2f}{per_epoch[name].cpu:>13.2f}"
            f"{scores['smape']:>9.3f}{scores['mase']:>9.3f}",
            flush=True,
        )
    before, after = per_epoch["keras fit"], per_epoch["training loop"]
    print(
        f"training seconds per epoch, keras fit / training loop: {before.wall / after.wall:.2f}x "
        f"(CPU {before.cpu / after.cpu:.2f}x)"
    )
    compare_forecaster_epochs(train, rounds=5)


class RacedEpochs(Exception):
    """Ends `Forecaster.fit` once `compare_forecaster_epochs` has timed its network's epochs."""


def compare_forecaster_epochs(train, rounds: int, epochs: int = 2) -> None:
    """Section 7, interleaved: the Forecaster's network on the same M3 monthly training windows, `epochs` epochs by
    Keras's `fit` (8 steps per execution) and `epochs` by the training loop, alternating for `rounds` rounds, so
    that the load of other processes hits both alike (the two whole fits above run minutes apart)."""
    from forecast.demo import HORIZON, LOOKBACK
    from forecast.forecaster import Forecaster
    from forecast.training_loop import EpochLoop

    timings: dict[str, list[Timing]] = {}
    batch_sizes: list[int] = []

    def race_epochs(self, training, validation, planned_epochs, callbacks, strategy):
        batch_sizes.append(self.batch_size_)
        inputs, target, *_ = self._training_arrays(training)
        with strategy.scope():
            fitted = self._build_model(training)
            fitted.compile(
                optimizer=fitted.optimizer,
                loss=fitted.loss,
                jit_compile=False,
                steps_per_execution=FORECASTER_STEPS_PER_EXECUTION,
            )
            looped = self._build_model(training)
        fitted.fit(inputs, target, batch_size=self.batch_size_, epochs=1, verbose=0)
        loop = EpochLoop(model=looped, inputs=inputs, target=target, batch_size=self.batch_size_, seed=0)
        loop.epoch()
        runs = {
            "keras fit": lambda: fitted.fit(inputs, target, batch_size=self.batch_size_, epochs=epochs, verbose=0),
            "training loop": lambda: loop.train(epochs),
        }
        timings.update(race(runs, rounds))
        raise RacedEpochs

    model = Forecaster(lookback=LOOKBACK, horizon=HORIZON, combine_with=None, seed=0, verbose=0, tracking=False)
    with forecaster_training(race_epochs, []), contextlib.suppress(RacedEpochs):
        model.fit(train)
    per_epoch = {name: statistics.median(t.wall for t in timings[name]) / epochs for name in timings}
    cpu_per_epoch = {name: statistics.median(t.cpu for t in timings[name]) / epochs for name in timings}
    print(
        f"interleaved on the same training windows (batch {batch_sizes[0]}), {epochs} epochs a call, median of "
        f"{rounds} rounds: keras fit {per_epoch['keras fit']:.2f} s/epoch (CPU {cpu_per_epoch['keras fit']:.2f}), "
        f"training loop {per_epoch['training loop']:.2f} (CPU {cpu_per_epoch['training loop']:.2f}); keras fit / "
        f"training loop {ratios(timings['training loop'], timings['keras fit'])}"
    )


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
    parser.add_argument(
        "--pytorch", action="store_true", help="only section 4 (steps/s: PyTorch, Keras fit, ours as the Forecaster)"
    )
    parser.add_argument("--torch-threads", type=int, default=2, help="PyTorch's threads in section 4 (0: its default)")
    parser.add_argument("--forecaster", action="store_true", help="only section 7 (Forecaster.fit on M3 monthly)")
    parser.add_argument("--op-profile", action="store_true", help="only the end of section 4 (time by op type)")
    parser.add_argument("--max-series", type=int, default=None, help="section 7 on the first N series of M3 monthly")
    args = parser.parse_args(argv)
    global STEPS_PER_EXECUTION
    STEPS_PER_EXECUTION = args.steps_per_execution
    if args.quick:
        args.rounds, args.seconds = 3, 0.6
    sizes = [Size.parse(text) for text in (args.sizes or (*WORKING_SIZES, *LARGE_SIZES))]
    training_path_sizes = [Size.parse(text) for text in (args.sizes or TRAINING_PATH_SIZES)]
    if args.loop_options:
        compare_loop_options(args.rounds, batches=40)
        return
    if args.kernel_grid:
        compare_kernels((16, 32, 64, 128, 256, 512), (32, 64, 128, 256), steps=50, rounds=args.rounds)
        return
    if args.pytorch:
        compare_training_paths(training_path_sizes, args.rounds, args.seconds, args.torch_threads)
        return
    if args.forecaster:
        compare_forecaster_fit(args.max_series)
        return
    if args.op_profile:
        print_time_by_op(training_path_sizes)
        return
    compare_training_and_inference(sizes, args.paths, args.rounds, args.seconds, inference=True)
    if args.quick or args.sizes:
        return
    compare_cells(Size.parse(CELLS_SIZE), args.rounds, args.seconds)
    compare_training_paths(training_path_sizes, args.rounds, args.seconds, args.torch_threads)


if __name__ == "__main__":
    main()
