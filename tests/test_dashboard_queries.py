"""The dashboard's SQL on SQLite and PostgreSQL: filters, sorting with missing values, paging, counts.

A handful of hand-made events whose expected order and counts can be read
off the fixture; the same assertions run on both databases.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

import dashboard_browser  # noqa: F401 - puts the checkout on sys.path (dashboards)
from dashboards import queries
from dashboards.queries import EventFilter
from monitor.models import Article, Event, EventReturn, Instrument, Mention, TickerTag, Timing
from monitor.store import db, repo
from monitor.store.schema import alerts

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
KW = {"model": "market", "car_window": (-1, 1)}


def _article(source: str, title: str, when: datetime, *, date_only: bool = False) -> Article:
    return Article(source=source, source_id=title, title=title, body=f"{title} body text about the market.",
                   published_at=when, date_only=date_only, url="https://example.com/" + title)


def _result(a: Article, symbol: str, window: tuple[int, int], model: str, ar: float | None, *, t: float | None = None,
            car: float | None = None, status: str = "ok") -> EventReturn:
    return EventReturn(
        article_key=a.key, symbol=symbol, window=window, model=model, benchmark="SPY" if model != "mean" else None,
        raw_return=ar, benchmark_return=0.001, abnormal_return=ar, car=car if car is not None else ar, t_stat=t,
        n_obs=window[1] - window[0] + 1, complete=True, status=status,
        reason=None if status == "ok" else "insufficient history: 49 estimation returns", alpha=0.0, beta=1.1,
        sigma=0.02, estimation_obs=240 if status == "ok" else 0,
    )


@pytest.fixture
def store(db_url: str):  # noqa: ANN201 - (engine, articles)
    engine = db.open_store(db_url)
    a1 = _article("rss:a", "A1 shares fall", datetime(2025, 3, 3, 14, 0, tzinfo=UTC))
    a2 = _article("rss:b", "A2 bitcoin note", datetime(2025, 3, 4, tzinfo=UTC), date_only=True)
    a3 = _article("rss:a", "A3 late news", datetime(2025, 3, 5, 2, 0, tzinfo=UTC))  # 2025-03-04 21:00 in New York
    now = datetime(2025, 3, 10, tzinfo=UTC)
    with engine.begin() as conn:
        repo.save_instruments(conn, [
            Instrument(symbol="AAA", name="Aaa Corp", asset_class="equity", calendar="XNYS", benchmark="SPY"),
            Instrument(symbol="BBB", name="Bbb Inc", asset_class="equity", calendar="XNYS", benchmark="SPY"),
            Instrument(symbol="CCC", name="Ccc Coin", asset_class="crypto", calendar="24/7"),
        ])
        repo.save_articles(conn, [a1, a2, a3])
        repo.save_mentions(conn, [
            (a1.key, [TickerTag("AAA", 80.0, (Mention("AAA", 0, 2, "A1", "ticker"),)),
                      TickerTag("BBB", 40.0, (Mention("BBB", 3, 9, "shares", "name"),))]),
        ])
        repo.save_events(conn, [
            Event(a1.key, "AAA", a1.published_at, date(2025, 3, 3), Timing.REGULAR, "XNYS", False, 80.0),
            Event(a1.key, "BBB", a1.published_at, date(2025, 3, 3), Timing.REGULAR, "XNYS", False, 40.0),
            Event(a2.key, "CCC", a2.published_at, date(2025, 3, 4), Timing.DATE_ONLY, "24/7", True, 55.0),
            Event(a3.key, "AAA", a3.published_at, date(2025, 3, 5), Timing.AFTER_HOURS, "XNYS", False, 65.0),
        ])
        repo.save_event_returns(conn, [
            _result(a1, "AAA", (0, 0), "market", -0.05, t=-2.5),
            _result(a1, "AAA", (-1, 1), "market", -0.06, t=-1.9),
            _result(a1, "AAA", (0, 0), "mean", 0.9, t=9.0),  # not the instrument's model: never shown
            _result(a1, "BBB", (0, 0), "market", 0.02, t=1.0),
            _result(a1, "BBB", (-1, 1), "market", 0.01, t=0.4),
            _result(a2, "CCC", (0, 0), "mean", None, status="insufficient_history"),
        ])
        conn.execute(alerts.insert().values(dedup_key="r:1", rule="movers", kind="abnormal_return", symbol="AAA",
                                            article_key=a1.key, title="AAA -5.00% abnormal", text="t",
                                            payload={}, created_at=now))
    yield engine, {"a1": a1, "a2": a2, "a3": a3}
    engine.dispose()


def symbols(page: queries.EventPage) -> list[str]:
    return [f"{r['title'][:2]}:{r['symbol']}" for r in page.rows]


def test_filters_pick_the_right_events(store) -> None:  # noqa: ANN001
    engine, _ = store
    with engine.connect() as conn:
        page = queries.overview_page(conn, EventFilter(tz=NY), **KW)
        assert page.total == 4 and page.exact
        assert symbols(page) == ["A3:AAA", "A2:CCC", "A1:BBB", "A1:AAA"]  # newest first, ties by id
        first = page.rows[-1]
        assert first["published_at"] == datetime(2025, 3, 3, 14, 0, tzinfo=UTC)
        assert first["ar"] == -0.05 and first["ar_t"] == -2.5 and first["car"] == -0.06 and first["model"] == "market"
        assert page.rows[1]["ar"] is None and page.rows[1]["ar_status"] == "insufficient_history"
        assert page.rows[0]["ar_status"] is None  # not measured yet

        def count(**kw) -> int:  # noqa: ANN003
            return queries.overview_page(conn, EventFilter(tz=NY, **kw), **KW).total

        assert count(ticker="AAA") == 2
        assert count(theme_symbols=("AAA", "CCC")) == 3 and count(theme_symbols=()) == 0
        assert count(ticker="BBB", theme_symbols=("AAA",)) == 0
        assert count(source="rss:b") == 1 and count(source="rss:a") == 3
        assert count(min_relevance=60) == 2 and count(min_relevance=50) == 3
        # 2025-03-04 in New York: the after-hours story of 21:00 and the date-only one of that date.
        assert count(date_from=date(2025, 3, 4), date_to=date(2025, 3, 4)) == 2
        assert count(date_from=date(2025, 3, 5)) == 0 and count(date_to=date(2025, 3, 3)) == 2
        # The stray mean-model row (+90%) is never picked: the move is the market model's.
        assert count(min_move=0.03) == 1 and count(min_move=0.01) == 2 and count(min_move=0.5) == 0
        assert count(min_move=0.01, source="rss:a", min_relevance=50) == 1


@pytest.mark.parametrize(("sort", "descending", "expected"), [
    ("ar", True, ["A1:BBB", "A1:AAA", "A3:AAA", "A2:CCC"]),   # values first, then no value, newest first
    ("ar", False, ["A1:AAA", "A1:BBB", "A3:AAA", "A2:CCC"]),
    ("t", True, ["A1:BBB", "A1:AAA", "A3:AAA", "A2:CCC"]),
    ("car", False, ["A1:AAA", "A1:BBB", "A3:AAA", "A2:CCC"]),
    ("relevance", True, ["A1:AAA", "A3:AAA", "A2:CCC", "A1:BBB"]),
    ("ticker", False, ["A3:AAA", "A1:AAA", "A1:BBB", "A2:CCC"]),
    ("source", True, ["A2:CCC", "A3:AAA", "A1:BBB", "A1:AAA"]),
    ("published", False, ["A1:AAA", "A1:BBB", "A2:CCC", "A3:AAA"]),
])
def test_sorting_in_sql_with_missing_values_last(store, sort: str, descending: bool, expected: list[str]) -> None:  # noqa: ANN001
    engine, _ = store
    with engine.connect() as conn:
        full = queries.overview_page(conn, EventFilter(), sort=sort, descending=descending, **KW)
        assert symbols(full) == expected
        one_by_one = [symbols(queries.overview_page(conn, EventFilter(), sort=sort, descending=descending,
                                                    page=p, page_size=1, **KW))[0] for p in range(1, 5)]
        assert one_by_one == expected


def test_pages_past_the_end_and_capped_counts(store, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    engine, _ = store
    with engine.connect() as conn:
        last = queries.overview_page(conn, EventFilter(), page=99, page_size=3, **KW)
        assert (last.page, last.pages, symbols(last)) == (2, 2, ["A1:AAA"])
        monkeypatch.setattr(queries, "RESULT_COUNT_CAP", 1)
        capped = queries.overview_page(conn, EventFilter(min_move=0.01), page_size=1, **KW)
        assert (capped.total, capped.exact, len(capped.rows)) == (1, False, 1)
        beyond = queries.overview_page(conn, EventFilter(min_move=0.01), page=2, page_size=1, **KW)
        assert (beyond.total, beyond.exact, beyond.page) == (2, True, 2)
        exact = queries.overview_page(conn, EventFilter(min_move=0.01), page_size=1, exact=True, **KW)
        assert (exact.total, exact.exact) == (2, True)


def test_lookups_for_the_views(store) -> None:  # noqa: ANN001
    engine, arts = store
    a1 = arts["a1"]
    with engine.connect() as conn:
        assert queries.filter_options(conn) == {"tickers": ["AAA", "BBB", "CCC"], "sources": ["rss:a", "rss:b"]}
        assert [a["symbol"] for a in queries.latest_alerts(conn)] == ["AAA"]
        assert queries.store_counts(conn) == {"articles": 3, "events": 4} and queries.has_tables(conn)
        assert queries.ticker_known(conn, "CCC") and not queries.ticker_known(conn, "ZZZ")
        ev = queries.event_detail(conn, a1.key, "AAA")
        assert ev["title"] == "A1 shares fall" and ev["instrument_benchmark"] == "SPY" and ev["body"].startswith("A1")
        assert queries.event_detail(conn, a1.key, "CCC") is None
        assert [(m["symbol"], m["matched"]) for m in queries.article_mentions(conn, a1.key)] == [
            ("AAA", "A1"), ("BBB", "shares")]
        assert [e["symbol"] for e in queries.article_events(conn, a1.key)] == ["AAA", "BBB"]
        assert {(r["model"], r["window_start"]) for r in queries.event_results(conn, a1.key, "AAA")} == {
            ("market", 0), ("market", -1), ("mean", 0)}
        rows, total = queries.study_events(conn, EventFilter(theme_symbols=("AAA", "BBB")), limit=2)
        assert total == 3 and [r["symbol"] for r in rows] == ["AAA", "BBB"] and rows[0]["benchmark"] == "SPY"
        sessions = [e["session"] for e in queries.ticker_event_sessions(conn, "AAA")]
        assert sessions == [date(2025, 3, 3), date(2025, 3, 5)]


def test_the_app_reads_the_store_read_only_on_both_databases(store, db_url: str) -> None:  # noqa: ANN001
    """Pages render and /healthz answers through the dashboard's own (read-only) connections."""
    from dashboards.app import create_app, render_page
    from monitor.config import load_settings

    engine, arts = store
    app = create_app(load_settings(database_url=db_url))
    ctx = app.server.config["dashboard_context"]
    try:
        client = app.server.test_client()
        response = client.get("/healthz")
        assert response.status_code == 200 and response.get_json() == {"ok": True}
        title, _ = render_page(ctx, "/", "?sort=ar&min_move=1")
        assert title == "Overview"
        title, _ = render_page(ctx, f"/event/{arts['a1'].key}/AAA", "")
        assert title.startswith("AAA: A1 shares fall")
        with ctx.engine.connect() as conn:
            with pytest.raises(Exception, match="(?i)read.only|readonly"):
                conn.execute(alerts.delete())
    finally:
        ctx.engine.dispose()
