"""Settings of the whole test suite."""

import pandas as pd


def pytest_configure(config):
    """pandas' deprecations reach users as warnings on every call: none may come from our code. pandas 3 names
    them `Pandas4Warning`; pandas 2, which the package still supports, has no such class."""
    if hasattr(pd.errors, "Pandas4Warning"):
        config.addinivalue_line("filterwarnings", "error::pandas.errors.Pandas4Warning:(forecast|pipelines|layers)")
