"""Trading calendars: place a publication time in market time, serve session grids.

This is the only module that imports :mod:`exchange_calendars`. Everything else
asks it two kinds of question:

* *When can this news move the price?* :func:`event_time` maps an aware
  publication timestamp to the first trading session it can move and to its
  :class:`~monitor.models.Timing` (pre-market, regular hours, after hours, a
  non-trading day, date only, or a 24/7 market).
* *Which calendar does this instrument trade on?* :func:`calendar_for` maps a
  Yahoo symbol (and its listing exchange or asset class) to a calendar code.
* *Which sessions surround this one?* :func:`sessions_in_range`,
  :func:`sessions_window`, :func:`session_open`, :func:`session_close` and
  :func:`last_closed_session` answer on the calendar's own session grid, never
  by calendar-day arithmetic.

Conventions
-----------
* Every timestamp passed in must be timezone-aware (any zone); it is converted
  to UTC. A naive timestamp raises :class:`ValueError`.
* A session is a naive :class:`datetime.date` label. Functions that take a
  session also accept a naive midnight :class:`datetime.datetime` (for example
  an element of a returned :class:`pandas.DatetimeIndex`).
* A calendar is an exchange_calendars code (``"XNYS"``, ``"XLON"``, or one of
  its aliases such as ``"NYSE"``) or :data:`~monitor.models.CALENDAR_24_7`.
  The 24/7 calendar trades every UTC day: session ``D`` opens at 00:00 UTC of
  ``D`` and closes at 00:00 UTC of the next day.
* Exchange calendars are built once per process (an alias such as ``"XNAS"``
  shares the grid of its canonical calendar, ``"XNYS"``) and cover the sessions
  from 2000-01-01 (or the calendar's own earliest supported date) to five years
  after today (or its latest supported date). A question outside that range
  raises :class:`~monitor.errors.CalendarError` rather than a silently wrong
  answer. Some calendars of the installed exchange_calendars are bounded:
  XSHG, XBOM and XSES only know their holidays to 2026-12-31, XSAU from 2021;
  XTAE only builds from 2026-01-05 (see :data:`_BUILDABLE_FROM`).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import difflib
import logging
import re
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import numpy as np
import pandas as pd
from exchange_calendars.errors import InvalidCalendarName

from monitor.errors import CalendarError
from monitor.models import CALENDAR_24_7, EventTime, Timing, ensure_utc

__all__ = [
    "FUTURES_CALENDAR",
    "INDEX_CALENDARS",
    "SUFFIX_CALENDARS",
    "calendar_for",
    "calendar_tz",
    "event_time",
    "is_session",
    "last_closed_session",
    "session_close",
    "session_open",
    "sessions_in_range",
    "sessions_window",
]

logger = logging.getLogger(__name__)

#: First date every exchange calendar is built from (unless the calendar's own
#: ``bound_min`` is later).
CALENDAR_START = date(2000, 1, 1)

#: How far past today exchange calendars are built (unless the calendar's own
#: ``bound_max`` is earlier). Five years, so that sessions windows reaching into
#: the future and property tests up to 2030 stay inside the grid; holidays that
#: far ahead are exchange_calendars' rule-based forecast.
CALENDAR_HORIZON = timedelta(days=5 * 366)

#: Calendars the installed exchange_calendars cannot build over the whole range
#: but can from a later date: tried again from that date when the full build
#: fails. XTAE (Tel Aviv): exchange_calendars 4.13 rejects its own pre-2026
#: Sunday early closes ("Special dates ... are not sessions"); from 2026-01-05,
#: when the TASE moved to a Monday-Friday week, it builds.
_BUILDABLE_FROM: Mapping[str, date] = MappingProxyType({"XTAE": date(2026, 1, 5)})

_UTC_ZONE = ZoneInfo("UTC")

_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class _Grid:
    """The session grid of one exchange calendar, as the lookups here need it.

    ``sessions`` is naive ``datetime64[ns]`` (session labels); ``opens`` and
    ``closes`` are ``datetime64[ns, UTC]`` aligned with it. ``start`` and
    ``end`` are the dates the calendar was built for: every session in
    ``start..end`` is in ``sessions``, every other day in it is no session.
    """

    name: str
    canonical: str
    tz: ZoneInfo
    sessions: pd.DatetimeIndex
    opens: pd.DatetimeIndex
    closes: pd.DatetimeIndex
    start: date
    end: date
    #: The same as plain values for the per-event hot path: opens and closes in
    #: integer microseconds since the epoch, session labels as dates.
    open_us: np.ndarray = field(repr=False, compare=False)
    close_us: np.ndarray = field(repr=False, compare=False)
    session_days: tuple[date, ...] = field(repr=False, compare=False)
    session_set: frozenset[date] = field(repr=False, compare=False)


#: Built grids by calendar name, and the errors of names that failed to build
#: (so a bad name costs one attempt per process, not one per event).
_grids: dict[str, _Grid | CalendarError] = {}
_grids_lock = threading.Lock()


# --------------------------------------------------------------------------- #
# Building and caching calendars
# --------------------------------------------------------------------------- #


def _unknown_calendar(name: str) -> CalendarError:
    """The error for a calendar name neither exchange_calendars nor we know."""
    codes = xcals.get_calendar_names(include_aliases=False)
    known = [*xcals.get_calendar_names(include_aliases=True), CALENDAR_24_7]
    guesses = difflib.get_close_matches(name.strip().upper(), known, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(g) for g in guesses)}?" if guesses else ""
    return CalendarError(
        f"unknown trading calendar {name!r}.{hint} Set the instrument's calendar to an"
        f" exchange_calendars code (ISO 10383 MIC, upper case) or {CALENDAR_24_7!r}"
        f" for markets that trade around the clock (crypto). Known codes:"
        f" {', '.join(c for c in codes if c != CALENDAR_24_7)}."
    )


@contextlib.contextmanager
def _library_warnings_silenced() -> Iterator[None]:
    """Silence deprecation warnings while exchange_calendars builds a calendar.

    They come from the library's own use of pandas APIs that pandas 3 and 4
    deprecate (``Series.values`` on tz-aware data, ``DatetimeIndex.weekday``):
    nothing a user of the monitor can act on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _narrowed_range(
    canonical: str, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """A narrower range to retry a failed build over, or None if there is none.

    Some calendars only know their holidays for a bounded range (class methods
    ``bound_min``/``bound_max``): asking for more raises ``ValueError``. Others
    only build from a later date (:data:`_BUILDABLE_FROM`).
    """
    lo, hi = start, end
    first = _BUILDABLE_FROM.get(canonical)
    if first is not None and lo < pd.Timestamp(first):
        lo = pd.Timestamp(first)
    try:
        with _library_warnings_silenced():
            cls = type(xcals.get_calendar(canonical))  # its default range; cached by the library
    except Exception:  # noqa: BLE001  # cannot even build its default range: no bounds to read
        cls = None
    if cls is not None:
        bound_min, bound_max = cls.bound_min(), cls.bound_max()
        if bound_min is not None and lo < bound_min:
            lo = bound_min
        if bound_max is not None and hi > bound_max:
            hi = bound_max
    if (lo, hi) == (start, end) or lo >= hi:
        return None
    return lo, hi


def _get_calendar(canonical: str, start: pd.Timestamp, end: pd.Timestamp) -> xcals.ExchangeCalendar:
    with _library_warnings_silenced():
        return xcals.get_calendar(canonical, start=start, end=end)


def _build_exchange_calendar(name: str) -> tuple[xcals.ExchangeCalendar, date, date]:
    """Create the exchange_calendars calendar ``name`` over the monitor's range.

    Returns the calendar and the first and last dates it was built for.
    """
    try:
        canonical = xcals.resolve_alias(name)
    except InvalidCalendarName:
        raise _unknown_calendar(name) from None
    start = pd.Timestamp(CALENDAR_START)
    end = pd.Timestamp(datetime.now(timezone.utc).date() + CALENDAR_HORIZON)
    try:
        try:
            cal = _get_calendar(canonical, start, end)
        except Exception:
            narrowed = _narrowed_range(canonical, start, end)
            if narrowed is None:
                raise
            start, end = narrowed
            logger.info(
                "calendar %s only covers %s to %s (what the installed exchange_calendars can build)",
                canonical,
                start.date(),
                end.date(),
            )
            cal = _get_calendar(canonical, start, end)
    except Exception as exc:  # noqa: BLE001  # any failure of the library is a CalendarError
        detail = f"{type(exc).__name__}: {exc}"
        if len(detail) > 300:
            detail = detail[:297] + "..."
        raise CalendarError(
            f"exchange_calendars could not build the {canonical} calendar for"
            f" {start.date()} to {end.date()} ({detail}); give the instrument another"
            f" calendar, or install an exchange_calendars version that supports this one"
        ) from exc
    return cal, start.date(), end.date()


def _make_grid(name: str) -> _Grid:
    """Build the calendar ``name`` and keep the arrays the lookups need."""
    began = time.perf_counter()
    cal, start, end = _build_exchange_calendar(name)
    sessions = pd.DatetimeIndex(cal.sessions, freq=None, name=None).as_unit("ns")
    opens = pd.DatetimeIndex(cal.opens, freq=None, name=None).as_unit("ns")
    closes = pd.DatetimeIndex(cal.closes, freq=None, name=None).as_unit("ns")
    days = tuple(d.date() for d in sessions)
    grid = _Grid(
        name=name,
        canonical=cal.name,
        tz=ZoneInfo(cal.tz.key),
        sessions=sessions,
        opens=opens,
        closes=closes,
        start=start,
        end=end,
        open_us=opens.as_unit("us").asi8.copy(),
        close_us=closes.as_unit("us").asi8.copy(),
        session_days=days,
        session_set=frozenset(days),
    )
    logger.debug(
        "built calendar %s (%d sessions, %s to %s) in %.2fs",
        grid.canonical,
        len(grid.sessions),
        start,
        end,
        time.perf_counter() - began,
    )
    return grid


def _load_grid(name: str) -> _Grid:
    """Build the grid of ``name``, sharing the canonical calendar's grid for an alias.

    Called with :data:`_grids_lock` held.
    """
    try:
        canonical = xcals.resolve_alias(name)
    except InvalidCalendarName:
        raise _unknown_calendar(name) from None
    if canonical == name:
        return _make_grid(name)
    base = _grids.get(canonical)
    if base is None:
        try:
            base = _make_grid(canonical)
        except CalendarError as exc:
            base = exc
        _grids[canonical] = base
    if isinstance(base, CalendarError):
        raise CalendarError(*base.args)
    # the same arrays under the alias's name (used in messages)
    return dataclasses.replace(base, name=name)


def _grid(calendar: str) -> _Grid:
    """The cached session grid of the exchange calendar ``calendar``."""
    entry = _grids.get(calendar)
    if entry is None:
        with _grids_lock:
            entry = _grids.get(calendar)
            if entry is None:
                try:
                    entry = _load_grid(calendar)
                except CalendarError as exc:
                    entry = exc
                _grids[calendar] = entry
    if isinstance(entry, CalendarError):
        raise CalendarError(*entry.args)
    return entry


def _is_24_7(calendar: str) -> bool:
    return calendar == CALENDAR_24_7


# --------------------------------------------------------------------------- #
# Small helpers
# --------------------------------------------------------------------------- #


def _as_session_date(value: date, param: str = "session") -> date:
    """``value`` as a plain date; a datetime must be a naive midnight label."""
    if isinstance(value, datetime):
        if value.tzinfo is not None or value.time() != datetime.min.time():
            raise ValueError(
                f"{param} {value!r} is not a session label: pass a naive date"
                " (datetime.date), not a point in time"
            )
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"{param} must be a datetime.date, got {type(value).__name__}")


