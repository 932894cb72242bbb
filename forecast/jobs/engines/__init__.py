"""The engines that run jobs: `local` (pandas, in this process) and `spark` (Apache Spark).

Each module registers one `forecast.jobs.engine.Engine` with `forecast.jobs.registry`.
"""
