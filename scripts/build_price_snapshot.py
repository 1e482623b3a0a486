"""Build ``seeds/prices/daily.csv``, the bundled daily price snapshot.

Reads the Yahoo Finance daily bars under ``$MONITOR_REFERENCE_DATA/prices``
(split/dividend adjusted) and writes the compact long CSV the snapshot price
source reads: ``symbol,session,open,high,low,close,volume``, prices rounded to
4 decimals (2 for crypto), one row per symbol and session.

    MONITOR_REFERENCE_DATA=../shared/data python scripts/build_price_snapshot.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

EQUITIES = ("CXW", "GEO", "SPY", "IWM")
CRYPTO = ("BTC-USD",)
START, END = "2024-01-01", "2025-03-31"
OUT = Path(__file__).resolve().parent.parent / "seeds" / "prices" / "daily.csv"

HEADER = """\
# Daily bars as published by Yahoo Finance, split and dividend adjusted (as of July 2025).
# US listings: sessions 2024-01-02 .. 2025-03-31; BTC-USD: UTC days 2024-12-06 .. 2025-03-31.
# Built by scripts/build_price_snapshot.py. Columns: symbol, session (date label), OHLC, volume.
# adjusted=true
"""


def load(folder: Path, symbol: str) -> pd.DataFrame:
    frame = pd.read_csv(folder / f"{symbol}.csv")
    frame["session"] = pd.to_datetime(frame["Date"].astype(str).str[:10])
    frame = frame.rename(columns=str.lower)
    frame = frame[(frame["session"] >= START) & (frame["session"] <= END)]
    digits = 2 if symbol in CRYPTO else 4
    for col in ("open", "high", "low", "close"):
        frame[col] = frame[col].round(digits)
    frame["volume"] = frame["volume"].round(0).astype("int64")
    frame["symbol"] = symbol
    return frame[["symbol", "session", "open", "high", "low", "close", "volume"]]


def main() -> int:
    ref = os.environ.get("MONITOR_REFERENCE_DATA")
    if not ref:
        print("set MONITOR_REFERENCE_DATA to the folder holding prices/", file=sys.stderr)
        return 2
    folder = Path(ref) / "prices"
    frame = pd.concat([load(folder, s) for s in EQUITIES + CRYPTO], ignore_index=True)
    frame["session"] = frame["session"].dt.strftime("%Y-%m-%d")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as fh:
        fh.write(HEADER)
        frame.to_csv(fh, index=False)
    print(f"wrote {len(frame)} rows to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
