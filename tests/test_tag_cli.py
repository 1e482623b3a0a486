"""``monitor tag`` and ``monitor universe``: batch tagging of a JSON Lines file, and what the tagger knows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from monitor.tagging import Tagger, load_universe
from monitor.tagging.batch import MAX_LINE_BYTES, tag_lines
from test_cli import ROOT, monitor

ARTICLES = [
    {"id": "a1", "title": "CoreCivic jumps on ICE contract",
     "body": "CoreCivic, Inc. CXW and the GEO Group, Inc. GEO rose. Bitcoin BTC/USD fell.",
     "published_at": "2025-02-04T21:35:00Z"},
    {"id": 2, "title": "Geothermal boom", "body": "A geo-fenced zone; several GEOs; a man said a thing."},
    {"id": "a3", "title": "Roundup", "body": "Apple (AAPL), Microsoft (MSFT), Nvidia (NVDA), Tesla (TSLA) and "
     "Oracle (ORCL) reported; CoreCivic (CXW) too."},
]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_universe(ROOT / "seeds" / "universe", ROOT / "seeds" / "watchlist.toml"))


def jsonl(rows: list[object]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def test_each_article_gets_one_line_with_its_tickers_and_spans(tagger: Tagger) -> None:
    sink = io.StringIO()
    report = tag_lines(io.BytesIO(jsonl(ARTICLES)), sink, tagger)
    lines = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert [line["id"] for line in lines] == ["a1", 2, "a3"]
    assert report.counts() == {"lines": 3, "tagged": 3, "with_tickers": 2, "skipped": 0,
                               "characters": report.characters}
    first = {t["symbol"]: t for t in lines[0]["tickers"]}
    assert set(first) == {"CXW", "GEO", "BTC-USD"}
    assert lines[0]["published_at"] == "2025-02-04T21:35:00Z"
    assert first["CXW"]["name"] == "CoreCivic" and first["CXW"]["relevance"] > 50
    for ticker in lines[0]["tickers"] + lines[2]["tickers"]:
        for mention in ticker["mentions"]:
            source = next(a for a in ARTICLES if a["id"] in (lines[0]["id"], lines[2]["id"]) and
                          a[mention["field"]][mention["start"]:mention["end"]] == mention["text"])
            assert source
            assert set(mention) == {"field", "start", "end", "text", "rule"}
    title_mention = first["CXW"]["mentions"][0]
    assert (title_mention["field"], title_mention["start"], title_mention["text"]) == ("title", 0, "CoreCivic")
    assert first["CXW"]["mentions"][1]["rule"] == "name_ticker"
    assert lines[1]["tickers"] == []  # geothermal, geo-fenced, GEOs, "a": nothing
    # Tickers are ordered by relevance, highest first.
    scores = [t["relevance"] for t in lines[2]["tickers"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 6


def test_min_relevance_filters_tickers(tagger: Tagger) -> None:
    sink = io.StringIO()
    tag_lines(io.BytesIO(jsonl(ARTICLES[2:])), sink, tagger, min_relevance=101)
    assert json.loads(sink.getvalue()) == {"id": "a3", "tickers": []}


def test_bad_lines_are_reported_with_their_number_and_the_rest_is_tagged(tagger: Tagger) -> None:
    data = (
        jsonl(ARTICLES[:1]) + b"not json\n" + b"[1, 2]\n" + b'{"title": "no id"}\n' + b'{"id": "x", "title": ""}\n'
        + b'{"id": "b", "title": 5}\n' + b"\xff\xfe bad bytes\n" + b"\n" + jsonl(ARTICLES[2:])
    )
    sink = io.StringIO()
    report = tag_lines(io.BytesIO(data), sink, tagger)
    assert [json.loads(line)["id"] for line in sink.getvalue().splitlines()] == ["a1", "a3"]
    assert [number for number, _ in report.skipped] == [2, 3, 4, 5, 6, 7]
    reasons = dict(report.skipped)
    assert reasons[2].startswith("not JSON") and "object" in reasons[3] and '"id"' in reasons[4]
    assert "no text" in reasons[5] and "strings" in reasons[6] and "UTF-8" in reasons[7]


def test_an_overlong_line_is_skipped_without_being_held(tagger: Tagger, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.tagging.batch as batch

    monkeypatch.setattr(batch, "MAX_LINE_BYTES", 1000)
    data = jsonl(ARTICLES[:1]) + b'{"id": "big", "body": "' + b"x" * 5000 + b'"}\n' + jsonl(ARTICLES[2:])
    sink = io.StringIO()
    report = tag_lines(io.BytesIO(data), sink, tagger)
    assert [json.loads(line)["id"] for line in sink.getvalue().splitlines()] == ["a1", "a3"]
    assert report.skipped == [(2, "line longer than 1,000 bytes")]
    assert MAX_LINE_BYTES >= 64 * 1024 * 1024


def test_a_five_megabyte_article_is_tagged(tagger: Tagger) -> None:
    body = "Nothing to see here. " * 250_000 + "Then CoreCivic (NYSE: CXW) said it won."
    sink = io.StringIO()
    tag_lines(io.BytesIO(jsonl([{"id": "huge", "title": "Long", "body": body}])), sink, tagger)
    line = json.loads(sink.getvalue())
    mention = line["tickers"][0]["mentions"][0]
    assert line["tickers"][0]["symbol"] == "CXW"
    assert body[mention["start"] : mention["end"]] == "CoreCivic (NYSE: CXW)"


# --------------------------------------------------------------------------- the commands


def test_monitor_tag_writes_json_lines_and_reports_bad_lines(tmp_path: Path) -> None:
    source = tmp_path / "news.jsonl"
    source.write_bytes(jsonl(ARTICLES) + b"{broken\n")
    result = monitor("tag", "--input", str(source), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a1", 2, "a3"]
    assert "skipped line 4: not JSON" in result.stderr
    assert "tagged 3 article(s), 2 with tickers; 1 line(s) skipped" in result.stderr

    out = tmp_path / "tags.jsonl"
    result = monitor("tag", "-i", str(source), "-o", str(out), "--min-relevance", "60", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(t["relevance"] >= 60 for line in written for t in line["tickers"])
    counts = json.loads(result.stderr[result.stderr.index("{"):])
    assert counts["tagged"] == 3 and counts["skipped_lines"] == [[4, "not JSON (Expecting property name "
                                                                  "enclosed in double quotes at column 2)"]]


def test_monitor_tag_mistakes_get_one_line(tmp_path: Path) -> None:
    missing = monitor("tag", "--input", str(tmp_path / "nope.jsonl"), cwd=tmp_path)
    assert missing.returncode != 0 and "error: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "a.jsonl").write_text("not json\n")
    nothing = monitor("tag", "--input", str(tmp_path / "a.jsonl"), cwd=tmp_path)
    assert nothing.returncode == 1 and "skipped line 1" in nothing.stderr
    bad = monitor("tag", "--input", str(tmp_path / "a.jsonl"), "--min-relevance", "150", cwd=tmp_path)
    assert bad.returncode != 0 and "between 0 and 100" in bad.stderr


def test_monitor_universe(tmp_path: Path) -> None:
    geo = monitor("universe", "GEO", "--json", cwd=tmp_path)
    assert geo.returncode == 0, geo.stderr
    info = json.loads(geo.stdout)
    assert info["name"] == "GEO Group" and info["calendar"] == "XNYS" and "watchlist" in info["origin"]
    table = monitor("universe", "btc-usd", cwd=tmp_path)
    assert "Bitcoin" in table.stdout and "BTC/USD" in table.stdout
    search = monitor("universe", "corecivic", "--json", cwd=tmp_path)
    assert json.loads(search.stdout)[0]["symbol"] == "CXW"
    summary = json.loads(monitor("universe", "--json", cwd=tmp_path).stdout)
    assert summary["instruments"] >= 10_000 and summary["by_asset_class"]["crypto"] >= 30
    unknown = monitor("universe", "zzzzqq", cwd=tmp_path)
    assert unknown.returncode != 0 and "knows no symbol or name like 'zzzzqq'" in unknown.stderr


def test_help_explains_the_commands(tmp_path: Path) -> None:
    tag_help = monitor("tag", "--help", cwd=tmp_path).stdout
    assert "--min-relevance" in tag_help and "start/end index into the field" in tag_help
    assert "monitor tag --input" in monitor("--help", cwd=tmp_path).stdout
