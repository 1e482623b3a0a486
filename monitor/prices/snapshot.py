"""Price snapshot source: daily bars from bundled CSV files, no network.

The snapshot format is a long CSV (``seeds/prices/daily.csv``)::

    # comment lines (where the figures come from); "# adjusted=true|false"
    symbol,session,open,high,low,close,volume
    CXW,2025-02-04,19.69,19.8,18.65,18.88,1861700

Every ``*.csv`` file of the folder is read once, on first use.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pandas as pd

from collections.abc import Mapping, Sequence
from datetime import datetime

from monitor import calendars
from monitor.errors import ConfigError, NoPriceDataError
from monitor.prices import (
    BAR_COLUMNS,
    DAILY,
    PRICE_COLUMNS,
    FetchResult,
    FetchStatus,
    empty_actions,
    empty_bars,
    quality_flags,
    validate_bars,
)

log = logging.getLogger(__name__)

REQUIRED = ["symbol", "session", "close"]


class SnapshotPriceSource:
    """Daily bars from the snapshot CSV files of a folder."""

    name = "snapshot"

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._bars: pd.DataFrame | None = None

    def _read_file(self, path: Path) -> pd.DataFrame:
        adjusted = True
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.startswith("#"):
                    break
                key, _, value = line.lstrip("# ").strip().partition("=")
                if key == "adjusted":
                    adjusted = value.strip().lower() == "true"
        try:
            raw = pd.read_csv(path, comment="#", dtype={"symbol": str})
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"price snapshot {path} is not a readable CSV: {exc}") from None
        missing = [c for c in REQUIRED if c not in raw.columns]
        if missing:
            raise ConfigError(f"price snapshot {path} lacks columns {missing}")
        frame = pd.DataFrame({"symbol": raw["symbol"].str.strip().str.upper()})
        frame["interval"] = "1d"
        frame["session"] = pd.to_datetime(raw["session"], format="%Y-%m-%d", errors="coerce")
        if frame["session"].isna().any():
            raise ConfigError(f"price snapshot {path} has sessions that are not YYYY-MM-DD dates")
        frame["ts"] = frame["session"].dt.tz_localize("UTC")
        for col in PRICE_COLUMNS:
            values = raw[col] if col in raw.columns else float("nan")
            frame[col] = pd.to_numeric(values, errors="coerce").astype("float64")
        frame["adjusted"] = adjusted
        frame["final"] = False
        frame["source"] = self.name
        frame["flags"] = ""
        return frame[BAR_COLUMNS]

    def _all(self) -> pd.DataFrame:
        if self._bars is None:
            files = sorted(self.folder.glob("*.csv"))
            if not files:
                raise ConfigError(
                    f"no price snapshot (*.csv) in {self.folder}; set MONITOR_PRICE_SNAPSHOT_DIR "
                    "or MONITOR_PRICE_SOURCE=yahoo"
                )
            frame = pd.concat([self._read_file(p) for p in files], ignore_index=True)
            frame = frame.drop_duplicates(["symbol", "interval", "adjusted", "ts"], keep="last")
            frame = frame.sort_values(["symbol", "ts"]).reset_index(drop=True)
            frame["flags"] = pd.concat(
                [quality_flags(group) for _, group in frame.groupby("symbol", sort=False)]
            ).reindex(frame.index).fillna("")
            self._bars = validate_bars(frame)
            log.debug("snapshot: %d bars of %d symbols", len(frame), frame["symbol"].nunique())
        return self._bars

    def symbols(self) -> list[str]:
        return sorted(self._all()["symbol"].unique())

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
        """See :class:`~monitor.prices.PriceSource`; the snapshot holds daily bars only."""
        if interval != DAILY:
            return self._result(symbol, interval, FetchStatus.NO_DATA, empty_bars(),
                                f"the price snapshot holds daily bars only, not {interval}")
        if calendar is not None and len(calendars.sessions_in_range(calendar, start, end)) == 0:
            return self._result(symbol, interval, FetchStatus.NO_BARS_EXPECTED, empty_bars(),
                                f"no {calendar} session between {start} and {end}")
        try:
            bars = self.daily_bars(symbol, start, end)
        except NoPriceDataError as exc:
            return self._result(symbol, interval, FetchStatus.NO_DATA, empty_bars(), str(exc))
        return self._result(symbol, interval, FetchStatus.OK, bars, None)

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
        return {
            symbol: self.fetch(symbol, start, end, interval, calendar=(calendars or {}).get(symbol), now=now)
            for symbol in symbols
        }

    def _result(self, symbol: str, interval: str, status: FetchStatus, bars: pd.DataFrame, reason: str | None) -> FetchResult:
        return FetchResult(symbol=symbol, requested_interval=interval, interval=interval, status=status,
                           bars=bars, actions=empty_actions(), reason=reason)

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        bars = self._all()
        held = bars[bars["symbol"] == symbol]
        if held.empty:
            raise NoPriceDataError(
                f"no prices for {symbol} in the snapshot {self.folder}; add them there or set "
                "MONITOR_PRICE_SOURCE=yahoo"
            )
        sel = held[(held["session"] >= pd.Timestamp(start)) & (held["session"] <= pd.Timestamp(end))]
        if sel.empty:
            return empty_bars()
        return sel.reset_index(drop=True)
