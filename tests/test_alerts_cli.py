"""``monitor run --once`` raises the configured alerts; ``monitor alerts`` and ``monitor digest`` show them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor import cli

CONFIG = """
[themes]
"private prisons" = ["CXW", "GEO"]

[[alert_rules]]
name = "prison-movers"
kind = "abnormal_return"
theme = "private prisons"
min_abs_return = 0.03
min_abs_t = 1.9
channels = ["log", "desk-file"]

[[alert_channels]]
name = "desk-file"
kind = "jsonl"
path = "alerts.jsonl"
"""


def test_a_pass_raises_alerts_once_and_the_commands_show_them(
    tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_SEEDS_DIR", str(seeds_copy))
    monkeypatch.setenv("MONITOR_DIGEST_DIR", str(tmp_path / "digests"))
    (tmp_path / "monitor.toml").write_text(CONFIG, encoding="utf-8")
    assert cli.main(["run", "--once", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["pass"]["alerts_new"] == 2
    lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert sorted(line["symbol"] for line in lines) == ["CXW", "GEO"]
    geo = next(line for line in lines if line["symbol"] == "GEO")
    assert geo["text"].startswith("GEO -9.36% abnormal on 2025-02-04 (day 0, market model, t -2.48)")
    assert cli.main(["run", "--once", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pass"]["alerts_new"] == 0  # never twice
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 2

    assert cli.main(["alerts", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {a["symbol"] for a in listed} == {"CXW", "GEO"}
    assert all(d["status"] == "sent" for a in listed for d in a["deliveries"])
    assert cli.main(["alerts", "test", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["channels"]) == {"log", "desk-file"}

    assert cli.main(["digest", "--date", "2025-02-04", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    html = Path(summary["html_path"]).read_text(encoding="utf-8")
    assert "-9.36%" in html and "-6.75%" in html and summary["email_status"] == "none"
    assert "GEO -9.36% abnormal" in Path(summary["text_path"]).read_text(encoding="utf-8")


def test_monitor_run_keeps_running_until_sigterm_and_monitor_jobs_shows_the_runs(
    tmp_path: Path, seeds_copy: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_SEEDS_DIR=str(seeds_copy), MONITOR_DATABASE_URL=f"sqlite:///{tmp_path / 'm.db'}")
    process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            jobs = subprocess.run([sys.executable, "-m", "monitor.cli", "jobs", "--json"], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=60)
            runs = json.loads(jobs.stdout)["runs"] if jobs.returncode == 0 else []
            if any(r["job"] == "pass" and r["status"] == "ok" for r in runs):
                break
            time.sleep(0.5)
        else:
            pytest.fail("no pass recorded within 60 s")
        assert {j["id"] for j in json.loads(jobs.stdout)["jobs"]} == {"run_pass", "deliver_alerts", "build_digest"}
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    err = process.stderr.read()
    assert "scheduler started" in err and "scheduler stopped" in err and "Traceback" not in err


def test_the_alert_latency_benchmark_runs() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_alert_latency.py"), "--repeat", "1"],
                            capture_output=True, text=True, timeout=120, cwd=root)
    assert result.returncode == 0, result.stderr
    assert "latency beyond the polling interval" in result.stdout
