"""forecast.spark on a real `local[2]` SparkSession: forecasts and backtests equal the local ones row for row.

One SparkSession serves the module (starting the JVM takes seconds). Arrow batches are cut at 40 rows
and chunks at 2-3 series, so a series is split across batches and every partition runs several
`predict` calls: the streaming is exercised on small data. The references are the same saved
model's local `predict`/`backtest` on the pandas frame.
"""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (the spark extra: pip install lstm-forecast[spark])")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip(
        "Java is not installed: Spark needs a Java 17 runtime (java on PATH or JAVA_HOME)", allow_module_level=True
    )

from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecast import spark as fs
from forecast.baselines import SeasonalNaive
from forecast.forecaster import Forecaster
from forecast.loading import load_forecaster
from pipelines.validation import ValidationError

pytestmark = pytest.mark.spark

HORIZON = 3
LOOKBACK = 6


def make_series(start: str | int, freq: str | int, lengths: dict[str, int], seed: int) -> pd.DataFrame:
    """Long frame `unique_id, ds, y`: level, trend, a 4-step cycle and seeded noise per series."""
    rng = np.random.default_rng(seed)
    pieces = []
    for number, (series, length) in enumerate(lengths.items()):
        ds = (
            start + freq * np.arange(length)
            if isinstance(freq, int)
            else pd.date_range(start, periods=length, freq=freq)
        )
        t = np.arange(length)
        y = 10.0 * (number + 1) + 0.3 * t + 2.0 * np.sin(np.pi * t / 2) + rng.normal(0, 0.5, length)
        pieces.append(pd.DataFrame({"unique_id": series, "ds": ds, "y": y}))
    return pd.concat(pieces, ignore_index=True)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # bind to the loopback interface only
        monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
        session = fs.spark_session(
            "local[2]",
            {
                "spark.ui.enabled": "false",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.driver.host": "127.0.0.1",
                "spark.sql.shuffle.partitions": "2",
                "spark.default.parallelism": "2",
                "spark.sql.session.timeZone": "UTC",
                "spark.sql.execution.arrow.maxRecordsPerBatch": "40",
                "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("spark-warehouse")),
            },
            app_name="lstm-forecast-tests",
        )
        assert os.environ["PYSPARK_PYTHON"] == sys.executable  # local workers run this environment's Python
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    """Twelve monthly series of 16 to 27 rows with a 0/1 future covariate `promo`."""
    lengths = {f"s{number:02d}": 16 + number for number in range(12)}
    frame = make_series("2018-01-01", "MS", lengths, seed=7)
    frame["promo"] = np.random.default_rng(8).integers(0, 2, len(frame)).astype(float)
    return frame


