"""Stopping `monitor run`: at a safe point within the deadline, and picked up by the next start.

Real `monitor run` processes against a local feed server: one feed answers
slowly (so a pass is surely in progress when SIGTERM arrives), another feed
comes after it. Also two processes on one PostgreSQL database under load:
one leader at a time, every alert raised and delivered once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

import feed_server
from local_services import WebhookServer
from monitor.store import db
from monitor.store.schema import alert_deliveries, alerts, articles, events, job_runs

pytestmark = pytest.mark.timeout_sensitive

NOW = datetime.now(timezone.utc)


def rss(*items: tuple[str, str, str]) -> bytes:
    """An RSS feed of (guid, title, description) items published an hour ago."""
    when = format_datetime(NOW - timedelta(hours=1))
    body = "".join(f"<item><title>{t}</title><guid>{g}</guid><pubDate>{when}</pubDate><description>{d}"
                   f"</description></item>" for g, t, d in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>desk</title>{body}</channel></rss>'.encode()


SLOW = rss(("geo-1", "GEO Group wins a detention contract", "The GEO Group, Inc. GEO said it won a contract."))
FAST = rss(("cxw-1", "CoreCivic raises its outlook", "CoreCivic, Inc. CXW raised its outlook for the year."))


def start(cwd: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    with log.open("a") as err:
        return subprocess.Popen([sys.executable, "-m", "monitor.cli", "run"], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)


def wait_until(check, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def sigterm(proc: subprocess.Popen, log: Path, *, status: int, within: float) -> None:
    """SIGTERM ``proc``; it must exit with ``status`` within ``within`` seconds."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == status, log.read_text()
    assert time.monotonic() - sent < within


def run_until_a_complete_pass(folder: Path, log: Path, url: str) -> None:
    """Start `monitor run`, wait for a pass recorded ``ok``, stop it cleanly."""
    proc = start(folder, log)
    try:
        wait_until(lambda: [r["status"] for r in pass_rows(url)][-1:] == ["ok"], 60, "a complete pass")
        sigterm(proc, log, status=0, within=10)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def config(folder: Path, url: str, seeds: Path, **extra: str) -> None:
    values = {"database_url": f'"{url}"', "seeds_dir": f'"{seeds}"', "allow_private_feeds": "true",
              "pass_interval_seconds": "3600", "digest_dir": f'"{folder / "digests"}"'}
    values.update((k, v) for k, v in extra.items() if not k.startswith("_"))
    lines = [f"{k} = {v}" for k, v in values.items()]
    lines += [extra.get("_tables", "")]
    (folder / "monitor.toml").write_text("\n".join(lines) + "\n")


@pytest.fixture
def feeds() -> Iterator[feed_server.FeedServer]:
    with feed_server.serve() as server:
        yield server


def feed_tables(server: feed_server.FeedServer, *paths: str) -> str:
    return "".join(f'\n[[feeds]]\nname = "{p.strip("/").split(".")[0]}"\nurl = "{server.url(p)}"\n' for p in paths)


def titles(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(select(articles.c.title)).scalars())
    finally:
        engine.dispose()


def pass_rows(url: str) -> list[dict]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                select(job_runs).where(job_runs.c.job == "pass").order_by(job_runs.c.id)).mappings()]
    finally:
        engine.dispose()


