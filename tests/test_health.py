"""``monitor health``: database, schema, jobs, sources and leader; red within seconds when the network is cut."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from monitor import cli, health
from monitor.config import load_settings
from monitor.scheduler import Leader, build_scheduler
from monitor.store import db, repo
from monitor.store.schema import job_runs

UTC = timezone.utc
ON_POSTGRES = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York


def _settings(url: str, tmp_path: Path, **kw: object):  # noqa: ANN202
    return load_settings(database_url=url, digest_dir=tmp_path / "digests", **kw)


def _by_name(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def _run(engine, job: str, status: str, started: datetime, seconds: float = 1.0, error: str | None = None) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(job_runs.insert().values(job=job, status=status, started_at=started,
                                              finished_at=started + timedelta(seconds=seconds), error=error))


def _fresh_runs(engine, now: datetime = NOW, digest_at: datetime | None = None) -> None:  # noqa: ANN001
    """Every job completed recently relative to ``now`` (by default the digest at 16:30 New York the day before NOW)."""
    _run(engine, "pass", "ok", now - timedelta(minutes=2))
    _run(engine, "alerts", "ok", now - timedelta(seconds=30))
    _run(engine, "digest", "ok", digest_at or now - timedelta(hours=17, minutes=30))


@pytest.fixture
def leader_held(db_url: str, tmp_path: Path):  # noqa: ANN201
    leader = Leader(_settings(db_url, tmp_path))
    assert leader.acquire()
    yield leader
    leader.release()


# A healthy store -----------------------------------------------------------------
def test_healthy_store_is_green_and_fast(db_url: str, tmp_path: Path, leader_held: Leader) -> None:
    settings = _settings(db_url, tmp_path)
    engine = db.open_store(db_url)
    _fresh_runs(engine)
    with engine.begin() as conn:
        repo.register_sources(conn, [("files", "files", None)])
        repo.record_poll(conn, "files", started_at=NOW - timedelta(minutes=2), duration_ms=3.0, status="ok", seen=1)
    engine.dispose()
    health.check_health(settings, now=NOW)  # imports warmed up
    t0 = time.monotonic()
    report = health.check_health(settings, now=NOW)
    elapsed = time.monotonic() - t0
    checks = _by_name(report)
    assert report["ok"] is True, report
    assert elapsed < 2.0
    assert [c["name"] for c in report["checks"]] == [
        "database", "schema", "job:run_pass", "job:deliver_alerts", "job:build_digest", "source:files", "leader"]
    assert all(c["ok"] for c in report["checks"]), report
    assert all(c["severity"] in ("error", "warning") and c["detail"] for c in report["checks"])
    assert report["revision"] == report["head"] == db.head_revision()
    assert checks["schema"]["detail"] == f"at the newest revision {db.head_revision()}"
    assert report["leader"] == checks["leader"]["holder"] and "pid" in report["leader"]
    assert checks["job:run_pass"]["detail"].startswith("last completed 119 s ago (2026-12-02 14:58:01 UTC, ok)")
    assert checks["source:files"]["severity"] == "warning"
    json.dumps(report)  # plain JSON


def test_leader_missing_is_an_error_unless_not_required(db_url: str, tmp_path: Path) -> None:
    settings = _settings(db_url, tmp_path)
    engine = db.open_store(db_url)
    _fresh_runs(engine)
    engine.dispose()
    report = health.check_health(settings, now=NOW)
    leader = _by_name(report)["leader"]
    assert report["ok"] is False and report["leader"] is None
    assert (leader["ok"], leader["severity"]) == (False, "error")
    assert "no scheduler holds the leadership" in leader["detail"]
    relaxed = health.check_health(settings, now=NOW, require_leader=False)
    assert relaxed["ok"] is True and _by_name(relaxed)["leader"]["severity"] == "warning"


# Schema ------------------------------------------------------------------------
def test_schema_behind_or_empty_is_an_error(db_url: str, tmp_path: Path) -> None:
    settings = _settings(db_url, tmp_path)
    engine = db.make_engine(db_url)
    if db_url.startswith("sqlite"):
        engine.connect().close()  # the file exists, with no tables
    report = health.check_health(settings, now=NOW)
    schema = _by_name(report)["schema"]
    assert report["ok"] is False and schema["detail"].startswith("the database holds no monitor tables")
    assert "job:run_pass" not in _by_name(report)

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    previous = ScriptDirectory.from_config(cfg).get_revision(db.head_revision()).down_revision
    db.upgrade(engine, previous)
    engine.dispose()
    report = health.check_health(settings, now=NOW)
    schema = _by_name(report)["schema"]
    assert report["ok"] is False and report["revision"] == previous
    assert schema["detail"] == f"at revision {previous}, the newest is {db.head_revision()}; run `monitor db upgrade`"
    assert (schema["current"], schema["head"]) == (previous, db.head_revision())


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    store = tmp_path / "nowhere" / "store.db"
    report = health.check_health(_settings(f"sqlite:///{store}", tmp_path))
    assert report["ok"] is False and [c["name"] for c in report["checks"]] == ["database"]
    assert "no such database file" in report["checks"][0]["detail"]
    assert not store.exists() and not store.parent.exists()


# Jobs --------------------------------------------------------------------------
def test_job_deadlines_follow_the_triggers(workdir: Path) -> None:
    jobs = {j.id: j for j in build_scheduler(load_settings(), start_now=False).get_jobs()}
    last = datetime(2026, 11, 27, 21, 30, 5, tzinfo=UTC)  # Friday 16:30 New York
    assert health.job_deadline(jobs["run_pass"].trigger, 60, last) == last + timedelta(seconds=3 * 300 + 60)
    assert health.job_deadline(jobs["deliver_alerts"].trigger, 60, last) == last + timedelta(seconds=3 * 60 + 60)
    # the digest after Friday's is due Monday 16:30 New York (21:30 UTC), plus the grace (1 h) and an hour
    assert health.job_deadline(jobs["build_digest"].trigger, 3600, last) == datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    fast = {j.id: j for j in build_scheduler(load_settings(pass_interval_seconds=5), start_now=False).get_jobs()}
    assert health.job_deadline(fast["run_pass"].trigger, 60, last) == last + timedelta(seconds=75)


def test_a_late_job_is_an_error(db_url: str, tmp_path: Path, leader_held: Leader) -> None:
    settings = _settings(db_url, tmp_path)
    engine = db.open_store(db_url)
    _fresh_runs(engine)
    _run(engine, "pass", "ok", NOW - timedelta(minutes=30))  # an older one changes nothing
    engine.dispose()
    assert health.check_health(settings, now=NOW)["ok"] is True
    later = NOW + timedelta(minutes=20)  # the pass finished 22 min ago: more than 3 x 300 s + 60 s
    report = health.check_health(settings, now=later)
    run_pass = _by_name(report)["job:run_pass"]
    assert report["ok"] is False and run_pass["ok"] is False
    assert run_pass["detail"].startswith("late: last completed 21 min ago") and "due again by" in run_pass["detail"]
    assert run_pass["severity"] == "error" and run_pass["stale_after"]


def test_the_digest_may_wait_over_a_weekend(db_url: str, tmp_path: Path, leader_held: Leader) -> None:
    settings = _settings(db_url, tmp_path)
    engine = db.open_store(db_url)
    friday = datetime(2026, 11, 27, 21, 30, 2, tzinfo=UTC)
    monday_morning = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    _run(engine, "digest", "ok", friday, seconds=4)
    _run(engine, "pass", "ok", monday_morning - timedelta(minutes=1))
    _run(engine, "alerts", "ok", monday_morning - timedelta(minutes=1))
    engine.dispose()
    assert _by_name(health.check_health(settings, now=monday_morning))["job:build_digest"]["ok"] is True
    monday_evening = datetime(2026, 11, 30, 23, 31, tzinfo=UTC)  # Monday's digest is 2 h overdue
    report = health.check_health(settings, now=monday_evening)
    assert _by_name(report)["job:build_digest"]["ok"] is False
    # a holiday's run is recorded as skipped and counts
    engine = db.open_store(db_url)
    _run(engine, "digest", "skipped", datetime(2026, 11, 30, 21, 30, 1, tzinfo=UTC), error="not a trading day")
    engine.dispose()
    assert _by_name(health.check_health(settings, now=monday_evening))["job:build_digest"]["ok"] is True


def test_jobs_never_run_warn_and_jobs_that_only_failed_are_errors(db_url: str, tmp_path: Path,
                                                                  leader_held: Leader) -> None:
    settings = _settings(db_url, tmp_path)
    engine = db.open_store(db_url)
    engine.dispose()
    report = health.check_health(settings, now=NOW)
    for name in ("job:run_pass", "job:deliver_alerts", "job:build_digest"):
        check = _by_name(report)[name]
        assert (check["ok"], check["severity"]) == (False, "warning"), check
        assert check["detail"].startswith("no completed run recorded yet")
    assert report["ok"] is True  # a fresh store is not unhealthy

    engine = db.open_store(db_url)
    _run(engine, "pass", "failed", NOW - timedelta(minutes=1), error="OperationalError: connection refused\nmore")
    engine.dispose()
    report = health.check_health(settings, now=NOW)
    check = _by_name(report)["job:run_pass"]
    assert report["ok"] is False and check["severity"] == "error"
    assert check["detail"].startswith("never completed; last run failed at") and "connection refused" in check["detail"]
    assert "more" not in check["detail"]

    engine = db.open_store(db_url)
    _run(engine, "pass", "ok", NOW - timedelta(minutes=3))
    engine.dispose()
    report = health.check_health(settings, now=NOW)
    check = _by_name(report)["job:run_pass"]
    assert check["ok"] is True and "latest run failed at" in check["detail"]


# Sources -----------------------------------------------------------------------
def test_unhealthy_sources_warn_without_turning_red(db_url: str, tmp_path: Path, leader_held: Leader) -> None:
    settings = _settings(db_url, tmp_path, feeds=[{"name": "wire", "url": "https://wire.test/rss"},
                                                  {"name": "quiet", "url": "https://quiet.test/rss"}])
    engine = db.open_store(db_url)
    _fresh_runs(engine)
    with engine.begin() as conn:
        repo.register_sources(conn, [("files", "files", None), ("feed:wire", "feed", "https://wire.test/rss"),
                                     ("feed:quiet", "feed", "https://quiet.test/rss"), ("feed:gone", "feed", None)])
        for i in range(3):
            repo.record_poll(conn, "feed:wire", started_at=NOW - timedelta(minutes=10 - i), duration_ms=5.0,
                             status="failed", error="HTTP 503 from wire.test\ndetails")
            repo.record_poll(conn, "feed:gone", started_at=NOW - timedelta(minutes=10 - i), duration_ms=5.0,
                             status="failed", error="gone")
        repo.record_poll(conn, "files", started_at=NOW, duration_ms=1.0, status="degraded", seen=3)
    engine.dispose()
    report = health.check_health(settings, now=NOW)
    checks = _by_name(report)
    assert report["ok"] is True
    wire = checks["source:feed:wire"]
    assert (wire["ok"], wire["severity"], wire["status"]) == (False, "warning", "unhealthy")
    assert wire["detail"].startswith("unhealthy, 3 failed poll(s) in a row") and "HTTP 503 from wire.test" in wire["detail"]
    assert (checks["source:files"]["ok"], checks["source:files"]["status"]) == (False, "degraded")
    assert checks["source:feed:quiet"]["ok"] is True  # registered, not polled yet
    assert "source:feed:gone" not in checks  # no longer configured: not this monitor's concern


# Unreachable -------------------------------------------------------------------
def _through(proxy: TcpProxy, url: str, password: str | None = None) -> str:
    parsed = make_url(url).set(host="127.0.0.1", port=proxy.port)
    if password:
        parsed = parsed.set(password=password)
    return parsed.render_as_string(hide_password=False)


@pytest.mark.postgres
@pytest.mark.timeout_sensitive
@ON_POSTGRES
def test_cut_network_turns_red_within_seconds(db_url: str, tmp_path: Path) -> None:
    db.open_store(db_url).dispose()
    real = make_url(db_url)
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        settings = _settings(_through(proxy, db_url, password="hunter2"), tmp_path)
        green = health.check_health(settings, require_leader=False)
        assert _by_name(green)["database"]["ok"] is True

        proxy.cut()  # refused: answers at once
        t0 = time.monotonic()
        report = health.check_health(settings)
        assert time.monotonic() - t0 < 3
        (check,) = report["checks"]
        assert report["ok"] is False and check["name"] == "database" and check["severity"] == "error"
        assert check["detail"].startswith(f"cannot reach postgresql+psycopg://postgres:***@127.0.0.1:{proxy.port}/")
        assert "refused" in check["detail"].lower() and "\n" not in check["detail"]
        assert "hunter2" not in json.dumps(report) and "***" in report["database"]

        proxy.blackhole()  # accepted, never answered: the connect timeout answers
        t0 = time.monotonic()
        report = health.check_health(settings)
        took = time.monotonic() - t0
        assert health.CONNECT_TIMEOUT - 0.5 < took < health.CONNECT_TIMEOUT + 3
        assert report["ok"] is False and "timeout" in report["checks"][0]["detail"].lower()

        proxy.restore()
        assert _by_name(health.check_health(settings, require_leader=False))["database"]["ok"] is True


def test_the_whole_check_has_a_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(*args: object) -> None:
        time.sleep(30)

    monkeypatch.setattr(health, "_collect", hang)
    t0 = time.monotonic()
    report = health.check_health(_settings(f"sqlite:///{tmp_path / 'x.db'}", tmp_path), timeout=0.5)
    assert time.monotonic() - t0 < 2
    assert report["ok"] is False and report["checks"][0]["detail"].endswith(
        "check MONITOR_DATABASE_URL and that the server is running")
    assert "did not answer within 0.5 s" in report["checks"][0]["detail"]


# The command -------------------------------------------------------------------
def test_cli_exit_status_and_json(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    engine = db.open_store(db_url)
    now = datetime.now(UTC)
    _fresh_runs(engine, now, digest_at=now - timedelta(minutes=1))
    engine.dispose()
    assert cli.main(["health", "--json"]) == 1  # nobody leads
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and _by_name(report)["leader"]["ok"] is False

    leader = Leader(load_settings(database_url=db_url))
    assert leader.acquire()
    try:
        assert cli.main(["health", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["ok"] is True
        assert cli.main(["health"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("healthy (") and "  ok   leader: held by" in out
    finally:
        leader.release()
