"""Yahoo v8 chart answers generated from the project's own data.

Every body this module builds has the exact shape of a recorded
``/v8/finance/chart/SYMBOL`` exchange (see ``chart-*.json`` in the shared
recordings of node-yahoo-finance2)::

    {"chart": {"result": [{
        "meta": {currency, symbol, exchangeName, fullExchangeName, instrumentType,
                 firstTradeDate, regularMarketTime, hasPrePostMarketData, gmtoffset,
                 timezone, exchangeTimezoneName, regularMarketPrice, ...,
                 currentTradingPeriod: {pre, regular, post}, dataGranularity,
                 range, validRanges [, tradingPeriods (intraday)]},
        "timestamp": [bar start, UTC seconds],
        "events": {"dividends": {"<ts>": {"amount", "date"}},
                   "splits": {"<ts>": {"date", "numerator", "denominator", "splitRatio"}}},
        "indicators": {"quote": [{"open", "high", "low", "close", "volume"}],
                       "adjclose": [{"adjclose"}]}        # daily answers only
    }], "error": null}}

Daily bars are stamped at the session's open in UTC (14:30 UTC for New York
in winter, 13:30 UTC in summer, 08:00/07:00 UTC for London, 00:00 UTC for
crypto days), as Yahoo does. ``close`` is split-adjusted, ``adjclose`` split-
and dividend-adjusted (Yahoo's multiplier ``1 - dividend / previous close``
for every session before an ex-date).

What is built
-------------
* :func:`daily_body` for the seed symbols (``seeds/prices/daily.csv``: CXW,
  GEO, SPY, IWM from 2024-01-02, BTC-USD from 2024-12-06, to 2025-03-31). The
  seed figures are Yahoo's adjusted ones: they become ``adjclose`` (and the
  adjusted open/high/low), and the raw figures are rebuilt by undoing SPY's
  dividends (:data:`DIVIDENDS`, amounts illustrative). CXW, GEO and IWM get
  no dividend, so their ``adjclose`` equals ``close``.
* Synthetic listings (figures derived from the seeds, documented in
  :data:`LISTINGS`): ``OCDO.L`` (London, GBp, sessions 2025-01-02..2025-03-31
  on the XLON calendar), ``OPEN`` (a symbol spelled like a price column),
  ``XDUP`` (Yahoo sent the last bar twice), ``XNAN`` (a session with null
  prices).
* :func:`split_body`: ``SPLT``, one year of sessions with a 4-for-1 split on
  :data:`SPLIT_DAY` and two dividends, as Yahoo shows it *as of* a date:
  before the split its history is unadjusted and has no split event; from
  the split on the history is split-adjusted (``close``, volume and dividend
  amounts) and the split event is there. ``history_adjusted=False`` gives the
  lag Yahoo sometimes shows: the split event without adjusted history.
* :func:`intraday_body`: synthetic 1m bars for CXW and SPY on the sessions
  2025-02-03..2025-02-14 (pre-market 04:00-09:30, regular 09:30-16:00,
  post-market 16:00-20:00 New York), aggregated to any of 2m, 5m, 15m, 60m,
  90m. A regular session's extremes are the seed day's high and low, its first
  open and last close the seed day's open and close (raw figures: intraday
  answers carry no ``adjclose``). One CXW minute (2025-02-05 12:00 New York)
  has null prices, as Yahoo's minute series often do. ``include_prepost``
  keeps or drops the extended-hours bars and sets ``meta.tradingPeriods`` in
  Yahoo's two shapes (a list of regular periods, or ``{pre, regular, post}``).
* :func:`empty_body`: the answer to a range without bars (the weekend 1-minute
  request): meta only, no ``timestamp``, ``"indicators": {"quote": [{}]}``.

On disk
-------
``tests/data/yahoo/*.json`` holds :func:`recordings` (the static daily
answers) in the replay format ``{"symbol", "status", "note", "body"}``;
``tests/test_prices_yahoo.py`` checks that the files equal what this module
builds. Regenerate them with::

    .venv/bin/python tests/yahoo_fixtures.py --write

(``--check`` reports drift and exits 1). Intraday answers and SPLT are built
in memory by the replay server (they depend on the request).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds" / "prices" / "daily.csv"
DATA_DIR = Path(__file__).resolve().parent / "data" / "yahoo"

VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
INTRADAY_INTERVALS = ("1m", "2m", "5m", "15m", "60m", "90m")
NOT_FOUND = {"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}}

#: Intraday answers cover these sessions (New York).
INTRADAY_FIRST, INTRADAY_LAST = date(2025, 2, 3), date(2025, 2, 14)
INTRADAY_SYMBOLS = ("CXW", "SPY")
#: The minute with null prices in CXW's intraday series (New York wall time).
NULL_MINUTE = datetime(2025, 2, 5, 12, 0)

#: SPLT: 4-for-1 split effective (ex-date) on this session.
SPLIT_DAY = date(2024, 9, 16)
SPLIT_RATIO = 4
SPLIT_FIRST, SPLIT_LAST = date(2024, 4, 1), date(2025, 3, 31)
#: SPLT dividends, cash per share as paid (the first before the split: per old share).
SPLIT_DIVIDENDS = {date(2024, 6, 14): 0.40, date(2024, 12, 13): 0.12}

#: Ex-dividend sessions and cash amounts (illustrative, close to SPY's 2024-2025 distributions).
DIVIDENDS: Mapping[str, Mapping[date, float]] = {
    "SPY": {
        date(2024, 3, 15): 1.594937,
        date(2024, 6, 21): 1.759024,
        date(2024, 9, 20): 1.745531,
        date(2024, 12, 20): 1.965548,
        date(2025, 3, 21): 1.695528,
    },
}


@dataclass(frozen=True)
class Listing:
    """A symbol's static chart metadata and where its figures come from."""

    symbol: str
    calendar: str  # monitor.calendars code: XNYS, XLON, 24/7
    tz: str  # exchangeTimezoneName
    currency: str
    exchange: str  # exchangeName
    full_exchange: str  # fullExchangeName
    instrument: str  # instrumentType
    first_trade: int  # firstTradeDate, UTC seconds
    long_name: str
    short_name: str
    pre_post: bool = True  # hasPrePostMarketData
    price_hint: int = 2
    note: str = ""