def _check_covered(grid: _Grid, day: date, what: str) -> None:
    if not grid.start <= day <= grid.end:
        raise CalendarError(
            f"{what} {day} is outside the range the {grid.name} calendar covers"
            f" ({grid.start} to {grid.end}); the monitor builds calendars from"
            f" {CALENDAR_START} to {CALENDAR_HORIZON.days} days after today"
        )


def _session_position(grid: _Grid, session: date) -> int:
    """Position of ``session`` in the grid; CalendarError if it is not a session."""
    _check_covered(grid, session, "session")
    label = pd.Timestamp(session)
    pos = int(grid.sessions.searchsorted(label, side="left"))
    if pos == len(grid.sessions) or grid.sessions[pos] != label:
        raise CalendarError(
            f"{session} is not a trading session of the {grid.name} calendar"
            " (a weekend or a holiday): pass a session date"
        )
    return pos


def _utc(ts: pd.Timestamp) -> datetime:
    """A UTC pandas Timestamp as a plain aware ``datetime`` in UTC."""
    return ts.to_pydatetime().astimezone(timezone.utc)


def _session_index(values: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Session labels as the documented contract: naive, ns, no freq, no name."""
    return pd.DatetimeIndex(values, freq=None, name=None).as_unit("ns")


# --------------------------------------------------------------------------- #
# Which calendar an instrument trades on
# --------------------------------------------------------------------------- #

#: Yahoo Finance symbol suffixes (upper case, with the dot) and the
#: exchange_calendars code of the market they denote. Every code here builds
#: with the installed exchange_calendars (a test builds each one). Where the
#: market has no calendar of its own, a market with the same holidays and
#: (close to) the same hours stands in:
#:
#: * ``.SZ`` Shenzhen -> XSHG (Shanghai: same holidays and hours);
#: * ``.NS`` National Stock Exchange of India -> XBOM (BSE: same holidays and hours);
#: * ``.V`` TSX Venture, ``.CN`` Canadian Securities Exchange, ``.NE`` Cboe
#:   Canada -> XTSE (Toronto);
#: * ``.KQ`` KOSDAQ -> XKRX; ``.TWO`` Taipei Exchange -> XTAI;
#:   ``.IL`` London International Order Book -> XLON;
#: * ``.BE`` Berlin, ``.BM`` Bremen, ``.HA`` Hanover, ``.MU`` Munich -> XFRA
#:   (German holidays; their longer floor hours are not modelled, so evening
#:   news there counts as after hours).
#:
#: ``.AT`` Athens (ASEX) and ``.RO`` Bucharest (XBSE) are left out: their
#: calendars fail to build with the installed exchange_calendars and pandas
#: (Orthodox Easter). ``.TA`` Tel Aviv (XTAE) only covers sessions from
#: 2026-01-05.
SUFFIX_CALENDARS: Mapping[str, str] = MappingProxyType(
    {
        # Americas
        ".TO": "XTSE",  # Toronto Stock Exchange
        ".V": "XTSE",  # TSX Venture
        ".CN": "XTSE",  # Canadian Securities Exchange
        ".NE": "XTSE",  # Cboe Canada (NEO)
        ".SA": "BVMF",  # B3, Sao Paulo
        ".MX": "XMEX",  # Bolsa Mexicana
        ".BA": "XBUE",  # Buenos Aires
        ".SN": "XSGO",  # Santiago
        # Europe
        ".L": "XLON",  # London Stock Exchange
        ".IL": "XLON",  # London International Order Book
        ".DE": "XETR",  # Xetra
        ".F": "XFRA",  # Frankfurt floor
        ".BE": "XFRA",  # Berlin
        ".BM": "XFRA",  # Bremen
        ".HA": "XFRA",  # Hanover
        ".MU": "XFRA",  # Munich
        ".DU": "XDUS",  # Dusseldorf
        ".HM": "XHAM",  # Hamburg
        ".SG": "XSTU",  # Stuttgart
        ".PA": "XPAR",  # Euronext Paris
        ".AS": "XAMS",  # Euronext Amsterdam
        ".BR": "XBRU",  # Euronext Brussels
        ".LS": "XLIS",  # Euronext Lisbon
        ".IR": "XDUB",  # Euronext Dublin
        ".MI": "XMIL",  # Borsa Italiana
        ".MC": "XMAD",  # Bolsa de Madrid
        ".SW": "XSWX",  # SIX Swiss Exchange
        ".VI": "XWBO",  # Wiener Borse
        ".CO": "XCSE",  # Nasdaq Copenhagen
        ".ST": "XSTO",  # Nasdaq Stockholm
        ".OL": "XOSL",  # Oslo Bors
        ".HE": "XHEL",  # Nasdaq Helsinki
        ".IC": "XICE",  # Nasdaq Iceland
        ".TL": "XTAL",  # Nasdaq Tallinn
        ".RG": "XRIS",  # Nasdaq Riga
        ".VS": "XLIT",  # Nasdaq Vilnius
        ".WA": "XWAR",  # Warsaw
        ".PR": "XPRA",  # Prague
        ".BD": "XBUD",  # Budapest
        ".IS": "XIST",  # Borsa Istanbul
        ".ME": "XMOS",  # Moscow
        # Middle East and Africa
        ".TA": "XTAE",  # Tel Aviv (sessions from 2026-01-05 only)
        ".SR": "XSAU",  # Saudi Exchange (sessions from 2021 only)
        ".JO": "XJSE",  # Johannesburg
        # Asia-Pacific
        ".HK": "XHKG",  # Hong Kong
        ".T": "XTKS",  # Tokyo
        ".KS": "XKRX",  # Korea Exchange (KOSPI)
        ".KQ": "XKRX",  # KOSDAQ
        ".SS": "XSHG",  # Shanghai
        ".SZ": "XSHG",  # Shenzhen
        ".TW": "XTAI",  # Taiwan Stock Exchange
        ".TWO": "XTAI",  # Taipei Exchange (OTC)
        ".AX": "XASX",  # ASX
        ".NZ": "XNZE",  # NZX
        ".SI": "XSES",  # Singapore
        ".JK": "XIDX",  # Indonesia
        ".BO": "XBOM",  # BSE
        ".NS": "XBOM",  # National Stock Exchange of India
        ".BK": "XBKK",  # Stock Exchange of Thailand
        ".KL": "XKLS",  # Bursa Malaysia
    }
)

#: Yahoo suffixes whose market's calendar exists in exchange_calendars but does
#: not build with the installed versions: named in the error for them.
_UNBUILDABLE_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {".AT": "ASEX (Athens)", ".RO": "XBSE (Bucharest)"}
)

#: Calendar of Yahoo futures symbols (``GC=F``, ``CL=F``, ``ES=F``): CME Globex
#: (exchange_calendars ``CMES``, alias ``CME``), sessions from 17:00 Chicago
#: time the evening before to 17:00 Chicago time, with CME holidays and early
#: closes. ICE US softs (``KC=F``, ``SB=F``, ``CC=F``) are approximated by it.
FUTURES_CALENDAR = "CMES"

#: Calendars of well-known Yahoo index symbols (``^GSPC``). Other ``^`` symbols
#: need their exchange.
INDEX_CALENDARS: Mapping[str, str] = MappingProxyType(
    {
        "^GSPC": "XNYS",
        "^SPX": "XNYS",
        "^DJI": "XNYS",
        "^NYA": "XNYS",
        "^RUT": "XNYS",
        "^VIX": "XNYS",
        "^IXIC": "XNAS",
        "^NDX": "XNAS",
        "^GSPTSE": "XTSE",
        "^BVSP": "BVMF",
        "^MXX": "XMEX",
        "^FTSE": "XLON",
        "^FTMC": "XLON",
        "^GDAXI": "XETR",
        "^FCHI": "XPAR",
        "^AEX": "XAMS",
        "^IBEX": "XMAD",
        "^SSMI": "XSWX",
        "^N225": "XTKS",
        "^HSI": "XHKG",
        "^KS11": "XKRX",
        "^TWII": "XTAI",
        "^AXJO": "XASX",
        "^STI": "XSES",
        "^JKSE": "XIDX",
        "^BSESN": "XBOM",
        "^NSEI": "XBOM",
    }
)

#: Quote currencies of Yahoo crypto pairs (``BTC-USD``, ``ETH-EUR``, ``SOL-USDT``).
_CRYPTO_QUOTES = frozenset(
    {
        "USD", "USDT", "USDC", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "CNY",
        "KRW", "INR", "BRL", "BTC", "ETH",
    }
)  # fmt: skip
_CRYPTO_PAIR = re.compile(r"^[A-Z0-9]+-([A-Z]+)$")

#: Normalised exchange names (lower case, letters and digits only) of US
#: markets: SEC names (``Nasdaq``, ``NYSE``, ``CBOE``, ``OTC``), Yahoo's full
#: names (``NasdaqGS``, ``NYSEArca``, ``NYSE American``, ``Cboe BZX``) and
#: Yahoo's codes (``NMS``, ``NYQ``, ``PCX``, ``ASE``, ``BTS``, ``PNK``).
_NASDAQ_PREFIXES = ("nasdaq",)
_NASDAQ_CODES = frozenset({"nms", "ngm", "ncm", "nas", "nsq", "xnas"})
_NYSE_PREFIXES = ("nyse", "cboe", "bats", "otc", "pink", "amex", "arca", "iex")
_NYSE_CODES = frozenset(
    {"nyq", "nys", "pcx", "ase", "bts", "bzx", "pnk", "cbo", "xnys", "xase", "arcx", "us"}
)
#: Exchange names that mean a market trading around the clock: Yahoo's crypto
#: (``CCC``) and currency (``CCY``) pseudo-exchanges.
_AROUND_THE_CLOCK = frozenset({"ccc", "ccy", "crypto", "cryptocurrency", "fx", "forex"})


def _normalised_exchange(exchange: str) -> str:
    return re.sub(r"[^a-z0-9]", "", exchange.lower())


def _exchange_calendar(exchange: str) -> str | None:
    """The calendar of a listing exchange by name, or None if it is not known."""
    key = _normalised_exchange(exchange)
    if key.startswith(_NASDAQ_PREFIXES) or key in _NASDAQ_CODES:
        return "XNAS"
    if key.startswith(_NYSE_PREFIXES) or key in _NYSE_CODES:
        return "XNYS"
    if key in _AROUND_THE_CLOCK:
        return CALENDAR_24_7
    code = exchange.strip().upper()
    if code == CALENDAR_24_7:
        return CALENDAR_24_7
    try:
        return xcals.resolve_alias(code)  # an exchange_calendars code or alias: LSE, TSX, XLON
    except InvalidCalendarName:
        return None


def _unknown_exchange(exchange: str, symbol: str) -> CalendarError:
    return CalendarError(
        f"unknown exchange {exchange!r} for symbol {symbol!r}: no trading calendar is"
        " known for it. Give a US exchange (Nasdaq, NYSE, NYSE Arca, NYSE American, Cboe,"
        " OTC), an exchange_calendars code (XLON, XTKS...), or the symbol's Yahoo suffix"
        " (.L, .T...)"
    )


def _is_crypto_pair(symbol: str) -> bool:
    match = _CRYPTO_PAIR.match(symbol)
    return match is not None and match.group(1) in _CRYPTO_QUOTES


def calendar_for(
    symbol: str, *, exchange: str | None = None, asset_class: str | None = None
) -> str:
    """The trading calendar of an instrument, from its Yahoo symbol and listing.

    Parameters
    ----------
    symbol : str
        The Yahoo Finance symbol (``AAPL``, ``BRK-B``, ``SHOP.TO``, ``7203.T``,
        ``BTC-USD``, ``EURUSD=X``, ``GC=F``, ``^GSPC``).
    exchange : str, optional
        The listing exchange as a data source names it: SEC names (``Nasdaq``,
        ``NYSE``, ``CBOE``, ``OTC``), Yahoo names or codes (``NasdaqGS``,
        ``NYSE Arca``, ``NMS``, ``NYQ``), or an exchange_calendars code or alias
        (``XLON``, ``LSE``, ``TSX``).
    asset_class : str, optional
        ``"crypto"`` for crypto assets (any case; an :class:`AssetClass` works).

    Returns
    -------
    str
        An exchange_calendars code or :data:`~monitor.models.CALENDAR_24_7`,
        decided in this order:

        1. ``"24/7"`` for crypto (``asset_class="crypto"``, Yahoo's ``CCC``
           exchange, or, without an exchange, a pair such as ``BTC-USD`` whose
           quote is a currency) and for FX (``EURUSD=X``).
        2. :data:`FUTURES_CALENDAR` (CME Globex) for futures (``GC=F``).
        3. Indices (``^GSPC``): :data:`INDEX_CALENDARS`, else the exchange's.
        4. A Yahoo suffix (``.L``, ``.TO``...): :data:`SUFFIX_CALENDARS`. An
           unknown suffix falls back to the exchange, if one is given and known
           (a US class share written ``BRK.B``).
        5. No suffix: the exchange's calendar (``Nasdaq`` -> ``XNAS``; NYSE,
           NYSE Arca, NYSE American, Cboe, BATS, OTC -> ``XNYS``); no exchange
           -> ``XNYS``.

    Raises
    ------
    CalendarError
        For an unknown suffix (or index) without a known exchange, an unknown
        exchange, or an empty symbol. The message names the symbol and what
        was not recognised.

    Examples
    --------
    >>> calendar_for("AAPL", exchange="Nasdaq"), calendar_for("SHOP.TO"), calendar_for("BTC-USD")
    ('XNAS', 'XTSE', '24/7')
    """
    raw = symbol.strip()
    sym = raw.upper()
    if not sym:
        raise CalendarError("an instrument without a symbol has no trading calendar")
    given = exchange.strip() if exchange is not None and exchange.strip() else None
    listed = _exchange_calendar(given) if given is not None else None

    if asset_class is not None and str(asset_class).strip().lower() == "crypto":
        return CALENDAR_24_7
    if sym.endswith("=X"):
        return CALENDAR_24_7
    if given is None and _is_crypto_pair(sym):
        return CALENDAR_24_7
    if sym.endswith("=F"):
        return FUTURES_CALENDAR
    if listed == CALENDAR_24_7:
        return CALENDAR_24_7

    if sym.startswith("^"):
        if sym in INDEX_CALENDARS:
            return INDEX_CALENDARS[sym]
        if given is None:
            raise CalendarError(
                f"no trading calendar is known for the index {raw!r}: give its exchange,"
                f" or set its calendar (known indices: {', '.join(INDEX_CALENDARS)})"
            )
        if listed is None:
            raise _unknown_exchange(given, raw)
        return listed

    if "." in sym:
        suffix = sym[sym.rindex(".") :]
        if suffix in SUFFIX_CALENDARS:
            return SUFFIX_CALENDARS[suffix]
        if listed is not None:
            return listed  # a dotted class share (BRK.B) on a known exchange
        if suffix in _UNBUILDABLE_SUFFIXES:
            raise CalendarError(
                f"symbol {raw!r} has the Yahoo suffix {suffix!r}, whose calendar"
                f" {_UNBUILDABLE_SUFFIXES[suffix]} the installed exchange_calendars cannot"
                " build; set the instrument's calendar to another exchange_calendars code"
            )
        raise CalendarError(
            f"unknown Yahoo suffix {suffix!r} in symbol {raw!r}: no trading calendar is"
            f" known for it. Known suffixes: {', '.join(sorted(SUFFIX_CALENDARS))}; or"
            " set the instrument's calendar (an exchange_calendars code) explicitly"
        )

    if given is None:
        return "XNYS"
    if listed is None:
        raise _unknown_exchange(given, raw)
    return listed


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #


def event_time(published_at: datetime, calendar: str, *, date_only: bool = False) -> EventTime:
    """Place a publication time in the market time of ``calendar``.

    Parameters
    ----------
    published_at : datetime
        When the article was published; timezone-aware, any zone. For
        date-only articles, 00:00 UTC of the publication date.
    calendar : str
        An exchange_calendars code (``"XNYS"``) or ``"24/7"``.
    date_only : bool, default False
        True when only the publication date is known.

    Returns
    -------
    EventTime
        ``session`` is the first session the news can move and ``timing``
        says where the publication fell:

        * 24/7: the UTC date of ``published_at``, ``CONTINUOUS`` (or
          ``DATE_ONLY``).
        * exchange, ``date_only``: the UTC date of ``published_at`` if it is
          a session, else the next session; ``DATE_ONLY``.
        * exchange, timed: the first session whose close is strictly after
          ``published_at``. The timing is ``REGULAR`` from the open (included)
          to the close (excluded); otherwise it is judged by the local date in
          the exchange's time zone: ``PRE_MARKET`` if that date is the chosen
          session, ``AFTER_HOURS`` if it is an earlier session (whose close
          has passed), ``NON_TRADING_DAY`` if it is no session (weekend,
          holiday). Early closes and daylight saving follow the calendar:
          the comparison is between UTC instants, so a time on either side
          of a clock change is placed by the offset in force at that instant.
        * Lunch breaks (XTKS 11:30-12:30, XHKG 12:00-13:00 local) are part
          of the session: news during the break moves the same session's
          afternoon and its daily bar, so it is ``REGULAR`` on that session.
        * Calendars whose sessions open the evening before (CME Globex,
          ``CMES``) are ``REGULAR`` from that evening open; the session is
          then the next local date.

    Raises
    ------
    ValueError
        If ``published_at`` is naive.
    CalendarError
        If the calendar is unknown or ``published_at`` is outside the range
        the calendar covers.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> ny = ZoneInfo("America/New_York")
    >>> event_time(datetime(2025, 2, 4, 8, 0, tzinfo=ny), "XNYS")
    EventTime(session=datetime.date(2025, 2, 4), timing=<Timing.PRE_MARKET: 'pre_market'>, calendar='XNYS')
    """
    utc = ensure_utc(published_at)
    if _is_24_7(calendar):
        timing = Timing.DATE_ONLY if date_only else Timing.CONTINUOUS
        return EventTime(session=utc.date(), timing=timing, calendar=calendar)

    grid = _grid(calendar)
    if date_only:
        day = utc.date()
        _check_covered(grid, day, "publication date")
        pos = bisect.bisect_left(grid.session_days, day)  # first session >= day
        if pos == len(grid.session_days):
            raise CalendarError(
                f"no {grid.name} session on or after {day} within the calendar's range"
                f" (it ends {grid.end})"
            )
        return EventTime(
            session=grid.session_days[pos], timing=Timing.DATE_ONLY, calendar=calendar
        )

    moment = (utc - _EPOCH) // _ONE_MICROSECOND
    if moment < grid.open_us[0] or moment >= grid.close_us[-1]:
        raise CalendarError(
            f"publication time {utc.isoformat()} is outside the range the {grid.name}"
            f" calendar covers ({_utc(grid.opens[0]).isoformat()} to"
            f" {_utc(grid.closes[-1]).isoformat()})"
        )
    pos = int(np.searchsorted(grid.close_us, moment, side="right"))  # first close > moment
    session = grid.session_days[pos]
    if moment >= grid.open_us[pos]:
        timing = Timing.REGULAR
    else:
        local_day = utc.astimezone(grid.tz).date()
        if local_day == session:
            timing = Timing.PRE_MARKET
        elif local_day in grid.session_set:
            timing = Timing.AFTER_HOURS
        else:
            timing = Timing.NON_TRADING_DAY
    return EventTime(session=session, timing=timing, calendar=calendar)


def is_session(calendar: str, day: date) -> bool:
    """Whether ``day`` is a trading session of ``calendar``.

    Parameters
    ----------
    calendar : str
        An exchange_calendars code or ``"24/7"`` (every day is a session).
    day : date
        The date to test.

    Returns
    -------
    bool

    Raises
    ------
    CalendarError
        If the calendar is unknown or ``day`` is outside its range.
    """
    day = _as_session_date(day, "day")
    if _is_24_7(calendar):
        return True
    grid = _grid(calendar)
    _check_covered(grid, day, "date")
    return pd.Timestamp(day) in grid.sessions


def sessions_in_range(calendar: str, start: date, end: date) -> pd.DatetimeIndex:
    """The sessions of ``calendar`` from ``start`` to ``end``, both included.

    Parameters
    ----------
    calendar : str
        An exchange_calendars code or ``"24/7"``.
    start, end : date
        First and last date of the range (need not be sessions).

    Returns
    -------
    pd.DatetimeIndex
        dtype ``datetime64[ns]``, no time zone, normalised (midnight) session
        labels in increasing order, ``freq`` None. For 24/7 every day.
        Empty if no session falls in the range.

    Raises
    ------
    ValueError
        If ``start`` is after ``end``.
    CalendarError
        If the calendar is unknown or the range leaves the calendar's range.
    """
    start = _as_session_date(start, "start")
    end = _as_session_date(end, "end")
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if _is_24_7(calendar):
        return _session_index(pd.date_range(start, end, freq="D"))
    grid = _grid(calendar)
    _check_covered(grid, start, "start")
    _check_covered(grid, end, "end")
    lo = grid.sessions.searchsorted(pd.Timestamp(start), side="left")
    hi = grid.sessions.searchsorted(pd.Timestamp(end), side="right")
    return _session_index(grid.sessions[lo:hi])


def sessions_window(calendar: str, session: date, before: int, after: int) -> pd.DatetimeIndex:
    """``before`` sessions preceding ``session``, the session and ``after`` following.

    Parameters
    ----------
    calendar : str
        An exchange_calendars code or ``"24/7"``.
    session : date
        A session of ``calendar``.
    before, after : int
        Number of sessions wanted before and after ``session`` (>= 0).

    Returns
    -------
    pd.DatetimeIndex
        ``before + 1 + after`` session labels (same dtype contract as
        :func:`sessions_in_range`), ``session`` at position ``before``.

    Raises
    ------
    ValueError
        If ``before`` or ``after`` is negative.
    CalendarError
        If ``session`` is not a session, or the window leaves the calendar's
        range.
    """
    session = _as_session_date(session)
    if before < 0 or after < 0:
        raise ValueError(f"before and after must be >= 0, got before={before}, after={after}")
    if _is_24_7(calendar):
        first = session - timedelta(days=before)
        return _session_index(pd.date_range(first, periods=before + 1 + after, freq="D"))
    grid = _grid(calendar)
    pos = _session_position(grid, session)
    lo, hi = pos - before, pos + after + 1
    if lo < 0 or hi > len(grid.sessions):
        raise CalendarError(
            f"a window of {before} sessions before and {after} after {session} leaves"
            f" the range the {grid.name} calendar covers ({grid.start} to {grid.end})"
        )
    return _session_index(grid.sessions[lo:hi])


def session_open(calendar: str, session: date) -> datetime:
    """When ``session`` opens, as an aware UTC datetime.

    Parameters
    ----------
    calendar : str
        An exchange_calendars code or ``"24/7"`` (00:00 UTC of ``session``).
    session : date
        A session of ``calendar``.

    Returns
    -------
    datetime
        Aware, UTC.

    Raises
    ------
    CalendarError
        If ``session`` is not a session of ``calendar`` or is out of range.
    """
    session = _as_session_date(session)
    if _is_24_7(calendar):
        return datetime(session.year, session.month, session.day, tzinfo=timezone.utc)
    grid = _grid(calendar)
    return _utc(grid.opens[_session_position(grid, session)])


def session_close(calendar: str, session: date) -> datetime:
    """When ``session`` closes, as an aware UTC datetime (early closes included).

    Parameters
    ----------
    calendar : str
        An exchange_calendars code or ``"24/7"`` (00:00 UTC of the next day).
    session : date
        A session of ``calendar``.

    Returns
    -------
    datetime
        Aware, UTC.

    Raises
    ------
    CalendarError
        If ``session`` is not a session of ``calendar`` or is out of range.
    """
    session = _as_session_date(session)
    if _is_24_7(calendar):
        return session_open(calendar, session) + _ONE_DAY
    grid = _grid(calendar)
    return _utc(grid.closes[_session_position(grid, session)])


def last_closed_session(calendar: str, now: datetime) -> date:
    """The last session whose close is at or before ``now``: its daily bar is final.

    Parameters
    ----------
    calendar : str
        An exchange_calendars code or ``"24/7"``.
    now : datetime
        Timezone-aware current time (any zone).

    Returns
    -------
    date
        The session label.

    Raises
    ------
    ValueError
        If ``now`` is naive.
    CalendarError
        If the calendar is unknown or ``now`` is outside its range.
    """
    utc = ensure_utc(now)
    if _is_24_7(calendar):
        return utc.date() - _ONE_DAY
    grid = _grid(calendar)
    moment = pd.Timestamp(utc)
    pos = int(grid.closes.searchsorted(moment, side="right")) - 1  # last close <= moment
    if pos < 0 or pos == len(grid.closes) - 1:
        raise CalendarError(
            f"{utc.isoformat()} is outside the range the {grid.name} calendar covers"
            f" ({_utc(grid.closes[0]).isoformat()} to {_utc(grid.closes[-1]).isoformat()})"
        )
    return grid.sessions[pos].date()


def calendar_tz(calendar: str) -> ZoneInfo:
    """The time zone of ``calendar``'s exchange (UTC for ``"24/7"``).

    Raises
    ------
    CalendarError
        If the calendar is unknown.
    """
    if _is_24_7(calendar):
        return _UTC_ZONE
    return _grid(calendar).tz
