"""Benchmark: loading five years of daily bars for 500 symbols from the price cache.

Fills a fresh SQLite store (WAL, the monitor's own schema and settings) with
five years of generated daily bars for 500 symbols (about 630,000 rows), then
measures in the same process:

(a) the baseline: the bare query of the same rows through the driver
    (``SELECT session, symbol, close ... `` and ``fetchall``), the floor any
    loader pays;
(b) :func:`monitor.store.repo.load_close_matrix`: the same rows turned into the
    frame the impact stage computes returns from (sessions x symbols, NaN
    where a bar is missing).

It prints both times, their ratio and whether (b) stays under the 1-second
target. Run from the repository root::

    python benchmarks/bench_price_cache.py [--symbols 500] [--years 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import calendars  # noqa: E402
from monitor.store import repo  # noqa: E402
from monitor.store.db import open_store  # noqa: E402
from monitor.store.schema import price_bars  # noqa: E402

TARGET_SECONDS = 1.0


def fill(engine, symbols: list[str], sessions: pd.DatetimeIndex, seed: int = 3) -> int:  # noqa: ANN001
    """Write generated bars (random walks) for every symbol and session; return the row count."""
    rng = np.random.default_rng(seed)
    fetched = datetime(2026, 1, 1, tzinfo=timezone.utc)
    days = [d.date() for d in sessions]
    stamps = [datetime(d.year, d.month, d.day, tzinfo=timezone.utc) for d in days]
    total = 0
    with engine.begin() as conn:
        for symbol in symbols:
            closes = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
            rows = [
                {"symbol": symbol, "interval": "1d", "ts": ts, "session": day, "open": c, "high": c * 1.01,
                 "low": c * 0.99, "close": c, "volume": 1e6, "adjusted": True, "final": True,
                 "source": "bench", "fetched_at": fetched, "flags": ""}
                for ts, day, c in zip(stamps, days, closes.tolist())
            ]
            conn.execute(price_bars.insert(), rows)
            total += len(rows)
    return total


def best_of(repeat: int, action) -> tuple[float, object]:  # noqa: ANN001
    best, value = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        value = action()
        best = min(best, time.perf_counter() - started)
    return best, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    end = date(2025, 3, 31)
    start = date(end.year - args.years, end.month, end.day)
    sessions = calendars.sessions_in_range("XNYS", start, end)
    symbols = [f"S{i:04d}" for i in range(args.symbols)]
    with tempfile.TemporaryDirectory() as folder:
        engine = open_store(f"sqlite:///{folder}/bench.db")
        started = time.perf_counter()
        rows = fill(engine, symbols, sessions)
        print(f"store: {rows:,} daily bars of {len(symbols)} symbols over {len(sessions)} sessions "
              f"({start} .. {end}), written in {time.perf_counter() - started:.1f} s")
        sql = (
            "SELECT session, symbol, close FROM price_bars WHERE interval = '1d' AND adjusted = 1 "
            "AND session >= ? AND session <= ?"
        )

        def baseline() -> int:
            with engine.connect() as conn:
                return len(conn.exec_driver_sql(sql, (start.isoformat(), end.isoformat())).fetchall())

        def matrix() -> pd.DataFrame:
            with engine.connect() as conn:
                return repo.load_close_matrix(conn, symbols, start, end)

        base_s, count = best_of(args.repeat, baseline)
        load_s, frame = best_of(args.repeat, matrix)
        engine.dispose()
    assert isinstance(frame, pd.DataFrame)
    print(f"baseline: the bare query, {count:,} rows fetched        {base_s:.3f} s")
    print(f"load_close_matrix: a {frame.shape[0]} x {frame.shape[1]} frame of closes  {load_s:.3f} s")
    print(f"ratio load / bare query: {load_s / base_s:.2f}x; target under {TARGET_SECONDS:.0f} s: "
          f"{'met' if load_s < TARGET_SECONDS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
