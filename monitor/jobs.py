"""The scheduled jobs: plain module-level functions the scheduler names by import path.

Each job takes no arguments (the scheduler refers to it as
``"monitor.jobs:run_pass"``, never a pickled closure), loads the settings
(:func:`monitor.config.load_settings`, so ``MONITOR_*`` variables and
``monitor.toml`` apply), opens the store, does its work and records one
``job_runs`` row (started_at, finished_at, status ``ok`` | ``partial`` |
``failed``, counts, error).

Errors: a job that fails is recorded as ``failed`` with the error and the
exception is then **re-raised**, so APScheduler logs it (``EVENT_JOB_ERROR``)
and carries on with the next run. Only when the settings cannot be loaded or
the store cannot be opened is there no row to record into; that is logged
and re-raised too.

``job_runs.job`` names: ``pass`` (written by :meth:`Pipeline.run_pass`
itself), ``alerts`` and ``digest``.

Stopping: :data:`STOP` is set by :func:`monitor.scheduler.run_forever` on
SIGTERM or Ctrl-C. A pass in progress then ends at its next safe point (after
the source, symbol or reaction it is on is committed), is recorded as
``stopped``, and the next start continues from there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from monitor import clock as _clock
from monitor import alerts as alerts_mod
from monitor import calendars
from monitor import config as config_mod
from monitor import digest as digest_mod
from monitor import pipeline as pipeline_mod
from monitor.store import db, repo

log = logging.getLogger(__name__)

#: Set when the process is stopping: running jobs end at their next safe point.
STOP = threading.Event()

_active = 0
_idle = threading.Condition()


@contextmanager
def _running() -> Iterator[None]:
    """Count the job as running while the block runs (see :func:`wait_idle`)."""
    global _active
    with _idle:
        _active += 1
    try:
        yield
    finally:
        with _idle:
            _active -= 1
            _idle.notify_all()


def running_jobs() -> int:
    """How many jobs of this process are running now."""
    with _idle:
        return _active


def wait_idle(timeout: float) -> bool:
    """Wait until no job of this process runs; ``False`` when ``timeout`` seconds passed first."""
    with _idle:
        return _idle.wait_for(lambda: _active == 0, timeout=timeout)


PASS_JOB = "pass"
ALERTS_JOB = "alerts"
DIGEST_JOB = "digest"


def _error_text(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}".strip()[:2000]


class _Run:
    """What a job reports back to :func:`recorded`: its counts, status and error."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.status = "ok"
        self.error: str | None = None


@contextmanager
def recorded(engine: Engine, job: str) -> Iterator[_Run]:
    """Record the body as one ``job_runs`` row; an exception is recorded as failed and re-raised."""
    with engine.begin() as conn:
        run_id = repo.start_job(conn, job)
    run = _Run()
    try:
        yield run
    except BaseException as exc:
        try:
            with engine.begin() as conn:
                repo.finish_job(conn, run_id, "failed", run.counts, _error_text(exc))
        except Exception:  # noqa: BLE001 - keep the job's own error, log the recording's
            log.exception("job %s failed and its failure could not be recorded", job)
        raise
    with engine.begin() as conn:
        repo.finish_job(conn, run_id, run.status, run.counts, run.error)


def _with_store(job: str, work: Callable[[config_mod.Settings, Engine], Any]) -> Any:
    """Load settings, open the store, run ``work`` and dispose of the engine (counted as running)."""
    with _running():
        try:
            settings = config_mod.load_settings()
            engine = db.open_store(settings.database_url)
        except Exception:
            log.exception("job %s could not start (settings or store); nothing recorded", job)
            raise
        try:
            return work(settings, engine)
        finally:
            engine.dispose()


# The jobs ------------------------------------------------------------------
def run_pass() -> dict[str, int]:
    """One pipeline pass (ingest, measure, reactions, alerts raised); returns its counts.

    :meth:`Pipeline.run_pass` records its own ``pass`` row (ok, partial with
    the problems, or failed); a failure before it starts (building the
    pipeline) is recorded here as a failed ``pass`` row.
    """

    def work(settings: config_mod.Settings, engine: Engine) -> dict[str, int]:
        try:
            pipeline = pipeline_mod.Pipeline(settings, engine, should_stop=STOP.is_set)
        except BaseException:
            with recorded(engine, PASS_JOB):
                raise
        report = pipeline.run_pass(_clock.now())
        log.info("pass done: %s", report.counts())
        return report.counts()

    return _with_store(PASS_JOB, work)


def deliver_alerts() -> dict[str, int]:
    """Send every due alert delivery; ``partial`` when some failed (they are retried later)."""

    def work(settings: config_mod.Settings, engine: Engine) -> dict[str, int]:
        with recorded(engine, ALERTS_JOB) as run:
            report = alerts_mod.deliver(engine, settings, _clock.now())
            run.counts = {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}
            if report.errors:
                run.status = "partial"
                run.error = "; ".join(report.errors)[:2000]
        return run.counts

    return _with_store(ALERTS_JOB, work)


def digest_day(settings: config_mod.Settings, now: datetime | None = None) -> date:
    """The digest's day: today in ``digest_timezone``."""
    now = now or _clock.now()
    return now.astimezone(ZoneInfo(settings.digest_timezone)).date()


#: The digest follows the NYSE's trading days: none on a market holiday.
DIGEST_CALENDAR = "XNYS"


def build_digest() -> dict[str, Any]:
    """Build, write and (when configured) e-mail today's digest; ``partial`` when the e-mail failed.

    On a market holiday (not an XNYS session) the run is recorded as ``skipped`` and nothing is built.
    """

    def work(settings: config_mod.Settings, engine: Engine) -> dict[str, Any]:
        day = digest_day(settings)
        with recorded(engine, DIGEST_JOB) as run:
            if not calendars.is_session(DIGEST_CALENDAR, day):
                run.status = "skipped"
                run.error = f"{day} is not a {DIGEST_CALENDAR} trading day: no digest"
                return {"day": day.isoformat(), "email_status": "none", "skipped": True}
            result = digest_mod.run_digest(engine, settings, day, send=True)
            run.counts = {k: int(v) for k, v in result.get("counts", {}).items() if isinstance(v, (int, float))}
            run.counts["emailed"] = int(bool(result.get("emailed")))
            if result.get("email_status") == "failed":
                run.status = "partial"
                run.error = result.get("email_error")
        return result

    return _with_store(DIGEST_JOB, work)
