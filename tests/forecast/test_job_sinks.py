"""Job sources and sinks under concurrency, kills and text ids, with real processes, real files, real
SQLite databases and a real MLflow store: nothing lost, nothing leaked, nothing rewritten."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy
import yaml
from mlflow import MlflowClient

from forecast.forecaster import Forecaster
from forecast.jobs.engine import RunLabel
from forecast.jobs.engines.local import LocalEngine
from forecast.jobs.errors import JobFailed
from forecast.jobs.runner import run_job
from forecast.jobs.spec import DataSpec, OutputSpec, load_spec
from forecast.jobs.stale_runs import KILLED_BY_TAG, process_alive, process_identity
from forecast.tables import read_frame, table_lock, update_frame_atomic, write_frame_atomic

HORIZON = 3
IDS = ["000", "001", "002"]
EXPERIMENT = "sink-jobs"
FORECAST_COLUMNS = ["unique_id", "ds", "y_hat", "y_hat_q10", "job", "as_of", "model_version"]

RUN_JOB_WHEN_TOLD = """
import sys, time
from pathlib import Path
from forecast.jobs.runner import run_job
from forecast.jobs.spec import load_spec
spec = load_spec(sys.argv[1])
go = Path(sys.argv[3])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
run_job(spec, sys.argv[2])
"""

JOB_COMMAND = "import sys; from forecast.jobs.cli import job_app; job_app()"


def child_env() -> dict[str, str]:
    """The environment of child processes: ours (MLFLOW_TRACKING_URI included), TensorFlow's C++ logging quiet."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def history(n_steps: int = 30) -> pd.DataFrame:
    """Three monthly series with zero-padded text ids."""
    rng = np.random.default_rng(1)
    ds = pd.date_range("2020-01-01", periods=n_steps, freq="MS")
    return pd.concat(
        [
            pd.DataFrame({"unique_id": series_id, "ds": ds, "y": 5.0 * (k + 1) + np.sin(np.arange(n_steps) / 2.0)})
            for k, series_id in enumerate(IDS)
        ],
        ignore_index=True,
    ).assign(y=lambda frame: frame["y"] + rng.normal(0, 0.1, len(frame)))


