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
class SourceBatch:
    """What one poll of a source produced."""

    source: str
    articles: tuple[Article, ...]
    dropped: tuple[Dropped, ...] = field(default=())

    @property
    def seen(self) -> int:
        return len(self.articles) + len(self.dropped)


@runtime_checkable
class NewsSource(Protocol):
    name: str

    def fetch(self) -> SourceBatch:
        """Read what the source holds now; never raises for one bad item."""
        ...
