"""The production loop with real parts: a MLflow SQLite store, CSV/Parquet files and a SQLite table.

A job scores its earlier runs against the actuals that arrived since (hand-computed values, missing
actuals counted as missing, idempotent re-scoring), retrains when its realized MASE degrades, and a
retrained model takes the alias only on a better backtest (the M3 example's sequence on small data).
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import sqlalchemy
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from forecast.baselines import Naive
from forecast.jobs.accuracy import as_of_step
from forecast.jobs.errors import JobFailed
from forecast.jobs.runner import run_job
from forecast.jobs.spec import load_spec
from forecast.run_columns import format_as_of

JOB = "loop"
FIRST_RUN = pd.Timestamp("2025-02-01T02:00")


def write_spec(directory, **sections) -> object:
    path = directory / "job.yaml"
    path.write_text(yaml.safe_dump({"name": JOB, "tracking": {"experiment": "loop-jobs"}, **sections}))
    return load_spec(path)


def job_runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name("loop-jobs")
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.job = '{JOB}'")


def read_table(url: str, table: str) -> pd.DataFrame:
    engine = sqlalchemy.create_engine(url)
    try:
        return pd.read_sql_table(table, engine)
    finally:
        engine.dispose()


# --- realized accuracy by hand --------------------------------------------------------------------------


def history() -> pd.DataFrame:
    """'a' reported up to March, 'b' up to February, 'c' only up to January (the forecasts' origin)."""
    values = {"a": [10, 12, 11, 13, 14, 12], "b": [20, 21, 23, 22, 24], "c": [5, 6, 5, 7]}
    months = pd.date_range("2024-10-01", periods=6, freq="MS")
    return pd.concat(
        [
            pd.DataFrame({"unique_id": key, "ds": months[: len(y)], "y": np.array(y, float)})
            for key, y in values.items()
        ],
        ignore_index=True,
    )


def hand_written_run() -> pd.DataFrame:
    """Forecasts made on 1 February from each series' January value: steps February (1) and March (2).

    The job's sink stores them as an earlier run of the job would have.
    """
    return pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b", "c", "c"],
            "ds": pd.to_datetime(["2025-02-01", "2025-03-01"] * 3),
            "y_hat": [13.0, 10.0, 22.0, 25.0, 7.0, 7.0],
            "y_hat_q10": [12.0, 9.0, 21.0, 24.0, 6.0, 6.0],
            "y_hat_q90": [15.0, 11.0, 25.0, 26.0, 8.0, 8.0],
            "job": JOB,
            "as_of": FIRST_RUN,
            "model_version": "7",
        }
    )


@pytest.fixture(params=["csv per run", "sqlite"])
def scored_job(request, mlflow_tracking_uri, tmp_path):
    """A job whose forecast sink holds a hand-written earlier run; a naive model forecasts its own runs."""
    from forecast.jobs.engine import RunLabel
    from forecast.jobs.engines.local import LocalEngine
    from forecast.jobs.spec import OutputSpec

    data = history()
    data.to_csv(tmp_path / "history.csv", index=False)
    Naive(horizon=2).fit(data).save(tmp_path / "naive")
    if request.param == "sqlite":
        output = {"sql": {"url": f"sqlite:///{tmp_path / 'forecasts.db'}", "table": "forecasts"}}
    else:
        output = {"path": str(tmp_path / "out" / "forecast_{as_of}.csv")}
    earlier = hand_written_run()
    LocalEngine().write(
        earlier.drop(columns=["job", "as_of", "model_version"]),
        OutputSpec.model_validate(output),
        RunLabel(job=JOB, as_of=FIRST_RUN, model_version="7"),
    )
    accuracy_url = f"sqlite:///{tmp_path / 'accuracy.db'}"
    spec = write_spec(
        tmp_path,
        data={"path": "history.csv"},
        model={"uri": "naive"},
        horizon=2,
        output=output,
        accuracy={"sql": {"url": accuracy_url, "table": "accuracy"}, "season_length": 1},
    )
    return spec, accuracy_url


