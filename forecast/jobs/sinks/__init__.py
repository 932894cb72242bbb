"""Where a job's forecasts go: one module per sink, each registered for its `output:` key and engine.

`file` (`output.path`, local: a CSV or Parquet file, one per run with `{as_of}` or one for all
runs), `sql` (`output.sql`, local: a table through SQLAlchemy), `parquet_dataset`
(`output.path`, spark: a Parquet dataset partitioned by `as_of`). See `forecast.jobs.registry`.
"""
