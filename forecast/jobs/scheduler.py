"""An in-process cron scheduler for one forecast job on a single machine.

Policies (stated here because operators rely on them):

- **No overlap.** A run that is still going when the next fire time comes
  makes the scheduler skip that fire time (APScheduler `max_instances=1`);
  the skipped time is logged, never queued.
- **Missed runs run once.** Fire times missed while the scheduler was
  running but blocked (suspend, a long run) are coalesced into one run
  (`coalesce=True`) if they are at most `misfire_grace_s` late. Fire
  times missed while the scheduler was down are caught up at start: if the
  most recent fire time before start is later than the last run recorded in
  the state file and within `misfire_grace_s`, exactly one run is made for
  it at start-up, with that fire time as its `as_of`; older misses are
  skipped.
- **Clean shutdown.** SIGINT and SIGTERM stop the scheduler after the run in
  progress has finished (outputs are atomic anyway, so nothing is ever half
  written); no new run starts.

Each run's `as_of` is its scheduled fire time (UTC, naive), so a catch-up
run or a retry writes the same rows as the run it replaces.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from forecast.jobs.errors import JobFailed
from forecast.jobs.spec import ScheduleSpec

logger = logging.getLogger(__name__)

RunOnce = Callable[[pd.Timestamp], object]


def _as_of(fire_time: datetime) -> pd.Timestamp:
    return pd.Timestamp(fire_time).tz_convert("UTC").tz_localize(None).floor("s")


class JobScheduler:
    """Fire `run_once(as_of)` on a cron schedule, without overlap, with one catch-up run.

    Args:
        name: the job's name (for logs and the state file).
        schedule: the spec's schedule (cron expression, timezone, grace).
        run_once: called with the fire time as `as_of`; exceptions are
            logged and the schedule goes on.
        state_path: JSON file holding the last fire time that ran; `None`
            disables catch-up after downtime.
        trigger: an APScheduler trigger replacing the cron expression (tests
            use a seconds-level trigger).
    """

    def __init__(
        self,
        name: str,
        schedule: ScheduleSpec,
        run_once: RunOnce,
        state_path: str | Path | None = None,
        trigger: BaseTrigger | None = None,
    ):
        self.name = name
        self.schedule = schedule
        self.run_once = run_once
        self.state_path = Path(state_path) if state_path is not None else None
        self.trigger = trigger or CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
        self.skipped_fire_times: list[datetime] = []
        self._stopped = threading.Event()
        self._scheduler = BackgroundScheduler(timezone=schedule.timezone)
        self._scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES)

    def _latest_fire_time(self, now: datetime) -> datetime | None:
        """The latest fire time in `[now - grace, now]`."""
        fire = self.trigger.get_next_fire_time(None, now - timedelta(seconds=self.schedule.misfire_grace_s))
        latest = None
        while fire is not None and fire <= now:
            latest = fire
            fire = self.trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        return latest

    def _fire(self, fire_time: datetime | None = None) -> None:
        # APScheduler does not pass the scheduled time; the latest fire time up to now is it.
        now = datetime.now(timezone.utc)
        as_of = _as_of(fire_time or self._latest_fire_time(now) or now)
        logger.info("job %s: run for as_of %s", self.name, as_of)
        try:
            self.run_once(as_of)
        except JobFailed as error:  # the schedule survives a failed run, which says why in one line and is recorded
            logger.error("%s", error)
        except Exception:  # anything else is a fault of ours: its traceback is kept
            logger.exception("job %s: run for as_of %s failed", self.name, as_of)
        finally:
            self._record(as_of)

    def _record(self, as_of: pd.Timestamp) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"job": self.name, "last_as_of": as_of.isoformat()}))
        temporary.replace(self.state_path)

    def _last_recorded(self) -> pd.Timestamp | None:
        if self.state_path is None or not self.state_path.exists():
            return None
        return pd.Timestamp(json.loads(self.state_path.read_text())["last_as_of"])

    def _on_skipped(self, event: JobSubmissionEvent) -> None:
        self.skipped_fire_times.extend(event.scheduled_run_times)
        logger.warning(
            "job %s: previous run still going, skipped the run(s) due at %s", self.name, event.scheduled_run_times
        )

    def missed_fire_time(self, now: datetime | None = None) -> datetime | None:
        """The latest fire time before `now` not yet run and within the grace period, if any."""
        last = self._last_recorded()
        if last is None:
            return None
        latest = self._latest_fire_time(now or datetime.now(timezone.utc))
        if latest is None or _as_of(latest) <= last:
            return None
        return latest

    def start(self) -> None:
        """Start firing in a background thread (and make the catch-up run, if one is due)."""
        missed = self.missed_fire_time()
        self._scheduler.add_job(
            self._fire,
            trigger=self.trigger,
            id=self.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self.schedule.misfire_grace_s,
        )
        self._scheduler.start()
        if missed is not None:
            logger.info("job %s: catching up the run missed at %s", self.name, missed)
            self._scheduler.add_job(self._fire, args=[missed], id=f"{self.name}-catch-up", max_instances=1)

    def stop(self) -> None:
        """Stop scheduling and wait for a run in progress to finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self._stopped.set()

    def serve(self) -> None:
        """Run until SIGINT or SIGTERM, then stop cleanly (the foreground mode of the CLI)."""

        def handle(signum, frame):
            logger.info("job %s: received signal %d, stopping after the current run", self.name, signum)
            self._stopped.set()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            self._stopped.wait()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
