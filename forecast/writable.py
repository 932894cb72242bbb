"""Whether a path can be created: the one check of the model directories and the output files, made before any
work so that a failure writes nothing (no pandas or TensorFlow, for the command line's early checks)."""

from __future__ import annotations

import os
from pathlib import Path


def unwritable_reason(path: str | os.PathLike) -> str | None:
    """Why this process cannot create `path` (its nearest existing ancestor is a file, or a directory it cannot
    create entries in), else None."""
    existing = next(directory for directory in Path(os.path.abspath(path)).parents if directory.exists())
    if not existing.is_dir():
        return f"{existing} is a file, not a directory"
    return None if os.access(existing, os.W_OK | os.X_OK) else f"{existing} is not writable"
