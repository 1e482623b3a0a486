"""The price cache and the pipeline in front of the Yahoo source, against the local replay server.

HTTP requests are counted at the server: a range held is never asked again,
a longer range asks only for what is new, and a Yahoo that cannot be reached
stops a pass with one line and touches nothing stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yahoo_replay
from yahoo_replay import ReplaySession, YahooReplay

from monitor import cli
from monitor.errors import PriceSourceUnavailableError
from monitor.prices.cache import ensure_bars
from monitor.prices.yahoo import RetryPolicy, YahooPriceSource
from monitor.store import db, repo

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

NOW = datetime(2025, 3, 3, 21, 30, tzinfo=timezone.utc)  # a Monday, after the close
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01, deadline=1.0)


@pytest.fixture
def yahoo(tmp_path: Path) -> Iterator[YahooReplay]:
    with yahoo_replay.replay_yahoo(tmp_path) as replay:
        yield replay


def ranges(yahoo: YahooReplay, symbol: str) -> list[tuple[date, date]]:
    """The session ranges of the chart requests for ``symbol`` (time zone probes left out)."""
    found = []
    for request in yahoo.server.chart_requests(symbol, probes=False):
        lo = datetime.fromtimestamp(int(request.params["period1"]), timezone.utc).date()
        hi = datetime.fromtimestamp(int(request.params["period2"]), timezone.utc).date()
        found.append((lo, hi))
    return found


def test_a_second_fetch_makes_no_request_and_a_longer_one_only_asks_for_the_new_day(
    db_url: str, yahoo: YahooReplay
) -> None:
    engine = db.open_store(db_url)
    source = YahooPriceSource(session=yahoo.session(), retry=FAST, sleep=lambda s: None)
    with engine.begin() as conn:
        first = ensure_bars(conn, source, "CXW", "XNYS", date(2025, 2, 3), date(2025, 2, 7), NOW)
    assert first.written == 5
    asked = len(yahoo.server.chart_requests("CXW", probes=False))
    assert asked >= 1
    with engine.begin() as conn:
        again = ensure_bars(conn, source, "CXW", "XNYS", date(2025, 2, 3), date(2025, 2, 7), NOW)
    assert again.written == 0 and again.requests == []
    assert len(yahoo.server.chart_requests("CXW", probes=False)) == asked  # no HTTP request at all
    with engine.begin() as conn:
        longer = ensure_bars(conn, source, "CXW", "XNYS", date(2025, 2, 3), date(2025, 2, 10), NOW)
    assert longer.requests == [(date(2025, 2, 8), date(2025, 2, 10))]  # only what is new
    new = ranges(yahoo, "CXW")[asked:]
    assert len(new) == 1 and new[0][0] >= date(2025, 2, 8)
    with engine.connect() as conn:
        held = repo.load_bars(conn, "CXW", "1d", date(2025, 2, 3), date(2025, 2, 10))
    assert held["session"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-02-03", "2025-02-04", "2025-02-05", "2025-02-06", "2025-02-07", "2025-02-10"]
    assert held["final"].all() and (held["flags"] == "").all()


def test_the_open_session_is_refreshed_until_it_is_final(db_url: str, yahoo: YahooReplay) -> None:
    engine = db.open_store(db_url)
    source = YahooPriceSource(session=yahoo.session(), retry=FAST, sleep=lambda s: None)
    during = datetime(2025, 2, 7, 17, 0, tzinfo=timezone.utc)  # Friday, noon in New York
    for _ in range(2):
        with engine.begin() as conn:
            report = ensure_bars(conn, source, "CXW", "XNYS", date(2025, 2, 3), date(2025, 2, 7), during)
    assert report.requests == [(date(2025, 2, 7), date(2025, 2, 7))]  # the open day, asked again
    with engine.connect() as conn:
        held = repo.load_bars(conn, "CXW", "1d", date(2025, 2, 3), date(2025, 2, 7))
    assert held["final"].tolist() == [True, True, True, True, False]
    with engine.begin() as conn:
        after = ensure_bars(conn, source, "CXW", "XNYS", date(2025, 2, 3), date(2025, 2, 7), NOW)
    assert after.requests == [(date(2025, 2, 7), date(2025, 2, 7))]  # made final once, then never again
    with engine.connect() as conn:
        assert repo.load_bars(conn, "CXW", "1d", date(2025, 2, 7), date(2025, 2, 7))["final"].item()


def test_without_network_a_pass_stops_with_one_line_and_touches_nothing(
    tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_SEEDS_DIR", str(seeds_copy))
    assert cli.main(["run", "--once"]) == 0  # the demo, from the snapshot
    capsys.readouterr()
    engine = db.open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    with engine.connect() as conn:
        before = repo.count_rows(conn)
        bars_before = repo.load_bars(conn, "CXW", "1d", date(2024, 1, 1), date(2025, 3, 31))
    engine.dispose()

    # Live settings: prices from Yahoo, whose address refuses connections (no network).
    with yahoo_replay.replay_yahoo(tmp_path / "y") as replay:
        dead = ReplaySession(replay.server.base_url)
    (seeds_copy / "news" / "late.txt").write_text(
        "date 2025-03-03T15:00:00Z CoreCivic, Inc. CXW wins a contract\n\nShares of CXW rose.\n", encoding="utf-8"
    )
    monkeypatch.setenv("MONITOR_PRICE_SOURCE", "yahoo")
    with yahoo_replay.isolated_yfinance(tmp_path / "yf"):
        monkeypatch.setattr(
            "monitor.pipeline.make_price_source",
            lambda settings, **_: YahooPriceSource(session=dead, retry=FAST, sleep=lambda s: None),
        )
        status = cli.main(["run", "--once"])
    err = capsys.readouterr().err
    assert status == PriceSourceUnavailableError.exit_code != 0
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Yahoo Finance")
    assert "Traceback" not in err
    engine = db.open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    with engine.connect() as conn:
        after = repo.count_rows(conn)
        bars_after = repo.load_bars(conn, "CXW", "1d", date(2024, 1, 1), date(2025, 3, 31))
    engine.dispose()
    # Prices, returns and coverage are as they were; the new article waits for the next pass's prices.
    for table in ("price_bars", "price_coverage", "price_actions", "event_returns"):
        assert after[table] == before[table], table
    assert bars_after.equals(bars_before)


def test_monitor_prices_fetch_and_show(tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_SEEDS_DIR", str(seeds_copy))
    assert cli.main(["prices", "fetch", "CXW", "btc-usd", "--start", "2025-02-03", "--end", "2025-02-07",
                     "--json"]) == 0
    outcomes = {o["symbol"]: o for o in json.loads(capsys.readouterr().out)}
    assert outcomes["CXW"]["written"] == 5 and outcomes["CXW"]["calendar"] == "XNYS"
    assert outcomes["BTC-USD"]["written"] == 5 and outcomes["BTC-USD"]["calendar"] == "24/7"
    assert cli.main(["prices", "fetch", "CXW", "--start", "2025-02-03", "--end", "2025-02-07", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["requests"] == 0  # held: nothing asked again
    assert cli.main(["prices", "show", "CXW", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [b["session"] for b in shown["bars"]][:2] == ["2025-02-03", "2025-02-04"]
    assert shown["bars"][1]["close"] == pytest.approx(18.88) and shown["bars"][1]["final"]
    assert cli.main(["prices", "show", "CXW"]) == 0
    table = capsys.readouterr().out
    assert "2025-02-04" in table and "18.88" in table
    # Mistakes: one line each.
    assert cli.main(["prices", "show", "GEO"]) != 0
    assert "holds no 1d bars of GEO" in capsys.readouterr().err
    assert cli.main(["prices", "fetch", "ZZZZ", "VOD.XX", "--start", "2025-02-03", "--end", "2025-02-07"]) == 1
    out = capsys.readouterr().out
    assert "no prices for ZZZZ in the snapshot" in out and "suffix" in out.lower()
    assert cli.main(["prices", "fetch", "CXW", "--start", "2025-02-03", "--interval", "7m"]) != 0
    assert "unknown interval '7m'" in capsys.readouterr().err


def test_a_pass_measures_intraday_reactions_and_event_flags(tmp_path: Path, seeds_copy: Path, yahoo: YahooReplay,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import select

    from monitor.config import load_settings
    from monitor.pipeline import Pipeline
    from monitor.store.schema import event_reactions, events

    # A timed story during the session of Tuesday 2025-02-04, and another a day later (confounding).
    (seeds_copy / "news" / "intraday.txt").write_text(
        "date 2025-02-04T15:02:00Z CoreCivic wins a detention contract\n\n"
        "CoreCivic, Inc. CXW said it won a contract; shares rose.\n", encoding="utf-8")
    (seeds_copy / "news" / "later.txt").write_text(
        "date 2025-02-05T15:02:00Z CoreCivic names a new chief financial officer\n\n"
        "CoreCivic (NYSE: CXW) named a finance chief; shares were flat.\n", encoding="utf-8")
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", seeds_dir=seeds_copy,
                             price_source="yahoo", min_estimation_obs=20)
    engine = db.open_store(settings.database_url)
    source = YahooPriceSource(session=yahoo.session(), retry=FAST, sleep=lambda s: None)
    now = datetime(2025, 2, 17, 15, 0, tzinfo=timezone.utc)
    report = Pipeline(settings, engine, price_source=source).run_pass(now=now)
    assert report.reactions_new > 0
    with engine.connect() as conn:
        rows = {(r.symbol, r.horizon): r for r in conn.execute(
            select(event_reactions).join(events, (events.c.article_key == event_reactions.c.article_key)
                                         & (events.c.symbol == event_reactions.c.symbol))
            .where(events.c.published_at == datetime(2025, 2, 4, 15, 2, tzinfo=timezone.utc)))}
        flags = {r.published_at: r for r in conn.execute(select(events).where(events.c.symbol == "CXW"))}
    five = rows[("CXW", "5m")]
    assert five.interval == "5m" and five.complete
    assert five.start_at == datetime(2025, 2, 4, 15, 0, tzinfo=timezone.utc)  # the bar ending 15:00
    assert five.abnormal_return == pytest.approx(five.raw_return - five.benchmark_return)
    assert rows[("CXW", "close")].complete
    bars = yahoo_replay_bars(yahoo, "CXW")
    assert five.raw_return == pytest.approx(bars[datetime(2025, 2, 4, 15, 5, tzinfo=timezone.utc)]
                                            / bars[datetime(2025, 2, 4, 15, 0, tzinfo=timezone.utc)] - 1)
    timed = [r for r in flags.values() if r.published_at.year == 2025 and not r.date_only]
    assert timed and all(r.confounded for r in timed)  # two stories a session apart confound each other
    assert all(r.abnormal_volume_log is not None for r in flags.values())
    # Complete reactions are not measured again.
    again = Pipeline(settings, engine, price_source=source).run_pass(now=now)
    assert again.reactions_new == 0


def yahoo_replay_bars(yahoo: YahooReplay, symbol: str) -> dict[datetime, float]:
    """Bar end (UTC) -> close of the generated 5m bars the replay serves."""
    import yahoo_fixtures

    body = yahoo_fixtures.intraday_body(symbol, "5m")
    result = body["chart"]["result"][0]
    closes = result["indicators"]["quote"][0]["close"]
    return {
        datetime.fromtimestamp(stamp + 300, timezone.utc): close
        for stamp, close in zip(result["timestamp"], closes)
        if close is not None
    }


def test_a_stop_during_a_rate_limited_retry_ends_the_pass_at_once(
    tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch, yahoo: YahooReplay
) -> None:
    """Yahoo answers 429 with back-offs of 20 s; a stop asked meanwhile ends the pass within a second."""
    import threading
    import time

    from monitor.config import load_settings
    from monitor.pipeline import Pipeline
    from monitor.store.schema import job_runs

    monkeypatch.chdir(tmp_path)
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 's.db'}", seeds_dir=seeds_copy, price_source="yahoo")
    engine = db.open_store(settings.database_url)
    stop = threading.Event()
    pipeline = Pipeline(settings, engine, should_stop=stop.is_set, price_source=None)
    slow = RetryPolicy(attempts=4, base_delay=20.0, max_delay=20.0, deadline=120.0)
    # The pipeline's own price source waits with pipeline.pause; here it talks to the replay server.
    pipeline.price_source = YahooPriceSource(session=yahoo.session(), retry=slow, sleep=pipeline.pause)
    for symbol in ("CXW", "GEO", "SPY", "BTC-USD"):
        yahoo.server.inject(symbol, 429)
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        report = pipeline.run_pass(NOW)
    finally:
        timer.cancel()
    assert report.stopped and time.monotonic() - started < 3.0
    with engine.connect() as conn:
        runs = conn.execute(job_runs.select()).mappings().all()
        held = repo.count_rows(conn)
    engine.dispose()
    assert [r["status"] for r in runs] == ["stopped"]
    assert held["articles"] == 1 and held["price_bars"] == 0 and held["event_returns"] == 0
