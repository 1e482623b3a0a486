"""``monitor health``: is the monitor healthy? One answer for people and container health checks.

:func:`check_health` returns::

    {"ok": bool, "database": "postgresql+psycopg://monitor@postgres:5432/monitor" (no password),
     "checked_at": ISO 8601 UTC, "elapsed_ms": float, "revision": str | None, "head": str,
     "leader": str | None,
     "checks": [{"name", "ok", "severity": "error" | "warning", "detail", ...extra}, ...]}

``ok`` is false when a check of severity ``error`` fails; a failing
``warning`` (a degraded news source, a job that has not run yet) is reported
and leaves ``ok`` true. The checks, in order:

``database``
    The store answers ``SELECT 1``. PostgreSQL connections get a 3-second
    connect timeout (unless the URL sets ``connect_timeout``) and the whole
    check has a deadline (``timeout``, 10 s), so a cut network answers red
    within seconds instead of hanging. When the database is unreachable this
    is the only check, and its detail says why (``connection refused``,
    ``timeout expired``, ...) and names the database.
``schema``
    The store's Alembic revision is the newest this version ships (error
    otherwise: run ``monitor db upgrade``).
``job:run_pass``, ``job:deliver_alerts``, ``job:build_digest``
    Each scheduled job's last completed run (``ok``, ``partial`` or
    ``skipped`` in ``job_runs``) is recent enough for its trigger (see
    :func:`job_deadline`): an interval job may miss two runs
    (``STALE_INTERVALS`` intervals plus its misfire grace: with the default
    300 s pass, 16 minutes; alert delivery every 60 s, 4 minutes); the digest
    must have run at its next due time after the last one (Monday to Friday
    at ``digest_time``, so a day, or a weekend, plus the misfire grace and an
    hour to build). Older: error. A job with no run recorded at all is a
    *warning* (a fresh store, or a job not due yet: the alert job first runs
    one interval after the scheduler starts, the digest at the next
    ``digest_time``); a job that has only ever failed is an error. A failing
    latest run is named in the detail while the last success is still
    recent.
``source:NAME``
    Each configured news source's health (``monitor sources``): ``ok`` or
    ``new`` passes; ``degraded``, ``failing`` or ``unhealthy`` is a warning.
``leader``
    Some process holds the scheduler's leadership (the PostgreSQL advisory
    lock or the SQLite lock file) and who: an error when nobody does and
    ``require_leader`` (the default: the scheduler container's health check
    asks it), a warning otherwise. Followers waiting to lead are healthy:
    the check asks whether *a* leader exists, not whether this process is it.

A healthy store on PostgreSQL answers in well under 2 seconds (most of it is
importing the scheduler's modules).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.store import db

log = logging.getLogger(__name__)

UTC = timezone.utc
ERROR, WARNING = "error", "warning"
#: Seconds a PostgreSQL connection attempt may take (libpq ``connect_timeout``).
CONNECT_TIMEOUT = 3
#: Seconds the whole check may take before it answers "no answer" (a hung network).
DEFAULT_TIMEOUT = 10.0
#: Job statuses that count as a completed run.
COMPLETED = ("ok", "partial", "skipped")
#: An interval job is stale after this many intervals (plus its misfire grace) without a completed run.
STALE_INTERVALS = 3
#: A cron job (the digest) has this long after its misfire grace to finish.
CRON_ALLOWANCE = timedelta(hours=1)
#: Source statuses that pass (``new``: registered, not polled yet).
HEALTHY_SOURCES = ("ok", "new")


def check_health(settings: Settings, *, require_leader: bool = True, now: datetime | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Check the store, the schema, the jobs, the sources and the leader; see the module docstring.

    Never raises for an unhealthy store: every problem is a failed check.
    ``now`` (aware) is the time job ages are measured at (default: the wall clock).
    """
    started = time.monotonic()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    database = _describe(settings.database_url)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["checks"], box["extra"] = _collect(settings, require_leader, now)
        except BaseException as exc:  # noqa: BLE001 - reported as a failed check, never raised
            box["error"] = exc

    worker = threading.Thread(target=work, name="monitor-health", daemon=True)
    worker.start()
    worker.join(timeout)
    extra: dict[str, Any] = {"revision": None, "head": db.head_revision(), "leader": None}
    if worker.is_alive():
        checks = [_check("database", False, f"{database} did not answer within {timeout:g} s (network cut, "
                         "or the server hung); check MONITOR_DATABASE_URL and that the server is running")]
    elif "error" in box:
        exc = box["error"]
        if isinstance(exc, MonitorError):
            checks = [_check("database", False, str(exc))]
        else:
            log.debug("health check failed", exc_info=exc)
            checks = [_check("database", False, f"{database}: {_reason(exc)}")]
    else:
        checks, found = box["checks"], box["extra"]
        extra.update(found)
    ok = all(c["ok"] or c["severity"] != ERROR for c in checks)
    return {
        "ok": ok, "database": database, "checked_at": now.isoformat(),
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1), **extra, "checks": checks,
    }