LISTINGS: Mapping[str, Listing] = {
    listing.symbol: listing
    for listing in (
        Listing("CXW", "XNYS", "America/New_York", "USD", "NYQ", "NYSE", "EQUITY", 745857000,
                "CoreCivic, Inc.", "CoreCivic, Inc.", note="seed figures; no dividends (adjclose == close)"),
        Listing("GEO", "XNYS", "America/New_York", "USD", "NYQ", "NYSE", "EQUITY", 760368600,
                "The GEO Group, Inc.", "Geo Group Inc (The) REIT", note="seed figures; no dividends (adjclose == close)"),
        Listing("SPY", "XNYS", "America/New_York", "USD", "PCX", "NYSEArca", "ETF", 728317800,
                "SPDR S&P 500 ETF", "SPDR S&P 500", note="seed figures are adjclose; raw figures rebuilt by undoing the dividends of DIVIDENDS (illustrative amounts)"),
        Listing("IWM", "XNYS", "America/New_York", "USD", "PCX", "NYSEArca", "ETF", 959088600,
                "iShares Russell 2000 ETF", "iShares Russell 2000 ETF", note="seed figures; dividends left out (adjclose == close)"),
        Listing("BTC-USD", "24/7", "UTC", "USD", "CCC", "CCC", "CRYPTOCURRENCY", 1410912000,
                "Bitcoin USD", "Bitcoin USD", pre_post=False, note="seed figures; UTC days stamped 00:00 UTC"),
        Listing("OCDO.L", "XLON", "Europe/London", "GBp", "LSE", "LSE", "EQUITY", 1279695600,
                "Ocado Group plc", "OCADO GROUP PLC ORD 2P", pre_post=False,
                note="synthetic: GEO's seed figures x 12 in pence on the XLON sessions 2025-01-02..2025-03-31 (walked in order)"),
        Listing("OPEN", "XNYS", "America/New_York", "USD", "NMS", "NasdaqGS", "EQUITY", 1608647400,
                "Opendoor Technologies Inc.", "Opendoor Technologies Inc", note="synthetic: IWM's seed figures / 200, a symbol spelled like a price column"),
        Listing("SPLT", "XNYS", "America/New_York", "USD", "NYQ", "NYSE", "EQUITY", 946909800,
                "Split Example Corp.", "Split Example Corp.", note="synthetic: see split_body"),
        Listing("XDUP", "XNYS", "America/New_York", "USD", "NYQ", "NYSE", "EQUITY", 745857000,
                "Duplicate Example", "Duplicate Example", note="CXW's seed figures 2025-01-02..2025-02-07; Yahoo sent the last bar twice (same timestamp, the second copy with more volume)"),
        Listing("XNAN", "XNYS", "America/New_York", "USD", "NYQ", "NYSE", "EQUITY", 745857000,
                "Null Row Example", "Null Row Example", note="CXW's seed figures 2025-01-02..2025-02-07; the 2025-02-05 bar has null prices and volume"),
    )
}
#: Symbols whose figures come straight from the seeds.
SEED_SYMBOLS = ("CXW", "GEO", "SPY", "IWM", "BTC-USD")


