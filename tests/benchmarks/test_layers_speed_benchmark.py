"""The layer-speed benchmark's op profile: real TensorFlow profiles of a tiny training step, summed by op type."""

from __future__ import annotations

from benchmarks import layers_speed
from benchmarks.layers_speed import Size


def test_the_op_profile_finds_the_fused_lstm_kernels_and_times_every_op_once(monkeypatch):
    monkeypatch.setattr(layers_speed, "PROFILED_BATCHES", 2)
    by_op, wall_ms = layers_speed.time_by_op("lstm", Size(batch=16, steps=5, units=8))
    # The LSTM trains on TensorFlow's fused kernels, forward and backward; the optimizer's ops are there too.
    assert by_op["BlockLSTMV2"] > 0 and by_op["BlockLSTMGradV2"] > 0
    assert any(name.startswith(("ResourceApplyAdam", "AssignSubVariableOp", "Sqrt")) for name in by_op)
    # Container events ("ExecutorState::Process", Eigen's "ParallelFor") hold kernels and are not counted.
    assert "Process" not in by_op and "ParallelFor" not in by_op
    # Kernel time is CPU time on at most the machine's two threads (plus the executor's): bounded by the wall.
    assert 0 < sum(by_op.values()) < 4 * wall_ms