def test_realized_accuracy_against_hand_computed_scores_with_missing_actuals_missing(scored_job):
    spec, accuracy_url = scored_job
    result = run_job(spec, "2025-04-01T02:00")
    assert result.runs_scored == 1  # the naive model's own run is the one being written
    table = read_table(accuracy_url, "accuracy")
    assert (table["job"] == JOB).all() and (table["as_of"] == pd.Timestamp("2025-04-01T02:00")).all()
    assert (table["forecast_as_of"] == FIRST_RUN).all() and (table["model_version"].astype(str) == "7").all()

    # MASE scales (m = 1) of the histories up to January: a |2|,|-1|,|2| -> 5/3; b |1|,|2|,|-1| -> 4/3.
    # a: step 1 forecast 13 for 14, step 2 forecast 10 for 12; b: step 1 22 for 24, its March is missing;
    # c: reported nothing after January, so both of its due steps are missing.
    rows = table.set_index(["unique_id", table["step"].fillna(0).astype(int)])  # step 0: over all steps
    a, b, c = rows.loc[("a", 0)], rows.loc[("b", 0)], rows.loc[("c", 0)]
    assert (a["steps"], a["missing"], b["steps"], b["missing"], c["steps"], c["missing"]) == (2, 0, 1, 1, 0, 2)
    np.testing.assert_allclose(
        [a["mase"], a["smape"], a["bias"], a["coverage_80"]],
        [(1 / (5 / 3) + 2 / (5 / 3)) / 2, (200 * 1 / 27 + 200 * 2 / 22) / 2, -1.5, 0.5],
    )
    np.testing.assert_allclose([b["mase"], b["smape"], b["bias"], b["coverage_80"]], [1.5, 200 * 2 / 46, -2, 1])
    assert np.isnan(c[["mase", "smape", "bias"]].astype(float)).all()

    step_two = rows.loc[("overall", 2)]  # only 'a' has an actual at step 2: 10 against 12
    np.testing.assert_allclose(
        [step_two["mase"], step_two["bias"], step_two["smape"], step_two["coverage_80"]],
        [2 / (5 / 3), -2.0, 200 * 2 / 22, 0.0],
    )
    assert (step_two["series"], step_two["missing"]) == (1, 2)  # missing, not counted as perfect
    overall = rows.loc[("overall", 0)]
    np.testing.assert_allclose(
        [overall["mase"], overall["bias"], overall["coverage_80"]], [(0.9 + 1.5) / 2, -1.75, 0.75]
    )
    assert (overall["series"], overall["steps"], overall["missing"]) == (2, 3, 3)

    # The same scores are metrics of the job's MLflow run, at the forecasts' as_of (step and timestamp).
    client = MlflowClient()
    (mase,) = client.get_metric_history(result.run_id, "realized/mase")
    assert mase.step == as_of_step(FIRST_RUN) == int(FIRST_RUN.timestamp())
    assert mase.timestamp == int(FIRST_RUN.timestamp()) * 1000
    assert mase.value == pytest.approx(1.2)
    metrics = client.get_run(result.run_id).data.metrics
    assert metrics["realized_by_step/mase_h02"] == pytest.approx(1.2)
    assert metrics["realized_by_step/smape_h02"] == pytest.approx(200 * 2 / 22)
    assert metrics["realized_by_step/bias_h02"] == pytest.approx(-2.0)
    assert metrics["realized/missing"] == 3 and metrics["realized/series"] == 2
    artifact = mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="realized_accuracy.csv")
    pd.testing.assert_frame_equal(
        pd.read_csv(artifact)[["unique_id", "steps", "missing", "mase"]],
        table[["unique_id", "steps", "missing", "mase"]],
    )


