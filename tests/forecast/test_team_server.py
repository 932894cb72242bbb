"""The team setup for real: a shared `mlflow server` on a PostgreSQL backend store with served artifacts.

The module starts a PostgreSQL server (as the `postgres` user when the tests run as root: PostgreSQL
refuses root) in a temporary directory on a free port of 127.0.0.1, creates the roles and databases the
team setup of docs/operations/team-server.md creates, and starts the tracking server with the documented command,
`make mlflow-server`. Against that pair it fits and registers models, moves an alias, runs
`forecast job run` into a PostgreSQL table (twice for one `as_of`, then three writers at once),
and runs four fits at the same moment. The references are the servers' own contents: MLflow's tables and the
forecast table read straight from PostgreSQL, the artifact files on disk, and forecasts computed in this
process. Both servers are stopped at the end of the module; a server that does not stop on its
graceful signal fails the teardown.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import psycopg
import pytest
import requests
import sqlalchemy
import yaml
from mlflow import MlflowClient
from psycopg import sql

from forecast.forecaster import Forecaster
from forecast.jobs.runner import run_job
from forecast.jobs.spec import load_spec
from forecast.settings import Tracking

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_S = 240.0
PROCESS_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 60.0

MODEL = "team-model"
HORIZON = 3
N_SERIES = 3
TINY = dict(cell="lstm", units=4, lookback=6, horizon=HORIZON, epochs=2, batch_size=16, verbose=0)
PASSWORD_VARIABLE = "FORECASTS_DB_PASSWORD"


def _postgres_bindir() -> Path | None:
    """Where `initdb` and `postgres` live: Debian's /usr/lib/postgresql/<version>/bin (newest), else PATH."""
    debian = sorted(Path("/usr/lib/postgresql").glob("[0-9]*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if debian:
        return debian[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("postgres") else None


POSTGRES_BIN = _postgres_bindir()

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        POSTGRES_BIN is None,
        reason="PostgreSQL server binaries (initdb, postgres) are not installed: "
        "neither /usr/lib/postgresql/<version>/bin nor PATH has them (Debian: apt-get install postgresql)",
    ),
]


# --- processes -----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path, characters: int = 4000) -> str:
    return path.read_text(errors="replace")[-characters:] if path.exists() else "(no output)"


def _live_group_members(group: int) -> list[int]:
    """Processes of process group `group` that have not exited (zombies excluded), from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the parenthesised command name: state, ppid, pgrp, ...
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == group and state != "Z":
            members.append(int(stat.parent.name))
    return members


def _kill_group(group: int) -> list[int]:
    """SIGKILL every live process of `group`; return their ids."""
    left = _live_group_members(group)
    for pid in left:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def _stop_group(process: subprocess.Popen, graceful: signal.Signals, what: str) -> None:
    """Send `graceful` to the process group led by `process`; SIGKILL it and raise if anything is left."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, graceful)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None and not _live_group_members(process.pid):
            return
        time.sleep(0.1)
    left = _kill_group(process.pid)
    process.wait()
    raise RuntimeError(f"{what} left processes {left} running {STOP_TIMEOUT_S:.0f}s after {graceful.name}")


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen, what: str, log: Path) -> None:
    """Poll `ready` until it holds; raise with the server's log when `process` exits or time runs out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {STARTUP_TIMEOUT_S:.0f}s: {_tail(log)}")
        time.sleep(0.2)


@dataclass
class Child:
    """A child process with its own process group and its output in a file."""

    process: subprocess.Popen
    log: Path

    def finish(self) -> tuple[int, str]:
        """Wait for the process; return its exit code and output."""
        return self.process.wait(timeout=PROCESS_TIMEOUT_S), self.log.read_text(errors="replace")


@pytest.fixture
def spawn(tmp_path) -> Iterator[Callable[..., Child]]:
    """Start child processes in `tmp_path`; any still running when the test ends is killed with its group."""
    children: list[Child] = []

    def start(command: list[str], name: str, environment: dict[str, str]) -> Child:
        log = tmp_path / f"{name}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                command, cwd=tmp_path, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        children.append(Child(process, log))
        return children[-1]

    yield start
    for child in children:
        _kill_group(child.process.pid)
        child.process.wait()


# --- PostgreSQL ----------------------------------------------------------------------------------------

ROLES = {"mlflow": "mlflow", "forecaster": "forecasts"}
"""Login role -> the database it owns: MLflow's backend store and the forecast jobs' tables."""


@dataclass(frozen=True)
class Postgres:
    port: int
    passwords: dict[str, str]
    directory: Path

    def connect(self, user: str = "postgres", database: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=user, password=self.passwords[user], dbname=database, **kwargs
        )

    def url(self, user: str, password: str | None = None) -> str:
        """SQLAlchemy URL of `user`'s database; without `password` libpq takes it from PGPASSWORD."""
        credentials = f"{user}:{password}" if password is not None else user
        return f"postgresql+psycopg://{credentials}@127.0.0.1:{self.port}/{ROLES[user]}"


