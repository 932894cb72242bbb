PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# Quiet TensorFlow's C++ start-up logging (3: not even the 'failed call to cuInit' line of a machine without GPU).
export TF_CPP_MIN_LOG_LEVEL ?= 3
# MkDocs Material prints a banner about MkDocs 2 on every build, even with --quiet.
export NO_MKDOCS_2_WARNING ?= 1

.PHONY: install dev lint format test test-fast docs demo gradient-flow benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The library alone: what `pip install lstm-forecast` gives a user (no test tools, Spark, notebooks or docs).
$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

install: $(STAMP)

# The development tools: tests, lint, docs and every extra (`pip install -e ".[dev]"`).
$(DEV_STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP) $(DEV_STAMP)

dev: $(DEV_STAMP)

# ruff.toml holds the one configuration; a lint or formatting error fails `make test` (and CI).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Everything: lint, the strict docs build, the whole test suite (servers, Spark, notebooks and the wheel included;
# the test that builds the docs again is left out).
test: lint docs
	$(BIN)/python -m pytest -q -m "not docs"

# The developers' lane: no servers, Spark, notebooks, wheel or docs build and no multi-process or whole-sequence
# tests, on both cores (pytest-xdist; a test module stays on one worker, so its module fixtures are built once);
# 250 s on 2 cores (2026-12-06).
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadscope -m "not integration and not spark and not notebooks and not wheel and not docs and not slow"

# The documentation site (MkDocs): reference pages generated from the declarations, --strict fails on any
# broken link or missing reference.
docs: $(DEV_STAMP)
	$(BIN)/python -m mkdocs build --strict --quiet --site-dir build/site

demo: $(STAMP)
	$(BIN)/forecast demo

gradient-flow: $(STAMP)
	$(BIN)/python -m layers.demo

# The benchmarks run in an environment of their own: statsforecast (the named competitor) needs pandas < 3,
# while the development environment tests the pandas a fresh install gets.
BENCH_VENV := .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV) || python3 -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install --quiet --upgrade pip
	$(BENCH_BIN)/python -m pip install --quiet -e ".[benchmarks,spark,tune]"
	touch $@

benchmarks: $(BENCH_STAMP)
	$(BENCH_BIN)/python -m benchmarks.layers_speed
	$(BENCH_BIN)/python -m benchmarks.windows_speed
	$(BENCH_BIN)/python -m benchmarks.m3
	$(BENCH_BIN)/python -m benchmarks.accuracy
	$(BENCH_BIN)/python -m benchmarks.public_series
	$(BENCH_BIN)/python -m benchmarks.combination
	$(BENCH_BIN)/python -m benchmarks.tuning
	$(BENCH_BIN)/python -m benchmarks.spark_forecast
	$(BENCH_BIN)/python -m benchmarks.experiments
	$(BENCH_BIN)/python -m benchmarks.language_model

clean:
	rm -rf $(VENV) $(BENCH_VENV) build dist *.egg-info .pytest_cache

# The team's shared MLflow tracking server (docs/operations/team-server.md): PostgreSQL as the backend
# store, artifacts stored under MLFLOW_ARTIFACTS_DESTINATION and served through the server. The variables
# carry MLflow's own environment variable names; the database password comes from PGPASSWORD or
# ~/.pgpass (libpq), never from this command line. MLflow's server-side job runner (GenAI evaluation
# and scorer jobs: a job runner and its pool of worker processes) is off: forecasting does not use it.
# TEAM_STAMP= skips the install step (the tests run the target from their own environment).
MLFLOW_BACKEND_STORE_URI ?= postgresql+psycopg://mlflow@localhost:5432/mlflow
MLFLOW_ARTIFACTS_DESTINATION ?= $(CURDIR)/mlartifacts
MLFLOW_HOST ?= 127.0.0.1
MLFLOW_PORT ?= 5000
MLFLOW_WORKERS ?= 4
MLFLOW_SERVER_ENABLE_JOB_EXECUTION ?= false
TEAM_STAMP := $(VENV)/.installed-team

.PHONY: mlflow-server

$(VENV)/.installed-team: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[team]"
	touch $@

mlflow-server: $(TEAM_STAMP)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=$(MLFLOW_SERVER_ENABLE_JOB_EXECUTION) \
	$(BIN)/mlflow server --backend-store-uri "$(MLFLOW_BACKEND_STORE_URI)" \
		--serve-artifacts --artifacts-destination "$(MLFLOW_ARTIFACTS_DESTINATION)" \
		--host "$(MLFLOW_HOST)" --port "$(MLFLOW_PORT)" --workers "$(MLFLOW_WORKERS)"