def test_re_scoring_is_idempotent_and_late_actuals_are_scored_when_they_arrive(scored_job, tmp_path):
    spec, accuracy_url = scored_job
    run_job(spec, "2025-04-01T02:00")
    first = read_table(accuracy_url, "accuracy")
    assert run_job(spec, "2025-04-01T02:00").runs_scored == 1
    pd.testing.assert_frame_equal(read_table(accuracy_url, "accuracy"), first)  # replaced, not duplicated

    # Nothing arrived since the run of 1 April: nothing changed, nothing is logged or stored again.
    quiet = run_job(spec, "2025-04-02T02:00")
    assert quiet.runs_scored == 0
    assert "realized/mase" not in MlflowClient().get_run(quiet.run_id).data.metrics
    pd.testing.assert_frame_equal(read_table(accuracy_url, "accuracy"), first)

    # b's March arrives late: 26 against the forecast 25 of the hand-written run (|e| = 1, scale 4/3).
    late = pd.concat([history(), pd.DataFrame({"unique_id": ["b"], "ds": [pd.Timestamp("2025-03-01")], "y": [26.0]})])
    late.to_csv(tmp_path / "history.csv", index=False)
    result = run_job(spec, "2025-04-03T02:00")
    assert result.runs_scored == 3  # the hand-written run and both naive runs, whose b forecast starts in March
    table = read_table(accuracy_url, "accuracy")
    rescored = table[(table["as_of"] == pd.Timestamp("2025-04-03T02:00")) & (table["forecast_as_of"] == FIRST_RUN)]
    overall = rescored[(rescored["unique_id"] == "overall") & rescored["step"].isna()].iloc[0]
    assert overall["mase"] == pytest.approx((0.9 + (1.5 + 0.75) / 2) / 2)
    assert (overall["missing"], overall["steps"]) == (2, 4)
    history_of_mase = MlflowClient().get_metric_history(result.run_id, "realized/mase")
    assert {point.step for point in history_of_mase} == {
        as_of_step(pd.Timestamp(stamp)) for stamp in (FIRST_RUN, "2025-04-01T02:00", "2025-04-02T02:00")
    }


def block_forecast_writes(spec, as_of: str) -> None:
    """Make writing the forecasts of `as_of` fail: a trigger refuses inserts, or a directory takes the lock's name."""
    key, value = spec.output.sink
    if key == "sql":
        engine = sqlalchemy.create_engine(value.url)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON {value.table} BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        engine.dispose()
    else:
        forecast_lock(spec, as_of).mkdir()


