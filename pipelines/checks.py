"""Checks of scalar arguments, with one message style: `"<name> must be <what>; got <value>."`.

`pipelines` and `forecast` check their constructor and function arguments with these helpers
(`layers` has the same style in `layers.base`), so every bad setting reads the same way:

```
lookback must be a positive integer; got 0.
dropout must be a number in [0, 1); got 1.5.
strategy must be one of ['direct', 'recursive']; got 'sideways'.
```

Booleans are not accepted as numbers (`True` is an `int` in Python, never a lookback).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


def _shown(value: Any) -> str:
    return repr(value.item() if hasattr(value, "item") and not isinstance(value, (list, tuple)) else value)


def check_integer(name: str, value: Any, *, minimum: int = 1, allow_none: bool = False) -> int | None:
    """`value` as an `int` when it is an integer `>= minimum` (NumPy integers too, not booleans)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {what}{' or None' if allow_none else ''}; got {_shown(value)}.")
    return int(value)


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_none: bool = False,
    finite: bool = False,
) -> float | None:
    """`value` as a `float` when it is a real number (not a boolean, not NaN; not infinite where `finite`) in the
    given range."""
    if value is None and allow_none:
        return None
    valid = isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value
    if valid:
        value = float(value)
        valid = math.isfinite(value) or not finite
        if valid and low is not None:
            valid = value >= low if low_inclusive else value > low
        if valid and high is not None:
            valid = value <= high if high_inclusive else value < high
    if not valid:
        raise ValueError(
            f"{name} must be {number_range(low, high, low_inclusive, high_inclusive)}"
            f"{' or None' if allow_none else ''}; got {_shown(value)}."
        )
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """`value` when it is one of `choices`."""
    options = list(choices)
    if not any(value is option or (type(value) is type(option) and value == option) for option in options):
        raise ValueError(f"{name} must be one of {options}; got {_shown(value)}.")
    return value


def number_range(low: float | None, high: float | None, low_inclusive: bool = True, high_inclusive: bool = True) -> str:
    """The range in words: `a number in [0, 1)`, `a positive number`, ..."""
    if low == 0 and high is None:
        return "a non-negative number" if low_inclusive else "a positive number"
    if low is not None and high is not None:
        return f"a number in {'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"
    if low is not None:
        return f"a number {'>=' if low_inclusive else '>'} {low:g}"
    if high is not None:
        return f"a number {'<=' if high_inclusive else '<'} {high:g}"
    return "a number"
