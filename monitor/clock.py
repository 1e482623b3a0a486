"""The monitor's clock: the wall clock, or a simulated one when a trading day is replayed.

Everything that asks "what time is it" for the data it writes (a pass's
``now``, ``created_at`` stamps, alert back-off, the digest's day) asks
:func:`now`. Normally that is ``datetime.now(UTC)``; :func:`use` swaps in
another source, such as a :class:`ManualClock` that a replay moves forward
job by job (see :func:`monitor.scheduler.simulate`), so a whole trading day
runs in seconds and the store reads as if it had been lived through.

The swap is process-wide (threads included): it is meant for replays and
tests, never for a monitor serving live data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

UTC = timezone.utc

_lock = threading.Lock()
_source: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time, aware UTC."""
    source = _source
    if source is None:
        return datetime.now(UTC)
    return source().astimezone(UTC)


def simulated() -> bool:
    """Whether a simulated clock is in use."""
    return _source is not None


@contextmanager
def use(source: Callable[[], datetime]) -> Iterator[None]:
    """Make ``source`` (returning aware datetimes) the clock inside the block."""
    global _source
    with _lock:
        if _source is not None:
            raise RuntimeError("a simulated clock is already in use")
        _source = source
    try:
        yield
    finally:
        with _lock:
            _source = None


class ManualClock:
    """A clock that only moves when told to: :meth:`set` or :meth:`advance`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must be timezone-aware")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError(f"the clock cannot go back from {self._now.isoformat()} to {when.isoformat()}")
        self._now = when

    def advance(self, seconds: float) -> datetime:
        self.set(self._now + timedelta(seconds=seconds))
        return self._now
