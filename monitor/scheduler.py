"""The long-running monitor: an APScheduler 3 scheduler, run by one leader at a time.

Jobs (all ``max_instances=1``, ``coalesce=True``, UTC unless said):

* ``run_pass`` (``monitor.jobs:run_pass``): every ``pass_interval_seconds``
  (default: min(feed intervals, 300 s)), first run at start; misfire grace 60 s;
* ``deliver_alerts`` (``monitor.jobs:deliver_alerts``): every
  ``alert_interval_seconds`` (60 s); grace 60 s;
* ``build_digest`` (``monitor.jobs:build_digest``): Monday to Friday at
  ``digest_time`` in ``digest_timezone``; grace 3600 s.

A run due while the previous run of the same job is still going is skipped
(logged "job X is still running; this run is skipped").

Leadership (:class:`Leader`): only one process runs the jobs. PostgreSQL: a
session-level ``pg_try_advisory_lock`` held on a dedicated connection;
SQLite: ``flock`` on ``<database file>.leader.lock``. Both are released by
the operating system / server when the process dies, so a waiting monitor
takes over within ``poll_leader`` seconds.

Stopping (:func:`run_forever`): SIGTERM or Ctrl-C sets
:data:`monitor.jobs.STOP`, so a running pass ends at its next safe point;
the process waits at most ``stop_timeout_seconds`` for running jobs, then
returns anyway (an unfinished step's transaction is rolled back when the
process exits).

Replaying (:func:`simulate`): the same jobs and triggers fired on a
:class:`monitor.clock.ManualClock`, synchronously, so a trading day runs in
seconds.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from monitor import clock as _clock
from monitor import jobs as _jobs
from monitor.config import Settings
from monitor.store import db, repo
from monitor.store.schema import job_runs

log = logging.getLogger(__name__)

UTC = timezone.utc
MAX_PASS_INTERVAL = 300
PASS_GRACE = 60
ALERT_GRACE = 60
DIGEST_GRACE = 3600
#: pg_advisory_lock key of the leader ("moni" in ASCII).
LEADER_KEY = 0x6D6F6E69
#: run_forever's status when a job was still running at the stop deadline.
STOP_FORCED = 3

JOB_REFS = {
    "run_pass": "monitor.jobs:run_pass",
    "deliver_alerts": "monitor.jobs:deliver_alerts",
    "build_digest": "monitor.jobs:build_digest",
}


# Building ------------------------------------------------------------------
def pass_interval(settings: Settings) -> int:
    """Seconds between passes: ``pass_interval_seconds``, else the shortest feed interval, at most 300."""
    if settings.pass_interval_seconds:
        return settings.pass_interval_seconds
    return min([f.interval_seconds for f in settings.feeds] + [MAX_PASS_INTERVAL])


def digest_trigger(settings: Settings) -> CronTrigger:
    hour, minute = (int(p) for p in settings.digest_time.split(":"))
    return CronTrigger(day_of_week="mon-fri", hour=hour, minute=minute,
                       timezone=ZoneInfo(settings.digest_timezone))


def _skipped(event: JobSubmissionEvent) -> None:
    log.warning("job %s is still running; this run is skipped", event.job_id)


def build_scheduler(settings: Settings, *, scheduler_cls: type[BaseScheduler] = BackgroundScheduler,
                    start_now: bool = True) -> BaseScheduler:
    """A scheduler (not started) holding the three jobs.

    ``start_now``: the first pass runs as soon as the scheduler starts (else
    one interval later). Times come from :func:`monitor.clock.now`.
    """
    scheduler = scheduler_cls(timezone=UTC)
    common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "replace_existing": True}
    start = _clock.now()
    first = {"next_run_time": start} if start_now else {}
    every = pass_interval(settings)
    scheduler.add_job(JOB_REFS["run_pass"],
                      IntervalTrigger(seconds=every, start_date=start + timedelta(seconds=every), timezone=UTC),
                      id="run_pass", name="pipeline pass", misfire_grace_time=PASS_GRACE, **first, **common)
    alerts_every = settings.alert_interval_seconds
    scheduler.add_job(JOB_REFS["deliver_alerts"],
                      IntervalTrigger(seconds=alerts_every, start_date=start + timedelta(seconds=alerts_every),
                                      timezone=UTC),
                      id="deliver_alerts", name="deliver alerts", misfire_grace_time=ALERT_GRACE, **common)
    scheduler.add_job(JOB_REFS["build_digest"], digest_trigger(settings),
                      id="build_digest", name="daily digest", misfire_grace_time=DIGEST_GRACE, **common)
    scheduler.add_listener(_skipped, EVENT_JOB_MAX_INSTANCES)
    return scheduler


# Leadership ----------------------------------------------------------------
def _me() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


class Leader:
    """The right to run the jobs; at most one process holds it per store."""

    def __init__(self, settings: Settings) -> None:
        self.url = db.parse_url(settings.database_url)
        self.backend = self.url.get_backend_name()
        self._held = False
        self._fd: int | None = None
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self.lock_path: Path | None = None
        if self.backend == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                self.lock_path = Path(database).expanduser().resolve().with_name(
                    Path(database).name + ".leader.lock")

    @property
    def held(self) -> bool:
        return self._held

    # -- SQLite
    def _flock_acquire(self) -> bool:
        import fcntl

        assert self.lock_path is not None
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, _me().encode())
        os.fsync(fd)
        self._fd = fd
        return True

    def _flock_holder(self) -> str | None:
        import fcntl

        assert self.lock_path is not None
        if not self.lock_path.exists():
            return None
        fd = os.open(self.lock_path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return self.lock_path.read_text().strip() or "unknown"
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    # -- PostgreSQL
    def _pg_acquire(self) -> bool:
        if self._engine is None:
            self._engine = db.make_engine(self.url.render_as_string(hide_password=False))
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": f"monitor leader {_me()}"})
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_KEY}).scalar_one())
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def _pg_holder(self) -> str | None:
        engine = self._engine or db.make_engine(self.url.render_as_string(hide_password=False))
        try:
            with engine.connect() as conn:
                row = conn.execute(text(
                    "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :k "
                    "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ), {"k": LEADER_KEY}).first()
        finally:
            if engine is not self._engine:
                engine.dispose()
        if row is None:
            return None
        return row.application_name or f"backend pid {row.pid} from {row.client_addr}"

    # -- Public
    def acquire(self) -> bool:
        """Try once, without waiting; ``True`` when this object is (now) the leader."""
        if self._held:
            return True
        if self.backend == "postgresql":
            self._held = self._pg_acquire()
        elif self.lock_path is None:  # in-memory SQLite: no other process can share it
            self._held = True
        else:
            self._held = self._flock_acquire()
        return self._held

    def still_held(self) -> bool:
        """Whether leadership is still ours: on PostgreSQL the lock's session must still answer.

        A dropped connection (a restart, a network cut) ends the session and
        with it the advisory lock: another process may already lead.
        """
        if not self._held:
            return False
        if self._conn is None:
            return True  # a lock file, or in-memory SQLite: held as long as the process lives
        try:
            self._conn.execute(text("SELECT 1")).scalar_one()
            return True
        except Exception:  # noqa: BLE001 - any failure means the session, and the lock, may be gone
            return False

    def release(self) -> None:
        """Give up leadership (idempotent)."""
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_KEY})
            except Exception:  # noqa: BLE001 - closing the session releases it anyway
                log.debug("advisory unlock failed; closing the session releases it", exc_info=True)
            finally:
                self._conn.close()
                self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._fd is not None:
            import fcntl

            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
        self._held = False

    def holder(self) -> str | None:
        """Who holds leadership (``"pid N on HOST"``), or ``None`` when nobody does."""
        if self._held:
            return _me()
        if self.backend == "postgresql":
            return self._pg_holder()
        if self.lock_path is None:
            return None
        return self._flock_holder()

    def __enter__(self) -> Leader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# Running -------------------------------------------------------------------
def run_forever(settings: Settings, *, stop_event: threading.Event | None = None, poll_leader: float = 5.0,
                scheduler_cls: type[BaseScheduler] = BackgroundScheduler) -> int:
    """Wait to be the leader, run the jobs until stopped (SIGTERM/SIGINT or ``stop_event``).

    On stop, :data:`monitor.jobs.STOP` tells running jobs to end at their
    next safe point, and the process waits for them at most
    ``stop_timeout_seconds``. Returns 0 after a clean stop, 3 when a job was
    still running at the deadline (the caller should then exit the process:
    its open transaction is rolled back by the database).
    """
    stop = stop_event or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def _on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %s received; stopping", signal.Signals(signum).name)
            stop.set()
            _jobs.STOP.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _on_signal)
    leader = Leader(settings)
    try:
        while not stop.is_set():
            if not _wait_for_leadership(leader, stop, poll_leader):
                log.info("stopped before becoming the leader")
                return 0
            log.info("this monitor is the leader (%s)", _me())
            engine = db.open_store(settings.database_url)  # migrate once, before any job runs
            try:
                with engine.begin() as conn:
                    orphans = repo.close_orphan_runs(conn)
            finally:
                engine.dispose()
            if orphans:
                log.warning("%d job run(s) left unfinished by a previous leader marked interrupted", orphans)
            _jobs.STOP.clear()
            scheduler = build_scheduler(settings, scheduler_cls=scheduler_cls)
            scheduler.start()
            log.info("scheduler started: %s", ", ".join(j.id for j in scheduler.get_jobs()))
            lost = False
            try:
                checked = time.monotonic()
                while not stop.wait(1.0):
                    if time.monotonic() - checked >= poll_leader:
                        checked = time.monotonic()
                        if not leader.still_held():
                            lost = True
                            log.warning("lost the leadership (the database connection dropped); stopping the "
                                        "jobs and waiting to lead again")
                            break
            finally:
                _jobs.STOP.set()
                log.info("stopping: waiting up to %.0f s for running jobs", settings.stop_timeout_seconds)
                scheduler.shutdown(wait=False)
                finished = _jobs.wait_idle(settings.stop_timeout_seconds)
            if not finished:
                log.error("a job did not reach a safe point within %.0f s; exiting without it (its unfinished "
                          "step is rolled back; the next start redoes it)", settings.stop_timeout_seconds)
                return STOP_FORCED
            log.info("scheduler stopped")
            if not lost:
                return 0
            leader.release()
        return 0
    finally:
        leader.release()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_for_leadership(leader: Leader, stop: threading.Event, poll_leader: float) -> bool:
    """Try to lead every ``poll_leader`` seconds until it works (True) or ``stop`` is set (False)."""
    waiting = False
    while not stop.is_set():
        try:
            if leader.acquire():
                return True
        except Exception as exc:  # noqa: BLE001 - store unreachable: retry
            log.warning("cannot check leadership (%s: %s); retrying in %.0f s",
                        exc.__class__.__name__, exc, poll_leader)
        else:
            if not waiting:
                log.info("another monitor is the leader (%s); waiting", leader.holder() or "unknown")
                waiting = True
        stop.wait(poll_leader)
    return False


# Inspecting ----------------------------------------------------------------
def describe_jobs(settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """The jobs the scheduler would run: id, name, func, trigger text, next run (UTC, ISO)."""
    now = now or datetime.now(UTC)
    scheduler = build_scheduler(settings, start_now=False)
    out = []
    for job in scheduler.get_jobs():
        nxt = job.trigger.get_next_fire_time(None, now.astimezone(UTC))
        out.append({
            "id": job.id, "name": job.name, "func": job.func_ref, "trigger": str(job.trigger),
            "next_run": nxt.astimezone(UTC).isoformat() if nxt else None,
        })
    return out


def recent_runs(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The latest ``job_runs`` rows, newest first (times as aware UTC datetimes)."""
    q = select(job_runs).order_by(job_runs.c.started_at.desc(), job_runs.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


# Replaying -----------------------------------------------------------------
@dataclass(frozen=True)
class FiredJob:
    """One job run during a replay: the scheduler's job id, its scheduled time, and how it ended."""

    job: str
    at: datetime
    status: str  # "ok", "error" or "missed"
    error: str | None = None


class _ReplayScheduler(BaseScheduler):
    """A scheduler with no thread of its own: :func:`simulate` asks it for due jobs and moves the clock.

    Jobs run synchronously (APScheduler's ``DebugExecutor``) and take no
    simulated time, so a replay is deterministic.
    """

    def _create_default_executor(self) -> DebugExecutor:
        return DebugExecutor()

    def wakeup(self) -> None:  # the replay loop asks for due jobs itself
        pass

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def due(self) -> float | None:
        """Run the jobs due now; seconds until the next one (``None``: none left)."""
        return self._process_jobs()


#: The APScheduler modules that read the wall clock (``datetime.now``) for due times and misfires.
_APSCHEDULER_CLOCK_MODULES = ("apscheduler.schedulers.base", "apscheduler.executors.base")


@contextmanager
def _apscheduler_reads(source: Callable[[], datetime]) -> Iterator[None]:
    """Make APScheduler 3's ``datetime.now`` calls read ``source`` inside the block.

    APScheduler 3 has no clock to inject: its scheduler and executor modules
    call ``datetime.now`` directly (and use their ``datetime`` name for
    nothing else). For a replay only, that name is pointed at a subclass
    whose ``now`` asks ``source``.
    """

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            current = source()
            return current.astimezone(tz) if tz is not None else current.astimezone(UTC).replace(tzinfo=None)

    modules = [sys.modules[name] for name in _APSCHEDULER_CLOCK_MODULES]
    originals = [module.datetime for module in modules]  # type: ignore[attr-defined]
    for module in modules:
        module.datetime = ClockDatetime  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.datetime = original  # type: ignore[attr-defined]


def simulate(settings: Settings, start: datetime, end: datetime, *,
             on_time: Callable[[datetime], None] | None = None) -> list[FiredJob]:
    """Replay the scheduler from ``start`` to ``end`` on a manual clock; the jobs run for real.

    The same jobs, triggers, coalescing and misfire rules as :func:`run_forever`,
    but the clock jumps from one due time to the next and each job runs to
    its end before the clock moves, so a trading day takes seconds.
    Everything that asks :func:`monitor.clock.now` (the pipeline's ``now``,
    the stamps written to the store, the digest's day) sees the simulated
    time. ``on_time(t)`` is called each time the clock moves (before the jobs
    due at ``t`` run), for instance to publish news in a local feed.

    Returns the runs, in order. The settings must be the ones the jobs load
    (``monitor.toml`` / ``MONITOR_*``), since jobs load their own settings.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("simulate() needs timezone-aware start and end")
    manual = _clock.ManualClock(start)
    fired: list[FiredJob] = []

    def _record(event: JobExecutionEvent) -> None:
        status = {EVENT_JOB_EXECUTED: "ok", EVENT_JOB_ERROR: "error", EVENT_JOB_MISSED: "missed"}[event.code]
        error = None if event.exception is None else f"{event.exception.__class__.__name__}: {event.exception}"
        fired.append(FiredJob(event.job_id, event.scheduled_run_time.astimezone(UTC), status, error))

    with _clock.use(manual.now), _apscheduler_reads(manual.now):
        _jobs.STOP.clear()
        scheduler = build_scheduler(settings, scheduler_cls=_ReplayScheduler)
        scheduler.add_listener(_record, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        scheduler.add_listener(_skipped, EVENT_JOB_MAX_INSTANCES)
        if on_time:
            on_time(manual.now())
        scheduler.start()  # start() only calls wakeup(): nothing runs until due() is asked
        try:
            while scheduler.state != STATE_STOPPED:
                wait = scheduler.due()
                if wait is None:
                    break
                following = manual.now() + timedelta(seconds=wait)
                if following > end:
                    break
                if following > manual.now():
                    manual.set(following)
                    if on_time:
                        on_time(following)
        finally:
            scheduler.shutdown(wait=False)
    return fired
