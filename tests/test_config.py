"""Settings: defaults, precedence (code > environment > monitor.toml), clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import Settings, load_settings
from monitor.errors import ConfigError


def test_defaults(workdir: Path) -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///monitor.db"
    assert s.window_list == ((0, 0), (-1, 1), (0, 5))
    assert s.estimation == (-250, -11)
    assert s.min_estimation_obs == 120
    assert s.model == "market"
    assert s.news_folders == [s.seeds_dir / "news"]
    assert s.watchlist_path == s.seeds_dir / "watchlist.toml"
    assert (s.seeds_dir / "watchlist.toml").is_file()  # the bundled seeds are found from anywhere


def test_file_then_environment_then_code(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "monitor.toml").write_text('windows = "0:1"\nmodel = "mean"\nmin_relevance = 50\n')
    assert load_settings().window_list == ((0, 1),)
    monkeypatch.setenv("MONITOR_WINDOWS", "-2:2,0:10")
    s = load_settings()
    assert s.window_list == ((-2, 2), (0, 10)) and s.model == "mean" and s.min_relevance == 50
    assert load_settings(windows="0:0").window_list == ((0, 0),)


def test_config_env_names_the_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = workdir / "desk.toml"
    other.write_text('database_url = "postgresql+psycopg://u@db/monitor"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(other))
    assert load_settings().database_url.startswith("postgresql+psycopg://")
    monkeypatch.setenv("MONITOR_CONFIG", str(workdir / "missing.toml"))
    with pytest.raises(ConfigError, match="settings file not found: .*missing.toml"):
        load_settings()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('windows = "1:0"', "windows: window '1:0' starts after it ends"),
        ('estimation_window = "-10:5"', "must end before the event"),
        ('default_timezone = "Mars/Olympus"', "unknown time zone"),
        ('model = "capm"', "model: Input should be"),
        ('colour = "blue"', "colour: unknown setting"),
        ("windows = ", "not valid TOML"),
    ],
)
def test_bad_settings_are_one_clear_error(workdir: Path, content: str, message: str) -> None:
    (workdir / "monitor.toml").write_text(content + "\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_settings_are_frozen(workdir: Path) -> None:
    s = load_settings()
    with pytest.raises(Exception):
        s.model = "mean"  # type: ignore[misc]
    assert isinstance(s, Settings)
