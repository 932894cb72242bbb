"""MLflow: each fit/backtest is a run with params, metrics, plots and a pyfunc model that forecasts like the Forecaster."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from forecast.forecaster import Forecaster
from forecast.pyfunc import split_history_and_future
from forecast.settings import Tracking
from forecast.tracking import TrackingError, TrackingWarning

TINY = dict(units=4, lookback=6, horizon=3, epochs=2, batch_size=16, verbose=0)


def driven_frame(length=30, n_series=2):
    rng = np.random.default_rng(5)
    frames = []
    for number in range(n_series):
        driver = rng.normal(size=length)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"m{number}",
                    "ds": pd.date_range("2021-01-04", periods=length, freq="D"),
                    "y": 5.0 + number + driver + 0.1 * np.arange(length),
                    "x": driver,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A temporary SQLite tracking store, also the working directory (MLflow's artifacts go there)."""
    directory = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{directory}/mlflow.db")
        patch.chdir(directory)
        yield directory


@pytest.fixture(scope="module")
def tracked(store):
    df = driven_frame()
    model = Forecaster(
        future_covariates=["x"],
        quantiles=[0.2, 0.8],
        tracking=Tracking(experiment="tests", run_name="tiny", register_as="tiny-model"),
        **TINY,
    )
    return model.fit(df), df


def test_the_fit_run_holds_parameters_data_summary_metrics_and_plots(tracked):
    model, _ = tracked
    client = MlflowClient()
    run = client.get_run(model.run_id_)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny"
    params = run.data.params
    assert (params["cell"], params["units"], params["lookback"], params["horizon"]) == ("lstm", "4", "6", "3")
    assert params["future_covariates"] == '["x"]' and params["quantiles"] == "[0.2, 0.8]"
    assert (params["data.n_series"], params["data.min_length"], params["data.freq"]) == ("2", "30", "D")
    losses = client.get_metric_history(model.run_id_, "loss")
    assert [m.step for m in losses] == list(range(model.epochs_trained_))
    np.testing.assert_allclose([m.value for m in losses], model.history_["loss"], rtol=1e-6)
    assert len(client.get_metric_history(model.run_id_, "val_loss")) == model.epochs_trained_
    assert {"final_loss", "best_val_loss", "val_mae", "val_smape", "epochs_trained"} <= set(run.data.metrics)
    artifacts = {entry.path for entry in client.list_artifacts(model.run_id_)}
    assert {"forecast_vs_actual.png", "learning_curve.png", "gradient_flow.png"} <= artifacts


def test_the_pyfunc_model_forecasts_the_same_numbers_as_the_forecaster(tracked):
    model, df = tracked
    history = df.groupby("unique_id").head(24)
    future = df.groupby("unique_id").nth(list(range(24, 27)))
    frame = pd.concat([history, future.assign(y=np.nan)], ignore_index=True)
    loaded = mlflow.pyfunc.load_model(model.model_uri_)
    assert loaded.metadata.signature is not None
    assert "y_hat_q20" in loaded.metadata.signature.outputs.input_names()
    expected = model.predict(history, future.drop(columns="y"))
    pd.testing.assert_frame_equal(loaded.predict(frame).reset_index(drop=True), expected, check_dtype=False)


def test_register_as_creates_a_model_version_of_the_run(tracked):
    model, _ = tracked
    version = MlflowClient().get_model_version("tiny-model", str(model.registered_model_version_))
    assert version.run_id == model.run_id_


def test_a_backtest_is_a_run_with_its_scores(tracked):
    model, df = tracked
    result = model.backtest(df, n_windows=2)
    runs = mlflow.search_runs(experiment_names=["tests"], filter_string="attributes.run_name = 'tiny-backtest'")
    assert len(runs) == 1
    overall = result.metrics[result.metrics["unique_id"] == "overall"].iloc[0]
    assert runs["metrics.backtest_mae"].iloc[0] == pytest.approx(overall["mae"])


