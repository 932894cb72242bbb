"""Recurrent layers by name: one place that maps a short name to a configured layer.

| name            | layer                                   |
|-----------------|-----------------------------------------|
| `elman`         | `Elman(activation="sigmoid")`           |
| `irnn`          | `IRNN()` (ReLU, identity recurrent init) |
| `lstm`          | `LSTM()` (with forget gate)             |
| `lstm1997`      | `LSTM(forget_gate=False)`               |
| `peephole_lstm` | `LSTM(peepholes=True)`                  |
| `cifg_lstm`     | `LSTM(coupled=True)`                    |
| `gru`           | `GRU()`                                 |
| `clockwork`     | `Clockwork()`                           |
| `scrn`          | `SCRN()`                                |

The registry imports every layer class. Nothing would be gained by importing them lazily: `import layers`
imports every module anyway, because a module's classes must be registered with Keras's serialization before
a `.keras` file that uses them can be loaded.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras

from layers.base import check_scalar
from layers.clockwork import Clockwork
from layers.elman import IRNN, Elman
from layers.gru import GRU
from layers.lstm import LSTM
from layers.scrn import SCRN


class _Entry(NamedTuple):
    layer_class: type[keras.layers.Layer]
    defaults: dict[str, Any]


_REGISTRY: dict[str, _Entry] = {
    "elman": _Entry(Elman, {"activation": "sigmoid"}),
    "irnn": _Entry(IRNN, {}),
    "lstm": _Entry(LSTM, {}),
    "lstm1997": _Entry(LSTM, {"forget_gate": False}),
    "peephole_lstm": _Entry(LSTM, {"peepholes": True}),
    "cifg_lstm": _Entry(LSTM, {"coupled": True}),
    "gru": _Entry(GRU, {}),
    "clockwork": _Entry(Clockwork, {}),
    "scrn": _Entry(SCRN, {}),
}


def available() -> tuple[str, ...]:
    """The names `get` accepts, sorted alphabetically."""
    return tuple(sorted(_REGISTRY))


def get(name: str, units: int, **kwargs: Any) -> keras.layers.Layer:
    """A new, unbuilt recurrent layer for `name` with `units` hidden units.

    Args:
        name: one of `available()`, e.g. `"lstm1997"`.
        units: number of hidden units.
        **kwargs: further constructor arguments (`return_sequences`,
            `dropout`, ...); they override the defaults the name implies, so
            `get("elman", 8, activation="tanh")` is a tanh Elman network.

    Returns:
        A fresh layer; every call builds a new one.

    Raises:
        ValueError: if `name` is not registered; the message lists the valid names.

    Example:

    ```python
    model = keras.Sequential([keras.Input((24, 1)), get("cifg_lstm", 32), keras.layers.Dense(1)])
    ```
    """
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ValueError(f"Unknown recurrent layer name {name!r}; expected one of: {', '.join(available())}.")
    return entry.layer_class(units, **{**entry.defaults, **kwargs})


def stack(
    name: str,
    units: int,
    num_layers: int,
    return_sequences: bool = False,
    **kwargs: Any,
) -> list[keras.layers.Layer]:
    """`num_layers` layers of the same kind for a deep (stacked) recurrent network.

    Every layer but the last returns the whole sequence, so each one feeds the
    next one a sequence; the last layer returns the whole sequence only if
    `return_sequences=True`, otherwise its last step.

    Args:
        name: one of `available()`.
        units: hidden units of every layer.
        num_layers: how many layers, at least 1.
        return_sequences: whether the last layer returns the whole sequence.
        **kwargs: further constructor arguments, given to every layer.

    Returns:
        A list of fresh layers, bottom first; splice it into a
        `keras.Sequential` or call the layers one after the other.

    Example:

    ```python
    model = keras.Sequential([keras.Input((24, 1)), *stack("lstm", 32, 3), keras.layers.Dense(1)])
    ```
    """
    check_scalar("num_layers", num_layers, integer=True, minimum=1)
    return [
        get(name, units, return_sequences=return_sequences or depth < num_layers - 1, **kwargs)
        for depth in range(num_layers)
    ]
