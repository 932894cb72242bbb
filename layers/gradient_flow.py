"""Per-lag gradient norms: how far back the error signal of a recurrent network reaches.

Back-propagation through time sends the error of the loss at the last step `T`
back to the input `k` steps earlier through a product of sequential Jacobians:

```
dL_T/dx_{T-k} = dL_T/dh_T * prod_{tau=T-k+1..T} dh_tau/dh_{tau-1} * dh_{T-k}/dx_{T-k}
||dh_tau/dh_{tau-1}|| <= ||W_h|| * max|sigma'|      (= ||W_h|| / 4 for the sigmoid)
```

For an Elman network every factor is at most `||W_h|| / 4`, so the norm decays
exponentially with the lag `k` (the "exponentially decayed error message");
the constant error carousel of the LSTM (`c_t = c_{t-1} + i_t * a_t`) keeps it
roughly constant.

Reference: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural
Computation 9(8), 1997; Bengio, Simard & Frasconi, "Learning long-term
dependencies with gradient descent is difficult", IEEE TNN 5(2), 1994.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import keras
import numpy as np
from keras import ops


def gradient_flow(
    model_or_layer: keras.layers.Layer,
    inputs: np.ndarray,
    loss: Callable[[object], object] | None = None,
) -> np.ndarray:
    """Norm of the gradient of the last step's loss with respect to each earlier input.

    ```
    g_k = || dL_T / dx_{T-k} ||_F      for k = 0, ..., T-1
    L_T = sum(y_T)                     (default; y_T is the output at the last step)
    ```

    The norm is the Frobenius norm over the batch and the features of the
    input at step `T-k`. The network runs in inference mode (`training=False`),
    so dropout does not disturb the measurement.

    Args:
        model_or_layer: a recurrent layer or a model mapping `(B, T, F)`
            sequences to `(B, units)` or `(B, T, units)` outputs (for the
            latter, only the last step is used). With `return_state=True` the
            first output is used.
        inputs: array of shape `(B, T, F)`. Floating inputs keep their dtype,
            anything else becomes float32.
        loss: optional function mapping the last step's output `y_T` (a
            `(B, units)` tensor) to a scalar tensor; the default is
            `keras.ops.sum`.

    Returns:
        NumPy array of shape `(T,)`: entry `k` is the gradient norm at lag `k`
        (entry 0 is the last step, entry `T-1` the first).

    Example:

    ```python
    x = np.random.default_rng(0).normal(size=(16, 100, 8)).astype("float32")
    norms = gradient_flow(keras.layers.SimpleRNN(32), x)
    norms[50] / norms[1]  # vanishingly small for a tanh/sigmoid Elman network
    ```
    """
    array = np.asarray(inputs)
    dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.dtype("float32")
    sequences = ops.convert_to_tensor(array, dtype=dtype.name)
    if len(sequences.shape) != 3:
        raise ValueError(
            f"gradient_flow expects inputs of shape (batch, time, features); found shape {tuple(sequences.shape)}."
        )
    reduce_to_scalar = ops.sum if loss is None else loss

    def last_step_loss(x):
        return reduce_to_scalar(_last_step_output(model_or_layer(x, training=False)))

    gradient = _gradient_wrt_inputs(last_step_loss, sequences)
    norm_per_step = ops.sqrt(ops.sum(ops.square(gradient), axis=(0, 2)))
    return np.flip(ops.convert_to_numpy(norm_per_step)).copy()


def _last_step_output(outputs):
    if isinstance(outputs, (list, tuple)):
        outputs = outputs[0]
    if len(outputs.shape) == 3:
        return outputs[:, -1, :]
    return outputs


def _gradient_wrt_inputs(scalar_function, inputs):
    # keras.ops has no automatic differentiation, so this one step goes through
    # the backend's own gradient machinery; TensorFlow is the backend we ship.
    backend_name = keras.backend.backend()
    if backend_name != "tensorflow":
        raise ValueError(
            f"gradient_flow needs the 'tensorflow' Keras backend to take gradients; found backend {backend_name!r}."
        )
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = scalar_function(inputs)
    return tape.gradient(value, inputs, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def plot_gradient_flow(results: Mapping[str, np.ndarray], path: str | Path) -> Path:
    """Save a log-scale plot of per-lag gradient norms, one line per network.

    Args:
        results: mapping from a network's name to its `gradient_flow` array
            (entry `k` is the norm at lag `k`).
        path: where to write the PNG file; missing parent folders are created.

    Returns:
        The path of the written file.
    """
    # Figure without pyplot: no global backend switch, no GUI, safe in threads.
    from matplotlib.figure import Figure

    if not results:
        raise ValueError("plot_gradient_flow expects at least one result; found none.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = Figure(figsize=(8, 5))
    axes = figure.subplots()
    for name, norms in results.items():
        norms = np.asarray(norms, dtype="float64")
        axes.plot(np.arange(norms.size), norms, label=name)
    axes.set_yscale("log", nonpositive="mask")
    axes.set_xlabel("lag k (steps back from the last step T)")
    axes.set_ylabel("|| dL_T / dx_{T-k} ||")
    axes.set_title("Gradient flow through time")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=120)
    return path
