"""Forecast jobs against real parts: SQLite source and sink, a real MLflow SQLite store
with a registered model and alias, real CSV/Parquet files."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy
import yaml
from apscheduler.triggers.cron import CronTrigger
from mlflow import MlflowClient
from pydantic import ValidationError
from typer.testing import CliRunner

from forecast.forecaster import Forecaster
from forecast.jobs.cli import job_app
from forecast.jobs.errors import JobFailed
from forecast.jobs.runner import redacted_spec, run_job
from forecast.jobs.scheduler import JobScheduler
from forecast.jobs.spec import JobSpec, ScheduleSpec, SpecError, load_spec
from forecast.settings import Tracking

HORIZON = 4
MODEL_NAME = "job-model"


def series_frame(n_steps: int = 36, start: str = "2020-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frames = []
    for number in range(3):
        ds = pd.date_range(start, periods=n_steps, freq="MS")
        y = 10.0 + number + np.sin(np.arange(n_steps) / 2.0) + rng.normal(0, 0.1, n_steps)
        frames.append(pd.DataFrame({"series": f"s{number}", "date": ds, "value": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A MLflow SQLite store holding two registered versions, alias 'champion' -> version 1."""
    root = tmp_path_factory.mktemp("jobs")
    uri = f"sqlite:///{root}/mlflow.db"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    data = series_frame().rename(columns={"series": "unique_id", "date": "ds", "value": "y"})
    for seed in (0, 1):
        Forecaster(
            units=4,
            lookback=8,
            horizon=HORIZON,
            quantiles=[0.1, 0.9],
            epochs=1,
            verbose=0,
            seed=seed,
            tracking=Tracking(experiment="job-model-training", register_as=MODEL_NAME),
        ).fit(data)
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", "1")
    source = root / "source.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{source}")
    series_frame().to_sql("observations", engine, index=False)
    engine.dispose()
    yield {"root": root, "uri": uri, "source": source}
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture(autouse=True)
def tracking_uri(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])


def make_spec(store, tmp_path: Path, **overrides) -> dict:
    spec = {
        "name": "nightly",
        "data": {
            "sql": {"url": f"sqlite:///{store['source']}", "query": "SELECT * FROM observations"},
            "columns": {"unique_id": "series", "ds": "date", "y": "value"},
        },
        "model": {"uri": f"models:/{MODEL_NAME}@champion"},
        "horizon": HORIZON,
        "quantiles": [0.1],
        "output": {"sql": {"url": f"sqlite:///{tmp_path}/out.db", "table": "forecasts"}},
        "schedule": {"cron": "0 2 * * *", "timezone": "UTC"},
        "tracking": {"experiment": "jobs-test"},
    }
    spec.update(overrides)
    return spec


def write_spec(spec: dict, tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def read_output(tmp_path: Path) -> pd.DataFrame:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/out.db")
    try:
        return pd.read_sql("SELECT * FROM forecasts", engine, parse_dates=["as_of", "ds"])
    finally:
        engine.dispose()


def test_sql_run_is_idempotent_per_as_of_and_keeps_other_runs(store, tmp_path):
    spec = JobSpec.model_validate(make_spec(store, tmp_path))
    first = run_job(spec, "2026-01-01T02:00:00")
    assert first.rows_read == 3 * 36 and first.rows_written == 3 * HORIZON
    assert first.model_version == "1"
    run_job(spec, "2026-01-01T02:00:00")
    output = read_output(tmp_path)
    assert len(output) == 3 * HORIZON
    assert set(output.columns) >= {"unique_id", "ds", "y_hat", "y_hat_q10", "job", "as_of", "model_version"}
    assert "y_hat_q90" not in output.columns  # the spec asked for q10 only
    assert (output["job"] == "nightly").all()
    run_job(spec, "2026-01-02T02:00:00")
    output = read_output(tmp_path)
    assert output.groupby("as_of").size().to_dict() == {
        pd.Timestamp("2026-01-01 02:00"): 3 * HORIZON,
        pd.Timestamp("2026-01-02 02:00"): 3 * HORIZON,
    }
    # The forecasts start right after each series' last observation.
    assert output["ds"].min() == pd.Timestamp("2023-01-01")


def test_the_same_forecast_as_the_registered_forecaster(store, tmp_path):
    spec = JobSpec.model_validate(make_spec(store, tmp_path))
    run_job(spec, "2026-01-01")
    output = read_output(tmp_path).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    from forecast.model_uri import resolve_model

    data = series_frame().rename(columns={"series": "unique_id", "date": "ds", "value": "y"})
    expected = resolve_model(f"models:/{MODEL_NAME}/1").forecaster.predict(data)
    np.testing.assert_allclose(output["y_hat"], expected["y_hat"], rtol=1e-6)


def test_file_outputs_with_as_of_template_and_single_file(store, tmp_path):
    templated = make_spec(store, tmp_path, output={"path": str(tmp_path / "out" / "forecast_{as_of}.csv")})
    spec = JobSpec.model_validate(templated)
    run_job(spec, "2026-03-01T00:00:00")
    run_job(spec, "2026-03-01T00:00:00")
    run_job(spec, "2026-03-02T00:00:00")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "forecast_20260301T000000.csv",
        "forecast_20260302T000000.csv",
    ]
    single = JobSpec.model_validate(make_spec(store, tmp_path, output={"path": str(tmp_path / "all.parquet")}))
    for as_of in ("2026-03-01", "2026-03-01", "2026-03-02"):
        run_job(single, as_of)
    table = pd.read_parquet(tmp_path / "all.parquet")
    assert table.groupby("as_of").size().tolist() == [3 * HORIZON, 3 * HORIZON]