def _as_postgres_user() -> dict:
    """Popen arguments that run a PostgreSQL binary as `postgres` when we are root (it refuses root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": pwd.getpwnam("postgres").pw_gid, "extra_groups": []}


@contextmanager
def running_postgres(bindir: Path) -> Iterator[Postgres]:
    """A fresh PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only; stopped on exit."""
    as_postgres = _as_postgres_user()
    directory = Path(tempfile.mkdtemp(prefix="team-postgres-"))
    try:
        password = secrets.token_hex(12)
        password_file = directory / "superuser-password"
        password_file.write_text(password)
        if as_postgres:
            for path in (directory, password_file):
                os.chown(path, pwd.getpwnam("postgres").pw_uid, as_postgres["group"])
        initdb = subprocess.run(
            [bindir / "initdb", "--pgdata", directory / "data", "--username", "postgres", "--auth", "scram-sha-256",
             "--pwfile", password_file, "--encoding", "UTF8", "--locale", "C", "--no-sync"],
            cwd=directory, capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S, **as_postgres,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}): {initdb.stdout}{initdb.stderr}")
        port = _free_port()
        log = directory / "postgres.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [bindir / "postgres", "-D", directory / "data", "-c", "listen_addresses=127.0.0.1",
                 "-c", f"port={port}", "-c", "unix_socket_directories=", "-c", "fsync=off"],
                cwd=directory, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, **as_postgres,
            )  # fmt: skip
        server = Postgres(port=port, passwords={"postgres": password}, directory=directory)

        def accepts_connections() -> bool:
            try:
                server.connect(connect_timeout=2).close()
            except psycopg.OperationalError:
                return False
            return True

        try:
            _wait_until(accepts_connections, process, "postgres", log)
            yield server
        finally:
            # SIGINT is PostgreSQL's fast shutdown: roll back open transactions, disconnect, checkpoint, exit.
            _stop_group(process, signal.SIGINT, "postgres")
            if process.returncode != 0 or "database system is shut down" not in _tail(log):
                raise RuntimeError(f"postgres did not shut down cleanly ({process.returncode}): {_tail(log)}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """The team database server, with the roles and databases of the team setup in docs/operations/team-server.md."""
    with running_postgres(POSTGRES_BIN) as server:
        passwords = dict(server.passwords)
        with server.connect(autocommit=True) as connection:
            for role, database in ROLES.items():
                passwords[role] = secrets.token_hex(12)
                connection.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(passwords[role])
                    )
                )
                connection.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role))
                )
        yield Postgres(port=server.port, passwords=passwords, directory=server.directory)


# --- the MLflow tracking server ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackingServer:
    url: str
    artifacts: Path


def _make_environment(**variables: str) -> dict[str, str]:
    """This process's environment for `make`, without the variables of an enclosing `make test`."""
    inherited = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return {**inherited, **variables}


@pytest.fixture(scope="module")
def tracking_server(postgres, tmp_path_factory) -> Iterator[TrackingServer]:
    """`make mlflow-server` (the documented team command) on 127.0.0.1 against `postgres`."""
    root = tmp_path_factory.mktemp("mlflow-server")
    artifacts = root / "artifacts"
    port = _free_port()
    log = root / "mlflow-server.log"
    command = [
        "make", "--no-print-directory", "mlflow-server",
        "TEAM_STAMP=",  # the package is installed in this environment already
        f"BIN={BIN}",
        f"MLFLOW_BACKEND_STORE_URI={postgres.url('mlflow')}",
        f"MLFLOW_ARTIFACTS_DESTINATION={artifacts}",
        "MLFLOW_HOST=127.0.0.1",
        f"MLFLOW_PORT={port}",
        "MLFLOW_WORKERS=2",
    ]  # fmt: skip
    environment = _make_environment(PGPASSWORD=postgres.passwords["mlflow"])
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        _wait_until(healthy, process, "`make mlflow-server`", log)
        yield TrackingServer(url=url, artifacts=artifacts)
    finally:
        _stop_group(process, signal.SIGTERM, "`make mlflow-server`")


