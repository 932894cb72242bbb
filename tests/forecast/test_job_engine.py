"""The job engine interface: declared capabilities, realized accuracy against a NumPy re-derivation, sinks
that read back what they wrote, and a sink added as one module (in a child process, as a user would)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy
import yaml

from forecast.baselines import SeasonalNaive
from forecast.jobs import registry
from forecast.jobs.engine import Capabilities, RunLabel
from forecast.jobs.engines.local import LocalEngine, keep_requested
from forecast.jobs.engines.spark import SparkEngine
from forecast.jobs.realized import realized_accuracy
from forecast.jobs.spec import DataSpec, JobSpec, OutputSpec

SEASON = 2


def test_engines_declare_what_they_serve_and_whether_they_retrain():
    assert LocalEngine.capabilities() == Capabilities(
        sources=frozenset({"path", "sql"}), sinks=frozenset({"path", "sql"}), retrain=True, score=True
    )
    assert SparkEngine.capabilities() == Capabilities(
        sources=frozenset({"path", "table"}), sinks=frozenset({"path"}), retrain=False, score=True
    )


# --- realized accuracy ------------------------------------------------------------------------------


def actuals_frame() -> pd.DataFrame:
    """Three series with integer ds; 'late' starts only at t = 6."""
    rng = np.random.default_rng(3)
    pieces = [
        pd.DataFrame({"unique_id": "a", "ds": np.arange(12), "y": 10 + np.sin(np.arange(12)) + rng.normal(0, 0.3, 12)}),
        pd.DataFrame({"unique_id": "b", "ds": np.arange(12), "y": 50 + 2.0 * np.arange(12) + rng.normal(0, 1, 12)}),
        pd.DataFrame({"unique_id": "late", "ds": np.arange(6, 12), "y": [5.0, 6.0, 8.0, 7.0, 9.0, 8.5]}),
    ]
    return pd.concat(pieces, ignore_index=True)


def earlier_forecasts() -> pd.DataFrame:
    """Two runs, horizon 3: from origin t = 8 (all steps have actuals) and from t = 10 (only step 1 has one)."""
    rng = np.random.default_rng(4)
    rows = []
    for as_of, origin in (("2026-01-01", 8), ("2026-01-02", 10)):
        for series in ("a", "b", "late"):
            # The first run forecast 'late' from its first observation on: no history to scale by, left out.
            start = 6 if series == "late" and origin == 8 else origin + 1
            y_hat = rng.normal(30, 15, 3)
            rows.append(
                pd.DataFrame(
                    {
                        "unique_id": series,
                        "ds": np.arange(start, start + 3),
                        "y_hat": y_hat,
                        "y_hat_q10": y_hat - rng.uniform(0, 20, 3),
                        "y_hat_q90": y_hat + rng.uniform(0, 20, 3),
                        "job": "j",
                        "as_of": pd.Timestamp(as_of),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def rederived(forecasts: pd.DataFrame, actuals: pd.DataFrame) -> pd.DataFrame:
    """Per run, series and step: |e|/scale, sMAPE term, error and inside-interval, by NumPy loops."""
    records = []
    for (as_of, series), run in forecasts.groupby(["as_of", "unique_id"]):
        history = actuals[actuals["unique_id"] == series].set_index("ds")["y"]
        before = history[history.index < run["ds"].min()]
        if before.empty:
            continue
        past = before.to_numpy()
        scale = np.mean(np.abs(past[SEASON:] - past[:-SEASON]))
        for step, row in enumerate(run.sort_values("ds").itertuples(), start=1):
            if row.ds not in history.index:
                continue
            y = history[row.ds]
            error = row.y_hat - y
            records.append(
                {
                    "as_of": as_of,
                    "unique_id": series,
                    "step": step,
                    "scaled": abs(error) / scale,
                    "smape": 200 * abs(error) / (abs(y) + abs(row.y_hat)),
                    "bias": error,
                    "inside": float(row.y_hat_q10 <= y <= row.y_hat_q90),
                }
            )
    return pd.DataFrame(records)


def test_realized_accuracy_per_series_per_step_and_overall_match_a_numpy_rederivation():
    forecasts, actuals = earlier_forecasts(), actuals_frame()
    result = realized_accuracy(forecasts, actuals, season_length=SEASON)
    terms = rederived(forecasts, actuals)
    columns = {"mase": "scaled", "smape": "smape", "bias": "bias", "coverage_80": "inside"}

    expected_series = terms.groupby(["as_of", "unique_id"]).agg(
        steps=("step", "size"), **{name: (term, "mean") for name, term in columns.items()}
    )
    got_series = result.per_series.set_index(["as_of", "unique_id"])
    assert list(got_series.index) == list(expected_series.index)
    assert ("2026-01-01", "late") not in {(str(a.date()), s) for a, s in got_series.index}
    assert got_series["steps"].tolist() == [3, 3, 1, 1, 1]
    for name in columns:
        np.testing.assert_allclose(got_series[name], expected_series[name], rtol=1e-12, err_msg=name)
    assert got_series["origin"].tolist() == [8, 8, 10, 10, 10]

    expected_steps = terms.groupby(["as_of", "step"]).agg(
        series=("unique_id", "size"), **{name: (term, "mean") for name, term in columns.items()}
    )
    got_steps = result.per_step.set_index(["as_of", "step"])
    assert list(got_steps.index) == list(expected_steps.index)
    assert got_steps["series"].tolist() == expected_steps["series"].tolist() == [2, 2, 2, 3]
    for name in columns:
        np.testing.assert_allclose(got_steps[name], expected_steps[name], rtol=1e-12, err_msg=name)

    expected_overall = expected_series.groupby("as_of")[list(columns)].mean()
    got_overall = result.overall.set_index("as_of")
    for name in columns:
        np.testing.assert_allclose(got_overall[name], expected_overall[name], rtol=1e-12, err_msg=name)
    assert got_overall["series"].tolist() == [2, 3]


def test_nothing_is_scored_before_any_actual_arrives():
    forecasts, actuals = earlier_forecasts(), actuals_frame()
    result = realized_accuracy(forecasts, actuals[actuals["ds"] <= 8], season_length=SEASON)
    assert result.per_series.empty and result.per_step.empty and result.overall.empty
    assert {"mase", "smape", "bias"} <= set(result.overall.columns)


def test_the_local_forecast_is_cut_to_the_requested_horizon_and_quantiles():
    forecasts = pd.DataFrame(
        {
            "unique_id": np.repeat(["x", "y"], 4),
            "ds": np.tile(np.arange(4), 2),
            "y_hat": np.arange(8.0),
            "y_hat_q10": np.arange(8.0) - 1,
            "y_hat_q90": np.arange(8.0) + 1,
        }
    )
    cut = keep_requested(forecasts, 2, (0.9,))
    expected = forecasts[forecasts["ds"] < 2].drop(columns="y_hat_q10").reset_index(drop=True)
    pd.testing.assert_frame_equal(cut, expected)
    assert list(keep_requested(forecasts, 4, None).columns) == ["unique_id", "ds", "y_hat"]


# --- sinks read back what they wrote ---------------------------------------------------------------


def one_run(as_of: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["001", "001", "010"],
            "ds": pd.to_datetime(["2030-01-01", "2030-02-01", "2030-01-01"]),
            "y_hat": [1.5, 2.5, 3.5],
            "y_hat_q10": [1.0, 2.0, 3.0],
        }
    ).assign(y_hat=lambda frame: frame["y_hat"] + pd.Timestamp(as_of).day)


@pytest.mark.parametrize(
    "output",
    [
        {"path": "{tmp}/runs/forecast_{as_of}.csv"},
        {"path": "{tmp}/runs/forecast_{as_of}.parquet"},
        {"path": "{tmp}/all.csv"},
        {"sql": {"url": "sqlite:///{tmp}/sink.db", "table": "forecasts"}},
    ],
    ids=["csv per run", "parquet per run", "one csv", "sqlite"],
)
def test_local_sinks_read_back_the_rows_of_one_job(tmp_path, output):
    spec = OutputSpec.model_validate(yaml.safe_load(yaml.safe_dump(output).replace("{tmp}", str(tmp_path))))
    engine = LocalEngine()
    assert engine.read_forecasts(spec, "wanted").empty
    written = []
    for job, as_of, version in (
        ("wanted", "2026-01-01", "1"),
        ("other", "2026-01-01", "1"),
        ("wanted", "2026-01-02", None),
    ):
        run = RunLabel(job=job, as_of=pd.Timestamp(as_of), model_version=version)
        assert engine.write(one_run(as_of), spec, run).rows == 3
        written.append(one_run(as_of).assign(job=job, as_of=pd.Timestamp(as_of)))
    engine.write(
        one_run("2026-01-01"), spec, RunLabel(job="wanted", as_of=pd.Timestamp("2026-01-01"), model_version="2")
    )

    got = engine.read_forecasts(spec, "wanted").sort_values(["as_of", "unique_id", "ds"]).reset_index(drop=True)
    expected = pd.concat([written[0], written[2]], ignore_index=True)
    assert got["unique_id"].tolist() == expected["unique_id"].tolist()  # text ids, zero padding kept
    assert (got["job"] == "wanted").all()
    pd.testing.assert_series_equal(got["as_of"].astype("datetime64[ns]"), expected["as_of"].astype("datetime64[ns]"))
    pd.testing.assert_series_equal(got["ds"].astype("datetime64[ns]"), expected["ds"].astype("datetime64[ns]"))
    np.testing.assert_allclose(got["y_hat"], expected["y_hat"])
    np.testing.assert_allclose(got["y_hat_q10"], expected["y_hat_q10"])


# --- a new sink is one module -----------------------------------------------------------------------


JSON_LINES_SINK = '''
"""output.jsonl on engine local: forecasts as JSON Lines, one file per job."""

from pathlib import Path

import pandas as pd

from forecast.jobs.engine import Written
from forecast.jobs.registry import Sink, SpecSection, register_sink


class JsonLinesOutput(SpecSection):
    file: str


@register_sink
class JsonLinesSink(Sink):
    key = "jsonl"
    spec = JsonLinesOutput
    engine = "local"
    description = "a JSON Lines file"

    def write(self, engine, forecasts, value, run):
        rows = forecasts.assign(**run.columns())
        rows.to_json(value.file, orient="records", lines=True, date_format="iso")
        return Written(location=value.file, rows=len(rows))

    def read_forecasts(self, engine, value, job):
        if not Path(value.file).exists():
            return pd.DataFrame(columns=["unique_id", "ds", "y_hat", "job", "as_of"])
        frame = pd.read_json(value.file, lines=True, dtype={"unique_id": str})
        return frame[frame["job"] == job]
'''

RUN_WITH_PLUGINS = """
import sys
import forecast.jobs.sinks
forecast.jobs.sinks.__path__.append(sys.argv[1])  # as if the module were in forecast/jobs/sinks/
from forecast.jobs.runner import run_job
from forecast.jobs.spec import load_spec
result = run_job(load_spec(sys.argv[2]), "2026-01-01")
print(result.rows_written, result.output)
"""


def test_a_new_sink_is_one_module(tmp_path):
    history = pd.DataFrame(
        {"unique_id": np.repeat(["a", "b"], 8), "ds": np.tile(np.arange(8), 2), "y": np.arange(16.0) % 5}
    )
    history.to_csv(tmp_path / "history.csv", index=False)
    model = SeasonalNaive(horizon=2, season_length=4).fit(history)
    model.save(tmp_path / "model")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "json_lines.py").write_text(textwrap.dedent(JSON_LINES_SINK))
    spec = {
        "name": "plugged",
        "data": {"path": "history.csv"},
        "model": {"uri": "model"},
        "horizon": 2,
        "output": {"jsonl": {"file": str(tmp_path / "forecasts.jsonl")}},
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    child = subprocess.run(
        [sys.executable, "-c", RUN_WITH_PLUGINS, str(plugins), str(tmp_path / "job.yaml")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.split() == ["4", str(tmp_path / "forecasts.jsonl")]
    written = pd.read_json(tmp_path / "forecasts.jsonl", lines=True, dtype={"unique_id": str})
    expected = model.predict(history)
    np.testing.assert_allclose(written["y_hat"], expected["y_hat"])
    assert written["job"].unique().tolist() == ["plugged"]
    # Without the module, output.jsonl is no field of the spec.
    with pytest.raises(Exception, match="output.jsonl"):
        JobSpec.model_validate(spec)


def test_a_sql_sink_read_back_gives_text_ids_for_integer_looking_ids(tmp_path):
    url = f"sqlite:///{tmp_path / 'ids.db'}"
    spec = OutputSpec(sql={"url": url, "table": "forecasts"})
    rows = pd.DataFrame({"unique_id": ["7", "007"], "ds": [1, 2], "y_hat": [1.0, 2.0]})
    LocalEngine().write(rows, spec, RunLabel(job="j", as_of=pd.Timestamp("2026-01-01"), model_version=None))
    engine = sqlalchemy.create_engine(url)
    try:
        stored_types = pd.read_sql("SELECT DISTINCT typeof(unique_id) AS t FROM forecasts", engine)["t"].tolist()
    finally:
        engine.dispose()
    assert stored_types == ["text"]
    assert LocalEngine().read_forecasts(spec, "j")["unique_id"].tolist() == ["7", "007"]


def test_the_paths_a_sql_sink_writes_are_its_sqlite_file_if_any(tmp_path):
    postgres = OutputSpec(sql={"url": "postgresql://writer@db/sales", "table": "f"})
    memory = OutputSpec(sql={"url": "sqlite://", "table": "f"})
    uri = OutputSpec(sql={"url": f"sqlite:///file:{tmp_path}/x.db?uri=true", "table": "f"})
    sink = registry.sink("sql", "local")
    stamp = pd.Timestamp("2026-01-01")
    assert sink.paths(postgres.sql, stamp) == [] and sink.paths(memory.sql, stamp) == []
    assert sink.paths(uri.sql, stamp) == [f"{tmp_path}/x.db"]
    assert Path(sink.paths(OutputSpec(sql={"url": "sqlite:///rel.db", "table": "f"}).sql, stamp)[0]) == Path("rel.db")


def test_a_run_without_an_interval_is_not_scored_on_coverage_and_only_earlier_runs_are_scored():
    forecasts, actuals = earlier_forecasts(), actuals_frame()
    second = forecasts["as_of"] == pd.Timestamp("2026-01-02")
    forecasts.loc[second, ["y_hat_q10", "y_hat_q90"]] = np.nan  # the second run forecast no interval
    result = realized_accuracy(forecasts, actuals, season_length=SEASON)
    assert result.overall["coverage_80"].notna().tolist() == [True, False]
    assert result.overall["mase"].notna().all()
    before = realized_accuracy(forecasts, actuals, season_length=SEASON, before=pd.Timestamp("2026-01-02"))
    assert before.overall["as_of"].tolist() == [pd.Timestamp("2026-01-01")]
    first_run = result.per_series[result.per_series["as_of"] == pd.Timestamp("2026-01-01")]
    pd.testing.assert_frame_equal(before.per_series, first_run)


def test_news_counts_the_steps_that_arrived_or_became_due_since_the_latest_run():
    """Run 1 forecast t = 9..11 from t = 8, run 2 t = 11..13 from t = 10: the actuals end at 11 (run 2's news)."""
    forecasts, actuals = earlier_forecasts(), actuals_frame()
    result = realized_accuracy(forecasts, actuals, season_length=SEASON)
    # The latest run (2) was made from t = 10: t = 11 arrived since, for every series of both runs.
    assert result.overall.set_index("as_of")["new_steps"].tolist() == [2, 3]
    quiet = realized_accuracy(forecasts, actuals[actuals["ds"] <= 10], season_length=SEASON)
    assert quiet.overall["new_steps"].tolist() == [0]  # nothing arrived after run 2 was made


@pytest.mark.parametrize(
    "ds, kept",
    [
        (pd.date_range("2026-01-01", periods=4, freq="D"), 2),
        (pd.date_range("2026-01-01", periods=4, freq="D", tz="Europe/Berlin"), 2),  # 00:00 Berlin = 23:00 UTC before
        (pd.Series(pd.date_range("2026-01-01", periods=4, freq="D")).dt.strftime("%Y-%m-%d %H:%M:%S"), 2),
    ],
    ids=["naive", "zoned", "text"],
)
def test_data_until_as_of_keeps_the_rows_up_to_the_run(ds, kept):
    frame = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(4.0)})
    until = LocalEngine().until(frame, pd.Timestamp("2026-01-02T00:00"))
    assert len(until) == kept
    with pytest.raises(ValueError, match="data.until_as_of needs timestamps in ds; found int64"):
        LocalEngine().until(frame.assign(ds=np.arange(4)), pd.Timestamp("2026-01-02"))


