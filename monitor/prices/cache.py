"""The price cache in the store: fetch each range once, refresh what is not final.

:func:`ensure_daily_bars` asks the source only for the session ranges the
store has not already been answered for; bars of sessions that are not over
are marked not final and asked again on the next call. :func:`daily_closes`
reads closes back as a series on the instrument's session grid.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Connection

from monitor import calendars
from monitor.prices import PriceSource, validate_bars
from monitor.store import repo

log = logging.getLogger(__name__)

INTERVAL = "1d"


def missing_ranges(want: tuple[date, date], held: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """Parts of the inclusive range ``want`` not inside any of the sorted ``held`` ranges."""
    start, end = want
    gaps: list[tuple[date, date]] = []
    cursor = start
    for s, e in held:
        if e < cursor:
            continue
        if s > end:
            break
        if s > cursor:
            gaps.append((cursor, min(end, s - timedelta(days=1))))
        cursor = max(cursor, e + timedelta(days=1))
        if cursor > end:
            break
    if cursor <= end:
        gaps.append((cursor, end))
    return gaps


def ensure_daily_bars(
    conn: Connection,
    source: PriceSource,
    symbol: str,
    calendar: str,
    start: date,
    end: date,
    now: datetime,
) -> int:
    """Make the store hold ``symbol``'s daily bars for sessions ``start``..``end``.

    Returns the number of bars written. Ranges already answered by ``source``
    are not asked again; sessions after the last closed one are always asked
    again (their bars are not final). Source errors propagate untouched and
    nothing of the failed range is recorded.
    """
    last_closed = calendars.last_closed_session(calendar, now)
    wanted: list[tuple[date, date]] = []
    final_end = min(end, last_closed)
    if start <= final_end:
        held = repo.covered_ranges(conn, symbol, INTERVAL, source.name)
        wanted = missing_ranges((start, final_end), held)
    if end > last_closed:
        wanted.append((max(start, last_closed + timedelta(days=1)), end))
    written = 0
    for s, e in wanted:
        bars = validate_bars(source.daily_bars(symbol, s, e), f"{source.name} bars of {symbol}")
        if not bars.empty:
            bars = bars.copy()
            bars["final"] = bars["session"].dt.date <= last_closed
            written += len(bars)
            repo.save_bars(conn, bars)
        if s <= last_closed:
            repo.record_coverage(conn, symbol, INTERVAL, source.name, s, min(e, last_closed))
        log.debug("%s: %s %s..%s -> %d bars", source.name, symbol, s, e, len(bars))
    return written


def daily_closes(conn: Connection, symbol: str, sessions: pd.DatetimeIndex) -> pd.Series:
    """Closes of ``symbol`` on ``sessions`` (naive DatetimeIndex), NaN where none is held."""
    if len(sessions) == 0:
        return pd.Series(dtype="float64", index=sessions, name=symbol)
    bars = repo.load_bars(conn, symbol, INTERVAL, sessions[0].date(), sessions[-1].date())
    closes = (
        bars.set_index("session")["close"].astype("float64")
        if not bars.empty
        else pd.Series(dtype="float64")
    )
    closes = closes[~closes.index.duplicated(keep="last")]
    return closes.reindex(sessions).rename(symbol)
