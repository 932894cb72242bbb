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

Each layer's module is imported when the name is first used, so asking for a
GRU does not load the Clockwork code.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import keras


class _Entry(NamedTuple):
    module: str
    class_name: str
    defaults: dict[str, Any]


_REGISTRY: dict[str, _Entry] = {
    "elman": _Entry("layers.elman", "Elman", {"activation": "sigmoid"}),
    "irnn": _Entry("layers.elman", "IRNN", {}),
    "lstm": _Entry("layers.lstm", "LSTM", {}),
    "lstm1997": _Entry("layers.lstm", "LSTM", {"forget_gate": False}),
    "peephole_lstm": _Entry("layers.lstm", "LSTM", {"peepholes": True}),
    "cifg_lstm": _Entry("layers.lstm", "LSTM", {"coupled": True}),
    "gru": _Entry("layers.gru", "GRU", {}),
    "clockwork": _Entry("layers.clockwork", "Clockwork", {}),
    "scrn": _Entry("layers.scrn", "SCRN", {}),
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
    layer_class = getattr(importlib.import_module(entry.module), entry.class_name)
    return layer_class(units, **{**entry.defaults, **kwargs})


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
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive integer; found {num_layers!r}.")
    return [
        get(name, units, return_sequences=return_sequences or depth < num_layers - 1, **kwargs)
        for depth in range(num_layers)
    ]