def test_data_until_as_of_before_all_the_data_names_the_source_and_its_first_ds(tmp_path):
    frame = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=3, freq="MS"), "y": 1.0})
    frame.to_csv(tmp_path / "data.csv", index=False)
    database = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'data.db'}")
    frame.to_sql("observations", database, index=False)
    database.dispose()
    sql = {"url": f"sqlite:///{tmp_path / 'data.db'}", "query": "SELECT * FROM observations"}
    before = pd.Timestamp("2010-01-01")
    for source, name in (({"path": str(tmp_path / "data.csv")}, tmp_path / "data.csv"), ({"sql": sql}, "data.sql")):
        with pytest.raises(ValueError) as raised:
            LocalEngine().read(DataSpec(**source, until_as_of=True), before)
        assert str(raised.value) == (
            f"{name} has no rows up to as_of 2010-01-01T00:00:00 (its first ds is 2020-01-01T00:00:00)"
        )
        assert len(LocalEngine().read(DataSpec(**source, until_as_of=True), pd.Timestamp("2020-02-01"))) == 2


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "the file is empty"),
        ("series,date,value\na,2020-01-01,1\na,2020-02-01,2,9\n", "line 3 has 4 fields, the header 3"),
        (
            "series,date,value\na,2020-01-01,1,9\na,2020-02-01,2,9\n",  # pandas would take the ids for an index
            r"line 2 has 4 fields, the header 3 \(and so has every line\)",
        ),
        ("series,date,value\na,2020-01-01,1\na,not-a-date,2\n", ".*'not-a-date'.*"),
    ],
    ids=["empty", "extra field", "extra field on every line", "bad date"],
)
def test_a_csv_source_that_is_no_table_fails_in_one_line_naming_the_file(tmp_path, text, reason):
    path = tmp_path / "data.csv"
    path.write_text(text)
    columns = {"unique_id": "series", "ds": "date", "y": "value"}
    with pytest.raises(ValueError, match=rf"^cannot read {re.escape(str(path))}: {reason}$"):
        LocalEngine().read(DataSpec(path=str(path), columns=columns))


