"""A pass killed in the middle loses nothing and duplicates nothing (real subprocesses)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import feed_server
import pytest
from sqlalchemy import create_engine, select

from monitor.store import repo
from monitor.store.schema import articles, events, mentions

ROOT = Path(__file__).resolve().parent.parent


def write_config(folder: Path, server: feed_server.FeedServer, db: Path) -> dict[str, str]:
    shutil.copytree(ROOT / "seeds", folder / "seeds", dirs_exist_ok=True)
    (folder / "monitor.toml").write_text(
        f'database_url = "sqlite:///{db}"\n'
        "allow_private_feeds = true\n"
        "[[feeds]]\n"
        f'name = "wire-a"\nurl = "{server.url("/a.rss")}"\n'
        "[[feeds]]\n"
        f'name = "wire-b"\nurl = "{server.url("/b.rss")}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_CONFIG"] = str(folder / "monitor.toml")
    return env


def run_monitor(folder: Path, env: dict[str, str], kill_after: float | None = None) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run", "--once", "--json"], cwd=folder, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    if kill_after is None:
        return proc.wait(timeout=300)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=30)


def snapshot(db: Path) -> dict[str, object]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        state = {
            "counts": repo.count_rows(conn),
            "articles": sorted(conn.execute(select(articles.c.source, articles.c.source_id, articles.c.story_key)).all()),
            "mentions": sorted(conn.execute(select(mentions.c.article_key, mentions.c.symbol, mentions.c.start)).all()),
            "events": sorted(conn.execute(select(events.c.article_key, events.c.symbol, events.c.session)).all()),
        }
    engine.dispose()
    return state


@pytest.mark.timeout_sensitive
def test_killed_runs_resume_without_loss_or_duplicates(tmp_path: Path) -> None:
    with feed_server.serve() as server:
        server.add("/a.rss", feed_server.generated_feed(1500, seed=11), etag='"a1"')
        # the second feed drips slowly, so kills land in the middle of its poll too
        server.drip("/b.rss", feed_server.generated_feed(300, seed=12), interval=0.04, step=4096)

        reference = tmp_path / "reference"
        reference.mkdir()
        env = write_config(reference, server, reference / "ref.db")
        assert run_monitor(reference, env) == 0
        expected = snapshot(reference / "ref.db")
        assert expected["counts"]["articles"] > 1000 and expected["counts"]["events"] > 0

        target = tmp_path / "target"
        target.mkdir()
        env = write_config(target, server, target / "store.db")
        killed, seen = 0, []
        for delay in (1.5, 2.5, 3.5, 4.5):
            if run_monitor(target, env, kill_after=delay) == -signal.SIGKILL:
                killed += 1
            if (target / "store.db").exists():
                seen.append(snapshot(target / "store.db")["counts"]["articles"])
        assert killed >= 2, "the runs ended before they could be killed; make the feeds larger"
        print("articles held after each killed run:", seen)
        assert run_monitor(target, env) == 0
        assert snapshot(target / "store.db") == expected
        # and one more pass adds nothing
        assert run_monitor(target, env) == 0
        assert snapshot(target / "store.db") == expected