def test_failure_mid_sql_write_leaves_previous_rows(store, tmp_path, monkeypatch):
    spec = JobSpec.model_validate(make_spec(store, tmp_path))
    run_job(spec, "2026-01-01")
    before = read_output(tmp_path)
    original = pd.DataFrame.to_sql

    def half_then_fail(self, name, con, **kwargs):
        original(self.iloc[: len(self) // 2], name, con, **kwargs)
        raise RuntimeError("injected failure after half the rows")

    monkeypatch.setattr(pd.DataFrame, "to_sql", half_then_fail)
    with pytest.raises(JobFailed, match="injected failure"):
        run_job(spec, "2026-01-01")
    with pytest.raises(JobFailed, match="injected failure"):
        run_job(spec, "2026-01-05")
    monkeypatch.setattr(pd.DataFrame, "to_sql", original)
    pd.testing.assert_frame_equal(read_output(tmp_path), before)


def test_failure_mid_file_write_leaves_previous_file_and_no_temporaries(store, tmp_path, monkeypatch):
    target = tmp_path / "forecasts.parquet"
    spec = JobSpec.model_validate(make_spec(store, tmp_path, output={"path": str(target)}))
    run_job(spec, "2026-01-01")
    before = target.read_bytes()
    original = pd.DataFrame.to_parquet

    def half_then_fail(self, path, **kwargs):
        original(self.iloc[: len(self) // 2], path, **kwargs)
        raise RuntimeError("injected failure after half the rows")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_then_fail)
    with pytest.raises(JobFailed):
        run_job(spec, "2026-01-02")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_missing_data_fails_with_exit_1_and_writes_nothing(store, tmp_path):
    spec = make_spec(store, tmp_path, data={"path": str(tmp_path / "nowhere.csv")})
    result = CliRunner().invoke(job_app, ["run", str(write_spec(spec, tmp_path)), "--as-of", "2026-03-03"])
    assert result.exit_code == 1
    assert "nowhere.csv does not exist" in result.output
    assert not (tmp_path / "out.db").exists()
    experiment = MlflowClient().get_experiment_by_name(spec["tracking"]["experiment"])
    (run,) = MlflowClient().search_runs(
        [experiment.experiment_id], filter_string="tags.as_of = '2026-03-03T00:00:00'"
    )  # the failed run says why, not only stderr
    assert run.info.status == "FAILED" and run.data.tags["status"] == "failed"
    assert "nowhere.csv does not exist" in run.data.tags["error"]


def test_invalid_data_fails_with_exit_1_naming_the_problem(store, tmp_path):
    data = series_frame()
    data.loc[5, "value"] = np.nan
    data.to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(
        store,
        tmp_path,
        data={"path": str(tmp_path / "data.csv"), "columns": {"unique_id": "series", "ds": "date", "y": "value"}},
    )
    result = CliRunner().invoke(job_app, ["run", str(write_spec(spec, tmp_path)), "--as-of", "2026-01-01"])
    assert result.exit_code == 1
    assert "s0" in result.output
    assert not (tmp_path / "out.db").exists()


def test_a_model_that_reads_future_covariates_is_refused_before_anything_is_scored_or_written(store, tmp_path):
    data = series_frame().rename(columns={"series": "unique_id", "date": "ds", "value": "y"})
    data["temp"] = np.arange(len(data), dtype=float)
    forecaster = Forecaster(
        lookback=8, horizon=HORIZON, quantiles=[0.1, 0.9], future_covariates=["temp"], tracking=False, verbose=0
    )
    with pytest.warns(UserWarning, match="does not read 'temp'"):
        forecaster.fit(data)
    spec = make_spec(store, tmp_path, model={"uri": str(forecaster.save(tmp_path / "with_future"))})
    result = CliRunner().invoke(job_app, ["run", str(write_spec(spec, tmp_path)), "--as-of", "2026-01-01"])
    assert result.exit_code == 1
    assert "reads future covariates ['temp'], whose values over the horizon a job cannot supply" in result.output
    assert not (tmp_path / "out.db").exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"horizon": 0}, "horizon"),
        ({"output": {}}, "output"),
        ({"schedule": {"cron": "every night"}}, "schedule.cron"),
        ({"schedule": {"cron": "0 2 * * *", "timezone": "Mars/Olympus"}}, "schedule.timezone"),
        ({"model": {"uri": "https://example.org/model"}}, "model.uri"),
        ({"model": {"uri": "models:/m@a", "retrain": {"policy": "every_n_runs"}}}, "model.retrain"),
        ({"quantiles": [1.5]}, "quantiles"),
        ({"horizon": True}, "horizon: Input should be a valid integer"),
        ({"horizon": 4.0}, "horizon: Input should be a valid integer"),
        ({"quantiles": [True]}, "quantiles.0: Input should be a valid number"),
        (
            {"model": {"uri": "models:/m@a", "retrain": {"policy": "every_n_runs", "n": True}}},
            "model.retrain.n: Input should be a valid integer",
        ),
        (
            {"schedule": {"cron": "0 2 * * *", "misfire_grace_s": False}},
            "schedule.misfire_grace_s: Input should be a valid integer",
        ),
        ({"callback": "os.system"}, "callback"),
        (
            {"model": {"uri": "saved_model", "retrain": {"policy": "data_growth", "n": 3}}},
            "model: retrain.policy data_growth needs retrain.register_as for 'saved_model'",
        ),
        ({"data": {"path": "data.csv", "until_as_of": "yes"}}, "data.until_as_of: Input should be a valid boolean"),
        ({"tracking": {"required": 1}}, "tracking.required: Input should be a valid boolean"),
    ],
)
def test_invalid_specs_exit_2_naming_the_field(store, tmp_path, change, field):
    spec = make_spec(store, tmp_path, **change)
    result = CliRunner().invoke(job_app, ["run", str(write_spec(spec, tmp_path))])
    assert result.exit_code == 2, result.output
    assert field in result.output


def test_a_retrain_policy_on_a_referenced_model_uri_is_checked_once_the_reference_is_substituted(
    store, tmp_path, monkeypatch
):
    retrain = {"policy": "data_growth", "n": 7}
    spec = JobSpec.model_validate(make_spec(store, tmp_path, model={"uri": "${MODEL_URI}", "retrain": retrain}))
    monkeypatch.setenv("MODEL_URI", f"models:/{MODEL_NAME}@champion")
    assert spec.expanded().model.uri == f"models:/{MODEL_NAME}@champion"
    monkeypatch.setenv("MODEL_URI", str(tmp_path / "saved_model"))  # a directory: no registered name
    with pytest.raises(SpecError, match="retrain.policy data_growth needs retrain.register_as"):
        spec.expanded()


