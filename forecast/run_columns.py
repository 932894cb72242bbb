"""The columns that tag every forecast row with the run that made it, and the run's `as_of`.

A forecast job writes, beside `unique_id, ds, y_hat[, y_hat_qXX...]`, the job's name (`job`), the
run's reference time (`as_of`: naive UTC, to the second) and the version of the model that forecast
(`model_version`, empty for a model without one). In file names and partition directories
`as_of` is written as `20261122T020000` (`format_as_of`).
"""

from __future__ import annotations

import pandas as pd

JOB_COLUMN = "job"
AS_OF_COLUMN = "as_of"
MODEL_VERSION_COLUMN = "model_version"
AS_OF_FORMAT = "%Y%m%dT%H%M%S"
"""How `as_of` is written in paths: `20261122T020000`."""


def normalise_as_of(as_of: str | pd.Timestamp | None) -> pd.Timestamp:
    """`as_of` as a naive UTC timestamp to the second; `None` means now."""
    stamp = pd.Timestamp.now(tz="UTC") if as_of is None else pd.Timestamp(as_of)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.floor("s")


def format_as_of(as_of: pd.Timestamp) -> str:
    """The `{as_of}` text used in output paths and partition names: `20261122T020000`."""
    return as_of.strftime(AS_OF_FORMAT)