def earlier_forecasts(n_rows: int, as_of: str, job: str) -> pd.DataFrame:
    """Rows shaped like a job's forecasts, standing for many earlier runs in a single-file sink."""
    rng = np.random.default_rng(2)
    return pd.DataFrame(
        {
            "unique_id": pd.Series(np.arange(n_rows) % 1000).map("{:04d}".format),
            "ds": pd.Timestamp("2030-01-01") + pd.to_timedelta(np.arange(n_rows) % 48, unit="D"),
            "y_hat": rng.normal(size=n_rows),
            "y_hat_q10": rng.normal(size=n_rows),
            "job": job,
            "as_of": pd.Timestamp(as_of),
            "model_version": "",
        }
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A Forecaster fitted on the zero-padded text ids, saved as a directory."""
    directory = tmp_path_factory.mktemp("model") / "forecaster"
    Forecaster(units=4, lookback=6, horizon=HORIZON, quantiles=[0.1], epochs=1, verbose=0, seed=0, tracking=False).fit(
        history()
    ).save(directory)
    return directory


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "history.csv"
    history().to_csv(path, index=False)
    assert "000," in path.read_text()  # the file holds the ids as zero-padded text
    return path


@pytest.fixture(autouse=True)
def tracking_store(module_mlflow_tracking_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", module_mlflow_tracking_uri)


def write_spec(directory: Path, name: str, data: Path, model: Path, output: Path) -> Path:
    spec = {
        "name": name,
        "data": {"path": str(data)},
        "model": {"uri": str(model)},
        "horizon": HORIZON,
        "quantiles": [0.1],
        "output": {"path": str(output)},
        "tracking": {"experiment": EXPERIMENT},
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def leftovers(directory: Path) -> list[str]:
    """Temporary and lock files in `directory`."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith((".tmp", ".lock")))


def wait_for_temporary(directory: Path, process: subprocess.Popen, timeout_s: float = 180) -> None:
    """Wait until `process` is writing a non-empty temporary file in `directory`."""
    deadline = time.monotonic() + timeout_s
    while not any(p.name.endswith(".tmp") and p.stat().st_size > 0 for p in directory.iterdir()):
        assert process.poll() is None, f"the writer exited early: {process.communicate()}"
        assert time.monotonic() < deadline, "the writer never started writing"
        time.sleep(0.01)


def job_runs(job: str) -> list:
    experiment = MlflowClient().get_experiment_by_name(EXPERIMENT)
    return MlflowClient().search_runs([experiment.experiment_id], filter_string=f"tags.job = '{job}'")


# --- series ids are text, and earlier rows of a CSV sink stay as written ---------------------------


def test_zero_padded_ids_through_a_csv_source_and_a_single_csv_sink(model_dir, data_csv, tmp_path):
    output = tmp_path / "forecasts.csv"
    spec = load_spec(write_spec(tmp_path, "padded", data_csv, model_dir, output))
    run_job(spec, "2026-01-01")
    first = pd.read_csv(output, dtype=str, keep_default_na=False)
    run_job(spec, "2026-01-02T02:00")
    both = pd.read_csv(output, dtype=str, keep_default_na=False)

    assert sorted(both["unique_id"].unique()) == IDS
    assert both.groupby("as_of").size().tolist() == [3 * HORIZON, 3 * HORIZON]
    # The first run's rows are what they were: same id text, same numbers, same instants.
    again = both.loc[pd.to_datetime(both["as_of"], format="ISO8601") == pd.Timestamp("2026-01-01")]
    again = again.reset_index(drop=True)
    pd.testing.assert_series_equal(again["unique_id"], first["unique_id"])
    pd.testing.assert_series_equal(again["y_hat"].astype(float), first["y_hat"].astype(float))
    for column in ("ds", "as_of"):
        pd.testing.assert_series_equal(
            pd.to_datetime(again[column], format="ISO8601"), pd.to_datetime(first[column], format="ISO8601")
        )
    # The forecasts are the fitted model's, for the series it knows by their text ids.
    expected = Forecaster.load(model_dir).predict(history())
    np.testing.assert_allclose(first["y_hat"].astype(float), expected["y_hat"], rtol=1e-6)
    assert first["unique_id"].tolist() == expected["unique_id"].tolist()
    assert leftovers(tmp_path) == []


def test_every_source_reads_series_ids_as_text(tmp_path):
    frame = pd.DataFrame({"id": ["007", "NA", "10"], "ds": [1, 2, 3], "y": [1.0, 2.0, 3.0]})
    frame.to_csv(tmp_path / "ids.csv", index=False)
    numeric = frame.assign(id=[7, 8, 10])
    numeric.to_parquet(tmp_path / "ids.parquet")
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'ids.db'}")
    frame.to_sql("text_ids", engine, index=False)
    numeric.to_sql("integer_ids", engine, index=False)
    engine.dispose()
    columns = {"unique_id": "id", "ds": "ds", "y": "y"}

    def ids(**source) -> list:
        return LocalEngine().read(DataSpec(columns=columns, **source))["unique_id"].tolist()

    assert ids(path=str(tmp_path / "ids.csv")) == ["007", "NA", "10"]
    assert ids(path=str(tmp_path / "ids.parquet")) == ["7", "8", "10"]
    url = f"sqlite:///{tmp_path / 'ids.db'}"
    assert ids(sql={"url": url, "query": "SELECT * FROM text_ids"}) == ["007", "NA", "10"]
    assert ids(sql={"url": url, "query": "SELECT * FROM integer_ids"}) == ["7", "8", "10"]
    # The command line reads files the same way.
    assert read_frame(tmp_path / "ids.csv", id_column="id")["id"].tolist() == ["007", "NA", "10"]