@pytest.fixture(scope="module")
def tracking_uri(tracking_server) -> Iterator[str]:
    """MLFLOW_TRACKING_URI pointing at the team server for the whole module, as every team member sets it."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server.url)
        assert mlflow.get_tracking_uri() == tracking_server.url, "an earlier test pinned mlflow.set_tracking_uri"
        yield tracking_server.url


# --- data, models, jobs --------------------------------------------------------------------------------


def observations(n_steps: int = 36) -> pd.DataFrame:
    """Monthly long frame `unique_id, ds, y`: per series a level, trend, yearly cycle and seeded noise."""
    rng = np.random.default_rng(0)
    t = np.arange(n_steps)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"store-{number}",
                    "ds": pd.date_range("2022-01-01", periods=n_steps, freq="MS"),
                    "y": 10.0 * (number + 1) + 0.3 * t + 2.0 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, n_steps),
                }
            )
            for number in range(N_SERIES)
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def registered(tracking_uri) -> dict[str, Forecaster]:
    """Two versions of MODEL fitted in this process and registered on the team server, by version."""
    fitted = {}
    for seed in (0, 1):
        forecaster = Forecaster(
            **TINY, seed=seed, tracking=Tracking(experiment="team-training", register_as=MODEL, errors="raise")
        ).fit(observations())
        fitted[str(forecaster.registered_model_version_)] = forecaster
    return fitted


@pytest.fixture(scope="module")
def forecasts_database(postgres) -> Iterator[sqlalchemy.Engine]:
    """The forecast jobs' database: the `observations` table they read; yields an engine as `forecaster`."""
    engine = sqlalchemy.create_engine(postgres.url("forecaster", postgres.passwords["forecaster"]))
    observations().to_sql("observations", engine, index=False)
    yield engine
    engine.dispose()


def write_job_spec(directory: Path, postgres: Postgres, job: str, table: str) -> Path:
    """A job reading `observations` and writing `table` in the team database; the password stays a variable."""
    url = f"postgresql+psycopg://forecaster:${{{PASSWORD_VARIABLE}}}@127.0.0.1:{postgres.port}/forecasts"
    spec = {
        "name": job,
        "data": {"sql": {"url": url, "query": "SELECT unique_id, ds, y FROM observations"}},
        "model": {"uri": f"models:/{MODEL}@champion"},
        "horizon": HORIZON,
        "output": {"sql": {"url": url, "table": table}},
        "tracking": {"experiment": "team-jobs", "required": True},
    }
    path = directory / f"{job}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def job_environment(postgres: Postgres, tracking_uri: str) -> dict[str, str]:
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        PASSWORD_VARIABLE: postgres.passwords["forecaster"],
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def start_job(spawn, spec: Path, as_of: str, name: str, environment: dict[str, str]) -> Child:
    """`forecast job run SPEC --as-of AS_OF`: the real command line, in its own process."""
    return spawn([str(BIN / "forecast"), "job", "run", str(spec), "--as-of", as_of], name, environment)


def rows_per_as_of(engine: sqlalchemy.Engine, table: str) -> dict[pd.Timestamp, int]:
    with engine.connect() as connection:
        counts = connection.execute(sqlalchemy.text(f"SELECT as_of, count(*) FROM {table} GROUP BY as_of")).all()
    return {pd.Timestamp(as_of): count for as_of, count in counts}


def job_runs(job: str, as_of: str) -> list:
    """The MLflow runs the team server holds for one run of `job`."""
    return mlflow.search_runs(
        experiment_names=["team-jobs"],
        filter_string=f"tags.job = '{job}' and tags.as_of = '{pd.Timestamp(as_of).isoformat()}'",
        output_format="list",
    )


def mlflow_table(postgres: Postgres, query: str, *parameters) -> list[tuple]:
    """Rows of MLflow's own tables, read straight from its PostgreSQL database."""
    with postgres.connect("mlflow", "mlflow") as connection:
        return connection.execute(query, parameters).fetchall()


# --- tests ---------------------------------------------------------------------------------------------


