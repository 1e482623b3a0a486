"""YahooPriceSource against generated Yahoo answers replayed on 127.0.0.1.

yfinance's real code path runs (cookie, crumb, time zone probe, chart request,
parsing, events); only the hosts are rewritten by
:class:`yahoo_replay.ReplaySession`. The answers are built from the seeds by
:mod:`yahoo_fixtures`. Retries sleep with an injected fake clock. Nothing here
reaches the internet.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yahoo_fixtures
import yahoo_replay
import yfinance
from yahoo_replay import Recording, ReplaySession, UnexpectedHostError, YahooReplay

from monitor.errors import NoPriceDataError, PriceError, PriceSourceUnavailableError, RateLimitedError
from monitor.prices import (
    ACTION_COLUMNS,
    BAR_COLUMNS,
    FetchResult,
    FetchStatus,
    PriceSource,
    empty_actions,
    empty_bars,
    validate_bars,
)
from monitor.prices.yahoo import RetryPolicy, YahooPriceSource, bars_from_history

# yfinance 1.7 still calls pandas' deprecated inplace= keywords; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

NY = "America/New_York"
WEEK = (date(2025, 2, 3), date(2025, 2, 7))
#: "now" for intraday requests: the Monday after the generated intraday sessions.
NOW = datetime(2025, 2, 17, 15, 0, tzinfo=timezone.utc)


class FakeTime:
    """An injected clock: ``sleep`` records the wait and moves ``clock`` on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def yahoo(tmp_path: Path) -> Iterator[YahooReplay]:
    with yahoo_replay.replay_yahoo(tmp_path) as replay:
        yield replay


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_source(yahoo: YahooReplay, fake_time: FakeTime, retry: RetryPolicy = RetryPolicy(), **kwargs: Any) -> YahooPriceSource:  # noqa: B008
    return YahooPriceSource(
        session=yahoo.session(), retry=retry, sleep=fake_time.sleep, clock=fake_time.clock, rng=random.Random(7), **kwargs
    )


@pytest.fixture
def source(yahoo: YahooReplay, fake_time: FakeTime) -> YahooPriceSource:
    return make_source(yahoo, fake_time)


def seeds(symbol: str, start: date, end: date) -> pd.DataFrame:
    bars = yahoo_fixtures.seed_bars(symbol)
    bars = bars[(bars["session"] >= start) & (bars["session"] <= end)]
    return bars.set_index(pd.DatetimeIndex(pd.to_datetime(bars["session"])))


def body_by_day(body: dict, tz: str) -> pd.DataFrame:
    """A generated chart body's bars by local day (quote columns and adjclose)."""
    result = body["chart"]["result"][0]
    days = pd.to_datetime(result["timestamp"], unit="s", utc=True).tz_convert(tz).tz_localize(None).normalize()
    columns = dict(result["indicators"]["quote"][0])
    if "adjclose" in result["indicators"]:
        columns["adjclose"] = result["indicators"]["adjclose"][0]["adjclose"]
    return pd.DataFrame(columns, index=days)


def utc_seconds(day: str, tz: str) -> int:
    return int(pd.Timestamp(day, tz=tz).timestamp())


