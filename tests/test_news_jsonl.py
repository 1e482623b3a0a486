"""The JSON Lines news source: good lines, each kind of bad line, dates, unreadable files, streaming."""

from __future__ import annotations

import json
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import SourceError
from monitor.models import Article
from monitor.news import Dropped, NewsSource
from monitor.news import jsonl as jsonl_module
from monitor.news.jsonl import JsonLinesSource, iter_jsonl, read_jsonl

DATA = Path(__file__).parent / "data" / "jsonl"
NEW_YORK = ZoneInfo("America/New_York")
FETCHED = datetime(2025, 2, 5, 12, 0, tzinfo=timezone.utc)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def read(path: Path, source: str = "jsonl:test"):
    return read_jsonl(path, source=source, default_tz=NEW_YORK, fetched_at=FETCHED)


def write_lines(path: Path, *lines: object) -> Path:
    """Write each line (a dict is dumped as JSON, a str written as is) on its own line."""
    text = "".join((json.dumps(line) if not isinstance(line, str) else line) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def one(tmp_path: Path, line: object) -> Article:
    batch = read(write_lines(tmp_path / "one.jsonl", line))
    assert batch.dropped == ()
    (article,) = batch.articles
    return article


# -- a good file ---------------------------------------------------------------

def test_good_file_maps_every_field() -> None:
    batch = read(DATA / "news.jsonl", source="jsonl:news.jsonl")

    assert batch.source == "jsonl:news.jsonl"
    assert batch.dropped == ()
    assert batch.seen == 4  # the blank line is not an item
    first, second, third, fourth = batch.articles

    assert first == Article(
        source="jsonl:news.jsonl",
        source_id="Reuters:rt-20250204-1",
        title="Private prison stocks slide after El Salvador offers to jail U.S. deportees",
        body="Shares of CoreCivic and GEO Group fell on Tuesday after El Salvador's president offered "
        "to hold U.S. deportees in his country's prisons.",
        published_at=utc(2025, 2, 4, 21, 35),
        date_only=False,
        zone_given=True,
        url="https://example.com/news/private-prisons",
        guid="rt-20250204-1",
        undated=False,
    )

    # integer id, summary for a missing body, a time without zone in the default zone, a non-web URL refused
    assert second.source_id == "42" and second.guid == "42"
    assert second.body == "The company will host a conference call the next morning."
    assert second.published_at == utc(2025, 1, 30, 21, 15)  # 16:15 New York (EST)
    assert (second.zone_given, second.date_only, second.undated) == (False, False, False)
    assert second.url is None

    # no id: the URL names it; a bare date; white space in the title collapsed; other keys ignored
    assert third.source_id == "https://example.com/news/geo-falls" and third.guid is None
    assert third.title == "GEO Group shares fall"
    assert third.published_at == utc(2025, 2, 4)
    assert (third.date_only, third.zone_given, third.undated) == (True, False, False)

    # neither id nor URL: the publisher label and the line number; no date: the fetch time
    assert fourth.source_id == "Wire:line 5"
    assert fourth.body == ""
    assert fourth.published_at == FETCHED
    assert fourth.undated and not fourth.zone_given and not fourth.date_only


def test_crlf_line_ends_and_a_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"id": "a", "title": "First"}\r\n\r\n{"id": "b", "title": "Second"}\r\n')

    batch = read(path)

    assert [a.title for a in batch.articles] == ["First", "Second"]
    assert batch.dropped == ()


def test_unicode_text_survives(tmp_path: Path) -> None:
    article = one(tmp_path, {"id": "u", "title": "Bukele’s offer: “We’ll house them”", "body": "Präsident — 5 %"})

    assert article.title == "Bukele’s offer: “We’ll house them”"
    assert article.body == "Präsident — 5 %"


# -- bad lines -----------------------------------------------------------------

