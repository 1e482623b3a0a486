"""News sources: everything that turns outside text into :class:`~monitor.models.Article`.

A source is polled with :meth:`NewsSource.fetch`; an item it cannot use (no
date, unreadable, malformed) is dropped with a reason instead of stopping the
poll, and the batch says how many items were seen and which were dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from monitor.models import Article


@dataclass(frozen=True)
class Dropped:
    """An item a source could not turn into an article, and why."""

    item: str  #: where it came from: a file name, a URL, a line number
    reason: str


@dataclass(frozen=True)
class PollState:
    """What a source remembers between polls (HTTP validators for conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class SourceBatch:
    """What one poll of a source produced.

    ``degraded`` marks a poll that produced articles from a damaged document
    (a malformed feed that still had entries), with the reason in ``warning``.
    ``not_modified`` is a conditional GET answered 304. ``state`` is what the
    next poll should send (``None``: keep the previous state).
    """

    source: str
    articles: tuple[Article, ...]
    dropped: tuple[Dropped, ...] = field(default=())
    state: PollState | None = None
    degraded: bool = False
    warning: str | None = None
    not_modified: bool = False

    @property
    def seen(self) -> int:
        return len(self.articles) + len(self.dropped)


@runtime_checkable
class NewsSource(Protocol):
    """A place news comes from.

    ``name`` is unique among the configured sources (``files``, ``feed:sec``,
    ``yahoo``...). :meth:`fetch` reads what the source holds now. One bad item
    never raises: it is dropped with a reason. A failure of the whole poll
    (unreachable host, HTTP error, a document that is not a feed, a refused
    URL) raises :class:`~monitor.errors.SourceError` with a one-line message;
    the pipeline records it in the source's health and goes on with the
    other sources.
    """

    name: str

    def fetch(self, state: PollState | None = None) -> SourceBatch:
        ...
