"""Where a job's data comes from: one module per source, each registered for its `data:` key and engines.

`file` (`data.path`, local: CSV or Parquet), `sql` (`data.sql`, local: a query through
SQLAlchemy, read-only), `parquet_dataset` (`data.path`, spark: Parquet files or directories),
`spark_table` (`data.table`, spark: a table of the Spark catalog). See `forecast.jobs.registry`.
"""
