"""MLflow: each fit/backtest is a run with params, metrics, plots and a pyfunc model that forecasts like the Forecaster."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import sklearn.base
import yaml
from mlflow import MlflowClient
from mlflow.types.schema import DataType

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
        combine_with="ets",  # a network for the run to record: two series are too little evidence under "auto"
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


def test_the_fit_run_records_the_combination_and_the_statistical_half(tracked, tmp_path):
    model, _ = tracked
    client = MlflowClient()
    params = client.get_run(model.run_id_).data.params
    assert params["combination.rule"] == model.combination_.rule
    assert params["combination.summary"] == model.combination_.summary()
    assert float(params["statistical.theta_weight"]) == model.theta_weight_
    assert params["statistical.theta_rule"] == model.theta_rule_
    table = pd.read_csv(client.download_artifacts(model.run_id_, "combination.csv", str(tmp_path)))
    pd.testing.assert_frame_equal(table, model.combination_.table.reset_index(drop=True), check_dtype=False)


def test_the_pyfunc_model_forecasts_the_same_numbers_as_the_forecaster(tracked):
    model, df = tracked
    # with a series the model never saw: the served model forecasts it from its history as the Forecaster does
    new = driven_frame(n_series=3).query("unique_id == 'm2'")
    df = pd.concat([df, new], ignore_index=True)
    history = df.groupby("unique_id").head(24)
    future = df.groupby("unique_id").nth(list(range(24, 27)))
    frame = pd.concat([history, future.assign(y=np.nan)], ignore_index=True)
    loaded = mlflow.pyfunc.load_model(model.model_uri_)
    assert loaded.metadata.signature is not None
    assert "y_hat_q20" in loaded.metadata.signature.outputs.input_names()
    expected = model.predict(history, future.drop(columns="y"))
    pd.testing.assert_frame_equal(loaded.predict(frame).reset_index(drop=True), expected, check_dtype=False)


def test_the_pyfunc_model_takes_nullable_integers_and_names_a_missing_column(tracked):
    model, df = tracked
    history = df.groupby("unique_id").head(24).assign(y=lambda d: d["y"].round())
    future = df.groupby("unique_id").nth(list(range(24, 27))).drop(columns="y")
    frame = pd.concat([history, future], ignore_index=True).astype({"y": "Int64"})  # the future rows: <NA>
    loaded = mlflow.pyfunc.load_model(model.model_uri_)
    expected = model.predict(history, future)
    pd.testing.assert_frame_equal(loaded.predict(frame).reset_index(drop=True), expected, check_dtype=False)
    with pytest.raises(
        ValueError, match=r"^expected columns \['unique_id', 'ds', 'y'\] in the model input; missing \['y'\]"
    ):
        loaded.predict(frame.drop(columns="y"))
    # messages speak of the input's future rows, not of predict's future_df a pyfunc caller never passes
    with pytest.raises(
        ValueError, match=r"^the input has no future rows \(after each series' history, y empty\)"
    ) as no:
        loaded.predict(history)
    assert "pass them" not in str(no.value)  # the input's rows after the history are its future rows
    with pytest.raises(ValueError, match=r"^the input: missing column\(s\) \['x'\]"):
        loaded.predict(frame.drop(columns="x"))
    gap = pd.concat([history.drop(index=history.index[5]), future], ignore_index=True)
    with pytest.raises(ValueError, match=r"fill the gaps of the input: this model was fitted without a fill policy"):
        loaded.predict(gap)
    for empty in (frame.iloc[:0], frame.iloc[:0].astype({"ds": object})):
        with pytest.raises(ValueError, match="^the model input has no rows"):
            loaded.predict(empty)


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


def test_a_backtest_that_refits_registers_none_of_its_models(tracked):
    model, df = tracked
    versions = {version.version for version in MlflowClient().search_model_versions("name = 'tiny-model'")}
    result = sklearn.base.clone(model).backtest(df, n_windows=2, refit=True)
    assert result.forecasts["cutoff"].nunique() == 2  # two refits, each in a nested run
    after = {version.version for version in MlflowClient().search_model_versions("name = 'tiny-model'")}
    assert after == versions


def test_a_diverging_fit_ends_its_run_failed_without_a_model(store):
    experiment = "tests-divergence"
    model = Forecaster(
        learning_rate=1e30,
        clipnorm=None,
        combine_with=None,  # the network alone: too little evidence would leave it untrained
        tracking=Tracking(experiment=experiment),
        **{**TINY, "epochs": 3},
    )
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


def test_split_history_and_future_compares_text_dates_as_times():
    # As text, "9/30/2020" sorts after "10/2/2020": the future row would be taken for history.
    frame = pd.DataFrame(
        {"unique_id": "a", "ds": ["9/29/2020", "9/30/2020", "10/1/2020", "10/2/2020"], "y": [1.0, 2.0, 3.0, np.nan]}
    )
    history, future = split_history_and_future(frame)
    assert history["ds"].tolist() == list(pd.to_datetime(["2020-09-29", "2020-09-30", "2020-10-01"]))
    assert future["ds"].tolist() == [pd.Timestamp("2020-10-02")]


def test_the_pyfunc_model_takes_dates_as_text_as_pandas_reads_them_from_a_csv(tracked, tmp_path):
    model, df = tracked
    history = df.groupby("unique_id").head(24)
    future = df.groupby("unique_id").nth(list(range(24, 27)))
    frame = pd.concat([history, future.assign(y=np.nan)], ignore_index=True)
    frame.to_csv(tmp_path / "input.csv", index=False)
    read = pd.read_csv(tmp_path / "input.csv")
    assert not pd.api.types.is_datetime64_any_dtype(read["ds"])  # text, as a fresh install reads it
    loaded = mlflow.pyfunc.load_model(f"runs:/{model.run_id_}/model")
    expected = model.predict(history, future.drop(columns="y"))
    from_text = loaded.predict(read).reset_index(drop=True)
    pd.testing.assert_frame_equal(from_text, loaded.predict(frame).reset_index(drop=True))
    pd.testing.assert_frame_equal(from_text, expected, check_dtype=False)
    schema = loaded.metadata.signature
    assert [(spec.name, repr(spec.type)) for spec in schema.inputs.inputs] == [
        ("unique_id", "Any"),
        ("ds", "Any"),
        ("y", "Any"),
        ("x", "Any"),
    ]
    assert schema.outputs.input_dict()["ds"].type == DataType.datetime


def test_the_pyfunc_model_takes_zoned_times_and_integer_targets(store, hourly_df):
    # MLflow's own type enforcement refuses both: a datetime column with a time zone, and int64 into a double column.
    model = Forecaster(tracking=Tracking(experiment="tests-zoned"), **TINY).fit(hourly_df)
    loaded = mlflow.pyfunc.load_model(model.model_uri_)
    counts = hourly_df.assign(y=hourly_df["y"].round().astype("int64"))
    assert str(counts["ds"].dt.tz) == "Europe/Berlin"
    pd.testing.assert_frame_equal(
        loaded.predict(counts).reset_index(drop=True), model.predict(counts), check_dtype=False
    )


def test_the_logged_model_carries_the_final_metrics_of_its_fit_and_no_epoch_metrics(tracked):
    model, _ = tracked
    client = MlflowClient()
    run = client.get_run(model.run_id_)
    [output] = run.outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert model.model_uri_ == f"models:/{output.model_id}"
    keys = [metric.key for metric in logged.metrics]
    assert sorted(keys) == [
        "best_val_loss",
        "epochs_trained",
        "final_loss",
        "val_mae",
        "val_mase",
        "val_smape",
    ]  # each once
    metrics = {metric.key: metric.value for metric in logged.metrics}
    assert metrics["final_loss"] == pytest.approx(model.history_["loss"][-1])
    assert metrics["best_val_loss"] == pytest.approx(min(model.history_["val_loss"]))
    assert metrics["epochs_trained"] == model.epochs_trained_ == len(client.get_metric_history(run.info.run_id, "loss"))
    assert metrics["val_mae"] == run.data.metrics["val_mae"] and metrics["val_smape"] == run.data.metrics["val_smape"]


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


def test_a_verbose_tracked_fit_prints_the_fit_and_nothing_of_mlflows(mlflow_tracking_uri, integer_df, capfd, recwarn):
    # Integer times and targets: what made MLflow's schema inference print its integer-column hint.
    counts = integer_df.assign(y=integer_df["y"].round().astype("int64"))
    model = Forecaster(tracking=Tracking(experiment="tests-verbose"), combine_with="ets", **{**TINY, "verbose": 1}).fit(
        counts
    )
    printed = "".join(capfd.readouterr())
    assert "Epoch 1/" in printed  # the fit's own progress
    assert "Downloading artifacts" not in printed and "INFO mlflow" not in printed
    shown = [w for w in recwarn if "mlflow" in (w.filename or "") and not issubclass(w.category, DeprecationWarning)]
    assert not [str(w.message) for w in shown]  # what Python prints by default (it hides library deprecations)
    assert model.model_uri_ is not None  # the model was logged: the silence is not that of a failed log


@pytest.mark.slow
def test_an_ensemble_is_logged_and_served_as_one_model(store):
    df = driven_frame()
    model = Forecaster(
        ensemble_size=2,
        quantiles=[0.1, 0.9],
        combine_with="ets",  # networks to log: two series are too little evidence under "auto"
        tracking=Tracking(experiment="tests-ensemble"),
        **TINY,
    ).fit(df)
    loaded = mlflow.pyfunc.load_model(model.model_uri_)
    pd.testing.assert_frame_equal(loaded.predict(df).reset_index(drop=True), model.predict(df), check_dtype=False)
    run = MlflowClient().get_run(model.run_id_)
    assert run.data.params["ensemble_size"] == "2" and "gradient_flow.png" in {
        entry.path for entry in MlflowClient().list_artifacts(model.run_id_)
    }
