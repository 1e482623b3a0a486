"""Price sources, the bar-frame contract and the fetch result.

A price source returns bars as one long frame, whatever its origin:

========  ======================  =============================================
column    dtype                   meaning
========  ======================  =============================================
symbol    object (str)            the instrument's symbol
interval  object (str)            ``"1d"``, or an intraday interval (``"5m"``)
ts        datetime64[ns, UTC]     bar start; for daily bars the session label at 00:00 UTC
session   datetime64[ns] (naive)  the trading session the bar belongs to
open      float64                 price, NaN when unknown
high      float64
low       float64
close     float64                 split/dividend adjusted when ``adjusted``
volume    float64
adjusted  bool                    prices adjusted for splits and dividends
final     bool                    the session is over: the bar will not change
source    object (str)            the source's name (``snapshot``, ``yahoo``)
flags     object (str)            data-quality flags, space-separated, "" when none:
                                  ``duplicate`` (the source sent the bar twice;
                                  the last copy is kept), ``nan`` (no price),
                                  ``split_move`` (a one-day move over 50 % on a
                                  split date: mechanical, never a market alert)
========  ======================  =============================================

Rows are unique on (symbol, interval, adjusted, ts) and sorted by symbol and
ts. :func:`validate_bars` checks this at a source's exit.

A fetch answers with a :class:`FetchResult`: the bars, the corporate actions
in the range (splits and dividends), the interval actually used (a request
beyond what the source keeps falls back to a coarser one, see
:data:`INTRADAY_LIMITS`) and a :class:`FetchStatus` that tells apart "no bars
expected" (the market was closed throughout), "no data" (the source does not
know the symbol, with the reason) and bars. Failures (a rate limit that
outlasts the retries, the network) raise :class:`~monitor.errors.PriceError`
subclasses instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from monitor.errors import DataValidationError

BAR_COLUMNS = [
    "symbol", "interval", "ts", "session", "open", "high", "low", "close", "volume",
    "adjusted", "final", "source", "flags",
]
PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]
#: Corporate actions: ``kind`` is "split" (``value`` = new shares per old share, 4.0 for 4-for-1)
#: or "dividend" (``value`` = cash per share); ``session`` the ex-date's session (naive).
ACTION_COLUMNS = ["symbol", "session", "kind", "value"]

DAILY = "1d"
#: Intervals a source may be asked for, finest first.
INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1d")


@dataclass(frozen=True)
class IntradayLimit:
    """How far back a source keeps bars of an interval, and the longest span one request may cover."""

    max_age: timedelta
    max_span: timedelta


#: Yahoo's limits: 1m bars for the last 30 days, 7 days per request; 2m-90m for 60 days; 60m for 730 days.
INTRADAY_LIMITS: Mapping[str, IntradayLimit] = {
    "1m": IntradayLimit(timedelta(days=30), timedelta(days=7)),
    "2m": IntradayLimit(timedelta(days=60), timedelta(days=60)),
    "5m": IntradayLimit(timedelta(days=60), timedelta(days=60)),
    "15m": IntradayLimit(timedelta(days=60), timedelta(days=60)),
    "30m": IntradayLimit(timedelta(days=60), timedelta(days=60)),
    "90m": IntradayLimit(timedelta(days=60), timedelta(days=60)),
    "60m": IntradayLimit(timedelta(days=730), timedelta(days=730)),
}
#: Where a request beyond an interval's limit falls back: the next coarser interval.
FALLBACK: Mapping[str, str] = {
    "1m": "5m", "2m": "5m", "5m": "15m", "15m": "30m", "30m": "60m", "90m": "60m", "60m": "1d",
}


def usable_interval(interval: str, start: date, now: datetime) -> tuple[str, str | None]:
    """The finest interval, ``interval`` or coarser, whose bars still reach back to ``start``.

    Returns the interval and, when it differs from the one asked for, why
    ("1m bars are kept for 30 days; 2025-01-02 is older").
    """
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)}")
    used, reason = interval, None
    while used in INTRADAY_LIMITS and start < (now - INTRADAY_LIMITS[used].max_age).date():
        reason = reason or (
            f"{interval} bars are kept for {INTRADAY_LIMITS[interval].max_age.days} days; {start} is older"
        )
        used = FALLBACK[used]
    return used, reason


class FetchStatus(StrEnum):
    """What a fetch found."""

    OK = "ok"  #: bars (possibly fewer than sessions: a gap is not an error)
    NO_BARS_EXPECTED = "no_bars_expected"  #: the market was closed for the whole range
    NO_DATA = "no_data"  #: the source does not know the symbol (unknown, delisted): see ``reason``


@dataclass(frozen=True)
class FetchResult:
    """A source's answer for one symbol, range and interval."""

    symbol: str
    requested_interval: str
    interval: str  #: the interval of ``bars``: coarser than requested after a fallback
    status: FetchStatus
    bars: pd.DataFrame = field(repr=False)
    actions: pd.DataFrame = field(repr=False)
    reason: str | None = None  #: why no data, or why the interval fell back

    @property
    def fell_back(self) -> bool:
        return self.interval != self.requested_interval