@pytest.fixture(scope="module")
def future(history) -> pd.DataFrame:
    """`promo` for the HORIZON months after each series' end."""
    ends = history.groupby("unique_id")["ds"].max()
    rows = [
        {"unique_id": series, "ds": end + pd.DateOffset(months=step), "promo": float((step + len(series)) % 2)}
        for series, end in ends.items()
        for step in range(1, HORIZON + 1)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def model_dir(history, tmp_path_factory):
    """A tiny LSTM with quantiles and a future covariate, fitted in a few seconds and saved."""
    model = Forecaster(
        cell="lstm",
        units=4,
        lookback=LOOKBACK,
        horizon=HORIZON,
        quantiles=[0.1, 0.9],
        future_covariates=("promo",),
        epochs=2,
        batch_size=64,
        validation_windows=0,
        tracking=False,
        verbose=0,
    ).fit(history)
    return model.save(tmp_path_factory.mktemp("models") / "lstm")


@pytest.fixture(scope="module")
def integer_history() -> pd.DataFrame:
    """Five series with integer ds (no dates), different starts and lengths."""
    pieces = [make_series(100 * k, 1, {f"i{k}": 12 + 2 * k}, seed=k) for k in range(5)]
    return pd.concat(pieces, ignore_index=True)


def sorted_frame(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def assert_same_rows(got: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    """Same rows and columns: keys exactly, values to float32 rounding (chunks batch the network differently)."""
    got, expected = sorted_frame(got, keys), sorted_frame(expected, keys)
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for key in keys:
        np.testing.assert_array_equal(got[key].to_numpy(), expected[key].to_numpy(), err_msg=key)
    for column in [c for c in expected.columns if c not in keys]:
        np.testing.assert_allclose(
            got[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-5, atol=1e-5, err_msg=column
        )


def non_empty_partitions(frame, num_partitions: int) -> pd.DataFrame:
    """Rows and series of every non-empty partition of `frame` shuffled by unique_id as forecast.spark does."""
    shuffled = frame.repartition(num_partitions, "unique_id").withColumn("partition", F.spark_partition_id())
    counts = shuffled.groupBy("partition").agg(F.count("*").alias("rows"), F.countDistinct("unique_id").alias("series"))
    return counts.toPandas()


def test_predict_equals_local_predict_and_loads_the_model_once_per_partition(spark, history, future, model_dir):
    expected = load_forecaster(model_dir).predict(history, future)
    loads = spark.sparkContext.accumulator(0)
    frame = spark.createDataFrame(history)
    forecasts = fs.predict(
        frame,
        str(model_dir),
        spark.createDataFrame(future),
        num_partitions=2,
        series_per_chunk=2,
        model_loads=loads,
    )
    with fs.executor_errors():
        got = forecasts.toPandas()

    assert [(f.name, f.dataType) for f in forecasts.schema.fields] == [
        ("unique_id", T.StringType()),
        ("ds", T.TimestampType()),
        ("y_hat", T.DoubleType()),
        ("y_hat_q10", T.DoubleType()),
        ("y_hat_q90", T.DoubleType()),
    ]
    assert_same_rows(got, expected, ["unique_id", "ds"])
    # Every partition holds several Arrow batches (> 40 rows) and several chunks (> 2 series), yet loads once.
    partitions = non_empty_partitions(frame, 2)
    assert (partitions["rows"] > 40).all() and (partitions["series"] > 2).all()
    assert loads.value == len(partitions) == 2

    cut = fs.keep_requested(spark.createDataFrame(got), horizon=2, quantiles=[0.9]).toPandas()
    first_two = expected[expected.groupby("unique_id").cumcount() < 2].drop(columns="y_hat_q10")
    assert_same_rows(cut, first_two, ["unique_id", "ds"])


def test_backtest_equals_local_backtest(spark, history, model_dir):
    with pytest.warns(UserWarning, match="in-sample"):
        expected = load_forecaster(model_dir).backtest(history, n_windows=2, step=1)
    result = fs.backtest(spark.createDataFrame(history), str(model_dir), n_windows=2, step=1, series_per_chunk=3)
    try:
        with fs.executor_errors():
            forecasts, metrics = result.forecasts.toPandas(), result.metrics.toPandas()
    finally:
        result.unpersist()

    assert result.forecasts.columns == ["unique_id", "ds", "cutoff", "y", "y_hat", "y_hat_q10", "y_hat_q90"]
    assert_same_rows(forecasts, expected.forecasts, ["unique_id", "cutoff", "ds"])
    assert list(metrics.columns) == list(expected.metrics.columns)
    per_series = metrics[metrics["unique_id"] != "overall"]
    assert_same_rows(per_series, expected.metrics.iloc[:-1], ["unique_id", "cutoff"])
    overall = metrics[metrics["unique_id"] == "overall"]
    assert len(overall) == 1 and overall["cutoff"].isna().all()
    scores = [c for c in expected.metrics.columns if c not in ("unique_id", "cutoff")]
    np.testing.assert_allclose(
        overall[scores].to_numpy(float)[0], expected.metrics.iloc[-1][scores].to_numpy(float), rtol=1e-5
    )


def test_integer_ds_and_a_fitted_baseline_in_memory(spark, integer_history):
    model = SeasonalNaive(horizon=4, season_length=4).fit(integer_history)
    frame = spark.createDataFrame(integer_history.astype({"ds": "int32"}))  # an int column comes out as a long
    forecasts = fs.predict(frame, model, series_per_chunk=2)
    result = fs.backtest(frame, model, n_windows=2, metrics=["mae", "mase"])
    try:
        with fs.executor_errors():
            got, backtest_forecasts, metrics = (
                forecasts.toPandas(),
                result.forecasts.toPandas(),
                result.metrics.toPandas(),
            )
    finally:
        result.unpersist()

    assert forecasts.schema["ds"].dataType == T.LongType()
    assert result.forecasts.schema["cutoff"].dataType == T.LongType()
    assert_same_rows(got, model.predict(integer_history), ["unique_id", "ds"])
    with pytest.warns(UserWarning, match="in-sample"):
        expected = model.backtest(integer_history, n_windows=2, metrics=["mae", "mase"])
    assert_same_rows(backtest_forecasts, expected.forecasts, ["unique_id", "cutoff", "ds"])
    assert list(metrics.columns) == ["unique_id", "cutoff", "mae", "mase"]
    assert_same_rows(metrics[metrics["unique_id"] != "overall"], expected.metrics.iloc[:-1], ["unique_id", "cutoff"])


def test_decimal_values_are_read_as_numbers_and_a_future_frame_a_model_cannot_read_is_named(spark, integer_history):
    cents = integer_history.assign(y=integer_history["y"].round(2))
    model = SeasonalNaive(horizon=4, season_length=4).fit(cents)
    frame = spark.createDataFrame(cents).withColumn("y", F.col("y").cast("decimal(12,2)"))
    with fs.executor_errors():
        got = fs.predict(frame, model, series_per_chunk=2).toPandas()
    assert_same_rows(got, model.predict(cents), ["unique_id", "ds"])
    with pytest.warns(UserWarning, match="future_df is not read: the model uses no future covariates"):
        fs.predict(frame, model, future_df=frame.drop("y"))


def test_an_executor_validation_error_comes_back_as_the_local_message(spark, history, future, model_dir):
    short = history[
        ~((history["unique_id"] == "s05") & (history["ds"] > history["ds"].min() + pd.DateOffset(months=3)))
    ]
    with pytest.raises(ValidationError) as local:
        load_forecaster(model_dir).predict(short, future)
    assert "s05" in str(local.value)

    forecasts = fs.predict(spark.createDataFrame(short), str(model_dir), spark.createDataFrame(future))
    with pytest.raises(ValidationError) as remote, fs.executor_errors():
        forecasts.collect()
    assert str(remote.value) == str(local.value)
    assert "\n" not in str(remote.value)


def test_a_series_the_model_never_saw_is_forecast_on_the_executors_as_locally(spark, history, future, model_dir):
    new = history[history["unique_id"] == "s00"].assign(unique_id="new")
    new_future = future[future["unique_id"] == "s00"].assign(unique_id="new")
    both, both_future = pd.concat([history, new], ignore_index=True), pd.concat([future, new_future], ignore_index=True)
    forecasts = fs.predict(spark.createDataFrame(both), str(model_dir), spark.createDataFrame(both_future))
    with fs.executor_errors():
        got = forecasts.toPandas()
    expected = load_forecaster(model_dir).predict(both, both_future)
    assert "new" in set(got["unique_id"]) and "new" not in set(load_forecaster(model_dir).series_ids_)
    assert_same_rows(got, expected, ["unique_id", "ds"])


def test_an_error_type_the_driver_cannot_rebuild_keeps_its_name_and_message():
    class LocalOnly(Exception):
        """Defined in a function: the driver cannot look it up by module and name."""

    with pytest.raises(fs.ExecutorError, match=r"^LocalOnly: series 'a' is odd$"), fs.executor_errors():
        raise RuntimeError("task failed: " + str(fs._portable(LocalOnly("series 'a' is odd"))))
    with pytest.raises(KeyError) as rebuilt, fs.executor_errors():
        raise RuntimeError(f"Traceback ...\n{fs._portable(KeyError('ds'))}\n")
    assert rebuilt.value.args == ("ds",)


def test_a_registered_model_uri_is_pinned_on_the_driver(spark, module_mlflow_tracking_uri, history, future, model_dir):
    import mlflow
    from mlflow import MlflowClient

    from forecast.pyfunc import log_forecaster

    forecaster = load_forecaster(model_dir)
    example = pd.concat([history[history["unique_id"] == "s00"], future[future["unique_id"] == "s00"]])
    with mlflow.start_run():
        log_forecaster(forecaster, example, register_as="spark-forecaster")
    MlflowClient().set_registered_model_alias("spark-forecaster", "champion", "1")

    shipped = fs.ship_model(spark, "models:/spark-forecaster@champion")
    assert shipped.version == "1"
    forecasts = fs.predict(spark.createDataFrame(history), shipped, spark.createDataFrame(future))
    with fs.executor_errors():
        got = forecasts.toPandas()
    assert_same_rows(got, forecaster.predict(history, future), ["unique_id", "ds"])


def test_write_forecasts_replaces_only_its_as_of_and_a_failed_run_leaves_it(spark, integer_history, tmp_path):
    model = SeasonalNaive(horizon=4, season_length=4).fit(integer_history)
    frame = spark.createDataFrame(integer_history)
    output = tmp_path / "forecasts"

    first = fs.write_forecasts(fs.predict(frame, model), output, pd.Timestamp("2026-11-22 02:00"))
    fs.write_forecasts(fs.predict(frame, model), output, "2026-11-23T02:00:00+01:00")
    fewer = frame.where(F.col("unique_id").isin("i0", "i1"))
    again = fs.write_forecasts(fs.predict(fewer, model), output, pd.Timestamp("2026-11-22 02:00:00"))
    assert again == first == f"{output}/as_of=20261122T020000"

    stored = spark.read.parquet(str(output)).toPandas()
    assert sorted(stored.groupby("as_of")["unique_id"].unique().map(sorted).items()) == [
        ("20261122T020000", ["i0", "i1"]),
        ("20261123T010000", ["i0", "i1", "i2", "i3", "i4"]),
    ]
    assert_same_rows(
        stored[stored["as_of"] == "20261122T020000"].drop(columns="as_of"),
        model.predict(integer_history[integer_history["unique_id"].isin(["i0", "i1"])]),
        ["unique_id", "ds"],
    )

    # A value missing inside series i0 fails the run (a series the model never saw would be forecast).
    broken = integer_history.assign(y=integer_history["y"].where(integer_history.index != 5))
    with pytest.raises(ValidationError, match="missing or infinite value") as local:
        model.predict(broken)
    with pytest.raises(ValidationError) as remote:
        fs.write_forecasts(fs.predict(spark.createDataFrame(broken), model), output, "2026-11-22T02:00:00")
    assert str(remote.value) == str(local.value)
    after = spark.read.parquet(str(output)).toPandas()
    assert sorted(after.loc[after["as_of"] == "20261122T020000", "unique_id"].unique()) == ["i0", "i1"]


def test_read_table_renames_columns_from_parquet_and_from_a_table(spark, tmp_path):
    source = pd.DataFrame(
        {"series": [7, 7, 8], "date": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-01-01"]), "value": [1.0, 2, 3]}
    )
    mapping = {"unique_id": "series", "ds": "date", "y": "value"}
    # pandas 2's default unit; pandas 3 parses these dates to microseconds
    source.astype({"date": "datetime64[ns]"}).to_parquet(tmp_path / "nanoseconds.parquet")
    with pytest.raises(ValidationError, match=r"holds nanosecond timestamps .* coerce_timestamps='us'"):
        fs.read_table(spark, path=tmp_path / "nanoseconds.parquet", columns=mapping)
    (tmp_path / "history").mkdir()
    source.to_parquet(tmp_path / "history" / "part-0.parquet", coerce_timestamps="us")

    from_path = fs.read_table(spark, path=tmp_path / "history", columns=mapping)
    assert [(f.name, f.dataType) for f in from_path.schema.fields][:1] == [("unique_id", T.StringType())]
    assert from_path.columns == ["unique_id", "ds", "y"]
    assert sorted(from_path.toPandas()["unique_id"]) == ["7", "7", "8"]

    spark.createDataFrame(source.assign(date=source["date"].dt.date)).createOrReplaceTempView("history_source")
    from_table = fs.read_table(spark, table="history_source", columns=mapping)
    assert from_table.columns == ["unique_id", "ds", "y"]
    assert from_table.schema["ds"].dataType == T.TimestampNTZType()  # dates become midnight timestamps
    pd.testing.assert_series_equal(from_table.toPandas()["ds"], source["date"], check_names=False, check_dtype=False)

    with pytest.raises(FileNotFoundError, match="no Parquet data at"):
        fs.read_table(spark, path=tmp_path / "absent")
    with pytest.raises(ValidationError, match=r"lacks column\(s\) \['unique_id', 'ds', 'y'\]; found"):
        fs.read_table(spark, table="history_source")


def test_driver_side_errors_come_before_any_task(spark, history, model_dir):
    dated = spark.createDataFrame(history).withColumn("ds", F.col("ds").cast("date"))
    with pytest.raises(ValidationError, match=r"column 'ds' holds date; expected timestamps or integers"):
        fs.predict(dated, str(model_dir))
    with pytest.raises(ValidationError, match=r"missing column\(s\) \['ds'\]"):
        fs.predict(spark.createDataFrame(history).drop("ds"), str(model_dir))
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['wape'\]"):
        fs.backtest(spark.createDataFrame(history), str(model_dir), metrics=["mae", "wape"])
    with pytest.raises(ValueError, match="n_windows"):
        fs.backtest(spark.createDataFrame(history), str(model_dir), n_windows=0)


def test_a_job_with_engine_spark_writes_its_as_of_partition_and_reruns_replace_it(
    spark, history, model_dir, tmp_path, monkeypatch
):
    import yaml

    from forecast.jobs.runner import run_job
    from forecast.jobs.spec import load_spec

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    source = tmp_path / "history"
    plain = history.drop(columns="promo")
    spark.createDataFrame(plain.rename(columns={"unique_id": "series"})).write.parquet(str(source))
    model = Forecaster(lookback=LOOKBACK, horizon=HORIZON, units=4, epochs=1, tracking=False, verbose=0).fit(plain)
    spec_path = tmp_path / "job.yaml"
    spec_path.write_text(
        yaml.safe_dump(
            {
                "name": "on-spark",
                "engine": "spark",
                "spark": {"num_partitions": 2, "series_per_chunk": 3},
                "data": {"path": str(source), "columns": {"unique_id": "series"}},
                "model": {"uri": str(model.save(tmp_path / "model"))},
                "horizon": 2,
                "output": {"path": str(tmp_path / "forecasts")},
            }
        )
    )
    spec = load_spec(spec_path)
    first = run_job(spec, as_of="2026-03-01T02:00")
    second = run_job(spec, as_of="2026-03-01T02:00")
    run_job(spec, as_of="2026-03-02T02:00")
    assert first.rows_written == second.rows_written == 12 * 2 and first.rows_read == len(plain)
    written = pd.read_parquet(tmp_path / "forecasts")
    assert sorted(written["as_of"].astype(str).unique()) == ["20260301T020000", "20260302T020000"]
    one_run = written[written["as_of"].astype(str) == "20260301T020000"].sort_values(["unique_id", "ds"])
    local = model.predict(plain).groupby("unique_id").head(2)
    np.testing.assert_allclose(one_run["y_hat"], local["y_hat"], rtol=1e-5)
    assert (one_run["job"] == "on-spark").all()

    # Both runs come back from the dataset and are scored against actuals that arrived 1 above the forecasts.
    from forecast.jobs.engines.spark import SparkEngine
    from forecast.jobs.realized import realized_accuracy

    engine = SparkEngine.from_spec(spec)
    assert engine.session is spark
    with fs.executor_errors():
        earlier = engine.read_forecasts(spec.output, "on-spark").toPandas()
    assert sorted(earlier["as_of"].unique()) == [pd.Timestamp("2026-03-01 02:00"), pd.Timestamp("2026-03-02 02:00")]
    assert len(earlier) == 2 * 12 * 2 and set(earlier["unique_id"]) == set(plain["unique_id"])
    arrived = pd.concat([plain, local.assign(y=local["y_hat"] + 1.0)[["unique_id", "ds", "y"]]], ignore_index=True)
    accuracy = engine.score(engine.read_forecasts(spec.output, "on-spark"), spark.createDataFrame(arrived))
    np.testing.assert_allclose(accuracy.per_step["bias"], -1.0, atol=1e-4)
    assert accuracy.per_step["step"].tolist() == [1, 2, 1, 2] and (accuracy.per_step["series"] == 12).all()
    expected = realized_accuracy(earlier, arrived)
    pd.testing.assert_frame_equal(accuracy.per_series, expected.per_series)
    pd.testing.assert_frame_equal(accuracy.overall, expected.overall)