# --------------------------------------------------------------------------- #
# Seeds, calendars, adjustment
# --------------------------------------------------------------------------- #


@lru_cache(maxsize=1)
def _seed_frame() -> pd.DataFrame:
    frame = pd.read_csv(SEEDS, comment="#")
    frame["session"] = pd.to_datetime(frame["session"]).dt.date
    return frame


def seed_bars(symbol: str) -> pd.DataFrame:
    """The seed's adjusted daily figures of ``symbol``: session (date), open, high, low, close, volume."""
    frame = _seed_frame()
    bars = frame.loc[frame["symbol"] == symbol, ["session", "open", "high", "low", "close", "volume"]]
    if bars.empty:
        raise KeyError(f"no seed figures for {symbol}")
    return bars.sort_values("session").reset_index(drop=True)


def _calendars() -> Any:
    from monitor import calendars  # imported late: the generator's CLI runs from any folder

    return calendars


def sessions(calendar: str, first: date, last: date) -> list[date]:
    return [ts.date() for ts in _calendars().sessions_in_range(calendar, first, last)]


def session_open(calendar: str, day: date) -> int:
    return int(_calendars().session_open(calendar, day).timestamp())


def session_close(calendar: str, day: date) -> int:
    return int(_calendars().session_close(calendar, day).timestamp())


def dividend_factors(closes: Sequence[float], days: Sequence[date], dividends: Mapping[date, float]) -> list[float]:
    """Yahoo's adjclose multipliers: product of ``1 - D / close before the ex-date`` over later ex-dates."""
    factors = [1.0] * len(closes)
    for ex_day, amount in dividends.items():
        if ex_day not in days:
            continue
        i = days.index(ex_day)
        if i == 0:
            continue
        multiplier = 1.0 - amount / closes[i - 1]
        for j in range(i):
            factors[j] *= multiplier
    return factors


def unadjust(adjusted: pd.DataFrame, dividends: Mapping[date, float]) -> pd.DataFrame:
    """Raw figures from dividend-adjusted ones (inverse of :func:`dividend_factors`).

    Walking back from the last session: after the last ex-date raw == adjusted;
    on the session ``p`` before an ex-date ``d`` with multiplier ``M`` still
    to apply, ``raw_p = adj_p / M + D`` and the multiplier becomes ``adj_p / raw_p``.
    """
    days = list(adjusted["session"])
    adj_close = adjusted["close"].tolist()
    factor = [1.0] * len(days)
    running = 1.0
    for i in range(len(days) - 1, -1, -1):
        if i + 1 < len(days) and days[i + 1] in dividends:
            raw_close = adj_close[i] / running + dividends[days[i + 1]]
            running = adj_close[i] / raw_close
        factor[i] = running
    raw = adjusted.copy()
    for col in ("open", "high", "low", "close"):
        raw[col] = [v / f for v, f in zip(adjusted[col], factor, strict=True)]
    return raw


# --------------------------------------------------------------------------- #
# Meta
# --------------------------------------------------------------------------- #


def _zone_fields(tz: str, at: int) -> tuple[str, int]:
    moment = datetime.fromtimestamp(at, timezone.utc).astimezone(ZoneInfo(tz))
    offset = moment.utcoffset() or timedelta(0)
    return moment.tzname() or "UTC", int(offset.total_seconds())


def _local(tz: str, day: date, hh: int, mm: int) -> int:
    return int(datetime.combine(day, time(hh, mm), ZoneInfo(tz)).timestamp())


