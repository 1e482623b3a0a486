"""The long-running monitor: an APScheduler 3 scheduler, run by one leader at a time.

Jobs (all ``max_instances=1``, ``coalesce=True``, UTC unless said):

* ``run_pass`` (``monitor.jobs:run_pass``): every min(feed intervals, 300 s),
  first run at start; misfire grace 60 s;
* ``deliver_alerts`` (``monitor.jobs:deliver_alerts``): every 60 s; grace 60 s;
* ``build_digest`` (``monitor.jobs:build_digest``): Monday to Friday at
  ``digest_time`` in ``digest_timezone``; grace 3600 s.

A run due while the previous run of the same job is still going is skipped
(logged "job X is still running; this run is skipped").

Leadership (:class:`Leader`): only one process runs the jobs. PostgreSQL: a
session-level ``pg_try_advisory_lock`` held on a dedicated connection;
SQLite: ``flock`` on ``<database file>.leader.lock``. Both are released by
the operating system / server when the process dies, so a waiting monitor
takes over within ``poll_leader`` seconds.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from monitor.config import Settings
from monitor.store import db
from monitor.store.schema import job_runs

log = logging.getLogger(__name__)

UTC = timezone.utc
MAX_PASS_INTERVAL = 300
ALERT_INTERVAL = 60
PASS_GRACE = 60
ALERT_GRACE = 60
DIGEST_GRACE = 3600
#: pg_advisory_lock key of the leader ("moni" in ASCII).
LEADER_KEY = 0x6D6F6E69

JOB_REFS = {
    "run_pass": "monitor.jobs:run_pass",
    "deliver_alerts": "monitor.jobs:deliver_alerts",
    "build_digest": "monitor.jobs:build_digest",
}


# Building ------------------------------------------------------------------
def pass_interval(settings: Settings) -> int:
    """Seconds between passes: the shortest feed interval, at most 300."""
    return min([f.interval_seconds for f in settings.feeds] + [MAX_PASS_INTERVAL])


def digest_trigger(settings: Settings) -> CronTrigger:
    hour, minute = (int(p) for p in settings.digest_time.split(":"))
    return CronTrigger(day_of_week="mon-fri", hour=hour, minute=minute,
                       timezone=ZoneInfo(settings.digest_timezone))


def _skipped(event: JobSubmissionEvent) -> None:
    log.warning("job %s is still running; this run is skipped", event.job_id)


def build_scheduler(settings: Settings, *, scheduler_cls: type[BaseScheduler] = BackgroundScheduler,
                    clock: Any = None, start_now: bool = True) -> BaseScheduler:
    """A scheduler (not started) holding the three jobs.

    ``start_now``: the first pass runs as soon as the scheduler starts (else
    one interval later). ``clock`` is reserved for an accelerated clock and
    must be ``None`` (APScheduler 3 reads the wall clock itself).
    """
    if clock is not None:
        raise NotImplementedError("an injected clock is not supported yet (APScheduler 3 reads the wall clock)")
    scheduler = scheduler_cls(timezone=UTC)
    common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "replace_existing": True}
    first = {"next_run_time": datetime.now(UTC)} if start_now else {}
    scheduler.add_job(JOB_REFS["run_pass"], IntervalTrigger(seconds=pass_interval(settings), timezone=UTC),
                      id="run_pass", name="pipeline pass", misfire_grace_time=PASS_GRACE, **first, **common)
    scheduler.add_job(JOB_REFS["deliver_alerts"], IntervalTrigger(seconds=ALERT_INTERVAL, timezone=UTC),
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
    """Wait to be the leader, run the jobs until stopped (SIGTERM/SIGINT or ``stop_event``); returns 0.

    On stop the scheduler shuts down waiting for running jobs (a pass in
    progress finishes, or its transaction rolls back if it fails), then the
    leadership is released.
    """
    stop = stop_event or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def _on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %s received; stopping", signal.Signals(signum).name)
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _on_signal)
    leader = Leader(settings)
    try:
        while not stop.is_set():
            if not _wait_for_leadership(leader, stop, poll_leader):
                log.info("stopped before becoming the leader")
                return 0
            log.info("this monitor is the leader (%s)", _me())
            db.open_store(settings.database_url).dispose()  # migrate once, before any job runs
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
                log.info("stopping: waiting for running jobs")
                scheduler.shutdown(wait=True)
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
