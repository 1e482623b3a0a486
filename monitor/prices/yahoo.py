"""Daily bars from Yahoo Finance through yfinance (the only module that imports yfinance).

:class:`YahooPriceSource` answers :meth:`daily_bars` with one
``Ticker(symbol, session=...).history(...)`` call: ``interval="1d"``,
``auto_adjust=True`` (OHLC scaled by Yahoo's adjusted close, so the frame is
``adjusted=True``), ``actions=False``, no price repair, and the end date made
inclusive (yfinance's ``end`` is exclusive). The result follows the bar-frame
contract of :mod:`monitor.prices`: ``session`` is the bar's date in the
exchange's time zone (UTC days for crypto) as a naive midnight, ``ts`` that
session at 00:00 UTC, ``final`` False (the caller decides).

Errors
------
yfinance hides errors by default (it logs them and returns an empty frame, so
an unknown symbol and a holiday look the same). This module turns that off
process-wide with ``yfinance.config.debug.hide_exceptions = False`` (the
``history(raise_errors=True)`` argument is deprecated in yfinance 1.x) and
maps what yfinance raises:

* unknown or delisted symbol -> :class:`~monitor.errors.NoPriceDataError`.
  yfinance 1.7 reports it in three ways: the time zone probe fails
  (``YFTzMissingError``, "possibly delisted; no timezone found"); the first two
  such failures of a process also ask ``quoteSummary``, whose HTTP 404
  surfaces as curl_cffi's ``HTTPError``; a symbol whose time zone is already
  cached gets Yahoo's own reason ("No data found, symbol may be delisted").
* HTTP 429 / "Too Many Requests" / ``YFRateLimitError`` ->
  :class:`~monitor.errors.RateLimitedError` (no retry here).
* any other network or HTTP failure, or an answer that is not JSON ->
  :class:`~monitor.errors.PriceError`.

A range without bars (a weekend, a holiday) makes yfinance raise the same
``YFPricesMissingError`` ("possibly delisted; no price data found") as a dead
symbol. The two are told apart by the chart answer's metadata, which yfinance
keeps: when Yahoo answered with the symbol's metadata (its exchange time zone)
the symbol exists and an empty frame is returned.

yfinance state to know about
----------------------------
* It keeps one process-wide ``YfData`` object: the ``session`` given to any
  ``Ticker`` becomes the session of every later yfinance request.
* Chart answers for past ranges are cached in memory (an LRU of 64 keyed on
  URL and parameters): asking the same past range twice reaches Yahoo once.
* ``set_tz_cache_location`` only takes effect before the time zone cache is
  first used in the process; pass ``tz_cache_dir`` before any other yfinance
  call.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import date, timedelta
from typing import Any

import pandas as pd
import yfinance as yf
from yfinance.exceptions import YFException, YFPricesMissingError, YFRateLimitError, YFTickerMissingError

from monitor.errors import NoPriceDataError, PriceError, RateLimitedError
from monitor.prices import BAR_COLUMNS, empty_bars, validate_bars

logger = logging.getLogger(__name__)

__all__ = ["YahooPriceSource"]

_YF_COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}


class YahooPriceSource:
    """Daily, split/dividend-adjusted bars from Yahoo Finance.

    Parameters
    ----------
    session
        A curl_cffi ``Session`` (or ``requests`` session) handed to yfinance;
        None lets yfinance build its own. Tests pass a session that replays
        recorded answers from a local server.
    tz_cache_dir
        Folder for yfinance's caches (time zones, cookie), set with
        ``yfinance.set_tz_cache_location`` when the source is built. Must be
        given before yfinance first uses its caches in the process.
    """

    name = "yahoo"
    #: seconds yfinance waits for each HTTP answer
    timeout: float = 10.0

    def __init__(self, session: object | None = None, *, tz_cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.session = session
        # Make yfinance raise instead of logging and returning an empty frame.
        yf.config.debug.hide_exceptions = False
        if tz_cache_dir is not None:
            yf.set_tz_cache_location(os.fspath(tz_cache_dir))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(session={type(self.session).__name__ if self.session else None})"

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Daily bars of ``symbol`` for sessions ``start``..``end`` inclusive.

        Returns a frame in the bar contract of :mod:`monitor.prices`
        (``interval="1d"``, ``adjusted=True``, ``final=False``,
        ``source="yahoo"``), empty when Yahoo knows the symbol but has no bar
        in the range.

        Raises
        ------
        NoPriceDataError
            Yahoo does not know the symbol (unknown, delisted).
        RateLimitedError
            Yahoo answered HTTP 429.
        PriceError
            Any other network or HTTP failure.
        ValueError
            ``start`` is after ``end``.
        """
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        logger.debug("Yahoo daily bars for %s, %s..%s", symbol, start, end)
        ticker = yf.Ticker(symbol, session=self.session)
        try:
            history = ticker.history(
                start=start,
                end=end + timedelta(days=1),  # yfinance's end is exclusive
                interval="1d",
                auto_adjust=True,
                actions=False,
                repair=False,
                keepna=False,
                timeout=self.timeout,
            )
        except YFRateLimitError as exc:
            raise _rate_limited(symbol, _reason(exc)) from exc
        except YFPricesMissingError as exc:
            if exc.yahoo_reason is None and _yahoo_knows(ticker):
                logger.debug("Yahoo has no %s bars between %s and %s: %s", symbol, start, end, _reason(exc))
                return empty_bars()
            raise _no_data(symbol, start, end, _reason(exc)) from exc
        except YFTickerMissingError as exc:
            raise _no_data(symbol, start, end, _reason(exc)) from exc
        except YFException as exc:
            raise _failed(symbol, start, end, _reason(exc)) from exc
        except json.JSONDecodeError as exc:
            raise _failed(symbol, start, end, f"Yahoo's answer is not JSON ({exc})") from exc
        except OSError as exc:  # curl_cffi and requests exceptions derive from OSError
            status = _status(exc)
            reason = _http_reason(exc, status)
            if status == 429 or "too many requests" in reason.lower():
                raise _rate_limited(symbol, reason) from exc
            if status == 404:
                raise _no_data(symbol, start, end, reason) from exc
            raise _failed(symbol, start, end, reason) from exc
        return _to_bars(history, symbol)


