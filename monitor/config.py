"""Settings: one typed object, read from ``monitor.toml`` and ``MONITOR_*`` variables.

Precedence, highest first: values passed in code, environment variables
(``MONITOR_DATABASE_URL`` ...), the settings file (``monitor.toml`` in the
working directory, or the file named by ``MONITOR_CONFIG``), the defaults.
Every setting has one definition here (name, default, help); the README's
settings table lists them all and a test keeps the two in step.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from monitor.errors import ConfigError

#: Environment variable naming the settings file.
CONFIG_ENV = "MONITOR_CONFIG"
DEFAULT_CONFIG_FILE = "monitor.toml"

_WINDOW = re.compile(r"^\s*([+-]?\d+)\s*:\s*([+-]?\d+)\s*$")


def config_file_path() -> Path:
    """The settings file in force: ``$MONITOR_CONFIG`` or ``./monitor.toml``."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def parse_window(text: str) -> tuple[int, int]:
    """Parse ``"-1:1"`` into ``(-1, 1)``; the start must not be after the end."""
    match = _WINDOW.match(text)
    if not match:
        raise ValueError(f"window {text!r} is not START:END in sessions, e.g. -1:1")
    start, end = int(match.group(1)), int(match.group(2))
    if start > end:
        raise ValueError(f"window {text!r} starts after it ends")
    return start, end


def _bundled_seeds() -> Path:
    """``./seeds`` when it exists, else the seeds folder beside the package."""
    here = Path("seeds")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "seeds"


class FeedConfig(BaseModel):
    """One RSS or Atom feed: ``[[feeds]]`` in monitor.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Short unique name.")
    #: Checked when polled (scheme, address): a refused URL fails its own
    #: source and never the others.
    url: str = Field(min_length=1, description="The feed's http(s) URL.")
    interval_seconds: int = Field(300, ge=30, description="How often the scheduler polls it.")


class AlertRule(BaseModel):
    """One alert rule: ``[[alert_rules]]`` in monitor.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Short unique name.")
    kind: Literal["new_article", "abnormal_return", "intraday_move", "abnormal_volume"] = Field(
        description="What the rule watches."
    )
    tickers: list[str] = Field(default_factory=list, description="Tickers it applies to; empty: every ticker.")
    theme: str | None = Field(None, description="A theme of [themes] whose tickers it applies to.")
    min_relevance: float = Field(70.0, ge=0, le=100, description="new_article: lowest relevance.")
    min_abs_return: float = Field(0.03, ge=0, description="abnormal_return / intraday_move: smallest |move| (0.03 = 3 %).")
    min_abs_t: float = Field(2.0, ge=0, description="abnormal_return: smallest |t|.")
    window: str = Field("0:0", description="abnormal_return: the event window, START:END.")
    within_minutes: int = Field(15, ge=1, description="intraday_move: the horizon, in minutes after the story.")
    min_volume_ratio: float = Field(3.0, gt=0, description="abnormal_volume: day-0 volume over the estimation mean.")
    channels: list[str] = Field(default_factory=lambda: ["log"], description="Channels (by name) it sends to.")


