"""The price cache in the store: fetch each range once, refresh what is not final.

:func:`ensure_bars` asks the source only for the session ranges the store has
not already been answered for (a gap in the middle is fetched alone); bars of
sessions that are not over are marked not final and asked again on the next
call; a range the source answered with a coarser interval (1m bars older than
Yahoo keeps) is remembered with the interval that served it. When the source
reports a split or dividend the store has not seen, the adjusted history held
so far was adjusted as of an earlier date: it is dropped and fetched again
whole, so returns never mix adjustment dates, and the symbol's event returns
are computed again. :func:`daily_closes` reads closes back on a session grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Connection

from monitor import calendars
from monitor.errors import NoPriceDataError
from monitor.prices import DAILY, FetchResult, FetchStatus, PriceSource, validate_bars
from monitor.store import repo

log = logging.getLogger(__name__)

INTERVAL = DAILY


@dataclass
class CacheReport:
    """What :func:`ensure_bars` did for one symbol."""

    symbol: str
    interval: str  #: the interval asked for
    served: list[str] = field(default_factory=list)  #: intervals whose bars hold the range, finest first
    written: int = 0  #: bars written
    requests: list[tuple[date, date]] = field(default_factory=list)  #: ranges asked of the source
    refetched: bool = False  #: the adjusted history was fetched again after a new split or dividend
    status: FetchStatus = FetchStatus.OK
    reason: str | None = None  #: the source's reason for a fallback or for no bars


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


def ensure_bars(
    conn: Connection,
    source: PriceSource,
    symbol: str,
    calendar: str,
    start: date,
    end: date,
    now: datetime,
    *,
    interval: str = DAILY,
) -> CacheReport:
    """Make the store hold ``symbol``'s ``interval`` bars for sessions ``start``..``end``.

    Ranges already answered by ``source`` are not asked again; sessions after
    the last closed one are always asked again (their bars are not final).
    Nothing of a failed request is recorded.

    Raises
    ------
    NoPriceDataError
        The source does not know the symbol (its reason in the message).
    RateLimitedError, PriceError
        From the source, untouched.
    """
    report = CacheReport(symbol=symbol, interval=interval)
    last_closed = calendars.last_closed_session(calendar, now)
    held = repo.covered_ranges(conn, symbol, interval, source.name)
    wanted: list[tuple[date, date]] = []
    final_end = min(end, last_closed)
    if start <= final_end:
        wanted = missing_ranges((start, final_end), held)
    if end > last_closed:
        wanted.append((max(start, last_closed + timedelta(days=1)), end))
    for s, e in wanted:
        result = _fetch(source, symbol, s, e, interval, calendar, now, report)
        if interval == DAILY and _new_actions(conn, result, source.name, held, s):
            span = repo.forget_adjusted_history(conn, symbol, source.name)
            report.refetched = True
            if span is not None and (span[0] < s or span[1] > e):
                s, e = min(span[0], s), max(span[1], e)
                log.info("%s: new split or dividend; fetching its adjusted history %s..%s again", symbol, s, e)
                result = _fetch(source, symbol, s, e, interval, calendar, now, report)
                repo.save_actions(conn, result.actions, source.name)
            held = []
        report.written += _store(conn, source.name, result, s, e, last_closed)
    report.served = repo.served_intervals(conn, symbol, interval, source.name, start, end) or [interval]
    return report


def ensure_daily_bars(
    conn: Connection,
    source: PriceSource,
    symbol: str,
    calendar: str,
    start: date,
    end: date,
    now: datetime,
) -> int:
    """:func:`ensure_bars` for daily bars; returns the number of bars written."""
    return ensure_bars(conn, source, symbol, calendar, start, end, now).written


def _fetch(
    source: PriceSource,
    symbol: str,
    start: date,
    end: date,
    interval: str,
    calendar: str,
    now: datetime,
    report: CacheReport,
) -> FetchResult:
    result = source.fetch(symbol, start, end, interval, calendar=calendar, now=now)
    report.requests.append((start, end))
    report.status = result.status
    report.reason = result.reason or report.reason
    if result.status is FetchStatus.NO_DATA:
        raise NoPriceDataError(
            f"no {source.name} prices for {symbol}: {result.reason or 'the source does not know the symbol'}"
        )
    if result.fell_back:
        log.info("%s: %s bars served as %s (%s)", symbol, interval, result.interval, result.reason)
    return result


def _new_actions(conn: Connection, result: FetchResult, source: str, held: list[tuple[date, date]], start: date) -> bool:
    """Store the result's actions; true when one is new and adjusted bars from before it are held."""
    if result.actions.empty:
        return False
    new = repo.save_actions(conn, result.actions, source)
    if new.empty or not held:
        return False
    first_held = held[0][0]
    return bool((pd.DatetimeIndex(new["session"]).date > first_held).any())


def _store(conn: Connection, source: str, result: FetchResult, start: date, end: date, last_closed: date) -> int:
    """Write the bars of one answer and record what it covered (closed sessions only)."""
    bars = validate_bars(result.bars, f"{source} bars of {result.symbol}")
    written = 0
    if not bars.empty:
        bars = bars.copy()
        bars["final"] = bars["session"].dt.date <= last_closed
        written = len(bars)
        repo.save_bars(conn, bars)
    if start <= last_closed:
        repo.record_coverage(
            conn, result.symbol, result.requested_interval, source, start, min(end, last_closed),
            served_interval=result.interval,
        )
    log.debug("%s: %s %s %s..%s -> %d bars", source, result.symbol, result.interval, start, end, written)
    return written


def daily_closes(conn: Connection, symbol: str, sessions: pd.DatetimeIndex) -> pd.Series:
    """Closes of ``symbol`` on ``sessions`` (naive DatetimeIndex), NaN where none is held."""
    if len(sessions) == 0:
        return pd.Series(dtype="float64", index=sessions, name=symbol)
    matrix = repo.load_close_matrix(conn, [symbol], sessions[0].date(), sessions[-1].date())
    closes = matrix[symbol] if symbol in matrix.columns else pd.Series(dtype="float64")
    return closes.reindex(sessions).rename(symbol)
