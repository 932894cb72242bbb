"""Whether a path can be created: the one check of the model directories and the output files, made before any
work so that a failure writes nothing (no pandas or TensorFlow, for the command line's early checks)."""

from __future__ import annotations

import os
from pathlib import Path


def unwritable_parent(path: str | os.PathLike) -> Path | None:
    """The nearest existing directory above `path` when this process cannot create entries in it, else None."""
    existing = next(directory for directory in Path(os.path.abspath(path)).parents if directory.exists())
    return None if os.access(existing, os.W_OK | os.X_OK) else existing