class AlertChannel(BaseModel):
    """One delivery channel: ``[[alert_channels]]`` in monitor.toml (``log`` always exists)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    kind: Literal["log", "jsonl", "webhook", "email"]
    path: Path | None = Field(None, description="jsonl: the file alerts are appended to.")
    url: str | None = Field(None, description="webhook: where the Slack-compatible JSON is posted.")
    to: list[str] = Field(default_factory=list, description="email: recipients.")


class Settings(BaseSettings):
    """Every setting of the monitor (see the README's settings table)."""

    model_config = SettingsConfigDict(
        env_prefix="MONITOR_", extra="forbid", validate_default=True, frozen=True
    )

    database_url: str = Field(
        "sqlite:///monitor.db",
        description="SQLAlchemy URL of the store: a SQLite file (default, in the working "
        "directory) or postgresql+psycopg://user@host/db.",
    )
    seeds_dir: Path = Field(
        default_factory=_bundled_seeds,
        json_schema_extra={"default_text": "`./seeds`"},
        description="Folder of the bundled data: news/, prices/, watchlist.toml. "
        "Default: ./seeds, else the seeds folder beside the package.",
    )
    news_dirs: list[Path] = Field(
        default_factory=list,
        json_schema_extra={"default_text": "`[SEEDS_DIR/news]`"},
        description="Folders the files news source reads (*.txt, *.md); in the environment a "
        'JSON list, e.g. ["news", "/data/news"].',
    )
    watchlist: Path | None = Field(
        None,
        json_schema_extra={"default_text": "`SEEDS_DIR/watchlist.toml`"},
        description="Watchlist TOML: instruments to add to the universe or override in it, "
        "benchmarks, and the tickers Yahoo news is polled for (format at the top of seeds/watchlist.toml).",
    )
    universe_dir: Path | None = Field(
        None,
        json_schema_extra={"default_text": "`SEEDS_DIR/universe`"},
        description="Folder of the tagger's universe: listed.csv (US listings), curated.toml "
        "(names, brands, ETFs), crypto.toml.",
    )
    tag_universe: bool = Field(
        True,
        description="Tag against the whole universe (every US listing and the major crypto); "
        "false: the watchlist's instruments only.",
    )
    feeds: list[FeedConfig] = Field(
        default_factory=list,
        json_schema_extra={"default_text": "`[]`"},
        description="RSS/Atom feeds to poll: [[feeds]] tables with name, url and "
        "interval_seconds (see 'Adding a feed').",
    )
    yahoo_news: bool = Field(
        False, description="Also poll Yahoo Finance news (through yfinance) for every watched "
        "ticker that can be tagged (network needed)."
    )
    allow_private_feeds: bool = Field(
        False, description="Allow feed URLs (and redirects) that resolve to loopback, private, "
        "link-local or metadata addresses; off by default so a feed cannot reach internal hosts."
    )
    feed_connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect to a feed server.")
    feed_read_timeout: float = Field(15.0, gt=0, description="Seconds to wait for a feed server's answer.")
    feed_max_bytes: int = Field(
        10_000_000, ge=10_000, description="Largest feed document read (decompressed); larger "
        "ones are cut and the poll marked degraded."
    )
    unhealthy_after: int = Field(
        3, ge=1, description="A source that fails or returns nothing this many polls in a row is "
        "flagged unhealthy."
    )
    story_max_distance: int = Field(
        10, ge=0, le=16, description="Near-duplicates: largest SimHash distance (bits of 64) at "
        "which an article joins an earlier story."
    )
    story_window_hours: float = Field(
        72.0, gt=0, description="Near-duplicates: how long after an article a repeat still joins "
        "its story."
    )
    price_source: Literal["snapshot", "yahoo"] = Field(
        "snapshot",
        description="Where daily prices come from: 'snapshot' (the bundled CSV files, no "
        "network) or 'yahoo' (Yahoo Finance through yfinance).",
    )
    price_snapshot_dir: Path | None = Field(
        None,
        json_schema_extra={"default_text": "`SEEDS_DIR/prices`"},
        description="Folder of the price snapshot CSV files the 'snapshot' source reads.",
    )
    model: Literal["market", "market_adjusted", "mean"] = Field(
        "market",
        description="Abnormal-return model for instruments with a benchmark: 'market' "
        "(OLS market model), 'market_adjusted' or 'mean'. Instruments without a benchmark "
        "always use 'mean'.",
    )
    estimation_window: str = Field(
        "-250:-11", description="Estimation window in sessions relative to the event, START:END."
    )
    min_estimation_obs: int = Field(
        120, ge=3, description="Fewest estimation returns for a model fit; fewer gives "
        "'insufficient history'."
    )
    windows: str = Field(
        "0:0,-1:1,0:5", description="Event windows in sessions, comma-separated START:END."
    )
    min_relevance: float = Field(
        25.0, ge=0, le=100, description="Lowest tag relevance (0-100) that creates an event; 25 leaves out "
        "companies named once in passing among many (see 'Tagging')."
    )
    default_timezone: str = Field(
        "America/New_York",
        description="Time zone assumed for article times given without one.",
    )
    max_drop_share: float = Field(
        0.5, ge=0, le=1, description="Largest share of the items a stage may drop in a pass "
        "before the pass fails (MaxLossExceededError)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Logging level of the command line."
    )
    themes: dict[str, list[str]] = Field(
        default_factory=dict,
        json_schema_extra={"default_text": "`{}`"},
        description='Named groups of tickers for alert rules and studies, e.g. "private prisons" = ["CXW", "GEO"].',
    )
    alert_rules: list[AlertRule] = Field(
        default_factory=list,
        json_schema_extra={"default_text": "`[]`"},
        description="Alert rules: [[alert_rules]] tables with name, kind (new_article, abnormal_return, "
        "intraday_move, abnormal_volume), tickers or theme, thresholds and channels (see 'Alerts').",
    )
    alert_channels: list[AlertChannel] = Field(
        default_factory=list,
        json_schema_extra={"default_text": "`[]`"},
        description="Alert channels besides the log: [[alert_channels]] tables with name, kind (jsonl, webhook, "
        "email) and path, url or to.",
    )
    alert_max_attempts: int = Field(
        8, ge=1, description="Deliveries of an alert tried per channel before it is marked failed."
    )
    smtp_host: str | None = Field(None, description="SMTP server for e-mail alerts and the digest.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_user: str | None = Field(None, description="SMTP user, when the server wants a login.")
    smtp_password: str | None = Field(None, description="SMTP password (prefer MONITOR_SMTP_PASSWORD).")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_from: str = Field("monitor@localhost", description="Sender address of e-mails.")
    pass_interval_seconds: int | None = Field(
        None, ge=1, json_schema_extra={"default_text": "shortest feed interval, at most 300"},
        description="Seconds between the scheduler's pipeline passes.",
    )
    alert_interval_seconds: int = Field(
        60, ge=1, description="Seconds between the scheduler's alert deliveries (retries that fell due)."
    )
    stop_timeout_seconds: float = Field(
        8.0, ge=1, le=60,
        description="On SIGTERM or Ctrl-C, how long a running job has to reach a safe point (the end of the "
        "step in progress) before `monitor run` exits anyway; the unfinished step's transaction rolls back.",
    )
    digest_time: str = Field(
        "16:30", pattern=r"^\d{2}:\d{2}$", description="When the daily digest is built, HH:MM in digest_timezone."
    )
    digest_timezone: str = Field("America/New_York", description="Time zone of digest_time and of the digest's day.")
    digest_dir: Path = Field(
        Path("digests"), description="Folder the digest's HTML and text files are written to."
    )
    digest_to: list[str] = Field(default_factory=list, json_schema_extra={"default_text": "`[]`"},
                                 description="Recipients of the digest e-mail; none: files only.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file_path()),
        )

    @field_validator("feeds")
    @classmethod
    def _check_feed_names(cls, value: list[FeedConfig]) -> list[FeedConfig]:
        names = [f.name for f in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feed names must be unique; repeated: {', '.join(dupes)}")
        return value

    @field_validator("estimation_window")
    @classmethod
    def _check_estimation(cls, value: str) -> str:
        start, end = parse_window(value)
        if end >= 0:
            raise ValueError("the estimation window must end before the event (END < 0)")
        return value

    @field_validator("windows")
    @classmethod
    def _check_windows(cls, value: str) -> str:
        parts = [p for p in value.split(",") if p.strip()]
        if not parts:
            raise ValueError("give at least one window, e.g. 0:0,-1:1")
        for part in parts:
            parse_window(part)
        return value

    @field_validator("default_timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    # Derived values -----------------------------------------------------
    @property
    def estimation(self) -> tuple[int, int]:
        return parse_window(self.estimation_window)

    def model_for(self, benchmark: str | None) -> str:
        """The abnormal-return model of an instrument with ``benchmark``: ``model``, or 'mean' without one."""
        return self.model if benchmark else "mean"

    @property
    def window_list(self) -> tuple[tuple[int, int], ...]:
        return tuple(parse_window(p) for p in self.windows.split(",") if p.strip())

    @property
    def news_folders(self) -> list[Path]:
        return list(self.news_dirs) or [self.seeds_dir / "news"]

    @property
    def watchlist_path(self) -> Path:
        return self.watchlist or self.seeds_dir / "watchlist.toml"

    @property
    def universe_folder(self) -> Path:
        return self.universe_dir or self.seeds_dir / "universe"

    @property
    def snapshot_dir(self) -> Path:
        return self.price_snapshot_dir or self.seeds_dir / "prices"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.default_timezone)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; any problem becomes one :class:`ConfigError` line."""
    path = config_file_path()
    if os.environ.get(CONFIG_ENV) and not path.is_file():
        raise ConfigError(f"settings file not found: {path} (named by {CONFIG_ENV})")
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown setting"
            problems.append(f"{where}: {msg}")
        raise ConfigError(
            "invalid settings (" + "; ".join(problems) + f"); check {path} and MONITOR_* variables"
        ) from None


def settings_table() -> str:
    """The README's settings table, rendered from the field definitions."""
    lines = [
        "| Setting (monitor.toml) | Environment variable | Default | Meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if "default_text" in extra:
            default = str(extra["default_text"])
        else:
            default = f"`{info.default}`"
        lines.append(f"| `{name}` | `MONITOR_{name.upper()}` | {default} | {info.description} |")
    return "\n".join(lines)
