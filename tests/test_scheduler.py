"""The scheduler: jobs and triggers, failures recorded, leader election, graceful stop."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor import jobs
from monitor.config import load_settings
from monitor.scheduler import Leader, build_scheduler, describe_jobs, recent_runs, run_forever
from monitor.store import db

ROOT = Path(__file__).resolve().parent.parent


def _env(monkeypatch: pytest.MonkeyPatch, url: str, seeds: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", url)
    monkeypatch.setenv("MONITOR_SEEDS_DIR", str(seeds))
    monkeypatch.setenv("MONITOR_DIGEST_DIR", str(tmp_path / "digests"))
    monkeypatch.chdir(tmp_path)


# build_scheduler -------------------------------------------------------------
def test_jobs_and_triggers(workdir: Path) -> None:
    settings = load_settings(feeds=[{"name": "a", "url": "https://x.test/a", "interval_seconds": 120},
                                    {"name": "b", "url": "https://x.test/b", "interval_seconds": 900}])
    sched = build_scheduler(settings)
    by_id = {j.id: j for j in sched.get_jobs()}
    assert set(by_id) == {"run_pass", "deliver_alerts", "build_digest"}
    for job_id, job in by_id.items():
        assert job.func_ref == f"monitor.jobs:{job_id}"
        assert job.max_instances == 1
        assert job.coalesce is True
        assert job.misfire_grace_time
    assert isinstance(by_id["run_pass"].trigger, IntervalTrigger)
    assert by_id["run_pass"].trigger.interval == timedelta(seconds=120)
    assert by_id["deliver_alerts"].trigger.interval == timedelta(seconds=60)
    assert by_id["run_pass"].misfire_grace_time == 60
    digest = by_id["build_digest"].trigger
    assert isinstance(digest, CronTrigger)
    assert str(digest.timezone) == "America/New_York"
    fields = {f.name: str(f) for f in digest.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("mon-fri", "16", "30")
    assert by_id["build_digest"].misfire_grace_time == 3600
    # Friday 2026-11-27 after 16:30 New York: next digest is Monday 16:30 EST = 21:30 UTC
    nxt = digest.get_next_fire_time(None, datetime(2026, 11, 27, 22, 0, tzinfo=timezone.utc))
    assert nxt.astimezone(timezone.utc) == datetime(2026, 11, 30, 21, 30, tzinfo=timezone.utc)


def test_pass_interval_capped_at_300(workdir: Path) -> None:
    sched = build_scheduler(load_settings(), start_now=False)
    assert sched.get_job("run_pass").trigger.interval == timedelta(seconds=300)


def test_describe_jobs(workdir: Path) -> None:
    rows = {r["id"]: r for r in describe_jobs(load_settings(), datetime(2026, 11, 27, 22, 0, tzinfo=timezone.utc))}
    assert rows["build_digest"]["next_run"] == "2026-11-30T21:30:00+00:00"
    assert rows["run_pass"]["trigger"].startswith("interval")
    assert rows["deliver_alerts"]["func"] == "monitor.jobs:deliver_alerts"


# jobs ------------------------------------------------------------------------
def test_jobs_record_runs(db_url: str, seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, db_url, seeds_copy, tmp_path)
    monkeypatch.setattr(jobs, "digest_day", lambda settings: date(2025, 2, 4))  # a trading day, whatever today is
    assert jobs.run_pass()["articles_new"] >= 1
    jobs.deliver_alerts()
    jobs.build_digest()
    engine = db.open_store(db_url)
    try:
        runs = recent_runs(engine)
    finally:
        engine.dispose()
    assert [r["job"] for r in runs] == ["digest", "alerts", "pass"]
    assert all(r["status"] == "ok" and r["finished_at"] for r in runs)


def test_failing_job_is_recorded_and_scheduler_goes_on(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _env(monkeypatch, url, seeds_copy, tmp_path)
    calls = []

    def flaky(engine, settings, now, **kw):  # noqa: ANN001, ANN003, ANN202
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("channel exploded")
        from monitor.alerts import DeliveryReport
        return DeliveryReport()

    monkeypatch.setattr("monitor.alerts.deliver", flaky)
    db.open_store(url).dispose()
    sched = build_scheduler(load_settings(), start_now=False)
    sched.remove_job("run_pass")
    sched.remove_job("build_digest")
    sched.start()
    try:
        sched.reschedule_job("deliver_alerts", trigger=IntervalTrigger(seconds=0.2, timezone=timezone.utc))
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sched.shutdown(wait=True)
    engine = db.open_store(url)
    runs = list(reversed(recent_runs(engine)))
    engine.dispose()
    assert len(calls) >= 3
    assert runs[0]["job"] == "alerts" and runs[0]["status"] == "failed"
    assert "RuntimeError: channel exploded" in runs[0]["error"]
    assert runs[0]["finished_at"] is not None
    assert [r["status"] for r in runs[1:]] == ["ok"] * (len(runs) - 1)


def test_pipeline_failure_recorded(seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _env(monkeypatch, url, seeds_copy, tmp_path)

    def boom(self, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise ValueError("cannot build")

    monkeypatch.setattr("monitor.pipeline.Pipeline.__init__", boom)
    with pytest.raises(ValueError):
        jobs.run_pass()
    engine = db.open_store(url)
    (run,) = recent_runs(engine)
    engine.dispose()
    assert (run["job"], run["status"]) == ("pass", "failed")
    assert "cannot build" in run["error"]


def test_overlapping_run_is_skipped_and_logged(workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow() -> None:
        started.set()
        release.wait(5)

    sched = build_scheduler(load_settings(), start_now=False)
    sched.start(paused=True)
    try:
        sched.modify_job("run_pass", func=slow)
        sched.reschedule_job("run_pass", trigger=IntervalTrigger(seconds=0.2, timezone=timezone.utc))
        sched.remove_job("deliver_alerts")
        sched.remove_job("build_digest")
        with caplog.at_level(logging.WARNING, logger="monitor.scheduler"):
            sched.resume()
            assert started.wait(5)
            deadline = time.monotonic() + 5
            while "still running" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        release.set()
        sched.shutdown(wait=True)
    assert "job run_pass is still running; this run is skipped" in caplog.text


# leader ----------------------------------------------------------------------
def test_sqlite_leader_exclusive(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")
    a, b = Leader(settings), Leader(settings)
    try:
        assert b.holder() is None
        assert a.acquire() is True
        assert b.acquire() is False
        assert b.holder() == f"pid {os.getpid()} on {os.uname().nodename}"
        assert (tmp_path / "store.db.leader.lock").exists()
        a.release()
        assert b.holder() is None
        assert b.acquire() is True
        assert a.acquire() is False
    finally:
        a.release()
        b.release()


def test_sqlite_leader_released_when_process_dies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code = (
        "import sys, time; from monitor.config import load_settings; from monitor.scheduler import Leader\n"
        f"l = Leader(load_settings(database_url={url!r})); assert l.acquire(); print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert proc.stdout.readline().strip() == "held"
        mine = Leader(load_settings(database_url=url))
        assert mine.acquire() is False
        assert f"pid {proc.pid}" in (mine.holder() or "")
        proc.kill()
        proc.wait(10)
        assert mine.acquire() is True
        mine.release()
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.postgres
def test_postgres_leader_exclusive(pg_database: str) -> None:
    settings = load_settings(database_url=pg_database)
    a, b = Leader(settings), Leader(settings)
    try:
        assert a.acquire() is True
        assert b.acquire() is False
        assert "monitor leader" in (b.holder() or "")
        a.release()
        assert b.acquire() is True
        assert a.acquire() is False
    finally:
        a.release()
        b.release()


# run_forever -----------------------------------------------------------------
def test_run_forever_stops_on_event(seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, f"sqlite:///{tmp_path / 'store.db'}", seeds_copy, tmp_path)
    settings = load_settings()
    stop = threading.Event()
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(run_forever(settings, stop_event=stop, poll_leader=0.1)))
    t.start()
    time.sleep(1.0)
    stop.set()
    t.join(10)
    assert not t.is_alive() and result == [0]
    assert Leader(settings).acquire()  # released


def _wait_for(path: Path, needle: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.timeout_sensitive
def test_sigterm_stops_leader_and_follower_waits(seeds_copy: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}", MONITOR_SEEDS_DIR=str(seeds_copy),
               MONITOR_DIGEST_DIR=str(tmp_path / "digests"))
    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        "from monitor.config import load_settings; from monitor.scheduler import run_forever\n"
        "sys.exit(run_forever(load_settings(), poll_leader=0.2))\n"
    )
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    procs = []
    try:
        with logs[0].open("w") as err:
            procs.append(subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, stderr=err))
        assert _wait_for(logs[0], "scheduler started", 30), logs[0].read_text()
        with logs[1].open("w") as err:
            procs.append(subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, stderr=err))
        assert _wait_for(logs[1], "another monitor is the leader", 30), logs[1].read_text()
        assert f"pid {procs[0].pid}" in logs[1].read_text()
        assert _wait_for(logs[0], "pass done", 30), logs[0].read_text()

        t0 = time.monotonic()
        procs[0].send_signal(signal.SIGTERM)
        assert procs[0].wait(10) == 0
        assert time.monotonic() - t0 < 10
        assert "scheduler stopped" in logs[0].read_text()
        # the follower takes over
        assert _wait_for(logs[1], "scheduler started", 15), logs[1].read_text()
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(10) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


def test_the_digest_job_skips_a_market_holiday(tmp_path: Path, seeds_copy: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.jobs as jobs_mod
    from monitor.scheduler import recent_runs
    from monitor.store import db as db_mod

    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")
    monkeypatch.setenv("MONITOR_SEEDS_DIR", str(seeds_copy))
    monkeypatch.setenv("MONITOR_DIGEST_DIR", str(tmp_path / "digests"))
    monkeypatch.setattr(jobs_mod, "digest_day", lambda settings: date(2025, 7, 4))  # Independence Day
    result = jobs_mod.build_digest()
    assert result["skipped"] and not (tmp_path / "digests").exists()
    engine = db_mod.open_store(f"sqlite:///{tmp_path / 'h.db'}")
    runs = recent_runs(engine)
    engine.dispose()
    assert runs[0]["job"] == "digest" and runs[0]["status"] == "skipped"
    assert "2025-07-04 is not a XNYS trading day" in runs[0]["error"]


def test_a_lost_database_session_is_lost_leadership(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from monitor.scheduler import Leader

    leader = Leader(load_settings(database_url=f"sqlite:///{tmp_path / 'l.db'}"))
    assert not leader.still_held()
    assert leader.acquire() and leader.still_held()  # a lock file lasts as long as the process

    class DeadSession:
        def execute(self, *args: object, **kwargs: object) -> None:
            raise ConnectionError("server closed the connection unexpectedly")

        def close(self) -> None:
            pass

    leader._conn = DeadSession()  # what a PostgreSQL leader holds, after a network cut
    assert not leader.still_held()
    leader._conn = None
    leader.release()


@pytest.mark.postgres
def test_postgres_leadership_ends_with_its_session(pg_database: str) -> None:
    from sqlalchemy import create_engine, text

    from monitor.scheduler import Leader

    settings = load_settings(database_url=pg_database)
    leader, other = Leader(settings), Leader(settings)
    try:
        assert leader.acquire() and leader.still_held()
        pid = leader._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(pg_database)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            conn.commit()
        admin.dispose()
        assert not leader.still_held()
        assert other.acquire()  # the lock went with the session: another process leads now
    finally:
        leader.release()
        other.release()