def trading_periods(listing: Listing, day: date) -> dict[str, tuple[int, int]]:
    """Pre-market, regular and post-market (start, end) of ``day``, UTC seconds."""
    regular = (session_open(listing.calendar, day), session_close(listing.calendar, day))
    if listing.calendar == "24/7":
        return {"pre": (regular[0], regular[0]), "regular": (regular[0], regular[1] - 60), "post": (regular[1] - 60, regular[1] - 60)}
    if listing.calendar == "XLON":
        return {"pre": (_local(listing.tz, day, 7, 15), regular[0]), "regular": regular,
                "post": (regular[1], _local(listing.tz, day, 17, 15))}
    return {"pre": (_local(listing.tz, day, 4, 0), regular[0]), "regular": regular,
            "post": (regular[1], _local(listing.tz, day, 20, 0))}


def _period(listing: Listing, start: int, end: int) -> dict[str, Any]:
    abbr, offset = _zone_fields(listing.tz, start)
    return {"timezone": abbr, "start": start, "end": end, "gmtoffset": offset}


def make_meta(
    listing: Listing,
    granularity: str,
    last_day: date,
    closes: Sequence[float | None],
    highs: Sequence[float | None],
    lows: Sequence[float | None],
    volumes: Sequence[int | None],
) -> dict[str, Any]:
    """Chart ``meta`` as of the session ``last_day`` (its close is ``regularMarketTime``)."""
    periods = trading_periods(listing, last_day)
    market_time = periods["regular"][1]
    abbr, offset = _zone_fields(listing.tz, market_time)
    valid = [i for i, c in enumerate(closes) if c is not None]
    last = valid[-1] if valid else None
    year = [i for i in valid[-252:]]
    return {
        "currency": listing.currency,
        "symbol": listing.symbol,
        "exchangeName": listing.exchange,
        "fullExchangeName": listing.full_exchange,
        "instrumentType": listing.instrument,
        "firstTradeDate": listing.first_trade,
        "regularMarketTime": market_time,
        "hasPrePostMarketData": listing.pre_post,
        "gmtoffset": offset,
        "timezone": abbr,
        "exchangeTimezoneName": listing.tz,
        "regularMarketPrice": closes[last] if last is not None else None,
        "fiftyTwoWeekHigh": max(highs[i] for i in year) if year else None,
        "fiftyTwoWeekLow": min(lows[i] for i in year) if year else None,
        "regularMarketDayHigh": highs[last] if last is not None else None,
        "regularMarketDayLow": lows[last] if last is not None else None,
        "regularMarketVolume": volumes[last] if last is not None else None,
        "longName": listing.long_name,
        "shortName": listing.short_name,
        "chartPreviousClose": closes[valid[0]] if valid else None,
        "priceHint": listing.price_hint,
        "currentTradingPeriod": {name: _period(listing, *periods[name]) for name in ("pre", "regular", "post")},
        "dataGranularity": granularity,
        "range": "",
        "validRanges": list(VALID_RANGES),
    }


# --------------------------------------------------------------------------- #
# Bodies
# --------------------------------------------------------------------------- #


def _num(value: float | None, digits: int | None = None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits) if digits is not None else float(value)


def _vol(value: float | None) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(round(value))


def chart_body(
    listing: Listing,
    days: Sequence[date],
    raw: pd.DataFrame,
    *,
    adjclose: Sequence[float | None] | None,
    dividends: Mapping[date, float] | None = None,
    splits: Mapping[date, int] | None = None,
) -> dict[str, Any]:
    """A daily chart body: ``raw`` (open, high, low, close, volume; one row per day of ``days``)."""
    stamps = [session_open(listing.calendar, d) for d in days]
    quote = {
        "open": [_num(v) for v in raw["open"]],
        "high": [_num(v) for v in raw["high"]],
        "low": [_num(v) for v in raw["low"]],
        "close": [_num(v) for v in raw["close"]],
        "volume": [_vol(v) for v in raw["volume"]],
    }
    result: dict[str, Any] = {
        "meta": make_meta(listing, "1d", days[-1], quote["close"], quote["high"], quote["low"], quote["volume"]),
        "timestamp": stamps,
    }
    events: dict[str, Any] = {}
    if dividends:
        events["dividends"] = {
            str(stamps[days.index(d)]): {"amount": amount, "date": stamps[days.index(d)]}
            for d, amount in sorted(dividends.items()) if d in days
        }
    if splits:
        events["splits"] = {
            str(stamps[days.index(d)]): {"date": stamps[days.index(d)], "numerator": ratio, "denominator": 1,
                                         "splitRatio": f"{ratio}:1"}
            for d, ratio in sorted(splits.items()) if d in days
        }
    if events:
        result["events"] = events
    indicators: dict[str, Any] = {"quote": [quote]}
    if adjclose is not None:
        indicators["adjclose"] = [{"adjclose": [_num(v) for v in adjclose]}]
    result["indicators"] = indicators
    return {"chart": {"result": [result], "error": None}}


