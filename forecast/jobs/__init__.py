"""Scheduled forecast jobs: one runner over an engine interface, sources and sinks registered by spec key.

- `spec`: the validated YAML spec (`load_spec`); `references`: `${NAME}` substitution per run.
- `runner`: one run on any engine (`run_job`): read, score earlier runs, retrain if due, forecast,
  write, record in MLflow.
- `engine`: the interface an engine implements (read, forecast, score, write, capabilities);
  `engines.local` (pandas) and `engines.spark` (Apache Spark) implement it.
- `registry`: sources, sinks and engines by the spec key that selects them; `sources.*` and
  `sinks.*`: one module each (file, SQL, Parquet dataset, Spark catalog table).
- `realized`: realized accuracy of earlier forecasts against the actuals since; `accuracy`: where
  it goes (MLflow metrics and artifact, the `accuracy:` sink).
- `models`: the retrain policies and retraining; `degradation`: the policy `on_degradation`;
  `promotion`: champion and challenger; `backtests`: the backtests both rely on.
- `errors`: one-line messages and transient failures; `stale_runs`: runs left behind by killed
  processes; `scheduler`: the in-process cron scheduler; `cli`: the `forecast job` commands;
  `model_cli`: `forecast model promote`.

Nothing is imported here: `forecast --help` loads `forecast.jobs.cli` without TensorFlow.
"""