def _to_bars(history: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """yfinance's daily frame (tz-aware local index) -> the bar contract."""
    if history is None or history.empty:
        return empty_bars()
    missing = [c for c in _YF_COLUMNS if c not in history.columns]
    if missing:
        raise PriceError(f"Yahoo prices for {symbol} came without columns {missing}; yfinance may have changed its output")
    index = pd.DatetimeIndex(history.index)
    if index.tz is not None:
        index = index.tz_localize(None)  # wall time in the exchange's zone (UTC for crypto)
    session = index.normalize().as_unit("ns")
    frame = pd.DataFrame(
        {
            "symbol": pd.Series([symbol] * len(history), dtype=object),
            "interval": pd.Series(["1d"] * len(history), dtype=object),
            "ts": session.tz_localize("UTC"),
            "session": session,
        }
    )
    for yf_col, col in _YF_COLUMNS.items():
        frame[col] = history[yf_col].to_numpy(dtype="float64")
    frame["adjusted"] = True
    frame["final"] = False
    frame["source"] = pd.Series(["yahoo"] * len(history), dtype=object)
    frame = frame[BAR_COLUMNS]
    frame = frame.drop_duplicates(subset=["ts"], keep="last").sort_values("ts", kind="stable").reset_index(drop=True)
    return validate_bars(frame, f"Yahoo bars for {symbol}")


def _yahoo_knows(ticker: Any) -> bool:
    """True when the last chart answer carried the symbol's metadata."""
    try:
        meta = ticker.get_history_metadata()
        return bool(meta.get("exchangeTimezoneName"))
    except Exception:  # noqa: BLE001 - no metadata means Yahoo did not answer for the symbol
        return False


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
    return status if isinstance(status, int) else None


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


def _rate_limited(symbol: str, reason: str) -> RateLimitedError:
    return RateLimitedError(
        f"Yahoo is rate-limiting requests (asked for {symbol}: {reason}); wait a few minutes and retry"
    )


def _failed(symbol: str, start: date, end: date, reason: str) -> PriceError:
    return PriceError(f"could not fetch Yahoo prices for {symbol} between {start} and {end}: {reason}")