def _seed_daily(symbol: str) -> tuple[list[date], pd.DataFrame, list[float], dict[date, float]]:
    """Days, raw figures, adjclose and dividends of a seed symbol."""
    adjusted = seed_bars(symbol)
    dividends = dict(DIVIDENDS.get(symbol, {}))
    raw = unadjust(adjusted, dividends) if dividends else adjusted
    return list(adjusted["session"]), raw, adjusted["close"].tolist(), dividends


@lru_cache(maxsize=None)
def _daily_body_cached(symbol: str) -> str:
    listing = LISTINGS[symbol]
    if symbol in SEED_SYMBOLS:
        days, raw, adjclose, dividends = _seed_daily(symbol)
        return json.dumps(chart_body(listing, days, raw, adjclose=adjclose, dividends=dividends))
    if symbol == "OCDO.L":
        days = sessions("XLON", date(2025, 1, 2), date(2025, 3, 31))
        geo = seed_bars("GEO").iloc[: len(days)].copy()
        for col in ("open", "high", "low", "close"):
            geo[col] = (geo[col] * 12).round(1)
        geo["volume"] = (geo["volume"] / 3).round()
        return json.dumps(chart_body(listing, days, geo, adjclose=geo["close"].tolist()))
    if symbol == "OPEN":
        iwm = seed_bars("IWM")
        for col in ("open", "high", "low", "close"):
            iwm[col] = (iwm[col] / 200).round(4)
        return json.dumps(chart_body(listing, list(iwm["session"]), iwm, adjclose=iwm["close"].tolist()))
    if symbol in ("XDUP", "XNAN"):
        cxw = seed_bars("CXW")
        cxw = cxw[(cxw["session"] >= date(2025, 1, 2)) & (cxw["session"] <= date(2025, 2, 7))].reset_index(drop=True)
        body = chart_body(listing, list(cxw["session"]), cxw, adjclose=cxw["close"].tolist())
        if symbol == "XDUP":
            return json.dumps(with_duplicated_last_row(body))
        return json.dumps(with_null_row(body, session_open("XNYS", date(2025, 2, 5))))
    if symbol == "SPLT":
        return json.dumps(split_body())
    raise KeyError(f"no daily chart for {symbol}")


def daily_body(symbol: str) -> dict[str, Any]:
    """The daily chart body of ``symbol`` (a key of :data:`LISTINGS`), whole range."""
    return json.loads(_daily_body_cached(symbol))


def with_duplicated_last_row(body: Mapping[str, Any], extra_volume: int = 1500) -> dict[str, Any]:
    """``body`` with its last bar sent twice (same timestamp); the second copy has ``extra_volume`` more."""
    body = copy.deepcopy(dict(body))
    result = body["chart"]["result"][0]
    result["timestamp"].append(result["timestamp"][-1])
    for block in result["indicators"].values():
        for series in block:
            for values in series.values():
                values.append(values[-1])
    volume = result["indicators"]["quote"][0]["volume"]
    volume[-1] = (volume[-1] or 0) + extra_volume
    return body


def with_null_row(body: Mapping[str, Any], stamp: int) -> dict[str, Any]:
    """``body`` with every value of the bar at ``stamp`` null (Yahoo's row without a price)."""
    body = copy.deepcopy(dict(body))
    result = body["chart"]["result"][0]
    i = result["timestamp"].index(stamp)
    for block in result["indicators"].values():
        for series in block:
            for values in series.values():
                values[i] = None
    return body


def empty_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """Yahoo's answer without bars (a weekend, a holiday): ``body``'s meta only."""
    result = copy.deepcopy(body["chart"]["result"][0])
    meta = result["meta"]
    meta.pop("tradingPeriods", None)
    return {"chart": {"result": [{"meta": meta, "indicators": {"quote": [{}]}}], "error": None}}


# --------------------------------------------------------------------------- #
# The split symbol
# --------------------------------------------------------------------------- #