def test_a_diverging_fit_ends_its_run_failed_without_a_model(store):
    experiment = "tests-divergence"
    model = Forecaster(learning_rate=1e30, clipnorm=None, tracking=Tracking(experiment=experiment), **{**TINY, "epochs": 3})
    with pytest.raises(FloatingPointError):
        model.fit(driven_frame())
    runs = mlflow.search_runs(experiment_names=[experiment])
    assert list(runs["status"]) == ["FAILED"]
    experiment_id = MlflowClient().get_experiment_by_name(experiment).experiment_id
    assert mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list") == []


def test_an_unreachable_store_warns_and_trains_or_raises_when_asked(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.warns(TrackingWarning, match="127.0.0.1:9"):
        model = Forecaster(**TINY).fit(driven_frame())
    assert model.run_id_ is None and len(model.predict()) == 2 * 3
    with pytest.raises(TrackingError, match="127.0.0.1:9"):
        Forecaster(tracking=Tracking(errors="raise"), **TINY).fit(driven_frame())


def test_split_history_and_future_takes_trailing_rows_without_target():
    frame = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "a", "b", "b"],
            "ds": [1, 2, 3, 4, 1, 2],
            "y": [1.0, np.nan, 3.0, np.nan, 2.0, 2.5],
            "x": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        }
    )
    history, future = split_history_and_future(frame)
    assert list(zip(history["unique_id"], history["ds"])) == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2)]
    assert list(zip(future["unique_id"], future["ds"])) == [("a", 4)] and "y" not in future.columns
    assert split_history_and_future(frame.dropna())[1] is None


def logged_model_of(run_id: str):
    experiment_ids = [MlflowClient().get_run(run_id).info.experiment_id]
    models = mlflow.search_logged_models(experiment_ids=experiment_ids, output_format="list")
    return next(model for model in models if model.source_run_id == run_id)


def test_the_logged_model_carries_the_final_metrics_of_its_fit(tracked):
    model, _ = tracked
    logged = logged_model_of(model.run_id_)
    metrics = {metric.key: metric.value for metric in logged.metrics}
    assert metrics["final_loss"] == pytest.approx(model.history_["loss"][-1])
    assert metrics["best_val_loss"] == pytest.approx(min(model.history_["val_loss"]))
    assert metrics["epochs_trained"] == model.epochs_trained_


def test_the_pyfunc_model_is_code_and_a_saved_directory_with_no_pickle(tracked):
    model, _ = tracked
    local = mlflow.artifacts.download_artifacts(artifact_uri=model.model_uri_)
    files = {str(path.relative_to(local)) for path in Path(local).rglob("*") if path.is_file()}
    assert not [name for name in files if name.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    flavor = yaml.safe_load((Path(local) / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"  # models from code
    assert flavor["model_code_path"].endswith("serving_model.py") and "serving_model.py" in files
    assert {"artifacts/forecaster/model.keras", "artifacts/forecaster/params.json"} <= files


def test_a_quiet_tracked_fit_prints_nothing(store, capfd, recwarn):
    Forecaster(tracking=Tracking(experiment="tests-quiet"), **TINY).fit(driven_frame())
    captured = capfd.readouterr()
    assert "Downloading artifacts" not in captured.err + captured.out
    assert "pickle" not in (captured.err + captured.out).lower()
    assert not [str(w.message) for w in recwarn if "mlflow" in (w.filename or "")]


def test_an_ensemble_is_logged_and_served_as_one_model(store):
    df = driven_frame()
    model = Forecaster(ensemble_size=2, quantiles=[0.1, 0.9], tracking=Tracking(experiment="tests-ensemble"), **TINY).fit(df)
    loaded = mlflow.pyfunc.load_model(model.model_uri_)
    pd.testing.assert_frame_equal(loaded.predict(df).reset_index(drop=True), model.predict(df), check_dtype=False)
    run = MlflowClient().get_run(model.run_id_)
    assert run.data.params["ensemble_size"] == "2" and "gradient_flow.png" in {
        entry.path for entry in MlflowClient().list_artifacts(model.run_id_)
    }