def test_registered_versions_live_in_postgres_and_their_artifacts_in_the_served_store(
    registered, postgres, tracking_server
):
    runs = {version: forecaster.run_id_ for version, forecaster in registered.items()}
    assert sorted(runs) == ["1", "2"]
    client = MlflowClient()
    assert {v.version: v.run_id for v in client.search_model_versions(f"name = '{MODEL}'")} == runs
    stored = mlflow_table(
        postgres, "SELECT version, run_id, source FROM model_versions WHERE name = %s ORDER BY version", MODEL
    )
    assert [(str(version), run_id) for version, run_id, _ in stored] == sorted(runs.items())
    statuses = mlflow_table(postgres, "SELECT status FROM runs WHERE run_uuid = ANY(%s)", list(runs.values()))
    assert sorted(statuses) == [("FINISHED",), ("FINISHED",)]
    for run_id in runs.values():
        # Served artifacts: clients only know the proxy URI; the files are on the server's disk.
        assert client.get_run(run_id).info.artifact_uri.startswith("mlflow-artifacts:/")
    for _, _, source in stored:
        # mlflow-artifacts:/<path> is <artifacts destination>/<path> on the server.
        location = client.get_logged_model(source.removeprefix("models:/")).artifact_location
        assert location.startswith("mlflow-artifacts:/"), location
        assert (tracking_server.artifacts / location.removeprefix("mlflow-artifacts:/") / "MLmodel").is_file()


def test_job_runs_follow_the_moved_alias_and_replace_their_rows(
    registered, postgres, tracking_uri, forecasts_database, tmp_path, spawn
):
    spec = write_job_spec(tmp_path, postgres, "team-nightly", "nightly_forecasts")
    environment = job_environment(postgres, tracking_uri)
    as_of = "2026-03-01T02:00:00"
    client = MlflowClient()
    outputs = []
    for version in ("1", "2"):
        client.set_registered_model_alias(MODEL, "champion", version)
        code, output = start_job(spawn, spec, as_of, f"job-v{version}", environment).finish()
        assert code == 0, output
        outputs.append(output)
        written = pd.read_sql_table("nightly_forecasts", forecasts_database)
        # The same as_of twice: one set of rows, from the model the alias points at now.
        assert len(written) == N_SERIES * HORIZON, written
        assert set(written["model_version"]) == {version}
        assert set(written["as_of"]) == {pd.Timestamp(as_of)}
    assert mlflow_table(
        postgres, "SELECT version FROM registered_model_aliases WHERE name = %s AND alias = 'champion'", MODEL
    ) == [(2,)]
    expected = registered["2"].predict(observations())
    merged = written.merge(expected, on=["unique_id", "ds"], suffixes=("", "_local"), validate="one_to_one")
    assert len(merged) == N_SERIES * HORIZON
    np.testing.assert_allclose(merged["y_hat"], merged["y_hat_local"], rtol=1e-5, atol=1e-6)
    runs = job_runs("team-nightly", as_of)
    assert sorted(run.data.params["model_version"] for run in runs) == ["1", "2"], outputs
    assert {run.data.tags["status"] for run in runs} == {"success"}
    for run in runs:  # the database password never reaches the shared server
        assert run.data.params["output.sql.url"].startswith(
            f"postgresql+psycopg://forecaster:${{{PASSWORD_VARIABLE}}}@"
        )
        assert postgres.passwords["forecaster"] not in json.dumps(run.data.params)


