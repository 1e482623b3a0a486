"""The store's tables (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Timestamps use :class:`UTCDateTime`: aware UTC in, aware UTC out, whatever the
dialect keeps. Trading sessions are plain ``Date`` labels. Natural keys carry a
unique constraint so that every write can be an idempotent upsert.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is aware UTC in Python on every dialect.

    PostgreSQL keeps ``timestamptz``; SQLite keeps the naive UTC wall time.
    Naive datetimes are refused on the way in: a naive time is a bug upstream.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored: give it a time zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw text from a SQLite expression
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_key", String(64), nullable=False, unique=True),
    Column("source", String(200), nullable=False),
    Column("source_id", String(1000), nullable=False),
    Column("url", Text),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("published_at", UTCDateTime, nullable=False),
    Column("date_only", Boolean, nullable=False),
    Column("zone_given", Boolean, nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    Column("guid", String(1000)),
    Column("canonical_url", String(2000)),
    Column("undated", Boolean, nullable=False, server_default=false()),
    #: Near-duplicate grouping: the key of the story's first article, the
    #: article's SimHash and its novelty (100 for the first of a story).
    Column("story_key", String(64)),
    Column("fingerprint", BigInteger),
    Column("novelty", Float),
    UniqueConstraint("source", "source_id"),
    Index("ix_articles_published_at", "published_at"),
    Index("ix_articles_guid", "guid"),
    Index("ix_articles_canonical_url", "canonical_url"),
    Index("ix_articles_story_key", "story_key"),
)

instruments = Table(
    "instruments",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("asset_class", String(16), nullable=False),
    Column("calendar", String(16), nullable=False),
    Column("benchmark", String(32)),
    Column("exchange", String(64)),
    Column("aliases", JSON, nullable=False),
    Column("codes", JSON, nullable=False),
    Column("taggable", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

mentions = Table(
    "mentions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "article_key",
        String(64),
        ForeignKey("articles.article_key", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("symbol", String(32), nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("matched", Text, nullable=False),
    Column("method", String(32), nullable=False),
    Column("relevance", Float, nullable=False),
    UniqueConstraint("article_key", "symbol", "start"),
    Index("ix_mentions_symbol", "symbol"),
)

price_bars = Table(
    "price_bars",
    metadata,
    Column("symbol", String(32), nullable=False),
    Column("interval", String(8), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("session", Date),
    Column("open", Float),
    Column("high", Float),
    Column("low", Float),
    Column("close", Float),
    Column("volume", Float),
    Column("adjusted", Boolean, nullable=False),
    Column("final", Boolean, nullable=False),
    Column("source", String(32), nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
    #: Data-quality flags, space-separated ("duplicate", "nan", "split_move"); "" when none.
    Column("flags", String(64), nullable=False, server_default=""),
    UniqueConstraint("symbol", "interval", "adjusted", "ts"),
)

#: Ranges a price source has answered for: what the cache holds, even where
#: the answer held no bar (a holiday, a gap), so nothing is fetched twice.
price_coverage = Table(
    "price_coverage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("symbol", String(32), nullable=False),
    Column("interval", String(8), nullable=False),
    Column("source", String(32), nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date, nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
    #: The interval whose bars answered the range: coarser than ``interval`` when the source no longer
    #: kept bars that fine (1m bars older than 30 days come as 5m); NULL means ``interval`` itself.
    Column("served_interval", String(8)),
    Index("ix_price_coverage_symbol", "symbol", "interval", "source"),
)

#: Splits and dividends a price source reported. A new one means the adjusted history held so far
#: was adjusted as of an earlier date: the cache fetches it again.
price_actions = Table(
    "price_actions",
    metadata,
    Column("symbol", String(32), nullable=False),
    Column("session", Date, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Float, nullable=False),
    Column("source", String(32), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    UniqueConstraint("symbol", "session", "kind", "source"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "article_key",
        String(64),
        ForeignKey("articles.article_key", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("symbol", String(32), nullable=False),
    Column("published_at", UTCDateTime, nullable=False),
    Column("session", Date, nullable=False),
    Column("timing", String(20), nullable=False),
    Column("calendar", String(16), nullable=False),
    Column("date_only", Boolean, nullable=False),
    Column("relevance", Float, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    #: Another event of the same symbol falls inside this one's estimation or event window.
    Column("confounded", Boolean, nullable=False, server_default=false()),
    #: Day 0's volume against the estimation window's: log(volume / mean volume) and its z score.
    Column("abnormal_volume_log", Float),
    Column("abnormal_volume_z", Float),
    UniqueConstraint("article_key", "symbol"),
    Index("ix_events_symbol_session", "symbol", "session"),
    #: The dashboard's overview lists the latest events first and filters on publication dates.
    Index("ix_events_published_at", "published_at"),
)

#: Intraday reaction of an event: the move from the last price before the story to each horizon
#: (+5m, +15m, +60m, day 0's close), against the benchmark over the same minutes.
event_reactions = Table(
    "event_reactions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_key", String(64), ForeignKey("articles.article_key", ondelete="CASCADE"), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("horizon", String(8), nullable=False),
    Column("interval", String(8), nullable=False),
    Column("raw_return", Float),
    Column("benchmark_return", Float),
    Column("abnormal_return", Float),
    Column("start_at", UTCDateTime),
    Column("end_at", UTCDateTime),
    Column("complete", Boolean, nullable=False),
    Column("reason", Text),
    Column("computed_at", UTCDateTime, nullable=False),
    UniqueConstraint("article_key", "symbol", "horizon"),
)

event_returns = Table(
    "event_returns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_key", String(64), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("window_start", Integer, nullable=False),
    Column("window_end", Integer, nullable=False),
    Column("model", String(20), nullable=False),
    Column("benchmark", String(32)),
    Column("raw_return", Float),
    Column("benchmark_return", Float),
    Column("abnormal_return", Float),
    Column("car", Float),
    Column("t_stat", Float),
    Column("n_obs", Integer, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("status", String(32), nullable=False),
    Column("reason", Text),
    Column("alpha", Float),
    Column("beta", Float),
    Column("sigma", Float),
    Column("estimation_obs", Integer, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
    UniqueConstraint("article_key", "symbol", "window_start", "window_end", "model"),
    #: The dashboard sorts events by their day-0 abnormal return, its t or a window's CAR: with these
    #: indexes the database walks the results in order instead of joining and sorting every event.
    Index("ix_event_returns_window_abnormal", "window_start", "window_end", "abnormal_return"),
    Index("ix_event_returns_window_t", "window_start", "window_end", "t_stat"),
    Index("ix_event_returns_window_car", "window_start", "window_end", "car"),
)

#: Every configured news source, its conditional-GET state and its health.
sources = Table(
    "sources",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("url", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("status", String(16), nullable=False),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("consecutive_empty", Integer, nullable=False, server_default="0"),
    Column("last_poll_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
)

#: One row per poll of a source.
source_polls = Table(
    "source_polls",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("items_seen", Integer, nullable=False),
    Column("items_new", Integer, nullable=False),
    Column("items_dropped", Integer, nullable=False),
    Column("error", Text),
    Index("ix_source_polls_source_started", "source", "started_at"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("job", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("status", String(16), nullable=False),
    Column("counts", JSON),
    Column("error", Text),
    Index("ix_job_runs_job_started", "job", "started_at"),
)


#: Alerts raised, one per rule and (article, symbol): the dedup key makes raising idempotent.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(200), nullable=False, unique=True),
    Column("rule", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("article_key", String(64)),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_alerts_created", "created_at"),
)

#: The outbox: one row per alert and channel, delivered with retries until sent or failed.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("alert_id", "channel"),
    Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
)

#: Daily digests built: one per day, with where the files went and whether the e-mail left.
digests = Table(
    "digests",
    metadata,
    Column("day", Date, primary_key=True),
    Column("built_at", UTCDateTime, nullable=False),
    Column("html_path", Text),
    Column("text_path", Text),
    Column("email_status", String(16), nullable=False),  # none | pending | sent | failed
    Column("email_attempts", Integer, nullable=False, server_default="0"),
    Column("email_error", Text),
    Column("emailed_at", UTCDateTime),
)