def test_sqlite_sources_are_opened_read_only(tmp_path):
    missing = tmp_path / "nowhere.db"
    with pytest.raises(FileNotFoundError, match=f"SQLite database {missing} does not exist"):
        LocalEngine().read(DataSpec(sql={"url": f"sqlite:///{missing}", "query": "SELECT 1"}))
    assert not missing.exists(), "reading a missing SQLite source must not create an empty database"

    database = tmp_path / "source.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    history().to_sql("observations", engine, index=False)
    engine.dispose()
    writing_query = "DELETE FROM observations RETURNING unique_id, ds, y"
    # pandas 3 wraps the driver's error in pandas.errors.DatabaseError; pandas 2 lets it through.
    with pytest.raises((sqlalchemy.exc.OperationalError, pd.errors.DatabaseError), match="readonly database"):
        LocalEngine().read(DataSpec(sql={"url": f"sqlite:///{database}", "query": writing_query}, retries=0))
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    assert pd.read_sql("SELECT COUNT(*) AS n FROM observations", engine)["n"].item() == len(history())
    engine.dispose()


def source_database(directory: Path) -> Path:
    database = directory / "source.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    history().to_sql("observations", engine, index=False)
    engine.dispose()
    return database


def observation_count(database: Path) -> int:
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    try:
        return pd.read_sql("SELECT COUNT(*) AS n FROM observations", engine)["n"].item()
    finally:
        engine.dispose()


def test_a_sqlite_uri_source_is_opened_read_only_too(tmp_path):
    missing = tmp_path / "absent.db"
    for url in (f"sqlite:///file:{missing}?uri=true", f"sqlite:///file:{missing}?mode=rwc&uri=true"):
        with pytest.raises(FileNotFoundError, match=f"SQLite database {missing} does not exist"):
            LocalEngine().read(DataSpec(sql={"url": url, "query": "SELECT 1"}))
    assert not missing.exists(), "reading a missing SQLite source must not create an empty database"

    database = source_database(tmp_path)
    writing_query = "DELETE FROM observations RETURNING unique_id, ds, y"
    for url in (f"sqlite:///file:{database}?uri=true", f"sqlite:///file:{database}?mode=rwc&uri=true"):
        with pytest.raises((sqlalchemy.exc.OperationalError, pd.errors.DatabaseError), match="readonly database"):
            LocalEngine().read(DataSpec(sql={"url": url, "query": writing_query}, retries=0))
    assert observation_count(database) == len(history())


