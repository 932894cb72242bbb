"""The private Keras and TensorFlow names `layers` uses are still where it expects them.

`layers` imports a few names that Keras and TensorFlow do not export publicly (setup.cfg caps Keras below its
next major version). If one moves or changes its signature, these tests fail with the name, before any layer
fails in an obscure way:

- `layers/base.py`: `keras.src.backend.rnn` (the backend time loop of `keras.layers.RNN`) and
  `keras.src.layers.rnn.dropout_rnn_cell.DropoutRNNCell` (the dropout-mask mixin `keras.layers.RNN` recognises);
- `layers/tensorflow_kernels.py`: `keras.src.backend.tensorflow.rnn.lstm`/`gru` (Keras's cuDNN functions) and
  `tensorflow.python.ops.control_flow_util.GraphOrParentsInXlaContext`.
"""

import importlib
import inspect

import keras
import pytest

PRIVATE_FUNCTIONS = {
    ("keras.src.backend", "rnn"): [
        "step_function",
        "inputs",
        "initial_states",
        "go_backwards",
        "mask",
        "unroll",
        "input_length",
        "time_major",
        "zero_output_for_mask",
        "return_all_outputs",
    ],
    ("keras.src.backend.tensorflow.rnn", "lstm"): [
        "inputs",
        "initial_state_h",
        "initial_state_c",
        "mask",
        "kernel",
        "recurrent_kernel",
        "bias",
        "activation",
        "recurrent_activation",
        "return_sequences",
        "go_backwards",
        "unroll",
    ],
    ("keras.src.backend.tensorflow.rnn", "gru"): [
        "inputs",
        "initial_state",
        "mask",
        "kernel",
        "recurrent_kernel",
        "bias",
        "activation",
        "recurrent_activation",
        "return_sequences",
        "go_backwards",
        "unroll",
        "reset_after",
    ],
    ("tensorflow.python.ops.control_flow_util", "GraphOrParentsInXlaContext"): ["graph"],
}


@pytest.mark.parametrize(("module", "name"), list(PRIVATE_FUNCTIONS), ids=lambda part: part)
def test_private_function_exists_with_the_parameters_layers_passes(module, name):
    function = getattr(importlib.import_module(module), name, None)
    assert callable(function), f"{module}.{name} moved: layers needs it"
    parameters = list(inspect.signature(function).parameters)
    missing = [p for p in PRIVATE_FUNCTIONS[module, name] if p not in parameters]
    assert not missing, f"{module}.{name} lost the parameters {missing}; it has {parameters}"


def test_dropout_rnn_cell_is_the_mixin_keras_rnn_recognises():
    from keras.src.layers.rnn import dropout_rnn_cell, rnn

    mixin = dropout_rnn_cell.DropoutRNNCell
    for method in ("get_dropout_mask", "get_recurrent_dropout_mask", "reset_dropout_mask"):
        assert callable(getattr(mixin, method, None)), f"DropoutRNNCell.{method} moved"
    # keras.layers.RNN must still create and clear the masks of cells that inherit it.
    assert "DropoutRNNCell" in inspect.getsource(rnn.RNN._maybe_config_dropout_masks)
    assert keras.layers.RNN is rnn.RNN
