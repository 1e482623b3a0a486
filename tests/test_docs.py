"""The README stays true: settings table, quickstart, CI's test command."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.cli import build_parser
from monitor.config import Settings, settings_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_readme_lists_every_setting_as_defined() -> None:
    assert settings_table() in README, "README settings table is stale: paste monitor.config.settings_table()"
    for name in Settings.model_fields:
        assert f"`MONITOR_{name.upper()}`" in _section("Settings")


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_second() -> None:
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", _section("Quickstart"), re.S)
    commands = [line for b in blocks for line in b.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    demo, tests = commands
    assert "monitor run --once" in demo
    assert "pytest" in tests
    assert tests.strip() in (ROOT / ".ci" / "run").read_text()


def test_every_command_is_documented() -> None:
    usage = _section("Usage")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:
        assert f"monitor {name}" in usage
