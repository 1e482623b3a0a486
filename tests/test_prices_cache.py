"""The snapshot source and the price cache: nothing is fetched twice."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from monitor.errors import ConfigError, NoPriceDataError
from monitor.prices import validate_bars
from monitor.prices.cache import daily_closes, ensure_daily_bars, missing_ranges
from monitor.prices.snapshot import SnapshotPriceSource
from monitor.store import db, repo

SNAPSHOT = Path(__file__).resolve().parent.parent / "seeds" / "prices"
D = date


def test_snapshot_source_follows_the_bar_contract() -> None:
    src = SnapshotPriceSource(SNAPSHOT)
    bars = validate_bars(src.daily_bars("GEO", D(2025, 2, 3), D(2025, 2, 7)))
    assert bars["session"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-02-03", "2025-02-04", "2025-02-05", "2025-02-06", "2025-02-07"]
    assert bars.loc[bars["session"] == "2025-02-04", "close"].item() == pytest.approx(28.56)
    assert bars["adjusted"].all() and (bars["ts"].dt.tz is not None)
    assert src.daily_bars("GEO", D(2025, 2, 8), D(2025, 2, 9)).empty  # a weekend
    assert set(src.symbols()) == {"CXW", "GEO", "SPY", "IWM", "BTC-USD"}
    with pytest.raises(NoPriceDataError, match="no prices for TSLA in the snapshot"):
        src.daily_bars("TSLA", D(2025, 2, 3), D(2025, 2, 7))


def test_snapshot_rejects_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("symbol,session,close\nCXW,04/02/2025,18.8\n")
    with pytest.raises(ConfigError, match="not YYYY-MM-DD"):
        SnapshotPriceSource(tmp_path).symbols()
    with pytest.raises(ConfigError, match="no price snapshot"):
        SnapshotPriceSource(tmp_path / "none").symbols()


@pytest.mark.parametrize(
    ("want", "held", "gaps"),
    [
        ((D(2025, 1, 1), D(2025, 1, 31)), [], [(D(2025, 1, 1), D(2025, 1, 31))]),
        ((D(2025, 1, 1), D(2025, 1, 31)), [(D(2024, 12, 1), D(2025, 2, 1))], []),
        ((D(2025, 1, 1), D(2025, 1, 31)), [(D(2025, 1, 10), D(2025, 1, 20))],
         [(D(2025, 1, 1), D(2025, 1, 9)), (D(2025, 1, 21), D(2025, 1, 31))]),
        ((D(2025, 1, 1), D(2025, 1, 31)), [(D(2024, 12, 1), D(2025, 1, 5)), (D(2025, 1, 30), D(2025, 3, 1))],
         [(D(2025, 1, 6), D(2025, 1, 29))]),
    ],
)
def test_missing_ranges(want, held, gaps) -> None:
    assert missing_ranges(want, held) == gaps


class CountingSource(SnapshotPriceSource):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.calls: list[tuple[str, date, date]] = []

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        self.calls.append((symbol, start, end))
        return super().daily_bars(symbol, start, end)


def test_a_range_is_fetched_once_and_open_sessions_again(db_url: str) -> None:
    engine = db.open_store(db_url)
    src = CountingSource(SNAPSHOT)
    # "now" is Tuesday 2025-02-04 at noon New York: that session is still open.
    now = datetime(2025, 2, 4, 17, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        assert ensure_daily_bars(conn, src, "CXW", "XNYS", D(2025, 1, 27), D(2025, 2, 4), now) == 7
    assert src.calls == [("CXW", D(2025, 1, 27), D(2025, 2, 3)), ("CXW", D(2025, 2, 4), D(2025, 2, 4))]
    with engine.connect() as conn:
        bars = repo.load_bars(conn, "CXW", "1d", D(2025, 1, 27), D(2025, 2, 4))
    assert bars.set_index("session")["final"].to_dict() == {
        **{pd.Timestamp(d): True for d in ("2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30",
                                           "2025-01-31", "2025-02-03")},
        pd.Timestamp("2025-02-04"): False,
    }
    src.calls.clear()
    with engine.begin() as conn:
        ensure_daily_bars(conn, src, "CXW", "XNYS", D(2025, 1, 27), D(2025, 2, 4), now)
    assert src.calls == [("CXW", D(2025, 2, 4), D(2025, 2, 4))]  # only the open session
    src.calls.clear()
    later = datetime(2025, 2, 6, 0, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        ensure_daily_bars(conn, src, "CXW", "XNYS", D(2025, 1, 20), D(2025, 2, 4), later)
        closes = daily_closes(conn, "CXW", pd.DatetimeIndex(pd.to_datetime(["2025-02-03", "2025-02-04", "2025-02-05"])))
        final = repo.load_bars(conn, "CXW", "1d", D(2025, 2, 4), D(2025, 2, 4))["final"].item()
    assert src.calls == [("CXW", D(2025, 1, 20), D(2025, 1, 26)), ("CXW", D(2025, 2, 4), D(2025, 2, 4))]
    assert final  # the session is over now
    assert closes.round(2).tolist()[:2] == [20.01, 18.88] and pd.isna(closes.iloc[2])
    engine.dispose()
