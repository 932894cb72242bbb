"""Runs of a job left RUNNING by a killed process, found and closed by the job's next run.

A process killed with SIGKILL (or by a power cut) cannot end its MLflow run, which then stays
RUNNING for ever. Each job run therefore records which process runs it, in the tag
`job.process`: host name, boot id, pid and the process's start time (Linux:
`/proc/<pid>/stat`, field 22, in clock ticks since boot). The next run of the job on the same
host looks at the job's RUNNING runs and marks KILLED those whose process is gone: no process
with that pid, a pid now used by a process started at another time, or a machine rebooted since.
Runs recorded on another host are left alone, since their process cannot be seen from here. A run nested in
a job run (a retrain's fit) runs only inside its parent's process, so one still RUNNING under a parent that
ended (a retrain stopped by Ctrl-C mid-fit) is marked KILLED too.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PROCESS_TAG = "job.process"
KILLED_BY_TAG = "job.killed_by"


def process_identity(pid: int | None = None) -> str:
    """The `job.process` tag value for process `pid` (default: this process), as JSON."""
    pid = os.getpid() if pid is None else pid
    return json.dumps(
        {"host": socket.gethostname(), "boot": _boot_id(), "pid": pid, "start": _process_start(pid)}, sort_keys=True
    )


def process_alive(identity: str) -> bool | None:
    """Whether the process a `job.process` tag names still runs; None when it ran on another host."""
    try:
        recorded = json.loads(identity)
        host, boot, pid, start = recorded["host"], recorded["boot"], int(recorded["pid"]), recorded["start"]
    except (ValueError, TypeError, KeyError):
        return None
    if host != socket.gethostname():
        return None
    if boot != _boot_id():
        return False
    current = _process_start(pid)
    return current is not None and current == start


def mark_stale_runs(client, run_id: str, job: str) -> list[str]:
    """Mark KILLED the RUNNING runs of `job`, in the experiment of run `run_id`, whose process is gone.

    Returns the ids of the runs marked. `client` is an `mlflow.MlflowClient`.
    """
    experiment_id = client.get_run(run_id).info.experiment_id
    running = client.search_runs(
        [experiment_id], filter_string=f"tags.job = '{job}' and attributes.status = 'RUNNING'", max_results=1000
    )
    marked = []
    for run in running:
        identity = run.data.tags.get(PROCESS_TAG)
        if run.info.run_id == run_id or identity is None or process_alive(identity) is not False:
            continue
        client.set_tag(run.info.run_id, KILLED_BY_TAG, f"run {run_id} of job {job}: the run's process had ended")
        client.set_terminated(run.info.run_id, "KILLED")
        logger.warning("job %s: run %s was left RUNNING by a process that ended; marked KILLED", job, run.info.run_id)
        marked.append(run.info.run_id)
    return marked + _mark_orphaned_children(client, experiment_id, run_id, job)


PARENT_TAG = "mlflow.parentRunId"


def _mark_orphaned_children(client, experiment_id: str, run_id: str, job: str) -> list[str]:
    """Mark KILLED the RUNNING runs of the experiment nested in a run of `job` that is no longer RUNNING."""
    from mlflow.exceptions import MlflowException

    running = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000)
    parents: dict[str, Any] = {}
    marked = []
    for run in running:
        parent_id = run.data.tags.get(PARENT_TAG)
        if parent_id is None or parent_id == run_id:
            continue
        if parent_id not in parents:
            try:
                parents[parent_id] = client.get_run(parent_id)
            except MlflowException:  # a parent deleted for good: nothing tells whose child it was
                parents[parent_id] = None
        parent = parents[parent_id]
        if parent is None or parent.data.tags.get("job") != job or parent.info.status == "RUNNING":
            continue
        client.set_tag(run.info.run_id, KILLED_BY_TAG, f"run {run_id} of job {job}: its parent run {parent_id} ended")
        client.set_terminated(run.info.run_id, "KILLED")
        logger.warning(
            "job %s: run %s was left RUNNING under run %s, which ended; marked KILLED", job, run.info.run_id, parent_id
        )
        marked.append(run.info.run_id)
    return marked


def _boot_id() -> str | None:
    """This boot's id (Linux), so that pids from before a reboot are not taken for live ones."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _process_start(pid: int) -> str | None:
    """An opaque start stamp of process `pid`, or None when no process has that pid (or only a zombie).

    On Linux the start time in clock ticks since boot, which tells a reused pid from the original;
    without `/proc`, the empty string for any live process.
    """
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    except OSError:
        return None
    # Fields after the parenthesised command name (which may hold spaces) start at field 3, the state.
    fields = status.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]  # a zombie has ended; only its parent has not reaped it