@pytest.mark.parametrize("form", ["sqlite:///{path}", "sqlite:///file:{path}?uri=true"], ids=["path", "uri"])
@pytest.mark.parametrize(
    "statement, refused",
    [
        ("ATTACH DATABASE '{new}' AS other", "ATTACH DATABASE '{new}'"),
        ("VACUUM INTO '{new}'", "ATTACH DATABASE '{new}'"),  # SQLite attaches the new file to fill it
        ("DETACH DATABASE other", "DETACH DATABASE 'other'"),
        ("PRAGMA user_version = 7", "PRAGMA user_version = 7"),
    ],
    ids=["attach", "vacuum-into", "detach", "pragma"],
)
def test_a_sqlite_source_refuses_attach_detach_and_pragma_writes(tmp_path, form, statement, refused):
    database, new = source_database(tmp_path), tmp_path / "new.db"
    url = form.format(path=database)
    query = statement.format(new=new)
    with pytest.raises(PermissionError) as failure:
        LocalEngine().read(DataSpec(sql={"url": url, "query": query}))
    assert str(failure.value) == (
        f"data.sql.query may only read, but SQLite was asked to run {refused.format(new=new)}"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.db"]
    # A pragma that only reads still works.
    columns = {"unique_id": "name", "ds": "cid", "y": "notnull"}
    described = LocalEngine().read(
        DataSpec(sql={"url": url, "query": "PRAGMA table_info(observations)"}, columns=columns)
    )
    assert described["unique_id"].tolist() == ["unique_id", "ds", "y"]


# --- one file written by many processes --------------------------------------------------------------


WRITER_WHEN_TOLD = """
import sys, time
from pathlib import Path
import pandas as pd
from forecast.tables import update_frame_atomic
path, tag, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
mine = pd.DataFrame({"unique_id": ["000", "001"], "writer": [tag, tag], "y_hat": [1.0, 2.0]})
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
update_frame_atomic(path, lambda rows: mine if rows is None else pd.concat([rows, mine]), like=mine)
"""


def start_when_told(arguments: list[list[str]], script: str) -> list[subprocess.Popen]:
    """Start one Python process per argument list, each waiting for its go file before it acts."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env()
        )
        for args in arguments
    ]
    for process in processes:
        assert process.stdout.readline().strip() == b"ready", process.communicate()
    return processes


def finish(processes: list[subprocess.Popen], timeout_s: float = 300) -> None:
    for process in processes:
        _, err = process.communicate(timeout=timeout_s)
        assert process.returncode == 0, err.decode()[-3000:]


def test_concurrent_writers_of_one_file_keep_every_writers_rows(tmp_path):
    path = tmp_path / "shared.csv"
    n_old = 100_000
    old = pd.DataFrame({"unique_id": ["000"] * n_old, "writer": "earlier", "y_hat": np.arange(n_old, dtype=float)})
    write_frame_atomic(old, path)
    go = tmp_path / "go"
    tags = ["a", "b", "c", "d"]
    processes = start_when_told([[str(path), tag, str(go)] for tag in tags], WRITER_WHEN_TOLD)
    go.touch()
    finish(processes)
    written = pd.read_csv(path, dtype={"unique_id": str})
    assert written.groupby("writer").size().to_dict() == {"earlier": n_old, **dict.fromkeys(tags, 2)}
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_two_job_processes_on_one_output_file_keep_both_runs(model_dir, data_csv, tmp_path):
    output = tmp_path / "all.csv"
    n_old = 150_000  # earlier runs: reading and rewriting them takes long enough for the runs to overlap
    write_frame_atomic(earlier_forecasts(n_old, "2025-01-01", "shared"), output)
    spec = write_spec(tmp_path, "shared", data_csv, model_dir, output)
    go = tmp_path / "go"
    as_ofs = ["2026-01-01T00:00:00", "2026-01-02T00:00:00"]
    processes = start_when_told([[str(spec), as_of, str(go)] for as_of in as_ofs], RUN_JOB_WHEN_TOLD)
    go.touch()
    finish(processes)
    written = pd.read_csv(output, dtype={"unique_id": str}, parse_dates=["as_of"])
    assert written.groupby("as_of").size().to_dict() == {
        pd.Timestamp("2025-01-01"): n_old,
        pd.Timestamp(as_ofs[0]): 3 * HORIZON,
        pd.Timestamp(as_ofs[1]): 3 * HORIZON,
    }
    assert set(written.loc[written["as_of"] > pd.Timestamp("2025-01-01"), "unique_id"]) == set(IDS)
    assert sorted(run.info.status for run in job_runs("shared")) == ["FINISHED", "FINISHED"]
    assert leftovers(tmp_path) == []


def test_a_lock_held_too_long_names_its_holder_and_a_dead_holder_blocks_nobody(tmp_path):
    path = tmp_path / "locked.csv"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom forecast.tables import table_lock\n"
            "with table_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(TimeoutError, match=f"being written by pid {holder.pid} on "), table_lock(path, 0.3):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / ".locked.csv.lock").exists()  # a killed holder cannot remove its lock file
    started = time.monotonic()
    write_frame_atomic(pd.DataFrame({"y_hat": [1.0]}), path)
    assert time.monotonic() - started < 60
    assert leftovers(tmp_path) == []


# --- kills: temporaries and MLflow runs --------------------------------------------------------------


def start_large_write(target: Path, rows: int = 30_000_000) -> subprocess.Popen:
    """A process writing a large frame to `target` with `write_frame_atomic`, caught while it writes."""
    script = (
        "import numpy as np, pandas as pd, sys\n"
        "from forecast.tables import write_frame_atomic\n"
        f"write_frame_atomic(pd.DataFrame({{'y_hat': np.arange({rows}, dtype=float)}}), sys.argv[1])\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(target)], stderr=subprocess.PIPE)
    wait_for_temporary(target.parent, process)
    return process


def test_sigterm_during_a_plain_write_removes_the_temporary_file(tmp_path):
    target = tmp_path / "forecasts.csv"
    old = pd.DataFrame({"y_hat": [1.0, 2.0]})
    write_frame_atomic(old, target)
    process = start_large_write(target)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    assert leftovers(tmp_path) == []
    pd.testing.assert_frame_equal(pd.read_csv(target), old)


def test_a_killed_writer_leaves_the_previous_file_and_the_next_write_removes_its_temporary(tmp_path):
    target = tmp_path / "forecasts.csv"
    old = pd.DataFrame({"y_hat": [1.0, 2.0]})
    write_frame_atomic(old, target)
    process = start_large_write(target)
    process.kill()
    process.wait()
    pd.testing.assert_frame_equal(pd.read_csv(target), old)
    (left,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    new = pd.DataFrame({"y_hat": [3.0]})
    write_frame_atomic(new, target)
    assert not left.exists()
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["forecasts.csv"]
    pd.testing.assert_frame_equal(pd.read_csv(target), new)


@pytest.mark.slow
def test_sigkilled_job_leaves_a_run_and_a_temporary_that_the_next_run_cleans_up(model_dir, data_csv, tmp_path):
    output = tmp_path / "all.csv"
    n_old = 100_000  # long enough a write to be caught in the middle
    write_frame_atomic(earlier_forecasts(n_old, "2025-01-01", "killed"), output)
    spec = write_spec(tmp_path, "killed", data_csv, model_dir, output)
    process = subprocess.Popen(
        [sys.executable, "-c", JOB_COMMAND, "run", str(spec), "--as-of", "2026-01-01"],
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    wait_for_temporary(tmp_path, process)
    process.kill()
    process.wait()
    assert [name for name in leftovers(tmp_path) if name.endswith(".tmp")], "killed while writing"
    (killed,) = job_runs("killed")
    assert killed.info.status == "RUNNING"
    assert process_alive(killed.data.tags["job.process"]) is False

    run_job(load_spec(spec), "2026-01-02")
    assert leftovers(tmp_path) == []
    killed = MlflowClient().get_run(killed.info.run_id)
    assert killed.info.status == "KILLED"
    assert "process had ended" in killed.data.tags[KILLED_BY_TAG]
    written = pd.read_csv(output, dtype={"unique_id": str}, parse_dates=["as_of"])
    assert written.groupby("as_of").size().to_dict() == {
        pd.Timestamp("2025-01-01"): n_old,
        pd.Timestamp("2026-01-02"): 3 * HORIZON,
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "stop, command",
    [
        (signal.SIGTERM, [JOB_COMMAND, "run"]),
        # Ctrl-C through the `forecast` command: the job says it stopped, and `forecast` does not say it again
        (signal.SIGINT, ["import sys; from forecast.cli import main; main()", "job", "run"]),
    ],
)
def test_a_signal_stops_a_job_cleanly(model_dir, data_csv, tmp_path, stop, command):
    name = f"stopped-{stop.name.lower()}"
    output = tmp_path / "all.csv"
    write_frame_atomic(earlier_forecasts(100_000, "2025-01-01", name), output)
    before = output.read_bytes()
    spec = write_spec(tmp_path, name, data_csv, model_dir, output)
    process = subprocess.Popen(
        [sys.executable, "-c", *command, str(spec), "--as-of", "2026-01-01"], stderr=subprocess.PIPE, env=child_env()
    )
    wait_for_temporary(tmp_path, process)
    process.send_signal(stop)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + stop
    lines = err.decode().strip().splitlines()
    assert lines[-1] == f"error: job {name} stopped by {stop.name}; no output was left half-written"
    assert "error: stopped" not in lines
    assert leftovers(tmp_path) == []
    assert output.read_bytes() == before
    (run,) = job_runs(name)
    assert run.info.status == "KILLED" and run.data.tags["status"] == "stopped"


def test_a_sigterm_after_the_outputs_are_written_lets_the_run_be_recorded_as_a_success(
    model_dir, data_csv, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from forecast.jobs import cli

    defer = cli._Deferred.defer

    def defer_then_terminate(self) -> None:  # the signal arrives just after the outputs are written
        defer(self)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(cli._Deferred, "defer", defer_then_terminate)
    before = signal.getsignal(signal.SIGTERM)
    output = tmp_path / "all.csv"
    spec = write_spec(tmp_path, "late-term", data_csv, model_dir, output)
    result = CliRunner().invoke(cli.job_app, ["run", str(spec), "--as-of", "2026-01-01"])
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "job late-term as_of 2026-01-01T00:00:00:" in result.output
    assert "sent SIGTERM after its outputs were written; the run was completed and recorded" in result.output
    assert len(read_frame(output)) > 0
    (run,) = job_runs("late-term")
    assert run.info.status == "FINISHED" and run.data.tags["status"] == "success"
    assert signal.getsignal(signal.SIGTERM) is before  # the handler before the run is back


def test_a_run_left_running_under_a_job_run_that_ended_is_marked_killed_by_the_next_run():
    from forecast.jobs.stale_runs import PARENT_TAG, PROCESS_TAG, mark_stale_runs

    client = MlflowClient()
    experiment = client.create_experiment("stale-children")
    ended = client.create_run(experiment, tags={"job": "j"}).info.run_id
    client.set_terminated(ended, "KILLED")  # a run stopped by Ctrl-C while its retrain's fit ran
    orphan = client.create_run(experiment, tags={PARENT_TAG: ended}).info.run_id
    live = client.create_run(experiment, tags={"job": "j", PROCESS_TAG: process_identity()}).info.run_id
    child_of_live = client.create_run(experiment, tags={PARENT_TAG: live}).info.run_id
    other_job = client.create_run(experiment, tags={"job": "k"}).info.run_id
    client.set_terminated(other_job, "FINISHED")
    child_of_other_job = client.create_run(experiment, tags={PARENT_TAG: other_job}).info.run_id
    current = client.create_run(experiment, tags={"job": "j", PROCESS_TAG: process_identity()}).info.run_id
    assert mark_stale_runs(client, current, "j") == [orphan]
    assert client.get_run(orphan).info.status == "KILLED"
    assert f"its parent run {ended} ended" in client.get_run(orphan).data.tags[KILLED_BY_TAG]
    for untouched in (live, child_of_live, child_of_other_job, current):
        assert client.get_run(untouched).info.status == "RUNNING"


def test_process_identity_tells_live_dead_and_reused_processes():
    assert process_alive(process_identity()) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    child.wait()
    assert process_alive(identity) is False
    # Our pid with another start time: the pid was reused by a new process.
    reused = process_identity().replace('"start": "', '"start": "1')
    assert process_alive(reused) is False
    elsewhere = process_identity().replace('"host": "', '"host": "other-')
    assert process_alive(elsewhere) is None


# --- permissions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_get_the_permissions_a_plain_open_would_give(tmp_path, suffix, umask):
    frame = pd.DataFrame({"unique_id": ["001"], "y_hat": [1.0]})
    target = tmp_path / f"forecasts{suffix}"
    previous = os.umask(umask)
    try:
        with open(tmp_path / "plain", "w"):
            pass
        write_frame_atomic(frame, target)
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777 == 0o666 & ~umask
    # A file replaced keeps its mode, as a plain open() of an existing file does.
    target.chmod(0o640)
    update_frame_atomic(target, lambda rows: pd.concat([rows, frame]), like=frame)
    assert target.stat().st_mode & 0o777 == 0o640
    assert read_frame(target)["unique_id"].tolist() == ["001", "001"]


# --- SQL sinks ---------------------------------------------------------------------------------------


SQL_WRITER_WHEN_TOLD = """
import sys, time
from pathlib import Path
import numpy as np, pandas as pd
from forecast.jobs.engine import RunLabel
from forecast.jobs.engines.local import LocalEngine
from forecast.jobs.errors import JobFailed
from forecast.jobs.spec import OutputSpec
url, as_of, go = sys.argv[1], pd.Timestamp(sys.argv[2]), Path(sys.argv[3])
n = int(sys.argv[4])
rows = pd.DataFrame({
    "unique_id": pd.Series(np.arange(n) % 100).map("{:03d}".format),
    "ds": pd.Timestamp("2030-01-01") + pd.to_timedelta(np.arange(n) // 100, unit="D"),
    "y_hat": np.arange(n, dtype=float), "job": "concurrent", "as_of": as_of, "model_version": "1",
})
spec = OutputSpec(sql={"url": url, "table": "forecasts"})
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
LocalEngine().write(rows, spec, RunLabel(job="concurrent", as_of=as_of, model_version="1"))
"""


def test_concurrent_runs_on_one_sqlite_table_neither_fail_nor_lose_nor_duplicate(tmp_path):
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    n = 100_000  # inserting takes seconds, so the writers queue behind each other
    go = tmp_path / "go"
    as_ofs = ["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02"]
    processes = start_when_told([[url, as_of, str(go), str(n)] for as_of in as_ofs], SQL_WRITER_WHEN_TOLD)
    go.touch()
    finish(processes)
    engine = sqlalchemy.create_engine(url)
    try:
        counts = pd.read_sql(
            "SELECT as_of, COUNT(*) AS n, COUNT(DISTINCT y_hat) AS k FROM forecasts GROUP BY as_of", engine
        )
        id_types = pd.read_sql("SELECT DISTINCT typeof(unique_id) AS t FROM forecasts", engine)["t"].tolist()
        first_id = pd.read_sql("SELECT MIN(unique_id) AS first FROM forecasts", engine)["first"].item()
    finally:
        engine.dispose()
    assert counts["n"].tolist() == [n, n] and counts["k"].tolist() == [n, n]
    assert id_types == ["text"] and first_id == "000"


def test_a_sql_sink_with_integer_ids_is_refused_by_name(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sqlalchemy.create_engine(url)
    old = {"unique_id": [1], "job": ["j"], "as_of": [pd.Timestamp("2025-01-01")], "model_version": ["1"]}
    pd.DataFrame(old).to_sql("forecasts", engine, index=False)
    engine.dispose()
    rows = pd.DataFrame({"unique_id": ["001"], "job": ["j"], "as_of": [pd.Timestamp("2026-01-01")]})
    with pytest.raises(ValueError, match="table forecasts stores unique_id as BIGINT, but series ids are text"):
        LocalEngine().write(
            rows,
            OutputSpec(sql={"url": url, "table": "forecasts"}),
            RunLabel(job="j", as_of=pd.Timestamp("2026-01-01"), model_version=None),
        )


def _team_server_module():
    """tests/forecast/test_team_server.py, whose `running_postgres` starts a real PostgreSQL (as `postgres` when root).

    Loaded by path: an installed distribution's top-level `tests` package hides this checkout's."""
    import sys

    name = "team_server_for_sink_tests"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_team_server.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A database `sinks` on a fresh PostgreSQL server, as its superuser; the server stops with the module."""
    team = _team_server_module()
    if team.POSTGRES_BIN is None:
        pytest.skip("PostgreSQL server binaries (initdb, postgres) are not installed")
    with team.running_postgres(team.POSTGRES_BIN) as server:
        with server.connect(autocommit=True) as connection:
            connection.execute("CREATE DATABASE sinks")
        yield f"postgresql+psycopg://postgres:{server.passwords['postgres']}@127.0.0.1:{server.port}/sinks"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_sql_sink_whose_as_of_column_is_text_is_refused_in_one_line_before_any_row_is_written(
    request, database, model_dir, data_csv, tmp_path
):
    url = f"sqlite:///{tmp_path / 'sink.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:  # made by hand, or by an older version: as_of as text
        connection.exec_driver_sql("DROP TABLE IF EXISTS forecasts")
        connection.exec_driver_sql(
            "CREATE TABLE forecasts (unique_id TEXT, ds TIMESTAMP, y_hat REAL, y_hat_q10 REAL, job TEXT, as_of TEXT, "
            "model_version TEXT)"
        )
        connection.exec_driver_sql(
            "INSERT INTO forecasts VALUES ('000', '2030-01-01', 1.0, 0.5, 'text-as-of', '2026-01-01T00:00:00', '')"
        )

    def stored() -> list[tuple]:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql("SELECT job, as_of, y_hat FROM forecasts")]

    message = (
        "table forecasts stores as_of as TEXT, but the sink writes timestamps there: change the column to a "
        "timestamp type (TIMESTAMP) or give the sink a new table"
    )
    spec = yaml.safe_load(write_spec(tmp_path, "text-as-of", data_csv, model_dir, tmp_path / "unused.csv").read_text())
    spec["output"] = {"sql": {"url": url, "table": "forecasts"}}
    (tmp_path / "text-as-of.yaml").write_text(yaml.safe_dump(spec))
    try:
        with pytest.raises(JobFailed) as raised:
            run_job(load_spec(tmp_path / "text-as-of.yaml"), "2026-01-01")
        assert str(raised.value) == f"job text-as-of (as_of 2026-01-01T00:00:00) failed: {message}"
        with pytest.raises(ValueError) as raised:
            LocalEngine().write(run_rows(), OutputSpec(sql={"url": url, "table": "forecasts"}), RUN)
        assert str(raised.value) == message
        assert stored() == [("text-as-of", "2026-01-01T00:00:00", 1.0)]
    finally:
        engine.dispose()


# --- a sink that holds something else is refused by name, a missing directory is created -----------


def run_rows() -> pd.DataFrame:
    """One run's forecasts, before the sink tags them with the run's columns."""
    return pd.DataFrame({"unique_id": ["001"], "ds": [pd.Timestamp("2030-01-01")], "y_hat": [1.0]})


RUN = RunLabel(job="j", as_of=pd.Timestamp("2026-01-01"), model_version="1")


@pytest.mark.parametrize(
    "create, found, lacking",
    [
        (
            "CREATE TABLE forecasts (unique_id TEXT, ds DATETIME, value REAL)",
            "unique_id, ds, value",
            "y_hat, job, as_of, model_version",
        ),
        (
            "CREATE VIEW forecasts AS SELECT 'a' AS unique_id, 1.0 AS value",
            "unique_id, value",
            "ds, y_hat, job, as_of, model_version",
        ),
    ],
    ids=["table", "view"],
)
def test_a_sql_sink_table_of_other_columns_is_refused_naming_the_columns_it_lacks(tmp_path, create, found, lacking):
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(create)
    engine.dispose()
    spec = OutputSpec(sql={"url": url, "table": "forecasts"})

    with pytest.raises(ValueError) as raised:
        LocalEngine().read_forecasts(spec, "j")
    assert str(raised.value) == (
        f"table forecasts lacks the column(s) job, as_of that the sink writes (it has {found}); "
        "give the sink a new table"
    )
    with pytest.raises(ValueError) as raised:
        LocalEngine().write(run_rows(), spec, RUN)
    assert str(raised.value) == (
        f"table forecasts lacks the column(s) {lacking} that the sink writes (it has {found}); give the sink a new table"
    )


@pytest.mark.parametrize("name", ["all.csv", "all.parquet"])
def test_a_shared_sink_file_of_other_columns_is_refused_naming_the_columns_it_lacks(tmp_path, name):
    path = tmp_path / name
    write_frame_atomic(pd.DataFrame({"a": [1], "b": [2]}), path)
    before = path.read_bytes()
    spec = OutputSpec(path=str(path))
    message = f"file {path} lacks the column(s) job, as_of that the sink writes (it has a, b); give the sink a new file"

    with pytest.raises(ValueError) as raised:
        LocalEngine().read_forecasts(spec, "j")
    assert str(raised.value) == message
    with pytest.raises(ValueError) as raised:
        LocalEngine().write(run_rows(), spec, RUN)
    assert str(raised.value) == message
    assert path.read_bytes() == before


def test_a_job_run_on_a_foreign_shared_file_fails_in_one_line_naming_it(model_dir, data_csv, tmp_path):
    output = tmp_path / "all.csv"
    output.write_text("a,b\n1,2\n")
    spec = load_spec(write_spec(tmp_path, "foreign", data_csv, model_dir, output))
    with pytest.raises(JobFailed) as raised:
        run_job(spec, "2026-01-01")
    assert str(raised.value) == (
        f"job foreign (as_of 2026-01-01T00:00:00) failed: file {output} lacks the column(s) job, as_of "
        "that the sink writes (it has a, b); give the sink a new file"
    )
    assert output.read_text() == "a,b\n1,2\n"


def test_a_sqlite_sink_creates_the_directory_of_its_database_as_file_sinks_do(tmp_path):
    database = tmp_path / "not" / "yet" / "sink.db"
    spec = OutputSpec(sql={"url": f"sqlite:///{database}", "table": "forecasts"})
    assert LocalEngine().read_forecasts(spec, "j").empty
    assert not (tmp_path / "not").exists()  # reading creates nothing

    assert LocalEngine().write(run_rows(), spec, RUN).rows == 1
    assert LocalEngine().read_forecasts(spec, "j")["unique_id"].tolist() == ["001"]
