#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment outside the checkout and use it there:
# `forecast --help`, `forecast job run --help`, a tiny train / predict and a job run.
# The editable install of `make install` imports straight from the checkout and so hides a package
# left out of the wheel; users get the wheel. The install is a plain `pip install` of the wheel with
# its dependencies (pip's cache serves what `make install` downloaded, where the index allows caching).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" > /dev/null || PYTHON=python3
work=$(mktemp -d "${TMPDIR:-/tmp}/lstm-forecast-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/step.log"

# Run one step quietly; on failure show its output and stop.
step() {
    if ! "$@" > "$log" 2>&1; then
        cat "$log"
        echo "wheel check failed at: $*" >&2
        exit 1
    fi
}

started=$SECONDS
# Build from a copy of the sources, so that the checkout gets no build/ or egg-info of its own.
mkdir "$work/source"
tar --exclude-vcs --exclude=./.venv --exclude=./build --exclude=./dist --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=.hypothesis --exclude=.ruff_cache \
    --exclude=./mlruns --exclude=./mlflow.db -cf - . | tar -xf - -C "$work/source"
step .venv/bin/python -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$work/source"
built=$SECONDS

step "$PYTHON" -m venv "$work/venv"
step "$work/venv/bin/python" -m pip install --quiet "$work"/dist/*.whl
installed=$SECONDS

cd "$work"
bin="$work/venv/bin"
export MLFLOW_TRACKING_URI="sqlite:///$work/mlflow.db" TF_CPP_MIN_LOG_LEVEL=3
cat > check_installed.py <<'EOF'
import forecast
import forecast.experiments
import forecast.jobs

for module in (forecast, forecast.jobs, forecast.experiments):
    assert "/venv/lib/" in module.__file__, f"{module.__name__} imported from {module.__file__}, not the wheel"
EOF
step "$bin/python" check_installed.py
step "$bin/forecast" --help
step "$bin/forecast" job run --help
cat > make_history.py <<'EOF'
import numpy as np
import pandas as pd

ds = pd.date_range("2020-01-01", periods=30, freq="MS")
frames = [pd.DataFrame({"unique_id": f"00{k}", "ds": ds, "y": 10.0 * k + np.sin(np.arange(30))}) for k in (1, 2)]
pd.concat(frames).to_csv("history.csv", index=False)
EOF
step "$bin/python" make_history.py
step "$bin/forecast" train history.csv --model-dir model --horizon 3 --lookback 6 --units 4 --epochs 1 --verbose 0 \
    --no-tracking
step "$bin/forecast" predict model history.csv --output forecasts.csv
cat > job.yaml <<'EOF'
name: wheel-check
data: {path: history.csv}
model: {uri: model}
horizon: 3
output: {path: job_forecasts.csv}
EOF
step "$bin/forecast" job run job.yaml --as-of 2026-01-01
cat > check_forecasts.py <<'EOF'
import pandas as pd

for name in ("forecasts.csv", "job_forecasts.csv"):
    forecasts = pd.read_csv(name, dtype={"unique_id": str})
    assert len(forecasts) == 6 and sorted(forecasts["unique_id"].unique()) == ["001", "002"], (name, forecasts)
EOF
step "$bin/python" check_forecasts.py
echo "wheel check passed: build $((built - started)) s, install into a fresh venv $((installed - built)) s," \
    "use $((SECONDS - installed)) s"
