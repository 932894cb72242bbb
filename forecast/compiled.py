"""Numba compilation for the statistical models' loops over series and time steps."""

from __future__ import annotations

from numba import njit


def compiled(function):
    """`numba.njit` with the GIL released (every buffer a call writes is its own) and the machine code cached on
    disk where Numba finds a writable place (the package's `__pycache__` or the user's cache directory);
    where it finds none (a read-only installation), compiled anew in each process (about 7 s)."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:
        return njit(nogil=True)(function)
