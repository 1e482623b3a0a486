"""The command line: the demo, JSON output, and one clear line for every user mistake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def monitor(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    full_env.update(env or {})
    full_env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """A working directory holding a copy of the seeds, as in a fresh checkout."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    return tmp_path


def test_run_once_prints_the_demo_table(demo_dir: Path) -> None:
    first = monitor("run", "--once", cwd=demo_dir)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "El Salvador's President Nayib Bukele" in out
    for symbol, raw, ar in (("CXW", "-5.65%", "-6.7"), ("GEO", "-7.78%", "-9.3")):
        line = next(l for l in out.splitlines() if l.startswith(symbol + " "))
        assert "2025-02-04" in line and raw in line and ar in line
    assert any(l.startswith("BTC-USD ") for l in out.splitlines())
    assert "1 new article(s)" in out and "3 new event(s)" in out
    assert (demo_dir / "monitor.db").exists()
    second = monitor("run", "--once", cwd=demo_dir)
    assert second.returncode == 0
    assert "0 new article(s)" in second.stdout and "0 new event(s)" in second.stdout
    assert "0 new result row(s)" in second.stdout


def test_run_once_json(demo_dir: Path) -> None:
    result = monitor("run", "--once", "--json", cwd=demo_dir)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    events = {e["symbol"]: e for e in payload["events"]}
    assert set(events) == {"CXW", "GEO", "BTC-USD"}
    geo = events["GEO"]
    assert geo["session"] == "2025-02-04"
    assert geo["published_at"] == "2025-02-04T00:00:00+00:00"
    assert geo["windows"]["0:0"]["car"] == pytest.approx(-0.0936, abs=5e-4)
    assert payload["pass"]["events_new"] == 3


@pytest.mark.parametrize(
    ("env", "message", "code"),
    [
        ({"MONITOR_DATABASE_URL": "oracle://scott@db/orcl"}, "unsupported database 'oracle'", 2),
        ({"MONITOR_WATCHLIST": "nowhere.toml"}, "watchlist not found: nowhere.toml", 2),
        ({"MONITOR_WINDOWS": "5:1"}, "starts after it ends", 2),
        ({"MONITOR_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x?connect_timeout=2"},
         "cannot open the database", 3),
    ],
)
def test_user_mistakes_are_one_line_without_traceback(demo_dir: Path, env, message: str, code: int) -> None:
    result = monitor("run", "--once", cwd=demo_dir, env=env)
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_help_explains_each_command(demo_dir: Path) -> None:
    result = monitor("--help", cwd=demo_dir)
    assert result.returncode == 0
    for word in ("run", "db", "MONITOR_CONFIG", "monitor run --once --json"):
        assert word in result.stdout
    run_help = monitor("run", "--help", cwd=demo_dir).stdout
    assert "--once" in run_help and "--json" in run_help


def test_db_upgrade_and_current(demo_dir: Path) -> None:
    assert monitor("db", "current", "--json", cwd=demo_dir).returncode == 1  # empty database
    up = monitor("db", "upgrade", cwd=demo_dir)
    assert up.returncode == 0 and "at revision" in up.stdout
    current = json.loads(monitor("db", "current", "--json", cwd=demo_dir).stdout)
    assert current["up_to_date"] is True and current["current"] == current["head"]


def test_import_news_then_sources(demo_dir: Path) -> None:
    data = ROOT / "tests" / "data" / "jsonl" / "news.jsonl"
    result = monitor("import", "news", str(data), "--json", cwd=demo_dir)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)["pass"]
    assert counts["articles_new"] >= 2 and counts["events_new"] >= 1
    again = json.loads(monitor("import", "news", str(data), "--json", cwd=demo_dir).stdout)["pass"]
    assert again["articles_new"] == 0 and again["events_new"] == 0
    missing = monitor("import", "news", "nowhere.jsonl", cwd=demo_dir)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no such file: nowhere.jsonl"

    (demo_dir / "monitor.toml").write_text(
        '[[feeds]]\nname = "local"\nurl = "file:///etc/passwd"\n'
    )
    run = monitor("run", "--once", cwd=demo_dir)
    assert run.returncode == 0, run.stderr  # a refused feed fails alone
    assert "feed:local" in run.stdout and "only http and https" in run.stdout
    health = {s["name"]: s for s in json.loads(monitor("sources", "--json", cwd=demo_dir).stdout)}
    assert health["files"]["status"] == "ok" and health["files"]["configured"]
    assert health["feed:local"]["status"] == "failing"
    assert "only http and https" in health["feed:local"]["last_error"]
    assert health[f"jsonl:{data.name}"]["configured"] is False
    table = monitor("sources", cwd=demo_dir).stdout
    assert "feed:local" in table and "failing" in table and "no longer configured" in table