def test_each_bad_line_is_dropped_with_its_reason() -> None:
    path = DATA / "bad_lines.jsonl"
    batch = read(path)

    assert [a.guid for a in batch.articles] == ["ok-1", "ok-2"]
    reasons = {int(d.item.rsplit(":", 1)[1]): d.reason for d in batch.dropped}
    assert all(d.item.startswith(f"{path}:") for d in batch.dropped)
    assert reasons[2].startswith("not JSON: ")
    assert reasons[3] == "not a JSON object but an array"
    assert reasons[4] == "not a JSON object but a string"
    assert reasons[5] == "no title"
    assert reasons[6] == "no title"
    assert reasons[7] == "blank title"
    assert reasons[8] == "title: Input should be a valid string"
    assert reasons[9] == "body: Input should be a valid string"
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9]  # line 10 is blank, 11 is good
    assert batch.seen == 10


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json}", "not JSON: Expecting property name enclosed in double quotes at column 2"),
        ("42", "not a JSON object but a number"),
        ("null", "not a JSON object but null"),
        ("true", "not a JSON object but a boolean"),
        ('{"title": "x", "id": 1.5}', "id: must be a string or an integer"),
        ('{"title": "x", "url": 7}', "url: Input should be a valid string"),
        ('{"title": "x", "id": true}', "id: must be a string or an integer"),
        ("[" * 100_000 + "]" * 100_000, "not JSON: nested too deeply"),
    ],
)
def test_more_bad_lines(tmp_path: Path, line: str, reason: str) -> None:
    path = write_lines(tmp_path / "bad.jsonl", {"title": "kept"}, line)

    batch = read(path)

    assert [a.title for a in batch.articles] == ["kept"]
    assert batch.dropped == (Dropped(item=f"{path}:2", reason=reason),)


def test_a_line_over_the_size_limit_is_dropped_and_reading_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl_module, "MAX_LINE_BYTES", 200)
    monkeypatch.setattr(jsonl_module, "_CHUNK", 16)
    path = write_lines(tmp_path / "long.jsonl", {"title": "before"}, {"title": "x" * 5_000}, {"title": "after"})

    batch = read(path)

    assert [a.title for a in batch.articles] == ["before", "after"]
    assert batch.articles[1].source_id == "line 3"  # line numbers stay true after the long line
    assert batch.dropped == (Dropped(item=f"{path}:2", reason="line longer than 200 bytes"),)


# -- dates -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("stamp", "published_at", "zone_given", "date_only"),
    [
        ("2025-02-04T21:35:00Z", utc(2025, 2, 4, 21, 35), True, False),
        ("2025-02-04T16:35:00-05:00", utc(2025, 2, 4, 21, 35), True, False),
        ("2025-02-04T22:35:00.250+01:00", datetime(2025, 2, 4, 21, 35, 0, 250_000, tzinfo=timezone.utc), True, False),
        ("2025-02-04 21:35Z", utc(2025, 2, 4, 21, 35), True, False),
        ("2025-02-04T16:35:00", utc(2025, 2, 4, 21, 35), False, False),  # New York, EST
        ("2025-07-04T16:35", utc(2025, 7, 4, 20, 35), False, False),  # New York, EDT
        ("2025-02-04", utc(2025, 2, 4), False, True),
    ],
)
def test_published_at(tmp_path: Path, stamp: str, published_at: datetime, zone_given: bool, date_only: bool) -> None:
    article = one(tmp_path, {"title": "t", "published_at": stamp})

    assert article.published_at == published_at
    assert article.published_at.tzinfo is timezone.utc
    assert (article.zone_given, article.date_only, article.undated) == (zone_given, date_only, False)


@pytest.mark.parametrize("stamp", [None, "", "   ", "yesterday", "2025-13-45", "2025-02-04T25:00:00Z", 1738704900, {"at": 1}, "9999-12-31T23:59:59-05:00"])
def test_missing_or_garbage_dates_give_the_fetch_time_and_undated(tmp_path: Path, stamp: object) -> None:
    line = {"title": "t"} if stamp is None else {"title": "t", "published_at": stamp}

    article = one(tmp_path, line)

    assert article.undated
    assert article.published_at == FETCHED
    assert not article.zone_given and not article.date_only


# -- unreadable files ---------------------------------------------------------------

