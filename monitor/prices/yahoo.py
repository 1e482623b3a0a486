"""Bars from Yahoo Finance through yfinance (the only module that imports yfinance).

:class:`YahooPriceSource` implements :class:`~monitor.prices.PriceSource`:
:meth:`~YahooPriceSource.fetch` answers a :class:`~monitor.prices.FetchResult`
for one symbol, :meth:`~YahooPriceSource.fetch_many` for several, and
:meth:`~YahooPriceSource.daily_bars` keeps the older daily-only call.

The yfinance call
-----------------
Each chart request is one ``Ticker(symbol, session=...).history(...)`` with
the adjustment pinned: ``auto_adjust=False, back_adjust=False, actions=True``
(so the frame has Open, High, Low, Close, Adj Close, Volume, Dividends, Stock
Splits), ``repair=False``, ``prepost=False`` (regular-session bars),
``keepna=True`` (this module decides about rows without prices, see below)
and the end date made inclusive (yfinance's ``end`` is exclusive).

Daily bars are built *adjusted* (``adjusted=True``): ``close`` is Yahoo's
Adj Close (splits and dividends), open/high/low are scaled by
``Adj Close / Close``. Intraday answers carry no adjusted close: their bars are
Yahoo's figures, split-adjusted but not dividend-adjusted, and are marked
``adjusted=False``. Splits (``value`` = new shares per old share, 4.0 for
4-for-1) and dividends (cash per share) go to ``FetchResult.actions``.

Sessions and times: a daily bar's ``session`` is its date in the exchange's
time zone (the UTC day for crypto) and its ``ts`` that session at 00:00 UTC;
an intraday bar's ``ts`` is its start in UTC and its ``session`` its local
date in the exchange's zone (both naive midnight labels).

Intraday intervals are 1m, 2m, 5m, 15m, 30m, 60m and 90m.
:func:`~monitor.prices.usable_interval` falls back to the next coarser
interval when ``start`` is older than Yahoo keeps bars (the result says so in
``interval`` and ``reason``); a range longer than
``INTRADAY_LIMITS[interval].max_span`` (7 days for 1m) is asked in several
chart requests, concatenated.

Statuses
--------
* ``NO_BARS_EXPECTED``: ``calendar`` was given and has no session in the
  range. Nothing is asked (no HTTP request at all).
* ``NO_DATA``: Yahoo does not know the symbol (unknown, delisted); ``reason``
  is Yahoo's or yfinance's words. Not an exception, not retried.
* ``OK``: bars, possibly none (Yahoo knows the symbol, sent its metadata, and
  has no bar in the range: a holiday, a gap, a weekend asked without a
  calendar).

Data quality
------------
* Duplicate timestamps: the last copy with a price is kept and flagged
  ``duplicate``.
  yfinance 1.7 already drops some copies before this module sees them: for
  daily bars it keeps the last of two bars on the same day and records the
  dropped one as ``lastTrade`` in the chart metadata, which this module reads
  to flag the kept bar ``duplicate``; for intraday bars it drops exact
  duplicate timestamps keeping the *first* copy and leaves no trace, so they
  cannot be flagged.
* Rows whose open, high, low and close are all missing: a daily one is kept
  when it is the only information for its session, with volume NaN (yfinance
  writes 0) and flagged ``nan``, so that "Yahoo listed the session without a
  price" stays apart from "no session"; a second copy of a session that has a
  priced bar is dropped. Intraday ones are always dropped: Yahoo's minute
  series are full of them, and yfinance's 30m resampling makes one for every
  closed half hour, weekends included. Any other bar without a close is
  flagged ``nan`` too.
* A one-day move over 50 % on a split's session is flagged ``split_move``
  (:func:`~monitor.prices.quality_flags`): adjusted history never shows one,
  so it means Yahoo listed the split before adjusting the history.

Retries and errors
------------------
yfinance hides errors by default (it logs them and returns an empty frame,
so an unknown symbol and a holiday look the same). This module turns that off
process-wide with ``yfinance.config.debug.hide_exceptions = False`` and maps
what yfinance raises:

* HTTP 429 / ``YFRateLimitError``, and transient failures (connection errors,
  timeouts, HTTP 5xx, Yahoo's "Will be right back" page, an answer that is not
  JSON, which is what a 5xx page looks like through yfinance) are retried with
  exponential backoff and jitter (:class:`RetryPolicy`), bounded by a number of
  attempts and a total deadline, sleeping with the injected ``sleep``. Each
  retry is logged at INFO. After the last attempt a rate limit raises
  :class:`~monitor.errors.RateLimitedError`, a failure to reach Yahoo at all
  (connection refused, DNS, proxy, TLS, connect timeout: no HTTP answer)
  :class:`~monitor.errors.PriceSourceUnavailableError`, anything else
  :class:`~monitor.errors.PriceError`; nothing partial is returned.
* Unknown or delisted symbol -> ``NO_DATA``, never retried. yfinance 1.7
  reports it in three ways: the time zone probe fails (``YFTzMissingError``,
  "possibly delisted; no timezone found"); the first two such failures of a
  process also ask ``quoteSummary``, whose HTTP 404 surfaces as curl_cffi's
  ``HTTPError``; a symbol whose time zone is already cached gets Yahoo's own
  reason ("No data found, symbol may be delisted").
* Any other answer Yahoo explains (for example its HTTP 422 "1m data not
  available ... must be within the last 30 days") or that yfinance cannot
  read -> :class:`~monitor.errors.PriceError` at once.

A range without bars makes yfinance raise the same ``YFPricesMissingError``
("possibly delisted; no price data found") as a dead symbol; the two are told
apart by the chart answer's metadata, which yfinance keeps: when Yahoo
answered with the symbol's exchange time zone the symbol exists.

Several symbols
---------------
:meth:`~YahooPriceSource.fetch_many` asks one ``Ticker.history`` per symbol,
in order, not ``yf.download``: Yahoo's v8 chart endpoint takes one symbol, so
``download`` also makes one request per ticker (with ``threads=False`` one
after the other, so it is not faster), and it cannot report per-ticker
failures: it catches every exception, keeps it as a string in a per-call
context that is only logged, returns NaN columns for the failed ticker and
reindexes every ticker onto the union of all dates, so "unknown symbol",
"rate-limited" and "no bar that day" all look alike and a single 429 could
not be retried. :func:`bars_from_history` still reads ``download``'s
``group_by="ticker"`` frames (it picks the ticker by the ``Ticker`` column
level, so a symbol spelled like a column, ``OPEN`` or ``CLOSE``, is never
taken for a price column).

yfinance state to know about
----------------------------
* It keeps one process-wide ``YfData`` object: the ``session`` given to any
  ``Ticker`` becomes the session of every later yfinance request.
* Chart answers for past ranges are cached in memory (an LRU of 64 keyed on
  URL and parameters): asking the same past range twice reaches Yahoo once.
  The cache is cleared before every retry, or a retried 5xx page would be
  served from it.
* Any answer with HTTP status >= 400 is asked a second time by yfinance
  itself (with its other cookie strategy) before it gives up: one attempt
  here can be two HTTP requests.
* ``set_tz_cache_location`` only takes effect before the time zone cache is
  first used in the process; pass ``tz_cache_dir`` before any other yfinance
  call.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import yfinance as yf
from yfinance.data import YfData
from yfinance.exceptions import (
    YFDataException,
    YFException,
    YFPricesMissingError,
    YFRateLimitError,
    YFTickerMissingError,
)

from monitor import clock as _clock
from monitor.calendars import sessions_in_range
from monitor.errors import NoPriceDataError, PriceError, PriceSourceUnavailableError, RateLimitedError
from monitor.prices import (
    ACTION_COLUMNS,
    BAR_COLUMNS,
    DAILY,
    INTRADAY_LIMITS,
    FetchResult,
    FetchStatus,
    empty_actions,
    empty_bars,
    quality_flags,
    usable_interval,
    validate_bars,
)

logger = logging.getLogger(__name__)

__all__ = ["RetryPolicy", "YahooPriceSource", "bars_from_history"]

NAME = "yahoo"
_REQUIRED = ["Open", "High", "Low", "Close", "Volume"]
#: Yahoo reasons that mean "no such symbol" (its HTTP 404 description, yfinance's wording).
_NO_DATA_REASON = re.compile(r"no data found|delisted|not found", re.IGNORECASE)
#: Yahoo reasons that mean a passing server failure.
_TRANSIENT_REASON = re.compile(
    r"internal server error|service unavailable|bad gateway|gateway time-?out|timed? ?out|try again", re.IGNORECASE
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a rate-limited or failing Yahoo request.

    Retry ``n`` (1-based) waits ``min(max_delay, base_delay * factor ** (n - 1))``
    seconds, times a random factor in ``[1 - jitter, 1 + jitter]`` (capped at
    ``max_delay``). At most ``attempts`` tries are made per chart request,
    and no retry starts whose wait would end more than ``deadline`` seconds
    after the fetch began (a fetch split into several chart requests shares
    one deadline).
    """

    attempts: int = 4
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 16.0
    jitter: float = 0.25
    deadline: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if min(self.base_delay, self.max_delay, self.deadline) < 0 or self.factor < 1:
            raise ValueError("RetryPolicy delays and deadline must be >= 0 and factor >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"RetryPolicy.jitter must be in [0, 1), got {self.jitter}")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        base = min(self.max_delay, self.base_delay * self.factor ** (retry - 1))
        return min(self.max_delay, max(0.0, base * (1.0 + self.jitter * rng.uniform(-1.0, 1.0))))


# --------------------------------------------------------------------------- #
# Outcomes of one yfinance call
# --------------------------------------------------------------------------- #


class _Failure(Exception):
    """One failed attempt: ``kind`` is rate_limited, unreachable, transient or failed."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class _Chunk:
    """What one chart request gave: a history frame, or no data (with Yahoo's reason)."""

    history: pd.DataFrame | None = None
    tz: str | None = None
    last_duplicated: bool = False  # yfinance merged two bars of the last day (daily only)
    no_data: str | None = None


class YahooPriceSource:
    """Bars from Yahoo Finance (daily adjusted, or intraday) with typed results.

    Parameters
    ----------
    session
        A curl_cffi ``Session`` (or ``requests`` session) handed to yfinance;
        None lets yfinance build its own. Tests pass a session that replays
        generated answers from a local server.
    tz_cache_dir
        Folder for yfinance's caches (time zones, cookie), set with
        ``yfinance.set_tz_cache_location`` when the source is built. Must be
        given before yfinance first uses its caches in the process.
    retry
        The :class:`RetryPolicy` for rate limits and transient failures.
    sleep, clock, rng
        Waiting, the monotonic clock the deadline is measured with, and the
        jitter's random numbers; tests inject fakes so retries take no time.
    """

    name = NAME
    #: seconds yfinance waits for each HTTP answer
    timeout: float = 10.0

    def __init__(
        self,
        session: object | None = None,
        *,
        tz_cache_dir: str | os.PathLike[str] | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, immutable default
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self.retry = retry
        self._sleep = sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        # Make yfinance raise instead of logging and returning an empty frame.
        yf.config.debug.hide_exceptions = False
        if tz_cache_dir is not None:
            yf.set_tz_cache_location(os.fspath(tz_cache_dir))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(session={type(self.session).__name__ if self.session else None}, retry={self.retry})"

    # -- the PriceSource protocol -------------------------------------------
    def fetch(
        self,
        symbol: str,
        start: date,
        end: date,
        interval: str = DAILY,
        *,
        calendar: str | None = None,
        now: datetime | None = None,
    ) -> FetchResult:
        """Bars of ``symbol`` for sessions ``start``..``end`` inclusive (see the module's notes).

        Raises
        ------
        RateLimitedError
            Yahoo kept answering HTTP 429 through every retry.
        PriceSourceUnavailableError
            Yahoo could not be reached at all through every retry.
        PriceError
            Any other failure (network, Yahoo down, an answer Yahoo explains
            or yfinance cannot read), after the retries where it may pass.
        ValueError
            ``start`` is after ``end``, an empty symbol, an unknown interval.
        """
        symbol = symbol.strip()
        if not symbol:
            raise ValueError("an empty symbol has no prices")
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        now = now or _clock.now()
        used, fallback = usable_interval(interval, start, now)
        if fallback:
            logger.info("Yahoo %s bars of %s: %s; using %s", interval, symbol, fallback, used)

        def result(status: FetchStatus, bars: pd.DataFrame, actions: pd.DataFrame, why: str | None = None) -> FetchResult:
            reason = "; ".join(r for r in (fallback, why) if r) or None
            return FetchResult(symbol, interval, used, status, bars, actions, reason)

        open_days: set[date] | None = None
        if calendar is not None:
            open_days = {ts.date() for ts in sessions_in_range(calendar, start, end)}
            if not open_days:
                return result(FetchStatus.NO_BARS_EXPECTED, empty_bars(), empty_actions(),
                              f"no {calendar} session from {start} to {end}")

        chunks: list[_Chunk] = []
        started = self._clock()  # the retry deadline covers the whole fetch
        for first, last in _spans(start, end, used):
            if open_days is not None and not any(first <= d <= last for d in open_days):
                continue  # the market is closed throughout this part: nothing to ask
            chunk = self._request(symbol, first, last, used, (start, end), started)
            if chunk.no_data is not None:
                return result(FetchStatus.NO_DATA, empty_bars(), empty_actions(), chunk.no_data)
            chunks.append(chunk)

        frames = [c.history for c in chunks if c.history is not None and not c.history.empty]
        tz = next((c.tz for c in reversed(chunks) if c.tz), None)
        if not frames:
            return result(FetchStatus.OK, empty_bars(), empty_actions())
        history = pd.concat(frames) if len(frames) > 1 else frames[0]
        bars, actions = bars_from_history(
            history, symbol, used, tz=tz, duplicated_last=bool(chunks and chunks[-1].last_duplicated)
        )
        bars, actions = _within(bars, start, end), _within(actions, start, end)
        return result(FetchStatus.OK, bars, actions)

    def fetch_many(
        self,
        symbols: Sequence[str],
        start: date,
        end: date,
        interval: str = DAILY,
        *,
        calendars: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> dict[str, FetchResult]:
        """:meth:`fetch` for each symbol (blank and repeated ones skipped), in order.

        One ``Ticker.history`` per symbol rather than ``yf.download``: see the
        module's notes. A failure (rate limit, network) after the retries
        raises and nothing is returned; an unknown symbol is its ``NO_DATA``
        result.
        """
        now = now or _clock.now()
        calendars = calendars or {}
        results: dict[str, FetchResult] = {}
        for symbol in dict.fromkeys(s.strip() for s in symbols):
            if symbol:
                results[symbol] = self.fetch(symbol, start, end, interval, calendar=calendars.get(symbol), now=now)
        return results

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Daily adjusted bars of ``symbol`` for sessions ``start``..``end`` inclusive.

        ``fetch(symbol, start, end).bars``: empty when Yahoo knows the symbol
        but has no bar in the range.

        Raises
        ------
        NoPriceDataError
            Yahoo does not know the symbol (unknown, delisted).
        RateLimitedError, PriceError
            As :meth:`fetch`.
        """
        result = self.fetch(symbol, start, end)
        if result.status is FetchStatus.NO_DATA:
            raise _no_data(result.symbol, start, end, result.reason or "unknown symbol")
        return result.bars

    # -- one chart request, with retries ----------------------------------------
    def _request(
        self, symbol: str, first: date, last: date, interval: str, asked: tuple[date, date], started: float
    ) -> _Chunk:
        """One chart request (``first..last``) with retries; ``started`` is when the fetch began."""
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(symbol, first, last, interval)
            except _Failure as failure:
                elapsed = self._clock() - started
                if failure.kind == "failed":
                    raise _failed(symbol, *asked, failure.reason) from failure.__cause__
                delay = policy.delay(attempt, self._rng)
                if attempt >= policy.attempts or elapsed + delay > policy.deadline:
                    tried = _tried(attempt, self._clock() - started)
                    if failure.kind == "rate_limited":
                        raise RateLimitedError(
                            f"Yahoo is rate-limiting requests ({symbol}, {tried}); wait a few minutes and retry"
                        ) from failure.__cause__
                    if failure.kind == "unreachable":
                        raise PriceSourceUnavailableError(
                            f"cannot reach Yahoo Finance (asked for {symbol}, {tried}): {failure.reason}; "
                            "check the network connection, or set MONITOR_PRICE_SOURCE=snapshot to work offline"
                        ) from failure.__cause__
                    raise _failed(symbol, *asked, f"{failure.reason} ({tried})") from failure.__cause__
                logger.info(
                    "Yahoo %s for %s (%s..%s, %s): retry %d of %d in %.1f s",
                    "rate-limited" if failure.kind == "rate_limited" else f"failed ({failure.reason})",
                    symbol, first, last, interval, attempt, policy.attempts - 1, delay,
                )
                _forget_cached_answers()
                self._sleep(delay)

    def _attempt(self, symbol: str, first: date, last: date, interval: str) -> _Chunk:
        """One ``history()`` call; raises :class:`_Failure` for what may be retried or must fail."""
        ticker = yf.Ticker(symbol, session=self.session)
        try:
            history = ticker.history(
                start=first,
                end=last + timedelta(days=1),  # yfinance's end is exclusive
                interval=interval,
                prepost=False,
                actions=True,
                auto_adjust=False,
                back_adjust=False,
                repair=False,
                keepna=True,
                rounding=False,
                timeout=self.timeout,
            )
        except YFPricesMissingError as exc:
            reason = _reason(exc)
            if exc.yahoo_reason is None:
                meta = _metadata(ticker)
                if meta.get("exchangeTimezoneName"):
                    logger.debug("Yahoo has no %s %s bars between %s and %s: %s", symbol, interval, first, last, reason)
                    return _Chunk(tz=str(meta["exchangeTimezoneName"]))
                return _Chunk(no_data=reason)
            if _NO_DATA_REASON.search(exc.yahoo_reason):
                return _Chunk(no_data=reason)
            kind = "transient" if _TRANSIENT_REASON.search(exc.yahoo_reason) else "failed"
            raise _Failure(kind, reason) from exc
        except YFTickerMissingError as exc:  # includes YFTzMissingError
            return _Chunk(no_data=_reason(exc))
        except Exception as exc:  # noqa: BLE001 - sorted into retry, no data or failure below
            kind, reason = _classify(exc)
            if kind == "no_data":
                return _Chunk(no_data=reason)
            raise _Failure(kind, reason) from exc
        meta = _metadata(ticker)
        return _Chunk(
            history=history,
            tz=meta.get("exchangeTimezoneName"),
            last_duplicated=interval == DAILY and "lastTrade" in meta,
        )


# --------------------------------------------------------------------------- #
# Normalising yfinance's frames
# --------------------------------------------------------------------------- #


def bars_from_history(
    history: pd.DataFrame,
    symbol: str,
    interval: str = DAILY,
    *,
    tz: str | None = None,
    duplicated_last: bool = False,
    source: str = NAME,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """yfinance's frame (``auto_adjust=False, actions=True``) -> bars and actions of ``symbol``.

    ``history`` is what ``Ticker.history`` returns (flat columns) or what
    ``yf.download(..., group_by="ticker")`` or ``group_by="column"`` returns
    (two column levels, named ``Ticker`` and ``Price``; the ``Ticker`` level
    is matched case-insensitively on ``symbol``, so a symbol spelled like a
    price column is no problem). ``tz`` is the exchange's time zone (Yahoo's
    ``exchangeTimezoneName``): it localises a naive index, and an aware index
    is converted to it. ``duplicated_last`` flags the last bar ``duplicate``
    (yfinance dropped an earlier copy of it). Daily bars come out adjusted,
    intraday bars as Yahoo sent them (``adjusted=False``); data-quality rules
    as in the module's notes. Returns frames following :data:`BAR_COLUMNS`
    and :data:`ACTION_COLUMNS`.
    """
    frame = _one_ticker(history, symbol)
    if frame.empty:
        return empty_bars(), empty_actions()
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise PriceError(f"Yahoo prices for {symbol} came without columns {missing}; yfinance may have changed its output")
    daily = interval == DAILY
    index = pd.DatetimeIndex(frame.index)
    if index.tz is None:
        index = index.tz_localize(tz or "UTC")
    elif tz is not None:
        index = index.tz_convert(tz)
    local = index.tz_localize(None).as_unit("ns")
    session = local.normalize()
    ts = session.tz_localize("UTC") if daily else index.tz_convert("UTC").as_unit("ns")

    def column(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.zeros(len(frame)) if name in ("Dividends", "Stock Splits") else np.full(len(frame), np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")

    work = pd.DataFrame(
        {
            "ts": ts,
            "session": session,
            "open": column("Open"),
            "high": column("High"),
            "low": column("Low"),
            "close": column("Close"),
            "adj": column("Adj Close") if "Adj Close" in frame.columns else column("Close"),
            "volume": column("Volume"),
            "dividend": column("Dividends"),
            "split": column("Stock Splits"),
        }
    )
    work = work.sort_values("ts", kind="stable").reset_index(drop=True)
    actions = _actions(work, symbol)

    # a bar Yahoo sent more than once is flagged duplicate, whichever copy is kept
    work["duplicate"] = work["ts"].duplicated(keep=False).to_numpy()

    # rows without any price: a daily one is kept (flagged nan) when it is its session's only
    # information; intraday ones are dropped (yfinance's resampling also makes them for closed hours)
    no_price = work[["open", "high", "low", "close"]].isna().all(axis=1)
    if daily:
        priced = work["session"].isin(set(work.loc[~no_price, "session"]))
        first_unpriced = ~work["session"].where(no_price).duplicated()
        work = work.loc[~no_price | (~priced & first_unpriced)].reset_index(drop=True)
        work.loc[work[["open", "high", "low", "close"]].isna().all(axis=1), "volume"] = np.nan  # yfinance wrote 0
    else:
        work = work.loc[~no_price].reset_index(drop=True)

    # duplicates: keep the last copy
    work = work.loc[~work["ts"].duplicated(keep="last")].reset_index(drop=True)
    if duplicated_last and len(work):
        work.loc[work.index[-1], "duplicate"] = True

    if daily:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = work["adj"].to_numpy() / work["close"].to_numpy()
        for col in ("open", "high", "low"):
            work[col] = work[col].to_numpy() * ratio
        work["close"] = work["adj"]

    n = len(work)
    bars = pd.DataFrame(
        {
            "symbol": pd.Series([symbol] * n, dtype=object),
            "interval": pd.Series([interval] * n, dtype=object),
            "ts": work["ts"].astype("datetime64[ns, UTC]"),
            "session": work["session"].astype("datetime64[ns]"),
            **{col: work[col].astype("float64") for col in ("open", "high", "low", "close", "volume")},
            "adjusted": pd.Series([daily] * n, dtype=bool),
            "final": pd.Series([False] * n, dtype=bool),
            "source": pd.Series([source] * n, dtype=object),
        }
    )
    bars["flags"] = quality_flags(bars, actions, work["duplicate"].tolist()).astype(object)
    bars = bars[BAR_COLUMNS]
    return validate_bars(bars, f"Yahoo bars for {symbol}"), actions


def _one_ticker(history: pd.DataFrame | None, symbol: str) -> pd.DataFrame:
    """The flat frame of ``symbol`` out of a one- or many-ticker yfinance frame."""
    if history is None:
        return pd.DataFrame()
    columns = history.columns
    if not isinstance(columns, pd.MultiIndex):
        return history
    if columns.nlevels != 2:
        raise PriceError(f"Yahoo prices for {symbol} came with {columns.nlevels} column levels; yfinance may have changed its output")
    names = list(columns.names)
    if "Ticker" in names:
        level = names.index("Ticker")
    else:  # unnamed levels: the price level is the one holding the price column names
        level = 1 if set(_REQUIRED) <= set(columns.get_level_values(0)) else 0
    tickers = {str(t).upper(): t for t in columns.get_level_values(level).unique()}
    key = tickers.get(symbol.upper())
    if key is None:
        return pd.DataFrame()
    frame = history.xs(key, axis=1, level=level)
    return frame.dropna(how="all") if not frame.empty else frame


def _actions(work: pd.DataFrame, symbol: str) -> pd.DataFrame:
    rows = []
    for kind, col in (("split", "split"), ("dividend", "dividend")):
        hit = work.loc[work[col].fillna(0) > 0, ["session", col]]
        rows += [(symbol, s, kind, float(v)) for s, v in zip(hit["session"], hit[col], strict=True)]
    if not rows:
        return empty_actions()
    actions = pd.DataFrame(rows, columns=ACTION_COLUMNS)
    actions["symbol"] = actions["symbol"].astype(object)
    actions["kind"] = actions["kind"].astype(object)
    actions["session"] = actions["session"].astype("datetime64[ns]")
    actions["value"] = actions["value"].astype("float64")
    actions = actions.drop_duplicates(["session", "kind"], keep="last")
    return actions.sort_values(["session", "kind"], kind="stable").reset_index(drop=True)


def _within(frame: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Rows whose session is in ``start..end``."""
    if frame.empty:
        return frame
    sessions = frame["session"]
    inside = (sessions >= pd.Timestamp(start)) & (sessions <= pd.Timestamp(end))
    return frame if inside.all() else frame.loc[inside].reset_index(drop=True)


def _spans(start: date, end: date, interval: str) -> Iterator[tuple[date, date]]:
    """``start..end`` cut into parts no longer than one request of ``interval`` may cover."""
    limit = INTRADAY_LIMITS.get(interval)
    if limit is None:
        yield start, end
        return
    days = max(1, limit.max_span.days)
    first = start
    while first <= end:
        last = min(end, first + timedelta(days=days - 1))
        yield first, last
        first = last + timedelta(days=1)


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


def _classify(exc: BaseException) -> tuple[str, str]:
    """(kind, reason) of an exception out of yfinance: rate_limited, transient, no_data or failed."""
    if isinstance(exc, YFRateLimitError):
        return "rate_limited", "HTTP 429 Too Many Requests"
    if isinstance(exc, YFDataException) and "currently down" in str(exc).lower():
        return "transient", "Yahoo Finance is down (its \"Will be right back\" page)"
    if isinstance(exc, YFException):
        return "failed", _reason(exc)
    if isinstance(exc, json.JSONDecodeError):
        # yfinance reads the body whatever the HTTP status: an HTML 5xx page lands here
        return "transient", f"Yahoo's answer is not JSON ({_one_line(str(exc))})"
    if isinstance(exc, OSError):  # curl_cffi and requests exceptions, socket errors, timeouts
        status = _status(exc)
        reason = _http_reason(exc, status)
        if status == 429 or "too many requests" in reason.lower():
            return "rate_limited", reason
        if status == 404:
            return "no_data", reason
        if status is not None and status < 500:
            return "failed", reason
        if status is None and _unreachable(exc):
            return "unreachable", reason
        return "transient", reason
    if isinstance(exc, (KeyError, IndexError, TypeError, ValueError)):
        return "failed", f"yfinance could not read Yahoo's answer ({type(exc).__name__}: {_one_line(str(exc))})"
    raise exc


def _unreachable(exc: BaseException) -> bool:
    """No HTTP answer at all: refused, DNS, proxy, TLS, connect timeout (curl_cffi, requests or the OS)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ConnectionError", "DNSError", "ConnectTimeout", "ProxyError", "SSLError"}) or isinstance(
        exc, socket.gaierror
    )


def _metadata(ticker: Any) -> Mapping[str, Any]:
    """The last chart answer's metadata (no request: only called after ``history()``)."""
    try:
        return ticker.get_history_metadata() or {}
    except Exception:  # noqa: BLE001 - no metadata means Yahoo did not answer for the symbol
        return {}


def _forget_cached_answers() -> None:
    """Empty yfinance's in-memory cache of chart answers, so that a retry asks Yahoo again."""
    YfData.cache_get.cache_clear()


def _tried(attempts: int, elapsed: float) -> str:
    return f"{attempts} attempt{'s' if attempts != 1 else ''} over {elapsed:.0f} s"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _reason(exc: BaseException) -> str:
    """yfinance's message without its ``$SYMBOL: `` prefix."""
    text = _one_line(str(exc))
    if text.startswith("$") and ": " in text:
        text = text.split(": ", 1)[1]
    return text or type(exc).__name__


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    # curl_cffi's connection errors carry a response with status 0: no HTTP answer at all
    return status if isinstance(status, int) and status >= 100 else None


def _http_reason(exc: BaseException, status: int | None) -> str:
    """The error description of a Yahoo JSON error body, else the exception text."""
    response = getattr(exc, "response", None)
    description = None
    if response is not None:
        try:
            body = response.json()
            for value in body.values() if isinstance(body, dict) else ():
                error = value.get("error") if isinstance(value, dict) else None
                if isinstance(error, dict) and error.get("description"):
                    description = str(error["description"])
                    break
        except Exception:  # noqa: BLE001 - not JSON: fall back to the exception text
            description = None
    text = description or str(exc) or type(exc).__name__
    if status is not None and str(status) not in text:
        text = f"HTTP {status}: {text}"
    return _one_line(text)


def _no_data(symbol: str, start: date, end: date, reason: str) -> NoPriceDataError:
    return NoPriceDataError(f"no Yahoo prices for {symbol} between {start} and {end}: {reason}; check the symbol")


def _failed(symbol: str, start: date, end: date, reason: str) -> PriceError:
    return PriceError(f"could not fetch Yahoo prices for {symbol} between {start} and {end}: {reason}")