# The checks -----------------------------------------------------------------
def _collect(settings: Settings, require_leader: bool, now: datetime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    url = _bounded_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        path = url.database
        if not path or path == ":memory:":
            return [_check("database", False, "an in-memory SQLite store cannot be checked from outside; "
                           "use a database file or PostgreSQL")], extra
        if not Path(path).expanduser().is_file():
            return [_check("database", False, f"{_describe(settings.database_url)}: no such database file; "
                           "run `monitor db upgrade` to create it")], extra
    engine = _engine(url)
    try:
        t0 = time.monotonic()
        try:
            conn = engine.connect()
            conn.execute(text("SELECT 1")).scalar_one()
        except Exception as exc:  # noqa: BLE001 - unreachable: the one check that matters
            return [_check("database", False, f"cannot reach {_describe(settings.database_url)}: {_reason(exc)}; "
                           "check MONITOR_DATABASE_URL and that the server is running")], extra
        latency = round((time.monotonic() - t0) * 1000, 1)
        with conn:
            checks.append(_check("database", True, f"reachable ({latency:g} ms)", latency_ms=latency))
            current = _guard(checks, "schema", lambda: _schema(conn, checks, extra))
            if current:
                _guard(checks, "jobs", lambda: _jobs(conn, settings, now, checks))
                _guard(checks, "sources", lambda: _sources(conn, settings, checks))
    finally:
        engine.dispose()
    bounded = settings.model_copy(update={"database_url": url.render_as_string(hide_password=False)})
    _guard(checks, "leader", lambda: _leader(bounded, require_leader, checks, extra))
    return checks, extra


def _schema(conn: Connection, checks: list[dict[str, Any]], extra: dict[str, Any]) -> str | None:
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(conn).get_current_revision()
    head = db.head_revision()
    extra["revision"] = current
    if current is None:
        checks.append(_check("schema", False, "the database holds no monitor tables; run `monitor db upgrade`",
                             current=None, head=head))
        return None
    if current == head:
        checks.append(_check("schema", True, f"at the newest revision {head}", current=current, head=head))
        return current
    if current in db.revisions():
        detail = f"at revision {current}, the newest is {head}; run `monitor db upgrade`"
    else:
        detail = (f"at revision {current}, which this monitor does not know (newest {head}): the store was "
                  "migrated by a newer version; upgrade the monitor")
    checks.append(_check("schema", False, detail, current=current, head=head))
    return current


def job_deadline(trigger: Any, grace: float, last_success: datetime) -> datetime:
    """When a job whose last completed run was at ``last_success`` becomes stale.

    Interval triggers: ``STALE_INTERVALS`` intervals plus the misfire grace
    after it. Other triggers (the digest's cron): the next time the trigger
    fires after it, plus the grace and :data:`CRON_ALLOWANCE`; a weekend or
    a holiday on which the job does not fire is thus allowed for.
    """
    from apscheduler.triggers.interval import IntervalTrigger

    if isinstance(trigger, IntervalTrigger):
        return last_success + STALE_INTERVALS * trigger.interval + timedelta(seconds=grace)
    following = trigger.get_next_fire_time(None, last_success + timedelta(seconds=1))
    if following is None:  # a trigger that never fires again cannot be late
        return datetime.max.replace(tzinfo=UTC)
    return following.astimezone(UTC) + timedelta(seconds=grace) + CRON_ALLOWANCE


def _jobs(conn: Connection, settings: Settings, now: datetime, checks: list[dict[str, Any]]) -> None:
    from monitor import jobs as jobs_mod
    from monitor.scheduler import build_scheduler
    from monitor.store.schema import job_runs

    recorded_as = {"run_pass": jobs_mod.PASS_JOB, "deliver_alerts": jobs_mod.ALERTS_JOB,
                   "build_digest": jobs_mod.DIGEST_JOB}
    scheduler = build_scheduler(settings, start_now=False)
    for job in scheduler.get_jobs():
        name = recorded_as.get(job.id, job.id)
        cols = (job_runs.c.started_at, job_runs.c.finished_at, job_runs.c.status, job_runs.c.error)
        latest = conn.execute(
            select(*cols).where(job_runs.c.job == name)
            .order_by(job_runs.c.started_at.desc(), job_runs.c.id.desc()).limit(1)
        ).first()
        success = conn.execute(
            select(*cols).where(job_runs.c.job == name, job_runs.c.status.in_(COMPLETED))
            .order_by(job_runs.c.started_at.desc(), job_runs.c.id.desc()).limit(1)
        ).first()
        info: dict[str, Any] = {"job": job.id, "recorded_as": name, "trigger": str(job.trigger),
                                "last_success": _iso(success.finished_at or success.started_at) if success else None,
                                "last_run": None if latest is None else {
                                    "started_at": _iso(latest.started_at), "finished_at": _iso(latest.finished_at),
                                    "status": latest.status, "error": latest.error}}
        check_name = f"job:{job.id}"
        if success is None:
            if latest is None or latest.status in ("running", "stopped"):
                checks.append(_check(check_name, False, "no completed run recorded yet (a fresh store, or the "
                                     "job is not due yet)", severity=WARNING, **info))
            else:
                checks.append(_check(check_name, False, f"never completed; last run {latest.status} at "
                                     f"{_stamp(latest.started_at)}: {_first_line(latest.error)}", **info))
            continue
        from apscheduler.triggers.interval import IntervalTrigger

        since = success.finished_at or success.started_at
        if not isinstance(job.trigger, IntervalTrigger):
            since = success.started_at  # a cron job is late relative to its due time
        deadline = job_deadline(job.trigger, job.misfire_grace_time or 0, since)
        info["stale_after"] = _iso(deadline)
        age = now - since
        detail = f"last completed {_ago(age)} ago ({_stamp(since)}, {success.status})"
        if latest is not None and latest.status == "failed":
            detail += f"; latest run failed at {_stamp(latest.started_at)}: {_first_line(latest.error)}"
        if now > deadline:
            checks.append(_check(check_name, False, f"late: {detail}; it was due again by {_stamp(deadline)}",
                                 **info))
        else:
            checks.append(_check(check_name, True, detail, **info))


def _sources(conn: Connection, settings: Settings, checks: list[dict[str, Any]]) -> None:
    from monitor.pipeline import make_sources, source_rows
    from monitor.store import repo

    configured = [name for name, _kind, _url in source_rows(make_sources(settings, []))]
    if "sources" not in inspect(conn).get_table_names():
        return
    rows = {row["name"]: row for row in repo.sources_health(conn)}
    for name in configured:
        row = rows.get(name)
        if row is None:
            checks.append(_check(f"source:{name}", True, "configured, not polled yet", severity=WARNING,
                                 status="new"))
            continue
        status = row["status"]
        info = {"status": status, "last_poll_at": _iso(row["last_poll_at"]),
                "last_success_at": _iso(row["last_success_at"]),
                "consecutive_failures": row["consecutive_failures"], "consecutive_empty": row["consecutive_empty"]}
        if status in HEALTHY_SOURCES:
            detail = "not polled yet" if status == "new" else f"ok, last success {_stamp(row['last_success_at'])}"
            checks.append(_check(f"source:{name}", True, detail, severity=WARNING, **info))
            continue
        detail = f"{status}"
        if row["consecutive_failures"]:
            detail += f", {row['consecutive_failures']} failed poll(s) in a row"
        if row["consecutive_empty"]:
            detail += f", {row['consecutive_empty']} empty poll(s) in a row"
        detail += f"; last success {_stamp(row['last_success_at'])}"
        if row["last_error"]:
            detail += f"; last error: {_first_line(row['last_error'])}"
        checks.append(_check(f"source:{name}", False, detail, severity=WARNING, **info))


def _leader(settings: Settings, require_leader: bool, checks: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    from monitor.scheduler import Leader

    holder = Leader(settings).holder()
    extra["leader"] = holder
    if holder:
        checks.append(_check("leader", True, f"held by {holder}", holder=holder))
        return
    checks.append(_check("leader", False, "no scheduler holds the leadership: is `monitor run` running "
                         "(docker compose: the scheduler service)?", severity=ERROR if require_leader else WARNING,
                         holder=None))


# Helpers --------------------------------------------------------------------
def _check(name: str, ok: bool, detail: str, *, severity: str = ERROR, **extra: Any) -> dict[str, Any]:
    return {"name": name, "ok": bool(ok), "severity": severity, "detail": detail, **extra}


def _guard(checks: list[dict[str, Any]], name: str, step: Callable[[], Any]) -> Any:
    """Run one check; an unexpected failure becomes a failed check of that name instead of an exception."""
    try:
        return step()
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
        log.debug("health check %s failed", name, exc_info=True)
        checks.append(_check(name, False, f"could not be checked: {_reason(exc)}"))
        return None


def _bounded_url(url: str) -> URL:
    """The store's URL with a connect timeout on PostgreSQL (unless the URL sets one)."""
    parsed = db.parse_url(url)
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT)})
    return parsed


def _engine(url: URL) -> Engine:
    """An engine that opens one connection per use (nothing pooled, nothing left behind)."""
    if url.get_backend_name() == "sqlite":
        return create_engine(url, poolclass=NullPool, connect_args={"timeout": 5})
    return create_engine(url, poolclass=NullPool)


def _describe(url: str) -> str:
    try:
        return db.parse_url(url).render_as_string(hide_password=True)
    except MonitorError:
        return "(invalid database URL)"


def _reason(exc: BaseException) -> str:
    """One line saying why: the driver's message without SQLAlchemy's decoration."""
    inner = getattr(exc, "orig", None) or exc
    text_ = str(inner).strip()
    line = next((part.strip() for part in text_.splitlines() if part.strip()), "")
    return line or exc.__class__.__name__


def _first_line(value: str | None) -> str:
    if not value:
        return "(no error text)"
    return value.strip().splitlines()[0][:300]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _stamp(value: datetime | None) -> str:
    return "never" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
