"""YahooPriceSource against recorded Yahoo answers replayed on 127.0.0.1.

yfinance's real code path runs (cookie, crumb, time zone probe, chart request,
parsing, auto-adjust); only the hosts are rewritten by
:class:`yahoo_replay.ReplaySession`. Nothing here reaches the internet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
import yahoo_replay
import yfinance
from yahoo_replay import ReplaySession, UnexpectedHostError, YahooReplay

from monitor.errors import NoPriceDataError, PriceError, RateLimitedError
from monitor.prices import BAR_COLUMNS, PriceSource, empty_bars, validate_bars
from monitor.prices.yahoo import YahooPriceSource

# yfinance 1.7 still calls pandas' deprecated inplace= keywords; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

DATA = Path(__file__).parent / "data" / "yahoo"


def recorded(symbol: str) -> dict:
    """The recorded chart result of ``symbol``: timestamps and columns by name."""
    body = json.loads((DATA / f"{symbol}.json").read_text())["body"]
    result = body["chart"]["result"][0]
    quote = result["indicators"]["quote"][0]
    return {
        "timestamp": result["timestamp"],
        **quote,
        "adjclose": result["indicators"]["adjclose"][0]["adjclose"],
    }


def recorded_by_day(symbol: str, tz: str) -> pd.DataFrame:
    rec = recorded(symbol)
    days = pd.to_datetime(rec.pop("timestamp"), unit="s", utc=True).tz_convert(tz).tz_localize(None).normalize()
    return pd.DataFrame(rec, index=days)


def utc_seconds(day: str, tz: str) -> int:
    return int(pd.Timestamp(day, tz=tz).timestamp())


@pytest.fixture
def yahoo(tmp_path: Path) -> Iterator[YahooReplay]:
    with yahoo_replay.replay_yahoo(tmp_path) as replay:
        yield replay


@pytest.fixture
def source(yahoo: YahooReplay) -> YahooPriceSource:
    return YahooPriceSource(session=yahoo.session())


def assert_bar_dtypes(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == BAR_COLUMNS
    assert frame.dtypes.to_dict() == empty_bars().dtypes.to_dict()
    validate_bars(frame)


# -- daily bars --------------------------------------------------------------

def test_cxw_daily_bars_follow_the_contract(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    bars = source.daily_bars("CXW", date(2025, 2, 3), date(2025, 2, 7))

    assert_bar_dtypes(bars)
    sessions = pd.DatetimeIndex(["2025-02-03", "2025-02-04", "2025-02-05", "2025-02-06", "2025-02-07"])
    assert list(bars["session"]) == list(sessions)
    assert list(bars["ts"]) == list(sessions.tz_localize("UTC"))
    expected = recorded_by_day("CXW", "America/New_York").loc[sessions]
    # CXW paid no dividend: adjusted == raw, so every recorded figure comes back as is
    for col in ("open", "high", "low", "close", "volume"):
        assert bars[col].tolist() == pytest.approx(expected[col].tolist(), rel=1e-12), col
    assert bars.loc[1, "close"] == pytest.approx(18.8799991607666)  # 2025-02-04, the CXW -5.65 % day
    assert (bars["symbol"] == "CXW").all() and (bars["interval"] == "1d").all()
    assert bars["adjusted"].all() and not bars["final"].any()
    assert (bars["source"] == "yahoo").all()


def test_the_real_yfinance_path_ran(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    source.daily_bars("CXW", date(2025, 2, 3), date(2025, 2, 7))

    seen = yahoo.server.requests
    assert {r.host for r in seen} <= {"fc.yahoo.com", "query1.finance.yahoo.com", "query2.finance.yahoo.com"}
    assert any(r.path == "/" and r.host == "fc.yahoo.com" for r in seen)
    assert [r.host for r in seen if r.path == "/v1/test/getcrumb"] == ["query1.finance.yahoo.com"]
    charts = yahoo.server.chart_requests("CXW")
    assert [r.params.get("range") for r in charts] == ["1d", None]  # time zone probe, then the range
    probe, history = (r.params for r in charts)
    assert probe["crumb"] == history["crumb"] == yahoo.server.crumb
    assert history["interval"] == "1d"
    # start 00:00 New York, end made inclusive: up to 2025-02-08 00:00 New York
    assert int(history["period1"]) == utc_seconds("2025-02-03", "America/New_York")
    assert int(history["period2"]) == utc_seconds("2025-02-08", "America/New_York")


def test_spy_bars_are_adjusted_by_yahoos_adjusted_close(source: YahooPriceSource) -> None:
    bars = source.daily_bars("SPY", date(2025, 2, 3), date(2025, 2, 7)).set_index("session")
    expected = recorded_by_day("SPY", "America/New_York").loc[bars.index]

    assert bars["close"].tolist() == pytest.approx(expected["adjclose"].tolist(), rel=1e-12)
    assert (bars["close"] < expected["close"]).all()  # raw closes are not what we return
    ratio = expected["adjclose"] / expected["close"]
    for col in ("open", "high", "low"):
        assert bars[col].tolist() == pytest.approx((expected[col] * ratio).tolist(), rel=1e-9), col
    assert bars["volume"].tolist() == expected["volume"].astype(float).tolist()
    assert bars["adjusted"].all()


def test_btc_usd_has_utc_sessions_every_calendar_day(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    bars = source.daily_bars("BTC-USD", date(2025, 1, 31), date(2025, 2, 3))

    assert_bar_dtypes(bars)
    days = pd.date_range("2025-01-31", "2025-02-03", freq="D")  # Fri, Sat, Sun, Mon
    assert list(bars["session"]) == list(days)
    assert list(bars["ts"]) == list(days.tz_localize("UTC"))
    assert bars["close"].tolist() == pytest.approx([102405.0234375, 100655.90625, 97688.9765625, 101405.421875])
    history = yahoo.server.chart_requests("BTC-USD")[-1].params
    assert int(history["period1"]) == int(datetime(2025, 1, 31, tzinfo=timezone.utc).timestamp())
    assert int(history["period2"]) == int(datetime(2025, 2, 4, tzinfo=timezone.utc).timestamp())


def test_a_range_without_sessions_is_an_empty_frame(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    bars = source.daily_bars("CXW", date(2025, 2, 8), date(2025, 2, 9))  # Saturday, Sunday

    assert bars.empty
    assert_bar_dtypes(bars)
    # Yahoo was asked, and answered the symbol's metadata without bars
    history = yahoo.server.chart_requests("CXW")[-1].params
    assert int(history["period1"]) == utc_seconds("2025-02-08", "America/New_York")


def test_start_after_end_is_refused(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    with pytest.raises(ValueError, match="after"):
        source.daily_bars("CXW", date(2025, 2, 7), date(2025, 2, 3))
    assert yahoo.server.requests == []


def test_is_a_price_source() -> None:
    assert isinstance(YahooPriceSource(), PriceSource)
    assert YahooPriceSource.name == "yahoo"


def test_tz_cache_dir_receives_yfinance_time_zone_cache(yahoo: YahooReplay, tmp_path: Path) -> None:
    folder = tmp_path / "own-tz-cache"
    source = YahooPriceSource(session=yahoo.session(), tz_cache_dir=folder)
    source.daily_bars("CXW", date(2025, 2, 3), date(2025, 2, 4))

    assert (folder / "tkr-tz.db").is_file()
    assert not (yahoo.cache_dir / "tkr-tz.db").exists()


# -- errors ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("info_fallbacks_used", "yfinance_reason"),
    [
        (0, "Quote not found for symbol: NOSUCHXYZ"),  # first failures: quoteSummary's HTTP 404
        (2, "no timezone found"),  # later ones: YFTzMissingError
    ],
)
def test_unknown_symbol_raises_no_price_data(
    source: YahooPriceSource,
    yahoo: YahooReplay,
    monkeypatch: pytest.MonkeyPatch,
    info_fallbacks_used: int,
    yfinance_reason: str,
) -> None:
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", info_fallbacks_used)

    with pytest.raises(NoPriceDataError) as caught:
        source.daily_bars("NOSUCHXYZ", date(2025, 2, 3), date(2025, 2, 7))

    message = str(caught.value)
    assert message.startswith("no Yahoo prices for NOSUCHXYZ between 2025-02-03 and 2025-02-07: ")
    assert yfinance_reason in message
    assert message.endswith("; check the symbol")
    assert "\n" not in message
    assert yahoo.server.chart_requests("NOSUCHXYZ")  # Yahoo's 404 was really served


def test_symbol_gone_after_its_time_zone_was_cached_gives_yahoos_reason(
    source: YahooPriceSource, yahoo: YahooReplay
) -> None:
    source.daily_bars("CXW", date(2025, 2, 3), date(2025, 2, 4))
    yahoo.server.inject("CXW", 404)

    with pytest.raises(NoPriceDataError, match=r"CXW .*No data found, symbol may be delisted; check the symbol$"):
        source.daily_bars("CXW", date(2025, 2, 5), date(2025, 2, 6))


def test_http_429_raises_rate_limited(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    yahoo.server.inject("CXW", 429)

    with pytest.raises(RateLimitedError) as caught:
        source.daily_bars("CXW", date(2025, 2, 3), date(2025, 2, 7))

    message = str(caught.value)
    assert "CXW" in message and "wait" in message and "retry" in message
    assert "\n" not in message
    # no retry loop of ours: only yfinance's own second try with the other cookie strategy
    assert len(yahoo.server.chart_requests("CXW")) <= 2


def test_rate_limit_on_the_range_request_after_the_probe(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    source.daily_bars("CXW", date(2025, 2, 3), date(2025, 2, 4))  # time zone now cached
    yahoo.server.inject("CXW", 429)

    with pytest.raises(RateLimitedError):
        source.daily_bars("CXW", date(2025, 2, 5), date(2025, 2, 6))


def test_server_error_page_raises_price_error(source: YahooPriceSource, yahoo: YahooReplay) -> None:
    yahoo.server.inject("CXW", 500, "<html><body>Will be right back...</body></html>")

    with pytest.raises(PriceError) as caught:
        source.daily_bars("CXW", date(2025, 2, 3), date(2025, 2, 7))

    assert type(caught.value) is PriceError
    assert str(caught.value).startswith("could not fetch Yahoo prices for CXW between 2025-02-03 and 2025-02-07: ")


def test_unreachable_server_raises_price_error(tmp_path: Path) -> None:
    with yahoo_replay.replay_yahoo(tmp_path) as replay:
        session = ReplaySession(replay.server.base_url)
    # the server is stopped: its port refuses connections
    with yahoo_replay.isolated_yfinance(tmp_path / "second"):
        with pytest.raises(PriceError) as caught:
            YahooPriceSource(session=session).daily_bars("CXW", date(2025, 2, 3), date(2025, 2, 7))
    assert type(caught.value) is PriceError
    assert "connect" in str(caught.value).lower()
    assert "\n" not in str(caught.value)


# -- the replay helper ---------------------------------------------------------

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


def test_server_cuts_recordings_to_the_requested_range(yahoo: YahooReplay) -> None:
    session = yahoo.session()
    url = "https://query2.finance.yahoo.com/v8/finance/chart/CXW"
    one_day = session.get(url, params={"range": "1d", "interval": "1d"}).json()["chart"]["result"][0]
    assert one_day["timestamp"] == recorded("CXW")["timestamp"][-1:]
    assert one_day["meta"]["exchangeTimezoneName"] == "America/New_York"

    p1, p2 = utc_seconds("2025-02-04", "America/New_York"), utc_seconds("2025-02-06", "America/New_York")
    cut = session.get(url, params={"period1": p1, "period2": p2, "interval": "1d"}).json()["chart"]["result"][0]
    assert len(cut["timestamp"]) == 2 and all(p1 <= t < p2 for t in cut["timestamp"])
    assert cut["indicators"]["quote"][0]["close"] == pytest.approx([18.8799991607666, 19.25])

    weekend = session.get(url, params={"period1": p2 + 2 * 86400, "period2": p2 + 3 * 86400, "interval": "1d"})
    assert "timestamp" not in weekend.json()["chart"]["result"][0]

    missing = session.get("https://query2.finance.yahoo.com/v8/finance/chart/NOSUCHXYZ", params={"range": "1d"})
    assert missing.status_code == 404
    assert missing.json() == {"chart": {"result": None, "error": {
        "code": "Not Found", "description": "No data found, symbol may be delisted"}}}


def test_each_replay_starts_with_fresh_yfinance_state(tmp_path: Path) -> None:
    for run in ("first", "second"):
        with yahoo_replay.replay_yahoo(tmp_path / run) as replay:
            YahooPriceSource(session=replay.session()).daily_bars("CXW", date(2025, 2, 3), date(2025, 2, 7))
            # the time zone probe and the chart request are asked again: no cache leaked from the first run
            assert [r.params.get("range") for r in replay.server.chart_requests("CXW")] == ["1d", None], run
            assert (replay.cache_dir / "tkr-tz.db").is_file()