def test_a_csv_whose_every_line_ends_with_a_delimiter_is_read_as_its_header_names_it(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("series,date,value\na,2020-01-01,1,\nb,2020-01-01,2,\n")
    columns = {"unique_id": "series", "ds": "date", "y": "value"}
    frame = LocalEngine().read(DataSpec(path=str(path), columns=columns))
    assert frame["unique_id"].tolist() == ["a", "b"] and frame["y"].tolist() == [1.0, 2.0]


def test_the_accuracy_table_holds_series_steps_and_overall_rows_of_the_chosen_runs():
    result = realized_accuracy(earlier_forecasts(), actuals_frame(), season_length=SEASON)
    first = pd.Timestamp("2026-01-01")
    table = result.table([first])
    assert (table["forecast_as_of"] == first).all()
    series_rows = table[table["unique_id"] != "overall"]
    assert series_rows["unique_id"].tolist() == ["a", "b"] and series_rows["step"].isna().all()
    steps = table[(table["unique_id"] == "overall") & table["step"].notna()]
    assert steps["step"].tolist() == [1, 2, 3] and steps["series"].tolist() == [2, 2, 2]
    overall = table[(table["unique_id"] == "overall") & table["step"].isna()]
    np.testing.assert_allclose(overall["mase"], result.overall.loc[result.overall["as_of"] == first, "mase"])
    assert list(table.columns[:8]) == [
        "forecast_as_of",
        "model_version",
        "unique_id",
        "step",
        "origin",
        "series",
        "steps",
        "missing",
    ]


@pytest.mark.spark
def test_a_spark_job_scores_its_earlier_runs_as_the_local_engine_does(tmp_path, mlflow_tracking_uri, monkeypatch):
    """The same job replayed month by month (data.until_as_of) on both engines stores the same accuracy table."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (the spark extra)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed: Spark needs a Java 17 runtime")
    from forecast import spark as fs
    from forecast.jobs.runner import run_job

    months = pd.date_range("2024-01-01", periods=24, freq="MS")
    t = np.arange(24)
    history = pd.concat(
        [
            pd.DataFrame({"unique_id": key, "ds": months, "y": level + 0.5 * t + 3 * np.sin(np.pi * t / 2)})
            for key, level in (("001", 10.0), ("002", 20.0), ("003", 40.0))
        ],
        ignore_index=True,
    )
    history.to_parquet(tmp_path / "history.parquet", coerce_timestamps="us", allow_truncated_timestamps=True)
    SeasonalNaive(horizon=3, season_length=4).fit(history).save(tmp_path / "model")
    conf = {
        "spark.ui.enabled": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.session.timeZone": "UTC",
    }
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    session = fs.spark_session("local[1]", conf, app_name="lstm-forecast-job-accuracy")
    try:
        stored = {}
        for engine, output in (("local", "local/forecast_{as_of}.parquet"), ("spark", "spark_forecasts")):
            spec = {
                "name": "replayed",
                "engine": engine,
                "data": {"path": str(tmp_path / "history.parquet"), "until_as_of": True},
                "model": {"uri": str(tmp_path / "model")},
                "horizon": 3,
                "output": {"path": str(tmp_path / output)},
                "accuracy": {"path": str(tmp_path / f"{engine}_accuracy.csv"), "season_length": 4},
                **({"spark": {"master": "local[1]", "conf": conf}} if engine == "spark" else {}),
            }
            scored = [
                run_job(JobSpec.model_validate(spec), months[month] + pd.Timedelta(hours=2)).runs_scored
                for month in (18, 19, 21)
            ]
            assert scored == [0, 1, 2]
            stored[engine] = pd.read_csv(tmp_path / f"{engine}_accuracy.csv", dtype={"unique_id": str})
    finally:
        session.stop()
    assert len(stored["local"]) and set(stored["local"]["unique_id"]) == {"001", "002", "003", "overall"}
    pd.testing.assert_frame_equal(stored["spark"], stored["local"], check_exact=False, rtol=1e-6)


def test_the_validation_mase_of_a_model_is_its_backtest_on_the_windows_its_fit_held_out():
    from forecast.baselines import Naive
    from forecast.jobs.degradation import validation_mase
    from forecast.jobs.models import data_growth

    y = {"a": [3.0, 5.0, 4.0, 8.0, 6.0, 7.0, 9.0, 12.0], "b": [10.0, 9.0, 11.0, 14.0, 13.0, 12.0, 15.0, 11.0]}
    data = pd.concat(
        [
            pd.DataFrame({"unique_id": key, "ds": pd.date_range("2025-01-01", periods=8, freq="MS"), "y": v})
            for key, v in y.items()
        ],
        ignore_index=True,
    )
    model = Naive(horizon=2).fit(data.groupby("unique_id").head(7))  # trained up to month 7; month 8 arrived since
    expected = []
    for values in y.values():
        trained = np.array(values[:7])
        origin = len(trained) - 2 - 1  # the last origin whose horizon ends with the training data
        scale = np.mean(np.abs(np.diff(trained[: origin + 1])))
        expected.append(np.mean(np.abs(trained[origin + 1 :] - trained[origin])) / scale)
    as_text = data.assign(ds=data["ds"].dt.strftime("%Y-%m-%d"))  # a SQLite source gives timestamps as text
    assert validation_mase(model, data, season_length=1) == pytest.approx(np.mean(expected))
    assert validation_mase(model, as_text, season_length=1) == pytest.approx(np.mean(expected))
    assert data_growth(model, as_text) == data_growth(model, data) == 1
    # a retrain at an as_of after month 8 (a refused challenger: the model stays) leaves no growth since
    assert data_growth(model, data, since=pd.Timestamp("2025-08-02")) == 0
    assert data_growth(model, data, since=pd.Timestamp("2025-07-15")) == 1  # it saw up to month 7: month 8 is new
    # growth since a retrain counts from each series' last row at or before its as_of: the 11th to the 16th
    days = pd.DataFrame({"unique_id": "d", "ds": pd.date_range("2026-01-01", "2026-01-16", freq="D"), "y": 1.0})
    daily = Naive(horizon=2).fit(days[days["ds"] <= "2026-01-05"])
    assert data_growth(daily, days, since=pd.Timestamp("2026-01-10 02:00")) == 6
    steps = days.assign(ds=np.arange(len(days)))  # integer ds: counted from an integer since as well
    assert data_growth(Naive(horizon=2).fit(steps[steps["ds"] <= 4]), steps, since=9) == 6
    zoned = data.assign(ds=data["ds"].dt.tz_localize("Europe/Paris"))
    assert data_growth(Naive(horizon=2).fit(zoned.groupby("unique_id").head(7)), zoned, pd.Timestamp("2025-08-02")) == 0


def test_integer_ds_count_from_training_where_the_last_retrain_was_tagged_before_its_data_end(monkeypatch):
    # a retrain registered before job.data_end carries only its as_of, a timestamp that integer ds cannot be
    # compared with: the growth is counted since training, as it was before the tag (not a TypeError every run)
    from types import SimpleNamespace

    from forecast.baselines import Naive
    from forecast.jobs import models
    from forecast.model_uri import ResolvedModel

    steps = pd.DataFrame({"unique_id": "s", "ds": np.arange(16), "y": 1.0})
    model = ResolvedModel(uri="models:/m/1", forecaster=Naive(horizon=2).fit(steps[steps["ds"] <= 4]), name="m")
    spec = JobSpec.model_validate(
        {
            "name": "steps",
            "data": {"path": "unused.csv"},
            "model": {"uri": "models:/m/1", "retrain": {"policy": "data_growth", "n": 3}},
            "horizon": 2,
            "output": {"path": "unused_out.csv"},
        }
    )
    older = SimpleNamespace(tags={models.JOB_NAME_TAG: "steps", models.JOB_AS_OF_TAG: "2026-01-01T00:00:00"})
    monkeypatch.setattr(models, "_latest_retrain_of", lambda spec: older)
    check = models.retrain_check(spec, model, steps, None, pd.Timestamp("2026-02-01"))
    assert check.due and check.reason.startswith("data_growth: 11 new steps since training")
    tagged = SimpleNamespace(tags={**older.tags, models.JOB_DATA_END_TAG: "9"})  # the tag, where there is one
    monkeypatch.setattr(models, "_latest_retrain_of", lambda spec: tagged)
    check = models.retrain_check(spec, model, steps, None, pd.Timestamp("2026-02-01"))
    assert check.reason == "data_growth: 6 new steps since training and the last retrain, retrain at 3"


def test_a_jobs_mase_period_is_the_one_the_model_was_fitted_with():
    from forecast.baselines import Naive, SeasonalNaive
    from forecast.jobs.backtests import model_season_length

    t = np.arange(72)
    integer_stamped = pd.concat(
        [
            pd.DataFrame({"unique_id": key, "ds": t, "y": 20 + 5 * np.sin(2 * np.pi * t / 12) + 0.1 * (t % 5)})
            for key in ("a", "b", "c")
        ],
        ignore_index=True,
    )
    seasonal = SeasonalNaive(horizon=3).fit(integer_stamped)
    assert seasonal.season_length_ == 12 and model_season_length(seasonal) == 12  # found in the data, not 1
    monthly = integer_stamped.assign(ds=pd.date_range("2020-01-01", periods=72, freq="MS").repeat(1).tolist() * 3)
    assert model_season_length(Naive(horizon=3).fit(monthly)) == 12  # no period of its own: the calendar's
    assert model_season_length(SeasonalNaive(horizon=3, season_length=4).fit(monthly)) == 4
