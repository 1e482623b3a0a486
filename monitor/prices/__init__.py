"""Price sources and the bar-frame contract.

A price source returns daily bars as one long frame, whatever its origin:

========  ======================  =============================================
column    dtype                   meaning
========  ======================  =============================================
symbol    object (str)            the instrument's symbol
interval  object (str)            ``"1d"``
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
========  ======================  =============================================

Rows are unique on (symbol, interval, adjusted, ts) and sorted by symbol and
ts. :func:`validate_bars` checks this at a source's exit.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

import pandas as pd

from monitor.errors import DataValidationError

BAR_COLUMNS = [
    "symbol", "interval", "ts", "session", "open", "high", "low", "close", "volume",
    "adjusted", "final", "source",
]
PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]


@runtime_checkable
class PriceSource(Protocol):
    """Something that answers daily bars for a symbol and a session range."""

    name: str

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Daily bars of ``symbol`` for sessions ``start``..``end`` inclusive.

        Returns a frame following the module's contract (``final`` may be left
        False: the cache decides it from the calendar). An empty frame means
        the source holds the symbol but has no bar in the range (a holiday, a
        gap); a symbol the source does not know raises
        :class:`~monitor.errors.NoPriceDataError`.
        """
        ...


def empty_bars() -> pd.DataFrame:
    """An empty frame with the bar columns and dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in BAR_COLUMNS})
    for col in ("symbol", "interval", "source"):
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
    return frame
