"""The `forecast` command: train, predict and backtest on CSV and Parquet files."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast import cli
from forecast.cli import app
from forecast.forecaster import Forecaster
from forecast.tables import read_frame, write_frame_atomic

runner = CliRunner()
SETTINGS = [
    "--units",
    "4",
    "--lookback",
    "6",
    "--horizon",
    "3",
    "--epochs",
    "1",
    "--batch-size",
    "16",
    "--verbose",
    "0",
    "--no-tracking",
]


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    step = np.arange(30)
    df = pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"s{n}",
                    "ds": pd.date_range("2022-01-01", periods=30, freq="D"),
                    "y": 3.0 + n + np.sin(step / 3),
                }
            )
            for n in range(2)
        ],
        ignore_index=True,
    )
    df.to_csv(directory / "data.csv", index=False)
    df.to_parquet(directory / "data.parquet", index=False)
    return directory, df


@pytest.fixture(scope="module")
def trained(data_files):
    directory, _ = data_files
    result = runner.invoke(
        app,
        [
            "train",
            str(directory / "data.csv"),
            "--model-dir",
            str(directory / "model"),
            "--quantiles",
            "0.1,0.9",
            *SETTINGS,
        ],
    )
    assert result.exit_code == 0, result.output
    return directory / "model"


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("train", "predict", "backtest", "demo", "experiment"):
        assert command in result.output


def test_the_train_and_backtest_options_are_the_forecaster_settings_with_its_defaults():
    defaults = {name: default for name, (_, default) in cli._FORECASTER_OPTIONS.items()}
    assert cli._forecaster(**defaults).get_params() == Forecaster().get_params()
    for command in (cli.train, cli.backtest):
        assert set(defaults) <= set(inspect.signature(command).parameters)


def test_the_command_line_loads_neither_tensorflow_nor_mlflow_until_a_command_needs_them():
    probe = "import sys, forecast.cli; print(sorted(m for m in ('keras', 'tensorflow', 'mlflow') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_train_saves_a_model_with_the_given_options(trained):
    model = Forecaster.load(trained)
    assert (model.units, model.lookback, model.horizon, model.quantiles, model.tracking) == (4, 6, 3, (0.1, 0.9), False)


@pytest.mark.parametrize("source, target", [("data.csv", "forecasts.parquet"), ("data.parquet", "forecasts.csv")])
def test_predict_reads_and_writes_csv_and_parquet(trained, data_files, source, target):
    directory, df = data_files
    result = runner.invoke(app, ["predict", str(trained), str(directory / source), "--output", str(directory / target)])
    assert result.exit_code == 0, result.output
    written = read_frame(directory / target)
    expected = Forecaster.load(trained).predict(df)
    assert list(written.columns) == ["unique_id", "ds", "y_hat", "y_hat_q10", "y_hat_q90"]
    np.testing.assert_allclose(written["y_hat"], expected["y_hat"], rtol=1e-5)
    np.testing.assert_array_equal(pd.to_datetime(written["ds"]), expected["ds"])
    assert [p.name for p in directory.iterdir() if p.name.endswith(".tmp")] == []


def test_backtest_writes_forecasts_and_scores(data_files):
    directory, _ = data_files
    result = runner.invoke(
        app,
        [
            "backtest",
            str(directory / "data.parquet"),
            "--output",
            str(directory / "bt.csv"),
            "--metrics-output",
            str(directory / "scores.parquet"),
            "--n-windows",
            "2",
            *SETTINGS,
        ],
    )
    assert result.exit_code == 0, result.output
    forecasts = read_frame(directory / "bt.csv")
    assert list(forecasts.columns[:5]) == ["unique_id", "ds", "cutoff", "y", "y_hat"]
    assert len(forecasts) == 2 * 2 * 3
    scores = read_frame(directory / "scores.parquet")
    assert "overall" in set(scores["unique_id"])


def test_unsupported_file_types_are_rejected(trained, data_files):
    directory, _ = data_files
    result = runner.invoke(
        app, ["predict", str(trained), str(directory / "data.csv"), "--output", str(directory / "out.xlsx")]
    )
    assert result.exit_code != 0
    assert "expected a .csv or .parquet file" in result.output


def test_atomic_write_replaces_the_target_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    write_frame_atomic(pd.DataFrame({"a": [1, 2]}), target)
    assert target.read_text().splitlines() == ["a", "1", "2"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def run_main(arguments, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stopped:
        cli.main(arguments)
    captured = capsys.readouterr()
    return stopped.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda df: df.assign(y=df["y"].where(df.index != 7)), "missing or infinite value"),
        (lambda df: pd.concat([df, df.iloc[[3]]]), "Duplicate (unique_id, ds) pair"),
        (lambda df: df.drop(columns="y"), "missing column(s) ['y']"),
        (lambda df: df.groupby("unique_id").head(3), "Series 's0' has 3 rows; expected at least 4"),
    ],
)
def test_a_data_mistake_is_one_line_on_stderr_with_exit_status_1(tmp_path, data_files, capsys, change, expected):
    _, df = data_files
    path = tmp_path / "bad.csv"
    change(df).to_csv(path, index=False)
    code, out, err = run_main(["train", str(path), "--model-dir", str(tmp_path / "model"), *SETTINGS], capsys)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, err
    assert "Traceback" not in err and not (tmp_path / "model").exists()


def test_usage_errors_exit_2_and_a_missing_model_directory_exits_1(tmp_path, data_files, capsys):
    directory, _ = data_files
    code, _, err = run_main(["train", str(directory / "data.csv"), "--no-such-option"], capsys)
    assert code == 2 and "No such option" in err
    code, _, err = run_main(["predict", str(tmp_path / "nowhere"), str(directory / "data.csv"), "-o", "f.csv"], capsys)
    assert code == 1 and err.startswith("error: ") and "nowhere" in err and err.count("\n") == 1


def test_debug_shows_the_traceback(tmp_path, data_files, capsys):
    _, df = data_files
    path = tmp_path / "bad.csv"
    df.drop(columns="y").to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['y'\]"):
        cli.main(["--debug", "train", str(path), "--model-dir", str(tmp_path / "model"), *SETTINGS])


def test_train_help_lists_every_cell():
    import layers

    assert sorted(cli.CELLS) == sorted(layers.available())
    result = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert all(cell in " ".join(result.output.split()) for cell in cli.CELLS)