def test_sigterm_mid_pass_stops_at_a_safe_point_and_the_next_start_completes_it(
        tmp_path: Path, seeds_copy: Path, feeds: feed_server.FeedServer) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    feeds.drip("/slow.rss", SLOW, interval=0.1, step=len(SLOW) // 25 + 1)  # about 2.5 s
    feeds.add("/fast.rss", FAST)
    config(tmp_path, url, seeds_copy, _tables=feed_tables(feeds, "/slow.rss", "/fast.rss"))
    log = tmp_path / "run.log"
    proc = start(tmp_path, log)
    try:
        wait_until(lambda: feeds.requests_for("/slow.rss"), 60, "the pass to poll the slow feed")
        sigterm(proc, log, status=0, within=10)
    finally:
        stop(proc)
    out = log.read_text()
    assert "pass stopped at a safe point" in out and "scheduler stopped" in out
    # The slow feed's poll was finished and committed; the pass stopped before the fast feed.
    assert "GEO Group wins a detention contract" in titles(url)
    assert "CoreCivic raises its outlook" not in titles(url)
    assert not feeds.requests_for("/fast.rss")
    assert [r["status"] for r in pass_rows(url)] == ["stopped"]

    # The next start runs a whole pass: the fast feed's story arrives, nothing is doubled.
    run_until_a_complete_pass(tmp_path, log, url)
    assert {"GEO Group wins a detention contract", "CoreCivic raises its outlook"} <= titles(url)
    engine = db.make_engine(url)
    with engine.connect() as conn:
        keys = conn.execute(select(events.c.article_key, events.c.symbol)).all()
    engine.dispose()
    assert len(keys) == len(set(keys))


def test_a_job_stuck_past_the_deadline_does_not_hold_the_process(
        tmp_path: Path, seeds_copy: Path, feeds: feed_server.FeedServer) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    feeds.hang("/stuck.rss")
    config(tmp_path, url, seeds_copy, stop_timeout_seconds="2", feed_read_timeout="60",
           _tables=feed_tables(feeds, "/stuck.rss"))
    log = tmp_path / "run.log"
    proc = start(tmp_path, log)
    try:
        wait_until(lambda: feeds.requests_for("/stuck.rss"), 60, "the pass to poll the stuck feed")
        sigterm(proc, log, status=3, within=6)
    finally:
        stop(proc)
    assert "did not reach a safe point within 2 s" in log.read_text()
    assert [r["status"] for r in pass_rows(url)] == ["running"]

    # The next leader marks the orphaned run and does the work again.
    feeds.add("/stuck.rss", FAST)
    run_until_a_complete_pass(tmp_path, log, url)
    rows = pass_rows(url)
    assert rows[0]["status"] == "interrupted" and rows[0]["finished_at"] is not None
    assert "CoreCivic raises its outlook" in titles(url)


@pytest.mark.postgres
def test_two_monitors_on_postgres_one_leader_no_duplicates(
        tmp_path: Path, seeds_copy: Path, feeds: feed_server.FeedServer, pg_own_database: str) -> None:
    hook = WebhookServer()
    # Load: a feed of 300 generated finance stories, re-served with 40 more at every step.
    feeds.add("/wire.rss", feed_server.generated_feed(300, seed=7))
    tables = feed_tables(feeds, "/wire.rss") + f"""
[[alert_rules]]
name = "any-news"
kind = "new_article"
min_relevance = 40
channels = ["hook"]

[[alert_channels]]
name = "hook"
kind = "webhook"
url = "{hook.url}"
"""
    config(tmp_path, pg_own_database, seeds_copy, pass_interval_seconds="2", alert_interval_seconds="2", _tables=tables)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [start(tmp_path, logs[0])]
    try:
        wait_until(lambda: "scheduler started" in logs[0].read_text(), 60, "the first monitor to lead")
        procs.append(start(tmp_path, logs[1]))
        wait_until(lambda: "another monitor is the leader" in logs[1].read_text(), 60, "the second to wait")
        for step in range(1, 4):
            feeds.add("/wire.rss", feed_server.generated_feed(300 + 40 * step, seed=7))
            time.sleep(2.5)
        procs[0].send_signal(signal.SIGTERM)
        assert procs[0].wait(15) == 0, logs[0].read_text()
        wait_until(lambda: "scheduler started" in logs[1].read_text(), 30, "the second monitor to take over")
        feeds.add("/wire.rss", feed_server.generated_feed(460, seed=7))
        engine = db.make_engine(pg_own_database)

        def settled() -> bool:
            with engine.connect() as conn:
                passes_after = conn.execute(select(func.count()).select_from(job_runs).where(
                    job_runs.c.job == "pass", job_runs.c.status.in_(["ok", "partial"]))).scalar_one()
                pending = conn.execute(select(func.count()).select_from(alert_deliveries).where(
                    alert_deliveries.c.status == "pending")).scalar_one()
            return passes_after >= 6 and pending == 0

        wait_until(settled, 60, "the second monitor's passes and deliveries")
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(15) == 0, logs[1].read_text()
    finally:
        for p in procs:
            stop(p)
        hook.close()

    with engine.connect() as conn:
        runs = conn.execute(select(job_runs).order_by(job_runs.c.started_at)).mappings().all()
        raised = conn.execute(select(alerts.c.dedup_key, alerts.c.id)).all()
        n_articles = conn.execute(select(func.count()).select_from(articles)).scalar_one()
        article_ids = conn.execute(select(articles.c.source, articles.c.source_id)).all()
        ev = conn.execute(select(events.c.article_key, events.c.symbol)).all()
        delivered = conn.execute(select(alert_deliveries.c.status)).scalars().all()
    engine.dispose()

    # One leader at a time: no two runs of a job overlap.
    for job in {r["job"] for r in runs}:
        mine = [r for r in runs if r["job"] == job]
        for a, b in zip(mine, mine[1:]):
            assert a["finished_at"] is not None and a["finished_at"] <= b["started_at"], (a, b)
    # ("partial": the generated stories name tickers without bundled prices; "stopped": the SIGTERM.)
    assert {r["status"] for r in runs} <= {"ok", "partial", "stopped"}
    # Both processes led, one after the other.
    assert "another monitor is the leader" in logs[1].read_text()
    assert "scheduler started" in logs[0].read_text() and "scheduler started" in logs[1].read_text()
    # Zero duplicate rows, every alert delivered once.
    assert n_articles > 300 and len(article_ids) == len(set(article_ids))
    assert len(ev) == len(set(ev))
    assert len(raised) > 20 and len({k for k, _ in raised}) == len(raised)
    assert set(delivered) == {"sent"} and len(delivered) == len(raised)
    assert len(hook.bodies) == len(raised), (len(hook.bodies), len(raised))
    assert hook.requests == len(raised)
    assert Counter(hook.keys) == Counter(k for k, _ in raised)  # each alert's key once