def assert_contract(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == BAR_COLUMNS
    assert frame.dtypes.to_dict() == empty_bars().dtypes.to_dict()
    validate_bars(frame)
    assert frame["ts"].is_monotonic_increasing


def assert_actions(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ACTION_COLUMNS
    assert frame.dtypes.to_dict() == empty_actions().dtypes.to_dict()


# -- daily bars ------------------------------------------------------------------------


def test_cxw_daily_bars_follow_the_contract_and_the_seeds(source: YahooPriceSource) -> None:
    result = source.fetch("CXW", *WEEK)

    assert isinstance(result, FetchResult)
    assert (result.symbol, result.requested_interval, result.interval, result.status) == ("CXW", "1d", "1d", FetchStatus.OK)
    assert result.reason is None and not result.fell_back
    bars = result.bars
    assert_contract(bars)
    assert_actions(result.actions) and result.actions.empty
    sessions = pd.DatetimeIndex(["2025-02-03", "2025-02-04", "2025-02-05", "2025-02-06", "2025-02-07"])
    assert list(bars["session"]) == list(sessions)
    assert list(bars["ts"]) == list(sessions.tz_localize("UTC"))
    expected = seeds("CXW", *WEEK)
    for col in ("open", "high", "low", "close", "volume"):
        assert bars[col].tolist() == pytest.approx(expected[col].astype(float).tolist(), rel=1e-12), col
    assert bars.loc[1, "close"] == pytest.approx(18.88)  # 2025-02-04, the CXW -5.65 % day
    assert (bars["symbol"] == "CXW").all() and (bars["interval"] == "1d").all()
    assert bars["adjusted"].all() and not bars["final"].any()
    assert (bars["source"] == "yahoo").all() and (bars["flags"] == "").all()


def test_the_real_yfinance_path_ran(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    source.fetch("CXW", *WEEK)

    seen = yahoo.server.requests
    assert {r.host for r in seen} <= {"fc.yahoo.com", "query1.finance.yahoo.com", "query2.finance.yahoo.com"}
    assert any(r.path == "/" and r.host == "fc.yahoo.com" for r in seen)
    assert [r.host for r in seen if r.path == "/v1/test/getcrumb"] == ["query1.finance.yahoo.com"]
    charts = yahoo.server.chart_requests("CXW")
    assert [r.is_tz_probe for r in charts] == [True, False]  # time zone probe, then the range
    probe, history = (r.params for r in charts)
    assert probe["crumb"] == history["crumb"] == yahoo.server.crumb
    assert history["interval"] == "1d"
    assert history["includePrePost"] == "false"
    assert history["events"] == "div,splits,capitalGains"
    # start 00:00 New York, end made inclusive: up to 2025-02-08 00:00 New York
    assert int(history["period1"]) == utc_seconds("2025-02-03", NY)
    assert int(history["period2"]) == utc_seconds("2025-02-08", NY)


def test_spy_bars_are_adjusted_by_yahoos_adjusted_close(source: YahooPriceSource) -> None:
    first, last = date(2024, 3, 13), date(2024, 3, 19)  # around the 2024-03-15 ex-dividend session
    result = source.fetch("SPY", first, last)
    bars = result.bars.set_index("session")
    raw = body_by_day(yahoo_fixtures.daily_body("SPY"), NY).loc[bars.index]
    expected = seeds("SPY", first, last)

    assert bars["close"].tolist() == pytest.approx(raw["adjclose"].tolist(), rel=1e-12)
    assert bars["close"].tolist() == pytest.approx(expected["close"].tolist(), rel=1e-12)  # the seeds are adjusted
    assert (raw["close"] > raw["adjclose"]).all()  # raw closes are not what we return
    ratio = raw["adjclose"] / raw["close"]
    for col in ("open", "high", "low"):
        assert bars[col].tolist() == pytest.approx((raw[col] * ratio).tolist(), rel=1e-12), col
        assert bars[col].tolist() == pytest.approx(expected[col].tolist(), rel=1e-9), col
    assert bars["volume"].tolist() == raw["volume"].astype(float).tolist()
    assert bars["adjusted"].all()
    assert result.actions.to_dict("records") == [
        {"symbol": "SPY", "session": pd.Timestamp("2024-03-15"), "kind": "dividend", "value": 1.594937}
    ]


def test_btc_usd_has_utc_sessions_every_calendar_day(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    bars = source.fetch("BTC-USD", date(2025, 1, 31), date(2025, 2, 3)).bars

    assert_contract(bars)
    days = pd.date_range("2025-01-31", "2025-02-03", freq="D")  # Fri, Sat, Sun, Mon
    assert list(bars["session"]) == list(days)
    assert list(bars["ts"]) == list(days.tz_localize("UTC"))
    assert bars["close"].tolist() == pytest.approx(seeds("BTC-USD", date(2025, 1, 31), date(2025, 2, 3))["close"].tolist())
    history = yahoo.server.chart_requests("BTC-USD")[-1].params
    assert int(history["period1"]) == int(datetime(2025, 1, 31, tzinfo=timezone.utc).timestamp())
    assert int(history["period2"]) == int(datetime(2025, 2, 4, tzinfo=timezone.utc).timestamp())


def test_a_london_daily_bar_keeps_its_london_session_date(source: YahooPriceSource) -> None:
    # 2025-03-28 is a GMT day (open 08:00 UTC), 2025-03-31 a BST day (open 07:00 UTC)
    result = source.fetch("OCDO.L", date(2025, 3, 28), date(2025, 3, 31))

    bars = result.bars
    assert_contract(bars)
    assert list(bars["session"]) == list(pd.DatetimeIndex(["2025-03-28", "2025-03-31"]))
    assert list(bars["ts"]) == list(pd.DatetimeIndex(["2025-03-28", "2025-03-31"], tz="UTC"))
    body = yahoo_fixtures.daily_body("OCDO.L")["chart"]["result"][0]
    stamps = [datetime.fromtimestamp(t, timezone.utc) for t in body["timestamp"][-2:]]
    assert [s.strftime("%m-%d %H:%M") for s in stamps] == ["03-28 08:00", "03-31 07:00"]
    assert bars["close"].tolist() == body["indicators"]["adjclose"][0]["adjclose"][-2:]  # pence, as Yahoo sends them


def test_a_closed_range_asks_nothing_with_a_calendar_and_is_empty_without(
    source: YahooPriceSource, yahoo: YahooReplay
) -> None:
    weekend = (date(2025, 2, 8), date(2025, 2, 9))
    closed = source.fetch("CXW", *weekend, calendar="XNYS")

    assert closed.status is FetchStatus.NO_BARS_EXPECTED and closed.bars.empty and closed.actions.empty
    assert "XNYS" in closed.reason
    assert_contract(closed.bars)
    assert yahoo.server.requests == []  # not even the cookie

    unknown_calendar_range = source.fetch("CXW", *weekend)
    assert unknown_calendar_range.status is FetchStatus.OK and unknown_calendar_range.bars.empty
    assert_contract(unknown_calendar_range.bars)
    # Yahoo was asked, and answered the symbol's metadata without bars
    history = yahoo.server.chart_requests("CXW", probes=False)[-1].params
    assert int(history["period1"]) == utc_seconds("2025-02-08", NY)


def test_a_calendar_with_sessions_still_asks_yahoo(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    result = source.fetch("CXW", *WEEK, calendar="XNYS")

    assert result.status is FetchStatus.OK and len(result.bars) == 5
    assert len(yahoo.server.chart_requests("CXW", probes=False)) == 1


def test_bad_arguments_are_refused_before_asking(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    with pytest.raises(ValueError, match="after"):
        source.fetch("CXW", date(2025, 2, 7), date(2025, 2, 3))
    with pytest.raises(ValueError, match="after"):
        source.daily_bars("CXW", date(2025, 2, 7), date(2025, 2, 3))
    with pytest.raises(ValueError, match="unknown interval"):
        source.fetch("CXW", *WEEK, "3m")
    with pytest.raises(ValueError, match="empty symbol"):
        source.fetch("  ", *WEEK)
    assert yahoo.server.requests == []


def test_is_a_price_source() -> None:
    source = YahooPriceSource()
    assert isinstance(source, PriceSource)
    assert YahooPriceSource.name == "yahoo"
    assert callable(source.fetch) and callable(source.fetch_many) and callable(source.daily_bars)
    assert RetryPolicy() == RetryPolicy(attempts=4, base_delay=1.0, factor=2.0, max_delay=16.0, jitter=0.25, deadline=60.0)
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_daily_bars_is_fetch_bars_and_raises_for_an_unknown_symbol(source: YahooPriceSource) -> None:
    bars = source.daily_bars("CXW", *WEEK)
    pd.testing.assert_frame_equal(bars, source.fetch("CXW", *WEEK).bars)

    with pytest.raises(NoPriceDataError, match=r"^no Yahoo prices for NOSUCHXYZ between 2025-02-03 and 2025-02-07: .*; check the symbol$"):
        source.daily_bars("NOSUCHXYZ", *WEEK)


def test_tz_cache_dir_receives_yfinance_time_zone_cache(yahoo: YahooReplay, tmp_path: Path) -> None:
    folder = tmp_path / "own-tz-cache"
    source = YahooPriceSource(session=yahoo.session(), tz_cache_dir=folder)
    source.fetch("CXW", date(2025, 2, 3), date(2025, 2, 4))

    assert (folder / "tkr-tz.db").is_file()
    assert not (yahoo.cache_dir / "tkr-tz.db").exists()


# -- retries -----------------------------------------------------------------------------
# yfinance asks a second time (its other cookie strategy) after any HTTP status >= 400,
# so one failed attempt of the source is two chart requests.


def test_rate_limited_three_times_then_answered(
    source: YahooPriceSource, yahoo: YahooReplay, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    yahoo.server.inject_sequence("CXW", [429, 429] * 3)  # three failed attempts

    with caplog.at_level(logging.INFO, logger="monitor.prices.yahoo"):
        result = source.fetch("CXW", *WEEK)

    assert result.status is FetchStatus.OK and len(result.bars) == 5
    assert len(fake_time.sleeps) == 3  # three retries
    for sleep, nominal in zip(fake_time.sleeps, (1.0, 2.0, 4.0), strict=True):
        assert nominal * 0.75 <= sleep <= nominal * 1.25  # exponential backoff with jitter
    assert len(fake_time.sleeps) == len(set(fake_time.sleeps))
    assert yahoo.server.pending("CXW") == 0
    assert len(yahoo.server.chart_requests("CXW")) == 3 * 2 + 2  # then the probe and the range
    retries = [r for r in caplog.records if r.levelno == logging.INFO and "retry" in r.getMessage()]
    assert [r.getMessage().split("retry ")[1][:6] for r in retries] == ["1 of 3", "2 of 3", "3 of 3"]


def test_rate_limited_forever_gives_up_after_the_attempts(
    source: YahooPriceSource, yahoo: YahooReplay, fake_time: FakeTime
) -> None:
    yahoo.server.inject("CXW", 429)

    with pytest.raises(RateLimitedError) as caught:
        source.fetch("CXW", *WEEK)

    policy = RetryPolicy()
    attempts = len(yahoo.server.chart_requests("CXW")) // 2
    assert attempts == policy.attempts == len(fake_time.sleeps) + 1
    assert sum(fake_time.sleeps) <= policy.deadline
    message = str(caught.value)
    assert message == (
        f"Yahoo is rate-limiting requests (CXW, 4 attempts over {sum(fake_time.sleeps):.0f} s); wait a few minutes and retry"
    )
    assert "\n" not in message


def test_rate_limited_forever_gives_up_at_the_deadline(
    yahoo: YahooReplay, fake_time: FakeTime
) -> None:
    policy = RetryPolicy(attempts=10, base_delay=1.0, factor=2.0, jitter=0.0, deadline=5.0)
    source = make_source(yahoo, fake_time, policy)
    yahoo.server.inject("CXW", 429)

    with pytest.raises(RateLimitedError, match=r"\(CXW, 3 attempts over 3 s\)"):
        source.fetch("CXW", *WEEK)

    assert fake_time.sleeps == [1.0, 2.0]  # waiting 4 s more would end after the 5 s deadline
    assert len(yahoo.server.chart_requests("CXW")) == 3 * 2


def test_rate_limit_on_the_range_request_after_the_probe(
    source: YahooPriceSource, yahoo: YahooReplay, fake_time: FakeTime
) -> None:
    source.fetch("CXW", date(2025, 2, 3), date(2025, 2, 4))  # time zone now cached
    yahoo.server.inject_sequence("CXW", [429, 429])

    result = source.fetch("CXW", date(2025, 2, 5), date(2025, 2, 6))

    assert result.status is FetchStatus.OK and len(result.bars) == 2 and len(fake_time.sleeps) == 1
    assert not any(r.is_tz_probe for r in yahoo.server.chart_requests("CXW")[2:])


@pytest.mark.parametrize("tz_cached", [False, True])
def test_a_passing_server_failure_is_retried(
    source: YahooPriceSource, yahoo: YahooReplay, fake_time: FakeTime, tz_cached: bool
) -> None:
    if tz_cached:  # the failure hits the range request (yfinance: "YAHOO! FINANCE IS CURRENTLY DOWN!")
        source.fetch("CXW", date(2025, 1, 27), date(2025, 1, 31))
    # else it hits the time zone probe (yfinance: the page is not JSON)
    yahoo.server.inject_sequence("CXW", [503, 503, 502, 502])  # Yahoo's "Will be right back" pages

    result = source.fetch("CXW", *WEEK)

    assert result.status is FetchStatus.OK and len(result.bars) == 5
    assert len(fake_time.sleeps) == 2


def test_server_error_page_forever_raises_price_error(
    source: YahooPriceSource, yahoo: YahooReplay, fake_time: FakeTime
) -> None:
    yahoo.server.inject("CXW", 500, "<html><body>Will be right back...</body></html>")

    with pytest.raises(PriceError) as caught:
        source.fetch("CXW", *WEEK)

    assert type(caught.value) is PriceError
    message = str(caught.value)
    assert message.startswith("could not fetch Yahoo prices for CXW between 2025-02-03 and 2025-02-07: ")
    assert message.endswith(f"(4 attempts over {sum(fake_time.sleeps):.0f} s)")
    assert "\n" not in message


def test_unreachable_server_raises_source_unavailable(tmp_path: Path, fake_time: FakeTime) -> None:
    with yahoo_replay.replay_yahoo(tmp_path) as replay:
        session = ReplaySession(replay.server.base_url)
    # the server is stopped: its port refuses connections
    with yahoo_replay.isolated_yfinance(tmp_path / "second"):
        source = YahooPriceSource(session=session, sleep=fake_time.sleep, clock=fake_time.clock)
        with pytest.raises(PriceSourceUnavailableError) as caught:
            source.fetch("CXW", *WEEK)
    assert isinstance(caught.value, PriceError)
    message = str(caught.value)
    assert message.startswith("cannot reach Yahoo Finance (asked for CXW, 4 attempts over ")
    assert "connect" in message.lower() and "check the network connection" in message
    assert "\n" not in message
    assert len(fake_time.sleeps) == 3


def test_an_answer_yahoo_explains_fails_at_once(source: YahooPriceSource, yahoo: YahooReplay, fake_time: FakeTime) -> None:
    # Yahoo's clock says these 1m bars are gone; the caller's "now" says they are not
    yahoo.server.now = datetime(2025, 4, 1, tzinfo=timezone.utc)

    with pytest.raises(PriceError, match="must be within the last 30 days") as caught:
        source.fetch("CXW", date(2025, 2, 3), date(2025, 2, 4), "1m", now=NOW)

    assert type(caught.value) is PriceError
    assert fake_time.sleeps == []


@pytest.mark.parametrize(
    ("info_fallbacks_used", "yahoo_reason"),
    [
        (0, "Quote not found for symbol: NOSUCHXYZ"),  # first failures: quoteSummary's HTTP 404
        (2, "no timezone found"),  # later ones: YFTzMissingError
    ],
)
def test_unknown_symbol_is_no_data_without_retry(
    source: YahooPriceSource,
    yahoo: YahooReplay,
    fake_time: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
    info_fallbacks_used: int,
    yahoo_reason: str,
) -> None:
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", info_fallbacks_used)

    result = source.fetch("NOSUCHXYZ", *WEEK)

    assert result.status is FetchStatus.NO_DATA
    assert yahoo_reason in result.reason and "\n" not in result.reason
    assert result.bars.empty and result.actions.empty
    assert_contract(result.bars)
    assert fake_time.sleeps == []
    assert len(yahoo.server.chart_requests("NOSUCHXYZ")) == 2  # the probe, and yfinance's own second try


def test_symbol_gone_after_its_time_zone_was_cached_gives_yahoos_reason(
    source: YahooPriceSource, yahoo: YahooReplay, fake_time: FakeTime
) -> None:
    source.fetch("CXW", date(2025, 2, 3), date(2025, 2, 4))
    yahoo.server.inject("CXW", 404)

    result = source.fetch("CXW", date(2025, 2, 5), date(2025, 2, 6))

    assert result.status is FetchStatus.NO_DATA
    assert result.reason == "No data found, symbol may be delisted"
    assert fake_time.sleeps == []


# -- splits, duplicates, rows without prices ------------------------------------------------


def daily_moves(bars: pd.DataFrame) -> pd.Series:
    return (bars["close"] / bars["close"].shift() - 1).dropna()


def test_split_is_an_action_and_the_bars_are_adjusted(source: YahooPriceSource) -> None:
    result = source.fetch("SPLT", date(2024, 4, 1), date(2025, 3, 31))

    bars, actions = result.bars, result.actions
    assert_contract(bars)
    assert_actions(actions)
    assert actions.to_dict("records") == [
        {"symbol": "SPLT", "session": pd.Timestamp("2024-06-14"), "kind": "dividend", "value": 0.10},  # 0.40 per old share
        {"symbol": "SPLT", "session": pd.Timestamp("2024-09-16"), "kind": "split", "value": 4.0},
        {"symbol": "SPLT", "session": pd.Timestamp("2024-12-13"), "kind": "dividend", "value": 0.12},
    ]
    around = bars.set_index("session").loc["2024-09-12":"2024-09-18"]
    assert daily_moves(around).abs().max() < 0.05  # no -75 % day
    assert daily_moves(bars).abs().max() < 0.5
    assert (bars["flags"] == "").all()
    body = body_by_day(yahoo_fixtures.split_body(), NY)
    assert bars["close"].tolist() == pytest.approx(body["adjclose"].tolist(), rel=1e-12)


def test_split_before_yahoo_knows_it(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    yahoo.server.set_as_of(date(2024, 9, 13))  # the Friday before the split

    result = source.fetch("SPLT", date(2024, 9, 9), date(2024, 9, 13))

    assert result.actions.empty
    assert result.bars["close"].min() > 150  # the pre-split price, 4x the adjusted one
    assert (result.bars["flags"] == "").all()


def test_split_listed_before_yahoo_adjusted_the_history_is_flagged(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    yahoo.server.set_as_of(date(2024, 9, 20), history_adjusted=False)

    result = source.fetch("SPLT", date(2024, 9, 10), date(2024, 9, 20))

    assert result.actions.loc[result.actions["kind"] == "split", "value"].tolist() == [4.0]
    flags = result.bars.set_index("session")["flags"]
    assert flags["2024-09-16"] == "split_move"
    assert (flags.drop(pd.Timestamp("2024-09-16")) == "").all()
    move = daily_moves(result.bars.set_index("session"))["2024-09-16"]
    assert move == pytest.approx(-0.75, abs=0.02)


def test_duplicated_last_row_becomes_one_bar_flagged_duplicate(source: YahooPriceSource) -> None:
    result = source.fetch("XDUP", *WEEK)

    bars = result.bars
    assert_contract(bars)
    assert len(bars) == 5 and bars["session"].is_unique
    assert bars["flags"].tolist() == ["", "", "", "", "duplicate"]
    body = yahoo_fixtures.daily_body("XDUP")["chart"]["result"][0]
    assert body["timestamp"][-1] == body["timestamp"][-2]
    assert bars["volume"].iloc[-1] == body["indicators"]["quote"][0]["volume"][-1]  # the last copy is kept
    assert bars["volume"].iloc[-1] == seeds("CXW", *WEEK)["volume"].iloc[-1] + 1500


def test_a_day_with_null_prices_is_kept_flagged_nan(source: YahooPriceSource) -> None:
    result = source.fetch("XNAN", *WEEK)

    bars = result.bars.set_index("session")
    assert_contract(result.bars)
    assert len(bars) == 5
    row = bars.loc["2025-02-05"]
    assert row["flags"] == "nan"
    assert row[["open", "high", "low", "close", "volume"]].isna().all()
    assert (bars.drop(pd.Timestamp("2025-02-05"))["flags"] == "").all()


def test_bars_from_history_keeps_the_last_copy_and_drops_priceless_copies() -> None:
    index = pd.DatetimeIndex(["2025-02-03", "2025-02-04", "2025-02-04", "2025-02-05", "2025-02-05"]).tz_localize(NY)
    history = pd.DataFrame(
        {
            "Open": [1.0, 2.0, 2.5, 3.0, None], "High": [1.0, 2.0, 2.5, 3.0, None], "Low": [1.0, 2.0, 2.5, 3.0, None],
            "Close": [1.0, 2.0, 2.5, 3.0, None], "Adj Close": [1.0, 2.0, 2.5, 3.0, None], "Volume": [1, 2, 3, 4, 0],
            "Dividends": 0.0, "Stock Splits": 0.0,
        },
        index=index,
    )

    bars, actions = bars_from_history(history, "X")

    assert bars["close"].tolist() == [1.0, 2.5, 3.0]  # 02-04: last copy; 02-05: the copy without prices goes
    assert bars["flags"].tolist() == ["", "duplicate", "duplicate"]
    assert actions.empty


# -- several symbols -------------------------------------------------------------------------


def test_fetch_many_answers_each_symbol(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    results = source.fetch_many(["CXW", "GEO", "SPY"], *WEEK, calendars={"CXW": "XNYS", "GEO": "XNYS", "SPY": "XNYS"})

    assert list(results) == ["CXW", "GEO", "SPY"]
    for symbol, result in results.items():
        assert result.symbol == symbol and result.status is FetchStatus.OK
        assert_contract(result.bars)
        assert (result.bars["symbol"] == symbol).all() and len(result.bars) == 5
        assert result.bars["close"].tolist() == pytest.approx(seeds(symbol, *WEEK)["close"].tolist(), rel=1e-9)
    assert {s: len(yahoo.server.chart_requests(s, probes=False)) for s in results} == {"CXW": 1, "GEO": 1, "SPY": 1}


def test_fetch_many_with_symbols_spelled_like_columns(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    results = source.fetch_many(["OPEN", "Close", "CXW", "OPEN", " "], *WEEK)

    assert list(results) == ["OPEN", "Close", "CXW"]
    assert results["OPEN"].status is FetchStatus.OK
    assert (results["OPEN"].bars["symbol"] == "OPEN").all()
    iwm = seeds("IWM", *WEEK)  # OPEN's figures are IWM's / 200
    assert results["OPEN"].bars["close"].tolist() == pytest.approx((iwm["close"] / 200).round(4).tolist())
    assert results["Close"].status is FetchStatus.NO_DATA and results["Close"].symbol == "Close"
    assert yahoo.server.chart_requests("CLOSE")  # yfinance asks Yahoo in upper case
    assert results["CXW"].status is FetchStatus.OK and len(results["CXW"].bars) == 5


@pytest.mark.parametrize("group_by", ["ticker", "column"])
def test_bars_from_history_reads_yf_download_frames(source: YahooPriceSource, yahoo: YahooReplay, group_by: str) -> None:
    frame = yfinance.download(
        ["CXW", "OPEN"], start="2025-02-03", end="2025-02-08", group_by=group_by, auto_adjust=False,
        actions=True, threads=False, progress=False, session=yahoo.session(),
    )
    assert {"OPEN", "Open"} <= set(frame.columns.get_level_values(0)) | set(frame.columns.get_level_values(1))

    for symbol in ("OPEN", "CXW"):
        bars, actions = bars_from_history(frame, symbol, tz=NY)
        pd.testing.assert_frame_equal(bars, source.fetch(symbol, *WEEK).bars, check_exact=False, rtol=1e-12)
    assert bars_from_history(frame, "open", tz=NY)[0]["close"].tolist() == bars_from_history(frame, "OPEN", tz=NY)[0]["close"].tolist()
    assert bars_from_history(frame, "GEO", tz=NY)[0].empty


# -- intraday ---------------------------------------------------------------------------------


def test_5m_bars_have_utc_starts_and_new_york_sessions(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    result = source.fetch("CXW", *WEEK, "5m", now=NOW)

    bars = result.bars
    assert (result.status, result.interval, result.reason) == (FetchStatus.OK, "5m", None)
    assert_contract(bars)
    assert len(bars) == 5 * 78 and (bars["interval"] == "5m").all()
    first = bars.iloc[0]
    assert first["ts"] == pd.Timestamp("2025-02-03 14:30", tz="UTC")  # 09:30 New York
    assert bars["ts"].iloc[-1] == pd.Timestamp("2025-02-07 20:55", tz="UTC")
    assert (bars["session"] == bars["ts"].dt.tz_convert(NY).dt.tz_localize(None).dt.normalize()).all()
    assert list(bars["session"].unique()) == list(pd.date_range("2025-02-03", "2025-02-07", freq="B"))
    assert not bars["adjusted"].any()  # intraday: Yahoo's figures, no adjusted close
    by_day = bars.groupby("session").agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
                                         close=("close", "last"))
    expected = seeds("CXW", *WEEK)
    for col in ("open", "high", "low", "close"):
        assert by_day[col].tolist() == pytest.approx(expected[col].tolist()), col
    request = yahoo.server.chart_requests("CXW", interval="5m")
    assert len(request) == 1 and request[0].params["includePrePost"] == "false"


@pytest.mark.parametrize(("interval", "per_session"), [("2m", 195), ("15m", 26), ("30m", 13), ("60m", 7), ("90m", 5)])
def test_intraday_intervals(source: YahooPriceSource, yahoo: YahooReplay, interval: str, per_session: int) -> None:
    result = source.fetch("SPY", date(2025, 2, 10), date(2025, 2, 11), interval, now=NOW)

    assert result.interval == interval and len(result.bars) == 2 * per_session
    assert_contract(result.bars)
    assert result.bars["ts"].iloc[0] == pd.Timestamp("2025-02-10 14:30", tz="UTC")
    asked = "15m" if interval == "30m" else interval  # yfinance asks 15m bars and resamples them
    assert len(yahoo.server.chart_requests("SPY", interval=asked)) == 1


def test_1m_bars_drop_a_minute_without_prices(source: YahooPriceSource) -> None:
    result = source.fetch("CXW", date(2025, 2, 5), date(2025, 2, 5), "1m", now=NOW)

    bars = result.bars
    assert len(bars) == 389 and (bars["flags"] == "").all()
    assert pd.Timestamp("2025-02-05 17:00", tz="UTC") not in set(bars["ts"])  # 12:00 New York had null prices


def test_an_old_1m_request_falls_back_to_a_coarser_interval(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    now = datetime(2025, 3, 10, 15, 0, tzinfo=timezone.utc)  # 2025-02-03 is 35 days before
    yahoo.server.now = now  # and Yahoo's clock agrees: it would refuse 1m bars

    result = source.fetch("CXW", *WEEK, "1m", now=now)

    assert result.status is FetchStatus.OK and result.fell_back
    assert (result.requested_interval, result.interval) == ("1m", "5m")
    assert result.reason == "1m bars are kept for 30 days; 2025-02-03 is older"
    assert len(result.bars) == 5 * 78 and (result.bars["interval"] == "5m").all()
    assert yahoo.server.request_counts()[("CXW", "1m")] == 0
    assert yahoo.server.request_counts()[("CXW", "5m")] == 1


def test_a_10_day_1m_request_is_asked_in_two_parts(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    result = source.fetch("CXW", date(2025, 2, 3), date(2025, 2, 12), "1m", now=NOW)

    asked = yahoo.server.chart_requests("CXW", interval="1m")
    assert len(asked) == 2
    spans = [(int(r.params["period1"]), int(r.params["period2"])) for r in asked]
    assert spans == [
        (utc_seconds("2025-02-03", NY), utc_seconds("2025-02-10", NY)),
        (utc_seconds("2025-02-10", NY), utc_seconds("2025-02-13", NY)),
    ]
    bars = result.bars
    assert_contract(bars)
    assert bars["ts"].is_unique
    assert len(bars) == 8 * 390 - 1  # 8 sessions; one minute without prices
    assert bars["session"].nunique() == 8


def test_weekend_1m_request(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    weekend = (date(2025, 2, 8), date(2025, 2, 9))
    closed = source.fetch("CXW", *weekend, "1m", calendar="XNYS", now=NOW)

    assert (closed.status, closed.interval) == (FetchStatus.NO_BARS_EXPECTED, "1m")
    assert yahoo.server.requests == []

    asked = source.fetch("CXW", *weekend, "1m", now=NOW)

    assert (asked.status, asked.interval) == (FetchStatus.OK, "1m") and asked.bars.empty
    assert_contract(asked.bars)
    [request] = yahoo.server.chart_requests("CXW", interval="1m")
    answer = yahoo.session().get("https://query2.finance.yahoo.com/v8/finance/chart/CXW", params=request.params).json()
    result = answer["chart"]["result"][0]
    assert set(result) == {"meta", "indicators"} and result["indicators"] == {"quote": [{}]}
    assert result["meta"]["dataGranularity"] == "1m" and "tradingPeriods" not in result["meta"]


# -- the generator and the replay helper ------------------------------------------------------


def test_recordings_on_disk_are_what_the_generator_makes() -> None:
    assert yahoo_fixtures.drift() == [], "run: .venv/bin/python tests/yahoo_fixtures.py --write"


def test_generated_daily_bodies_have_yahoos_shape() -> None:
    result = yahoo_fixtures.daily_body("SPY")["chart"]["result"][0]

    assert set(result) == {"meta", "timestamp", "events", "indicators"}
    meta = result["meta"]
    assert {"currency", "symbol", "exchangeName", "instrumentType", "firstTradeDate", "regularMarketTime", "gmtoffset",
            "timezone", "exchangeTimezoneName", "currentTradingPeriod", "dataGranularity", "range", "validRanges"} <= set(meta)
    assert (meta["symbol"], meta["exchangeTimezoneName"], meta["dataGranularity"]) == ("SPY", NY, "1d")
    assert set(meta["currentTradingPeriod"]) == {"pre", "regular", "post"}
    stamps = {datetime.fromtimestamp(t, timezone.utc).date(): datetime.fromtimestamp(t, timezone.utc).time()
              for t in result["timestamp"]}
    assert str(stamps[date(2024, 3, 8)]) == "14:30:00" and str(stamps[date(2024, 3, 11)]) == "13:30:00"  # EST, EDT
    dividend = result["events"]["dividends"][str(utc_seconds("2024-03-15 09:30", NY))]
    assert dividend == {"amount": 1.594937, "date": utc_seconds("2024-03-15 09:30", NY)}
    assert set(result["indicators"]) == {"quote", "adjclose"}
    assert set(result["indicators"]["quote"][0]) == {"open", "high", "low", "close", "volume"}
    btc = yahoo_fixtures.daily_body("BTC-USD")["chart"]["result"][0]
    assert all(t % 86400 == 0 for t in btc["timestamp"])


def test_generated_split_body_as_of() -> None:
    before = yahoo_fixtures.split_body(date(2024, 9, 13))["chart"]["result"][0]
    after = yahoo_fixtures.split_body(date(2024, 9, 16))["chart"]["result"][0]

    assert "splits" not in before["events"]
    split_ts = str(utc_seconds("2024-09-16 09:30", NY))
    assert after["events"]["splits"] == {
        split_ts: {"date": int(split_ts), "numerator": 4, "denominator": 1, "splitRatio": "4:1"}
    }
    assert before["timestamp"][-1] < int(split_ts) == after["timestamp"][-1]  # no bar after "as of"
    assert before["indicators"]["quote"][0]["close"][-1] == pytest.approx(4 * after["indicators"]["quote"][0]["close"][-2])


def test_generated_intraday_bodies() -> None:
    regular = yahoo_fixtures.intraday_body("CXW", "1m")["chart"]["result"][0]
    extended = yahoo_fixtures.intraday_body("CXW", "1m", include_prepost=True)["chart"]["result"][0]

    assert set(regular["indicators"]) == {"quote"}  # intraday answers carry no adjclose
    assert regular["meta"]["dataGranularity"] == "1m"
    assert isinstance(regular["meta"]["tradingPeriods"], list)
    assert set(extended["meta"]["tradingPeriods"]) == {"pre", "regular", "post"}
    assert len(regular["timestamp"]) == 10 * 390 and len(extended["timestamp"]) == 10 * (330 + 390 + 240)
    first = datetime.fromtimestamp(extended["timestamp"][0], timezone.utc)
    assert first == datetime(2025, 2, 3, 9, 0, tzinfo=timezone.utc)  # 04:00 New York


def test_server_cuts_bodies_to_the_requested_range(yahoo: YahooReplay) -> None:
    session = yahoo.session()
    url = "https://query2.finance.yahoo.com/v8/finance/chart/CXW"
    recorded = yahoo_fixtures.daily_body("CXW")["chart"]["result"][0]
    one_day = session.get(url, params={"range": "1d", "interval": "1d"}).json()["chart"]["result"][0]
    assert one_day["timestamp"] == recorded["timestamp"][-1:]
    assert one_day["meta"]["exchangeTimezoneName"] == NY

    p1, p2 = utc_seconds("2025-02-04", NY), utc_seconds("2025-02-06", NY)
    cut = session.get(url, params={"period1": p1, "period2": p2, "interval": "1d"}).json()["chart"]["result"][0]
    assert len(cut["timestamp"]) == 2 and all(p1 <= t < p2 for t in cut["timestamp"])
    assert cut["indicators"]["quote"][0]["close"] == pytest.approx([18.88, 19.25])

    five = session.get(url, params={"period1": p1, "period2": p2, "interval": "5m", "includePrePost": "false"}).json()
    five = five["chart"]["result"][0]
    assert len(five["timestamp"]) == 2 * 78 and len(five["meta"]["tradingPeriods"]) == 2

    extended = session.get(url, params={"period1": p1, "period2": p2, "interval": "60m", "includePrePost": "true"}).json()
    extended = extended["chart"]["result"][0]
    assert len(extended["timestamp"]) == 2 * 17  # 04:00..09:00, 09:30..15:30, 16:00..19:00 New York
    assert {k: len(v) for k, v in extended["meta"]["tradingPeriods"].items()} == {"pre": 2, "regular": 2, "post": 2}

    weekend = session.get(url, params={"period1": p2 + 2 * 86400, "period2": p2 + 3 * 86400, "interval": "1d"})
    assert "timestamp" not in weekend.json()["chart"]["result"][0]

    missing = session.get("https://query2.finance.yahoo.com/v8/finance/chart/NOSUCHXYZ", params={"range": "1d"})
    assert missing.status_code == 404
    assert missing.json() == {"chart": {"result": None, "error": {
        "code": "Not Found", "description": "No data found, symbol may be delisted"}}}


def test_server_refuses_what_yahoo_refuses(yahoo: YahooReplay) -> None:
    session = yahoo.session()
    url = "https://query2.finance.yahoo.com/v8/finance/chart/CXW"
    p1 = utc_seconds("2025-02-03", NY)
    too_long = session.get(url, params={"period1": p1, "period2": p1 + 9 * 86400, "interval": "1m"})
    assert too_long.status_code == 422
    assert "Only 8 days worth of 1m granularity data" in too_long.json()["chart"]["error"]["description"]

    yahoo.server.now = datetime.fromtimestamp(p1, timezone.utc) + timedelta(days=31)
    too_old = session.get(url, params={"period1": p1, "period2": p1 + 86400, "interval": "1m"})
    assert too_old.status_code == 422
    assert session.get(url, params={"period1": p1, "period2": p1 + 86400, "interval": "5m"}).status_code == 200


def test_server_answers_injected_sequences_then_normally(yahoo: YahooReplay) -> None:
    session = yahoo.session()
    url = "https://query2.finance.yahoo.com/v8/finance/chart/GEO"
    params = {"range": "1d", "interval": "1d"}
    yahoo.server.inject_sequence("GEO", [429, None, (500, {"chart": {"result": None, "error": {"code": "x", "description": "y"}}}),
                                         Recording(404, {"no": "body"})])

    statuses = [session.get(url, params=params).status_code for _ in range(5)]

    assert statuses == [429, 200, 500, 404, 200]
    assert yahoo.server.pending("GEO") == 0
    assert yahoo.server.request_counts() == {("GEO", "1d"): 5}
    yahoo.server.inject_sequence("GEO", [503])
    yahoo.server.clear_injections()
    assert session.get(url, params=params).status_code == 200


def test_session_refuses_hosts_that_are_neither_yahoo_nor_local(yahoo: YahooReplay) -> None:
    session = yahoo.session()
    for url in ("https://example.com/", "https://yahoo.com.example.net/v8/finance/chart/CXW", "http://10.0.0.1/"):
        with pytest.raises(UnexpectedHostError):
            session.get(url)
    assert yahoo.server.requests == []


def test_session_rewrites_every_yahoo_host_to_the_local_server(yahoo: YahooReplay) -> None:
    session = yahoo.session()
    for host in ("query1.finance.yahoo.com", "query2.finance.yahoo.com", "fc.yahoo.com", "guce.yahoo.com"):
        session.get(f"https://{host}/v1/test/getcrumb")
    assert [r.host for r in yahoo.server.requests] == [
        "query1.finance.yahoo.com", "query2.finance.yahoo.com", "fc.yahoo.com", "guce.yahoo.com",
    ]
    assert session.get(f"{yahoo.server.base_url}/v1/test/getcrumb").text == yahoo.server.crumb


def test_each_replay_starts_with_fresh_yfinance_state(tmp_path: Path) -> None:
    for run in ("first", "second"):
        with yahoo_replay.replay_yahoo(tmp_path / run) as replay:
            YahooPriceSource(session=replay.session()).fetch("CXW", *WEEK)
            # the time zone probe and the chart request are asked again: no cache leaked from the first run
            assert [r.is_tz_probe for r in replay.server.chart_requests("CXW")] == [True, False], run
            assert (replay.cache_dir / "tkr-tz.db").is_file()


def test_recordings_are_json_in_the_replay_format() -> None:
    for path in sorted(yahoo_fixtures.DATA_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert set(doc) == {"symbol", "status", "note", "body"}, path.name
    assert yahoo_replay.load_recordings()["*"].status == 404
