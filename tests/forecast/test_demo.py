"""`forecast demo` at tiny settings: M3 monthly data, scores beside SeasonalNaive, MLflow registration."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow import MlflowClient

from forecast.demo import ALIAS, HORIZON, REGISTERED_MODEL, dashboard_command, load_m3_monthly, run_demo
from forecast.tracking import resolve_tracking_uri


def test_m3_monthly_has_the_official_split():
    train, test = load_m3_monthly()
    assert train["unique_id"].nunique() == test["unique_id"].nunique() == 1428
    assert (test.groupby("unique_id").size() == HORIZON).all()
    first_test = test.groupby("unique_id")["ds"].min()
    assert (first_test == train.groupby("unique_id")["ds"].max() + 1).all()
    assert train.groupby("unique_id").size().min() == 48


@pytest.mark.slow
def test_demo_scores_the_model_beside_seasonal_naive_and_registers_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    table = run_demo(epochs=1, max_series=5, units=4, lookback=12, verbose=0)
    assert set(table.index) == {"Forecaster(lstm)", "SeasonalNaive"}
    assert np.isfinite(table.to_numpy()).all()

    # Seasonal naive re-derived: the last 12 training months repeated over the 18 test months.
    train, test = load_m3_monthly(max_series=5)
    smapes = []
    for series_id, actual in test.groupby("unique_id"):
        history = train.loc[train["unique_id"] == series_id, "y"].to_numpy()
        forecast = np.resize(history[-12:], HORIZON)
        y = actual["y"].to_numpy()
        smapes.append(np.mean(200 * np.abs(y - forecast) / (np.abs(y) + np.abs(forecast))))
    assert table.loc["SeasonalNaive", "smape"] == pytest.approx(np.mean(smapes))

    output = capsys.readouterr().out
    assert dashboard_command(resolve_tracking_uri()) in output and "SeasonalNaive" in output
    assert resolve_tracking_uri() in output  # the test's own store, not ./mlflow.db
    champion = MlflowClient().get_model_version_by_alias(REGISTERED_MODEL, ALIAS)
    run = MlflowClient().get_run(champion.run_id)
    assert run.data.metrics["test_smape"] == pytest.approx(table.loc["Forecaster(lstm)", "smape"])
