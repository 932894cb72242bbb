"""pandas time series and text into validated, leak-free windows.

Series: `validate` checks a long-format frame, `time_split` splits it
chronologically without leakage, `SeriesWindows` turns it into scaled windows
(`Windows`) with past, future-known and static covariates and calendar
features. Text: `TextWindows` turns documents into next-token windows.
"""

from pipelines.split import TimeSplit, time_split
from pipelines.text import TextWindows, TokenWindows
from pipelines.validation import ValidationError, validate
from pipelines.windows import SeriesWindows, Windows

__all__ = [
    "SeriesWindows",
    "TextWindows",
    "TimeSplit",
    "TokenWindows",
    "ValidationError",
    "Windows",
    "time_split",
    "validate",
]
