"""The `forecast` command: train, predict and backtest on CSV and Parquet files."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast import cli
from forecast.cli import app
from forecast.cli_support import read_data
from forecast.forecaster import Forecaster
from forecast.settings import CELLS, ForecasterSettings, Tracking
from forecast.tables import read_frame, write_frame_atomic
from pipelines.settings import settings_of

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


def test_the_train_and_backtest_options_are_the_forecaster_settings_with_their_declared_defaults():
    declared = [setting.name for setting in settings_of(ForecasterSettings)]
    nested = [setting.name for setting in settings_of(Tracking)]
    for command in (cli.train, cli.backtest):
        assert set(declared + nested) <= set(inspect.signature(command).parameters)
    # No option given: no argument, so the constructor's declared defaults apply.
    assert cli.forecaster_settings({}) == {}
    assert Forecaster(**cli.forecaster_settings({})).get_params() == Forecaster().get_params()


def test_options_are_parsed_by_the_kind_of_their_setting():
    given = {
        "quantiles": "0.1,0.9",
        "epochs": "7",
        "batch_size": "auto",
        "calendar": "month,dayofweek",
        "past_covariates": "a,b",
        "combine_with": "none",
        "clipnorm": "none",
        "freq": "3",
        "ensemble_size": "2",
        "ensemble_lookbacks": "6,4",
        "deseasonalize": False,
        "experiment": "m3",
        "tracking_errors": None,
        "register_as": "model-a",
    }
    settings = cli.forecaster_settings(given)
    assert settings == {
        "quantiles": (0.1, 0.9),
        "epochs": 7,
        "batch_size": "auto",
        "calendar": ("month", "dayofweek"),
        "past_covariates": ("a", "b"),
        "combine_with": None,
        "clipnorm": None,
        "freq": 3,
        "ensemble_size": 2,
        "ensemble_lookbacks": (6, 4),
        "deseasonalize": False,
        "tracking": Tracking(experiment="m3", register_as="model-a"),
    }
    assert cli.forecaster_settings({"tracking": False, "experiment": "ignored"}) == {"tracking": False}


def test_the_command_line_loads_neither_tensorflow_nor_mlflow_until_a_command_needs_them():
    probe = "import sys, forecast.cli; print(sorted(m for m in ('keras', 'tensorflow', 'mlflow') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_train_says_how_it_combined_the_network_and_the_statistical_half(data_files, tmp_path):
    directory, _ = data_files
    result = runner.invoke(app, ["train", str(directory / "data.csv"), "--model-dir", str(tmp_path / "m"), *SETTINGS])
    assert result.exit_code == 0, result.output
    model = Forecaster.load(tmp_path / "m")
    # Two short series: too little evidence for a network, which the line says once, not again as a combination.
    assert model.network_skipped_.startswith("too little evidence")
    assert f"No network: {model.network_skipped_}" in result.output and "Combination" not in result.output
    with_network = runner.invoke(
        app,
        ["train", str(directory / "data.csv"), "--model-dir", str(tmp_path / "n"), *SETTINGS, "--combine-with", "ets"],
    )
    assert with_network.exit_code == 0, with_network.output
    combined = Forecaster.load(tmp_path / "n")
    assert f"Combination: {combined.combination_.summary()}" in with_network.output
    assert "No network" not in with_network.output
    expected = f"Statistical half: weight {model.theta_weight_:g} on Theta beside ETS ({model.theta_rule_})"
    assert expected in result.output
    assert "Period: 7 (from the calendar: D)" in result.output


def test_train_says_whether_the_period_was_given_or_inferred_from_integer_stamps():
    quarters = np.arange(48)
    frame = pd.DataFrame({"unique_id": "q", "ds": quarters, "y": 10.0 + 0.1 * quarters + 3.0 * (quarters % 4 == 0)})
    inferred = Forecaster(horizon=4, tracking=False, verbose=0).fit(frame)
    assert cli.describe_period(inferred) == (
        "Period: 4 (inferred from the data: integer time stamps; --season-length sets it)"
    )
    given = Forecaster(horizon=4, season_length=1, tracking=False, verbose=0).fit(frame)
    assert cli.describe_period(given) == "Period: 1 (given)"


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


def test_predict_forecasts_a_series_the_model_never_saw_and_says_so(trained, data_files):
    directory, df = data_files
    new = pd.concat([df, df[df["unique_id"] == "s0"].assign(unique_id="new")], ignore_index=True)
    new.to_csv(directory / "with_new.csv", index=False)
    output = directory / "with_new_forecasts.csv"
    result = runner.invoke(app, ["predict", str(trained), str(directory / "with_new.csv"), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "for 3 series (1 not in the training data: forecast from their history alone)" in result.output
    written = read_frame(output)
    np.testing.assert_allclose(
        written.loc[written["unique_id"] == "new", "y_hat"], written.loc[written["unique_id"] == "s0", "y_hat"]
    )


def test_predict_says_that_a_future_file_is_not_read_by_a_model_without_future_covariates(trained, data_files, capsys):
    directory, _ = data_files
    output = directory / "with_future.csv"
    arguments = ["predict", str(trained), str(directory / "data.csv"), "--output", str(output)]
    code, _, err = run_main([*arguments, "--future", str(directory / "data.csv")], capsys)
    assert code == 0 and "warning: --future" in err and "uses no future covariates" in err


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


def test_backtest_scores_a_saved_model_on_new_data_and_takes_no_model_settings(trained, data_files, capsys):
    from forecast.loading import load_forecaster

    directory, df = data_files
    frame = pd.concat([df, df[df["unique_id"] == "s1"].assign(unique_id="new", y=lambda d: 2.0 * d["y"])])
    frame.to_csv(directory / "backtest_new.csv", index=False)
    output = directory / "saved_bt.parquet"
    arguments = ["backtest", str(directory / "backtest_new.csv"), "--output", str(output), "--n-windows", "2"]
    code, out, err = run_main([*arguments, "--model-dir", str(trained), "--no-tracking"], capsys)
    assert code == 0, err
    assert "4 of 6 backtest origins lie inside the data this model was fitted on" in err  # s0, s1; not new
    with pytest.warns(UserWarning, match="4 of 6"):
        expected = load_forecaster(trained).backtest(read_frame(directory / "backtest_new.csv"), n_windows=2)
    pd.testing.assert_frame_equal(read_frame(output), expected.forecasts, check_dtype=False)
    assert "overall" in out
    code, _, err = run_main([*arguments, "--model-dir", str(trained), "--units", "8"], capsys)
    assert code == 2 and "leave out --units" in err
    code, _, err = run_main([*arguments, "--register-as", "bt-model", *SETTINGS[:-1]], capsys)
    assert code == 2 and "a backtest registers no model" in err


def test_a_spreadsheet_csv_with_semicolons_and_decimal_commas_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("unique_id;ds;y\na;03.04.2020;101,25\na;04.04.2020;7\nb;03.04.2020;0,5\n", encoding="utf-8-sig")
    frame = read_data(path)
    assert frame["y"].tolist() == [101.25, 7.0, 0.5]
    assert frame["ds"].tolist() == [pd.Timestamp("2020-04-03"), pd.Timestamp("2020-04-04"), pd.Timestamp("2020-04-03")]
    path.write_text("unique_id;ds;y\na;2020-01-01;1.5\n")  # semicolons with decimal points
    assert read_data(path)["y"].tolist() == [1.5]
    path.write_text('unique_id;ds;y\n"Shop, a";2020-01-01;100.5\n')  # a comma inside a quoted id, decimal points
    assert read_data(path)[["unique_id", "y"]].values.tolist() == [["Shop, a", 100.5]]
    # whole numbers for 60 lines, then decimal commas and thousands points; a missing value stays missing
    lines = [f"a;{day:%Y-%m-%d};100" for day in pd.date_range("2020-01-01", periods=60)]
    path.write_text(
        "\n".join(["unique_id;ds;y", *lines, "a;2020-03-01;149,13", "a;2020-03-02;", "a;2020-03-03;1.025,5"])
    )
    assert read_data(path)["y"].tolist()[58:] == pytest.approx([100.0, 100.0, 149.13, np.nan, 1025.5], nan_ok=True)
    # a file of decimal commas: whole numbers with thousands points are thousands, Excel's exponents and ',5' read
    path.write_text("unique_id;ds;y;x\na;2020-01-01;1.234;0,5\na;2020-01-02;2.500;1,5E-03\na;2020-01-03;7;,5\n")
    read = read_data(path)
    assert read["y"].tolist() == [1234.0, 2500.0, 7.0] and read["x"].tolist() == pytest.approx([0.5, 0.0015, 0.5])
    path.write_text("unique_id;ds;y;x\na;2020-01-01;1.5;0,5\na;2020-01-02;2.25;1,5\n")  # a decimal point among commas
    assert read_data(path)["y"].tolist() == ["1.5", "2.25"]  # left as text: validation names it


def test_dates_written_day_first_are_read_day_first(tmp_path, capsys):
    days = pd.date_range("2020-01-01", periods=40, freq="D")
    path = tmp_path / "european.csv"
    pd.DataFrame({"ds": days.strftime("%d/%m/%Y"), "y": np.arange(40.0) % 7}).to_csv(path, index=False)
    code, _, err = run_main(["train", str(path), "--model-dir", str(tmp_path / "m"), *SETTINGS], capsys)
    assert code == 0, err
    output = tmp_path / "forecasts.csv"
    code, _, err = run_main(["predict", str(tmp_path / "m"), str(path), "--output", str(output)], capsys)
    assert code == 0, err
    assert pd.to_datetime(read_frame(output)["ds"]).tolist() == list(pd.date_range("2020-02-10", periods=3))


def test_a_column_option_that_names_no_column_is_an_error_although_the_default_column_exists(
    data_files, tmp_path, capsys
):
    _, df = data_files
    path = tmp_path / "two_targets.csv"
    df.assign(sales=df["y"] * 1000).to_csv(path, index=False)
    code, out, err = run_main(["train", str(path), "--model-dir", str(tmp_path / "m"), "--target-col", "sale"], capsys)
    assert code == 1 and out == ""
    assert "no column 'sale' (--target-col); found columns ['unique_id', 'ds', 'y', 'sales']" in err
    assert not (tmp_path / "m").exists()


def test_a_directory_that_holds_no_model_is_never_replaced_and_outputs_never_replace_inputs(
    trained, data_files, tmp_path, capsys
):
    directory, _ = data_files
    data = directory / "data.csv"
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("precious")
    code, _, err = run_main(["train", str(data), "--model-dir", str(project), *SETTINGS], capsys)
    assert code == 2 and "holds 1 entries (e.g. 'notes.txt') but no saved model" in err
    assert (project / "notes.txt").read_text() == "precious"
    before = data.read_bytes()
    code, _, err = run_main(["predict", str(trained), str(data), "--output", str(data)], capsys)
    assert code == 2 and f"--output {data} is also the input" in err
    assert data.read_bytes() == before
    arguments = [
        "backtest",
        str(data),
        "--output",
        str(tmp_path / "bt.csv"),
        "--metrics-output",
        str(tmp_path / "bt.csv"),
    ]
    code, _, err = run_main([*arguments, *SETTINGS], capsys)
    assert code == 2 and "is also --output" in err and not (tmp_path / "bt.csv").exists()
    (tmp_path / "folder.csv").mkdir()
    code, _, err = run_main(["predict", str(trained), str(data), "--output", str(tmp_path / "folder.csv")], capsys)
    assert code == 2 and "it is a directory" in err


def test_unsupported_file_types_are_rejected(trained, data_files, capsys):
    directory, _ = data_files
    arguments = ["predict", str(trained), str(directory / "data.csv"), "--output", str(directory / "out.xlsx")]
    code, _, err = run_main(arguments, capsys)
    assert code == 2 and "expected a .csv or .parquet file" in err


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
        (
            lambda df: df.drop(columns="y"),
            "found columns ['unique_id', 'ds']; the file needs a y column (or name yours with --target-col <column>)",
        ),
        (lambda df: df.groupby("unique_id").head(3), "Series 's0' has 3 rows; expected at least 4"),
        (lambda df: df.drop(index=5), "choose a fill policy (--fill ffill, interpolate, zero or drop_series)"),
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


def test_a_warning_is_one_line_on_stderr_without_the_package_source(tmp_path, data_files, capsys):
    # Two series are too little evidence for the network, so the covariate reaches no forecast: fit warns.
    _, df = data_files
    path = tmp_path / "covariate.csv"
    df.assign(x=np.arange(len(df), dtype=float)).to_csv(path, index=False)
    model_dir = tmp_path / "model"
    code, out, err = run_main(
        ["train", str(path), "--model-dir", str(model_dir), "--past-covariates", "x", *SETTINGS], capsys
    )
    assert code == 0 and (model_dir / "params.json").exists() and "Trained on 2 series (no network)" in out
    warned = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 1 and "the forecast does not read 'x'" in warned[0], err
    assert "--combine-with none forecasts with the network alone" in warned[0]
    assert "UserWarning" not in err and "forecast/" not in err and "model.fit" not in err


def test_debug_shows_the_traceback(tmp_path, data_files, capsys):
    _, df = data_files
    path = tmp_path / "bad.csv"
    df.drop(columns="y").to_csv(path, index=False)
    with pytest.raises(ValueError, match="the file needs a y column"):
        cli.main(["--debug", "train", str(path), "--model-dir", str(tmp_path / "model"), *SETTINGS])


def test_train_help_lists_every_cell():
    import layers

    assert sorted(CELLS) == sorted(layers.available())
    result = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert all(cell in " ".join(result.output.split()) for cell in CELLS)


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--quantiles", "0.1,abc", "--quantiles"),
        ("--units", "99999999999999999999", "units must be a positive integer up to 65,536"),
        ("--units", "0", "units must be a positive integer"),
        ("--epochs", "many", "--epochs"),
        ("--cell", "transformer", "--cell"),
        ("--calendar", "month,moon", "unknown field(s) ['moon']"),
    ],
)
def test_a_bad_option_value_is_a_one_line_usage_error_naming_the_option(
    data_files, tmp_path, capsys, option, value, expected
):
    directory, _ = data_files
    arguments = ["train", str(directory / "data.csv"), "--model-dir", str(tmp_path / "m"), option, value]
    code, out, err = run_main(arguments, capsys)
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err and "forecast train --help" in err


def probe(arguments: list[str]) -> str:
    """Run the command line in a fresh interpreter; print its exit code and whether TensorFlow got imported."""
    code = (
        "import sys\n"
        "from forecast.cli import main\n"
        "try:\n"
        f"    main({arguments!r})\n"
        "except SystemExit as stop:\n"
        "    print('exit', stop.code, 'tensorflow' in sys.modules, 'keras' in sys.modules, 'pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return result.stdout.strip().splitlines()[-1]


def test_help_and_usage_errors_do_not_import_tensorflow(data_files, tmp_path):
    directory, _ = data_files
    assert probe(["--help"]) == "exit 0 False False False"
    assert probe(["train", "--help"]) == "exit 0 False False False"
    assert probe(["train", "x.csv", "--model-dir", "m", "--units", "abc"]) == "exit 2 False False False"
    assert probe(["train", "x.csv", "--model-dir", "m", "--dropout", "1.5"]) == "exit 2 False False False"
    assert probe(["train", "x.csv", "--bogus"]) == "exit 2 False False False"
    # a name the registry refuses is refused before any training, not after it as the model is registered
    assert probe(["train", "x.csv", "--model-dir", "m", "--register-as", "team/model"]) == "exit 2 False False False"
    assert probe(["demo", "--max-series", "0"]) == "exit 2 False False False"  # -1 trained on all but one series
    # A model directory that is a file is refused before reading the data or loading pandas and TensorFlow.
    (tmp_path / "file").write_text("")
    model_dir = ["--model-dir", str(tmp_path / "file")]
    assert probe(["train", str(directory / "data.csv"), *model_dir]) == "exit 2 False False False"


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("missing.csv", None, "does not exist"),
        ("empty.csv", b"", "the file is empty"),
        ("header.csv", b"unique_id,ds,y\n", "has no rows: only its header ['unique_id', 'ds', 'y']"),
        ("latin1.csv", "unique_id,ds,y\nné,2020-01-01,1\n".encode("latin-1"), "byte 0xe9 at offset 16, line 2"),
        ("dates.csv", b"unique_id,ds,y\na,2020-01-01,1\na,someday,2\n", "series 'a' has 'someday' at line 3"),
        ("zones.csv", b"unique_id,ds,y\na,2020-01-01T00:00,1\na,2020-01-02T00:00+02:00,2\n", "cannot read"),
        ("corrupt.parquet", b"PAR1 not really parquet", "not a readable Parquet file"),
    ],
)
def test_an_unreadable_data_file_is_one_error_line_with_exit_status_1(tmp_path, capsys, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_main(["train", str(path), "--model-dir", str(tmp_path / "model"), *SETTINGS], capsys)
    assert code == 1 and out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err and str(path) in err


def test_a_bad_date_is_named_by_the_file_s_own_column_and_line(tmp_path, capsys):
    path = tmp_path / "sales.csv"
    path.write_text("store,date,sales\na,2020-01-01,1\na,2020-01-02,2\na,someday,3\n")
    options = ["--id-col", "store", "--time-col", "date", "--target-col", "sales", *SETTINGS]
    code, _, err = run_main(["train", str(path), "--model-dir", str(tmp_path / "m"), *options], capsys)
    assert code == 1 and "Column 'date' must hold datetimes or integers; series 'a' has 'someday' at line 4." in err


def test_other_column_names_are_mapped_with_id_time_and_target_options(data_files, tmp_path):
    _, df = data_files
    path = tmp_path / "renamed.csv"
    df.rename(columns={"unique_id": "store", "ds": "date", "y": "sales"}).to_csv(path, index=False)
    result = runner.invoke(
        app,
        [
            "train",
            str(path),
            "--model-dir",
            str(tmp_path / "model"),
            "--id-col",
            "store",
            "--time-col",
            "date",
            "--target-col",
            "sales",
            *SETTINGS,
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(Forecaster.load(tmp_path / "model").series_ids_) == ["s0", "s1"]
    columns = ["--id-col", "store", "--time-col", "date", "--target-col", "sales"]
    forecasts, scores = tmp_path / "forecasts.csv", tmp_path / "scores.csv"
    predicted = runner.invoke(app, ["predict", str(tmp_path / "model"), str(path), "-o", str(forecasts), *columns])
    assert predicted.exit_code == 0, predicted.output
    assert pd.read_csv(forecasts).columns.tolist()[:3] == ["store", "date", "y_hat"]  # written back in the file's names
    options = ["--model-dir", str(tmp_path / "model"), "--metrics-output", str(scores)]
    backtested = runner.invoke(app, ["backtest", str(path), "-o", str(forecasts), *options, *columns])
    assert backtested.exit_code == 0, backtested.output
    assert {"store", "date", "sales", "y_hat"} <= set(pd.read_csv(forecasts).columns)
    assert "unique_id" not in pd.read_csv(forecasts).columns and "store" in pd.read_csv(scores).columns


def test_sigterm_after_the_work_is_done_does_not_turn_success_into_143(trained, data_files, tmp_path):
    import signal
    import time

    directory, _ = data_files
    command = [str(Path(sys.executable).with_name("forecast")), "predict", str(trained), str(directory / "data.csv")]
    process = subprocess.Popen(
        [*command, "--output", str(tmp_path / "forecasts.csv")], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    line = process.stdout.readline()  # the success line: the forecasts are written
    time.sleep(0.3)  # Python, MLflow and TensorFlow shut down for a second or more
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert line.startswith(b"Wrote ") and process.returncode == 0
    assert (tmp_path / "forecasts.csv").exists()


def test_sigterm_while_tensorflow_imports_exits_143(data_files, tmp_path):
    import signal
    import time

    directory, _ = data_files
    command = [str(Path(sys.executable).with_name("forecast")), "train", str(directory / "data.csv")]
    process = subprocess.Popen(
        [*command, "--model-dir", str(tmp_path / "model"), *SETTINGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.5)  # the console script has started; TensorFlow takes seconds more to import
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode == 143
    assert not (tmp_path / "model").exists()


def test_a_first_tracked_train_prints_no_notices_of_mlflow_creating_its_store(data_files, tmp_path):
    directory, _ = data_files
    command = [str(Path(sys.executable).with_name("forecast")), "train", str(directory / "data.csv"), *SETTINGS[:-1]]
    environment = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'new.db'}"}

    def train(model_dir: str, *options: str) -> subprocess.CompletedProcess:
        arguments = [*command, "--model-dir", str(tmp_path / model_dir), *options]
        return subprocess.run(arguments, capture_output=True, text=True, timeout=300, env=environment, cwd=tmp_path)

    result = train("model", "--tracking")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new.db").exists() and result.stdout.startswith("Trained on 2 series")
    assert "mlflow" not in result.stderr.lower(), result.stderr
    registered = train("registered", "--register-as", "cli-model")
    assert registered.returncode == 0, registered.stderr
    assert "Registered as models:/cli-model/1" in registered.stdout  # the version to promote, said plainly