def unblock_forecast_writes(spec, as_of: str) -> None:
    key, value = spec.output.sink
    if key == "sql":
        engine = sqlalchemy.create_engine(value.url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER refuse")
        engine.dispose()
    else:
        forecast_lock(spec, as_of).rmdir()


def forecast_lock(spec, as_of: str) -> Path:
    """The lock file that a writer of the forecasts file of `as_of` takes."""
    path = Path(spec.output.path.replace("{as_of}", format_as_of(pd.Timestamp(as_of))))
    return path.with_name(f".{path.name}.lock")


def test_an_accuracy_file_of_other_columns_fails_the_first_run_though_it_has_nothing_to_score(
    mlflow_tracking_uri, tmp_path
):
    history().to_csv(tmp_path / "history.csv", index=False)
    Naive(horizon=2).fit(history()).save(tmp_path / "naive")
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(tmp_path / "accuracy.csv", index=False)
    spec = write_spec(
        tmp_path,
        data={"path": "history.csv"},
        model={"uri": "naive"},
        horizon=2,
        output={"path": "out/forecast_{as_of}.csv"},
        accuracy={"path": "accuracy.csv"},
    )
    with pytest.raises(JobFailed, match=r"accuracy\.csv lacks the column\(s\) job, as_of"):
        run_job(spec, "2025-04-01T02:00")  # no earlier run: nothing to score, nothing to write there
    assert not (tmp_path / "out").exists()
    assert pd.read_csv(tmp_path / "accuracy.csv").columns.tolist() == ["a", "b"]


def test_a_run_whose_forecasts_write_fails_leaves_the_accuracy_sink_as_it_was(scored_job, tmp_path):
    spec, accuracy_url = scored_job
    block_forecast_writes(spec, "2025-04-01T02:00")
    with pytest.raises(JobFailed):
        run_job(spec, "2025-04-01T02:00")
    assert read_table(accuracy_url, "accuracy").empty  # the rows written before the forecasts were taken back

    unblock_forecast_writes(spec, "2025-04-01T02:00")
    run_job(spec, "2025-04-01T02:00")
    first = read_table(accuracy_url, "accuracy")
    # b's March arrives: a rerun would score the earlier run differently, but its forecasts write fails.
    late = pd.concat([history(), pd.DataFrame({"unique_id": ["b"], "ds": [pd.Timestamp("2025-03-01")], "y": [26.0]})])
    late.to_csv(tmp_path / "history.csv", index=False)
    block_forecast_writes(spec, "2025-04-01T02:00")
    with pytest.raises(JobFailed):
        run_job(spec, "2025-04-01T02:00")
    pd.testing.assert_frame_equal(read_table(accuracy_url, "accuracy"), first)


@pytest.mark.parametrize(
    "retrain, field",
    [
        ({"policy": "when_it_feels_right"}, "model.retrain.policy"),
        ({"policy": "on_degradation", "k": 3, "factor": 0.8}, "model.retrain.factor"),
        ({"policy": "on_degradation", "k": 0, "factor": 1.5}, "model.retrain.k"),
        ({"policy": "on_degradation", "factor": 1.5}, "model.retrain: policy 'on_degradation' needs 'k'"),
        ({"policy": "on_degradation", "k": 2, "factor": 2, "promote": {"margin": 0.1}}, "'promote' needs 'alias'"),
        (
            {"policy": "on_degradation", "k": 2, "factor": 2, "alias": "champion", "promote": {"margin": -0.1}},
            "model.retrain.promote.margin",
        ),
        (
            {"policy": "on_degradation", "k": 2, "factor": 2, "alias": "champion", "promote": {"metric": "rmse"}},
            "model.retrain.promote.metric",
        ),
    ],
)
def test_a_bad_retrain_policy_is_one_line_naming_the_field(tmp_path, retrain, field):
    from forecast.jobs.cli import job_app

    spec = {
        "name": JOB,
        "data": {"path": "history.csv"},
        "model": {"uri": "models:/loop-model@champion", "retrain": retrain},
        "horizon": 2,
        "output": {"path": "out/forecast_{as_of}.csv"},
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(job_app, ["run", str(tmp_path / "job.yaml")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and field in result.output, result.output


# --- the loop on successive as_of dates: degradation, retraining, champion and challenger ---------------

MODEL = "loop-model"
MONTHS = pd.date_range("2022-01-01", periods=46, freq="MS")
TRAINED_UNTIL = 30
"""The first champion is fitted on months 0 .. 30; the job starts on month 30."""
BREAK = 32
"""From month 32 on every series is 40 higher (a new regime the first champion never saw)."""


def regime_data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    shift = np.where(np.arange(len(MONTHS)) >= BREAK, 40.0, 0.0)
    return pd.concat(
        [
            pd.DataFrame(
                {"unique_id": f"s{i}", "ds": MONTHS, "y": 20.0 + 5 * i + rng.normal(0, 1, len(MONTHS)) + shift}
            )
            for i in range(4)
        ],
        ignore_index=True,
    )


def as_of(month: int) -> pd.Timestamp:
    """The run a day after month `month` started; with data.until_as_of it sees months 0 .. month."""
    return MONTHS[month] + pd.Timedelta(days=1, hours=2)


@pytest.mark.slow
def test_the_loop_on_successive_as_of_dates(mlflow_tracking_uri, tmp_path):
    from forecast.forecaster import Forecaster
    from forecast.settings import Tracking

    data = regime_data()
    data.to_csv(tmp_path / "history.csv", index=False)
    champion = Forecaster(
        lookback=4,
        horizon=2,
        units=8,
        epochs=10,
        batch_size=32,
        scaler="standard",
        combine_with=None,
        deseasonalize=False,
        calendar=None,
        seed=0,
        verbose=0,
        tracking=Tracking(experiment="loop-training", register_as=MODEL, errors="raise"),
    )
    champion.fit(data[data["ds"] <= MONTHS[TRAINED_UNTIL]])
    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", "1")
    spec = write_spec(
        tmp_path,
        data={"path": "history.csv", "until_as_of": True},
        model={
            "uri": f"models:/{MODEL}@champion",
            "retrain": {
                "policy": "on_degradation",
                "k": 1,
                "factor": 4,
                "alias": "champion",
                "promote": {"metric": "mase", "margin": 0.05, "windows": 1},
            },
        },
        horizon=2,
        output={"path": "out/forecast_{as_of}.parquet", "root": "out"},
        accuracy={"path": "out/accuracy.csv"},
    )

    first = run_job(spec, as_of(30))
    assert (first.runs_scored, first.retrained, first.model_version) == (0, False, "1")
    calm = run_job(spec, as_of(31))  # month 31's actuals score the first run's step 1: the old regime, as trained
    assert (calm.runs_scored, calm.retrained) == (1, False)
    assert "<=" in client.get_run(calm.run_id).data.tags["retrain"]

    # Month 32 breaks: the last scored run is far off. The challenger is fitted on the data up to the backtest
    # origin (month 30), the champion's own data with the same seed: no better, so the alias stays.
    broken = run_job(spec, as_of(32))
    assert (broken.runs_scored, broken.retrained, broken.promotion, broken.model_version) == (2, True, "refused", "1")
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    refused = client.get_model_version(MODEL, "2")
    assert refused.tags["promotion.decision"] == "refused" and refused.tags["job.as_of"] == as_of(32).isoformat()
    decision = decision_run(client, "2")
    assert decision.data.metrics["challenger_mase"] == decision.data.metrics["champion_mase"]
    assert "is not below" in decision.data.tags["promotion.reason"]

    # A year on, the challenger has learned the new regime from the data before its backtest origin and wins.
    later = run_job(spec, as_of(44))
    assert (later.retrained, later.promotion, later.model_version) == (True, "accepted", "3")
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "3"
    decision = decision_run(client, "3")
    scores = decision.data.metrics
    assert scores["challenger_mase"] < scores["champion_mase"] * (1 - 0.05) == pytest.approx(scores["threshold"])
    settled = run_job(spec, as_of(45))
    assert (settled.runs_scored, settled.retrained, settled.model_version) == (1, False, "3")

    # Accuracy over time in the dashboard: realized MASE by forecast as_of, before and after the break.
    points = {
        (run.data.tags["as_of"], point.step): point.value
        for run in job_runs(client)
        for point in client.get_metric_history(run.info.run_id, "realized/mase")
    }
    assert points[(as_of(31).isoformat(), as_of_step(as_of(30)))] < 4  # month 31 scored the old regime
    assert points[(as_of(32).isoformat(), as_of_step(as_of(31)))] > 10  # month 32 scored the first new month

    # One stored score by hand: the run of month 31 forecast month 32 (step 1) of s0.
    stored = pd.read_csv(tmp_path / "out" / "accuracy.csv", parse_dates=["as_of", "forecast_as_of"])
    row = stored[
        (stored["as_of"] == as_of(32)) & (stored["forecast_as_of"] == as_of(31)) & (stored["unique_id"] == "s0")
    ].iloc[0]
    forecast = pd.read_parquet(tmp_path / "out" / f"forecast_{as_of(31):%Y%m%dT%H%M%S}.parquet")
    y_hat = forecast.loc[(forecast["unique_id"] == "s0") & (forecast["ds"] == MONTHS[32]), "y_hat"].item()
    y = data.loc[(data["unique_id"] == "s0") & (data["ds"] == MONTHS[32]), "y"].item()
    assert (row["steps"], row["missing"]) == (1, 0)
    np.testing.assert_allclose([row["bias"], row["smape"]], [y_hat - y, 200 * abs(y_hat - y) / (abs(y) + abs(y_hat))])

    # Running the same as_of again replaces its rows: the stored accuracy and forecasts are unchanged.
    forecasts = sorted((tmp_path / "out").glob("forecast_*.parquet"))
    run_job(spec, as_of(45))
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "out" / "accuracy.csv", parse_dates=["as_of", "forecast_as_of"]), stored
    )
    assert sorted((tmp_path / "out").glob("forecast_*.parquet")) == forecasts


def decision_run(client: MlflowClient, challenger_version: str):
    """The MLflow run recording the champion/challenger decision about `challenger_version`."""
    experiment = client.get_experiment_by_name("loop-jobs")
    (run,) = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`promotion.job` = '{JOB}' and params.challenger_version = '{challenger_version}'",
    )
    return run


# --- champion and challenger on a backtest, and the manual override ---------------------------------------


def seasonal_data() -> pd.DataFrame:
    """A 4-step cycle on a trend: the seasonal naive forecast is off by the trend, 0.5 x 4 = 2, at every step."""
    t = np.arange(24)
    cycle = np.array([0.0, 6.0, 2.0, -4.0])
    return pd.concat(
        [
            pd.DataFrame({"unique_id": key, "ds": t, "y": level + 0.5 * t + cycle[t % 4]})
            for key, level in (("x", 10.0), ("y", 30.0))
        ],
        ignore_index=True,
    )


def test_the_challenger_wins_only_when_its_backtest_beats_the_champion_by_the_margin():
    from forecast.baselines import SeasonalNaive
    from forecast.jobs.promotion import compare
    from forecast.jobs.spec import PromoteSpec

    data = seasonal_data()
    promote = PromoteSpec(metric="mase", margin=0.1, windows=2)
    seasonal, naive = SeasonalNaive(horizon=4, season_length=4), Naive(horizon=4)
    # The seasonal naive forecast misses by the trend over one cycle, 2, where the scale is that same 2: MASE 1.
    better = compare(naive.fit(data), seasonal, data, promote, season_length=4)
    assert better.champion > 1 and better.challenger == pytest.approx(1.0)
    assert (better.origins, better.first_origin, better.last_origin) == (4, 15, 19)
    assert better.champion_in_sample == 4  # the champion was fitted on every origin's future
    decision = better.decide(0.1)
    assert decision.accepted and decision.threshold == pytest.approx(better.champion * 0.9)
    assert decision.reason.startswith("challenger mase 1 < champion mase")
    worse = compare(
        SeasonalNaive(horizon=4, season_length=4).fit(data), Naive(horizon=4), data, promote, season_length=4
    )
    assert not worse.decide(0.0).accepted and "is not below" in worse.decide(0.0).reason
    # Just better is not enough with a margin: accepted at margin 0, refused once the margin asks for more.
    ratio = better.challenger / better.champion
    assert better.decide(0.0).accepted and not better.decide(1 - ratio + 1e-9).accepted


def test_a_champion_fitted_before_a_new_series_appeared_is_scored_on_it_too():
    # A new product since the champion's fit: the champion forecasts it from its history up to each origin, and
    # both models are scored on the same origins.
    from forecast.baselines import SeasonalNaive
    from forecast.jobs.promotion import compare
    from forecast.jobs.spec import PromoteSpec

    data = seasonal_data()
    champion = SeasonalNaive(horizon=4, season_length=4).fit(data[data["unique_id"] == "x"])
    result = compare(champion, Naive(horizon=4), data, PromoteSpec(metric="mase", windows=2), season_length=4)
    assert result.origins == 4 and result.champion_in_sample == 2  # y's origins are out of sample for it
    assert result.champion == pytest.approx(1.0)  # off by the trend over one cycle on both series, as above


def register_naive_versions(count: int) -> None:
    from forecast.pyfunc import log_forecaster
    from forecast.tracking import tracking_run

    data = history()
    for _ in range(count):
        with tracking_run(True, "naive-models", "naive", "raise"):
            log_forecaster(Naive(horizon=2).fit(data), data.groupby("unique_id").tail(2), register_as="naive")


def test_forecast_model_promote_moves_the_alias_and_records_the_override(mlflow_tracking_uri):
    from forecast.jobs.model_cli import model_app

    register_naive_versions(2)
    client = MlflowClient()
    client.set_registered_model_alias("naive", "champion", "1")
    result = CliRunner().invoke(model_app, ["promote", "naive", "2", "--reason", "checked by hand"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "naive@champion: version 2 (was version 1)"
    assert str(client.get_model_version_by_alias("naive", "champion").version) == "2"
    assert client.get_model_version("naive", "2").tags["promotion.reason"] == "manual: checked by hand"
    (record,) = client.search_runs(
        [client.get_experiment_by_name("model-promotions").experiment_id], filter_string="tags.model = 'naive'"
    )
    assert record.data.params["previous_version"] == "1" and record.data.tags["promotion.decision"] == "manual"

    missing = CliRunner().invoke(model_app, ["promote", "naive", "9"])
    assert missing.exit_code == 1 and missing.output.count("\n") == 1
    assert "model naive has no version 9" in missing.output and "versions [1, 2]" in missing.output
    ghost = CliRunner().invoke(model_app, ["promote", "ghost", "1"])
    assert ghost.exit_code == 1 and "no registered model named 'ghost'" in ghost.output
    assert CliRunner().invoke(model_app, ["promote", "naive", "0"]).exit_code == 2


def test_forecast_model_promote_names_a_server_that_does_not_answer(monkeypatch):
    from forecast.jobs.model_cli import model_app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens: MLflow would retry for minutes
    result = CliRunner().invoke(model_app, ["promote", "naive", "1"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "cannot connect to http://127.0.0.1:9" in result.output and "has no version" not in result.output


@pytest.mark.parametrize("alias", ["", "bad alias!", "v1", "Latest"])
def test_forecast_model_promote_refuses_a_bad_alias_before_recording_anything(mlflow_tracking_uri, alias):
    from forecast.jobs.model_cli import model_app

    register_naive_versions(1)
    result = CliRunner().invoke(model_app, ["promote", "naive", "1", "--alias", alias])
    assert result.exit_code == 2, result.output
    assert "--alias" in result.output
    assert MlflowClient().get_experiment_by_name("model-promotions") is None  # no record run, not even a failed one


def test_forecast_model_promote_creates_no_store_where_the_tracking_uri_names_none(tmp_path, monkeypatch):
    from forecast.jobs.model_cli import model_app

    missing = tmp_path / "typo" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    result = CliRunner().invoke(model_app, ["promote", "naive", "1"])
    assert result.exit_code == 1 and f"no tracking store at {missing}" in result.output
    assert not missing.parent.exists()


def test_forecast_model_help_does_not_import_mlflow():
    import subprocess
    import sys

    probe = (
        "import sys, forecast.jobs.model_cli; print(sorted(m for m in ('mlflow', 'tensorflow') if m in sys.modules))"
    )
    child = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "[]"


def test_the_accuracy_sink_is_checked_like_the_outputs(tmp_path):
    from forecast.jobs.spec import SpecError

    base = {"data": {"path": "history.csv"}, "model": {"uri": "naive"}, "horizon": 2}
    output = {"path": "out/forecast_{as_of}.csv", "root": "out"}
    spec = write_spec(tmp_path, **base, output=output, accuracy={"path": "out/accuracy.csv"})
    assert spec.accuracy.path == str(tmp_path / "out" / "accuracy.csv")  # relative to the spec file
    with pytest.raises(SpecError, match=f"output path {tmp_path}/accuracy.csv lies outside output.root"):
        write_spec(tmp_path, **base, output=output, accuracy={"path": "accuracy.csv"})
    with pytest.raises(SpecError, match=r"accuracy\.path: expected a \.csv or \.parquet file"):
        write_spec(tmp_path, **base, output=output, accuracy={"path": "out/accuracy.txt"})
    with pytest.raises(SpecError, match="accuracy: give at most one of 'path', 'sql'"):
        write_spec(
            tmp_path, **base, output=output, accuracy={"path": "a.csv", "sql": {"url": "sqlite://", "table": "a"}}
        )


def test_a_challenger_that_scores_as_the_champion_is_refused_saying_it_learnt_nothing_new():
    from forecast.jobs.promotion import Comparison

    alike = Comparison(
        metric="smape", champion=5.6, challenger=5.6, origins=3, first_origin=1, last_origin=3, champion_in_sample=0
    )
    decision = alike.decide(margin=0.0)
    assert not decision.accepted and "the two forecast alike there" in decision.reason
    better = Comparison(
        metric="smape", champion=5.6, challenger=5.0, origins=3, first_origin=1, last_origin=3, champion_in_sample=0
    )
    assert better.decide(margin=0.0).accepted and "alike" not in better.decide(margin=0.0).reason