def test_concurrent_job_runs_neither_lose_nor_duplicate_rows(
    registered, postgres, tracking_uri, forecasts_database, tmp_path, spawn, monkeypatch
):
    table = "concurrent_forecasts"
    spec = write_job_spec(tmp_path, postgres, "team-concurrent", table)
    MlflowClient().set_registered_model_alias(MODEL, "champion", "2")
    monkeypatch.setenv(PASSWORD_VARIABLE, postgres.passwords["forecaster"])
    earlier = "2026-03-01T02:00:00"
    run_job(load_spec(spec), earlier)  # creates the table (and the job experiment) before the race
    environment = job_environment(postgres, tracking_uri)
    # Two runs for one as_of and one for another, started together.
    runs = ["2026-03-02T02:00:00", "2026-03-02T02:00:00", "2026-03-03T02:00:00"]
    gate = secrets.randbits(62)
    with (
        postgres.connect("forecaster", "forecasts", autocommit=True) as holder,
        postgres.connect(autocommit=True) as observer,
    ):
        # A gate in front of every INSERT into the table: a statement trigger waits for the advisory lock
        # this test holds. Every writer gets as far as it can (past its DELETE, or to a lock of its own)
        # before any of them inserts, so their transactions overlap for certain, not by luck of timing.
        holder.execute(
            sql.SQL(
                "CREATE FUNCTION insert_gate() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_advisory_xact_lock_shared({}); RETURN NULL; END $$"
            ).format(sql.Literal(gate))
        )
        holder.execute(
            sql.SQL(
                "CREATE TRIGGER insert_gate BEFORE INSERT ON {} FOR EACH STATEMENT EXECUTE FUNCTION insert_gate()"
            ).format(sql.Identifier(table))
        )
        holder.execute("SELECT pg_advisory_lock(%s)", (gate,))
        jobs = [start_job(spawn, spec, as_of, f"job-{n}", environment) for n, as_of in enumerate(runs)]
        waiting = 0
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while waiting < len(jobs) and time.monotonic() < deadline and all(j.process.poll() is None for j in jobs):
            time.sleep(0.1)
            waiting = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'forecasts' AND wait_event_type = 'Lock'"
            ).fetchone()[0]
        holder.execute("SELECT pg_advisory_unlock(%s)", (gate,))
    for job in jobs:
        code, output = job.finish()
        assert code == 0, output
    assert waiting == len(jobs), f"only {waiting} of {len(jobs)} job runs were writing at the same time"
    assert rows_per_as_of(forecasts_database, table) == {
        pd.Timestamp(as_of): N_SERIES * HORIZON for as_of in [earlier, *runs]
    }
    for as_of in sorted(set(runs)):
        recorded = job_runs("team-concurrent", as_of)
        assert len(recorded) == runs.count(as_of) and {r.data.tags["status"] for r in recorded} == {"success"}


FIT_SCRIPT = """
import json, pathlib, sys, time
import pandas as pd
from forecast.forecaster import Forecaster
from forecast.settings import Tracking

data, gate, index = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
settings, tracking = json.loads(sys.argv[4]), json.loads(sys.argv[5])
forecaster = Forecaster(**settings, seed=index, tracking=Tracking(**tracking, run_name=f"fit-{index}", errors="raise"))
frame = pd.read_parquet(data)
(gate / f"ready-{index}").touch()
while not (gate / "go").exists():
    time.sleep(0.01)
forecaster.fit(frame)
result = {"run_id": forecaster.run_id_, "version": str(forecaster.registered_model_version_)}
(gate / f"result-{index}.json").write_text(json.dumps(result))
"""


def test_four_fits_at_the_same_moment_all_land(postgres, tracking_uri, tmp_path, spawn):
    experiment, name, fits = "team-concurrent-fits", "team-concurrent-model", 4
    data = tmp_path / "observations.parquet"
    observations().to_parquet(data)
    gate = tmp_path / "gate"
    gate.mkdir()
    settings = json.dumps({**TINY, "combine_with": "ets"})  # a few series: "auto" would train no network
    tracking = json.dumps({"experiment": experiment, "register_as": name})
    environment = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "TF_CPP_MIN_LOG_LEVEL": "2"}
    children = [
        spawn(
            [sys.executable, "-c", FIT_SCRIPT, str(data), str(gate), str(index), settings, tracking],
            f"fit-{index}",
            environment,
        )
        for index in range(fits)
    ]
    # Release all four once each has imported TensorFlow, so that their runs start together.
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while len(list(gate.glob("ready-*"))) < fits and time.monotonic() < deadline:
        exited = [child for child in children if child.process.poll() is not None]
        assert not exited, [child.finish()[1] for child in exited]
        time.sleep(0.05)
    (gate / "go").touch()
    for child in children:
        code, output = child.finish()
        assert code == 0, output
    reported = [json.loads((gate / f"result-{index}.json").read_text()) for index in range(fits)]
    run_ids = {fit["run_id"] for fit in reported}
    assert len(run_ids) == fits
    client = MlflowClient()
    on_server = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert {run.info.run_id for run in on_server} == run_ids
    assert sorted(run.info.run_name for run in on_server) == [f"fit-{index}" for index in range(fits)]
    for run in on_server:
        assert run.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1]
    in_postgres = mlflow_table(
        postgres,
        "SELECT r.run_uuid FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id"
        " WHERE e.name = %s AND r.status = 'FINISHED'",
        experiment,
    )
    assert {run_id for (run_id,) in in_postgres} == run_ids
    # Four registrations at once: four distinct versions, each pointing at its own run.
    versions = {v.version: v.run_id for v in client.search_model_versions(f"name = '{name}'")}
    assert sorted(versions) == ["1", "2", "3", "4"] and set(versions.values()) == run_ids
    assert {fit["version"]: fit["run_id"] for fit in reported} == versions