def split_body(as_of: date | None = None, *, history_adjusted: bool | None = None) -> dict[str, Any]:
    """SPLT's daily chart as Yahoo shows it on ``as_of`` (default: the last session, 2025-03-31).

    Figures: IWM's seed figures / 4 are the split-adjusted prices, IWM's
    volume the split-adjusted volume. Sessions run from 2024-04-01 to
    ``as_of``. The split (4-for-1, ex-date :data:`SPLIT_DAY`) is *known* once
    ``as_of >= SPLIT_DAY``: the split event is listed and, unless
    ``history_adjusted`` is False, the history before it is split-adjusted
    (prices / 4, volume x 4, dividend amounts / 4), as Yahoo rewrites it.
    Before that the history is what was traded (the pre-split prices 4x
    higher) and there is no split event. ``adjclose`` is ``close`` adjusted for
    the dividends of :data:`SPLIT_DIVIDENDS` up to ``as_of``.
    """
    listing = LISTINGS["SPLT"]
    as_of = as_of or SPLIT_LAST
    known = as_of >= SPLIT_DAY
    adjusted_history = known if history_adjusted is None else history_adjusted
    iwm = seed_bars("IWM")
    iwm = iwm[(iwm["session"] >= SPLIT_FIRST) & (iwm["session"] <= min(as_of, SPLIT_LAST))].reset_index(drop=True)
    if iwm.empty:
        raise ValueError(f"SPLT has no session on or before {as_of}")
    days = list(iwm["session"])
    bars = iwm.copy()
    for col in ("open", "high", "low", "close"):
        bars[col] = (iwm[col] / SPLIT_RATIO).round(4)
    before = [d < SPLIT_DAY for d in days]
    if not adjusted_history:  # what was traded: pre-split prices 4x, volume / 4
        for col in ("open", "high", "low", "close"):
            bars[col] = [v * SPLIT_RATIO if b else v for v, b in zip(bars[col], before, strict=True)]
        bars["volume"] = [round(v / SPLIT_RATIO) if b else v for v, b in zip(bars["volume"], before, strict=True)]
    dividends = {
        d: (amount / SPLIT_RATIO if adjusted_history and d < SPLIT_DAY else amount)
        for d, amount in SPLIT_DIVIDENDS.items() if d <= as_of
    }
    closes = bars["close"].tolist()
    factors = dividend_factors(closes, days, dividends)
    adjclose = [round(c * f, 6) for c, f in zip(closes, factors, strict=True)]
    splits = {SPLIT_DAY: SPLIT_RATIO} if known else None
    return chart_body(listing, days, bars, adjclose=adjclose, dividends=dividends, splits=splits)


# --------------------------------------------------------------------------- #
# Intraday
# --------------------------------------------------------------------------- #


def _bridge(rng: random.Random, n: int) -> list[float]:
    """A random walk of ``n + 1`` points from 0 back to 0."""
    walk = [0.0]
    for _ in range(n):
        walk.append(walk[-1] + rng.gauss(0.0, 1.0))
    end = walk[-1]
    return [w - end * i / n for i, w in enumerate(walk)]


