"""Fit the job's first champion on the data before the held-back year and register it as m3-monthly-job@champion.

The model is the demo's Forecaster (``forecast.demo.demo_forecaster``: the defaults, an 80% interval,
18 months ahead), fitted on every series up to December 2024 and tracked in MLflow (experiment
``m3-monthly``). Run make_data.py first. The job's retrains (job.yaml) register later versions of
the same registered model; the alias moves only to a version that beats the champion on a backtest.

    .venv/bin/python examples/m3_monthly/train_champion.py               # minutes on a CPU
    .venv/bin/python examples/m3_monthly/train_champion.py --epochs 20   # quicker, less accurate
"""

import argparse
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from forecast.demo import demo_forecaster

MODEL = "m3-monthly-job"
ALIAS = "champion"
HELD_BACK_FROM = pd.Timestamp("2025-01-01")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", default="auto", help="training epochs (default: auto)")
    arguments = parser.parse_args()
    history = pd.read_parquet(Path(__file__).with_name("m3_monthly.parquet"))
    epochs = arguments.epochs if arguments.epochs == "auto" else int(arguments.epochs)
    model = demo_forecaster(epochs=epochs, register_as=MODEL).fit(history[history["ds"] < HELD_BACK_FROM])
    version = str(model.registered_model_version_)
    MlflowClient().set_registered_model_alias(MODEL, ALIAS, version)
    print(f"registered {MODEL} version {version} as {MODEL}@{ALIAS} (MLflow run {model.run_id_})")
