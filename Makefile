PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Quiet TensorFlow's C++ start-up logging.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install lint format test demo gradient-flow benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# ruff.toml holds the one configuration; a lint or formatting error fails `make test` (and CI).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/forecast demo

gradient-flow: $(STAMP)
	$(BIN)/python -m layers.demo

benchmarks: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,benchmarks]"
	$(BIN)/python -m benchmarks.layers_speed
	$(BIN)/python -m benchmarks.windows_speed
	$(BIN)/python -m benchmarks.m3
	$(BIN)/python -m benchmarks.experiments

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
