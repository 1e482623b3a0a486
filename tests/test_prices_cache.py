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


# --------------------------------------------------------------------------- splits, statuses, fallbacks

from monitor.models import Article, Event, EventReturn, Timing  # noqa: E402
from monitor.prices import (  # noqa: E402
    BAR_COLUMNS,
    FetchResult,
    FetchStatus,
    empty_actions,
    empty_bars,
    quality_flags,
    usable_interval,
)
from monitor.prices.cache import ensure_bars  # noqa: E402

NOW = datetime(2025, 3, 3, 21, 0, tzinfo=timezone.utc)  # Monday, after the close


class ScriptedSource:
    """Answers from a price path that may be re-adjusted for a split, as Yahoo does once it happens.

    Before the split is "known" the history is the raw one (100 before the
    split date) and no action is reported; once known, prices before the split
    are divided by 4 and the split comes with every answer that includes it.
    """

    name = "scripted"

    def __init__(self, split_day: date, status: FetchStatus = FetchStatus.OK) -> None:
        self.split_day = split_day
        self.split_known = False
        self.status = status
        self.calls: list[tuple[date, date, str]] = []

    def fetch(self, symbol, start, end, interval="1d", *, calendar=None, now=None):  # noqa: ANN001, ANN201
        self.calls.append((start, end, interval))
        used, reason = usable_interval(interval, start, now or NOW)
        if self.status is not FetchStatus.OK:
            return FetchResult(symbol, interval, used, self.status, empty_bars(), empty_actions(), "scripted")
        from monitor import calendars

        sessions = calendars.sessions_in_range("XNYS", start, end)
        closes = [(25.0 if day.date() >= self.split_day else (25.0 if self.split_known else 100.0))
                  for day in sessions]
        frame = pd.DataFrame({
            "symbol": [symbol] * len(sessions), "interval": [used] * len(sessions),
            "ts": sessions.tz_localize("UTC"), "session": sessions,
            "open": closes, "high": closes, "low": closes, "close": closes, "volume": [1e6] * len(sessions),
            "adjusted": True, "final": False, "source": self.name,
        })
        frame[["open", "high", "low", "close", "volume"]] = frame[["open", "high", "low", "close", "volume"]].astype(float)
        frame["flags"] = ""
        actions = empty_actions()
        if self.split_known and start <= self.split_day <= end:
            actions = pd.DataFrame({"symbol": [symbol], "session": [pd.Timestamp(self.split_day)],
                                    "kind": ["split"], "value": [4.0]})
        frame["flags"] = quality_flags(frame, actions)
        return FetchResult(symbol, interval, used, FetchStatus.OK, frame[BAR_COLUMNS], actions, reason)


def _closes(engine, symbol: str, start: date, end: date) -> pd.Series:  # noqa: ANN001
    with engine.connect() as conn:
        return repo.load_close_matrix(conn, [symbol], start, end)[symbol]


def test_a_new_split_makes_the_adjusted_history_come_again(db_url: str) -> None:
    engine = db.open_store(db_url)
    src = ScriptedSource(split_day=D(2025, 2, 18))
    with engine.begin() as conn:
        ensure_bars(conn, src, "SPLT", "XNYS", D(2025, 1, 2), D(2025, 1, 31), NOW)
        # An event return computed on the old history.
        article = Article("files", "s.txt", "Splitco", "Splitco SPLT", datetime(2025, 1, 15, tzinfo=timezone.utc))
        repo.save_articles(conn, [article])
        repo.save_events(conn, [Event(article.key, "SPLT", article.published_at, D(2025, 1, 15),
                                      Timing.DATE_ONLY, "XNYS", True, 50.0)])
        repo.save_event_returns(conn, [EventReturn(article.key, "SPLT", (0, 0), "mean", None, 0.0, None, 0.0,
                                                   0.0, 0.0, 1, True, "ok", None)])
    assert _closes(engine, "SPLT", D(2025, 1, 2), D(2025, 1, 31)).eq(100.0).all()
    src.split_known = True  # Yahoo now reports the split and re-adjusts the past
    with engine.begin() as conn:
        report = ensure_bars(conn, src, "SPLT", "XNYS", D(2025, 1, 2), D(2025, 2, 28), NOW)
    assert report.refetched
    # The whole held history came again in one request, not only the new part.
    assert src.calls[-1][:2] == (D(2025, 1, 2), D(2025, 2, 28))
    closes = _closes(engine, "SPLT", D(2025, 1, 2), D(2025, 2, 28))
    assert closes.pct_change().dropna().abs().max() == 0.0  # no -75 % day
    with engine.connect() as conn:
        assert repo.load_actions(conn, "SPLT")["kind"].tolist() == ["split"]
        assert repo.count_rows(conn)["event_returns"] == 0  # computed again on the next pass
    calls = len(src.calls)
    with engine.begin() as conn:
        again = ensure_bars(conn, src, "SPLT", "XNYS", D(2025, 1, 2), D(2025, 2, 28), NOW)
    assert not again.refetched and len(src.calls) == calls  # a known split changes nothing