def test_missing_file_raises_source_error_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(SourceError, match="cannot read JSON Lines file .*nope.jsonl"):
        read(path)


def test_a_folder_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=str(tmp_path)):
        read(tmp_path)


def test_not_utf8_raises_source_error_with_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"title": "fine"}\n{"title": "Caf\xe9 owner"}\n')

    with pytest.raises(SourceError) as caught:
        read(path)

    message = str(caught.value)
    assert str(path) in message and "UTF-8" in message and "line 2" in message
    assert "\n" not in message


# -- large files -------------------------------------------------------------------------

def test_twenty_thousand_lines_are_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i in range(20_000):
            out.write(json.dumps({"id": f"n{i}", "title": f"Headline number {i}", "body": "word " * 40,
                                  "published_at": f"2025-02-04T{i % 24:02d}:{i % 60:02d}:00Z"}) + "\n")
    size = path.stat().st_size

    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_jsonl(path, source="big", default_tz=NEW_YORK, fetched_at=FETCHED))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 20_000
    assert peak < size / 4, f"peak {peak} bytes while iterating a {size}-byte file: not streamed"

    batch = read(path)
    assert len(batch.articles) == 20_000 and batch.dropped == ()
    assert batch.articles[-1].source_id == "n19999"
    assert batch.articles[-1].published_at == utc(2025, 2, 4, 19999 % 24, 19999 % 60)


def test_iteration_yields_articles_before_reaching_a_bad_part(tmp_path: Path) -> None:
    path = tmp_path / "tail.jsonl"
    path.write_bytes(b"".join(b'{"title": "line %d"}\n' % i for i in range(1, 5001)) + b'{"title": "\xff"}\n')

    seen: list[str] = []
    with pytest.raises(SourceError, match="line 5001"):
        for entry in iter_jsonl(path, source="s", default_tz=NEW_YORK, fetched_at=FETCHED):
            seen.append(entry.title)  # type: ignore[union-attr]

    assert len(seen) == 5000 and seen[-1] == "line 5000"


# -- the source ----------------------------------------------------------------------------

def test_source_reads_the_file_with_its_name_and_clock() -> None:
    source = JsonLinesSource(DATA / "news.jsonl", default_tz=NEW_YORK, now=lambda: FETCHED)

    assert isinstance(source, NewsSource)
    assert source.name == "jsonl:news.jsonl"
    batch = source.fetch()
    assert batch.source == "jsonl:news.jsonl"
    assert {a.source for a in batch.articles} == {"jsonl:news.jsonl"}
    assert batch.articles[-1].published_at == FETCHED  # the undated line


def test_source_name_can_be_given_and_the_default_clock_is_utc_now(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", {"title": "undated"})
    source = JsonLinesSource(str(path), name="archive", default_tz=NEW_YORK)

    before = datetime.now(timezone.utc)
    (article,) = source.fetch().articles
    after = datetime.now(timezone.utc)

    assert source.name == "archive" and article.source == "archive"
    assert before <= article.published_at <= after


def test_source_raises_source_error_for_a_missing_file(tmp_path: Path) -> None:
    source = JsonLinesSource(tmp_path / "gone.jsonl", default_tz=NEW_YORK)
    with pytest.raises(SourceError, match="gone.jsonl"):
        source.fetch()


def test_naive_fetch_time_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", {"title": "t"})
    with pytest.raises(ValueError, match="naive"):
        read_jsonl(path, source="s", default_tz=NEW_YORK, fetched_at=datetime(2025, 2, 5, 12, 0))


def test_markup_is_stored_as_text(tmp_path) -> None:
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from monitor.news.jsonl import read_jsonl

    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "1", "title": "<script>alert(1)</script> CoreCivic <b>falls</b>", '
                    '"body": "<p>One &amp; two</p><img src=x onerror=alert(1)>"}\n')
    batch = read_jsonl(path, source="jsonl:x", default_tz=ZoneInfo("UTC"), fetched_at=datetime.now(timezone.utc))
    [article] = batch.articles
    assert article.title == "alert(1) CoreCivic falls"
    assert article.body == "One & two"
    assert "<" not in article.title + article.body
