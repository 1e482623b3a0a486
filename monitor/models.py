"""Domain records that cross stage boundaries.

All records are frozen dataclasses. Every ``datetime`` is timezone-aware UTC;
a trading session is a naive :class:`datetime.date` label.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple
from datetime import date, datetime, timezone
from enum import StrEnum
from functools import cached_property

#: Separator between an article's title and body in :attr:`Article.text`;
#: mention spans are character offsets into that text.
TEXT_SEPARATOR = "\n\n"

#: Shortest normalised text that identifies an article by its content alone.
MIN_KEYED_TEXT = 24

#: The calendar name used for instruments that trade around the clock (crypto, FX).
CALENDAR_24_7 = "24/7"


class AssetClass(StrEnum):
    EQUITY = "equity"
    ETF = "etf"
    CRYPTO = "crypto"
    INDEX = "index"


class Timing(StrEnum):
    """When an article appeared relative to its instrument's trading hours."""

    PRE_MARKET = "pre_market"  #: before the open of a trading day: moves that session
    REGULAR = "regular"  #: during regular hours: moves that session
    AFTER_HOURS = "after_hours"  #: after the close: moves the next session
    NON_TRADING_DAY = "non_trading_day"  #: weekend or holiday: moves the next session
    DATE_ONLY = "date_only"  #: only a date is known: that date's session, or the next one
    CONTINUOUS = "continuous"  #: 24/7 market: the UTC day of publication


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are refused."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value!r}: every timestamp must carry a time zone")
    return value.astimezone(timezone.utc)


_WS = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Unicode-normalised, case-folded text with collapsed white space (for hashing)."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


@dataclass(frozen=True)
class Article:
    """One news item as a source delivered it.

    ``source`` names the source (``files``, ``rss:<name>``...), ``source_id`` is
    unique within it (a file name, a GUID). ``published_at`` is aware UTC;
    when ``date_only`` is true only the date is known and ``published_at`` is
    00:00 UTC of that date. ``zone_given`` tells whether the source gave the
    time with a zone or the zone was assumed. ``undated`` marks an article
    whose date was missing or unreadable (``published_at`` is then the time it
    was fetched). Title and body are plain text, never markup.
    """

    source: str
    source_id: str
    title: str
    body: str
    published_at: datetime
    date_only: bool = False
    zone_given: bool = False
    url: str | None = None
    #: The publisher's identifier (RSS ``guid``, Atom ``id``, Yahoo ``uuid``), if any.
    guid: str | None = None
    #: No usable publication time was given: ``published_at`` is the fetch time,
    #: and the article is kept but left out of event studies.
    undated: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "published_at", ensure_utc(self.published_at))

    @property
    def text(self) -> str:
        """Title and body joined by :data:`TEXT_SEPARATOR`; mention spans index into it."""
        return self.title + TEXT_SEPARATOR + self.body

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the normalised title and body: equal for identical stories."""
        return hashlib.sha256(normalise_text(self.text).encode("utf-8")).hexdigest()

    @cached_property
    def key(self) -> str:
        """Stable identity of the article: its content hash.

        An article with (almost) no text, such as a feed entry that is only a
        link, is identified by where it comes from instead, so that two such
        entries are not taken for the same story.
        """
        if len(normalise_text(self.text)) >= MIN_KEYED_TEXT:
            return self.content_hash
        where = "\x1f".join((self.source, self.source_id, self.url or "", self.guid or ""))
        return hashlib.sha256(("empty\x1f" + where).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Instrument:
    """A tradable thing the tagger knows and the monitor prices.

    ``symbol`` is the Yahoo symbol (``CXW``, ``BTC-USD``). ``calendar`` is an
    exchange_calendars code (``XNYS``) or :data:`CALENDAR_24_7`. ``benchmark``
    is the symbol abnormal returns are measured against, or ``None`` (then
    mean-adjusted returns are used).
    """

    symbol: str
    name: str
    asset_class: AssetClass = AssetClass.EQUITY
    calendar: str = "XNYS"
    benchmark: str | None = None
    exchange: str | None = None
    aliases: tuple[str, ...] = ()
    #: Short codes that name it in explicit forms only (``BTC`` in ``BTC/USD``, ``$BTC``).
    codes: tuple[str, ...] = ()
    #: False for instruments that are only priced (benchmarks), never tagged.
    taggable: bool = True
    #: Brands and subsidiaries that stand for it in news (``Instagram`` for META).
    brands: tuple[str, ...] = ()
    #: Those of its names, aliases and brands that are also common words or
    #: people's names ("Apple", "Ford"): they count only with context.
    context: tuple[str, ...] = ()


class Mention(NamedTuple):
    """One place an article names an instrument (a named tuple: articles hold thousands).

    ``start``/``end`` are character offsets into :attr:`Article.text`
    (``text[start:end] == matched``); ``method`` is the rule that matched
    (``name``, ``alias``, ``name_ticker``, ``cashtag``, ``exchange_ticker``,
    ``pair``, ``name_code``, ``ticker``).
    """

    symbol: str
    start: int
    end: int
    matched: str
    method: str


class TickerTag(NamedTuple):
    """The tagger's verdict for one article and one instrument (a named tuple: batches hold millions)."""

    symbol: str
    relevance: float  #: 0-100: how much the article is about the instrument
    mentions: tuple[Mention, ...]


@dataclass(frozen=True)
class EventTime:
    """Where an article falls in its instrument's market time."""

    session: date  #: the first session the news can move (naive label)
    timing: Timing
    calendar: str


@dataclass(frozen=True)
class Event:
    """An article about one instrument, placed in market time."""

    article_key: str
    symbol: str
    published_at: datetime
    session: date
    timing: Timing
    calendar: str
    date_only: bool
    relevance: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "published_at", ensure_utc(self.published_at))


@dataclass(frozen=True)
class EventReturn:
    """The market's reaction to one event over one window under one model.

    Returns are simple returns as fractions (``-0.0565`` is -5.65 %).
    ``raw_return`` and ``benchmark_return`` are compounded over the window,
    ``abnormal_return`` is the buy-and-hold abnormal return, ``car`` the sum of
    the daily abnormal returns. ``complete`` is false while the window has not
    fully happened. ``status`` is ``ok`` or the reason nothing could be
    computed (``insufficient_history``, ``no_prices``...), spelt out in ``reason``.
    """

    article_key: str
    symbol: str
    window: tuple[int, int]
    model: str
    benchmark: str | None
    raw_return: float | None
    benchmark_return: float | None
    abnormal_return: float | None
    car: float | None
    t_stat: float | None
    n_obs: int
    complete: bool
    status: str = "ok"
    reason: str | None = None
    alpha: float | None = None
    beta: float | None = None
    sigma: float | None = None
    estimation_obs: int = 0
    computed_at: datetime | None = field(default=None, compare=False)
