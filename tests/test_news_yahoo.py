"""YahooNewsSource against recorded Yahoo news answers replayed on 127.0.0.1.

yfinance's real ``get_news`` path runs (cookie, crumb, the ``/xhr/ncp`` POST,
its ad filter); only the hosts are rewritten by :class:`yahoo_replay.ReplaySession`.
``CXW`` is recorded in the older flat item shape, ``GEO`` in the 2025 nested
one; both list the same story. Nothing here reaches the internet.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yahoo_replay
from yahoo_replay import ReplaySession, YahooReplay

from monitor.errors import SourceError
from monitor.models import Article
from monitor.news import Dropped, NewsSource
from monitor.news.yahoo import YahooNewsSource, html_to_text, is_ad, item_id, parse_news_item, related_tickers

NEWS = Path(__file__).parent / "data" / "yahoo_news"
FETCHED = datetime(2025, 2, 5, 12, 0, tzinfo=timezone.utc)
SHARED = "5d9a3c1e-7b42-3f8e-9a61-2c4e8b0f1d37"
UNTITLED = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"


def stream(symbol: str) -> list[dict[str, Any]]:
    """The recorded raw stream of ``symbol``."""
    return json.loads((NEWS / f"{symbol}.json").read_text())["body"]["data"]["tickerStream"]["stream"]


def recorded_item(symbol: str, ident: str) -> dict[str, Any]:
    return next(i for i in stream(symbol) if item_id(i) == ident)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def yahoo(tmp_path: Path) -> Iterator[YahooReplay]:
    with yahoo_replay.replay_yahoo(tmp_path) as replay:
        yield replay


def news_source(yahoo: YahooReplay, *symbols: str, count: int = 20) -> YahooNewsSource:
    return YahooNewsSource(symbols or ("CXW", "GEO"), session=yahoo.session(), count=count, now=lambda: FETCHED)


def by_id(articles: tuple[Article, ...]) -> dict[str, Article]:
    return {a.source_id: a for a in articles}


# -- yfinance's real path --------------------------------------------------------

def test_news_is_asked_through_yfinance_once_per_symbol(yahoo: YahooReplay) -> None:
    news_source(yahoo).fetch()

    asked = yahoo.server.news_requests()
    assert [r.news_symbols for r in asked] == [["CXW"], ["GEO"]]
    for request in asked:
        assert (request.method, request.host, request.path) == ("POST", "finance.yahoo.com", "/xhr/ncp")
        assert request.params == {"queryRef": "latestNews", "serviceKey": "ncp_fin", "crumb": yahoo.server.crumb}
    assert asked[0].json_body == {"serviceConfig": {"snippetCount": 20, "s": ["CXW"]}}
    # the cookie and crumb steps ran before the first news request
    hosts_and_paths = [(r.host, r.path) for r in yahoo.server.requests]
    first_news = hosts_and_paths.index(("finance.yahoo.com", "/xhr/ncp"))
    assert ("fc.yahoo.com", "/") in hosts_and_paths[:first_news]
    assert ("query1.finance.yahoo.com", "/v1/test/getcrumb") in hosts_and_paths[:first_news]


def test_count_is_sent_as_yahoos_snippet_count(yahoo: YahooReplay) -> None:
    batch = news_source(yahoo, "CXW", count=1).fetch()

    assert yahoo.server.news_requests("CXW")[0].json_body["serviceConfig"]["snippetCount"] == 1
    assert [a.source_id for a in batch.articles] == [SHARED]


def test_every_poll_asks_yahoo_again(yahoo: YahooReplay) -> None:
    source = news_source(yahoo, "CXW")
    first, second = source.fetch(), source.fetch()

    assert len(yahoo.server.news_requests("CXW")) == 2
    assert first.articles == second.articles


# -- the two shapes ------------------------------------------------------------------

def test_flat_shape_is_mapped(yahoo: YahooReplay) -> None:
    batch = news_source(yahoo, "CXW").fetch()

    assert batch.source == "yahoo"
    assert [a.source_id for a in batch.articles] == [SHARED, "8e27b0d5-41c6-3a9f-b8d2-6f0a91c3e574"]
    assert batch.articles[1] == Article(
        source="yahoo",
        source_id="8e27b0d5-41c6-3a9f-b8d2-6f0a91c3e574",
        title="CoreCivic to release 2024 fourth quarter financial results on February 12",
        body="",
        published_at=utc(2025, 1, 30, 21, 15),  # providerPublishTime 1738271700
        date_only=False,
        zone_given=True,
        url="https://finance.yahoo.com/news/corecivic-release-2024-fourth-quarter-211500123.html",
        guid="8e27b0d5-41c6-3a9f-b8d2-6f0a91c3e574",
        undated=False,
    )
    assert batch.articles[0].published_at == utc(2025, 2, 4, 21, 35)
    assert batch.articles[0].published_at.tzinfo is timezone.utc


def test_nested_shape_is_mapped(yahoo: YahooReplay) -> None:
    batch = news_source(yahoo, "GEO").fetch()
    articles = by_id(batch.articles)

    assert list(articles) == [SHARED, "c4b81f07-2e9d-3d15-a7c0-58e3f6a2d910", "0a7d5e93-6c18-3b44-9f2e-d7b1c0e8a6f5"]
    html = articles["c4b81f07-2e9d-3d15-a7c0-58e3f6a2d910"]
    assert html.title == "GEO Group shares fall as El Salvador's prison offer weighs on U.S. detention operators"
    assert html.body == (
        "Shares of The GEO Group (NYSE: GEO) fell on Tuesday & CoreCivic lost 5.7%.\n\n"
        "Analysts said the offer is unlikely to change ICE\u2019s detention needs."
    )
    assert html.published_at == utc(2025, 2, 4, 18, 20, 45)  # pubDate, not displayTime
    assert html.zone_given and not html.date_only and not html.undated
    # canonicalUrl is null: the click-through URL
    assert html.url == "https://finance.yahoo.com/m/c4b81f07-2e9d-3d15-a7c0-58e3f6a2d910/geo-group-shares-fall-as-el.html"
    assert html.guid == html.source_id

    notice = articles["0a7d5e93-6c18-3b44-9f2e-d7b1c0e8a6f5"]
    assert notice.url == "https://finance.yahoo.com/news/geo-group-report-fourth-quarter-130000321.html"
    assert notice.body.startswith("The GEO Group will hold its conference call")
    assert notice.published_at == utc(2025, 2, 3, 13, 0)


def test_ads_are_skipped_without_a_trace(yahoo: YahooReplay) -> None:
    assert any(is_ad(item) for item in stream("CXW"))  # the recording does hold an ad

    batch = news_source(yahoo, "CXW").fetch()

    assert len(batch.articles) == 2 and batch.dropped == ()
    assert not any("Sponsored" in a.title or "CD rate" in a.title for a in batch.articles)


def test_an_item_without_title_is_dropped_with_its_reason(yahoo: YahooReplay, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.news.yahoo"):
        batch = news_source(yahoo, "GEO").fetch()

    assert batch.dropped == (Dropped(item=f"yahoo news GEO item {UNTITLED}", reason="no title"),)
    assert UNTITLED not in by_id(batch.articles)
    assert any(UNTITLED in r.getMessage() and "no title" in r.getMessage() for r in caplog.records)


def test_a_story_listed_for_two_symbols_appears_once(yahoo: YahooReplay) -> None:
    batch = news_source(yahoo).fetch()

    ids = [a.source_id for a in batch.articles]
    assert ids.count(SHARED) == 1
    assert len(ids) == len(set(ids)) == 4  # CXW: shared + 1, GEO: shared + 2 (the ad and the untitled one left out)
    assert batch.seen == 5  # four articles and the untitled item
    shared = by_id(batch.articles)[SHARED]
    assert shared.body.startswith("Shares of CoreCivic and GEO Group fell")  # the copy with a summary is kept
    assert not batch.degraded and batch.warning is None


# -- failures -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, None, "'Will be right back' error page"),
        (503, "<html><body>Service Unavailable</body></html>", "not JSON"),
        (429, None, "rate-limiting"),
        (200, "{not json", "not JSON"),
        (200, {"data": []}, "not a news stream"),
    ],
)
def test_one_failing_symbol_keeps_the_others(
    yahoo: YahooReplay, caplog: pytest.LogCaptureFixture, status: int, body: Any, reason: str
) -> None:
    yahoo.server.inject_news("GEO", status, body)

    with caplog.at_level(logging.WARNING, logger="monitor.news.yahoo"):
        batch = news_source(yahoo).fetch()

    assert yahoo.server.news_requests("GEO")  # the failure was really served
    assert [a.source_id for a in batch.articles] == [SHARED, "8e27b0d5-41c6-3a9f-b8d2-6f0a91c3e574"]
    (dropped,) = batch.dropped
    assert dropped.item == "yahoo news GEO"
    assert reason in dropped.reason and "\n" not in dropped.reason
    assert batch.degraded and "GEO" in (batch.warning or "")
    failures = [r for r in caplog.records if r.getMessage().startswith("Yahoo news for GEO failed")]
    assert len(failures) == 1


def test_a_rate_limited_symbol_says_to_wait_and_retry(yahoo: YahooReplay) -> None:
    yahoo.server.inject_news("CXW", 429)

    batch = news_source(yahoo).fetch()

    (dropped,) = batch.dropped[:1]
    assert dropped.item == "yahoo news CXW"
    assert "wait" in dropped.reason and "retry" in dropped.reason
    assert "wait" in (batch.warning or "")
    assert SHARED in by_id(batch.articles)  # GEO's copy of the shared story


def test_every_symbol_failing_raises_source_error(yahoo: YahooReplay) -> None:
    yahoo.server.inject_news("CXW", 500)
    yahoo.server.inject_news("GEO", 200, "{not json")

    with pytest.raises(SourceError) as caught:
        news_source(yahoo).fetch()

    message = str(caught.value)
    assert message.startswith("Yahoo news could not be fetched for any symbol (CXW: ")
    assert "GEO: Yahoo's answer is not JSON" in message
    assert "\n" not in message and "retry" not in message


def test_every_symbol_rate_limited_says_to_wait_and_retry(yahoo: YahooReplay) -> None:
    yahoo.server.inject_news("CXW", 429)
    yahoo.server.inject_news("GEO", 429)

    with pytest.raises(SourceError, match=r"^Yahoo is rate-limiting news requests \(asked for CXW, GEO\); wait a few minutes and retry$"):
        news_source(yahoo).fetch()
    # yfinance asks once more with its other cookie strategy, no more: no retry loop of ours
    assert len(yahoo.server.news_requests("CXW")) == 2


def test_unreachable_server_raises_source_error(tmp_path: Path) -> None:
    with yahoo_replay.replay_yahoo(tmp_path) as replay:
        session = ReplaySession(replay.server.base_url)
    with yahoo_replay.isolated_yfinance(tmp_path / "second"):
        with pytest.raises(SourceError) as caught:
            YahooNewsSource(["CXW"], session=session).fetch()
    assert "connect" in str(caught.value).lower()
    assert "\n" not in str(caught.value)


def test_json_error_body_reads_as_no_news(yahoo: YahooReplay) -> None:
    """A yfinance 1.7 limit: a JSON error answer without a stream is indistinguishable from no news."""
    yahoo.server.inject_news("GEO", 500, {"error": {"code": 500, "description": "Internal Server Error"}})

    batch = news_source(yahoo).fetch()

    assert yahoo.server.news_requests("GEO")
    assert len(batch.articles) == 2 and batch.dropped == () and not batch.degraded


# -- the replay helper ----------------------------------------------------------------------

def test_replay_server_answers_only_well_formed_news_requests(yahoo: YahooReplay) -> None:
    session = yahoo.session()
    url = "https://finance.yahoo.com/xhr/ncp"
    good = {"queryRef": "latestNews", "serviceKey": "ncp_fin"}
    body = {"serviceConfig": {"snippetCount": 2, "s": ["GEO"]}}

    answer = session.post(url, params=good, json=body)
    assert answer.status_code == 200
    assert answer.json()["data"]["tickerStream"]["stream"] == stream("GEO")[:2]
    assert session.post(url, params=good, json={"serviceConfig": {"s": ["NOSUCHXYZ"]}}).json() == {
        "data": {"tickerStream": {"stream": []}}
    }
    assert session.get(url, params=good).status_code == 405
    assert session.post(url, params={**good, "serviceKey": "other"}, json=body).status_code == 400
    assert session.post(url, params=good, json={"serviceConfig": {}}).status_code == 400
    assert [r.news_symbols for r in yahoo.server.news_requests()] == [["GEO"], ["NOSUCHXYZ"], [], ["GEO"], []]
    assert yahoo.server.news_requests("GEO")[0].json_body == body


# -- the source object -----------------------------------------------------------------------

def test_is_a_news_source_with_clean_symbols() -> None:
    source = YahooNewsSource([" cxw", "GEO", "CXW", ""], count=5)

    assert isinstance(source, NewsSource)
    assert source.name == "yahoo"
    assert source.symbols == ("CXW", "GEO")


@pytest.mark.parametrize("count", [0, 101])
def test_count_out_of_range_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="count"):
        YahooNewsSource(["CXW"], count=count)


@pytest.mark.parametrize("symbols", [[], ["", "  "]])
def test_no_symbols_gives_empty_polls_without_asking_yahoo(yahoo: YahooReplay, symbols: list[str]) -> None:
    batch = YahooNewsSource(symbols, session=yahoo.session()).fetch()

    assert batch.articles == () and batch.dropped == () and not batch.degraded
    assert yahoo.server.requests == []


# -- parse_news_item ------------------------------------------------------------------------

def flat_item(**changes: Any) -> dict[str, Any]:
    item = recorded_item("CXW", SHARED)
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


def nested_item(**changes: Any) -> dict[str, Any]:
    item = recorded_item("GEO", SHARED)
    item["content"].update(changes)
    return item


def parse(item: Any) -> Article:
    return parse_news_item(item, source="yahoo", fetched_at=FETCHED)


def test_parse_flat_item() -> None:
    article = parse(flat_item())

    assert article == Article(
        source="yahoo",
        source_id=SHARED,
        title="Private prison stocks slide after El Salvador offers to jail U.S. deportees",
        body="",
        published_at=utc(2025, 2, 4, 21, 35),
        zone_given=True,
        url="https://finance.yahoo.com/news/private-prison-stocks-slide-el-213500412.html",
        guid=SHARED,
    )


def test_parse_nested_item() -> None:
    item = nested_item(clickThroughUrl={"url": "https://finance.yahoo.com/click/elsewhere.html"})
    article = parse(item)

    assert article.source_id == article.guid == SHARED
    assert article.title == "Private prison stocks slide after El Salvador offers to jail U.S. deportees"
    assert article.body.startswith("Shares of CoreCivic and GEO Group fell on Tuesday")
    assert article.published_at == utc(2025, 2, 4, 21, 35)
    assert article.zone_given and not article.undated
    assert article.url == "https://finance.yahoo.com/news/private-prison-stocks-slide-el-213500412.html"  # canonical first


def test_parse_nested_item_falls_back_to_display_time_then_description() -> None:
    article = parse(nested_item(pubDate="soon", displayTime="2025-02-04T21:40:00Z", summary="", description="<p>Text &amp; more</p>"))

    assert article.published_at == utc(2025, 2, 4, 21, 40)
    assert article.body == "Text & more"


@pytest.mark.parametrize(
    ("stamp", "published_at", "zone_given", "date_only"),
    [
        ("2025-02-04T22:35:00+01:00", utc(2025, 2, 4, 21, 35), True, False),
        ("2025-02-04T21:35:00.500Z", datetime(2025, 2, 4, 21, 35, 0, 500_000, tzinfo=timezone.utc), True, False),
        ("2025-02-04T21:35:00", utc(2025, 2, 4, 21, 35), False, False),  # no zone: Yahoo's UTC assumed
        ("2025-02-04", utc(2025, 2, 4), False, True),
    ],
)
def test_parse_pub_date_forms(stamp: str, published_at: datetime, zone_given: bool, date_only: bool) -> None:
    article = parse(nested_item(pubDate=stamp, displayTime=None))

    assert (article.published_at, article.zone_given, article.date_only, article.undated) == (
        published_at, zone_given, date_only, False,
    )


@pytest.mark.parametrize("stamp", [None, "", "not a date", "2025-02-30T10:00:00Z", 1738704900, ["2025-02-04"]])
def test_parse_nested_garbage_date_is_undated(stamp: Any) -> None:
    article = parse(nested_item(pubDate=stamp, displayTime="yesterday"))

    assert article.undated and article.published_at == FETCHED
    assert not article.zone_given and not article.date_only


@pytest.mark.parametrize("stamp", [None, "abc", -5, 0, 1e20, True, math.nan, math.inf, "", {"s": 1}])
def test_parse_flat_garbage_date_is_undated(stamp: Any) -> None:
    item = flat_item()
    item["providerPublishTime"] = stamp

    article = parse(item)

    assert article.undated and article.published_at == FETCHED and not article.zone_given


@pytest.mark.parametrize("stamp", [1738704900, 1738704900.0, "1738704900"])
def test_parse_flat_epoch_forms(stamp: Any) -> None:
    assert parse(flat_item(providerPublishTime=stamp)).published_at == utc(2025, 2, 4, 21, 35)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (flat_item(title=None), "no title"),
        (flat_item(title="  "), "no title"),
        (nested_item(title="<b> </b>"), "no title"),
        ({"id": "x", "content": {"title": 5}}, "no title"),
        ({"id": "ad", "ad": [{"title": "Buy now"}]}, "advertisement"),
        (["not", "a", "mapping"], "not a JSON object"),
        ({"title": "Nameless"}, "neither an id nor a URL"),
    ],
)
def test_parse_refuses_unusable_items(item: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse(item)


def test_parse_keeps_only_web_urls() -> None:
    article = parse(nested_item(canonicalUrl={"url": "javascript:alert(1)"}, clickThroughUrl={"url": "https://x.example/a"}))
    assert article.url == "https://x.example/a"

    bare = parse({"uuid": "u1", "title": "T", "link": "javascript:alert(1)", "providerPublishTime": 1738704900})
    assert bare.url is None and bare.source_id == "u1"

    no_id = parse({"title": "T", "link": "https://x.example/b"})
    assert no_id.source_id == "https://x.example/b" and no_id.guid is None


def test_parse_title_markup_and_white_space_become_plain_text() -> None:
    article = parse(nested_item(title="  <i>CoreCivic</i> &amp; GEO\n  fall  "))
    assert article.title == "CoreCivic & GEO fall"


# -- related tickers and helpers ---------------------------------------------------------

def test_related_tickers_of_both_shapes() -> None:
    assert related_tickers(recorded_item("CXW", SHARED)) == ["CXW", "GEO"]
    assert related_tickers(recorded_item("GEO", SHARED)) == ["CXW", "GEO"]
    assert related_tickers(recorded_item("GEO", "c4b81f07-2e9d-3d15-a7c0-58e3f6a2d910")) == ["GEO"]


def test_related_tickers_cleans_and_tolerates_odd_input() -> None:
    assert related_tickers({"relatedTickers": [" cxw", "CXW", 5, None, "^GSPC"]}) == ["CXW", "^GSPC"]
    assert related_tickers({"content": {"finance": {"stockTickers": [{"symbol": "geo"}, "x", {}]}}}) == ["GEO"]
    assert related_tickers({"content": {"finance": None}}) == []
    assert related_tickers({}) == []


def test_html_to_text() -> None:
    # The same conversion as feeds (monitor.news.feeds.html_to_text): paragraphs
    # apart, a script's text kept as inert text, never as markup.
    assert html_to_text("<p>One &amp; two</p><script>alert(1)</script><p>Three<br>Four</p>") == (
        "One & two\n\nalert(1)\n\nThree\nFour"
    )
    assert html_to_text("S&P 500 rises") == "S&P 500 rises"
    assert html_to_text(None) == "" and html_to_text(5) == ""