def test_duplicate_keys_are_rejected_naming_the_key_and_both_lines(store, tmp_path):
    path = write_spec(make_spec(store, tmp_path), tmp_path)
    lines = path.read_text().splitlines()
    at = next(number for number, line in enumerate(lines, 1) if line.startswith("horizon:"))
    path.write_text("\n".join([*lines, "horizon: 99"]) + "\n")
    result = CliRunner().invoke(job_app, ["run", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: job spec {path}: key 'horizon' is given twice, on lines {at} and {len(lines) + 1}; keep one"
    )
    nested = "name: n\ndata:\n  path: a.csv\n  path: b.csv\n"
    path.write_text(nested)
    with pytest.raises(SpecError, match="key 'path' is given twice, on lines 3 and 4"):
        load_spec(path)


def test_a_spec_that_is_not_utf8_exits_2_with_one_line(store, tmp_path):
    path = write_spec(make_spec(store, tmp_path), tmp_path)
    path.write_bytes(path.read_bytes().replace(b"nightly", "nächtlich".encode("latin-1")))
    result = CliRunner().invoke(job_app, ["run", str(path)])
    assert result.exit_code == 2
    offset = path.read_bytes().index(b"\xe4")
    assert result.output.strip() == f"error: job spec {path} is not UTF-8 text: byte 0xe4 at offset {offset}"


def test_invalid_yaml_is_reported_in_one_line_with_its_position(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: n\nhorizon: [1\nmodel: x\n")
    with pytest.raises(SpecError) as failure:
        load_spec(path)
    assert "\n" not in str(failure.value)
    assert "line 3, column 6" in str(failure.value)


@pytest.mark.parametrize("as_of", ["yesterday-ish", "2026-13-45", ""])
def test_a_malformed_as_of_exits_2_with_one_line(store, tmp_path, as_of):
    path = write_spec(make_spec(store, tmp_path), tmp_path)
    result = CliRunner().invoke(job_app, ["run", str(path), "--as-of", as_of])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: --as-of {as_of!r} is not a date and time; expected ISO 8601, e.g. 2026-11-22T02:00 "
        "or 2026-11-22T02:00+01:00"
    )
    assert not (tmp_path / "out.db").exists()


def test_spec_loads_from_yaml_and_rejects_non_mapping(store, tmp_path):
    path = write_spec(make_spec(store, tmp_path), tmp_path)
    assert load_spec(path).horizon == HORIZON
    path.write_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="mapping"):
        load_spec(path)


def test_unknown_model_lists_the_registry(store, tmp_path):
    spec = JobSpec.model_validate(make_spec(store, tmp_path, model={"uri": f"models:/{MODEL_NAME}@nosuchalias"}))
    with pytest.raises(JobFailed) as failure:
        run_job(spec, "2026-01-01")
    assert MODEL_NAME in str(failure.value) and "versions [1, 2]" in str(failure.value)
    assert "@champion->" in str(failure.value)
    assert not (tmp_path / "out.db").exists()


def test_moved_alias_is_picked_up_by_the_next_run(store, tmp_path):
    spec = JobSpec.model_validate(make_spec(store, tmp_path, model={"uri": f"models:/{MODEL_NAME}@staging"}))
    client = MlflowClient()
    client.set_registered_model_alias(MODEL_NAME, "staging", "1")
    assert run_job(spec, "2026-01-01").model_version == "1"
    client.set_registered_model_alias(MODEL_NAME, "staging", "2")
    assert run_job(spec, "2026-01-02").model_version == "2"
    output = read_output(tmp_path)
    assert sorted(output.groupby("as_of")["model_version"].first().tolist()) == ["1", "2"]


def test_unreachable_tracking_warns_and_writes_by_default(store, tmp_path, monkeypatch):
    spec = JobSpec.model_validate(make_spec(store, tmp_path, model={"uri": f"models:/{MODEL_NAME}/1"}))
    # The model is read from the real store first; then tracking points nowhere.
    from forecast import model_uri

    resolved = model_uri.resolve_model(f"models:/{MODEL_NAME}/1")
    monkeypatch.setattr("forecast.model_uri.resolve_model", lambda uri: resolved)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.warns(UserWarning, match="unavailable"):
        result = run_job(spec, "2026-01-01")
    assert result.rows_written == 3 * HORIZON and result.run_id is None
    required = JobSpec.model_validate(
        make_spec(
            store,
            tmp_path,
            model={"uri": f"models:/{MODEL_NAME}/1"},
            tracking={"experiment": "x", "required": True},
            output={"path": str(tmp_path / "required.csv")},
        )
    )
    with pytest.raises(JobFailed, match="unavailable"):
        run_job(required, "2026-01-01")
    assert not (tmp_path / "required.csv").exists()


def test_each_run_is_recorded_in_mlflow_without_secrets(store, tmp_path, monkeypatch):
    monkeypatch.setenv("JOB_OUTPUT_DB", str(tmp_path / "out.db"))
    spec = JobSpec.model_validate(
        make_spec(store, tmp_path, output={"sql": {"url": "sqlite:///${JOB_OUTPUT_DB}", "table": "forecasts"}})
    )
    result = run_job(spec, "2026-01-01")
    run = MlflowClient().get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["output.sql.url"] == "sqlite:///${JOB_OUTPUT_DB}"
    assert str(tmp_path) not in " ".join(run.data.params.values())
    assert run.data.params["model_version"] == "1"
    assert run.data.metrics["rows_written"] == 3 * HORIZON
    assert run.data.metrics["rows_read"] == 3 * 36
    assert run.data.tags["job"] == "nightly" and run.data.tags["status"] == "success"
    assert len(read_output(tmp_path)) == 3 * HORIZON


def test_passwords_in_urls_are_redacted():
    spec = JobSpec.model_validate(
        {
            "name": "pg",
            "data": {"sql": {"url": "postgresql://analyst:hunter2@db.internal/sales", "query": "select 1"}},
            "model": {"uri": "models:/m@champion"},
            "horizon": 3,
            "output": {"sql": {"url": "postgresql://writer@db.internal/sales?password=s3cret", "table": "f"}},
        }
    )
    params = redacted_spec(spec)
    assert "hunter2" not in " ".join(map(str, params.values())) and "s3cret" not in " ".join(map(str, params.values()))
    assert params["data.sql.url"] == "postgresql://analyst:***@db.internal/sales"
    assert params["output.sql.url"] == "postgresql://writer@db.internal/sales?password=***"


def test_a_logged_model_uri_as_a_tracked_fit_reports_it_resolves_to_the_registered_version():
    from forecast.model_uri import ModelNotFound, resolve_model

    version = MlflowClient().get_model_version(MODEL_NAME, "1")
    logged = version.source  # the logged model, models:/m-<id>: what the fit's model_uri_ held
    assert logged.startswith("models:/m-")
    data = series_frame().rename(columns={"series": "unique_id", "date": "ds", "value": "y"})
    expected = resolve_model(f"models:/{MODEL_NAME}/1").forecaster.predict(data)
    resolved = resolve_model(logged)
    assert resolved.name is None and resolved.version is None
    pd.testing.assert_frame_equal(resolved.forecaster.predict(data), expected)
    with pytest.raises(ModelNotFound, match="m-0123456789abcdef not found"):
        resolve_model("models:/m-0123456789abcdef")


def test_a_bad_model_uri_does_not_echo_its_credentials():
    from forecast.model_uri import ModelNotFound, resolve_model

    with pytest.raises(ModelNotFound, match=r"https://admin:\*\*\*@host/model") as raised:
        resolve_model("https://admin:secret@host/model")
    with pytest.raises(ModelNotFound) as parsed:
        resolve_model("models:/https://admin:secret@host/x")
    assert "secret" not in str(raised.value) and "secret" not in str(parsed.value)


def test_transient_read_errors_are_retried(store, tmp_path, monkeypatch):
    data_path = tmp_path / "data.csv"
    series_frame().to_csv(data_path, index=False)
    from forecast.jobs.sources import file as file_source

    original, failures = file_source.read_frame, {"left": 2}

    def flaky(path, **columns):
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("transient network filesystem hiccup")
        return original(path, **columns)

    monkeypatch.setattr(file_source, "read_frame", flaky)
    spec = make_spec(
        store,
        tmp_path,
        data={
            "path": str(data_path),
            "retry_backoff_s": 0.01,
            "columns": {"unique_id": "series", "ds": "date", "y": "value"},
        },
    )
    assert run_job(JobSpec.model_validate(spec), "2026-01-01").rows_written == 3 * HORIZON
    failures["left"] = 5
    spec["data"]["retries"] = 1
    with pytest.raises(JobFailed, match="hiccup"):
        run_job(JobSpec.model_validate(spec), "2026-01-02")


def test_retrain_every_second_run_registers_a_tagged_version_and_goes_on_with_it(store, tmp_path):
    client = MlflowClient()
    spec = JobSpec.model_validate(
        make_spec(
            store,
            tmp_path,
            name="retraining",
            model={"uri": f"models:/{MODEL_NAME}/1", "retrain": {"policy": "every_n_runs", "n": 2}},
        )
    )
    first = run_job(spec, "2026-01-01")
    assert not first.retrained and first.model_version == "1"
    assert MlflowClient().get_run(first.run_id).data.tags["retrain"] == "every_n_runs: run 1, retrain every 2"
    second = run_job(spec, "2026-01-02")
    assert second.retrained and second.promotion is None  # no alias: nothing to compare, the run goes on with it
    assert int(second.model_version) > 2
    version = client.get_model_version(MODEL_NAME, second.model_version)
    assert version.tags["job.name"] == "retraining" and version.tags["job.as_of"] == "2026-01-02T00:00:00"
    assert read_output(tmp_path).groupby("as_of")["model_version"].first().tolist() == ["1", second.model_version]
    # a rerun of an as_of decides as its first run did, and does not count as one more run
    rerun = run_job(spec, "2026-01-02")
    assert (
        rerun.retrained and client.get_run(rerun.run_id).data.tags["retrain"] == "every_n_runs: run 2, retrain every 2"
    )
    third = run_job(spec, "2026-01-03")
    assert not third.retrained
    assert client.get_run(third.run_id).data.tags["retrain"] == "every_n_runs: run 3, retrain every 2"


def test_data_growth_counts_from_the_data_the_last_retrain_saw_when_each_month_arrives_a_month_late(store, tmp_path):
    # The job's model was fitted on months 0 .. 35. Each month's row arrives during the next month, so the run of
    # the first of month m + 1 reads months up to m. Counted by hand, with a retrain at 2 new steps: data up to
    # 37 is 2 steps since training (retrain); up to 38 is 1 step since that retrain's data (no); up to 39 is 2 (retrain).
    months = pd.date_range("2020-01-01", periods=40, freq="MS")
    history = series_frame(n_steps=40)
    spec = JobSpec.model_validate(
        make_spec(
            store,
            tmp_path,
            name="growing",
            data={
                "path": str(tmp_path / "history.csv"),
                "columns": {"unique_id": "series", "ds": "date", "y": "value"},
            },
            model={"uri": f"models:/{MODEL_NAME}/1", "retrain": {"policy": "data_growth", "n": 2}},
        )
    )
    client = MlflowClient()
    decided = []
    for last in (36, 37, 38, 39):
        history[history["date"] <= months[last]].to_csv(tmp_path / "history.csv", index=False)
        result = run_job(spec, months[last] + pd.DateOffset(months=1))
        decided.append((result.retrained, client.get_run(result.run_id).data.tags["retrain"]))
        if last == 37:
            tags = client.get_model_version(MODEL_NAME, result.model_version).tags
            assert (tags["job.as_of"], tags["job.data_end"]) == ("2023-03-01T00:00:00", "2023-02-01T00:00:00")
    assert decided == [
        (False, "data_growth: 1 new steps since training, retrain at 2"),
        (True, "data_growth: 2 new steps since training, retrain at 2"),
        (False, "data_growth: 1 new steps since training and the last retrain, retrain at 2"),
        (True, "data_growth: 2 new steps since training and the last retrain, retrain at 2"),
    ]


def model_versions() -> list[str]:
    return sorted(version.version for version in MlflowClient().search_model_versions(f"name = '{MODEL_NAME}'"))


def test_a_run_that_fails_registers_no_model_version(store, tmp_path):
    retrain = {"policy": "every_n_runs", "n": 1}
    model = {"uri": f"models:/{MODEL_NAME}/1", "retrain": retrain}
    before = model_versions()
    too_far = JobSpec.model_validate(make_spec(store, tmp_path, name="retrain-fails", model=model, horizon=HORIZON + 1))
    with pytest.raises(JobFailed, match=f"asks for horizon {HORIZON + 1} but model .* forecasts {HORIZON} steps"):
        run_job(too_far, "2026-01-01")
    assert model_versions() == before  # checked before retraining

    spec = JobSpec.model_validate(make_spec(store, tmp_path, name="retrain-fails", model=model))
    database = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/out.db")
    with database.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE forecasts (unique_id TEXT, ds DATETIME, y_hat REAL, y_hat_q10 REAL, job TEXT, "
            "as_of DATETIME, model_version TEXT)"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON forecasts BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    database.dispose()
    for _ in range(2):  # a rerun retrains again, and withdraws again
        with pytest.raises(JobFailed, match="refused"):
            run_job(spec, "2026-01-01")
        assert model_versions() == before


def test_job_run_in_its_own_process_prints_no_tensorflow_start_up_lines(store, tmp_path):
    # TensorFlow 2.21 writes its oneDNN and CUDA lines to stderr before TF_CPP_MIN_LOG_LEVEL applies.
    command = [str(Path(sys.executable).with_name("forecast")), "job", "run"]
    spec_path = write_spec(make_spec(store, tmp_path), tmp_path)
    ran = subprocess.run(
        [*command, str(spec_path), "--as-of", "2026-01-01"],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "oneDNN" not in ran.stderr and "cuda" not in ran.stderr.lower(), ran.stderr[-3000:]


RETRAIN_THEN_DIE = """
import os, signal, sys
from forecast.jobs import models
from forecast.jobs.runner import run_job
from forecast.jobs.spec import load_spec
retrain = models.retrain_model
def retrain_then_die(*args, **kwargs):
    retrain(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # the version is registered, the run not recorded: nothing can run
models.retrain_model = retrain_then_die
run_job(load_spec(sys.argv[1]), sys.argv[2])
"""


def test_a_version_registered_by_a_run_killed_before_recording_it_is_abandoned_by_the_next_run(store, tmp_path, caplog):
    client = MlflowClient()
    retrain = {"policy": "every_n_runs", "n": 1}
    path = write_spec(
        make_spec(store, tmp_path, name="killed-retrain", model={"uri": f"models:/{MODEL_NAME}/1", "retrain": retrain}),
        tmp_path,
    )
    before = model_versions()
    killed = subprocess.run(
        [sys.executable, "-c", RETRAIN_THEN_DIE, str(path), "2026-01-01"],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (orphan,) = set(model_versions()) - set(before)
    assert client.get_model_version(MODEL_NAME, orphan).tags["job.status"] == "running"

    with caplog.at_level(logging.WARNING, logger="forecast.jobs.runner"):
        result = run_job(load_spec(path), "2026-01-02")
    tags = client.get_model_version(MODEL_NAME, orphan).tags
    assert tags["job.status"] == "abandoned"
    assert tags["job.abandoned"].endswith(
        "(as_of 2026-01-01T00:00:00), which ended KILLED before recording its outputs"
    )
    said = f"version {orphan} of {MODEL_NAME} was registered by run "
    assert said in caplog.text and "tagged job.status=abandoned, never promoted" in caplog.text
    assert said in client.get_run(result.run_id).data.tags["abandoned_versions"]
    # the run's own retrain is recorded as a success; the versions registered by hand are left as they were
    assert (
        result.retrained and client.get_model_version(MODEL_NAME, result.model_version).tags["job.status"] == "success"
    )
    assert all("job.status" not in client.get_model_version(MODEL_NAME, hand).tags for hand in ("1", "2"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="forecast.jobs.runner"):
        run_job(load_spec(path), "2026-01-03")
    assert "abandoned" not in caplog.text  # said once


def orphan_state(store, tmp_path, job: str, model: str, run_status: str, run_tags: dict) -> tuple[JobSpec, str]:
    """A registered model `model` (version 1 the champion) and a job run of `job` that ended `run_status` with
    `run_tags`, whose retrain registered version 2, tagged running, and moved the champion alias to it."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name("jobs-test") or client.get_experiment(
        client.create_experiment("jobs-test")
    )
    job_run = client.create_run(experiment.experiment_id, tags={"job": job, "as_of": "2026-01-01T00:00:00", **run_tags})
    client.set_terminated(job_run.info.run_id, run_status)
    client.create_registered_model(model)
    source = (tmp_path / "model").as_uri()
    client.create_model_version(model, source)
    retrained = client.create_model_version(model, source).version
    tags = {"job.name": job, "job.as_of": "2026-01-01T00:00:00", "job.status": "running"}
    for key, value in {**tags, "job.run_id": job_run.info.run_id, "job.alias_before": "1"}.items():
        client.set_model_version_tag(model, retrained, key, value)
    client.set_registered_model_alias(model, "champion", retrained)
    retrain = {"policy": "every_n_runs", "n": 1, "alias": "champion"}
    spec = make_spec(store, tmp_path, name=job, model={"uri": f"models:/{model}@champion", "retrain": retrain})
    return JobSpec.model_validate(spec), str(retrained)


def test_a_version_of_a_run_that_finished_without_its_status_tag_is_settled_as_a_success(store, tmp_path):
    # the store was unreachable when the run set status=success and tagged its version; the run still ended
    # FINISHED, which only a run whose block did not raise does: its version is the job's, not an orphan
    from forecast.jobs.models import abandon_orphans

    spec, retrained = orphan_state(store, tmp_path, "finished-untagged", "finished-model", "FINISHED", {})
    assert abandon_orphans(spec, None) == []
    client = MlflowClient()
    assert client.get_model_version("finished-model", retrained).tags["job.status"] == "success"
    assert str(client.get_model_version_by_alias("finished-model", "champion").version) == retrained
    # a run that failed leaves its version abandoned and the job's alias back where it was; an alias a person set
    # on the version (the dead run moved only the job's) is left where they put it
    spec, retrained = orphan_state(store, tmp_path, "failed-untagged", "failed-model", "FAILED", {"status": "failed"})
    client.set_registered_model_alias("failed-model", "inspect", retrained)
    (said,) = abandon_orphans(spec, None)
    assert said.endswith("alias champion moved back to version 1")
    assert str(client.get_model_version_by_alias("failed-model", "inspect").version) == retrained
    assert said.startswith(f"version {retrained} of failed-model was registered by run ")
    assert client.get_model_version("failed-model", retrained).tags["job.status"] == "abandoned"
    assert str(client.get_model_version_by_alias("failed-model", "champion").version) == "1"


def test_relative_sqlite_databases_are_relative_to_the_spec_file(store, tmp_path, monkeypatch):
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "source.db").write_bytes(store["source"].read_bytes())
    spec = make_spec(
        store,
        tmp_path,
        data={
            "sql": {"url": "sqlite:///source.db", "query": "SELECT * FROM observations"},
            "columns": {"unique_id": "series", "ds": "date", "y": "value"},
        },
        output={"sql": {"url": "sqlite:///out.db", "table": "forecasts"}},
        accuracy={"sql": {"url": "sqlite:///file:accuracy.db?uri=true", "table": "accuracy"}},
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_spec(write_spec(spec, folder))
    assert loaded.accuracy.sql.url == f"sqlite:///file:{folder}/accuracy.db?uri=true"
    assert run_job(loaded, "2026-01-01").rows_written == 3 * HORIZON
    assert len(read_output(folder)) == 3 * HORIZON
    assert list(elsewhere.iterdir()) == []


def test_scheduler_fires_without_overlap(tmp_path):
    started, running, most = [], [0], [0]
    lock = threading.Lock()

    def slow_run(as_of):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            started.append(as_of)
        time.sleep(2.2)
        with lock:
            running[0] -= 1

    scheduler = JobScheduler("slow", ScheduleSpec(cron="* * * * *"), slow_run, trigger=CronTrigger(second="*"))
    scheduler.start()
    time.sleep(5.5)
    scheduler.stop()
    assert 2 <= len(started) <= 3
    assert most[0] == 1
    assert scheduler.skipped_fire_times, "fire times during a running job must be skipped, not queued"
    assert all(later - earlier >= pd.Timedelta(seconds=2) for earlier, later in itertools.pairwise(started))


def test_a_scheduled_run_that_fails_is_logged_in_one_line_and_a_fault_with_its_traceback(tmp_path, caplog):
    from datetime import UTC, datetime

    def failing(as_of):
        raise JobFailed(f"job nightly (as_of {as_of.isoformat()}) failed: data.csv does not exist")

    def faulty(as_of):
        raise RuntimeError("a bug")

    for run, traceback in ((failing, False), (faulty, True)):
        caplog.clear()
        scheduler = JobScheduler("nightly", ScheduleSpec(cron="0 2 * * *"), run, state_path=tmp_path / "state.json")
        with caplog.at_level("ERROR", logger="forecast.jobs.scheduler"):
            scheduler._fire(datetime(2026, 1, 2, 2, tzinfo=UTC))  # the schedule survives either
        (record,) = caplog.records
        assert (record.exc_info is not None) == traceback
        assert "failed" in record.getMessage()
        assert (tmp_path / "state.json").exists()


def test_scheduler_catches_up_a_missed_run_once(tmp_path):
    state = tmp_path / "state.json"
    calls = []
    schedule = ScheduleSpec(cron="0 * * * *", misfire_grace_s=3 * 3600)
    scheduler = JobScheduler("hourly", schedule, calls.append, state_path=state)
    now = datetime.now(timezone.utc)
    last_hour = now.replace(minute=0, second=0, microsecond=0)
    # The last recorded run was three fire times ago: the scheduler was down for two of them.
    scheduler._record(pd.Timestamp(last_hour - timedelta(hours=3)).tz_localize(None))
    assert scheduler.missed_fire_time(now) == last_hour
    scheduler.start()
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    assert calls == [pd.Timestamp(last_hour).tz_localize(None)]
    assert scheduler.missed_fire_time(now) is None  # recorded: a restart does not run it again


def test_scheduler_stops_cleanly_on_sigterm_after_the_current_run(tmp_path):
    finished = []

    def run(as_of):
        time.sleep(1.0)
        finished.append(as_of)

    scheduler = JobScheduler("sig", ScheduleSpec(cron="* * * * *"), run, trigger=CronTrigger(second="*"))
    threading.Timer(1.5, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    scheduler.serve()
    assert time.monotonic() - started < 10
    assert finished, "the run in progress completes before shutdown"
    assert signal.getsignal(signal.SIGTERM) is not None


def test_example_m3_job_spec_is_valid_and_paths_are_relative_to_it():
    root = Path(__file__).resolve().parents[2]
    example = root / "examples" / "m3_monthly"
    spec = load_spec(example / "job.yaml")
    assert spec.model.uri == "models:/m3-monthly-job@champion"
    assert spec.horizon == 18 and spec.data.until_as_of
    assert Path(spec.data.path) == example / "m3_monthly.parquet"
    assert Path(spec.accuracy.path) == example / "forecasts" / "accuracy.csv"
    retrain = spec.model.retrain
    assert (retrain.policy, retrain.alias, retrain.promotion.metric) == ("on_degradation", "champion", "mase")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"data": {"table": "db.history"}}, "data.table .* needs engine: spark"),
        (
            {"engine": "spark", "output": {"sql": {"url": "sqlite:///x.db", "table": "f"}}},
            "output.sql .* needs engine: local",
        ),
        (
            {"engine": "spark", "data": {"sql": {"url": "sqlite:///x.db", "query": "q"}}},
            "data.sql .* needs engine: local",
        ),
        ({"engine": "spark", "output": {"path": "out/{as_of}"}}, "drop '{as_of}'"),
        (
            {"engine": "spark", "model": {"uri": "models:/m@champion", "retrain": {"policy": "every_n_runs", "n": 2}}},
            "retrain.policy must be 'never'",
        ),
        ({"spark": {"num_partitions": 4}}, "the spark settings need engine: spark"),
    ],
)
def test_the_engine_decides_which_sources_and_sinks_a_spec_may_use(change, message):
    base = {
        "name": "j",
        "data": {"path": "history.parquet"},
        "model": {"uri": "model"},
        "horizon": 3,
        "output": {"path": "out/forecasts"},
    }
    with pytest.raises(ValidationError, match=message):
        JobSpec.model_validate({**base, **change})
    JobSpec.model_validate({**base, "engine": "spark", "data": {"table": "db.history"}})


# --- ${NAME} in any string of the spec ------------------------------------------------------------


def test_every_string_of_the_spec_may_reference_an_environment_variable(store, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    series_frame().to_csv(tmp_path / "data" / "history.csv", index=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OUT_DIR", "out")  # relative: relative to the spec file, like a literal path
    monkeypatch.setenv("MODEL", MODEL_NAME)
    monkeypatch.setenv("SOURCE_TABLE", "observations")
    columns = {"unique_id": "series", "ds": "date", "y": "value"}
    specs = tmp_path / "specs"
    specs.mkdir()
    from_file = make_spec(
        store,
        tmp_path,
        data={"path": "${DATA_DIR}/history.csv", "columns": columns},
        model={"uri": "models:/${MODEL}@champion"},
        output={"path": "${OUT_DIR}/forecast_{as_of}.csv"},
    )
    result = run_job(load_spec(write_spec(from_file, specs)), "2026-01-01")
    written = specs / "out" / "forecast_20260101T000000.csv"
    assert result.output == str(written) and result.model_version == "1"
    assert len(pd.read_csv(written)) == 3 * HORIZON
    params = MlflowClient().get_run(result.run_id).data.params
    assert params["data.path"] == "${DATA_DIR}/history.csv"
    assert params["output.path"] == "${OUT_DIR}/forecast_{as_of}.csv"
    assert params["model.uri"] == "models:/${MODEL}@champion"

    from_query = make_spec(
        store,
        tmp_path,
        data={
            "sql": {"url": f"sqlite:///{store['source']}", "query": "SELECT * FROM ${SOURCE_TABLE}"},
            "columns": columns,
        },
    )
    result = run_job(JobSpec.model_validate(from_query), "2026-01-01")
    assert result.rows_read == 3 * 36
    assert MlflowClient().get_run(result.run_id).data.params["data.sql.query"] == "SELECT * FROM ${SOURCE_TABLE}"


def test_an_unset_variable_is_named_with_its_field_in_one_line(store, tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_JOB_VARIABLE", raising=False)
    spec = make_spec(store, tmp_path, output={"path": "${NO_SUCH_JOB_VARIABLE}/forecast.csv"})
    result = CliRunner().invoke(job_app, ["run", str(write_spec(spec, tmp_path)), "--as-of", "2026-01-01"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: job nightly (as_of 2026-01-01T00:00:00) failed: "
        "environment variable NO_SUCH_JOB_VARIABLE referenced in output.path is not set"
    )
    spec = make_spec(
        store, tmp_path, data={"sql": {"url": "sqlite:///x.db", "query": "SELECT * FROM ${NO_SUCH_JOB_VARIABLE}"}}
    )
    with pytest.raises(JobFailed, match=r"NO_SUCH_JOB_VARIABLE referenced in data\.sql\.query is not set$"):
        run_job(JobSpec.model_validate(spec), "2026-01-01")


def test_checks_that_depend_on_a_referenced_value_run_once_it_is_substituted(store, tmp_path, monkeypatch):
    spec = load_spec(write_spec(make_spec(store, tmp_path, output={"path": "${OUTPUT_FILE}"}), tmp_path))
    monkeypatch.setenv("OUTPUT_FILE", str(tmp_path / "forecast.txt"))
    with pytest.raises(JobFailed, match=r"output\.path: expected a \.csv or \.parquet file; got '.*forecast\.txt'"):
        run_job(spec, "2026-01-01")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]
    monkeypatch.setenv("OUTPUT_FILE", str(tmp_path / "forecast.parquet"))
    assert run_job(spec, "2026-01-01").output == str(tmp_path / "forecast.parquet")
    with pytest.raises(SpecError, match=r"output\.path: expected a \.csv or \.parquet file"):
        load_spec(write_spec(make_spec(store, tmp_path, output={"path": "${OUT_DIR}/forecast.txt"}), tmp_path))


# --- one-line errors, retries only for what may pass --------------------------------------------------


@pytest.fixture
def backoffs(monkeypatch) -> list[float]:
    """The waits between read attempts (recorded instead of slept)."""
    waits: list[float] = []
    real_sleep = time.sleep

    def record(delay: float) -> None:
        # time.sleep is patched for the whole process: threads left by earlier tests (py4j's) sleep as before.
        if threading.current_thread() is not threading.main_thread():
            real_sleep(delay)
            return
        waits.append(delay)

    monkeypatch.setattr("forecast.jobs.errors.time.sleep", record)
    return waits


@pytest.mark.parametrize(
    "query, message",
    [
        ("SELECT * FROM nosuch", "(sqlite3.OperationalError) no such table: nosuch"),
        ("DELETE FROM observations RETURNING *", "(sqlite3.OperationalError) attempt to write a readonly database"),
        ("SELEC series FROM observations", '(sqlite3.OperationalError) near "SELEC": syntax error'),
    ],
)
def test_a_permanent_sql_error_fails_at_once_in_one_line(store, tmp_path, backoffs, query, message):
    data = {"sql": {"url": f"sqlite:///{store['source']}", "query": query}, "retries": 3}
    spec = JobSpec.model_validate(make_spec(store, tmp_path, data=data))
    with pytest.raises(JobFailed) as failure:
        run_job(spec, "2026-01-01")
    assert str(failure.value) == f"job nightly (as_of 2026-01-01T00:00:00) failed: {message}"
    assert backoffs == [], "a permanent error is not retried"


def test_a_locked_sqlite_source_is_retried_until_the_lock_goes(store, tmp_path, monkeypatch):
    import shutil
    import sqlite3

    source = tmp_path / "locked.db"
    shutil.copy(store["source"], source)
    holder = sqlite3.connect(source, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # no reader gets in until it ends
    waits = []
    real_sleep = time.sleep

    def release_after_first_wait(delay: float) -> None:
        # time.sleep is patched for the whole process: threads left by earlier tests (py4j's) sleep as before.
        if threading.current_thread() is not threading.main_thread():
            return real_sleep(delay)
        waits.append(delay)
        if holder.in_transaction:
            holder.execute("ROLLBACK")

    monkeypatch.setattr("forecast.jobs.errors.time.sleep", release_after_first_wait)
    data = {
        "sql": {"url": f"sqlite:///{source}?timeout=0.05", "query": "SELECT * FROM observations"},
        "columns": {"unique_id": "series", "ds": "date", "y": "value"},
        "retries": 2,
        "retry_backoff_s": 0.5,
    }
    try:
        result = run_job(JobSpec.model_validate(make_spec(store, tmp_path, data=data)), "2026-01-01")
    finally:
        holder.close()
    assert waits == [0.5] and result.rows_read == 3 * 36


def test_transient_and_permanent_database_errors_of_real_drivers():
    import sqlite3

    import psycopg

    from forecast.jobs.errors import describe, is_transient

    def wrapped(original: Exception) -> sqlalchemy.exc.DBAPIError:
        return sqlalchemy.exc.OperationalError("SELECT 1", {}, original)

    transient = [
        sqlite3.OperationalError("database is locked"),
        psycopg.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 5 failed: Connection refused'
        ),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.SerializationFailure("could not serialize access"),
    ]
    permanent = [
        sqlite3.OperationalError("attempt to write a readonly database"),
        sqlite3.OperationalError("no such table: observations"),
        psycopg.errors.InsufficientPrivilege("permission denied for table observations"),
        psycopg.errors.SyntaxError('syntax error at or near "SELEC"'),
        psycopg.errors.ReadOnlySqlTransaction("cannot execute DELETE in a read-only transaction"),
    ]
    assert [is_transient(wrapped(error)) for error in transient] == [True] * len(transient)
    assert [is_transient(wrapped(error)) for error in permanent] == [False] * len(permanent)
    assert is_transient(OSError("network filesystem hiccup")) and not is_transient(FileNotFoundError("gone"))
    assert not is_transient(PermissionError(13, "Permission denied"))
    # One line, the driver's message kept, SQLAlchemy's statement and background left out, secrets masked.
    multi_line = psycopg.errors.UndefinedTable(
        'relation "obs" does not exist\nLINE 1: SELECT * FROM obs\n              ^'
    )
    failure = sqlalchemy.exc.ProgrammingError("SELECT * FROM obs WHERE password='x'", {}, multi_line)
    assert "\n" in str(failure) and "[SQL:" in str(failure)
    assert describe(failure) == (
        '(psycopg.errors.UndefinedTable) relation "obs" does not exist LINE 1: SELECT * FROM obs ^'
    )
    refused = psycopg.OperationalError("connection to postgresql://writer:hunter2@db/sales failed")
    assert (
        describe(wrapped(refused)) == "(psycopg.OperationalError) connection to postgresql://writer:***@db/sales failed"
    )


# --- output.root ----------------------------------------------------------------------------------------


def test_output_root_confines_every_output_path(store, tmp_path, monkeypatch):
    root, elsewhere = tmp_path / "outputs", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "link").symlink_to(elsewhere, target_is_directory=True)
    escapes = [
        ({"path": "outputs/../elsewhere/forecast.csv"}, f"{elsewhere}/forecast.csv"),
        (
            {"path": "outputs/link/forecast_{as_of}.csv"},
            f"{root}/link/forecast_{{as_of}}.csv (that is, {elsewhere}/forecast_{{as_of}}.csv)",
        ),
        ({"sql": {"url": f"sqlite:///{elsewhere}/forecasts.db", "table": "forecasts"}}, f"{elsewhere}/forecasts.db"),
    ]
    for output, shown in escapes:
        path = write_spec(make_spec(store, tmp_path, output={**output, "root": "outputs"}), tmp_path)
        result = CliRunner().invoke(job_app, ["run", str(path)])
        assert result.exit_code == 2, result.output
        assert result.output.strip() == (
            f"error: job spec {path} is invalid: output path {shown} lies outside output.root {root}"
        )

    # A path known only when the run substitutes ${NAME} is checked by the run, before anything is written.
    monkeypatch.setenv("FORECAST_DIR", str(elsewhere))
    spec = load_spec(
        write_spec(make_spec(store, tmp_path, output={"path": "${FORECAST_DIR}/f.csv", "root": "outputs"}), tmp_path)
    )
    with pytest.raises(JobFailed, match=f"output path {elsewhere}/f.csv lies outside output.root {root}$"):
        run_job(spec, "2026-01-01")
    assert list(elsewhere.iterdir()) == []

    monkeypatch.setenv("FORECAST_DIR", str(root / "nightly"))
    assert run_job(spec, "2026-01-01").output == str(root / "nightly" / "f.csv")
    inside = make_spec(store, tmp_path, output={"path": "outputs/forecast_{as_of}.parquet", "root": "outputs"})
    assert run_job(load_spec(write_spec(inside, tmp_path)), "2026-01-01").output == str(
        root / "forecast_20260101T000000.parquet"
    )


def test_a_registry_model_on_a_server_that_does_not_answer_is_named_as_such_within_seconds(monkeypatch):
    import socket

    from forecast.model_uri import resolve_model

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectionError, match=rf"cannot connect to http://127.0.0.1:{port}"):  # not "not found"
        resolve_model("models:/sales@champion")