def _regular_path(rng: random.Random, n: int, o: float, h: float, lo: float, c: float) -> list[float]:
    """``n + 1`` prices from ``o`` to ``c`` touching ``h`` and ``lo``, never beyond them."""
    a, b = sorted((rng.randint(n // 8, n // 2), rng.randint(n // 2 + 1, n - n // 8)))
    first, second = (lo, h) if c >= o else (h, lo)
    points = [(0, o), (a, first), (b, second), (n, c)]
    path = [0.0] * (n + 1)
    noise = _bridge(rng, n)
    scale = (h - lo) * 0.04
    for (i0, p0), (i1, p1) in zip(points, points[1:], strict=False):
        for i in range(i0, i1 + 1):
            t = (i - i0) / (i1 - i0) if i1 > i0 else 0.0
            path[i] = p0 + (p1 - p0) * t
    for i in range(n + 1):
        if i not in (0, a, b, n):
            path[i] = min(h, max(lo, path[i] + scale * noise[i]))
    return path


@lru_cache(maxsize=None)
def _minute_rows(symbol: str) -> tuple[tuple[int, str, float | None, float | None, float | None, float | None, int | None], ...]:
    """CXW's or SPY's 1m bars (ts, segment, o, h, l, c, volume) over the intraday sessions."""
    listing = LISTINGS[symbol]
    if symbol not in INTRADAY_SYMBOLS:
        raise KeyError(f"no intraday figures for {symbol}")
    _, raw, _, _ = _seed_daily(symbol)
    raw = raw[(raw["session"] >= INTRADAY_FIRST) & (raw["session"] <= INTRADAY_LAST)]
    rows: list[tuple[int, str, float | None, float | None, float | None, float | None, int | None]] = []
    digits = 4
    previous_close: float | None = None
    for day in raw.itertuples(index=False):
        rng = random.Random(f"{symbol}:{day.session}")
        periods = trading_periods(listing, day.session)
        o, h, lo, c = (round(float(v), digits) for v in (day.open, day.high, day.low, day.close))
        volume = float(day.volume)
        n = (periods["regular"][1] - periods["regular"][0]) // 60
        path = _regular_path(rng, n, o, h, lo, c)
        weights = [1.0 + 2.5 * ((i - n / 2) / (n / 2)) ** 2 for i in range(n)]
        total = sum(weights)
        # pre-market: drift from the previous close to the open; post-market: around the close
        pre_n = (periods["pre"][1] - periods["pre"][0]) // 60
        post_n = (periods["post"][1] - periods["post"][0]) // 60
        start = previous_close if previous_close is not None else o
        pre_path = [start + (o - start) * i / pre_n + 0.002 * o * math.sin(i / 7) for i in range(pre_n + 1)]
        post_path = [c + 0.002 * c * math.sin(i / 5) for i in range(post_n + 1)]
        for segment, begin, prices, count in (
            ("pre", periods["pre"][0], pre_path, pre_n),
            ("regular", periods["regular"][0], path, n),
            ("post", periods["post"][0], post_path, post_n),
        ):
            for i in range(count):
                ts = begin + 60 * i
                bo, bc = round(prices[i], digits), round(prices[i + 1], digits)
                wiggle = abs(bc - bo) * 0.3 + 0.0005 * o
                bh, bl = max(bo, bc) + wiggle * rng.random(), min(bo, bc) - wiggle * rng.random()
                if segment == "regular":
                    bh, bl = min(h, bh), max(lo, bl)
                    vol = int(volume * weights[i] / total)
                else:
                    vol = int(volume * 0.0004 * (1 + rng.random()))
                bar = (ts, segment, bo, round(bh, digits), round(bl, digits), bc, vol)
                local = datetime.fromtimestamp(ts, ZoneInfo(listing.tz)).replace(tzinfo=None)
                if symbol == "CXW" and local == NULL_MINUTE:
                    bar = (ts, segment, None, None, None, None, None)
                rows.append(bar)
        previous_close = c
    return tuple(rows)


_MINUTES = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "60m": 60, "90m": 90}


def _aggregate(rows: Sequence[tuple], minutes: int, listing: Listing) -> list[tuple]:
    """Aggregate 1m rows per segment and day, buckets aligned on each segment's start."""
    if minutes == 1:
        return list(rows)
    out: list[tuple] = []
    buckets: dict[tuple[date, str, int], list[tuple]] = {}
    order: list[tuple[date, str, int]] = []
    starts: dict[tuple[date, str], int] = {}
    zone = ZoneInfo(listing.tz)
    for row in rows:
        ts, segment = row[0], row[1]
        day = datetime.fromtimestamp(ts, zone).date()
        begin = starts.setdefault((day, segment), ts)
        key = (day, segment, begin + (ts - begin) // (60 * minutes) * 60 * minutes)
        if key not in buckets:
            buckets[key] = []
            order.append(key)
        buckets[key].append(row)
    for key in order:
        priced = [r for r in buckets[key] if r[5] is not None]
        if not priced:
            out.append((key[2], key[1], None, None, None, None, None))
            continue
        out.append((
            key[2], key[1], priced[0][2], max(r[3] for r in priced), min(r[4] for r in priced), priced[-1][5],
            sum(r[6] for r in priced),
        ))
    return out


@lru_cache(maxsize=None)
def _intraday_body_cached(symbol: str, interval: str, include_prepost: bool) -> str:
    if interval not in _MINUTES:
        raise KeyError(f"no {interval} intraday figures (have {', '.join(_MINUTES)})")
    listing = LISTINGS[symbol]
    rows = [r for r in _aggregate(_minute_rows(symbol), _MINUTES[interval], listing)
            if include_prepost or r[1] == "regular"]
    days = sessions(listing.calendar, INTRADAY_FIRST, INTRADAY_LAST)
    quote = {
        "open": [r[2] for r in rows],
        "high": [r[3] for r in rows],
        "low": [r[4] for r in rows],
        "close": [r[5] for r in rows],
        "volume": [r[6] for r in rows],
    }
    regular = [r for r in rows if r[1] == "regular"]
    meta = make_meta(listing, interval, days[-1], [r[5] for r in regular], [r[3] for r in regular],
                     [r[4] for r in regular], [r[6] for r in regular])
    periods = [trading_periods(listing, d) for d in days]
    if include_prepost:
        meta["tradingPeriods"] = {
            name: [[_period(listing, *p[name])] for p in periods] for name in ("pre", "regular", "post")
        }
    else:
        meta["tradingPeriods"] = [[_period(listing, *p["regular"])] for p in periods]
    body = {"chart": {"result": [{"meta": meta, "timestamp": [r[0] for r in rows],
                                  "indicators": {"quote": [quote]}}], "error": None}}
    return json.dumps(body)


def intraday_body(symbol: str, interval: str, *, include_prepost: bool = False) -> dict[str, Any]:
    """Synthetic ``interval`` bars of CXW or SPY over the sessions 2025-02-03..2025-02-14."""
    return json.loads(_intraday_body_cached(symbol, interval, include_prepost))


# --------------------------------------------------------------------------- #
# Recordings on disk
# --------------------------------------------------------------------------- #

#: The static daily answers written to tests/data/yahoo (file stem -> symbol).
RECORDED = ("CXW", "GEO", "SPY", "IWM", "BTC-USD", "OCDO.L", "OPEN", "XDUP", "XNAN")


def recordings() -> dict[str, dict[str, Any]]:
    """File name -> replay document (``{"symbol", "status", "note", "body"}``) of every file on disk."""
    docs: dict[str, dict[str, Any]] = {}
    for symbol in RECORDED:
        body = daily_body(symbol)
        stamps = body["chart"]["result"][0]["timestamp"]
        tz = ZoneInfo(LISTINGS[symbol].tz)
        first, last = (datetime.fromtimestamp(t, tz).date() for t in (stamps[0], stamps[-1]))
        docs[f"{symbol}.json"] = {
            "symbol": symbol,
            "status": 200,
            "note": f"Generated by tests/yahoo_fixtures.py: Yahoo v8 chart, interval=1d, sessions {first}..{last}; {LISTINGS[symbol].note}.",
            "body": body,
        }
    docs["_not_found.json"] = {
        "symbol": "*",
        "status": 404,
        "note": "Yahoo v8 chart answer for a symbol it does not know (HTTP 404); served for every symbol without a recording.",
        "body": NOT_FOUND,
    }
    return docs


def dumps(value: Any, indent: int = 0) -> str:
    """JSON with objects one key a line and lists of plain values on one line."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {dumps(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return json.dumps(value)
        items = [f"{inner}{dumps(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value)


def rendered() -> dict[str, str]:
    """File name -> exact file text of every recording."""
    return {name: dumps(doc) + "\n" for name, doc in recordings().items()}


def drift(directory: Path = DATA_DIR) -> list[str]:
    """Files of ``directory`` that differ from (or are missing against) the generator's output."""
    wanted = rendered()
    problems = [name for name, text in wanted.items()
                if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != text]
    problems += [p.name for p in sorted(directory.glob("*.json")) if p.name not in wanted]
    return problems


def write(directory: Path = DATA_DIR) -> list[Path]:
    """Write every recording into ``directory``; remove other ``*.json`` files there."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = rendered()
    for path in directory.glob("*.json"):
        if path.name not in wanted:
            path.unlink()
    written = []
    for name, text in wanted.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the Yahoo chart recordings of tests/data/yahoo from the seeds.")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="(re)write tests/data/yahoo/*.json")
    group.add_argument("--check", action="store_true", help="exit 1 if the files differ from the generator's output")
    parser.add_argument("--dir", type=Path, default=DATA_DIR, help="target folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.write:
        for path in write(args.dir):
            print(path)
        return 0
    stale = drift(args.dir)
    for name in stale:
        print(f"{name}: differs from the generator's output; run tests/yahoo_fixtures.py --write", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