def test_a_split_day_move_is_flagged() -> None:
    sessions = pd.DatetimeIndex(["2025-02-14", "2025-02-18", "2025-02-19"])
    bars = pd.DataFrame({"session": sessions, "close": [100.0, 25.0, 25.5]})
    actions = pd.DataFrame({"symbol": ["X"], "session": [pd.Timestamp("2025-02-18")], "kind": ["split"],
                            "value": [4.0]})
    assert quality_flags(bars, actions).tolist() == ["", "split_move", ""]
    assert quality_flags(bars).tolist() == ["", "", ""]  # a 75 % move without a split is the market's
    nan = pd.DataFrame({"session": sessions, "close": [1.0, float("nan"), 1.0]})
    assert quality_flags(nan, None, [False, False, True]).tolist() == ["", "nan", "duplicate"]


def test_unknown_symbol_and_closed_market(db_url: str) -> None:
    engine = db.open_store(db_url)
    with engine.begin() as conn, pytest.raises(NoPriceDataError, match="no scripted prices for ZZZZ: scripted"):
        ensure_bars(conn, ScriptedSource(D(2030, 1, 1), FetchStatus.NO_DATA), "ZZZZ", "XNYS",
                    D(2025, 2, 3), D(2025, 2, 7), NOW)
    with engine.connect() as conn:
        assert repo.covered_ranges(conn, "ZZZZ", "1d", "scripted") == []  # nothing recorded
    closed = ScriptedSource(D(2030, 1, 1), FetchStatus.NO_BARS_EXPECTED)
    for _ in range(2):
        with engine.begin() as conn:
            report = ensure_bars(conn, closed, "CXW", "XNYS", D(2025, 2, 8), D(2025, 2, 9), NOW)
    assert len(closed.calls) == 1 and report.written == 0  # answered once, remembered


def test_an_intraday_range_older_than_kept_falls_back_and_is_remembered(db_url: str) -> None:
    engine = db.open_store(db_url)
    src = ScriptedSource(D(2030, 1, 1))
    with engine.begin() as conn:
        report = ensure_bars(conn, src, "CXW", "XNYS", D(2024, 12, 2), D(2024, 12, 6), NOW, interval="1m")
    assert report.served == ["60m"] and "1m bars are kept for 30 days" in report.reason
    with engine.begin() as conn:
        again = ensure_bars(conn, src, "CXW", "XNYS", D(2024, 12, 2), D(2024, 12, 6), NOW, interval="1m")
    assert len(src.calls) == 1 and again.served == ["60m"]
    with engine.connect() as conn:
        assert not repo.load_bars(conn, "CXW", "60m", D(2024, 12, 2), D(2024, 12, 6)).empty


def test_close_matrix_aligns_symbols_with_different_sessions(db_url: str) -> None:
    engine = db.open_store(db_url)
    src = SnapshotPriceSource(SNAPSHOT)
    with engine.begin() as conn:
        for symbol, calendar in (("CXW", "XNYS"), ("BTC-USD", "24/7")):
            ensure_bars(conn, src, symbol, calendar, D(2025, 2, 1), D(2025, 2, 10), NOW)
    with engine.connect() as conn:
        matrix = repo.load_close_matrix(conn, ["CXW", "BTC-USD", "NONE"], D(2025, 2, 1), D(2025, 2, 10))
    assert list(matrix.columns) == ["CXW", "BTC-USD", "NONE"]
    assert len(matrix) == 10 and matrix["NONE"].isna().all()
    assert matrix.loc["2025-02-08", "CXW"] != matrix.loc["2025-02-08", "CXW"]  # a Saturday: NaN for CXW
    assert matrix.loc["2025-02-04", "CXW"] == pytest.approx(18.88)
    assert matrix["BTC-USD"].notna().all()