@runtime_checkable
class PriceSource(Protocol):
    """Something that answers bars for a symbol, a session range and an interval."""

    name: str

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
        """Bars of ``symbol`` for sessions ``start``..``end`` inclusive.

        ``calendar`` (an exchange_calendars code or ``"24/7"``) lets the
        source answer :attr:`FetchStatus.NO_BARS_EXPECTED` without asking
        anyone when the range holds no session; ``now`` (aware UTC) decides
        which intraday intervals still reach back to ``start``. ``final`` may
        be left False: the cache decides it from the calendar.

        Raises
        ------
        RateLimitedError
            The source kept refusing after its retries; nothing was returned.
        PriceError
            Any other failure (network, a malformed answer).
        """
        ...

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
        """:meth:`fetch` for several symbols, in one request where the source can."""
        ...


def empty_bars() -> pd.DataFrame:
    """An empty frame with the bar columns and dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in BAR_COLUMNS})
    for col in ("symbol", "interval", "source", "flags"):
        frame[col] = frame[col].astype(object)
    frame["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["session"] = pd.Series(dtype="datetime64[ns]")
    frame["adjusted"] = frame["adjusted"].astype(bool)
    frame["final"] = frame["final"].astype(bool)
    return frame


def validate_bars(frame: pd.DataFrame, name: str = "bars") -> pd.DataFrame:
    """Check ``frame`` against the bar contract; raise :class:`DataValidationError`."""
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{name}: missing columns {missing}")
    if not isinstance(frame["ts"].dtype, pd.DatetimeTZDtype) or str(frame["ts"].dt.tz) != "UTC":
        raise DataValidationError(f"{name}: column ts must be datetime64 in UTC, got {frame['ts'].dtype}")
    if not pd.api.types.is_datetime64_dtype(frame["session"]) or isinstance(
        frame["session"].dtype, pd.DatetimeTZDtype
    ):
        raise DataValidationError(f"{name}: column session must be naive datetime64, got {frame['session'].dtype}")
    for col in PRICE_COLUMNS:
        if not pd.api.types.is_float_dtype(frame[col]):
            raise DataValidationError(f"{name}: column {col} must be float, got {frame[col].dtype}")
    for col in ("adjusted", "final"):
        if not pd.api.types.is_bool_dtype(frame[col]):
            raise DataValidationError(f"{name}: column {col} must be bool, got {frame[col].dtype}")
    if frame.duplicated(["symbol", "interval", "adjusted", "ts"]).any():
        raise DataValidationError(f"{name}: duplicated bars for the same symbol and time")
    if not frame.empty and not frame["flags"].map(lambda v: isinstance(v, str)).all():
        raise DataValidationError(f"{name}: column flags must hold strings (\"\" when no flag)")
    return frame


def empty_actions() -> pd.DataFrame:
    """An empty frame of corporate actions (:data:`ACTION_COLUMNS`)."""
    return pd.DataFrame(
        {
            "symbol": pd.Series(dtype=object),
            "session": pd.Series(dtype="datetime64[ns]"),
            "kind": pd.Series(dtype=object),
            "value": pd.Series(dtype="float64"),
        }
    )


#: A one-day move larger than this on a split date is flagged ``split_move``.
SPLIT_MOVE = 0.5


def quality_flags(bars: pd.DataFrame, actions: pd.DataFrame | None = None, duplicated: Sequence[bool] = ()) -> pd.Series:
    """The ``flags`` column of a frame of one symbol's bars, sorted by ts.

    ``nan`` where the close is missing; ``duplicate`` where ``duplicated`` (one
    entry per row) is true; ``split_move`` where the close moved more than
    :data:`SPLIT_MOVE` from the previous bar on a session with a split in
    ``actions``.
    """
    flags = [[] for _ in range(len(bars))]
    close = bars["close"].to_numpy(dtype="float64")
    for i in np.flatnonzero(np.isnan(close)):
        flags[i].append("nan")
    for i, dup in enumerate(duplicated):
        if dup:
            flags[i].append("duplicate")
    if actions is not None and not actions.empty and len(close) > 1:
        split_days = set(pd.DatetimeIndex(actions.loc[actions["kind"] == "split", "session"]).normalize())
        if split_days:
            sessions = pd.DatetimeIndex(bars["session"]).normalize()
            with np.errstate(invalid="ignore", divide="ignore"):
                move = np.abs(close[1:] / close[:-1] - 1.0)
            for i in np.flatnonzero(move > SPLIT_MOVE) + 1:
                if sessions[i] in split_days:
                    flags[i].append("split_move")
    return pd.Series([" ".join(f) for f in flags], index=bars.index, dtype=object)
