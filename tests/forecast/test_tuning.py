"""Hyperparameter search (forecast.tuning, forecast.tuning_cli): trials scored as backtests, pruning from the
per-epoch validation loss, nested MLflow runs, resumed studies, one-line errors for a bad search space."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
import typer
from mlflow import MlflowClient
from typer.testing import CliRunner

from forecast.backtesting import history_until, series_cutoffs
from forecast.baselines import ExponentialSmoothing
from forecast.settings import ForecasterSettings
from forecast.tuning import SearchSpace, default_storage, tune
from forecast.tuning_cli import tune_command

HORIZON = 3
N_WINDOWS = 2
GOOD_RATE, BAD_RATE = 0.01, 100.0
PRUNING_THRESHOLD = 10.0
"""A scaled validation loss no trial with the good rate comes near (its first epoch: about 0.5) and the bad rate
is far above from its first epoch on (about 70)."""
ETS_SPACE = {"season_length": {"type": "categorical", "choices": [1, 12]}}


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    """Three monthly series of 36, 30 and 48 months: level, trend, a yearly cycle and noise."""
    rng = np.random.default_rng(1)
    pieces = []
    for number, (series_id, length) in enumerate({"a": 36, "b": 30, "c": 48}.items()):
        t = np.arange(length)
        y = 10.0 * (number + 1) + 0.3 * t + 2.0 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, length)
        ds = pd.date_range("2015-01-01", periods=length, freq="MS")
        pieces.append(pd.DataFrame({"unique_id": series_id, "ds": ds, "y": y}))
    return pd.concat(pieces, ignore_index=True)


def tiny_forecaster(**overrides):
    from forecast.forecaster import Forecaster

    settings = dict(
        lookback=6,
        horizon=HORIZON,
        units=4,
        epochs=4,
        batch_size=16,
        combine_with=None,
        learning_rate=GOOD_RATE,
        tracking=False,
        verbose=0,
        seed=0,
    )
    return Forecaster(**{**settings, **overrides})


def runs_of(experiment: str = "forecast") -> pd.DataFrame:
    return mlflow.search_runs(experiment_names=[experiment], output_format="pandas")


# ------------------------------------------------------------------------------------------- the network search


@pytest.fixture(scope="module")
def network_search(module_mlflow_tracking_uri, history):
    """A search over the learning rate: trial 0 the bad rate (queued in the study beforehand), trial 1 the
    estimator as given (queued by tune), pruned by a fixed threshold on the reported validation loss."""
    storage = default_storage()
    study = optuna.create_study(storage=storage, study_name="rates", direction="minimize")
    study.enqueue_trial({"learning_rate": BAD_RATE})
    space = {"learning_rate": {"type": "categorical", "choices": [GOOD_RATE, BAD_RATE]}}
    result = tune(
        tiny_forecaster(),
        history,
        space,
        n_trials=2,
        n_windows=N_WINDOWS,
        study_name="rates",
        pruner=optuna.pruners.ThresholdPruner(upper=PRUNING_THRESHOLD),
        register_as="tuned-rates",
    )
    return result, storage


def test_a_bad_trial_is_pruned_after_its_first_epoch(network_search):
    result, _ = network_search
    bad, good = result.study.trials
    assert bad.params == {"learning_rate": BAD_RATE} and good.params == {"learning_rate": GOOD_RATE}
    assert bad.state == optuna.trial.TrialState.PRUNED
    assert list(bad.intermediate_values) == [0] and bad.intermediate_values[0] > PRUNING_THRESHOLD
    assert bad.user_attrs["epochs_trained"] == 1  # training stopped: 4 epochs were planned
    assert good.state == optuna.trial.TrialState.COMPLETE and good.user_attrs["epochs_trained"] == 4


def test_a_trial_reports_every_epochs_validation_loss_and_scores_the_backtest_of_its_configuration(
    network_search, history
):
    result, _ = network_search
    good = result.study.trials[1]
    # the reference: the same configuration fitted up to each series' first origin and backtested there
    cutoffs = series_cutoffs(history.sort_values(["unique_id", "ds"]), N_WINDOWS, HORIZON, HORIZON)
    reference = tiny_forecaster().fit(history_until(history, cutoffs[cutoffs["window"] == 0]))
    assert [good.intermediate_values[epoch] for epoch in range(4)] == pytest.approx(
        reference.history_["val_loss"], rel=1e-5
    )
    scores = reference.backtest(history, n_windows=N_WINDOWS).metrics
    assert good.value == pytest.approx(scores.loc[scores["unique_id"] == "overall", "mase"].item(), rel=1e-5)
    assert result.best_params == {"learning_rate": GOOD_RATE} and result.best_score == good.value


def test_trials_and_the_best_refit_are_nested_runs_of_one_parent(network_search, history):
    result, _ = network_search
    runs = runs_of().set_index("run_id", drop=False)
    parent = runs.loc[result.run_id]
    assert parent["tags.mlflow.runName"] == "tune-rates" and parent["metrics.best_mase"] == result.best_score
    children = runs[runs["tags.mlflow.parentRunId"] == result.run_id]
    by_name = children.set_index("tags.mlflow.runName")
    assert set(by_name.index) == {"trial-0", "trial-1", "tune-rates-best"}
    assert by_name.loc["trial-0", "tags.optuna.state"] == "PRUNED"
    assert by_name.loc["trial-1", "tags.optuna.state"] == "COMPLETE"
    assert by_name.loc["trial-1", "metrics.mase"] == result.best_score
    assert by_name.loc["trial-1", "params.learning_rate"] == str(GOOD_RATE)
    client = MlflowClient()
    assert len(client.get_metric_history(by_name.loc["trial-0", "run_id"], "val_loss")) == 1
    assert len(client.get_metric_history(by_name.loc["trial-1", "run_id"], "val_loss")) == 4
    refit = by_name.loc["tune-rates-best"]
    assert refit["params.learning_rate"] == str(GOOD_RATE) and refit["metrics.validation_mase"] == result.best_score
    best = result.best_estimator
    assert best.run_id_ == refit["run_id"] and best.train_df_.shape[0] == len(history)  # refitted on everything
    version = client.get_model_version("tuned-rates", best.registered_model_version_)
    assert version.run_id == best.run_id_


# ------------------------------------------------------------------------------------------ a baseline search


@pytest.fixture(scope="module")
def resumed_search(module_mlflow_tracking_uri, history):
    first = tune(ExponentialSmoothing(horizon=HORIZON), history, ETS_SPACE, n_trials=2, n_windows=N_WINDOWS)
    first_trials = [trial.number for trial in first.study.trials]
    second = tune(ExponentialSmoothing(horizon=HORIZON), history, ETS_SPACE, n_trials=2, n_windows=N_WINDOWS, n_jobs=2)
    return first, first_trials, second


@pytest.mark.slow  # trials in worker processes, each importing TensorFlow
def test_a_resumed_study_continues_its_trial_count_with_trials_in_worker_processes(resumed_search):
    first, first_trials, second = resumed_search
    assert first.study.study_name == second.study.study_name and first_trials == [0, 1]
    assert sorted(trial.number for trial in second.study.trials) == [0, 1, 2, 3]
    trials = sorted(second.study.trials, key=lambda trial: trial.number)
    assert all(trial.state == optuna.trial.TrialState.COMPLETE for trial in trials)
    # four trials over two choices: the repeats reuse the first score of their parameters instead of refitting
    for trial in trials:
        first_with_them = next(earlier for earlier in trials if earlier.params == trial.params)
        assert trial.user_attrs.get("repeat_of", trial.number) == first_with_them.number
        assert trial.value == first_with_them.value
    runs = runs_of()
    second_trials = runs[runs["tags.mlflow.parentRunId"] == second.run_id]
    assert set(second_trials["tags.mlflow.runName"]) == {"trial-2", "trial-3", f"tune-{second.study.study_name}-best"}


def test_a_baseline_trial_scores_the_backtest_of_its_configuration_with_the_search_mase_period(resumed_search, history):
    _, _, search = resumed_search
    for trial in search.study.trials:
        reference = ExponentialSmoothing(horizon=HORIZON, **trial.params)
        # every trial's MASE has the base estimator's period (12 for monthly data), also for season_length=1
        scores = reference.backtest(history, n_windows=N_WINDOWS, season_length=12).metrics
        assert trial.value == pytest.approx(scores.loc[scores["unique_id"] == "overall", "mase"].item(), rel=1e-9)
    assert search.best_estimator.season_length == search.best_params["season_length"]
    assert search.best_estimator.model_uri_ is not None  # the refitted baseline is logged as a model


def test_resuming_a_study_with_another_search_names_what_differs(resumed_search, history):
    _, _, search = resumed_search
    with pytest.raises(ValueError, match=r"another search \(n_windows: 2, now 3\)") as caught:
        tune(
            ExponentialSmoothing(horizon=HORIZON),
            history,
            ETS_SPACE,
            n_trials=1,
            n_windows=3,
            study_name=search.study.study_name,
        )
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match=r"another search \(settings: freq None, now 'MS'\)"):  # only what differs
        tune(
            ExponentialSmoothing(horizon=HORIZON, freq="MS"),
            history,
            ETS_SPACE,
            n_trials=1,
            n_windows=N_WINDOWS,
            study_name=search.study.study_name,
        )


# -------------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"unitz": {"type": "int", "low": 4, "high": 8}}, r"unknown parameter 'unitz' \(did you mean 'units'\?\)"),
        ({"units": {"type": "int", "low": 0, "high": 8}}, r"units\.low: units must be a positive integer"),
        ({"dropout": {"type": "float", "low": 0.0, "high": 1.0}}, r"dropout\.high: dropout must be"),
        ({"cell": {"type": "categorical", "choices": ["lstm", "lstmx"]}}, r"cell\.choices: cell must be one of"),
        ({"units": {"type": "float", "low": 4, "high": 8}}, r"units\.type must be int"),
        ({"units": {"type": "int", "lo": 4, "high": 8}}, r"units: unknown key 'lo'"),
        ({"units": {"type": "integer", "low": 4, "high": 8}}, r"units\.type must be one of int, float, categorical"),
        ({"units": {"type": "int", "low": 8, "high": 4}}, r"units: low must be at most high"),
        ({"learning_rate": {"type": "float", "low": 0.0, "high": 0.1}}, r"learning_rate\.low: learning_rate must be"),
        ({"learning_rate": {"type": "float", "low": "1e-4", "high": 0.1}}, r"write 1\.0e-4"),
        ({"horizon": {"type": "int", "low": 4, "high": 8}}, r"horizon cannot be searched"),
        ({"units": 32}, r"units must be a mapping with a type"),
        ({"quantiles": {"type": "categorical", "choices": [[0.1, 0.9]]}}, r"quantiles\.choices must be numbers"),
        (
            {"combine_with": {"type": "categorical", "choices": ["auto", "none"]}},
            r"got 'none'\. \(YAML writes None as null\)",
        ),
    ],
)
def test_a_bad_search_space_is_one_line_naming_the_field(spec, message):
    with pytest.raises(ValueError, match=message) as caught:
        SearchSpace.from_dict(spec, ForecasterSettings)
    assert str(caught.value).startswith("search space: ") and "\n" not in str(caught.value)


def test_a_log_scale_needs_a_positive_low():
    with pytest.raises(ValueError, match=r"dropout: a log scale needs low > 0") as caught:
        SearchSpace.from_dict({"dropout": {"type": "float", "low": 0.0, "high": 0.3, "log": True}}, ForecasterSettings)
    assert "\n" not in str(caught.value)


def test_a_search_space_file_error_names_the_file_and_the_field(tmp_path, history):
    path = tmp_path / "space.yaml"
    path.write_text("season_length: {type: categorical, choices: [1, 12]}\nseason: {type: int, low: 1, high: 4}\n")
    with pytest.raises(ValueError, match=rf"^{path}: search space: unknown parameter 'season'"):
        tune(ExponentialSmoothing(horizon=HORIZON), history, path, n_trials=1)
    path.write_text(
        "season_length: {type: categorical, choices: [1, 12]}\nseason_length: {type: int, low: 1, high: 4}\n"
    )
    with pytest.raises(ValueError, match=r"is not valid YAML: the key 'season_length' is given twice .* line 2"):
        tune(ExponentialSmoothing(horizon=HORIZON), history, path, n_trials=1)


def test_a_search_needs_an_end_and_a_score_to_minimise(history):
    with pytest.raises(ValueError, match="give n_trials or timeout"):
        tune(ExponentialSmoothing(horizon=HORIZON), history, ETS_SPACE)
    with pytest.raises(ValueError, match="metric must be one of mase, smape"):
        tune(ExponentialSmoothing(horizon=HORIZON), history, ETS_SPACE, n_trials=1, metric="coverage")
    # before any trial trains: a model without quantiles has no pinball loss
    with pytest.raises(ValueError, match="metric='pinball' scores quantile forecasts, and this Forecaster makes none"):
        tune(tiny_forecaster(), history, {"units": {"type": "int", "low": 2, "high": 4}}, n_trials=1, metric="pinball")


def test_the_default_storage_lies_beside_mlflows_sqlite_store(tmp_path):
    assert default_storage(f"sqlite:///{tmp_path}/runs/mlflow.db") == f"sqlite:///{tmp_path}/runs/optuna.db"
    assert default_storage("http://tracking.example:5000") == f"sqlite:///{Path.cwd() / 'optuna.db'}"


def test_the_parameter_values_of_the_estimator_start_the_search_when_they_lie_inside_the_space():
    space = SearchSpace.from_dict(
        {
            "units": {"type": "int", "low": 16, "high": 128, "log": True},
            "dropout": {"type": "float", "low": 0.0, "high": 0.3, "step": 0.1},
        },
        ForecasterSettings,
    )
    assert space.values_of(ForecasterSettings(dropout=0.3)) == {"units": 64, "dropout": 0.3}
    assert space.values_of(ForecasterSettings(dropout=0.25)) is None  # between two steps
    assert space.values_of(ForecasterSettings(units=8)) is None


# ------------------------------------------------------------------------------------------------ command line


@pytest.fixture
def tune_app() -> typer.Typer:
    app = typer.Typer()
    app.command("tune")(tune_command)
    app.command("other")(lambda: None)  # a group of two commands, as in `forecast`
    return app


def test_the_command_tunes_a_baseline_and_saves_the_refitted_best(tune_app, mlflow_tracking_uri, tmp_path, history):
    data, space = tmp_path / "history.csv", tmp_path / "space.yaml"
    history.to_csv(data, index=False)
    space.write_text("season_length: {type: categorical, choices: [1, 12]}\n")
    arguments = ["tune", str(data), "--space", str(space), "--estimator", "ets", "--horizon", "3"]
    arguments += ["--n-trials", "2", "--n-windows", "2", "--model-dir", str(tmp_path / "best")]
    result = CliRunner().invoke(tune_app, arguments)
    assert result.exit_code == 0, result.output
    assert "Best trial" in result.output and "season_length = " in result.output
    from forecast.loading import load_forecaster

    assert isinstance(load_forecaster(tmp_path / "best"), ExponentialSmoothing)


def test_the_command_refuses_a_bad_space_and_a_setting_of_another_estimator(tune_app, tmp_path, history):
    data, space = tmp_path / "history.csv", tmp_path / "space.yaml"
    history.to_csv(data, index=False)
    space.write_text("unitz: {type: int, low: 4, high: 8}\n")
    result = CliRunner().invoke(tune_app, ["tune", str(data), "--space", str(space), "--n-trials", "1"])
    assert isinstance(result.exception, ValueError) and "unknown parameter 'unitz'" in str(result.exception)
    result = CliRunner().invoke(
        tune_app, ["tune", str(data), "--space", str(space), "--estimator", "ets", "--lookback", "6", "--n-trials", "1"]
    )
    assert result.exit_code == 2 and "ExponentialSmoothing has no setting lookback" in result.output
    result = CliRunner().invoke(
        tune_app, ["tune", str(data), "--space", str(space), "--set", "unitz=3", "--n-trials", "1"]
    )
    assert result.exit_code == 2 and "'unitz' is not a setting of Forecaster" in result.output
    result = CliRunner().invoke(tune_app, ["tune", str(data), "--space", str(space), "--timeout", "0"])
    assert result.exit_code == 2 and "expected a number of seconds above 0; got 0" in result.output


def test_the_command_module_loads_neither_tensorflow_nor_optuna():
    code = "import sys, forecast.tuning_cli; print(sorted({'tensorflow', 'optuna', 'mlflow'} & set(sys.modules)))"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_a_configuration_the_settings_refuse_fails_its_trial_and_the_search_goes_on(tmp_path, history, caplog):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    space = {"lookback": {"type": "categorical", "choices": [6, 2, 3]}}  # 2 and 3 lie below min_past 4
    result = tune(tiny_forecaster(min_past=4, epochs=1), history, space, n_trials=4, storage=storage, tracking=False)
    states = {trial.params["lookback"]: trial.state for trial in result.study.trials}
    assert states[6] == optuna.trial.TrialState.COMPLETE and result.best_params == {"lookback": 6}
    failed = [trial for trial in result.study.trials if trial.state == optuna.trial.TrialState.FAIL]
    assert failed and all(trial.params["lookback"] in (2, 3) for trial in failed)
    warnings = [record for record in caplog.records if "failed with parameters" in record.getMessage()]
    assert warnings and "min_past must be at most lookback" in warnings[0].getMessage()
    assert all(record.exc_info is None for record in warnings)  # one line: no traceback


class TerminatedWhileFitting(ExponentialSmoothing):
    """An estimator whose fit is stopped by SIGTERM (the command line's handler raises SystemExit(143))."""

    def _fit_checked(self, checked, callbacks):
        raise SystemExit(143)


def test_a_trial_stopped_by_sigterm_is_recorded_as_failed_before_the_exit(tmp_path, history):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    with pytest.raises(SystemExit) as stopped:
        tune(TerminatedWhileFitting(horizon=HORIZON), history, ETS_SPACE, n_trials=3, storage=storage, study_name="t")
    assert stopped.value.code == 143
    (trial,) = optuna.load_study(study_name="t", storage=storage).trials  # not left RUNNING
    assert trial.state == optuna.trial.TrialState.FAIL


def test_ctrl_c_stops_the_command_with_one_line_and_records_the_trial(tmp_path, history):
    import signal

    data, space = tmp_path / "history.csv", tmp_path / "space.yaml"
    history.to_csv(data, index=False)
    space.write_text("season_length: {type: categorical, choices: [1, 12]}\n")
    command = [str(Path(sys.executable).with_name("forecast")), "tune", str(data), "--space", str(space)]
    command += ["--estimator", "ets", "--horizon", "3", "--n-trials", "100000", "--no-tracking"]
    command += ["--storage", f"sqlite:///{tmp_path / 'optuna.db'}", "--study-name", "interrupted"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    lines = []
    while not any("Trial 3 finished" in line for line in lines):
        lines.append(process.stderr.readline())
        assert lines[-1], "".join(lines)  # the search runs until interrupted
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == 130 and rest.splitlines()[-1] == "error: stopped", rest
    assert "Traceback" not in rest
    states = {
        trial.state
        for trial in optuna.load_study(study_name="interrupted", storage=f"sqlite:///{tmp_path / 'optuna.db'}").trials
    }
    assert optuna.trial.TrialState.RUNNING not in states


def test_a_series_the_trials_fit_drops_as_too_short_is_not_scored(tmp_path, history):
    short = history[history["unique_id"] == "a"].head(5).assign(unique_id="short", y=lambda d: 100.0 * d["y"])
    space = {"units": {"type": "categorical", "choices": [4]}}
    model = tiny_forecaster(short_series="drop", epochs=1)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    with pytest.warns(UserWarning, match="Dropped 1 series with fewer than"):
        with_short = tune(model, pd.concat([history, short]), space, n_trials=1, storage=storage, tracking=False)
    without = tune(model, history, space, n_trials=1, storage=storage, tracking=False)
    assert with_short.best_score == pytest.approx(without.best_score, rel=1e-6)


def test_a_search_whose_settings_change_no_forecast_says_so(tmp_path, history):
    # three short series hold too little evidence for the network: every trial forecasts with ETS alone
    space = {"units": {"type": "categorical", "choices": [4, 8, 16]}}
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    with pytest.warns(UserWarning, match=r"all \d complete trials scored .*: the searched settings did not change"):
        result = tune(tiny_forecaster(combine_with="auto"), history, space, n_trials=4, storage=storage, tracking=False)
    assert len({trial.value for trial in result.study.trials}) == 1


def test_the_refit_best_is_registered_under_the_estimators_own_name(module_mlflow_tracking_uri, history):
    from forecast.settings import Tracking

    model = tiny_forecaster(epochs=1, tracking=Tracking(experiment="own", register_as="own-tuned"))
    space = {"units": {"type": "categorical", "choices": [4]}}
    result = tune(model, history, space, n_trials=1, study_name="own-name", experiment="tuning-own")
    version = MlflowClient().get_model_version("own-tuned", str(result.best_estimator.registered_model_version_))
    assert version.run_id == result.best_estimator.run_id_
