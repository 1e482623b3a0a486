"""The compose file's sequence, run for real against this machine's PostgreSQL, with the network cut mid-run.

What ``docker compose up`` does (``migrate``, then ``scheduler`` and
``dashboard``, with ``monitor health`` as the scheduler's health check) is run
here as subprocesses of the venv's ``monitor``, talking to PostgreSQL through
a TCP proxy the test controls (``tests/tcp_proxy.py``):

1. ``monitor db upgrade`` (the ``migrate`` service);
2. ``monitor run`` (the ``scheduler``), with a 3-second pass interval, the
   bundled seeds and prices from the bundled snapshot (no network): a
   successful pass is recorded;
3. ``monitor dashboard`` on a free port answers ``/`` and ``/healthz`` with 200;
4. ``monitor health --json`` exits 0 and names the leader (the scheduler);
5. the proxy is cut while a pass runs: ``monitor health`` exits 1 within
   seconds, saying the database (named) refused the connection; the
   dashboard's ``/healthz`` answers 503;
6. the proxy is restored: the same scheduler process records a successful
   pass again by itself, nothing held before is lost, nothing is duplicated,
   ``monitor health`` is green again and ``/healthz`` 200;
7. SIGTERM stops the scheduler (exit 0) and the dashboard.

Its own database (the leader's advisory lock is per database), dropped at the
end. Needs ``MONITOR_TEST_POSTGRES_URL``; depends on ``dashboards.app``
(``GET /`` 200, ``GET /healthz`` 200 ``{"ok": true}``, 503 when the store is
unreachable).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine, make_url
from tcp_proxy import TcpProxy

from monitor.store import db, repo
from monitor.store.schema import alerts, events, job_runs, mentions

ROOT = Path(__file__).resolve().parent.parent
MONITOR = str(Path(sys.executable).with_name("monitor"))
PG_ENV = "MONITOR_TEST_POSTGRES_URL"

pytestmark = [pytest.mark.postgres, pytest.mark.timeout_sensitive]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 3.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - a local test server
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait(what: str, check: Callable[[], Any], timeout: float, procs: Processes, step: float = 0.2) -> Any:
    """Poll ``check`` until it gives something true; fail at once when a started process has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = procs.dead()
        if dead:
            pytest.fail(f"{dead} exited while waiting for {what}\n{procs.logs()}")
        try:
            found = check()
        except (OSError, urllib.error.URLError):
            found = None
        if found:
            return found
        time.sleep(step)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{procs.logs()}")


class Processes:
    """The monitor processes of the test, each in its own process group, always stopped at the end."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MONITOR, *args], cwd=self.folder, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen([MONITOR, *args], cwd=self.folder, env=self.env, stdout=sink,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append((name, proc, log))
        return proc

    def dead(self) -> str | None:
        """The first started process that has exited, if any (none is meant to exit on its own)."""
        return next((f"{name} (exit {proc.returncode})" for name, proc, _ in self.started if proc.poll() is not None),
                    None)

    def logs(self) -> str:
        parts = []
        for name, proc, log in self.started:
            text_ = log.read_text(errors="replace") if log.exists() else ""
            parts.append(f"--- {name} (pid {proc.pid}, exit {proc.poll()}) ---\n{text_[-6000:]}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        for _name, proc, _log in self.started:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


def _passes(engine: Engine, status: str, after: int = 0) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(job_runs.c.id).where(
            job_runs.c.job == "pass", job_runs.c.status == status, job_runs.c.id > after)).scalars())


def _held(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        counts = repo.count_rows(conn)
        counts["alerts"] = conn.execute(select(func.count()).select_from(alerts)).scalar_one()
        counts["ok_passes"] = conn.execute(select(func.count()).select_from(job_runs).where(
            job_runs.c.job == "pass", job_runs.c.status == "ok")).scalar_one()
    return counts


def _duplicates(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        out = {}
        for name, table, cols in (("events", events, (events.c.article_key, events.c.symbol)),
                                  ("mentions", mentions, (mentions.c.article_key, mentions.c.symbol,
                                                          mentions.c.start)),
                                  ("alerts", alerts, (alerts.c.dedup_key,))):
            total = conn.execute(select(func.count()).select_from(table)).scalar_one()
            distinct = conn.execute(select(func.count()).select_from(select(*cols).distinct().subquery())).scalar_one()
            out[name] = total - distinct
    return out


def test_compose_sequence_survives_a_network_cut(pg_own_database: str, seeds_copy: Path, tmp_path: Path) -> None:
    real = make_url(pg_own_database)
    direct = create_engine(real)  # the test's own view of the store, never through the proxy
    work = tmp_path / "team"
    work.mkdir()
    alerts_file = work / "alerts.jsonl"
    (work / "monitor.toml").write_text(
        "pass_interval_seconds = 3\n"
        "alert_interval_seconds = 2\n"
        f'digest_dir = "{work / "digests"}"\n'
        "[themes]\n"
        '"private prisons" = ["CXW", "GEO"]\n'
        "[[alert_rules]]\n"
        'name = "prisons-news"\nkind = "new_article"\ntheme = "private prisons"\nmin_relevance = 50\n'
        'channels = ["desk"]\n'
        "[[alert_channels]]\n"
        f'name = "desk"\nkind = "jsonl"\npath = "{alerts_file}"\n'
    )
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        through = real.set(host="127.0.0.1", port=proxy.port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env.update(
            MONITOR_DATABASE_URL=through.render_as_string(hide_password=False),
            MONITOR_CONFIG=str(work / "monitor.toml"),
            MONITOR_SEEDS_DIR=str(seeds_copy),
            # the checkout's packages (dashboards/ too) whatever the state of the editable install
            PYTHONPATH=os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p),
        )
        procs = Processes(work, env)
        try:
            t_start = time.monotonic()
            # 1. migrate
            up = procs.run("db", "upgrade")
            assert up.returncode == 0, up.stdout + up.stderr
            assert f"at revision {db.head_revision()}" in up.stdout

            # 2. the scheduler: a first successful pass
            scheduler = procs.start("scheduler", "run")
            _wait("a successful pass", lambda: _passes(direct, "ok"), 40, procs)

            # 3. the dashboard answers
            port = _free_port()
            dashboard = procs.start("dashboard", "dashboard", "--host", "127.0.0.1", "--port", str(port))
            base = f"http://127.0.0.1:{port}"
            _wait("the dashboard on its port", lambda: _get(base + "/")[0] == 200, 40, procs)
            status, body = _get(base + "/healthz")
            assert status == 200 and json.loads(body)["ok"] is True, body

            # 4. healthy, and the scheduler leads
            green = procs.run("health", "--json", timeout=30)
            report = json.loads(green.stdout)
            assert green.returncode == 0 and report["ok"] is True, green.stdout + green.stderr
            assert f"pid {scheduler.pid} " in (report["leader"] or ""), report["leader"]
            before = _held(direct)
            assert before["events"] > 0 and before["price_bars"] > 0 and before["alerts"] > 0, before

            # 5. cut the network while a pass runs
            last = max(_passes(direct, "ok"))
            _wait("a pass in progress", lambda: _passes(direct, "running", after=last), 15, procs, step=0.05)
            proxy.cut()
            t_cut = time.monotonic()
            red = procs.run("health", "--json", timeout=30)
            took = time.monotonic() - t_cut
            report = json.loads(red.stdout)
            assert red.returncode == 1 and report["ok"] is False, red.stdout
            assert took < 8, f"monitor health took {took:.1f} s with the network cut"
            (check,) = report["checks"]
            assert check["name"] == "database" and check["ok"] is False
            assert f"127.0.0.1:{proxy.port}/{real.database}" in check["detail"], check["detail"]
            assert "refused" in check["detail"].lower(), check["detail"]
            status, _ = _get(base + "/healthz", timeout=10)
            assert status == 503, "the dashboard's /healthz must say the store is unreachable"
            time.sleep(max(0.0, 6 - (time.monotonic() - t_cut)))  # longer than the leader's 5 s check
            assert scheduler.poll() is None, "the scheduler died while the network was cut\n" + procs.logs()

            # 6. the network returns: the same process recovers by itself
            last = max(_passes(direct, "ok"))
            proxy.restore()
            _wait("a successful pass after the cut", lambda: _passes(direct, "ok", after=last), 40, procs)
            assert scheduler.poll() is None
            after = _held(direct)
            lost = {k: (before[k], after.get(k)) for k in before if after.get(k, 0) < before[k]}
            assert not lost, f"rows lost across the cut: {lost}"
            assert _duplicates(direct) == {"events": 0, "mentions": 0, "alerts": 0}
            delivered = [json.loads(line)["dedup_key"] for line in alerts_file.read_text().splitlines()]
            assert delivered and len(delivered) == len(set(delivered)) == after["alerts"], delivered
            again = procs.run("health", "--json", timeout=30)
            assert again.returncode == 0 and json.loads(again.stdout)["ok"] is True, again.stdout
            assert f"pid {scheduler.pid} " in (json.loads(again.stdout)["leader"] or "")
            _wait("the dashboard's /healthz back to 200", lambda: _get(base + "/healthz")[0] == 200, 15, procs)

            # 7. SIGTERM stops both
            for proc in (scheduler, dashboard):
                proc.send_signal(signal.SIGTERM)
            assert scheduler.wait(20) == 0, procs.logs()
            assert dashboard.wait(20) in (0, -signal.SIGTERM), procs.logs()
            log = (work / "scheduler.log").read_text()
            assert "lost the leadership" in log or "cannot check leadership" in log, log[-4000:]
            assert time.monotonic() - t_start < 60
        finally:
            procs.stop_all()
            direct.dispose()
